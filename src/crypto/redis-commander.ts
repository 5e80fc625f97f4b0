/**
 * The one Redis capability the crypto and bus code need: send a raw command. A node-redis v5
 * client (`createClient()`) satisfies it; `typeMapping` lets a caller ask for Buffer replies.
 */
export interface RedisCommander {
  sendCommand<T = unknown>(
    args: ReadonlyArray<string | Buffer>,
    options?: { typeMapping?: object },
  ): Promise<T>;
}
