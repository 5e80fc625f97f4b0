import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import {
  AGENT_ENV_ALLOWLIST,
  defaultAgentEnv,
  DOCKER_CLI_ENV_ALLOWLIST,
  StdioAgentConnection,
} from '../../../src/agent-host/index.js';
import { createInProcessRuntime } from '../../../src/sdk/index.js';

/**
 * The smallest agent that speaks the stdio protocol (docs/stdio-protocol.md): it says hello as
 * type `env-probe`, answers every delivery with its own process.env, pongs pings and leaves on
 * shutdown. Plain JavaScript run with `node -e`, so it needs no loader and no file.
 */
const ENV_PROBE_AGENT = `
const send = (frame) => {
  const body = Buffer.from(JSON.stringify(frame), 'utf8');
  const head = Buffer.alloc(4);
  head.writeUInt32BE(body.length, 0);
  process.stdout.write(Buffer.concat([head, body]));
};
send({ k: 'hello', versions: [1], agent: { type: 'env-probe', messages: ['env'], run: false }, maxFrameBytes: 1 << 20 });
let buffered = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  buffered = Buffer.concat([buffered, chunk]);
  while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
    const length = buffered.readUInt32BE(0);
    const frame = JSON.parse(buffered.subarray(4, 4 + length).toString('utf8'));
    buffered = buffered.subarray(4 + length);
    if (frame.k === 'deliver') send({ k: 'result', re: frame.id, value: { ...process.env } });
    else if (frame.k === 'ping') send({ k: 'pong', re: frame.id });
    else if (frame.k === 'shutdown') process.exit(0);
  }
});
process.stdin.on('end', () => process.exit(0));
`;

/** Starts the probe agent through StdioAgentConnection.spawn and returns the environment it sees. */
async function childEnv(env?: Record<string, string>): Promise<Record<string, string>> {
  const connection = await StdioAgentConnection.spawn({
    command: process.execPath,
    args: ['-e', ENV_PROBE_AGENT],
    ...(env ? { env } : {}),
  });
  const runtime = createInProcessRuntime();
  try {
    await runtime.register(connection);
    return await runtime.request<Record<string, string>>('env-probe/1', 'env', {});
  } finally {
    await runtime.close();
    await connection.close();
  }
}

describe('defaultAgentEnv', () => {
  const base = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    HOME: '/home/ars',
    USER: 'ars',
    LOGNAME: 'ars',
    LANG: 'C.UTF-8',
    LC_ALL: 'C.UTF-8',
    LC_TIME: 'en_GB.UTF-8',
    TZ: 'UTC',
    TMPDIR: '/tmp',
    TERM: 'xterm',
  };
  /** What the docker CLI needs to reach the engine (passed to docker only). */
  const docker = {
    DOCKER_HOST: 'unix:///run/user/1000/docker.sock',
    DOCKER_CONFIG: '/home/ars/.docker',
    DOCKER_CONTEXT: 'rootless',
    DOCKER_CERT_PATH: '/home/ars/.docker/certs',
    DOCKER_TLS_VERIFY: '1',
    XDG_RUNTIME_DIR: '/run/user/1000',
  };
  const parent: NodeJS.ProcessEnv = {
    ...base,
    ARS_MASTER_KEY: 'master-key',
    ARS_MASTER_KEY_FILE: '/run/secrets/ars-master-key',
    ARS_REDIS_URL: 'redis://default:hunter2@redis:6379',
    SECRET_TOKEN: 'token',
    NODE_OPTIONS: '--require /tmp/preload.js',
    SHELL: '/bin/bash',
    ...docker,
    UNSET: undefined,
  };

  test('keeps what a program needs to run and drops the secrets and everything else', () => {
    const env = defaultAgentEnv(process.execPath, parent);
    assert.deepEqual(env, base);
    for (const name of ['ARS_MASTER_KEY', 'ARS_MASTER_KEY_FILE', 'ARS_REDIS_URL', 'SECRET_TOKEN']) {
      assert.equal(name in env, false, `${name} must not be inherited`);
    }
  });

  test('the docker CLI also gets the variables it needs to reach the engine, and no secret', () => {
    const expected = { ...base, ...docker };
    assert.deepEqual(defaultAgentEnv('docker', parent), expected);
    assert.deepEqual(defaultAgentEnv('/usr/bin/docker', parent), expected);
    assert.equal('DOCKER_HOST' in defaultAgentEnv('python3', parent), false);
  });

  test('the allow-lists name no ARS_ variable', () => {
    for (const name of [...AGENT_ENV_ALLOWLIST, ...DOCKER_CLI_ENV_ALLOWLIST]) {
      assert.equal(name.startsWith('ARS_'), false, name);
    }
  });

  test('reads process.env by default', () => {
    assert.equal(defaultAgentEnv('node').PATH, process.env.PATH);
  });
});

describe('agent process environment (end to end through StdioAgentConnection.spawn)', () => {
  // Secrets the runtime holds in its own environment; unique values so a match cannot be chance.
  const secrets = {
    ARS_MASTER_KEY: randomBytes(32).toString('base64'),
    ARS_REDIS_URL: `redis://default:${randomBytes(8).toString('hex')}@127.0.0.1:6379`,
    SECRET_TOKEN: randomBytes(16).toString('hex'),
  };
  const saved = new Map<string, string | undefined>();
  before(() => {
    for (const [name, value] of Object.entries(secrets)) {
      saved.set(name, process.env[name]);
      process.env[name] = value;
    }
  });
  after(() => {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  test('an agent started without env does not see the runtime secrets, but keeps PATH and HOME', async () => {
    const env = await childEnv();
    for (const name of Object.keys(secrets)) {
      assert.equal(env[name], undefined, `${name} reached the agent process`);
    }
    const leaked = Object.keys(env).filter((name) => name.startsWith('ARS_'));
    assert.deepEqual(leaked, [], 'no ARS_* variable reaches the agent process');
    assert.equal(env.PATH, process.env.PATH);
    assert.equal(env.HOME, process.env.HOME);
  });

  test('an explicit env is passed as given, ARS_* variables included, and nothing is added', async () => {
    const given = { PATH: process.env.PATH ?? '/usr/bin:/bin', ARS_AGENT_TYPE: 'env-probe' };
    const env = await childEnv(given);
    assert.equal(env.ARS_AGENT_TYPE, 'env-probe');
    assert.equal(env.PATH, given.PATH);
    assert.equal(env.ARS_MASTER_KEY, undefined);
    assert.equal(env.HOME, undefined, 'nothing from the parent is merged into an explicit env');
  });
});
