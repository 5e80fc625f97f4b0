import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  compileAgentConfig,
  compileTask,
  ConfigError,
  DEFAULT_RESOURCES,
} from '../../../src/config/index.js';

function rejects(input: unknown, ...patterns: RegExp[]): ConfigError {
  try {
    compileAgentConfig(input);
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'ARS_CONFIG_INVALID');
    for (const pattern of patterns) assert.match(error.message, pattern);
    return error;
  }
  assert.fail('config was accepted');
}

describe('compileAgentConfig', () => {
  test('applies defaults and resolves the tier from risk', () => {
    const config = compileAgentConfig({ name: 'a', sandbox: { command: ['echo', 'hi'] } }, () => 'fixed');
    assert.equal(config.id, 'fixed');
    assert.equal(config.mode, 'ephemeral');
    assert.equal(config.risk, 'low');
    assert.equal(config.tier, 'docker');
    assert.deepEqual(config.resources, DEFAULT_RESOURCES);
    assert.deepEqual(config.capabilities, []);
    assert.equal(
      compileAgentConfig({ name: 'b', risk: 'medium', sandbox: { command: ['x'] } }).tier,
      'gvisor',
    );
    assert.equal(
      compileAgentConfig({ name: 'c', risk: 'high', tier: 'docker', sandbox: { command: ['x'] } }).tier,
      'docker',
    );
  });

  test('unknown tier names the field and the allowed values', () => {
    const error = rejects(
      { name: 'a', tier: 'tier4', sandbox: { command: ['x'] } },
      /tier: 'tier4' is not allowed; use 'none', 'docker', 'gvisor', 'firecracker'/,
    );
    assert.deepEqual(
      error.problems.map((p) => p.path),
      ['tier'],
    );
  });

  test('negative memory names resources.memoryMb', () => {
    rejects(
      { name: 'a', resources: { memoryMb: -5 }, sandbox: { command: ['x'] } },
      /resources\.memoryMb: memoryMb must be at least 16/,
    );
  });

  test('empty command is rejected with an example of a good one', () => {
    rejects(
      { name: 'a', sandbox: { command: [] } },
      /sandbox\.command: command is empty; give the program to run/,
    );
    rejects(
      { name: 'a', sandbox: { command: [''] } },
      /sandbox\.command\.0: command arguments must not be empty strings/,
    );
  });

  test('an ephemeral agent without a command is rejected', () => {
    rejects({ name: 'a' }, /sandbox\.command: an ephemeral agent needs a command to run/);
  });

  test('unknown fields are rejected at any depth', () => {
    rejects(
      { name: 'a', colour: 'red', sandbox: { command: ['x'] } },
      /\(top level\): unknown field 'colour'; remove it or check the spelling/,
    );
    rejects(
      { name: 'a', resources: { memroyMb: 5 }, sandbox: { command: ['x'] } },
      /resources: unknown field 'memroyMb'/,
    );
  });

  test('every problem is reported at once', () => {
    const error = rejects({
      name: '',
      tier: 'x',
      resources: { cpus: 0 },
      capabilities: ['read', 'read'],
      sandbox: { command: ['x'] },
    });
    assert.deepEqual(error.problems.map((p) => p.path).sort(), [
      'capabilities',
      'name',
      'resources.cpus',
      'tier',
    ]);
  });

  test('a persistent agent needs no command', () => {
    assert.equal(compileAgentConfig({ name: 'p', mode: 'persistent' }).mode, 'persistent');
  });
});

describe('compileTask', () => {
  test('accepts a command and rejects bad ones', () => {
    assert.deepEqual(compileTask({ command: ['ls'] }), { command: ['ls'], env: {} });
    assert.throws(() => compileTask({ command: [] }), /task is invalid:\n {2}- command: command is empty/);
    assert.throws(
      () => compileTask({ command: ['ls'], env: { '1BAD': 'x' } }),
      /env\.1BAD: environment variable names/,
    );
    assert.throws(() => compileTask({ command: ['ls'], extra: 1 }), /unknown field 'extra'/);
  });
});
