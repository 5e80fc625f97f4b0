/**
 * The cache of DockerSandbox.ensureReady, against a recording stand-in for the Docker API (only the
 * calls ensureReady and create make). What a real engine answers is covered by the lifecycle
 * integration tests (test/integration/lifecycle/sandbox-limits.test.ts: missing image, unknown tier).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type Docker from 'dockerode';
import { DEFAULT_RESOURCES } from '../../../src/config/index.js';
import {
  DockerSandbox,
  SandboxImageMissingError,
  SandboxUnavailableError,
} from '../../../src/sandbox/index.js';
import { silentLogger } from '../../../src/util/logger.js';

class NotFound extends Error {
  readonly statusCode = 404;
}

/** Records calls; `images` is what the engine has; inspections resolve on the next tick. */
function fakeDocker(images: Set<string>) {
  const calls = { info: 0, inspect: 0, pull: 0, create: 0 };
  const docker = {
    info: () => {
      calls.info += 1;
      return Promise.resolve({ Runtimes: { runc: {}, runsc: {} } });
    },
    getImage: (name: string) => ({
      inspect: async () => {
        calls.inspect += 1;
        await new Promise((resolve) => setImmediate(resolve));
        if (!images.has(name)) throw new NotFound(`no such image: ${name}`);
        return { Id: name };
      },
    }),
    pull: () => {
      calls.pull += 1;
      return Promise.reject(new Error('pull access denied'));
    },
    createContainer: (options: { Image: string }) => {
      calls.create += 1;
      if (!images.has(options.Image)) return Promise.reject(new NotFound('No such image'));
      return Promise.resolve({ id: 'c1' });
    },
  };
  return { docker: docker as unknown as Docker, calls };
}

const spec = (image: string) => ({
  name: 'ars-x-1',
  image,
  command: ['true'],
  env: {},
  tier: 'docker' as const,
  limits: DEFAULT_RESOURCES,
  labels: {},
  grants: { write: false },
});

describe('DockerSandbox.ensureReady cache', () => {
  test('concurrent and repeated checks of one tier and image ask the engine once', async () => {
    const { docker, calls } = fakeDocker(new Set(['img:1']));
    const sandbox = new DockerSandbox({ docker, logger: silentLogger });
    await Promise.all(Array.from({ length: 50 }, () => sandbox.ensureReady('docker', 'img:1')));
    await sandbox.ensureReady('docker', 'img:1');
    assert.deepEqual(calls, { info: 1, inspect: 1, pull: 0, create: 0 });
    // Another tier or image is checked on its own (the runtimes are known already).
    await sandbox.ensureReady('gvisor', 'img:1');
    assert.equal(calls.inspect, 2);
  });

  test('a passed check expires after readyCacheMs', async () => {
    const { docker, calls } = fakeDocker(new Set(['img:1']));
    const sandbox = new DockerSandbox({ docker, logger: silentLogger, readyCacheMs: 0 });
    await sandbox.ensureReady('docker', 'img:1');
    await sandbox.ensureReady('docker', 'img:1');
    assert.equal(calls.inspect, 2);
  });

  test('a failed check is not kept: the next call checks again and passes once the image exists', async () => {
    const images = new Set<string>();
    const { docker, calls } = fakeDocker(images);
    const sandbox = new DockerSandbox({ docker, logger: silentLogger });
    const missing = (error: unknown) => {
      assert.ok(error instanceof SandboxImageMissingError);
      assert.equal(error.code, 'ARS_SANDBOX_IMAGE_MISSING');
      assert.match(error.message, /sandbox image 'img:2' is not on this host and could not be pulled/);
      return true;
    };
    await assert.rejects(sandbox.ensureReady('docker', 'img:2'), missing);
    await assert.rejects(sandbox.ensureReady('docker', 'img:2'), missing);
    assert.equal(calls.pull, 2);
    images.add('img:2');
    await sandbox.ensureReady('docker', 'img:2');
    assert.equal(calls.inspect, 3);
  });

  test('tiers that cannot run here fail every time, with the fix', async () => {
    const { docker } = fakeDocker(new Set(['img:1']));
    const sandbox = new DockerSandbox({ docker, logger: silentLogger });
    for (let i = 0; i < 2; i++) {
      await assert.rejects(sandbox.ensureReady('firecracker', 'img:1'), (error: unknown) => {
        assert.ok(error instanceof SandboxUnavailableError);
        assert.match(error.message, /tier 'firecracker' is not available on this host/);
        return true;
      });
    }
  });

  test('a create that finds the image gone fails clearly and forgets the passed check', async () => {
    const images = new Set(['img:1']);
    const { docker, calls } = fakeDocker(images);
    const sandbox = new DockerSandbox({ docker, logger: silentLogger });
    await sandbox.ensureReady('docker', 'img:1');
    images.delete('img:1');
    await sandbox.ensureReady('docker', 'img:1'); // trusted from the cache
    assert.equal(calls.inspect, 1);
    await assert.rejects(sandbox.create(spec('img:1')), SandboxImageMissingError);
    await assert.rejects(sandbox.ensureReady('docker', 'img:1'), SandboxImageMissingError);
    assert.equal(calls.inspect, 2);
  });
});
