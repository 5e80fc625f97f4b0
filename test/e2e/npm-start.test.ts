import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const exec = promisify(execFile);

describe('npm start on a fresh clone', () => {
  let dir: string | undefined;
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test(
    'installs, builds, starts what it needs and ends with the demo output',
    { timeout: 600_000 },
    async () => {
      dir = await mkdtemp(join(tmpdir(), 'ars-clone-'));
      // A clone of the committed HEAD: what CI and a newcomer get (no node_modules, no dist, no .ars).
      await exec('git', ['clone', '--quiet', '--no-hardlinks', root, dir]);
      const { code, output } = await new Promise<{ code: number | null; output: string }>(
        (resolve, reject) => {
          const child = spawn('npm', ['start'], {
            cwd: dir,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, CI: 'true' },
          });
          let output = '';
          child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
          child.once('error', reject);
          child.once('exit', (exitCode) => resolve({ code: exitCode, output }));
        },
      );
      assert.equal(code, 0, output);
      assert.match(
        output,
        /ars demo: watch it in the Temporal UI: http:\/\/localhost:8233\/namespaces\/default\/workflows\/agent-hello-/,
      );
      assert.match(output, /ars demo: lifecycle Initializing → Ready → Running → Completed → Terminated/);
      assert.match(output, /"greeting":"hello from inside an ARS sandbox"/);
      assert.match(output, /ars demo: done; its container is gone\./);
    },
  );
});
