/**
 * The audit trail of a workflow: lifecycle events are appended in order, in batches, by the control
 * activity `recordEvents`, without blocking the workflow. Each event gets an id made of the run's
 * id and a sequence number, so a retried append writes nothing twice. Deterministic workflow code.
 */
import { CancellationScope, condition, log } from '@temporalio/workflow';
import type { ControlActivities } from '../activities/control.js';
import type { AuditEventInput } from '../src/audit/events.js';

export interface AuditBacklog {
  /** Queues an event; it is appended after the ones queued before it. */
  readonly audit: (kind: AuditEventInput['kind'], data: Record<string, unknown>) => void;
  /** Resolves when every queued event has been appended (or its append failed for good). */
  readonly drained: () => Promise<void>;
}

export function auditBacklog(
  control: Pick<ControlActivities, 'recordEvents'>,
  subject: { readonly agentId: string; readonly actor: string; readonly eventId: string },
): AuditBacklog {
  const backlog: AuditEventInput[] = [];
  let auditing = false;
  let seq = 0;
  async function drain(): Promise<void> {
    auditing = true;
    try {
      while (backlog.length > 0) {
        const batch = backlog.splice(0);
        await CancellationScope.nonCancellable(() => control.recordEvents(batch));
      }
    } catch (error) {
      log.error('audit append failed', {
        agentId: subject.agentId,
        error: error instanceof Error ? error.message : String(error),
      });
    } finally {
      auditing = false;
    }
  }
  return {
    audit: (kind, data) => {
      backlog.push({
        kind,
        agentId: subject.agentId,
        actor: subject.actor,
        data: { ...data, eventId: `${subject.eventId}:${++seq}` },
      });
      if (!auditing) void drain();
    },
    drained: () => condition(() => !auditing && backlog.length === 0),
  };
}
