import { TypedSearchAttributes } from '@temporalio/common';
import { agentWorkflowId, type AgentWorkflowInput } from '../../workflows/definitions.js';
import { hostTaskQueue, type AgentConfig, type Settings } from '../config/index.js';
import { SEARCH_ATTRIBUTES } from '../lifecycle/search-attributes.js';

export interface AgentPlacementOptions {
  /** Host whose worker runs the sandboxes. @default the settings' hostId */
  readonly hostId?: string;
  /** Task queue of the control worker (tests use their own). @default settings.controlTaskQueue */
  readonly controlTaskQueue?: string;
}

/**
 * Everything needed to start an agent's workflow — directly (`ArsClient.createAgent`) or from a
 * Temporal Schedule action: id, task queue, input, search attributes and the UI summary.
 */
export function agentWorkflowStart(
  config: AgentConfig,
  settings: Settings,
  options: AgentPlacementOptions = {},
) {
  const hostId = options.hostId ?? settings.hostId;
  const input: AgentWorkflowInput = {
    config,
    placement: {
      hostId,
      hostQueue: hostTaskQueue(hostId),
      image: config.sandbox.image ?? settings.sandboxImage,
    },
  };
  return {
    workflowId: agentWorkflowId(config.id),
    taskQueue: options.controlTaskQueue ?? settings.controlTaskQueue,
    args: [input] as [AgentWorkflowInput],
    typedSearchAttributes: new TypedSearchAttributes([
      { key: SEARCH_ATTRIBUTES.state, value: 'Initializing' },
      { key: SEARCH_ATTRIBUTES.tier, value: config.tier },
      { key: SEARCH_ATTRIBUTES.mode, value: config.mode },
      { key: SEARCH_ATTRIBUTES.agentName, value: config.name },
      { key: SEARCH_ATTRIBUTES.host, value: hostId },
    ]),
    staticSummary: `agent ${config.name} (${config.id})`,
    staticDetails: [
      `**${config.name}** · ${config.mode} · tier ${config.tier} · host ${hostId}`,
      `memory ${config.resources.memoryMb} MiB · cpus ${config.resources.cpus} · timeout ${config.resources.timeoutMs} ms`,
      config.sandbox.command ? `command: \`${config.sandbox.command.join(' ')}\`` : '',
      config.capabilities.length ? `capabilities: ${config.capabilities.join(', ')}` : '',
    ]
      .filter(Boolean)
      .join('\n\n'),
  };
}
