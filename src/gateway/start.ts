import { createClient } from 'redis';
import {
  agentKeyOwner,
  createBus,
  streamKeys,
  type BusAuditSink,
  type BusOptionsInput,
  type PreSendPolicy,
} from '../bus/index.js';
import { join } from 'node:path';
import type { Settings } from '../config/index.js';
import {
  createKeystore,
  createRedisKeystoreBackend,
  loadOrCreateMasterKey,
  type RedisCommander,
} from '../crypto/index.js';
import type { AgentDefinition, AgentEndpoint, HandlerErrorListener } from '../sdk/index.js';
import { silentLogger, type Logger } from '../util/logger.js';
import { AgentGateway, gatewayBusId, type AgentExit } from './gateway.js';
import type { AgentLifecycleListener } from './lifecycle.js';
import type { GatewayOptionsInput } from './options.js';

export interface GatewayNodeInput {
  readonly redisUrl: string;
  /** Key prefix of the runtime (bus streams, keystore, directory); every gateway of it uses the same. */
  readonly prefix: string;
  /** The keystore master key (32 bytes): agent keys are stored in Redis encrypted with it. */
  readonly masterKey: Buffer;
  readonly agents?: readonly (AgentDefinition | AgentEndpoint)[];
  readonly gateway?: GatewayOptionsInput;
  readonly bus?: Omit<BusOptionsInput, 'redisUrl' | 'prefix'>;
  readonly policy?: PreSendPolicy;
  readonly audit?: BusAuditSink;
  readonly logger?: Logger;
  readonly onHandlerError?: HandlerErrorListener;
  readonly onAgentExit?: (exit: AgentExit) => void;
  readonly lifecycle?: AgentLifecycleListener;
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

/** Starts one gateway of a runtime on Redis, with every agent type in `agents` registered. */
export async function startGatewayNode(input: GatewayNodeInput): Promise<GatewayNode> {
  const logger = input.logger ?? silentLogger;
  const redis = createClient({ url: input.redisUrl });
  redis.on('error', (error: unknown) => logger.warn({ err: error }, 'gateway redis connection error'));
  await redis.connect();
  const commander = redis as unknown as RedisCommander;
  const keystore = createKeystore({
    masterKey: input.masterKey,
    backend: createRedisKeystoreBackend(commander, input.prefix),
  });
  const bus = await createBus({
    keystore,
    logger,
    options: { ...input.bus, redisUrl: input.redisUrl, prefix: input.prefix },
  });
  let gateway: AgentGateway;
  try {
    gateway = await AgentGateway.create({
      bus,
      redis: commander,
      prefix: input.prefix,
      logger,
      ...(input.gateway ? { options: input.gateway } : {}),
      ...(input.policy ? { policy: input.policy } : {}),
      ...(input.audit ? { audit: input.audit } : {}),
      ...(input.onHandlerError ? { onHandlerError: input.onHandlerError } : {}),
      ...(input.onAgentExit ? { onAgentExit: input.onAgentExit } : {}),
      ...(input.lifecycle ? { lifecycle: input.lifecycle } : {}),
    });
    for (const agent of input.agents ?? []) await gateway.register(agent);
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
    const keys = streamKeys(input.prefix);
    await bus.unregister(busId).catch(() => undefined);
    await bus.close();
    await commander
      .sendCommand(['XGROUP', 'DESTROY', keys.broadcast, `agent:${busId}`])
      .catch(() => undefined);
    await commander.sendCommand(['DEL', keys.inbox(busId), `${input.prefix}:ks:${agentKeyOwner(busId)}`]);
    await redis.close();
  };
  return {
    gateway,
    close: () => (closing ??= retire()),
  };
}
