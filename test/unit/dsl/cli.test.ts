import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Command } from 'commander';
import { registerDslCommands } from '../../../src/cli/commands/dsl.js';
import { repoPath } from './ast-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'ars-dsl-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const program = new Command().exitOverride();
  registerDslCommands(program, { out: (t) => out.push(t), err: (t) => err.push(t) });
  process.exitCode = undefined;
  await program.parseAsync(['node', 'ars', ...args]);
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, out, err };
}

const file = (name: string, text: string): string => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};

describe('ars dsl', () => {
  test('check: a good file is ok; bad files exit 1 with file:line:column errors', async () => {
    const good = file('good.symbi', readFileSync(repoPath('examples/dsl/summarizer.symbi'), 'utf8'));
    const ok = await run('dsl', 'check', good);
    assert.equal(ok.code, 0);
    assert.deepEqual(ok.out, [`${good}: ok (1 agents, 1 policies, 1 schedules)`]);

    const bad = file(
      'bad.symbi',
      'policy p {\n    permit: read\n}\nagent a {\n    with sandbox = "e2b" {\n    }\n',
    );
    const r = await run('dsl', 'check', good, bad);
    assert.equal(r.code, 1);
    assert.deepEqual(r.err, [
      `${bad}:2:5: found 'permit', expected a rule kind: 'allow', 'deny', 'require' or 'audit'`,
      `${bad}:6:6: found end of file, expected '}' to close the '{' opened at 4:9`,
    ]);
    const json = await run('dsl', 'check', '--json', bad);
    const report = JSON.parse(json.out.join('\n')) as { ok: boolean; problems: { line: number }[] }[];
    assert.equal(report[0]?.ok, false);
    assert.deepEqual(
      report[0]?.problems.map((p) => p.line),
      [2, 6],
    );
  });

  test('check reports compile errors (e2b) with their position', async () => {
    const f = file('e2b.symbi', 'agent a {\n    with sandbox = "e2b" {\n    }\n}\n');
    const r = await run('dsl', 'check', f);
    assert.equal(r.code, 1);
    assert.deepEqual(r.err, [
      `${f}:2:20: sandbox 'e2b' is a hosted service that ARS does not run; use docker, gvisor or firecracker`,
    ]);
  });

  test('fmt rewrites in place, is idempotent, and --check reports unformatted files', async () => {
    const f = file(
      'messy.symbi',
      'metadata{version="1"}\nagent a{capabilities:["read"] with sandbox="docker"{let x=1+2*3;x}}\n',
    );
    const check = await run('dsl', 'fmt', '--check', f);
    assert.equal(check.code, 1);
    assert.deepEqual(check.out, [`${f}: not formatted`]);
    assert.equal(readFileSync(f, 'utf8').startsWith('metadata{'), true, '--check does not write');

    const first = await run('dsl', 'fmt', f);
    assert.equal(first.code, 0);
    const formatted = readFileSync(f, 'utf8');
    assert.equal(
      formatted,
      'metadata {\n    version = "1"\n}\n\nagent a {\n    capabilities: ["read"]\n\n    with sandbox = "docker" {\n        let x = 1 + 2 * 3;\n        x\n    }\n}\n',
    );
    const second = await run('dsl', 'fmt', f);
    assert.deepEqual(second.out, [`${f}: unchanged`]);
    assert.equal(readFileSync(f, 'utf8'), formatted);
    assert.equal((await run('dsl', 'fmt', '--check', f)).code, 0);
  });

  test('fmt leaves a file with syntax errors untouched and exits 1', async () => {
    const text = 'agent a {\n    with timeout = 5x {\n';
    const f = file('broken.symbi', text);
    const r = await run('dsl', 'fmt', f);
    assert.equal(r.code, 1);
    assert.match(r.err[0] ?? '', /broken\.symbi:2:20: found '5x', expected a duration/);
    assert.equal(readFileSync(f, 'utf8'), text);
  });

  test('compile prints agents, Cedar policies and schedules as JSON', async () => {
    const f = file('c.symbi', readFileSync(repoPath('examples/dsl/summarizer.symbi'), 'utf8'));
    const r = await run('dsl', 'compile', f, '--command', '["node","agent.js"]', '--image', 'img:1');
    assert.equal(r.code, 0, r.err.join('\n'));
    const out = JSON.parse(r.out.join('\n')) as {
      agents: { sandbox: { image: string; command: string[] } }[];
      policies: { text: string }[];
    };
    assert.deepEqual(out.agents[0]?.sandbox.command, ['node', 'agent.js']);
    assert.equal(out.agents[0]?.sandbox.image, 'img:1');
    assert.match(out.policies[0]?.text ?? '', /forbid \(/);
    const bad = await run('dsl', 'compile', f, '--command', 'node agent.js');
    assert.equal(bad.code, 2);
    assert.match(bad.err[0] ?? '', /--command 'node agent.js' is not a JSON array of strings/);
  });
});
