import type { Command } from 'commander';
import { runtimeLocation, startGatewayNode, type AgentGateway } from '../../gateway/index.js';
import { parseAgentId } from '../../sdk/index.js';
import { randomId } from '../../util/ids.js';
import { settings, UsageError } from '../context.js';

/** Runs `fn` with a gateway that hosts no agent: a client of the runtime's agents. */
async function withGateway<T>(fn: (gateway: AgentGateway) => Promise<T>): Promise<T> {
  const s = settings();
  const node = await startGatewayNode({
    ...runtimeLocation(s),
    gateway: { id: randomId('cli') },
  });
  // Ctrl-C (or a kill) during the call: the gateway still retires — its inbox, registration and keys
  // removed, as after a call that ends — before the process exits. A second Ctrl-C exits at once.
  const interrupted = (signal: NodeJS.Signals): void => {
    void node.close().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.once('SIGINT', interrupted).once('SIGTERM', interrupted);
  try {
    return await fn(node.gateway);
  } finally {
    process.off('SIGINT', interrupted).off('SIGTERM', interrupted);
    await node.close();
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
        print(await withGateway((g) => g.request(to, type, body, { timeoutMs, ...(from ? { from } : {}) })));
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
      const hosts = (await withGateway((g) => g.hosts())).filter((h) => !h.info.id.startsWith('cli-'));
      if (opts.json) return print(hosts);
      if (hosts.length === 0)
        return console.log('no gateways (start one: ars worker --role host --agents <module>)');
      for (const { info, alive } of hosts)
        console.log(
          `${info.id.padEnd(24)} ${alive ? 'alive' : 'dead '}  ${String(info.active).padStart(6)}/${info.capacity} active  types: ${info.types.join(', ') || '-'}  (${info.host} pid ${info.pid})`,
        );
    });
}
