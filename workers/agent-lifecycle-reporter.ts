/**
 * Turns a gateway's lifecycle reports into signals to each hosted agent's workflow (signal-with-start
 * on the control task queue, so the record exists from the first report on). Reporting never blocks
 * or fails message traffic: reports are queued, sent in order per agent with a few in flight, and
 * retried with backoff while Temporal is unreachable. Process exits are never dropped; when the
 * queue is full, the oldest activation and hibernation reports give way (with a warning).
 */
import type { Client } from '@temporalio/client';
import type { AgentLifecycleListener, AgentLifecycleReport } from '../src/gateway/index.js';
import type { Logger } from '../src/util/logger.js';
import {
  HOSTED_AGENT_WORKFLOW_TYPE,
  hostedAgentWorkflowId,
  lifecycleReportSignal,
} from '../workflows/hosted-agent-definitions.js';

export const DEFAULT_REPORTER_OPTIONS = {
  /** Reports in flight at once (each one signal-with-start). */
  concurrency: 8,
  /** Reports queued at most; beyond it the oldest activation/hibernation reports are dropped. */
  maxQueued: 50_000,
  /** First retry delay; doubles (with jitter) up to maxRetryDelayMs. */
  retryDelayMs: 200,
  maxRetryDelayMs: 10_000,
  /** Attempts per report before it is given up (logged as an error): about 8 minutes of retries. */
  maxAttempts: 50,
  /** How long close() waits for queued reports to be sent. */
  flushTimeoutMs: 10_000,
} as const;

export interface LifecycleReporterInput {
  readonly client: Client;
  /** The control task queue, where hosted agent workflows run. */
  readonly taskQueue: string;
  readonly logger: Logger;
  readonly options?: Partial<typeof DEFAULT_REPORTER_OPTIONS>;
}

export class WorkflowLifecycleReporter implements AgentLifecycleListener {
  private readonly options: typeof DEFAULT_REPORTER_OPTIONS;
  private readonly queue: AgentLifecycleReport[] = [];
  /** Agents with a report in flight: their next report waits, so each agent's reports stay in order. */
  private readonly busy = new Set<string>();
  private inFlight = 0;
  private sent = 0;
  private dropped = 0;
  private closed = false;
  private idle: (() => void) | undefined;

  constructor(private readonly input: LifecycleReporterInput) {
    this.options = { ...DEFAULT_REPORTER_OPTIONS, ...input.options };
  }

  /** Reports sent, and activation/hibernation reports dropped because the queue was full. */
  get counts(): { sent: number; dropped: number; queued: number } {
    return { sent: this.sent, dropped: this.dropped, queued: this.queue.length + this.inFlight };
  }

  report(report: AgentLifecycleReport): void {
    if (this.closed) return;
    if (this.queue.length >= this.options.maxQueued) {
      const victim = this.queue.findIndex((r) => r.kind !== 'exited');
      if (victim < 0 && report.kind !== 'exited') {
        this.dropped += 1;
        return;
      }
      if (victim >= 0) {
        this.queue.splice(victim, 1);
        this.dropped += 1;
        if (this.dropped % 1_000 === 1)
          this.input.logger.warn(
            { dropped: this.dropped },
            'lifecycle report queue full (Temporal slow or unreachable); dropping the oldest activation/hibernation reports',
          );
      }
    }
    this.queue.push(report);
    this.pump();
  }

  /** Sends what is queued (up to flushTimeoutMs), then stops taking reports. */
  async close(): Promise<void> {
    const deadline = Date.now() + this.options.flushTimeoutMs;
    while (this.queue.length + this.inFlight > 0 && Date.now() < deadline)
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        setTimeout(resolve, 100).unref();
      });
    this.closed = true;
    const left = this.queue.length + this.inFlight;
    if (left > 0)
      this.input.logger.warn({ left }, 'lifecycle reports not sent before shutdown (Temporal unreachable?)');
  }

  private pump(): void {
    for (let i = 0; i < this.queue.length && this.inFlight < this.options.concurrency;) {
      const report = this.queue[i] as AgentLifecycleReport;
      if (this.busy.has(report.agentId)) {
        i++;
        continue;
      }
      this.queue.splice(i, 1);
      this.busy.add(report.agentId);
      this.inFlight += 1;
      void this.deliver(report).finally(() => {
        this.busy.delete(report.agentId);
        this.inFlight -= 1;
        if (this.queue.length + this.inFlight === 0) this.idle?.();
        this.pump();
      });
    }
  }

  private async deliver(report: AgentLifecycleReport): Promise<void> {
    let delay: number = this.options.retryDelayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.input.client.workflow.signalWithStart(HOSTED_AGENT_WORKFLOW_TYPE, {
          workflowId: hostedAgentWorkflowId(report.agentId),
          taskQueue: this.input.taskQueue,
          args: [{ agentId: report.agentId, agentType: report.agentType }],
          signal: lifecycleReportSignal,
          signalArgs: [report],
        });
        this.sent += 1;
        return;
      } catch (error) {
        if (this.closed) return;
        if (attempt >= this.options.maxAttempts) {
          this.dropped += 1;
          this.input.logger.error(
            { err: error, agentId: report.agentId, kind: report.kind, attempts: attempt },
            'gave up reporting to the hosted agent workflow',
          );
          return;
        }
        if (attempt === 1 || attempt % 10 === 0)
          this.input.logger.warn(
            { err: error, agentId: report.agentId, kind: report.kind, attempt },
            'could not report to the hosted agent workflow; retrying',
          );
        await new Promise((resolve) => setTimeout(resolve, delay * (0.5 + Math.random())).unref());
        delay = Math.min(delay * 2, this.options.maxRetryDelayMs);
      }
    }
  }
}
