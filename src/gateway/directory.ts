import { createHash } from 'node:crypto';
import { runScript } from '../bus/index.js';
import type { RedisCommander } from '../crypto/index.js';
import type { StateSnapshot, StateStore } from '../sdk/index.js';
import { CLAIM_PLACEMENT_LUA } from './claim-placement.lua.js';
import { RELEASE_PLACEMENT_LUA } from './release-placement.lua.js';

/** What a gateway advertises about itself (`ars hosts`, placement). */
export interface GatewayInfo {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly types: readonly string[];
  /** How many agent instances it is willing to keep active. */
  readonly capacity: number;
  /** Agent instances active on it at its last heartbeat. */
  readonly active: number;
  readonly startedAt: number;
}

export interface AgentTypeInfo {
  readonly messageTypes: readonly string[];
}

/** Every Redis key of the gateway directory, under one prefix. */
export function directoryKeys(prefix: string) {
  return {
    types: `${prefix}:gw:types`,
    hostsOf: (type: string) => `${prefix}:gw:type:${type}`,
    gateways: `${prefix}:gw:gateways`,
    alive: `${prefix}:gw:alive`,
    place: (agentId: string) => `${prefix}:gw:place:${agentId}`,
    topic: (topic: string) => `${prefix}:gw:topic:${topic}`,
    known: (type: string) => `${prefix}:gw:known:${type}`,
    state: (agentId: string) => `${prefix}:gw:state:${agentId}`,
  };
}

/** Rendezvous (highest random weight) hashing: every gateway computes the same owner for an id. */
export function rendezvous(agentId: string, gateways: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestWeight = '';
  for (const gw of gateways) {
    const weight = createHash('sha1').update(`${gw}\n${agentId}`).digest('hex');
    if (best === undefined || weight > bestWeight) {
      best = gw;
      bestWeight = weight;
    }
  }
  return best;
}

interface Cached<T> {
  readonly value: T;
  readonly at: number;
}

/**
 * The runtime's shared directory in Redis: which gateways are alive (heartbeats with an expiry),
 * which agent types each hosts, where each active agent id is placed (one gateway at a time),
 * topic subscriptions, the agents a broadcast reaches, and agent state checkpoints. Answers that
 * every message needs are cached for `cacheMs`.
 */
export class GatewayDirectory {
  readonly keys: ReturnType<typeof directoryKeys>;
  private readonly typeCache = new Map<string, Cached<AgentTypeInfo | undefined>>();
  private readonly liveCache = new Map<string, Cached<readonly string[]>>();
  private readonly placeCache = new Map<string, Cached<string>>();
  private readonly knownAdded = new Set<string>();

  constructor(
    private readonly redis: RedisCommander,
    prefix: string,
    private readonly self: string,
    private readonly options: { readonly cacheMs: number; readonly heartbeatTtlMs: number },
    private readonly now: () => number = Date.now,
  ) {
    this.keys = directoryKeys(prefix);
  }

  /** Advertises this gateway, its agent types and load; renews its liveness. */
  async heartbeat(info: GatewayInfo, types: ReadonlyMap<string, AgentTypeInfo>): Promise<void> {
    const commands: Promise<unknown>[] = [];
    for (const [type, t] of types) {
      commands.push(this.redis.sendCommand(['HSET', this.keys.types, type, JSON.stringify(t)]));
      commands.push(this.redis.sendCommand(['SADD', this.keys.hostsOf(type), this.self]));
    }
    commands.push(this.redis.sendCommand(['HSET', this.keys.gateways, this.self, JSON.stringify(info)]));
    commands.push(
      this.redis.sendCommand([
        'ZADD',
        this.keys.alive,
        String(this.now() + this.options.heartbeatTtlMs),
        this.self,
      ]),
    );
    await Promise.all(commands);
  }

  /** Removes this gateway from the directory (its agents are placed elsewhere on their next message). */
  async withdraw(types: Iterable<string>): Promise<void> {
    const commands: Promise<unknown>[] = [];
    for (const type of types)
      commands.push(this.redis.sendCommand(['SREM', this.keys.hostsOf(type), this.self]));
    commands.push(this.redis.sendCommand(['ZREM', this.keys.alive, this.self]));
    commands.push(this.redis.sendCommand(['HDEL', this.keys.gateways, this.self]));
    await Promise.all(commands);
  }

  async typeInfo(type: string): Promise<AgentTypeInfo | undefined> {
    const hit = this.fresh(this.typeCache.get(type));
    if (hit) return hit.value;
    const raw = await this.redis.sendCommand<string | null>(['HGET', this.keys.types, type]);
    const value = raw === null ? undefined : (JSON.parse(raw) as AgentTypeInfo);
    this.typeCache.set(type, { value, at: this.now() });
    return value;
  }

  async allTypes(): Promise<Map<string, AgentTypeInfo>> {
    const flat = await this.redis.sendCommand<string[]>(['HGETALL', this.keys.types]);
    const out = new Map<string, AgentTypeInfo>();
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.set(flat[i] as string, JSON.parse(flat[i + 1] as string) as AgentTypeInfo);
    return out;
  }

  /** The live gateways hosting `type` (sorted, so every caller sees the same list). */
  async liveGateways(type: string): Promise<readonly string[]> {
    const hit = this.fresh(this.liveCache.get(type));
    if (hit) return hit.value;
    const members = await this.redis.sendCommand<string[]>(['SMEMBERS', this.keys.hostsOf(type)]);
    const live = members.length ? await this.alive(members) : [];
    live.sort();
    this.liveCache.set(type, { value: live, at: this.now() });
    return live;
  }

  async gateways(): Promise<{ info: GatewayInfo; alive: boolean }[]> {
    const flat = await this.redis.sendCommand<string[]>(['HGETALL', this.keys.gateways]);
    const infos: GatewayInfo[] = [];
    for (let i = 1; i < flat.length; i += 2) infos.push(JSON.parse(flat[i] as string) as GatewayInfo);
    const alive = new Set(infos.length ? await this.alive(infos.map((g) => g.id)) : []);
    return infos.map((info) => ({ info, alive: alive.has(info.id) }));
  }

  /**
   * The gateway an agent id is placed on. An id placed on a live gateway stays there; otherwise
   * (never placed, or its gateway died) the rendezvous choice among the type's live gateways.
   * Undefined when no live gateway hosts the type.
   */
  async ownerOf(agentId: string, type: string): Promise<string | undefined> {
    const hit = this.fresh(this.placeCache.get(agentId));
    if (hit) return hit.value;
    const [placed, live] = await Promise.all([
      this.redis.sendCommand<string | null>(['GET', this.keys.place(agentId)]),
      this.liveGateways(type),
    ]);
    const owner = placed !== null && live.includes(placed) ? placed : rendezvous(agentId, live);
    if (owner !== undefined && owner === placed)
      this.placeCache.set(agentId, { value: owner, at: this.now() });
    return owner;
  }

  /** The live gateway the agent id is placed on now, if any (no placement is made). */
  async placedOn(agentId: string, type: string): Promise<string | undefined> {
    const [placed, live] = await Promise.all([
      this.redis.sendCommand<string | null>(['GET', this.keys.place(agentId)]),
      this.liveGateways(type),
    ]);
    return placed !== null && live.includes(placed) ? placed : undefined;
  }

  /** Claims an agent id for this gateway unless a live gateway holds it; returns the holder. */
  async claim(agentId: string, type: string): Promise<string> {
    const key = this.keys.place(agentId);
    const current = await this.redis.sendCommand<string | null>(['GET', key]);
    const held =
      current !== null && (current === this.self || (await this.liveGateways(type)).includes(current));
    // Unplaced, or placed on a dead gateway: take it over (compare-and-set against what we saw).
    const holder = held
      ? current
      : await runScript<string>(this.redis, CLAIM_PLACEMENT_LUA, [key], [this.self, current ?? '']);
    this.placeCache.set(agentId, { value: holder, at: this.now() });
    return holder;
  }

  async release(agentId: string): Promise<void> {
    this.placeCache.delete(agentId);
    await runScript<number>(this.redis, RELEASE_PLACEMENT_LUA, [this.keys.place(agentId)], [this.self]);
  }

  forget(agentId: string): void {
    this.placeCache.delete(agentId);
  }

  /** Adds a subscription; false if the agent was already subscribed to the topic. */
  async subscribe(topic: string, agentId: string, receiveOwn: boolean): Promise<boolean> {
    const added = await this.redis.sendCommand<number>([
      'HSETNX',
      this.keys.topic(topic),
      agentId,
      receiveOwn ? '1' : '0',
    ]);
    return added === 1;
  }

  async unsubscribe(topic: string, agentId: string): Promise<boolean> {
    return (await this.redis.sendCommand<number>(['HDEL', this.keys.topic(topic), agentId])) === 1;
  }

  /** The topic's subscribers in subscription order, with their receive-own flag. */
  async subscribers(topic: string): Promise<{ agentId: string; receiveOwn: boolean }[]> {
    const flat = await this.redis.sendCommand<string[]>(['HGETALL', this.keys.topic(topic)]);
    const out: { agentId: string; receiveOwn: boolean }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2)
      out.push({ agentId: flat[i] as string, receiveOwn: flat[i + 1] === '1' });
    return out;
  }

  /** Remembers an agent that received a message (the audience of broadcasts). */
  async addKnown(type: string, agentId: string): Promise<void> {
    if (this.knownAdded.has(agentId)) return;
    await this.redis.sendCommand(['SADD', this.keys.known(type), agentId]);
    if (this.knownAdded.size > 100_000) this.knownAdded.clear();
    this.knownAdded.add(agentId);
  }

  async removeKnown(type: string, agentId: string): Promise<void> {
    this.knownAdded.delete(agentId);
    await this.redis.sendCommand(['SREM', this.keys.known(type), agentId]);
  }

  known(type: string): Promise<string[]> {
    return this.redis.sendCommand<string[]>(['SMEMBERS', this.keys.known(type)]);
  }

  private async alive(ids: readonly string[]): Promise<string[]> {
    const scores = await this.redis.sendCommand<(string | null)[]>(['ZMSCORE', this.keys.alive, ...ids]);
    const t = this.now();
    return ids.filter((_, i) => {
      const s = scores[i];
      return s !== null && s !== undefined && Number(s) > t;
    });
  }

  private fresh<T>(c: Cached<T> | undefined): Cached<T> | undefined {
    return c && this.now() - c.at < this.options.cacheMs ? c : undefined;
  }
}

/** Agent state checkpoints in Redis, shared by every gateway of the runtime. */
export class RedisStateStore implements StateStore {
  private readonly key: (agentId: string) => string;
  constructor(
    private readonly redis: RedisCommander,
    prefix: string,
  ) {
    this.key = directoryKeys(prefix).state;
  }

  async get(agentId: string): Promise<StateSnapshot | undefined> {
    const raw = await this.redis.sendCommand<string | null>(['GET', this.key(agentId)]);
    return raw === null ? undefined : (JSON.parse(raw) as StateSnapshot);
  }

  async put(agentId: string, snapshot: StateSnapshot): Promise<void> {
    await this.redis.sendCommand(['SET', this.key(agentId), JSON.stringify(snapshot)]);
  }

  async delete(agentId: string): Promise<void> {
    await this.redis.sendCommand(['DEL', this.key(agentId)]);
  }
}
