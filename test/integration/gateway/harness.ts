/**
 * A distributed runtime for tests: gateways in separate processes (what host workers run) on the
 * real Redis, signed and encrypted, plus the test's own gateway in this process.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { startGatewayNode, type GatewayNode, type GatewayNodeInput } from '../../../src/gateway/index.js';
import { randomId } from '../../../src/util/ids.js';
import { deleteKeys } from '../../helpers/runtime.js';

export const REDIS_URL = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
const GATEWAY_PROCESS = fileURLToPath(new URL(`./fixtures/gateway-process${ext}`, import.meta.url));

export interface Cluster {
  readonly prefix: string;
  readonly masterKey: Buffer;
  /** Gateway processes by id. */
  readonly processes: Map<string, ChildProcess>;
  /** Starts a gateway in this process (closed by close()). */
  local(input: Omit<GatewayNodeInput, 'redisUrl' | 'prefix' | 'masterKey'>): Promise<GatewayNode>;
  /** Starts a gateway process hosting the agent modules; resolves when it is serving. */
  spawn(id: string, modules: readonly string[], env?: Record<string, string>): Promise<ChildProcess>;
  /** SIGTERM (graceful: agents checkpointed) or SIGKILL (a crash) of one gateway process. */
  stop(id: string, signal?: 'SIGTERM' | 'SIGKILL'): Promise<void>;
  close(): Promise<void>;
}

export function createCluster(): Cluster {
  const prefix = randomId('gwtest');
  const masterKey = randomBytes(32);
  const processes = new Map<string, ChildProcess>();
  const locals: GatewayNode[] = [];
  const exited = new Map<ChildProcess, Promise<void>>();
  return {
    prefix,
    masterKey,
    processes,
    async local(input) {
      const node = await startGatewayNode({ ...input, redisUrl: REDIS_URL, prefix, masterKey });
      locals.push(node);
      return node;
    },
    async spawn(id, modules, env = {}) {
      const child = fork(GATEWAY_PROCESS, [], {
        execArgv: process.execArgv.filter((a) => !a.startsWith('--test')),
        env: {
          ...process.env,
          ARS_REDIS_URL: REDIS_URL,
          GW_PREFIX: prefix,
          GW_MASTER_KEY: masterKey.toString('hex'),
          GW_ID: id,
          GW_MODULES: modules.join(','),
          ...env,
        },
        stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
      });
      exited.set(child, new Promise((resolve) => child.once('exit', () => resolve())));
      processes.set(id, child);
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`gateway process ${id} did not start in 30 s`)),
          30_000,
        );
        lines.on('line', (line) => {
          if (line.includes('"ready"')) {
            clearTimeout(timer);
            resolve();
          }
        });
        child.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`gateway process ${id} exited with code ${code} before it was ready`));
        });
      });
      return child;
    },
    async stop(id, signal = 'SIGTERM') {
      const child = processes.get(id);
      if (!child) return;
      processes.delete(id);
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited.get(child);
    },
    async close() {
      await Promise.allSettled([...processes.keys()].map((id) => this.stop(id)));
      await Promise.allSettled(locals.map((n) => n.close()));
      await deleteKeys(REDIS_URL, `${prefix}:*`);
    },
  };
}
