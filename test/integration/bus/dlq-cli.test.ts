/**
 * `ars dlq ls` and `ars dlq replay` as the real CLI (a child process) against the real Redis, on dead
 * letters a real bus produced under this file's own random prefix (ARS_BUS_PREFIX). The bus and the
 * CLI are given one random master key (ARS_MASTER_KEY), so nothing reads the developer's .ars.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import {
  createBus,
  type Bus,
  type BusMessage,
  type DeadLetter,
  type DeadLetterReason,
} from '../../../src/bus/index.js';
import { createKeystore, createRedisKeystoreBackend, type Keystore } from '../../../src/crypto/index.js';
import { randomId } from '../../../src/util/ids.js';
import { redisClientOptions } from '../../../src/util/redis-url.js';
import { runCli, type CliResult } from '../../helpers/cli.js';
import { deleteKeys, eventually } from '../../helpers/runtime.js';
import { craftFrame, REDIS_URL, sleep } from './helpers.js';

interface ReplayResult {
  entryId: string;
  ok: boolean;
  newEntryId?: string;
  error?: string;
}

describe('ars dlq ls and replay against the real Redis', () => {
  const prefix = `test:${randomId('dlqcli')}`;
  const masterKey = randomBytes(32);
  const cliEnv: Record<string, string> = {
    ARS_REDIS_URL: REDIS_URL,
    ARS_BUS_PREFIX: prefix,
    ARS_MASTER_KEY: masterKey.toString('base64'),
    // run from source (tsx) there is no src/cli/main.js: the child needs the same loader
    ...(import.meta.url.endsWith('.ts')
      ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import tsx`.trim() }
      : {}),
  };
  const dlq = (...args: string[]): Promise<CliResult> => runCli(['dlq', ...args], cliEnv);
  let redis: ReturnType<typeof createClient>;
  let keystore: Keystore;
  const buses: Bus[] = [];

  before(async () => {
    redis = createClient(redisClientOptions(REDIS_URL));
    await redis.connect();
    keystore = createKeystore({ masterKey, backend: createRedisKeystoreBackend(redis, prefix) });
  });
  after(async () => {
    try {
      for (const b of buses) await b.close().catch(() => undefined);
      await redis.close();
    } finally {
      await deleteKeys(REDIS_URL, `${prefix}:*`);
    }
  });

  /** A bus on this prefix that gives up on a message after one failed delivery. */
  async function newBus(): Promise<Bus> {
    const options = { redisUrl: REDIS_URL, prefix, claimIntervalMs: 100, blockMs: 100, maxAttempts: 1 };
    const bus = await createBus({ keystore, options: { ...options, visibilityTimeoutMs: 50 } });
    buses.push(bus);
    return bus;
  }
  /** `ars dlq ls --json [flags]`, which must exit 0, parsed. */
  async function ls(...flags: string[]): Promise<DeadLetter[]> {
    const r = await dlq('ls', '--json', ...flags);
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as DeadLetter[];
  }
  const deadLetter = (bus: Bus, messageId: string, reason: DeadLetterReason): Promise<DeadLetter> =>
    eventually(
      async () =>
        (await bus.deadLetters.list({ count: 500 })).find(
          (d) => d.messageId === messageId && d.reason === reason,
        ),
      `a ${reason} dead letter for ${messageId}`,
      5000,
    );
  /** A message to `agent` whose handler fails until `fix()`: dead-lettered too_many_attempts. */
  async function failing(agent: string, payload: string) {
    const bus = await newBus();
    const got: BusMessage[] = [];
    let fixed = false;
    await bus.consume(agent, (m) => {
      if (!fixed) throw new Error('handler bug');
      got.push(m);
    });
    const sent = await bus.send({ from: 'sender', to: agent, payload });
    const dl = await deadLetter(bus, sent.id, 'too_many_attempts');
    return { got, sent, dl, fix: () => void (fixed = true) };
  }
  /** A frame with a forged signature injected into `agent`'s inbox: dead-lettered bad_signature. */
  async function forged(agent: string) {
    const bus = await newBus();
    const got: BusMessage[] = [];
    await bus.consume(agent, (m) => void got.push(m));
    const frame = { from: 'mallory', to: agent, forgeSignature: true };
    const { h, s, c, t, id } = await craftFrame(keystore, frame);
    await redis.sendCommand(['XADD', `${prefix}:inbox:${agent}`, '*', 'h', h, 's', s, 'c', c, 't', t]);
    return { got, dl: await deadLetter(bus, id, 'bad_signature') };
  }

  test('ls --json lists real dead letters with reason and ids; --reason and --count filter; bad flags exit 2 and change nothing', async () => {
    const { sent, dl } = await failing('ls-a', 'first');
    const { dl: bad } = await forged('ls-b');
    assert.deepEqual(
      [dl.reason, dl.messageId, dl.from, dl.to],
      ['too_many_attempts', sent.id, 'sender', 'ls-a'],
    );
    assert.deepEqual([bad.reason, bad.from, bad.unverified], ['bad_signature', 'mallory', true]);
    // the CLI prints every field the bus recorded, newest first
    const all = await ls();
    assert.deepEqual(all.slice(0, 2), [bad, dl]);
    assert.deepEqual(await ls('--count', '1'), [bad]);

    const attempts = await ls('--reason', 'too_many_attempts');
    assert.ok(attempts.some((d) => d.entryId === dl.entryId));
    assert.ok(attempts.every((d) => d.reason === 'too_many_attempts'));
    assert.deepEqual(await ls('--reason', 'bad_signature'), [bad]);
    assert.deepEqual(await ls('--reason', 'expired'), []);

    for (const [flags, message] of [
      [['--reason', 'nope'], /^error: --reason 'nope' is unknown; use one of .*too_many_attempts/],
      [['--count', '0'], /^error: --count '0' must be a whole number from 1 to 100000/],
      [['--count', 'ten'], /^error: --count 'ten' must be a whole number from 1 to 100000/],
      [['--count', '1e3'], /^error: --count '1e3' must be a whole number from 1 to 100000/],
    ] as const) {
      const r = await dlq('ls', '--json', ...flags);
      assert.equal(r.code, 2, `${flags.join(' ')}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, message);
      assert.equal(r.stdout, '');
    }
    assert.deepEqual(await ls(), all, 'nothing changed');
  });

  test('replay --json of a too_many_attempts letter exits 0, and the fixed consumer gets the original message once', async () => {
    const { got, sent, dl, fix } = await failing('rp', 'original payload');
    fix();
    const r = await dlq('replay', dl.entryId, '--json');
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const [result, ...rest] = JSON.parse(r.stdout) as ReplayResult[];
    assert.deepEqual([rest, result?.entryId, result?.ok], [[], dl.entryId, true]);
    assert.match(result?.newEntryId ?? '', /^\d+-\d+$/);
    const m = await eventually(() => got.find((x) => x.id === sent.id), 'the replayed message', 5000);
    assert.deepEqual(
      { payload: m.payload.toString(), from: m.from, entryId: m.entryId },
      { payload: 'original payload', from: 'sender', entryId: result?.newEntryId },
    );
    assert.ok(!(await ls()).some((d) => d.entryId === dl.entryId), 'the dead letter is gone');
    await sleep(500);
    assert.equal(got.length, 1, 'delivered once');
  });

  test('replay of a replayed or bad_signature letter exits 1, says why, delivers nothing and keeps the letter', async () => {
    const bus = await newBus();
    const got: BusMessage[] = [];
    await bus.consume('rf', (m) => void got.push(m));
    const frame = await craftFrame(keystore, { from: 'sender', to: 'rf', payload: Buffer.from('once') });
    const inbox = `${prefix}:inbox:rf`;
    const inject = () =>
      redis.sendCommand(['XADD', inbox, '*', 'h', frame.h, 's', frame.s, 'c', frame.c, 't', frame.t]);
    await inject();
    await eventually(() => (got.length === 1 ? true : undefined), 'the first delivery', 5000);
    await inject(); // a copy of a delivered frame
    const copy = await deadLetter(bus, frame.id, 'replayed');
    const { got: forgedGot, dl: bad } = await forged('rf-forged');
    const lengths = async () => [await redis.xLen(inbox), await redis.xLen(`${prefix}:inbox:rf-forged`)];
    const before = await lengths();

    const human = await dlq('replay', copy.entryId);
    assert.equal(human.code, 1, human.stdout + human.stderr);
    const why = /\(replayed\) is not replayed: .*deliver that message twice/;
    assert.match(human.stderr, new RegExp(`^error: ${copy.entryId} not replayed: .*${why.source}`));
    assert.equal(human.stdout, '');
    // a malformed id is bad input (exit 2): refused before anything is replayed, the good id too
    const typo = await dlq('replay', copy.entryId, 'abc');
    assert.equal(typo.code, 2, typo.stdout + typo.stderr);
    assert.match(typo.stderr, /^error: 'abc' is not a stream entry id; use the ids `ars dlq ls` prints/);
    const json = await dlq('replay', bad.entryId, '--json');
    assert.equal(json.code, 1, json.stdout + json.stderr);
    const [result, ...rest] = JSON.parse(json.stdout) as ReplayResult[];
    assert.deepEqual([rest, result?.entryId, result?.ok], [[], bad.entryId, false]);
    assert.match(result?.error ?? '', /\(bad_signature\) is not replayed: .*signature does not verify/);

    await sleep(500);
    assert.deepEqual([got.map((m) => m.payload.toString()), forgedGot.length], [['once'], 0]);
    assert.deepEqual(await lengths(), before, 'nothing was added to the inboxes');
    const left = (await ls()).map((d) => d.entryId);
    assert.ok(left.includes(copy.entryId) && left.includes(bad.entryId), 'both letters are kept');
  });

  test('ls without --json names each entry, its reason and message id, and marks an unverified sender', async () => {
    const { sent, dl } = await failing('hu', 'x');
    const { dl: bad } = await forged('hu-forged');
    const r = await dlq('ls');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.split('\n');
    const at = (entryId: string): [string, string] => {
      const i = lines.findIndex((l) => l.startsWith(`${entryId} `));
      assert.ok(i >= 0, `${entryId} is listed:\n${r.stdout}`);
      return [lines[i] as string, lines[i + 1] ?? ''];
    };
    const [line, detail] = at(dl.entryId);
    assert.match(line, new RegExp(` too_many_attempts +direct sender → hu  id=${sent.id}$`));
    assert.match(detail, /^ {4}\S/);
    const [forgedLine] = at(bad.entryId);
    assert.match(
      forgedLine,
      new RegExp(
        ` bad_signature +direct mallory \\(claimed, unverified\\) → hu-forged  id=${bad.messageId}  \\(not replayable\\)$`,
      ),
    );
    const none = await dlq('ls', '--reason', 'expired');
    assert.deepEqual([none.code, none.stdout], [0, 'no dead letters\n']);
  });
});
