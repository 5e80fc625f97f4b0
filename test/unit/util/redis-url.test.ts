import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileBusOptions } from '../../../src/bus/options.js';
import { compileSettings } from '../../../src/config/settings.js';
import { redisClientOptions } from '../../../src/util/redis-url.js';

describe('Redis URLs: TCP, TLS and Unix socket', () => {
  test('redis:// and rediss:// are passed to node-redis as URLs', () => {
    assert.deepEqual(redisClientOptions('redis://127.0.0.1:6379'), { url: 'redis://127.0.0.1:6379' });
    assert.deepEqual(redisClientOptions('rediss://user:pw@host:6380/2'), {
      url: 'rediss://user:pw@host:6380/2',
    });
  });

  test('unix:///path becomes a socket path (percent-escapes decoded)', () => {
    assert.deepEqual(redisClientOptions('unix:///work/.ars/redis/redis.sock'), {
      socket: { path: '/work/.ars/redis/redis.sock', tls: false },
    });
    assert.deepEqual(redisClientOptions('unix:///tmp/a%20b.sock'), {
      socket: { path: '/tmp/a b.sock', tls: false },
    });
  });

  test('settings and bus options accept the three forms and name the variable for anything else', () => {
    for (const url of ['redis://127.0.0.1:6379', 'rediss://h:1', 'unix:///tmp/r.sock']) {
      assert.equal(compileSettings({}, { ARS_REDIS_URL: url }).redisUrl, url);
      assert.equal(compileBusOptions({ redisUrl: url }).redisUrl, url);
    }
    for (const url of ['http://127.0.0.1:6379', '127.0.0.1:6379', 'unix://relative.sock']) {
      assert.throws(
        () => compileSettings({}, { ARS_REDIS_URL: url }),
        /ARS_REDIS_URL must start with redis:\/\/, rediss:\/\/ or unix:\/\/\//,
        url,
      );
      assert.throws(() => compileBusOptions({ redisUrl: url }), /redisUrl must start with/, url);
    }
  });
});
