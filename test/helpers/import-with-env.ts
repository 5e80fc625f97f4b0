import { spawnSync } from 'node:child_process';

/**
 * Imports `module` in a fresh node with `env` set to `value` and reports its export `name` (a
 * provider chosen when the module loads), or the error the import threw, as `Name: message`.
 */
export function importedWith(
  module: string,
  name: string,
  env: string,
  value: string,
): { provider?: string; error?: string } {
  const r = spawnSync(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `import(${JSON.stringify(module)}).then((m) => console.log(JSON.stringify({ provider: m[${JSON.stringify(name)}] })), (e) => console.log(JSON.stringify({ error: e.name + ': ' + e.message })))`,
    ],
    { env: { ...process.env, [env]: value }, encoding: 'utf8', timeout: 20_000 },
  );
  return JSON.parse(r.stdout.trim()) as { provider?: string; error?: string };
}
