/**
 * Runtimes the conformance suite runs against. Each gives an AgentRuntime where the agent type
 * `subject` (fixtures/subject-agent.ts) runs in-process, or in a separate agent-host process
 * speaking the stdio protocol; the test's own agents (`probe`, `gate`) are always in-process.
 */
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { StdioAgentConnection } from '../../src/agent-host/index.js';
import { createInProcessRuntime, defineAgent, type AgentRuntime } from '../../src/sdk/index.js';
import { subject } from './fixtures/subject-agent.js';

/** .ts when run by tsx, .js from dist/: the agent host and handler modules follow the test file. */
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
export const AGENT_HOST_MAIN = fileURLToPath(new URL(`../../src/agent-host/main${ext}`, import.meta.url));
export const SUBJECT_MODULE = fileURLToPath(new URL(`./fixtures/subject-agent${ext}`, import.meta.url));

/** Starts the agent host as a local node process (with tsx's loader when the tests run from .ts). */
export function spawnLocalAgent(
  modulePath: string,
  extra: { type?: string; heartbeatIntervalMs?: number; heartbeatTimeoutMs?: number } = {},
) {
  return StdioAgentConnection.spawn({
    command: process.execPath,
    args: [
      ...process.execArgv.filter((a) => !a.startsWith('--test')),
      AGENT_HOST_MAIN,
      '--module',
      modulePath,
      ...(extra.type ? ['--type', extra.type] : []),
    ],
    heartbeatIntervalMs: extra.heartbeatIntervalMs ?? 1_000,
    heartbeatTimeoutMs: extra.heartbeatTimeoutMs ?? 10_000,
  });
}

export interface Observed {
  readonly event: string;
  readonly [key: string]: unknown;
}

/** The test's side: a probe that records what agents report, and gates that hold a handler until released. */
export class Probe {
  readonly events: Observed[] = [];
  private waiters: { match: (e: Observed) => boolean; resolve: (e: Observed) => void }[] = [];
  private readonly gates = new Map<string, { promise: Promise<void>; release: () => void }>();

  readonly probeAgent = defineAgent({
    type: 'probe',
    messages: { observed: z.object({ event: z.string() }).loose() },
    handlers: {
      observed: (event) => {
        this.events.push(event);
        for (const w of [...this.waiters]) {
          if (w.match(event)) {
            this.waiters.splice(this.waiters.indexOf(w), 1);
            w.resolve(event);
          }
        }
      },
    },
  });

  readonly gateAgent = defineAgent({
    type: 'gate',
    messages: { wait: z.object({}) },
    handlers: { wait: (_msg, ctx) => this.gate(ctx.agentKey).promise },
  });

  /** Resolves with the first event (already seen or future) that matches. */
  next(match: (e: Observed) => boolean): Promise<Observed> {
    const seen = this.events.find(match);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.push({ match, resolve }));
  }

  release(key: string): void {
    this.gate(key).release();
  }

  private gate(key: string): { promise: Promise<void>; release: () => void } {
    let gate = this.gates.get(key);
    if (!gate) {
      let release!: () => void;
      const promise = new Promise<void>((resolve) => (release = resolve));
      gate = { promise, release };
      this.gates.set(key, gate);
    }
    return gate;
  }
}

export interface RuntimeUnderTest {
  readonly runtime: AgentRuntime;
  readonly probe: Probe;
  close(): Promise<void>;
}

export interface RuntimeFactory {
  readonly name: string;
  create(): Promise<RuntimeUnderTest>;
}

const withProbe = async (runtime: AgentRuntime, probe: Probe): Promise<void> => {
  await runtime.register(probe.probeAgent);
  await runtime.register(probe.gateAgent);
};

export const RUNTIMES: readonly RuntimeFactory[] = [
  {
    name: 'in-process',
    async create() {
      const runtime = createInProcessRuntime({ requestTimeoutMs: 10_000 });
      const probe = new Probe();
      await withProbe(runtime, probe);
      await runtime.register(subject);
      return { runtime, probe, close: () => runtime.close() };
    },
  },
  {
    name: 'stdio-local-process',
    async create() {
      const runtime = createInProcessRuntime({ requestTimeoutMs: 10_000 });
      const probe = new Probe();
      await withProbe(runtime, probe);
      const connection = await spawnLocalAgent(SUBJECT_MODULE);
      await runtime.register(connection);
      return {
        runtime,
        probe,
        close: async () => {
          await runtime.close();
          await connection.whenExited();
        },
      };
    },
  },
];
