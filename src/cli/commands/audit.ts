import { createPublicKey, type KeyObject } from 'node:crypto';
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { createClient } from 'redis';
import {
  AUDIT_EVENT_KINDS,
  AuditLog,
  DEFAULT_AUDIT_KEY_DIR,
  DEFAULT_AUDIT_LOG_OPTIONS,
  decodeCheckpoint,
  generateAuditSigner,
  keyIdOf,
  loadAuditSigner,
  type AuditCheckpoint,
  type AuditEntry,
  type AuditEventKind,
} from '../../audit/index.js';
import { redisClientOptions } from '../../util/redis-url.js';

/** What the audit commands need from the CLI. */
export interface AuditCliDeps {
  readonly redisUrl: string;
  /** Base directory of `.ars/` (keys, local checkpoint copies). @default process.cwd() */
  readonly cwd?: string;
}

interface CommonOpts {
  prefix: string;
  json?: boolean;
}

/** Local copy of the checkpoints of a log: they survive a rollback of Redis. */
function checkpointFile(cwd: string, prefix: string): string {
  return join(cwd, '.ars', 'audit', `checkpoints-${prefix.replace(/[^A-Za-z0-9_.-]/g, '_')}.jsonl`);
}

function readCheckpointFile(path: string): AuditCheckpoint[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line, i) => {
      const c = decodeCheckpoint(line);
      if (!c) throw new Error(`${path}:${i + 1}: not a checkpoint`);
      return c;
    });
}

function parseTime(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const ms = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(ms))
    throw new Error(
      `${flag} '${text}' is not a time; give an ISO date (2025-01-31T12:00:00Z) or ms since the epoch`,
    );
  return ms;
}

function parsePositive(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new Error(`${flag} must be a positive whole number, got '${text}'`);
  return n;
}

function formatEntry(e: AuditEntry): string {
  return `#${e.seq} ${new Date(e.ts).toISOString()} ${e.kind.padEnd(18)} ${e.agentId ?? '-'} ${JSON.stringify(e.data)}`;
}

async function withLog<T>(
  deps: AuditCliDeps,
  opts: CommonOpts,
  signed: boolean,
  fn: (log: AuditLog) => Promise<T>,
): Promise<T> {
  const client = createClient(redisClientOptions(deps.redisUrl));
  client.on('error', () => undefined);
  await client.connect();
  try {
    const cwd = deps.cwd ?? process.cwd();
    // Reading commands do not need the private key; a throwaway one keeps the AuditLog shape.
    const signer = signed ? loadAuditSigner({ keyDir: join(cwd, DEFAULT_AUDIT_KEY_DIR) }) : undefined;
    const log = new AuditLog(client, signer ?? generateAuditSigner(), {
      keyPrefix: opts.prefix,
      checkpointEvery: 0,
    });
    return await fn(log);
  } finally {
    await client.close();
  }
}

function fail(error: unknown): void {
  process.stderr.write(`error: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 2;
}

/** Registers `ars audit tail|query|verify|export|checkpoint`. */
export function registerAuditCommands(program: Command, deps: AuditCliDeps): void {
  const audit = program.command('audit').description('the hash-chained, signed audit log');
  const common = (c: Command): Command =>
    c
      .option('--prefix <prefix>', 'Redis key prefix of the log', DEFAULT_AUDIT_LOG_OPTIONS.keyPrefix)
      .option('--json', 'print JSON');

  common(
    audit
      .command('tail')
      .description('print the last entries')
      .option('-n, --lines <n>', 'number of entries', '20'),
  ).action(async (opts: CommonOpts & { lines: string }) => {
    try {
      const n = parsePositive(opts.lines, '--lines') ?? 20;
      const entries = await withLog(deps, opts, false, (log) => log.tail(n));
      for (const e of entries) process.stdout.write(`${opts.json ? JSON.stringify(e) : formatEntry(e)}\n`);
    } catch (error) {
      fail(error);
    }
  });

  common(
    audit
      .command('query')
      .description('entries by agent, kind and time range')
      .option('--agent <id>', 'agent id')
      .option('--kind <kind>', `event kind (${AUDIT_EVENT_KINDS.join(', ')})`)
      .option('--since <time>', 'ISO time or ms since the epoch')
      .option('--until <time>', 'ISO time or ms since the epoch')
      .option('--limit <n>', 'most entries', '1000'),
  ).action(
    async (
      opts: CommonOpts & { agent?: string; kind?: string; since?: string; until?: string; limit: string },
    ) => {
      try {
        if (opts.kind !== undefined && !(AUDIT_EVENT_KINDS as readonly string[]).includes(opts.kind)) {
          throw new Error(`--kind '${opts.kind}' is unknown; use one of ${AUDIT_EVENT_KINDS.join(', ')}`);
        }
        const q = {
          ...(opts.agent !== undefined ? { agentId: opts.agent } : {}),
          ...(opts.kind !== undefined ? { kind: opts.kind as AuditEventKind } : {}),
          since: parseTime(opts.since, '--since'),
          until: parseTime(opts.until, '--until'),
          limit: parsePositive(opts.limit, '--limit'),
        };
        const entries = await withLog(deps, opts, false, (log) => log.query(q));
        for (const e of entries) process.stdout.write(`${opts.json ? JSON.stringify(e) : formatEntry(e)}\n`);
      } catch (error) {
        fail(error);
      }
    },
  );

  common(
    audit
      .command('verify')
      .description('verify the chain; exits 1 and names the first bad entry')
      .option('--from <seq>', 'first entry')
      .option('--to <seq>', 'last entry (default: the end, with truncation checks)')
      .option(
        '--checkpoints <file>',
        'extra checkpoints (JSON Lines); the local copy under .ars/audit is always read',
      )
      .option(
        '--public-key <pem-file...>',
        'trust only these public keys (default: the keys registered in the log)',
      ),
  ).action(
    async (opts: CommonOpts & { from?: string; to?: string; checkpoints?: string; publicKey?: string[] }) => {
      try {
        const cwd = deps.cwd ?? process.cwd();
        const extra = [
          ...readCheckpointFile(checkpointFile(cwd, opts.prefix)),
          ...(opts.checkpoints ? readCheckpointFile(opts.checkpoints) : []),
        ];
        let trustedKeys: Map<string, KeyObject> | undefined;
        if (opts.publicKey) {
          trustedKeys = new Map(
            opts.publicKey.map((f) => {
              const k = createPublicKey(readFileSync(f, 'utf8'));
              return [keyIdOf(k), k] as const;
            }),
          );
        }
        const from = parsePositive(opts.from, '--from');
        const to = parsePositive(opts.to, '--to');
        const result = await withLog(deps, opts, false, (log) =>
          log.verify({
            ...(from ? { from } : {}),
            ...(to ? { to } : {}),
            checkpoints: extra,
            ...(trustedKeys ? { trustedKeys } : {}),
          }),
        );
        if (opts.json) process.stdout.write(`${JSON.stringify(result)}\n`);
        else if (result.ok)
          process.stdout.write(
            `ok: ${result.checked} entries (${result.from}..${result.to}) and ${result.checkpoints} checkpoints verified\n`,
          );
        else
          process.stdout.write(
            `TAMPERED: ${result.firstBad?.message} [${result.firstBad?.reason}] (${result.checked} entries verified before it)\n`,
          );
        if (!result.ok) process.exitCode = 1;
      } catch (error) {
        fail(error);
      }
    },
  );

  common(
    audit
      .command('export')
      .description('export entries as JSON Lines (canonical encoding, one entry per line)')
      .option('--out <file>', 'write to a file instead of stdout')
      .option('--from <seq>', 'first entry')
      .option('--to <seq>', 'last entry'),
  ).action(async (opts: CommonOpts & { out?: string; from?: string; to?: string }) => {
    try {
      const out = opts.out ? createWriteStream(opts.out) : process.stdout;
      const write = (line: string): Promise<void> | void =>
        out.write(line) ? undefined : new Promise((r) => out.once('drain', () => r()));
      const n = await withLog(deps, opts, false, (log) =>
        log.exportJsonl(write, parsePositive(opts.from, '--from') ?? 1, parsePositive(opts.to, '--to')),
      );
      if (opts.out) {
        await new Promise<void>((r) => (out as ReturnType<typeof createWriteStream>).end(() => r()));
        process.stderr.write(`exported ${n} entries to ${opts.out}\n`);
      }
    } catch (error) {
      fail(error);
    }
  });

  common(
    audit
      .command('checkpoint')
      .description(
        'sign the current head; stored in Redis and in a local file (to detect rollbacks of Redis)',
      ),
  ).action(async (opts: CommonOpts) => {
    try {
      const cwd = deps.cwd ?? process.cwd();
      const c = await withLog(deps, opts, true, (log) => log.checkpoint());
      const file = checkpointFile(cwd, opts.prefix);
      mkdirSync(dirname(file), { recursive: true });
      appendFileSync(file, `${JSON.stringify(c)}\n`);
      process.stdout.write(
        opts.json
          ? `${JSON.stringify(c)}\n`
          : `checkpoint at entry ${c.seq} (${c.hash.slice(0, 16)}…) signed by ${c.keyId}, saved to ${file}\n`,
      );
    } catch (error) {
      fail(error);
    }
  });
}
