import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { createClient } from 'redis';
import { AuditLog, loadAuditSigner } from '../../audit/index.js';
import {
  runtimeLocation,
  startGatewayNode,
  type AgentGateway,
  type GatewayNode,
} from '../../gateway/index.js';
import { PolicyEngine } from '../../policy/index.js';
import { busAuditToLog, busPolicyFromEngine } from '../../runtime/bus-hooks.js';
import { parseAgentId } from '../../sdk/index.js';
import { randomId } from '../../util/ids.js';
import { redisClientOptions } from '../../util/redis-url.js';
import { settings, UsageError } from '../context.js';

/** How long an interrupted call waits for its gateway to retire before exiting anyway. */
const RETIRE_WAIT_MS = 5_000;

/** `p` settled, or `ms` passed. */
const within = (p: Promise<unknown>, ms: number): Promise<void> =>
  Promise.race([
    p.then(
      () => undefined,
      () => undefined,
    ),
    delay(ms),
  ]);

/**
 * Runs `fn` with a gateway that hosts no agent: a client of the runtime's agents. A gateway that
 * sends (`checked`) is like a host worker's: it applies the runtime's policies (`ARS_POLICY_DIR`)
 * before every message and puts every message on the audit trail — those sent as an agent with
 * `--from` too.
 *
 * Ctrl-C (or SIGTERM) during the call: a request is cancelled (its handler sees its signal abort),
 * the gateway retires — it gives the answers of its cancelled calls up to 2 s to arrive, then its
 * inbox, registration and keys are removed, as after a call that ends — and the process exits 130
 * (143), within RETIRE_WAIT_MS. A second signal exits at once.
 */
async function withGateway<T>(
  fn: (gateway: AgentGateway, signal: AbortSignal) => Promise<T>,
  { checked = true }: { checked?: boolean } = {},
): Promise<T> {
  const s = settings();
  const policy = checked ? new PolicyEngine({ policyDir: s.policyDir }) : undefined;
  const redis = checked ? createClient(redisClientOptions(s.redisUrl)) : undefined;
  // a connection error is retried by the client; the call fails on its own if Redis stays away
  redis?.on('error', () => undefined);
  const stopHooks = async (): Promise<void> => {
    policy?.close();
    if (redis?.isOpen) await redis.close();
  };
  let node: GatewayNode;
  try {
    let audit: AuditLog | undefined;
    if (redis) {
      await redis.connect();
      audit = new AuditLog(redis, loadAuditSigner({ keyDir: `${s.stateDir}/keys` }), {
        keyPrefix: s.auditPrefix,
      });
    }
    node = await startGatewayNode({
      ...runtimeLocation(s),
      gateway: { id: randomId('cli') },
      ...(policy ? { policy: busPolicyFromEngine(policy) } : {}),
      ...(audit ? { audit: busAuditToLog(audit, { kinds: ['message.sent', 'message.dropped'] }) } : {}),
    });
  } catch (error) {
    await stopHooks();
    throw error;
  }
  let retiring: Promise<void> | undefined;
  const retire = (): Promise<void> =>
    (retiring ??= (async () => {
      try {
        await node.close();
      } finally {
        await stopHooks();
      }
    })());
  const aborter = new AbortController();
  const exitCode = (signal: NodeJS.Signals): number => (signal === 'SIGINT' ? 130 : 143);
  const exitAtOnce = (signal: NodeJS.Signals): never => process.exit(exitCode(signal));
  const interrupted = (signal: NodeJS.Signals): void => {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    process.once('SIGINT', exitAtOnce).once('SIGTERM', exitAtOnce);
    aborter.abort(new Error(`interrupted (${signal})`));
    void within(retire(), RETIRE_WAIT_MS).finally(() => process.exit(exitCode(signal)));
  };
  process.on('SIGINT', interrupted).on('SIGTERM', interrupted);
  try {
    return await fn(node.gateway, aborter.signal);
  } catch (error) {
    // interrupted: the handler above retires the gateway and exits; nothing more is printed
    if (aborter.signal.aborted) await new Promise<never>(() => undefined);
    throw error;
  } finally {
    await retire();
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
  }
}

function payloadOf(text: string | undefined): unknown {
  if (text === undefined) return {};
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`the payload is not valid JSON: ${(error as Error).message}; e.g. '{"n": 3}'`);
  }
}

function agentOf(id: string): string {
  try {
    return parseAgentId(id).id;
  } catch {
    throw new UsageError(`'${id}' is not an agent id; agent ids are type/key, e.g. worker/1`);
  }
}

function timeoutOf(text: string): number {
  const ms = Number(text);
  if (!Number.isSafeInteger(ms) || ms < 1)
    throw new UsageError(`--timeout '${text}' must be a positive number of ms`);
  return ms;
}

const print = (value: unknown): void => console.log(JSON.stringify(value ?? null, null, 2));

/**
 * `ars msg request|send|publish` — talk to SDK agents hosted by the runtime's gateways (host
 * workers started with `ars worker --role host --agents ...`) — and `ars hosts`.
 */
export function registerMessageCommands(program: Command): void {
  const msg = program.command('msg').description("message the runtime's SDK agents (through a gateway)");
  msg
    .command('request <agent> <type> [payload]')
    .description('request/response: prints the handler result as JSON')
    .option('--from <agent>', 'send as this agent id')
    .option('--timeout <ms>', 'request timeout', '30000')
    .action(
      async (
        agent: string,
        type: string,
        payload: string | undefined,
        opts: { from?: string; timeout: string },
      ) => {
        const to = agentOf(agent);
        const from = opts.from === undefined ? undefined : agentOf(opts.from);
        const timeoutMs = timeoutOf(opts.timeout);
        const body = payloadOf(payload);
        print(
          await withGateway((g, signal) =>
            g.request(to, type, body, { timeoutMs, signal, ...(from ? { from } : {}) }),
          ),
        );
      },
    );
  msg
    .command('send <agent> <type> [payload]')
    .description('direct message; returns once the agent accepted it')
    .option('--from <agent>', 'send as this agent id')
    .action(async (agent: string, type: string, payload: string | undefined, opts: { from?: string }) => {
      const to = agentOf(agent);
      const from = opts.from === undefined ? undefined : agentOf(opts.from);
      const body = payloadOf(payload);
      await withGateway((g) => g.send(to, type, body, from ? { from } : {}));
      console.log(`accepted by ${to}`);
    });
  msg
    .command('publish <topic> <type> [payload]')
    .description('publish on a topic; prints who it was delivered to')
    .action(async (topic: string, type: string, payload: string | undefined) => {
      const body = payloadOf(payload);
      print(await withGateway((g) => g.publish(topic, type, body)));
    });

  program
    .command('hosts')
    .description('the gateways of the runtime: agent types, capacity, active agents')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const hosts = (await withGateway((g) => g.hosts(), { checked: false })).filter(
        (h) => !h.info.id.startsWith('cli-'),
      );
      if (opts.json) return print(hosts);
      if (hosts.length === 0)
        return console.log('no gateways (start one: ars worker --role host --agents <module>)');
      for (const { info, alive } of hosts)
        console.log(
          `${info.id.padEnd(24)} ${alive ? 'alive' : 'dead '}  ${String(info.active).padStart(6)}/${info.capacity} active  types: ${info.types.join(', ') || '-'}  (${info.host} pid ${info.pid})`,
        );
    });
}
