import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_RESOURCES } from '../../../src/config/index.js';
import { containerCreateOptions, demuxDockerLogs } from '../../../src/sandbox/index.js';

describe('container spec', () => {
  const spec = {
    name: 'ars-x-1',
    image: 'img',
    command: ['echo', 'hi'],
    env: { A: '1' },
    tier: 'gvisor' as const,
    limits: { ...DEFAULT_RESOURCES, memoryMb: 128, cpus: 0.25 },
    labels: { 'ars.agent-id': 'x' },
    grants: { write: true },
  };

  test('hardened defaults and limits', () => {
    const options = containerCreateOptions(spec);
    const host = options.HostConfig ?? {};
    assert.equal(host.Runtime, 'runsc');
    assert.equal(host.ReadonlyRootfs, true);
    assert.deepEqual(host.CapDrop, ['ALL']);
    assert.deepEqual(host.SecurityOpt, ['no-new-privileges:true']);
    assert.equal(host.Memory, 128 * 1024 * 1024);
    assert.equal(host.MemorySwap, host.Memory);
    assert.equal(host.NanoCpus, 250_000_000);
    assert.equal(host.NetworkMode, 'none');
    assert.equal(options.NetworkDisabled, true);
    assert.equal(options.User, '10001:10001');
    assert.deepEqual(options.Env, ['A=1']);
    assert.equal(options.Labels?.['ars.managed'], 'true');
  });

  test('a write grant gives writable tmpfs /tmp and /scratch and a private IPC namespace', () => {
    const options = containerCreateOptions(spec);
    const host = options.HostConfig ?? {};
    const scratch = 'rw,nosuid,nodev,noexec,size=64m';
    assert.deepEqual(host.Tmpfs, { '/tmp': scratch, '/scratch': scratch });
    assert.equal(host.IpcMode, 'private');
    assert.equal(options.Labels?.['ars.grant.write'], 'true');
  });

  test('without the write grant /tmp, /scratch and /dev/mqueue are read-only and there is no /dev/shm', () => {
    const options = containerCreateOptions({ ...spec, grants: { write: false } });
    const host = options.HostConfig ?? {};
    const scratch = 'ro,nosuid,nodev,noexec,size=64m';
    assert.deepEqual(host.Tmpfs, {
      '/tmp': scratch,
      '/scratch': scratch,
      '/dev/mqueue': 'ro,nosuid,nodev,noexec,size=4k',
    });
    assert.equal(host.IpcMode, 'none');
    assert.equal(host.ReadonlyRootfs, true);
    assert.equal(host.NetworkMode, 'none');
    assert.equal(options.Labels?.['ars.grant.write'], 'false');
  });

  test('docker tier uses the default runtime', () => {
    assert.equal(containerCreateOptions({ ...spec, tier: 'docker' }).HostConfig?.Runtime, undefined);
  });
});

describe('demuxDockerLogs', () => {
  const frame = (type: number, text: string) => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = type;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  test('splits stdout and stderr', () => {
    const logs = Buffer.concat([frame(1, 'out1 '), frame(2, 'err'), frame(1, 'out2')]);
    assert.deepEqual(demuxDockerLogs(logs, 100), { stdout: 'out1 out2', stderr: 'err', truncated: false });
  });

  test('keeps at most the limit of each stream', () => {
    const logs = Buffer.concat([frame(1, 'abcdef'), frame(1, 'gh'), frame(2, 'xy')]);
    assert.deepEqual(demuxDockerLogs(logs, 4), { stdout: 'abcd', stderr: 'xy', truncated: true });
  });
});
