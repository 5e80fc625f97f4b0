import type { KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { AuditCheckpoint } from './checkpoint.js';
import { ChainVerifier, type SignatureCheck } from './verify.js';

/** Signature checks sent to a worker in one message. */
const JOB_SIZE = 250;
/** Jobs queued per worker before the reader waits (bounds memory on long logs). */
const JOBS_PER_WORKER = 4;

/** Worker threads used by `verify` on long ranges: one per core, at most 4. */
export function defaultVerifyWorkers(): number {
  return Math.max(1, Math.min(availableParallelism(), 4));
}

// The worker is plain CommonJS given as source (`eval`), so it runs the same under tsx and from dist/
// (tsc would not copy a separate .js worker file, and tsx would not resolve it). It does one thing: the
// Ed25519 verification of the entry hash, exactly as `signatureValid` does it.
const WORKER_SOURCE = `
'use strict';
const { parentPort, workerData } = require('node:worker_threads');
const { createPublicKey, verify } = require('node:crypto');
const keys = new Map(
  workerData.keys.map(([id, der]) => [id, createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' })]),
);
parentPort.on('message', (job) => {
  const bad = [];
  for (let i = 0; i < job.seqs.length; i += 1) {
    const key = keys.get(job.keyIds[i]);
    let ok = false;
    try {
      ok = key !== undefined && verify(null, Buffer.from(job.hashes[i], 'hex'), key, Buffer.from(job.sigs[i], 'base64'));
    } catch {
      ok = false;
    }
    if (!ok) bad.push(i);
  }
  parentPort.postMessage({ id: job.id, bad });
});
`;

interface Job {
  readonly checks: readonly SignatureCheck[];
  readonly resolve: (bad: SignatureCheck[]) => void;
  readonly reject: (error: unknown) => void;
  readonly worker: number;
}

/** A few worker threads checking Ed25519 signatures of entry hashes. */
class SignaturePool {
  private readonly workers: Worker[] = [];
  private readonly outstanding: number[] = [];
  private readonly jobs = new Map<number, Job>();
  private nextId = 0;

  constructor(size: number, keys: ReadonlyMap<string, KeyObject>) {
    const keyList = [...keys].map(([id, key]) => [id, key.export({ format: 'der', type: 'spki' })]);
    for (let w = 0; w < size; w += 1) {
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { keys: keyList } });
      worker.on('message', (msg: { id: number; bad: number[] }) => {
        const job = this.jobs.get(msg.id);
        if (!job) return;
        this.jobs.delete(msg.id);
        this.outstanding[w] = (this.outstanding[w] ?? 1) - 1;
        job.resolve(msg.bad.map((i) => job.checks[i] as SignatureCheck));
      });
      const failAll = (error: unknown) => {
        for (const [id, job] of this.jobs) {
          if (job.worker !== w) continue;
          this.jobs.delete(id);
          job.reject(error);
        }
      };
      worker.on('error', failAll);
      worker.on('exit', (code) => failAll(new Error(`signature worker exited (code ${code})`)));
      this.workers.push(worker);
      this.outstanding.push(0);
    }
  }

  /** Checks the signatures; resolves with the bad ones. */
  run(checks: readonly SignatureCheck[]): Promise<SignatureCheck[]> {
    let w = 0;
    for (let i = 1; i < this.workers.length; i += 1)
      if ((this.outstanding[i] ?? 0) < (this.outstanding[w] ?? 0)) w = i;
    const id = this.nextId++;
    this.outstanding[w] = (this.outstanding[w] ?? 0) + 1;
    return new Promise<SignatureCheck[]>((resolve, reject) => {
      this.jobs.set(id, { checks, resolve, reject, worker: w });
      this.workers[w]?.postMessage({
        id,
        seqs: checks.map((c) => c.seq),
        keyIds: checks.map((c) => c.keyId),
        hashes: checks.map((c) => c.hash),
        sigs: checks.map((c) => c.sig),
      });
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.terminate()));
  }
}

export interface VerifyStreamOptions {
  /** Seq of the first entry of the stream. */
  readonly from: number;
  /** Hash of entry from-1 (ignored when from is 1). */
  readonly prevHash: string;
  readonly keys: ReadonlyMap<string, KeyObject>;
  readonly checkpoints?: readonly AuditCheckpoint[];
  /** Worker threads for the Ed25519 checks; 0 checks them in this thread. */
  readonly workers: number;
}

/**
 * Verifies a stream of stored entries (in chunks, in log order) and returns the verifier holding the
 * result. With workers, this thread does the sequential part — decoding, canonical form, hashes, the
 * chain, keys, checkpoints — while the worker threads check the signatures in parallel; the first bad
 * entry reported is the one a sequential run reports (see `ChainVerifier.settleSignatures`).
 */
export async function verifyStream(
  chunks: AsyncIterable<readonly string[]> | Iterable<readonly string[]>,
  options: VerifyStreamOptions,
): Promise<ChainVerifier> {
  const { from, prevHash, keys, checkpoints = [], workers } = options;
  if (workers <= 0) {
    const verifier = new ChainVerifier(from, prevHash, keys, checkpoints);
    outer: for await (const chunk of chunks) for (const raw of chunk) if (!verifier.push(raw)) break outer;
    return verifier;
  }
  const verifier = new ChainVerifier(from, prevHash, keys, checkpoints, true);
  const pool = new SignaturePool(workers, keys);
  const outstanding: Promise<SignatureCheck[]>[] = [];
  const bad: SignatureCheck[] = [];
  try {
    for await (const chunk of chunks) {
      for (const raw of chunk) if (!verifier.push(raw)) break;
      const checks = verifier.pendingSignatures;
      verifier.pendingSignatures = [];
      for (let i = 0; i < checks.length; i += JOB_SIZE) {
        const job = pool.run(checks.slice(i, i + JOB_SIZE));
        job.catch(() => undefined); // awaited below, in order; this only marks it handled meanwhile
        outstanding.push(job);
      }
      while (outstanding.length > workers * JOBS_PER_WORKER)
        bad.push(...(await (outstanding.shift() as Promise<SignatureCheck[]>)));
      if (verifier.failure || bad.length > 0) break;
    }
    for (const job of outstanding) bad.push(...(await job));
  } finally {
    await pool.close();
  }
  verifier.settleSignatures(
    bad.map((c) => c.seq),
    (seq) => bad.find((c) => c.seq === seq)?.keyId ?? '',
  );
  return verifier;
}
