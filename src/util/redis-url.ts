import type { RedisClientOptions } from 'redis';

/**
 * The Redis URLs ARS accepts: `redis://` and `rediss://` (TLS), or `unix:///path/to/redis.sock` for
 * a Redis on the same machine over a Unix socket (no TCP stack: a round trip costs ~30% less CPU and
 * time than over loopback here, docs/bus.md "Request/response latency").
 */
export const REDIS_URL_PATTERN = /^(rediss?:\/\/|unix:\/\/\/)/;
export const REDIS_URL_FORMS = 'redis://, rediss:// or unix:/// (a Unix socket path)';

/** node-redis connection options for an ARS Redis URL (see {@link REDIS_URL_PATTERN}). */
export function redisClientOptions(url: string): Pick<RedisClientOptions, 'url' | 'socket'> {
  if (!url.startsWith('unix://')) return { url };
  const path = decodeURIComponent(new URL(url).pathname);
  return { socket: { path, tls: false } };
}
