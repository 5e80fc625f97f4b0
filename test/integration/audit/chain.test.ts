import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createClient, RESP_TYPES } from 'redis';
import { AuditIntegrityError, AuditLog, auditKeys, generateAuditSigner, randomIdFor } from './helpers.js';

const REDIS_URL = process.env.ARS_REDIS_URL ?? 'redis://127.0.0.1:6379';
const here = fileURLToPath(new URL('.', import.meta.url));
const isTs = import.meta.url.endsWith('.ts');

/** Runs a fixture script (the .ts under tsx, the compiled .js under `npm test`). */
function runFixture(
  name: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const file = join(here, 'fixtures', `${name}.${isTs ? 'ts' : 'js'}`);
  const argv = isTs ? ['--import', 'tsx', file, ...args] : [file, ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, argv, {
      env: { ...process.env, ARS_REDIS_URL: REDIS_URL, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const redis = createClient({ url: REDIS_URL });
const signer = generateAuditSigner();
const seed = (signer.privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer)
  .subarray(-32)
  .toString('hex');
const prefixes: string[] = [];
let cwd: string;

before(async () => {
  await redis.connect();
  cwd = mkdtempSync(join(tmpdir(), 'ars-audit-cli-'));
});
after(async () => {
  for (const p of prefixes) {
    const keys = await redis.keys(`${p}:*`);
    if (keys.length) await redis.del(keys);
  }
  await redis.close();
  rmSync(cwd, { recursive: true, force: true });
});

async function freshLog(n: number): Promise<{ log: AuditLog; prefix: string }> {
  const prefix = randomIdFor('ars-test-audit');
  prefixes.push(prefix);
  const log = new AuditLog(redis, signer, { keyPrefix: prefix, checkpointEvery: 0 });
  await log.appendMany(
    Array.from({ length: n }, (_, i) => ({
      kind: i % 2 ? ('agent.started' as const) : ('policy.decision' as const),
      agentId: `agent-${i % 3}`,
      data:
        i % 2
          ? { i }
          : {
              i,
              action: 'SendMessage',
              principal: 'a',
              resource: 'b',
              decision: 'deny',
              reasons: ['p1'],
              errors: [],
            },
      ts: 1_700_000_000_000 + i * 1000,
    })),
  );
  return { log, prefix };
}

async function rewrite(prefix: string, fn: (items: string[]) => string[]): Promise<void> {
  const key = auditKeys(prefix).entries;
  const items = fn(await redis.lRange(key, 0, -1));
  await redis.del(key);
  if (items.length) await redis.rPush(key, items);
}

async function cliVerify(prefix: string, extra: string[] = []) {
  return runFixture('ars-cli', ['audit', 'verify', '--prefix', prefix, ...extra], { ARS_CLI_CWD: cwd });
}

describe('audit log on real Redis', () => {
  test('a clean chain verifies (API and CLI exit 0); queries by agent, kind and time; export', async () => {
    const { log, prefix } = await freshLog(30);
    const r = await log.verify();
    assert.equal(r.ok, true, JSON.stringify(r.firstBad));
    assert.equal(r.checked, 30);
    const cli = await cliVerify(prefix);
    assert.equal(cli.code, 0, cli.stderr + cli.stdout);
    assert.match(cli.stdout, /^ok: 30 entries/);
    const byAgent = await log.query({ agentId: 'agent-1' });
    assert.deepEqual(
      byAgent.map((e) => e.seq),
      [2, 5, 8, 11, 14, 17, 20, 23, 26, 29],
    );
    const byKindAndTime = await log.query({
      kind: 'policy.decision',
      since: 1_700_000_000_000 + 10_000,
      until: 1_700_000_000_000 + 14_000,
    });
    assert.deepEqual(
      byKindAndTime.map((e) => e.seq),
      [11, 13, 15],
    );
    const lines: string[] = [];
    assert.equal(await log.exportJsonl((l) => void lines.push(l)), 30);
    assert.equal((JSON.parse(lines[4] ?? '') as { seq: number }).seq, 5);
    assert.equal((await log.verify({ from: 10, to: 20 })).checked, 11);
  });

  const tampers: [string, (items: string[]) => string[], number, string][] = [
    ['edited', (x) => x.map((s, i) => (i === 6 ? s.replace('"i":6', '"i":7') : s)), 7, 'hash_mismatch'],
    ['inserted', (x) => [...x.slice(0, 9), x[3] as string, ...x.slice(9)], 10, 'seq_mismatch'],
    ['deleted', (x) => x.filter((_, i) => i !== 11), 12, 'seq_mismatch'],
    [
      'reordered',
      (x) => [...x.slice(0, 14), x[15] as string, x[14] as string, ...x.slice(16)],
      15,
      'seq_mismatch',
    ],
    ['tail-truncated', (x) => x.slice(0, 25), 26, 'truncated'],
  ];
  for (const [name, tamper, seq, reason] of tampers) {
    test(`an ${name} log: verify names entry ${seq}, and \`ars audit verify\` exits 1 naming it`, async () => {
      const { log, prefix } = await freshLog(30);
      await rewrite(prefix, tamper);
      const r = await log.verify();
      assert.equal(r.ok, false);
      assert.equal(r.firstBad?.seq, seq);
      assert.equal(r.firstBad?.reason, reason);
      // The same answer with the signatures checked in worker threads.
      assert.deepEqual(await log.verify({ workers: 2 }), r);
      const cli = await cliVerify(prefix);
      assert.equal(cli.code, 1, cli.stderr);
      assert.match(cli.stdout, new RegExp(`^TAMPERED: entry ${seq}: .*\\[${reason}\\]`));
    });
  }

  test('truncation that also rewrites the head is caught by a checkpoint; appends refuse a truncated log', async () => {
    const { log, prefix } = await freshLog(20);
    await log.checkpoint();
    await rewrite(prefix, (x) => x.slice(0, 15));
    await assert.rejects(
      log.append({ kind: 'agent.started', agentId: 'a' }),
      (e: unknown) => e instanceof AuditIntegrityError && e.length === 15 && e.headSeq === 20,
    );
    const k = auditKeys(prefix);
    const last = JSON.parse((await redis.lIndex(k.entries, 14)) ?? '') as { hash: string };
    await redis.hSet(k.head, { seq: '15', hash: last.hash });
    const r = await log.verify();
    assert.equal(r.firstBad?.seq, 16);
    assert.equal(r.firstBad?.reason, 'truncated');
    assert.match(r.firstBad?.message ?? '', /checkpoint .* covers entries up to 20/);
    const cli = await cliVerify(prefix);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stdout, /^TAMPERED: entry 16: .*\[truncated\]/);
  });

  test('a rollback of Redis itself (checkpoints included) is caught by a checkpoint kept outside', async () => {
    const { log, prefix } = await freshLog(10);
    const k = auditKeys(prefix);
    const snapshotKeys = await redis.keys(`${prefix}:*`);
    // DUMP/RESTORE through a binary-safe client: an exact copy of every key of the log.
    const bin = createClient({ url: REDIS_URL }).withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
    await bin.connect();
    const dumps = await Promise.all(snapshotKeys.map(async (key) => [key, await bin.dump(key)] as const));
    await log.appendMany(
      Array.from({ length: 8 }, (_, i) => ({ kind: 'agent.resumed' as const, agentId: 'a', data: { i } })),
    );
    const external = await log.checkpoint(); // the operator keeps this copy outside Redis
    for (const [key, value] of dumps) await bin.restore(key, 0, value, { REPLACE: true });
    await bin.del(k.checkpoints);
    await bin.close();
    // The log, rolled back to 10 entries, goes on with new, validly signed entries.
    const writer = new AuditLog(redis, signer, { keyPrefix: prefix, checkpointEvery: 0 });
    await writer.appendMany(
      Array.from({ length: 9 }, (_, i) => ({
        kind: 'agent.suspended' as const,
        agentId: 'a',
        data: { reason: `r${i}` },
      })),
    );
    assert.equal(
      (await writer.verify()).ok,
      true,
      'without the outside checkpoint the rewritten log looks fine',
    );
    const file = join(cwd, `${prefix}-checkpoints.jsonl`);
    writeFileSync(file, `${JSON.stringify(external)}\n`);
    const r = await writer.verify({ checkpoints: [external] });
    assert.equal(r.firstBad?.seq, 18);
    assert.equal(r.firstBad?.reason, 'rollback');
    const cli = await cliVerify(prefix, ['--checkpoints', file]);
    assert.equal(cli.code, 1, cli.stderr);
    assert.match(cli.stdout, /^TAMPERED: entry 18: .*rolled back.*\[rollback\]/);
  });

  test('pipelined writers racing on one log: lost compare-and-sets re-seal in order, nothing forks or is lost', async () => {
    const prefix = randomIdFor('ars-test-audit-pipe');
    prefixes.push(prefix);
    const writers = Array.from(
      { length: 3 },
      () =>
        new AuditLog(redis, signer, {
          keyPrefix: prefix,
          maxBatch: 16,
          pipelineDepth: 4,
          checkpointEvery: 100,
        }),
    );
    const per = 400;
    const results = await Promise.all(
      writers.map((log, w) =>
        log.appendMany(
          Array.from({ length: per }, (_, i) => ({
            kind: 'security.event' as const,
            actor: `w${w}`,
            data: { type: 'test', severity: 'info' as const, i },
          })),
        ),
      ),
    );
    const seqs = results.flat().map((e) => e.seq);
    assert.equal(new Set(seqs).size, 3 * per, 'every entry got its own seq');
    assert.deepEqual(
      [...seqs].sort((a, b) => a - b),
      Array.from({ length: 3 * per }, (_, i) => i + 1),
    );
    for (const r of results) {
      const mine = r.map((e) => e.seq);
      assert.deepEqual(
        mine,
        [...mine].sort((a, b) => a - b),
        "a writer's entries keep its order",
      );
    }
    const log = new AuditLog(redis, signer, { keyPrefix: prefix });
    for (const workers of [0, 2]) {
      const v = await log.verify({ workers });
      assert.equal(v.ok, true, JSON.stringify(v.firstBad));
      assert.equal(v.checked, 3 * per);
    }
  });

  test('4 writer processes plus 20 concurrent in-process writers build one chain that verifies', async () => {
    const prefix = randomIdFor('ars-test-audit-conc');
    prefixes.push(prefix);
    const perProcess = 150;
    const children = ['p1', 'p2', 'p3', 'p4'].map((name) =>
      runFixture('writer', [], {
        ARS_AUDIT_PREFIX: prefix,
        ARS_WRITER_COUNT: String(perProcess),
        ARS_WRITER_NAME: name,
        ARS_AUDIT_KEY: seed,
      }),
    );
    const local = Array.from({ length: 20 }, async (_, w) => {
      const log = new AuditLog(redis, signer, { keyPrefix: prefix, maxBatch: 8 });
      for (let i = 0; i < 10; i += 1)
        await log.append({
          kind: 'security.event',
          actor: `l${w}`,
          data: { type: 'test', severity: 'info', i },
        });
    });
    const results = await Promise.all(children);
    await Promise.all(local);
    for (const r of results) assert.equal(r.code, 0, r.stderr);
    const log = new AuditLog(redis, signer, { keyPrefix: prefix });
    const v = await log.verify();
    assert.equal(v.ok, true, JSON.stringify(v.firstBad));
    assert.equal(v.checked, 4 * perProcess + 200);
    for (const name of ['p1', 'p2', 'p3', 'p4']) {
      const mine = await log.query({ agentId: name, limit: 10_000 });
      assert.equal(mine.length, perProcess, `every entry of ${name} is in the chain exactly once`);
      assert.deepEqual(new Set(mine.map((e) => e.data.messageId)).size, perProcess);
    }
    assert.ok((await log.checkpoints()).length >= 1, 'writers left checkpoints');
  });
});
