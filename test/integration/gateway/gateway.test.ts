/**
 * The agent gateway on the real Redis (signed + encrypted bus) with the real Cedar engine and audit
 * trail: an idle agent hibernates and wakes with its state; a crashed gateway process's agents are
 * placed on a live one (from their last checkpoint); the pre-send policy hook denies at the agent
 * level and the drop is audited; a dead agent process is noticed and reported; nothing hangs.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { OnDemandEndpoint } from '../../../src/agent-host/index.js';
import { AuditLog, generateAuditSigner } from '../../../src/audit/index.js';
import {
  directoryKeys,
  MessageDeniedError,
  MessageNotAuditedError,
  type AgentExit,
} from '../../../src/gateway/index.js';
import { PolicyEngine } from '../../../src/policy/index.js';
import { busAuditToLog, busPolicyFromEngine } from '../../../src/runtime/bus-hooks.js';
import { AgentUnavailableError, defineAgent, UnknownAgentTypeError } from '../../../src/sdk/index.js';
import { z } from 'zod';
import { randomId } from '../../../src/util/ids.js';
import { Probe, SUBJECT_MODULE, spawnLocalAgent } from '../../conformance/harness.js';
import { subject } from '../../conformance/fixtures/subject-agent.js';
import { runCli, spawnCli } from '../../helpers/cli.js';
import { copyDefaultPolicies, deleteKeys, eventually } from '../../helpers/runtime.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
import { createCluster, REDIS_URL } from './harness.js';

const DURABLE_MODULE = fileURLToPath(
  new URL(`./fixtures/durable-agent${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url),
);

describe('agent gateway', () => {
  const redis = createClient({ url: REDIS_URL });
  before(async () => {
    await redis.connect();
  });
  after(async () => {
    await redis.close();
  });

  test('an idle agent hibernates (state checkpointed, instance dropped) and wakes on the next message', async () => {
    const cluster = createCluster();
    try {
      const node = await cluster.local({ agents: [subject], gateway: { idleTimeoutMs: 300 } });
      const a = `subject/${randomId('k')}`;
      assert.equal(await node.gateway.request(a, 'incr', { by: 5 }), 5);
      assert.ok(node.gateway.activeAgents.includes(a));
      await eventually(
        () => (node.gateway.activeAgents.includes(a) ? undefined : true),
        'the idle agent to hibernate',
        5_000,
      );
      const stored = await redis.get(directoryKeys(cluster.prefix).state(a));
      assert.deepEqual(JSON.parse(stored ?? 'null'), {
        v: 1,
        agentType: 'subject',
        state: { count: 5, received: [] },
      });
      assert.equal(
        await redis.get(directoryKeys(cluster.prefix).place(a)),
        null,
        'its placement is released',
      );
      assert.equal(await node.gateway.request(a, 'incr', { by: 1 }), 6, 'woken with its state');
      assert.ok(node.gateway.activeAgents.includes(a));
    } finally {
      await cluster.close();
    }
  });

  test('a sandboxed agent type runs only while active: hibernation stops its process, the next message starts one', async () => {
    const cluster = createCluster();
    try {
      const endpoint = new OnDemandEndpoint({
        agentType: subject.type,
        messageTypes: subject.messageTypes,
        start: () => spawnLocalAgent(SUBJECT_MODULE),
      });
      const node = await cluster.local({ agents: [endpoint], gateway: { idleTimeoutMs: 300 } });
      assert.equal(endpoint.running, false, 'nothing runs before the first message');
      const a = `subject/${randomId('k')}`;
      assert.equal(await node.gateway.request(a, 'incr', { by: 7 }), 7);
      assert.equal(endpoint.running, true);
      await eventually(() => (endpoint.running ? undefined : true), 'the idle sandbox to be stopped', 5_000);
      assert.equal(await node.gateway.request(a, 'incr', { by: 1 }), 8, 'a fresh process restored the state');
      assert.equal(endpoint.startCount, 2);
    } finally {
      await cluster.close();
    }
  });

  test("a crashed gateway process's agents move to a live gateway, from their last checkpoint", async () => {
    const cluster = createCluster();
    try {
      const ids = ['crash-a', 'crash-b'].map((h) => `${h}-${cluster.prefix}`);
      await Promise.all(ids.map((id) => cluster.spawn(id, [SUBJECT_MODULE])));
      const node = await cluster.local({ gateway: { id: `client-${cluster.prefix}`, cacheMs: 100 } });
      const a = `subject/${randomId('k')}`;
      assert.equal(await node.gateway.request(a, 'incr', { by: 5 }), 5);
      await node.gateway.deactivate(a); // checkpoint: count 5
      assert.equal(await node.gateway.request(a, 'incr', { by: 1 }), 6); // active again, not checkpointed
      const holder = await redis.get(directoryKeys(cluster.prefix).place(a));
      assert.ok(holder && ids.includes(holder), `placed on a gateway process (${holder})`);
      await cluster.stop(holder, 'SIGKILL');
      // A request while the dead gateway is still considered alive ends in a clear error, not a hang.
      const early = await node.gateway
        .request(a, 'incr', { by: 1 }, { timeoutMs: 300 })
        .catch((e: unknown) => e);
      assert.ok(typeof early === 'number' || (early as { code?: string }).code === 'ARS_SDK_REQUEST_TIMEOUT');
      // After the heartbeat TTL (1 s here) the other gateway takes the agent over from its checkpoint.
      const other = ids.find((id) => id !== holder);
      await eventually(
        async () => {
          const v = await node.gateway.request(a, 'get-state', {}, { timeoutMs: 2_000 });
          assert.equal((v as { count: number }).count, 5 + (typeof early === 'number' ? 1 : 0));
          return true;
        },
        'the agent to be served by the live gateway',
        15_000,
      );
      assert.equal(await redis.get(directoryKeys(cluster.prefix).place(a)), other);
    } finally {
      await cluster.close();
    }
  });

  test("checkpoint 'after-each-message': a crashed gateway loses nothing a handler finished", async () => {
    const cluster = createCluster();
    try {
      const ids = ['durable-a', 'durable-b'].map((h) => `${h}-${cluster.prefix}`);
      await Promise.all(ids.map((id) => cluster.spawn(id, [DURABLE_MODULE])));
      const node = await cluster.local({ gateway: { id: `client-${cluster.prefix}`, cacheMs: 100 } });
      const a = `durable/${randomId('k')}`;
      assert.equal(await node.gateway.request(a, 'incr', { by: 5 }), 5);
      assert.equal(await node.gateway.request(a, 'incr', { by: 1 }), 6); // no save, no hibernation
      const holder = await redis.get(directoryKeys(cluster.prefix).place(a));
      assert.ok(holder && ids.includes(holder), `placed on a gateway process (${holder})`);
      await cluster.stop(holder, 'SIGKILL');
      await eventually(
        async () => {
          assert.equal(await node.gateway.request(a, 'get', {}, { timeoutMs: 2_000 }), 6);
          return true;
        },
        'the agent, with both changes, on the live gateway',
        15_000,
      );
      assert.equal(
        await redis.get(directoryKeys(cluster.prefix).place(a)),
        ids.find((id) => id !== holder),
      );
    } finally {
      await cluster.close();
    }
  });

  test('the pre-send policy hook (Cedar) denies at the agent level; the drop is audited', async () => {
    const policyDir = await copyDefaultPolicies('ars-gw-policy');
    await writeFile(
      join(policyDir, '90-test.cedar'),
      '@id("test.no-probe-to-subject")\nforbid (principal == Ars::Agent::"probe", action == Ars::Action::"SendMessage", resource == Ars::Agent::"subject");\n',
    );
    const engine = new PolicyEngine({ policyDir });
    const auditPrefix = randomId('ars:test:gwaudit');
    const audit = new AuditLog(redis, generateAuditSigner(), { keyPrefix: auditPrefix });
    const cluster = createCluster();
    try {
      const probe = new Probe();
      const node = await cluster.local({
        agents: [subject, probe.probeAgent],
        policy: busPolicyFromEngine(engine),
        audit: busAuditToLog(audit, { kinds: ['message.dropped'] }),
      });
      const a = `subject/${randomId('k')}`;
      assert.equal(await node.gateway.request(a, 'incr', { by: 1 }), 1, 'an operator may message subject');
      await assert.rejects(
        node.gateway.request(a, 'incr', { by: 1 }, { from: 'probe/main' }),
        (e: unknown) => {
          assert.ok(e instanceof MessageDeniedError);
          assert.equal(e.code, 'ARS_GATEWAY_POLICY_DENIED');
          assert.match(e.message, /test\.no-probe-to-subject/);
          return true;
        },
      );
      assert.equal(
        await node.gateway.request(a, 'get-state', {}).then((s) => (s as { count: number }).count),
        1,
        'not delivered',
      );
      // subject → probe is allowed (the forbid is one-way).
      await node.gateway.send('probe/main', 'observed', { event: 'hello' }, { from: a });
      await probe.next((e) => e.event === 'hello');
      const dropped = (await audit.tail(10)).filter((e) => e.kind === 'message.dropped');
      assert.equal(dropped.length, 1);
      assert.equal(dropped[0]?.data.reason, 'policy_denied');
      assert.equal(dropped[0]?.data.sender, 'probe/main');
    } finally {
      await cluster.close();
      engine.close();
      await rm(policyDir, { recursive: true, force: true });
      const keys: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${auditPrefix}*` })) keys.push(...batch);
      if (keys.length) await redis.del(keys);
    }
  });

  test('what agents send is audited once, at the agent level; a frame the bus drops between gateways is audited', async () => {
    const auditPrefix = randomId('ars:test:gwaudit');
    const audit = new AuditLog(redis, generateAuditSigner(), { keyPrefix: auditPrefix });
    const cluster = createCluster();
    try {
      const probe = new Probe();
      // the sink the host workers give their gateways (workers/host-gateway.ts)
      const node = await cluster.local({
        agents: [subject, probe.probeAgent],
        audit: busAuditToLog(audit, { kinds: ['message.sent', 'message.dropped'] }),
      });
      const a = `subject/${randomId('k')}`;
      assert.equal(await node.gateway.request(a, 'incr', { by: 2 }), 2);
      await node.gateway.send('probe/main', 'observed', { event: 'audited' }, { from: a });
      await probe.next((e) => e.event === 'audited');
      const sent = (await audit.tail(20)).filter((e) => e.kind === 'message.sent');
      assert.deepEqual(
        sent.map((e) => [e.actor, e.data.sender, e.data.recipient, e.data.messageKind]),
        [
          ['agent:operator', 'operator', a, 'request'],
          [`agent:${a}`, a, 'probe/main', 'direct'],
        ],
      );

      // a forged frame in the gateway's inbox: dropped by the bus, dead-lettered and audited as
      // the bus's (its claimed sender is not verified); nothing is delivered
      const inbox = `${cluster.prefix}:inbox:gw.${node.gateway.id}`;
      await redis.xAdd(inbox, '*', { h: 'not a frame header', c: 'x', t: '', s: '' });
      const dropped = await eventually(async () => {
        const d = (await audit.tail(20)).filter((e) => e.kind === 'message.dropped');
        return d.length > 0 ? d : undefined;
      }, 'the forged frame to be audited');
      assert.equal(dropped.length, 1);
      assert.equal(dropped[0]?.actor, 'bus');
      assert.equal(dropped[0]?.data.reason, 'bad_signature');
      assert.equal(dropped[0]?.data.senderVerified, false);
      assert.match(dropped[0]?.data.detail as string, /malformed frame/);
      assert.equal((await audit.tail(20)).filter((e) => e.kind === 'message.sent').length, 2);
      assert.equal(
        await node.gateway.request(a, 'get-state', {}).then((s) => (s as { count: number }).count),
        2,
      );
    } finally {
      await cluster.close();
      await deleteKeys(REDIS_URL, `${auditPrefix}*`);
    }
  });

  test('a message the audit trail cannot record is not sent (fail closed), with a clear error', async () => {
    const cluster = createCluster();
    try {
      let auditDown = false;
      const node = await cluster.local({
        agents: [subject],
        audit: {
          record: (e) => {
            if (auditDown && e.kind === 'message.sent') throw new Error('audit store down');
          },
        },
      });
      const a = `subject/${randomId('k')}`;
      assert.equal(await node.gateway.request(a, 'incr', { by: 1 }), 1);
      auditDown = true;
      await assert.rejects(node.gateway.request(a, 'incr', { by: 1 }), (e: unknown) => {
        assert.ok(e instanceof MessageNotAuditedError);
        assert.equal(e.code, 'ARS_GATEWAY_AUDIT_FAILED');
        assert.match(e.message, /was not sent: the audit trail could not record it \(audit store down\)/);
        return true;
      });
      auditDown = false;
      assert.equal(
        await node.gateway.request(a, 'get-state', {}).then((s) => (s as { count: number }).count),
        1,
        'not delivered',
      );
    } finally {
      await cluster.close();
    }
  });

  test('a closing gateway lets its agents finish the calls they make to other gateways', async () => {
    const slow = defineAgent({
      type: 'slow',
      messages: { work: z.object({}) },
      handlers: {
        work: async (_m, ctx) => {
          await new Promise<void>((resolve, reject) => {
            const t = setTimeout(resolve, 800);
            ctx.signal.addEventListener(
              'abort',
              () => (clearTimeout(t), reject(ctx.signal.reason as Error)),
              {
                once: true,
              },
            );
          });
          return 'done';
        },
      },
    });
    const caller = defineAgent({
      type: 'caller',
      state: z.object({ result: z.string() }).default({ result: 'none' }),
      messages: { go: z.object({}) },
      handlers: {
        go: async (_m, ctx) => {
          try {
            ctx.state.set({ result: await ctx.request<string>('slow/1', 'work', {}) });
          } catch (error) {
            ctx.state.set({ result: `error: ${(error as Error).message}` });
          }
        },
      },
    });
    const cluster = createCluster();
    try {
      await cluster.local({ agents: [slow] });
      const a = await cluster.local({ agents: [caller] });
      const c = await cluster.local({ agents: [] });
      await c.gateway.send('caller/1', 'go', {});
      await sleep(200); // caller/1 waits on slow/1, on another gateway
      await a.close(); // a host worker's SIGTERM, say
      assert.deepEqual(await c.gateway.saveState('caller/1'), {
        v: 1,
        agentType: 'caller',
        state: { result: 'done' },
      });
    } finally {
      await cluster.close();
    }
  });

  test('a dead agent process is noticed: reported, its type withdrawn, requests fail clearly', async () => {
    const cluster = createCluster();
    try {
      const exits: AgentExit[] = [];
      const connection = await spawnLocalAgent(SUBJECT_MODULE);
      const node = await cluster.local({ agents: [connection], onAgentExit: (e) => exits.push(e) });
      const a = `subject/${randomId('k')}`;
      assert.equal(await node.gateway.request(a, 'incr', { by: 2 }), 2);
      assert.ok(connection.pid);
      process.kill(connection.pid, 'SIGKILL');
      await eventually(() => (exits.length === 1 ? true : undefined), 'the agent exit to be reported', 5_000);
      assert.deepEqual(exits[0], { gatewayId: node.gateway.id, agentType: 'subject' });
      await assert.rejects(node.gateway.request(a, 'incr', { by: 1 }, { timeoutMs: 5_000 }), (e: unknown) => {
        assert.ok(e instanceof UnknownAgentTypeError || e instanceof AgentUnavailableError, String(e));
        return true;
      });
      const hosts = await node.gateway.hosts();
      assert.deepEqual(hosts.find((h) => h.info.id === node.gateway.id)?.info.types, []);
    } finally {
      await cluster.close();
    }
  });

  test('a closed gateway leaves nothing of its own in Redis (a CLI call per gateway must not grow it)', async () => {
    const cluster = createCluster();
    try {
      const node = await cluster.local({ agents: [subject] });
      await node.gateway.request(`subject/${randomId('k')}`, 'incr', { by: 1 });
      const id = node.gateway.id;
      await node.close();
      const left: string[] = [];
      for await (const batch of redis.scanIterator({ MATCH: `${cluster.prefix}*`, COUNT: 500 }))
        left.push(...batch.filter((k) => k.includes(`gw.${id}`)));
      assert.deepEqual(left, []);
      assert.equal(await redis.sIsMember(`${cluster.prefix}:agents`, `gw.${id}`), 0);
      assert.equal(await redis.zScore(directoryKeys(cluster.prefix).alive, id), null);
    } finally {
      await cluster.close();
    }
  });

  test('a CLI request interrupted with Ctrl-C is cancelled, and its gateway retires: nothing of it is left in Redis', async () => {
    const cluster = createCluster();
    const probe = new Probe();
    const home = await mkdtemp(join(tmpdir(), 'ars-cli-home-'));
    const auditPrefix = randomId('ars:test:cliaudit');
    try {
      await cluster.local({ agents: [subject, probe.probeAgent] });
      const agent = `subject/${randomId('k')}`;
      const child = spawnCli(
        ['msg', 'request', agent, 'await-cancel', '{"tag":"cli"}', '--timeout', '120000'],
        {
          ARS_REDIS_URL: REDIS_URL,
          ARS_BUS_PREFIX: cluster.prefix,
          ARS_MASTER_KEY: cluster.masterKey.toString('hex'),
          ARS_AUDIT_PREFIX: auditPrefix,
          ARS_HOME: home,
          // run from source (tsx) there is no src/cli/main.js: the child needs the same loader
          ...(import.meta.url.endsWith('.ts')
            ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import tsx`.trim() }
            : {}),
        },
      );
      let output = '';
      child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const cli = await eventually(
          async () => (await redis.sMembers(`${cluster.prefix}:agents`)).find((m) => m.startsWith('gw.cli-')),
          'the CLI gateway to register',
          60_000,
        );
        // the request reached the agent: its handler runs, waiting to be cancelled
        await probe.next((e) => e.event === 'started' && e.tag === 'cli');
        child.kill('SIGINT');
        assert.equal(await exited, 130, output);
        assert.equal(output, '', 'nothing printed');
        // the cancel reached the handler, and its answer reached the CLI before it retired
        await probe.next((e) => e.event === 'cancelled' && e.tag === 'cli');
        await sleep(300);
        const letters = await redis.xRange(`${cluster.prefix}:dlq`, '-', '+');
        assert.deepEqual(
          letters.filter((l) => l.message.to === cli),
          [],
          'no answer was dead-lettered for the retired gateway',
        );
        const left: string[] = [];
        for await (const batch of redis.scanIterator({ MATCH: `${cluster.prefix}*`, COUNT: 500 }))
          left.push(...batch.filter((k) => k.includes(cli)));
        // only what expires by itself, as after a call that ends: its send-rate bucket and the
        // replay mark of the answer it received
        assert.ok(left.includes(`${cluster.prefix}:rate:${cli}`), left.join(', '));
        for (const k of left) {
          assert.match(k, new RegExp(`^${cluster.prefix}:(rate|seen):`), k);
          assert.ok((await redis.pTTL(k)) > 0, `${k} expires`);
        }
        assert.equal(await redis.sIsMember(`${cluster.prefix}:agents`, cli), 0);
        assert.equal(await redis.zScore(directoryKeys(cluster.prefix).alive, cli.slice('gw.'.length)), null);
      } finally {
        if (child.exitCode === null) child.kill('SIGKILL');
      }
    } finally {
      await cluster.close();
      await rm(home, { recursive: true, force: true });
      await deleteKeys(REDIS_URL, `${auditPrefix}*`);
    }
  });

  test('ars msg applies the policies and puts what it sends on the audit trail, also as an agent (--from)', async () => {
    const policyDir = await copyDefaultPolicies('ars-cli-policy');
    await writeFile(
      join(policyDir, '90-test.cedar'),
      '@id("test.no-probe-to-subject")\nforbid (principal == Ars::Agent::"probe", action == Ars::Action::"SendMessage", resource == Ars::Agent::"subject");\n',
    );
    const home = await mkdtemp(join(tmpdir(), 'ars-cli-home-'));
    const auditPrefix = randomId('ars:test:cliaudit');
    const cluster = createCluster();
    try {
      await cluster.local({ agents: [subject] });
      const a = `subject/${randomId('k')}`;
      const env = {
        ARS_REDIS_URL: REDIS_URL,
        ARS_BUS_PREFIX: cluster.prefix,
        ARS_MASTER_KEY: cluster.masterKey.toString('hex'),
        ARS_POLICY_DIR: policyDir,
        ARS_AUDIT_PREFIX: auditPrefix,
        ARS_HOME: home,
        // run from source (tsx) there is no src/cli/main.js: the child needs the same loader
        ...(import.meta.url.endsWith('.ts')
          ? { NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import tsx`.trim() }
          : {}),
      };
      const ok = await runCli(['msg', 'request', a, 'incr', '{"by":2}'], env);
      assert.equal(ok.code, 0, ok.stdout + ok.stderr);
      assert.equal(ok.stdout.trim(), '2');
      const denied = await runCli(['msg', 'request', a, 'incr', '{"by":5}', '--from', 'probe/main'], env);
      assert.equal(denied.code, 1, denied.stdout + denied.stderr);
      assert.match(denied.stderr, /policy denied the message from 'probe\/main'.*test\.no-probe-to-subject/);

      const audit = new AuditLog(redis, generateAuditSigner(), { keyPrefix: auditPrefix });
      const entries = (await audit.tail(10)).map((e) => [e.kind, e.data.sender, e.data.recipient]);
      assert.deepEqual(entries, [
        ['message.sent', 'operator', a],
        ['message.dropped', 'probe/main', a],
      ]);
      const state = await runCli(['msg', 'request', a, 'get-state'], env);
      assert.equal(
        (JSON.parse(state.stdout) as { count: number }).count,
        2,
        'the denied message was not delivered',
      );
    } finally {
      await cluster.close();
      await rm(policyDir, { recursive: true, force: true });
      await rm(home, { recursive: true, force: true });
      await deleteKeys(REDIS_URL, `${auditPrefix}*`);
    }
  });

  test('saveState of an agent that never ran is undefined; restoring one validates it first', async () => {
    const cluster = createCluster();
    try {
      await cluster.spawn(`state-${cluster.prefix}`, [SUBJECT_MODULE]);
      const node = await cluster.local({});
      const a = `subject/${randomId('k')}`;
      assert.equal(await node.gateway.saveState(a), undefined);
      await assert.rejects(
        node.gateway.restoreState(a, { v: 1, agentType: 'subject', state: { count: 'x' } }),
        (e: unknown) => (assert.equal((e as { code?: string }).code, 'ARS_SDK_INVALID_STATE'), true),
      );
      assert.equal(await node.gateway.saveState(a), undefined, 'nothing stored');
    } finally {
      await cluster.close();
    }
  });
});
