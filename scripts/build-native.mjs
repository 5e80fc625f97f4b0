// Builds the AES-256-GCM addon (native/aes-gcm.c → dist/native/aes-gcm.node) with the machine's C
// compiler against the headers that ship with Node (they include OpenSSL's; the addon's OpenSSL calls
// resolve to the OpenSSL inside Node when it loads). Quick when nothing changed.
//
// Without a compiler or Node's headers the build is skipped with the reason, and the runtime uses
// Node's crypto for AES-256-GCM (the same bytes, slower: src/crypto/aes-gcm.ts). The reason is kept in
// dist/native/aes-gcm.status, which the tests quote when they skip. A compile error is reported the
// same way, with the compiler's output.
//   CC=<compiler and its flags>  overrides `cc` (e.g. CC='ccache gcc')
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'native', 'aes-gcm.c');
const outDir = join(root, 'dist', 'native');
const addon = join(outDir, 'aes-gcm.node');
const status = join(outDir, 'aes-gcm.status');
/** What the addon was built for: a different Node (headers, OpenSSL) or source means a rebuild. */
const compiler = (process.env.CC || 'cc').trim();
const stamp = `built from native/aes-gcm.c by '${compiler}' for node ${process.version} (OpenSSL ${process.versions.openssl}) on ${process.platform}-${process.arch}`;

const say = (message) => process.stderr.write(`ars: ${message}\n`);

function skip(reason) {
  rmSync(addon, { force: true });
  writeFileSync(status, `not built: ${reason}\n`);
  say(`AES-GCM addon not built (${reason}); AES-256-GCM runs on Node's crypto instead (slower)`);
}

mkdirSync(outDir, { recursive: true });
const upToDate =
  existsSync(addon) &&
  existsSync(status) &&
  readFileSync(status, 'utf8').trim() === stamp &&
  statSync(addon).mtimeMs >= statSync(source).mtimeMs;

if (!upToDate) build();

function build() {
  if (process.platform === 'win32') return skip('building it on Windows is not supported');
  // Node installs its headers, OpenSSL's among them, beside its binary: <prefix>/include/node. A Node
  // built against the system's OpenSSL (Debian's own nodejs) leaves OpenSSL's out: the system's match.
  const include = join(dirname(process.execPath), '..', 'include', 'node');
  if (!existsSync(join(include, 'node_api.h')))
    return skip(`Node's header node_api.h is not in ${include}; install Node with its headers`);
  const includes = [include];
  if (!existsSync(join(include, 'openssl', 'evp.h'))) {
    const system = '/usr/include';
    if (!process.config.variables.node_shared_openssl || !existsSync(join(system, 'openssl', 'evp.h')))
      return skip(`OpenSSL's header openssl/evp.h is not in ${include}; install Node with its headers`);
    includes.push(system);
  }
  const [cc = 'cc', ...ccArgs] = compiler.split(/\s+/);
  const args = [
    ...ccArgs,
    '-std=c11',
    '-O2',
    '-fPIC',
    '-Wall',
    '-Wextra',
    ...includes.map((dir) => `-I${dir}`),
  ];
  if (process.platform === 'darwin') args.push('-bundle', '-undefined', 'dynamic_lookup');
  else args.push('-shared');
  args.push(source, '-o', addon);
  const run = spawnSync(cc, args, { encoding: 'utf8' });
  if (run.error) return skip(`the C compiler '${compiler}' did not run: ${run.error.message}`);
  if (run.status !== 0)
    return skip(
      `'${compiler}' failed with exit ${run.status}: ${(run.stderr || run.stdout).trim().slice(0, 2000)}`,
    );
  writeFileSync(status, `${stamp}\n`);
  say(`built the AES-GCM addon (${addon.slice(root.length + 1)})`);
}
