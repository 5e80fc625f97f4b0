/**
 * Turns a gateway's lifecycle reports into signals to each hosted agent's workflow (signal-with-start
 * on the control task queue, so the record exists from the first report on). Reporting never blocks
 * or fails message traffic: reports are queued, sent in order per agent with a few in flight, and
 * retried with backoff while Temporal is unreachable. Queueing is O(1) per report (a queue per
 * agent, a FIFO of agents ready to send). When maxQueued reports wait, new activation and
 * hibernation reports are dropped (with a warning); process exits are always queued.
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
  /** Reports queued at most; beyond it new activation/hibernation reports are dropped (exits never). */
  maxQueued: 50_000,
  /** First retry delay; doubles (with jitter) up to maxRetryDelayMs. */
  retryDelayMs: 200,
  maxRetryDelayMs: 10_000,
  /** Attempts per report before it is given up (logged as an error): about 8 minutes of retries. */
  maxAttempts: 50,
  /** How long close() waits for queued reports to be sent. */
  flushTimeoutMs: 10_000,
} as const;

export type LifecycleReporterOptions = { readonly [K in keyof typeof DEFAULT_REPORTER_OPTIONS]: number };

export interface LifecycleReporterInput {
  readonly client: Client;
  /** The control task queue, where hosted agent workflows run. */
  readonly taskQueue: string;
  readonly logger: Logger;
  readonly options?: Partial<LifecycleReporterOptions>;
}

export class WorkflowLifecycleReporter implements AgentLifecycleListener {
  private readonly options: LifecycleReporterOptions;
  /** Each agent's reports not sent yet, in order. */
  private readonly pending = new Map<string, AgentLifecycleReport[]>();
  /** Agents with pending reports and none in flight, in the order they became ready (a FIFO). */
  private ready: string[] = [];
  private readyHead = 0;
  /** Agents with a report in flight: their next report waits, so each agent's reports stay in order. */
  private readonly busy = new Set<string>();
  private queued = 0;
  private inFlight = 0;
  private sent = 0;
  private dropped = 0;
  private closed = false;
  private idle: (() => void) | undefined;

  constructor(private readonly input: LifecycleReporterInput) {
    this.options = { ...DEFAULT_REPORTER_OPTIONS, ...input.options };
  }

  /** Reports sent; reports dropped (queue full, or given up after maxAttempts); reports not sent yet. */
  get counts(): { sent: number; dropped: number; queued: number } {
    return { sent: this.sent, dropped: this.dropped, queued: this.queued + this.inFlight };
  }

  report(report: AgentLifecycleReport): void {
    if (this.closed) return;
    if (this.queued >= this.options.maxQueued && report.kind !== 'exited') {
      if (this.dropped++ % 1_000 === 0)
        this.input.logger.warn(
          { dropped: this.dropped, queued: this.queued },
          'lifecycle report queue full (Temporal slow or unreachable): activation/hibernation reports are dropped, process exits still queued',
        );
      return;
    }
    const list = this.pending.get(report.agentId);
    if (list) list.push(report);
    else {
      this.pending.set(report.agentId, [report]);
      if (!this.busy.has(report.agentId)) this.ready.push(report.agentId);
    }
    this.queued += 1;
    this.pump();
  }

  /** Sends what is queued (up to flushTimeoutMs), then stops taking reports. */
  async close(): Promise<void> {
    const deadline = Date.now() + this.options.flushTimeoutMs;
    while (this.queued + this.inFlight > 0 && Date.now() < deadline)
      await new Promise<void>((resolve) => {
        this.idle = resolve;
        setTimeout(resolve, 100); // not unref'd: the process stays up while the reports are flushed
      });
    this.closed = true;
    const left = this.queued + this.inFlight;
    if (left > 0)
      this.input.logger.warn({ left }, 'lifecycle reports not sent before shutdown (Temporal unreachable?)');
  }

  private pump(): void {
    while (this.inFlight < this.options.concurrency && this.readyHead < this.ready.length) {
      const agentId = this.ready[this.readyHead++] as string;
      if (this.readyHead > 1_024 && this.readyHead * 2 > this.ready.length) {
        this.ready = this.ready.slice(this.readyHead);
        this.readyHead = 0;
      }
      const list = this.pending.get(agentId);
      const report = list?.shift();
      if (!list || !report) continue;
      if (list.length === 0) this.pending.delete(agentId);
      this.queued -= 1;
      this.busy.add(agentId);
      this.inFlight += 1;
      void this.deliver(report).finally(() => {
        this.busy.delete(agentId);
        this.inFlight -= 1;
        if (this.pending.has(agentId)) this.ready.push(agentId);
        if (this.queued + this.inFlight === 0) this.idle?.();
        this.pump();
      });
    }
  }

  private async deliver(report: AgentLifecycleReport): Promise<void> {
    let delay = this.options.retryDelayMs;
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
