import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  GENESIS_HASH,
  canonicalize,
  compileAuditEvent,
  encodeEntry,
  generateAuditSigner,
  hashEntryBody,
  sealCheckpoint,
  sealEntry,
  sealPrepared,
  verifyStream,
  type AuditCheckpoint,
  type AuditEntry,
} from '../../../src/audit/index.js';

const signer = generateAuditSigner();
const keys = new Map([[signer.keyId, signer.publicKey]]);

function chain(n: number): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i += 1) {
    const e = sealEntry(
      compileAuditEvent({ kind: 'agent.started', agentId: `a${i % 3}`, data: { i } }, 1_700_000_000_000 + i),
      i,
      prev,
      signer,
    );
    out.push(e);
    prev = e.hash;
  }
  return out;
}

/** Verifies raws in chunks of 100 with `workers` signature threads. */
async function run(raws: readonly string[], workers: number, checkpoints: AuditCheckpoint[] = []) {
  const chunks: string[][] = [];
  for (let i = 0; i < raws.length; i += 100) chunks.push(raws.slice(i, i + 100));
  const v = await verifyStream(chunks, { from: 1, prevHash: GENESIS_HASH, keys, checkpoints, workers });
  return { failure: v.failure, checked: v.checked };
}

describe('sealing fast path', () => {
  test('the assembled encodings are exactly the canonical encodings, and the hash is the body hash', () => {
    fc.assert(
      fc.property(
        fc.option(fc.string({ unit: 'grapheme' }), { nil: undefined }),
        fc.option(fc.string({ unit: 'binary' }), { nil: undefined }),
        fc.dictionary(fc.string(), fc.jsonValue()),
        fc.nat(),
        fc.integer({ min: 1, max: 2 ** 40 }),
        (actor, agentId, data, ts, seq) => {
          const event = compileAuditEvent(
            {
              kind: 'agent.started',
              agentId: agentId || 'a',
              ...(actor === undefined ? {} : { actor }),
              data: JSON.parse(JSON.stringify(data)) as Record<string, unknown>,
              ts,
            },
            0,
          );
          const { entry, encoded } = sealPrepared(event, canonicalize(event.data), seq, GENESIS_HASH, signer);
          assert.equal(encoded, canonicalize(entry));
          assert.equal(encoded, encodeEntry(entry));
          assert.equal(entry.hash, hashEntryBody(entry));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('verification with signature worker threads reports what a sequential run reports', () => {
  const big = chain(1500);
  const bigRaws = big.map(encodeEntry);
  const cases: [string, () => string[], AuditCheckpoint[]][] = [
    ['an intact chain', () => bigRaws, []],
    [
      'an edited entry',
      () => bigRaws.map((x, i) => (i === 1199 ? x.replace('"i":1200', '"i":1201') : x)),
      [],
    ],
    ['an inserted entry', () => [...bigRaws.slice(0, 7), bigRaws[2] as string, ...bigRaws.slice(7)], []],
    ['a deleted entry', () => bigRaws.filter((_, i) => i !== 999), []],
    [
      // garbage signature at 700 (chain intact) and an edit later at 1200: 700 is the first bad entry
      'a bad signature before a later chain break',
      () =>
        bigRaws.map((x, i) => {
          if (i === 699)
            return encodeEntry({ ...(big[699] as AuditEntry), sig: (big[10] as AuditEntry).sig });
          if (i === 1199) return x.replace('"i":1200', '"i":1201');
          return x;
        }),
      [],
    ],
    [
      // entry 3 edited and re-hashed: its signature is bad, and entry 4's prevHash no longer matches
      'an edited and re-hashed entry',
      () => {
        const forged = { ...(big[2] as AuditEntry), data: { i: 300 } };
        const raws = [...bigRaws];
        raws[2] = encodeEntry({ ...forged, hash: hashEntryBody(forged) });
        return raws;
      },
      [],
    ],
  ];
  for (const [name, make, checkpoints] of cases) {
    test(name, async () => {
      const raws = make();
      const sequential = await run(raws, 0, checkpoints);
      const parallel = await run(raws, 2, checkpoints);
      assert.deepEqual(parallel, sequential);
      if (name === 'an intact chain') assert.equal(parallel.failure, undefined);
      else assert.ok(parallel.failure, 'the tamper is detected');
      if (name === 'a bad signature before a later chain break') {
        assert.equal(parallel.failure?.seq, 700);
        assert.equal(parallel.failure?.reason, 'bad_signature');
        assert.equal(parallel.checked, 699);
      }
    });
  }

  test('a bad signature on the entry that also contradicts a checkpoint is reported as bad_signature, as sequentially', async () => {
    const original = chain(10);
    const checkpoint = sealCheckpoint({ seq: 8, hash: (original[7] as AuditEntry).hash }, 1, signer);
    const rewritten = original.slice(0, 6);
    let prev = (rewritten[5] as AuditEntry).hash;
    for (let i = 7; i <= 10; i += 1) {
      const e = sealEntry(
        compileAuditEvent({ kind: 'agent.resumed', agentId: 'a', data: {} }, 5),
        i,
        prev,
        signer,
      );
      rewritten.push(e);
      prev = e.hash;
    }
    const raws = rewritten.map(encodeEntry);
    assert.equal((await run(raws, 2, [checkpoint])).failure?.reason, 'rollback');
    raws[7] = encodeEntry({ ...(rewritten[7] as AuditEntry), sig: (rewritten[0] as AuditEntry).sig });
    const sequential = await run(raws, 0, [checkpoint]);
    const parallel = await run(raws, 2, [checkpoint]);
    assert.equal(sequential.failure?.reason, 'bad_signature');
    assert.deepEqual(parallel, sequential);
    assert.match(parallel.failure?.message ?? '', /^entry 8: its signature is not valid/);
  });
});
