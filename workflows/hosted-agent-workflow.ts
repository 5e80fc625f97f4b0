/**
 * The durable record of one SDK agent instance hosted by the runtime's gateways. The agent itself
 * runs in a gateway (in-process or in a sandbox over the stdio protocol) and holds no activity slot;
 * this workflow only listens: the host workers signal it (signal-with-start) when the instance is
 * activated, when it hibernates, and when the agent process holding it dies. So operators find
 * every hosted agent in Temporal with its state, and a dead agent process is reported to the
 * agent's workflow and audited. Deterministic workflow code only.
 */
import {
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setCurrentDetails,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control.js';
import type { AgentLifecycleReport } from '../src/gateway/lifecycle.js';
import { SEARCH_ATTRIBUTES } from '../src/lifecycle/search-attributes.js';
import { assertTransition, type AgentState, type TransitionRecord } from '../src/lifecycle/states.js';
import { auditBacklog } from './audit-backlog.js';
import { terminateSignal } from './definitions.js';
import {
  hostedStatusQuery,
  lifecycleReportSignal,
  type HostedAgentStatus,
  type HostedAgentWorkflowInput,
} from './hosted-agent-definitions.js';

const KEEP = { history: 50, reports: 50, refused: 20 } as const;
/** Reports applied per run before continue-as-new (bounds the history). */
const REPORTS_PER_RUN = 500;
const KINDS = new Set(['activated', 'hibernated', 'exited']);

export async function hostedAgentWorkflow(input: HostedAgentWorkflowInput): Promise<HostedAgentStatus> {
  const { agentId, agentType, carried } = input;
  const info = workflowInfo();
  const eventId = `${info.workflowId}:${info.runId}`;
  const control = proxyActivities<ControlActivities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '200 milliseconds', backoffCoefficient: 2, maximumInterval: '10 seconds' },
  });

  let state: AgentState = carried?.state ?? 'Initializing';
  let gatewayId = carried?.gatewayId;
  let activations = carried?.activations ?? 0;
  let hibernations = carried?.hibernations ?? 0;
  let exits = carried?.exits ?? 0;
  const history: TransitionRecord[] = carried?.history ?? [];
  const reports: AgentLifecycleReport[] = carried?.reports ?? [];
  const refused: { message: string; at: number }[] = [];
  const runs = carried?.runs ?? 0;
  const queue: AgentLifecycleReport[] = [];
  let terminate: string | undefined;
  let applied = 0;

  const keep = <T>(list: T[], max: number) => list.splice(0, Math.max(0, list.length - max));

  // ---- audit: appended in order, in batches, without blocking the record.
  const { audit, drained: auditDrained } = auditBacklog(control, {
    agentId,
    actor: `agent:${agentType}`,
    eventId,
  });

  function status(): HostedAgentStatus {
    return {
      agentId,
      agentType,
      state,
      ...(gatewayId === undefined ? {} : { gatewayId }),
      activations,
      hibernations,
      exits,
      history,
      reports,
      refused,
      runs,
    };
  }

  function details(): string {
    const where = gatewayId ? ` · gateway ${gatewayId}` : '';
    return `**${state}** · hosted ${agentType}${where} · ${activations} activation(s), ${hibernations} hibernation(s), ${exits} process exit(s)`;
  }

  function transition(to: AgentState, reason: string): void {
    assertTransition(state, to, reason);
    history.push({ from: state, to, reason, at: Date.now() });
    keep(history, KEEP.history);
    state = to;
    upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.state, value: to }]);
    log.info('hosted agent transition', { agentId, to, reason });
  }

  /** A report crosses a process boundary: anything malformed is refused (and kept for operators). */
  function malformed(report: unknown): string | undefined {
    if (typeof report !== 'object' || report === null) return 'a report must be an object';
    const r = report as Record<string, unknown>;
    if (typeof r.kind !== 'string' || !KINDS.has(r.kind))
      return `kind must be activated, hibernated or exited, got ${String(r.kind)}`;
    if (r.agentId !== agentId) return `the report is about ${String(r.agentId)}, not ${agentId}`;
    if (r.agentType !== agentType) return `agentType must be ${agentType}`;
    if (typeof r.gatewayId !== 'string' || r.gatewayId === '') return 'gatewayId must be a non-empty string';
    if (typeof r.at !== 'number' || !Number.isFinite(r.at)) return 'at must be a time in epoch ms';
    if (r.reason !== undefined && typeof r.reason !== 'string') return 'reason must be a string';
    return undefined;
  }

  function apply(report: AgentLifecycleReport): void {
    // A gateway's reports about one agent are sent in order, so one older than the last from the
    // same gateway, or the same report again, is a retry: it changes nothing. Reports from different
    // gateways are applied as they arrive (their clocks are not compared).
    const last = reports.at(-1);
    if (
      last &&
      last.gatewayId === report.gatewayId &&
      (report.at < last.at || (report.at === last.at && report.kind === last.kind))
    )
      return;
    reports.push(report);
    keep(reports, KEEP.reports);
    const here = report.gatewayId;
    switch (report.kind) {
      case 'activated':
        activations += 1;
        if (gatewayId !== here) upsertSearchAttributes([{ key: SEARCH_ATTRIBUTES.host, value: here }]);
        gatewayId = here;
        if (state === 'Ready' || state === 'Waiting') transition('Running', `active on gateway ${here}`);
        audit('agent.started', { gateway: here });
        break;
      case 'hibernated':
        if (here !== gatewayId) break;
        hibernations += 1;
        if (state === 'Running')
          transition(
            'Waiting',
            `hibernated on gateway ${here} (${report.reason ?? 'idle'}); state checkpointed`,
          );
        audit('agent.suspended', {
          reason: `hibernated: ${report.reason ?? 'idle'}`,
          hibernated: true,
          gateway: here,
        });
        break;
      case 'exited':
        exits += 1;
        audit('security.event', {
          type: 'agent_process_exited',
          severity: 'warning',
          message: `agent process died on gateway ${here}: ${report.reason ?? 'no reason given'}`,
          gateway: here,
        });
        if (state === 'Running' && here === gatewayId)
          transition(
            'Waiting',
            `agent process died on gateway ${here}: ${report.reason ?? 'no reason given'}; the next message restarts it from its last checkpoint`,
          );
        break;
    }
  }

  setHandler(lifecycleReportSignal, (report) => {
    const problem = malformed(report);
    if (problem) {
      refused.push({ message: problem, at: Date.now() });
      keep(refused, KEEP.refused);
      log.warn('hosted agent report refused', { agentId, problem });
      return;
    }
    queue.push(report);
  });
  setHandler(terminateSignal, (reason) => {
    terminate = reason ?? 'terminate requested';
  });
  setHandler(hostedStatusQuery, status);

  if (!carried) {
    upsertSearchAttributes([
      { key: SEARCH_ATTRIBUTES.agentName, value: agentType },
      { key: SEARCH_ATTRIBUTES.mode, value: 'hosted' },
    ]);
    audit('agent.created', { name: agentType, mode: 'hosted' });
    transition('Ready', "hosted by the runtime's gateways");
  }
  setCurrentDetails(details());
  for (;;) {
    await condition(
      () =>
        queue.length > 0 ||
        terminate !== undefined ||
        applied >= REPORTS_PER_RUN ||
        workflowInfo().continueAsNewSuggested,
    );
    for (let report = queue.shift(); report; report = queue.shift()) {
      apply(report);
      applied += 1;
    }
    setCurrentDetails(details());
    if (terminate !== undefined) {
      if (state !== 'Terminated') transition('Terminated', terminate);
      audit('agent.terminated', { reason: terminate });
      setCurrentDetails(details());
      await auditDrained();
      return status();
    }
    if (applied >= REPORTS_PER_RUN || workflowInfo().continueAsNewSuggested) {
      await auditDrained();
      if (queue.length > 0) continue;
      return await continueAsNew<typeof hostedAgentWorkflow>({
        agentId,
        agentType,
        carried: {
          state,
          ...(gatewayId ? { gatewayId } : {}),
          activations,
          hibernations,
          exits,
          history,
          reports,
          runs: runs + 1,
        },
      });
    }
  }
}
