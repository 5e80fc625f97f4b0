import { createClient } from 'redis';
import {
  agentKeyOwner,
  createBus,
  streamKeys,
  type BusAuditSink,
  type BusOptionsInput,
} from '../bus/index.js';
import { join } from 'node:path';
import type { Settings } from '../config/index.js';
import {
  createKeystore,
  createRedisKeystoreBackend,
  loadOrCreateMasterKey,
  type RedisCommander,
} from '../crypto/index.js';
import type { AgentDefinition, AgentEndpoint } from '../sdk/index.js';
import { silentLogger } from '../util/logger.js';
import { AgentGateway, gatewayBusId, type CreateGatewayInput } from './gateway.js';
import type { GatewayOptionsInput } from './options.js';
import { redisClientOptions } from '../util/redis-url.js';

/** The hooks a node passes to its gateway unchanged. */
type GatewayHooks = Pick<
  CreateGatewayInput,
  'policy' | 'audit' | 'logger' | 'onHandlerError' | 'onAgentExit' | 'lifecycle'
>;

export interface GatewayNodeInput extends GatewayHooks {
  readonly redisUrl: string;
  /** Key prefix of the runtime (bus streams, keystore, directory); every gateway of it uses the same. */
  readonly prefix: string;
  /** The keystore master key (32 bytes): agent keys are stored in Redis encrypted with it. */
  readonly masterKey: Buffer;
  readonly agents?: readonly (AgentDefinition | AgentEndpoint)[];
  readonly gateway?: GatewayOptionsInput;
  readonly bus?: Omit<BusOptionsInput, 'redisUrl' | 'prefix'>;
}

/**
 * Where the runtime of these settings lives: its Redis, its key prefix and the keystore master key
 * (ARS_MASTER_KEY / ARS_MASTER_KEY_FILE, else `<stateDir>/master.key`, made on first use).
 */
export function runtimeLocation(
  settings: Pick<Settings, 'redisUrl' | 'busPrefix' | 'stateDir'>,
): Pick<GatewayNodeInput, 'redisUrl' | 'prefix' | 'masterKey'> {
  return {
    redisUrl: settings.redisUrl,
    prefix: settings.busPrefix,
    masterKey: loadOrCreateMasterKey(join(settings.stateDir, 'master.key')),
  };
}

/** A gateway with the connections it owns: its Redis client, keystore and signed, encrypted bus. */
export interface GatewayNode {
  readonly gateway: AgentGateway;
  /** Closes the gateway (agents checkpointed), then the bus and the Redis connection. */
  close(): Promise<void>;
}

/** The part of an audit sink that records dropped messages. */
function dropsOnly(sink: BusAuditSink): BusAuditSink {
  return {
    record: (event) => (event.kind === 'message.dropped' ? sink.record(event) : undefined),
  };
}

/** Starts one gateway of a runtime on Redis, with every agent type in `agents` registered. */
export async function startGatewayNode(input: GatewayNodeInput): Promise<GatewayNode> {
  const { redisUrl, prefix, masterKey, agents, gateway: options, bus: busOptions, ...hooks } = input;
  const logger = input.logger ?? silentLogger;
  const redis = createClient(redisClientOptions(redisUrl));
  redis.on('error', (error: unknown) => logger.warn({ err: error }, 'gateway redis connection error'));
  await redis.connect();
  const commander = redis as unknown as RedisCommander;
  const keystore = createKeystore({
    masterKey,
    backend: createRedisKeystoreBackend(commander, prefix),
    logger,
  });
  const bus = await createBus({
    keystore,
    logger,
    // The bus audits what it drops (a forged, replayed, expired or undecryptable frame between
    // gateways); the sends themselves are audited once, at the agent level, by the gateway.
    ...(hooks.audit ? { audit: dropsOnly(hooks.audit) } : {}),
    options: { ...busOptions, redisUrl, prefix },
  });
  let gateway: AgentGateway;
  try {
    gateway = await AgentGateway.create({
      ...hooks,
      bus,
      redis: commander,
      prefix,
      logger,
      ...(options ? { options } : {}),
    });
    for (const agent of agents ?? []) await gateway.register(agent);
  } catch (error) {
    await bus.close();
    redis.destroy();
    throw error;
  }
  let closing: Promise<void> | undefined;
  const retire = async (): Promise<void> => {
    await gateway.close();
    // A closed gateway leaves nothing behind: its inbox, its registration, its broadcast group
    // and its own keys (its agents' checkpoints and keys stay: they move to other gateways).
    const busId = gatewayBusId(gateway.id);
    const keys = streamKeys(prefix);
    // unregister destroys the broadcast group too
    await bus
      .unregister(busId)
      .catch((error: unknown) =>
        logger.warn({ err: error, gateway: gateway.id }, 'gateway could not unregister its inbox'),
      );
    await bus.close();
    await commander.sendCommand(['DEL', keys.inbox(busId), `${prefix}:ks:${agentKeyOwner(busId)}`]);
    await redis.close();
  };
  return {
    gateway,
    close: () => (closing ??= retire()),
  };
}
