import type { Command } from 'commander';
import { createClient } from 'redis';
import { DEAD_LETTER_REASONS, DeadLetters, streamKeys, type DeadLetterReason } from '../../bus/index.js';
import { redisClientOptions } from '../../util/redis-url.js';
import { UsageError } from '../context.js';

/** What the dlq commands need; the lead wires it from the CLI's settings. */
export interface DlqCliDeps {
  readonly redisUrl: string;
  /** Bus key prefix. @default 'ars:bus' */
  readonly busPrefix?: string;
}

async function withDeadLetters<T>(deps: DlqCliDeps, fn: (d: DeadLetters) => Promise<T>): Promise<T> {
  const client = createClient(redisClientOptions(deps.redisUrl));
  await client.connect();
  try {
    return await fn(new DeadLetters(client, streamKeys(deps.busPrefix ?? 'ars:bus')));
  } finally {
    await client.close();
  }
}

/** `ars dlq ls [--reason R] [--count N] [--json]` and `ars dlq replay <entry-id...> [--json]`. */
export function registerDlqCommands(program: Command, deps: DlqCliDeps): void {
  const dlq = program.command('dlq').description('inspect and replay the bus dead-letter stream');
  dlq
    .command('ls')
    .description('list dead letters, newest first')
    .option('--reason <reason>', `only this reason (${DEAD_LETTER_REASONS.join(', ')})`)
    .option('--count <n>', 'how many', '50')
    .option('--json', 'print JSON')
    .action(async (opts: { reason?: string; count: string; json?: boolean }) => {
      if (opts.reason && !DEAD_LETTER_REASONS.includes(opts.reason as DeadLetterReason))
        throw new UsageError(
          `--reason '${opts.reason}' is unknown; use one of ${DEAD_LETTER_REASONS.join(', ')}`,
        );
      const count = /^\d{1,6}$/.test(opts.count) ? Number(opts.count) : NaN;
      if (!(count >= 1 && count <= 100_000))
        throw new UsageError(`--count '${opts.count}' must be a whole number from 1 to 100000`);
      const list = await withDeadLetters(deps, (d) =>
        d.list({ count, ...(opts.reason ? { reason: opts.reason as DeadLetterReason } : {}) }),
      );
      if (opts.json) {
        console.log(JSON.stringify(list, null, 2));
        return;
      }
      if (list.length === 0) {
        console.log('no dead letters');
        return;
      }
      for (const d of list) {
        console.log(
          `${d.entryId}  ${new Date(d.at).toISOString()}  ${d.reason.padEnd(18)} ${d.kind} ${d.from}${d.unverified ? ' (claimed, unverified)' : ''} → ${d.to}  id=${d.messageId}${d.replayable ? '' : '  (not replayable)'}\n    ${d.detail}`,
        );
      }
    });
  dlq
    .command('replay')
    .description('re-add dead letters to the stream they were bound for (signature and encryption intact)')
    .argument('<entryIds...>', 'dead-letter entry ids from `ars dlq ls`')
    .option('--json', 'print JSON')
    .action(async (entryIds: string[], opts: { json?: boolean }) => {
      // every id is checked before anything is replayed
      const malformed = entryIds.filter((id) => !/^\d+-\d+$/.test(id));
      if (malformed.length > 0)
        throw new UsageError(
          `${malformed.map((id) => `'${id}'`).join(', ')} ${malformed.length === 1 ? 'is not a stream entry id' : 'are not stream entry ids'}; use the ids \`ars dlq ls\` prints, e.g. 1700000000000-0`,
        );
      const results = await withDeadLetters(deps, async (d) => {
        const out: { entryId: string; ok: boolean; newEntryId?: string; error?: string }[] = [];
        for (const id of entryIds) {
          try {
            out.push({ entryId: id, ok: true, newEntryId: await d.replay(id) });
          } catch (error) {
            out.push({ entryId: id, ok: false, error: (error as Error).message });
          }
        }
        return out;
      });
      if (opts.json) console.log(JSON.stringify(results, null, 2));
      else
        for (const r of results)
          if (r.ok) console.log(`${r.entryId} replayed as ${r.newEntryId}`);
          else console.error(`error: ${r.entryId} not replayed: ${r.error}`);
      if (results.some((r) => !r.ok)) process.exitCode = 1;
    });
}
