import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { isAuthorized } from '@cedar-policy/cedar-wasm/nodejs';
import {
  compileFile,
  compileSource,
  cronProblem,
  formatDiagnostic,
  toTemporalScheduleSpec,
  type CompileResult,
  type CompiledPolicy,
} from '../../../src/dsl/index.js';
import { repoPath } from './ast-helpers.js';

const CMD = { command: ['echo', 'hello'] };
const errors = (r: CompileResult): string[] =>
  r.problems.filter((p) => p.severity === 'error').map(formatDiagnostic);
const agentWith = (attrs: string, extra = ''): string =>
  `agent a {\n    ${extra}\n    with ${attrs} {\n    }\n}\n`;

describe('DSL compile: agents → AgentConfig', () => {
  test('the DSL.md example compiles to a validated AgentConfig', async () => {
    const r = await compileFile(repoPath('examples/dsl/summarizer.symbi'), {
      ...CMD,
      generateId: () => 'fixed-id',
    });
    assert.deepEqual(errors(r), []);
    assert.equal(r.ok, true);
    assert.equal(r.agents.length, 1);
    const a = r.agents[0];
    assert.ok(a);
    assert.equal(a.id, 'fixed-id');
    assert.equal(a.name, 'summarizer');
    assert.equal(a.tier, 'gvisor');
    assert.equal(a.mode, 'ephemeral');
    assert.deepEqual(a.resources, {
      memoryMb: 256,
      cpus: 1,
      pidsLimit: 128,
      timeoutMs: 30_000,
      scratchMb: 64,
    });
    assert.deepEqual(a.capabilities, ['read', 'summarize']);
    assert.deepEqual(a.sandbox.command, ['echo', 'hello']);
    assert.equal(a.metadata['version'], '1.0.0');
    assert.equal(a.metadata['description'], 'Summarises incoming reports');
    assert.equal(a.metadata['dsl.params'], 'report: String');
  });

  test('with-block attributes map onto the config', () => {
    const r = compileSource(
      agentWith(
        'sandbox = "TIER3", timeout = 1500, max_memory_mb = 1024, max_cpu_cores = 0.5, memory = persistent, security = "High", network_policy = "none", image = "alpine:3", command = ["sh", "-c", "true"], env = { LOG: "debug", N: 3 }, custom = 5m',
        'capabilities: [read, "net:http"]',
      ),
    );
    assert.deepEqual(errors(r), []);
    const a = r.agents[0];
    assert.ok(a);
    assert.equal(a.tier, 'firecracker');
    assert.equal(a.mode, 'persistent');
    assert.equal(a.risk, 'high');
    assert.equal(a.resources.timeoutMs, 1500);
    assert.equal(a.resources.memoryMb, 1024);
    assert.equal(a.resources.cpus, 0.5);
    assert.deepEqual(a.capabilities, ['read', 'net:http']);
    assert.deepEqual(a.sandbox, {
      image: 'alpine:3',
      command: ['sh', '-c', 'true'],
      env: { LOG: 'debug', N: '3' },
    });
    assert.equal(a.metadata['dsl.network_policy'], 'none');
    assert.equal(a.metadata['dsl.custom'], '5m');
  });

  test('sandbox names are case-insensitive and security picks the tier when no sandbox is given', () => {
    for (const [name, tier] of [
      ['Docker', 'docker'],
      ['tier1', 'docker'],
      ['GVISOR', 'gvisor'],
      ['tier2', 'gvisor'],
      ['firecracker', 'firecracker'],
    ]) {
      assert.equal(compileSource(agentWith(`sandbox = "${name}"`), CMD).agents[0]?.tier, tier, name);
    }
    assert.equal(compileSource(agentWith('security = medium'), CMD).agents[0]?.tier, 'gvisor');
    assert.equal(
      compileSource(agentWith('timeout = 2.hours'), CMD).agents[0]?.resources.timeoutMs,
      7_200_000,
    );
  });

  test('e2b and unknown sandboxes are refused with a located error; nothing is returned', () => {
    const r = compileSource(agentWith('sandbox = "e2b"'), { ...CMD, file: 'a.symbi' });
    assert.equal(r.ok, false);
    assert.deepEqual(r.agents, []);
    assert.deepEqual(errors(r), [
      "a.symbi:3:20: sandbox 'e2b' is a hosted service that ARS does not run; use docker, gvisor or firecracker",
    ]);
    assert.deepEqual(errors(compileSource(agentWith('sandbox = kata'), { ...CMD, file: 'a.symbi' })), [
      "a.symbi:3:20: sandbox 'kata' is unknown; use docker (tier1), gvisor (tier2) or firecracker (tier3)",
    ]);
  });

  test('bad attribute values and config limits are reported at the attribute', () => {
    const r = compileSource(agentWith('memory = forever, timeout = "soon", max_memory_mb = 8'), {
      ...CMD,
      file: 'a.symbi',
    });
    assert.deepEqual(errors(r), [
      "a.symbi:3:19: memory 'forever' is unknown; use ephemeral or persistent",
      'a.symbi:3:38: timeout is a whole number of milliseconds or a duration such as 30s or 5.minutes',
    ]);
    const limits = compileSource(agentWith('max_memory_mb = 8'), { ...CMD, file: 'a.symbi' });
    assert.deepEqual(errors(limits), [
      "a.symbi:3:10: agent 'a': resources.memoryMb: memoryMb must be at least 16",
    ]);
  });

  test('an ephemeral agent without a command is an error unless it is bound at deploy time or only checked', () => {
    const source = agentWith('sandbox = docker');
    const r = compileSource(source, { file: 'a.symbi' });
    assert.equal(r.ok, false);
    assert.match(
      errors(r)[0] ?? '',
      /^a\.symbi:1:7: agent 'a': sandbox\.command: an ephemeral agent needs a command.*bind a command at deploy time$/,
    );
    assert.equal(compileSource(source, { checkOnly: true }).ok, true);
    assert.equal(compileSource(source, CMD).ok, true);
  });
});

const request = (
  policies: CompiledPolicy[],
  agent: string,
  capability: string,
  attrs: Record<string, unknown>,
): string => {
  const answer = isAuthorized({
    principal: { type: 'Ars::Agent', id: agent },
    action: { type: 'Ars::Action', id: `capability:${capability}` },
    resource: { type: 'Ars::Resource', id: 'r1' },
    context: {},
    policies: { staticPolicies: policies.map((p) => p.text).join('\n\n') },
    entities: [{ uid: { type: 'Ars::Resource', id: 'r1' }, attrs: attrs as never, parents: [] }],
  });
  assert.equal(answer.type, 'success', JSON.stringify(answer));
  return answer.type === 'success' ? answer.response.decision : 'error';
};

describe('DSL compile: policies → Cedar', () => {
  test('the example policy compiles and is enforced by the Cedar engine: deny blocks, the if condition gates allow', async () => {
    const r = await compileFile(repoPath('examples/dsl/summarizer.symbi'), CMD);
    assert.equal(r.policies.length, 1);
    const p = r.policies[0] as CompiledPolicy;
    assert.equal(p.id, 'summarizer.guarded');
    assert.match(
      p.text,
      /permit \(\n {2}principal == Ars::Agent::"summarizer",\n {2}action == Ars::Action::"capability:read",\n {2}resource\n\) when \{/,
    );
    assert.match(
      p.text,
      /forbid \(\n {2}principal == Ars::Agent::"summarizer",\n {2}action in \[Ars::Action::"capability:network_access", Ars::Action::"capability:write"\]/,
    );
    assert.equal(request(r.policies, 'summarizer', 'read', { classification: 'public' }), 'allow');
    assert.equal(request(r.policies, 'summarizer', 'read', { classification: 'secret' }), 'deny');
    assert.equal(request(r.policies, 'summarizer', 'read', {}), 'deny', 'a missing attribute does not allow');
    assert.equal(request(r.policies, 'summarizer', 'write', {}), 'deny');
    assert.equal(
      request(r.policies, 'other_agent', 'read', { classification: 'public' }),
      'deny',
      'the policy is for its own agent',
    );
    assert.deepEqual(p.obligations, [
      {
        kind: 'audit',
        value: { log_level: 'info' },
        expression: '{ log_level: "info" }',
        source: `${repoPath('examples/dsl/summarizer.symbi')}:9:9`,
      },
    ]);
  });

  test('a conditional deny overrides an allow, and fails closed when the attribute is missing', () => {
    const r = compileSource(
      'agent a {\n    policy p {\n        allow: ["write"]\n        deny: write(f) if f.path in ["/etc", "/root"] || not f.in_project\n    }\n}\n',
      CMD,
    );
    assert.deepEqual(errors(r), []);
    assert.equal(request(r.policies, 'a', 'write', { path: '/tmp/x', in_project: true }), 'allow');
    assert.equal(request(r.policies, 'a', 'write', { path: '/etc', in_project: true }), 'deny');
    assert.equal(request(r.policies, 'a', 'write', { path: '/tmp/x', in_project: false }), 'deny');
    assert.equal(
      request(r.policies, 'a', 'write', { path: '/tmp/x' }),
      'deny',
      'missing in_project: the forbid applies',
    );
  });

  test('rules that cannot be compiled are reported with their position, and nothing is returned', () => {
    const source = [
      'agent a {',
      '    policy p {',
      '        allow: read(doc) if doc.size / 2 > 1',
      '        allow: read(doc) if other.flag',
      '        deny: 5',
      '        allow: read(doc) if doc.age > 30s',
      '        allow: read(a, b)',
      '        require: { approval: true }',
      '    }',
      '}',
    ].join('\n');
    const r = compileSource(source, { ...CMD, file: 'p.symbi' });
    assert.equal(r.ok, false);
    assert.deepEqual(r.policies, []);
    assert.deepEqual(r.agents, []);
    assert.deepEqual(errors(r), [
      "p.symbi:3:29: allow rule of policy 'p' cannot be compiled to Cedar: the operator '/' has no Cedar equivalent",
      "p.symbi:4:29: allow rule of policy 'p' cannot be compiled to Cedar: unknown name 'other'; a condition can use the rule's argument 'doc', agent and context",
      "p.symbi:5:15: deny rule of policy 'p' cannot be compiled to Cedar: expected a capability name, a list of names, or capability(name)",
      "p.symbi:6:39: allow rule of policy 'p' cannot be compiled to Cedar: a duration cannot be used in a Cedar condition",
      "p.symbi:7:16: allow rule of policy 'p' cannot be compiled to Cedar: 'read(...)' takes one plain name that stands for the resource, e.g. read(doc)",
    ]);
  });

  test('top-level and channel policies compile; require/audit rules are kept as obligations', () => {
    const r = compileSource(
      'policy global {\n    deny: exec\n    require: approval if agent.risk == "high"\n}\nchannel c {\n    policy only_small {\n        allow: publish(m) if m.size < 1024\n    }\n}\n',
    );
    assert.deepEqual(errors(r), []);
    const global = r.policies.find((p) => p.id === 'global');
    assert.ok(global);
    assert.match(global.text, /forbid \(\n {2}principal,\n {2}action == Ars::Action::"capability:exec",/);
    assert.deepEqual(global.obligations[0], {
      kind: 'require',
      value: 'approval',
      expression: 'approval',
      condition: 'agent.risk == "high"',
      source: '<input>:3:5',
    });
    const channel = r.policies.find((p) => p.id === 'channel.c.only_small');
    assert.ok(channel);
    assert.equal(request(r.policies, 'x', 'publish', { channel: 'c', size: 10 }), 'allow');
    assert.equal(request(r.policies, 'x', 'publish', { channel: 'other', size: 10 }), 'deny');
  });

  test('with the ARS Cedar schema, rules are validated: unknown capabilities are reported', () => {
    const cedarSchema = readFileSync(repoPath('policies/ars.cedarschema'), 'utf8');
    const good = compileSource(
      'agent a {\n    policy p {\n        allow: read(f) if f.in_project == true\n        deny: [write, exec]\n    }\n}\n',
      { ...CMD, cedarSchema },
    );
    assert.deepEqual(errors(good), []);
    const bad = compileSource('agent a {\n    policy p {\n        deny: teleport\n    }\n}\n', {
      ...CMD,
      cedarSchema,
      file: 's.symbi',
    });
    assert.equal(bad.ok, false);
    assert.match(
      errors(bad)[0] ?? '',
      /^s\.symbi:3:9: rule of policy 'p' does not fit the Cedar schema: .*capability:teleport/,
    );
  });
});

describe('DSL compile: schedules', () => {
  test('schedule blocks become ScheduleDefinitions and Temporal schedule specs', () => {
    const r = compileSource(
      'agent w {\n}\nschedule nightly { cron: "0 2 * * *", agent: "w", timezone: "Europe/Paris" }\nschedule once { at: "2030-01-01T09:30", agent: w }\nschedule often { interval: 15m, agent: "w" }\n',
      CMD,
    );
    assert.deepEqual(errors(r), []);
    assert.deepEqual(r.schedules, [
      { id: 'nightly', cron: ['0 2 * * *'], agent: 'w', timezone: 'Europe/Paris' },
      { id: 'once', at: '2030-01-01T09:30', agent: 'w' },
      { id: 'often', intervalMs: 900_000, agent: 'w' },
    ]);
    const [nightly, once, often] = r.schedules.map(toTemporalScheduleSpec);
    assert.deepEqual(nightly, { cronExpressions: ['0 2 * * *'], timezone: 'Europe/Paris' });
    assert.deepEqual(once, {
      calendars: [
        {
          year: 2030,
          month: 'JANUARY',
          dayOfMonth: 1,
          hour: 9,
          minute: 30,
          second: 0,
          comment: 'once at 2030-01-01T09:30',
        },
      ],
      timezone: 'UTC',
    });
    assert.deepEqual(often, { intervals: [{ every: 900_000 }], timezone: 'UTC' });
  });

  test('bad cron, time zone, at and missing agent are reported at their position', () => {
    const r = compileSource(
      'schedule s {\n    cron: "0 2 * *"\n    timezone: "Mars/Olympus"\n    at: "2030-02-30T10:00"\n    color: "blue"\n}\nschedule t { cron: "61 * * * *", agent: "ghost" }\n',
      { file: 's.symbi' },
    );
    assert.deepEqual(errors(r), [
      's.symbi:1:10: schedule \'s\' needs agent: "<agent name>"',
      's.symbi:2:11: cron \'0 2 * *\' has 4 fields; use 5: minute hour day-of-month month day-of-week, e.g. "0 2 * * *"',
      's.symbi:3:15: timezone \'Mars/Olympus\' is not an IANA time zone such as "UTC" or "Europe/Paris"',
      's.symbi:4:9: at is a local date-time "YYYY-MM-DDTHH:MM[:SS]", e.g. "2030-01-01T09:30:00"',
      "s.symbi:5:5: schedule attribute 'color' is unknown; use cron, at, interval, timezone and agent",
      "s.symbi:7:20: cron '61 * * * *': minute '61' is not valid; use *, a number 0-59, a range a-b, a list a,b or a step */n",
    ]);
    assert.deepEqual(r.problems.filter((p) => p.severity === 'warning').map(formatDiagnostic), [
      "s.symbi:7:41: agent 'ghost' is not defined in this file; it must already be deployed",
    ]);
  });

  test('cron validation accepts the usual forms', () => {
    for (const ok of ['* * * * *', '*/5 0-6 1,15 JAN-MAR MON-FRI', '30 7 * * 1-5', '0 0 1 */2 0', '@daily'])
      assert.equal(cronProblem(ok), undefined, ok);
    for (const bad of [
      '* * * * * *',
      '60 * * * *',
      '* 24 * * *',
      '* * 0 * *',
      '* * * 13 *',
      '* * * * 8',
      '*/0 * * * *',
      'a b c d e',
    ]) {
      assert.ok(cronProblem(bad), bad);
    }
  });
});

describe('DSL compile: malformed files deploy nothing', () => {
  for (const [name, source] of Object.entries({
    'unclosed brace': 'agent a {\n    with command = ["x"] {\n',
    'bad duration': 'agent a {\n    with timeout = 10x, command = ["x"] {\n    }\n}\n',
    'unknown rule kind': 'agent a {\n    policy p {\n        permit: read\n    }\n}\n',
  })) {
    test(name, () => {
      const r = compileSource(source, { file: 'm.symbi' });
      assert.equal(r.ok, false);
      assert.deepEqual([r.agents, r.policies, r.schedules], [[], [], []]);
      assert.ok(r.problems.length > 0);
      assert.match(formatDiagnostic(r.problems[0] as never), /^m\.symbi:\d+:\d+: found .*, expected /);
    });
  }
});
