import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  AuditEventError,
  CanonicalEncodingError,
  ChainVerifier,
  GENESIS_HASH,
  canonicalize,
  compileAuditEvent,
  encodeEntry,
  generateAuditSigner,
  hashEntryBody,
  parsePrivateKey,
  sealCheckpoint,
  sealEntry,
  signerFromPrivateKey,
  type AuditEntry,
} from '../../../src/audit/index.js';

const signer = generateAuditSigner();
const keys = new Map([[signer.keyId, signer.publicKey]]);

function chain(n: number, s = signer): AuditEntry[] {
  const out: AuditEntry[] = [];
  let prev = GENESIS_HASH;
  for (let i = 1; i <= n; i += 1) {
    const e = sealEntry(
      compileAuditEvent({ kind: 'agent.started', agentId: `a${i % 3}`, data: { i } }, 1_700_000_000_000 + i),
      i,
      prev,
      s,
    );
    out.push(e);
    prev = e.hash;
  }
  return out;
}

function verifyRaw(raws: readonly string[], checkpoints = [] as ReturnType<typeof sealCheckpoint>[]) {
  const v = new ChainVerifier(1, GENESIS_HASH, keys, checkpoints);
  for (const r of raws) if (!v.push(r)) break;
  return v;
}

describe('canonical encoding', () => {
  test('is independent of key order and round-trips through JSON', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = canonicalize(value);
        assert.equal(canonicalize(JSON.parse(text)), text);
      }),
    );
    assert.equal(canonicalize({ b: 1, a: [true, null, 'x'] }), '{"a":[true,null,"x"],"b":1}');
    assert.equal(canonicalize({ a: 1, b: 2 }), canonicalize({ b: 2, a: 1 }));
  });

  test('rejects values without a single JSON meaning, naming the field', () => {
    assert.throws(
      () => canonicalize({ a: { b: undefined } }),
      (e: unknown) => e instanceof CanonicalEncodingError && e.path === 'a.b',
    );
    assert.throws(
      () => canonicalize({ t: new Date() }),
      (e: unknown) => e instanceof CanonicalEncodingError && /plain objects/.test(e.message),
    );
    assert.throws(
      () => canonicalize([Number.NaN]),
      (e: unknown) => e instanceof CanonicalEncodingError && e.path === '[0]',
    );
  });
});

describe('audit events', () => {
  test('each kind requires its fields; errors name the field', () => {
    assert.throws(
      () => compileAuditEvent({ kind: 'message.dropped', data: { messageId: 'm1' } }, 1),
      (e: unknown) =>
        e instanceof AuditEventError &&
        e.code === 'ARS_AUDIT_EVENT_INVALID' &&
        /data\.reason/.test(e.message),
    );
    assert.throws(
      () => compileAuditEvent({ kind: 'agent.started' }, 1),
      (e: unknown) => e instanceof AuditEventError && /agentId is required/.test(e.message),
    );
    assert.throws(
      () => compileAuditEvent({ kind: 'nope' as 'agent.started' }, 1),
      (e: unknown) => e instanceof AuditEventError && /unknown kind/.test(e.message),
    );
  });
});

describe('the chain', () => {
  test('an intact chain verifies; the hash covers every field', () => {
    const entries = chain(20);
    const v = verifyRaw(entries.map(encodeEntry));
    assert.equal(v.failure, undefined);
    assert.equal(v.checked, 20);
    fc.assert(
      fc.property(fc.constantFrom('ts', 'kind', 'agentId', 'actor', 'prevHash', 'keyId', 'seq'), (field) => {
        const e = entries[3] as AuditEntry;
        const changed = {
          ...e,
          [field]: field === 'kind' ? 'agent.resumed' : field === 'seq' || field === 'ts' ? 99 : 'x',
        };
        assert.notEqual(hashEntryBody(changed), e.hash, `${field} must be covered by the hash`);
      }),
    );
  });

  const cases: [string, (raws: string[]) => string[], number, string][] = [
    ['edited', (r) => r.map((x, i) => (i === 4 ? x.replace('"i":5', '"i":6') : x)), 5, 'hash_mismatch'],
    ['inserted', (r) => [...r.slice(0, 7), r[2] as string, ...r.slice(7)], 8, 'seq_mismatch'],
    ['deleted', (r) => r.filter((_, i) => i !== 9), 10, 'seq_mismatch'],
    [
      'reordered',
      (r) => [...r.slice(0, 11), r[12] as string, r[11] as string, ...r.slice(13)],
      12,
      'seq_mismatch',
    ],
  ];
  for (const [name, tamper, seq, reason] of cases) {
    test(`detects an ${name} entry and names it`, () => {
      const v = verifyRaw(tamper(chain(20).map(encodeEntry)));
      assert.equal(v.failure?.seq, seq);
      assert.equal(v.failure?.reason, reason);
      assert.match(v.failure?.message ?? '', new RegExp(`^entry ${seq}:`));
    });
  }

  test('detects an edit that recomputes the hash (bad signature) and one re-signed by another key (unknown key)', () => {
    const entries = chain(5);
    const forged = { ...(entries[2] as AuditEntry), data: { i: 300 } };
    const rehashed = { ...forged, hash: hashEntryBody(forged) };
    const raws = entries.map(encodeEntry);
    raws[2] = encodeEntry(rehashed);
    // The next entry's prevHash no longer matches, but entry 3 is the first bad one.
    assert.equal(verifyRaw(raws).failure?.reason, 'bad_signature');
    const mallory = generateAuditSigner();
    raws[2] = encodeEntry(
      sealEntry(
        compileAuditEvent({ kind: 'agent.started', agentId: 'a', data: {} }, 1),
        3,
        (entries[1] as AuditEntry).hash,
        mallory,
      ),
    );
    const v = verifyRaw(raws);
    assert.equal(v.failure?.seq, 3);
    assert.equal(v.failure?.reason, 'unknown_key');
  });

  test('detects a rewritten history against a checkpoint (rollback)', () => {
    const original = chain(10);
    const checkpoint = sealCheckpoint({ seq: 8, hash: (original[7] as AuditEntry).hash }, 1, signer);
    const rewritten = [...original.slice(0, 6)];
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
    assert.equal(
      verifyRaw(rewritten.map(encodeEntry)).failure,
      undefined,
      'without the checkpoint the rewrite is a valid chain',
    );
    const v = verifyRaw(rewritten.map(encodeEntry), [checkpoint]);
    assert.equal(v.failure?.seq, 8);
    assert.equal(v.failure?.reason, 'rollback');
  });

  test('a key given as a hex seed or PEM gives the same key id', () => {
    const pem = signer.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const seed = (signer.privateKey.export({ format: 'der', type: 'pkcs8' }) as Buffer)
      .subarray(-32)
      .toString('hex');
    assert.equal(signerFromPrivateKey(parsePrivateKey(pem, 'pem')).keyId, signer.keyId);
    assert.equal(signerFromPrivateKey(parsePrivateKey(seed, 'hex')).keyId, signer.keyId);
    assert.match(signer.keyId, /^[0-9a-f]{16}$/);
  });
});
