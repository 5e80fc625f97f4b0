import { spawn, type ChildProcess } from 'node:child_process';
import { basename } from 'node:path';
import { z } from 'zod';
import { parseOrThrow } from '../config/errors.js';
import {
  AgentUnavailableError,
  deserializeRuntimeError,
  serializeError,
  type AgentEndpoint,
  type Delivery,
  type EndpointBinding,
  type StateSnapshot,
} from '../sdk/index.js';
import { silentLogger, truncate, type Logger } from '../util/logger.js';
import { AgentProcessExitedError, AgentUnresponsiveError, ProtocolError } from './errors.js';
import { encodeFrame, frameIdOf, FrameDecoder } from './framing.js';
import {
  agentFrameSchema,
  DEFAULT_MAX_FRAME_BYTES,
  MAX_FRAME_BYTES_LIMIT,
  PROTOCOL_ERROR_CODES,
  PROTOCOL_VERSIONS,
  type AgentFrame,
  type HostFrame,
} from './protocol.js';

/** @default 5 000 ms */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 5_000;
/** @default 20 000 ms */
export const DEFAULT_HEARTBEAT_TIMEOUT_MS = 20_000;
/** @default 10 000 ms */
export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;
/** @default 3 000 ms */
export const DEFAULT_SHUTDOWN_GRACE_MS = 3_000;

/**
 * Variables of the runtime's environment that an agent process started without an explicit `env`
 * inherits: what a program needs to run (find programs, a home and user name, locale, time zone,
 * a temporary directory, a terminal type), nothing else. ARS runs agents its users do not fully
 * trust, and the runtime's environment holds its secrets (the keystore master key
 * `ARS_MASTER_KEY`, Redis URLs with passwords in `ARS_REDIS_URL`, cloud and API tokens), so the
 * default is an allow-list, never the whole environment. Left out on purpose: `SHELL` (an agent
 * has no business with the operator's login shell), `NODE_OPTIONS` and `NODE_PATH` (they can
 * preload code into a node agent; a loader belongs in `args`), and proxy variables (their URLs
 * may carry credentials).
 */
export const AGENT_ENV_ALLOWLIST: readonly string[] = [
  'PATH',
  'HOME',
  'USER',
  'LOGNAME',
  'LANG',
  'TZ',
  'TMPDIR',
  'TERM',
];

/** Prefixes of inherited variables, besides AGENT_ENV_ALLOWLIST: the locale categories (`LC_ALL`, `LC_CTYPE`, ...). */
export const AGENT_ENV_ALLOWED_PREFIXES: readonly string[] = ['LC_'];

/**
 * What the docker CLI reads from its environment to reach the engine (a remote or rootless engine,
 * a context, TLS), inherited as well when the command is `docker` (dockerAgentCommand's sandboxes).
 * The docker CLI passes none of them into the container: dockerAgentCommand gives the container
 * only the `--env KEY=value` pairs it was asked for.
 */
export const DOCKER_CLI_ENV_ALLOWLIST: readonly string[] = [
  'DOCKER_HOST',
  'DOCKER_CONFIG',
  'DOCKER_CONTEXT',
  'DOCKER_CERT_PATH',
  'DOCKER_TLS_VERIFY',
  'DOCKER_API_VERSION',
  'XDG_RUNTIME_DIR',
];

/**
 * The environment of an agent process started without an explicit `env`: the variables of
 * `parent` named in AGENT_ENV_ALLOWLIST or starting with AGENT_ENV_ALLOWED_PREFIXES, plus
 * DOCKER_CLI_ENV_ALLOWLIST when `command` is the docker CLI (`docker` or a path ending in it).
 * Everything else — the runtime's secrets in particular — stays out of the agent's reach.
 */
export function defaultAgentEnv(
  command: string,
  parent: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  const names = new Set(AGENT_ENV_ALLOWLIST);
  if (basename(command) === 'docker') for (const name of DOCKER_CLI_ENV_ALLOWLIST) names.add(name);
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(parent)) {
    if (value === undefined) continue;
    if (names.has(name) || AGENT_ENV_ALLOWED_PREFIXES.some((prefix) => name.startsWith(prefix))) {
      env[name] = value;
    }
  }
  return env;
}

const optionsSchema = z
  .object({
    /** Program to start (`node`, `python3`, `docker`). */
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    /**
     * The agent process's whole environment, passed exactly as given: nothing of the runtime's
     * environment is merged in, and nothing is filtered out (`ARS_*` variables included; the
     * caller chose them).
     * @default defaultAgentEnv(command): an allow-listed subset of the runtime's environment
     */
    env: z.record(z.string(), z.string()).optional(),
    cwd: z.string().optional(),
    /** @default DEFAULT_MAX_FRAME_BYTES (1 MiB) */
    maxFrameBytes: z.number().int().min(1024).max(MAX_FRAME_BYTES_LIMIT).default(DEFAULT_MAX_FRAME_BYTES),
    /** @default DEFAULT_HEARTBEAT_INTERVAL_MS */
    heartbeatIntervalMs: z.number().int().positive().default(DEFAULT_HEARTBEAT_INTERVAL_MS),
    /** No frame for this long → the agent is killed as unresponsive. @default DEFAULT_HEARTBEAT_TIMEOUT_MS */
    heartbeatTimeoutMs: z.number().int().positive().default(DEFAULT_HEARTBEAT_TIMEOUT_MS),
    /** @default DEFAULT_HELLO_TIMEOUT_MS */
    helloTimeoutMs: z.number().int().positive().default(DEFAULT_HELLO_TIMEOUT_MS),
    /** @default DEFAULT_SHUTDOWN_GRACE_MS */
    shutdownGraceMs: z.number().int().positive().default(DEFAULT_SHUTDOWN_GRACE_MS),
    /** A docker container started with --name: removed with `docker rm -f` if the agent must be killed. */
    containerName: z.string().optional(),
    logger: z.custom<Logger>((v) => typeof v === 'object' && v !== null).optional(),
    /** Called once when the agent process ends (the gateway reports a dead agent to its workflow). */
    onExit: z.custom<(error: Error | undefined) => void>((v) => typeof v === 'function').optional(),
  })
  .strict();

export type StdioAgentOptionsInput = z.input<typeof optionsSchema>;
export type StdioAgentOptions = z.output<typeof optionsSchema>;

export function compileStdioAgentOptions(input: StdioAgentOptionsInput): StdioAgentOptions {
  return parseOrThrow(optionsSchema, input, 'stdio agent connection options');
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  readonly agentId: string;
  readonly type: string;
}

/**
 * The host end of the stdio protocol: spawns the agent process (a local node/python process, or
 * `docker run -i` of a sandbox), negotiates the version, and exposes the agent type to a runtime as
 * an AgentEndpoint. Calls the agent makes (send, publish, request, ...) are relayed to the runtime;
 * every inbound frame is validated (a bad one gets a protocol error frame); heartbeats detect a
 * hung agent; a dead process fails its pending messages with AgentProcessExitedError.
 */
export class StdioAgentConnection implements AgentEndpoint {
  private binding: EndpointBinding | undefined;
  private readonly pending = new Map<string, Pending>();
  /** The runtime-side requests an agent made, by frame id, so that the agent can cancel them. */
  private readonly outbound = new Map<string, AbortController>();
  private readonly decoder: FrameDecoder;
  private peerMax: number;
  private seq = 0;
  private lastHeard = Date.now();
  private heartbeat: NodeJS.Timeout | undefined;
  private stderrTail = '';
  private exited = false;
  private failure: Error | undefined;
  private exitedWith: Error | undefined;
  private readonly exitPromise: Promise<void>;
  private hello: Extract<AgentFrame, { k: 'hello' }> | undefined;
  /** Protocol errors the agent reported about our frames (tests and diagnostics). */
  readonly protocolErrors: { code: string | undefined; message: string }[] = [];

  private constructor(
    private readonly child: ChildProcess,
    private readonly options: StdioAgentOptions,
    private readonly logger: Logger,
  ) {
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    this.peerMax = options.maxFrameBytes;
    this.exitPromise = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exited = true;
        if (this.heartbeat) clearInterval(this.heartbeat);
        const error =
          this.failure ?? new AgentProcessExitedError(this.agentType, code, signal, this.stderrTail.trim());
        this.exitedWith = error;
        for (const p of this.pending.values()) p.reject(error);
        this.pending.clear();
        for (const c of this.outbound.values()) c.abort(error);
        this.outbound.clear();
        this.options.onExit?.(this.failure ?? (code === 0 ? undefined : error));
        resolve();
      });
    });
  }

  /**
   * Starts the agent process and completes the hello/welcome handshake. Without `env`, the process
   * gets defaultAgentEnv(command), never the runtime's whole environment.
   */
  static async spawn(input: StdioAgentOptionsInput): Promise<StdioAgentConnection> {
    const options = compileStdioAgentOptions(input);
    const child = spawn(options.command, options.args, {
      cwd: options.cwd,
      env: options.env ?? defaultAgentEnv(options.command),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const connection = new StdioAgentConnection(child, options, options.logger ?? silentLogger);
    await connection.start();
    return connection;
  }

  get agentType(): string {
    return this.hello?.agent.type ?? '(unknown)';
  }

  get messageTypes(): readonly string[] {
    return this.hello?.agent.messages ?? [];
  }

  /** The agent's hello (its implementation name, versions, frame limit). */
  get peer(): Extract<AgentFrame, { k: 'hello' }> | undefined {
    return this.hello;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** Why the process ended (exit code or signal, stderr tail), once it has. */
  get exitError(): Error | undefined {
    return this.exitedWith;
  }

  /** Resolves when the process has exited. */
  whenExited(): Promise<void> {
    return this.exitPromise;
  }

  bind(binding: EndpointBinding): void {
    this.binding = binding;
  }

  deliver(
    delivery: Delivery,
    options: { reply: boolean; signal?: AbortSignal | undefined },
  ): Promise<unknown> {
    const frame: HostFrame = {
      k: 'deliver',
      id: delivery.id,
      to: delivery.to,
      type: delivery.type,
      payload: delivery.payload,
      reply: options.reply,
      ...(delivery.from ? { from: delivery.from } : {}),
      ...(delivery.topic ? { topic: delivery.topic } : {}),
    };
    return this.call(frame, delivery.to, delivery.type, options.signal);
  }

  run(id: string, agentId: string, task: unknown, signal?: AbortSignal): Promise<unknown> {
    return this.call({ k: 'run', id, to: agentId, task }, agentId, 'run', signal);
  }

  async exportState(agentId: string): Promise<StateSnapshot | undefined> {
    const value = await this.call({ k: 'state.export', id: this.nextId(), agentId }, agentId, 'state.export');
    return (value ?? undefined) as StateSnapshot | undefined;
  }

  async importState(agentId: string, snapshot: StateSnapshot): Promise<boolean> {
    return (
      (await this.call(
        { k: 'state.import', id: this.nextId(), agentId, snapshot },
        agentId,
        'state.import',
      )) === true
    );
  }

  async deactivate(agentId: string): Promise<StateSnapshot | undefined> {
    const value = await this.call({ k: 'deactivate', id: this.nextId(), agentId }, agentId, 'deactivate');
    return (value ?? undefined) as StateSnapshot | undefined;
  }

  /** Asks the agent to shut down; kills it if it has not exited after the grace period. */
  async close(): Promise<void> {
    if (this.exited) return;
    this.writeFrame({ k: 'shutdown', reason: 'the runtime is closing' });
    this.child.stdin?.end();
    const timer = setTimeout(() => this.kill(), this.options.shutdownGraceMs);
    await this.exitPromise;
    clearTimeout(timer);
  }

  /** Kills the agent now (and removes its container, if any). */
  kill(): void {
    if (this.exited) return;
    this.child.kill('SIGKILL');
    if (this.options.containerName) {
      spawn('docker', ['rm', '-f', this.options.containerName], { stdio: 'ignore' }).on(
        'error',
        () => undefined,
      );
    }
  }

  /** Writes raw bytes to the agent (protocol tests send malformed frames with this). */
  writeRaw(bytes: Buffer): void {
    this.child.stdin?.write(bytes);
  }

  private async start(): Promise<void> {
    const child = this.child;
    child.stdout?.on('data', (chunk: Buffer) => this.onData(chunk));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderrTail = (this.stderrTail + chunk.toString('utf8')).slice(-2000);
      this.logger.debug(
        { agentType: this.agentType, stderr: truncate(chunk.toString('utf8')) },
        'agent stderr',
      );
    });
    child.stdin?.on('error', () => undefined); // EPIPE after the agent died: the exit handler reports it
    const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
    spawnError.catch(() => undefined);
    const helloTimeout = new Promise<never>((_, reject) => {
      const t = setTimeout(
        () =>
          reject(
            new ProtocolError(
              PROTOCOL_ERROR_CODES.unexpected,
              `agent process sent no hello within ${this.options.helloTimeoutMs} ms; stderr: ${this.stderrTail.trim() || '(none)'}`,
            ),
          ),
        this.options.helloTimeoutMs,
      );
      void this.helloReceived.then(
        () => clearTimeout(t),
        () => clearTimeout(t),
      );
    });
    try {
      await Promise.race([
        this.helloReceived,
        helloTimeout,
        spawnError,
        this.exitPromise.then(() => {
          throw new AgentProcessExitedError(
            '(before hello)',
            child.exitCode,
            child.signalCode,
            this.stderrTail.trim(),
          );
        }),
      ]);
    } catch (error) {
      this.kill();
      await Promise.race([this.exitPromise, spawnError.catch(() => undefined)]);
      throw error;
    }
    this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  private helloResolve!: () => void;
  private helloReject!: (error: Error) => void;
  private readonly helloReceived = new Promise<void>((resolve, reject) => {
    this.helloResolve = resolve;
    this.helloReject = reject;
  });

  private beat(): void {
    const silent = Date.now() - this.lastHeard;
    if (silent > this.options.heartbeatTimeoutMs) {
      this.failure = new AgentUnresponsiveError(this.agentType, silent);
      this.logger.warn({ agentType: this.agentType, silentMs: silent }, 'agent unresponsive; killing it');
      this.kill();
      return;
    }
    this.writeFrame({ k: 'ping', id: this.nextId() });
  }

  private call(
    frame: HostFrame & { id: string },
    agentId: string,
    type: string,
    signal?: AbortSignal,
  ): Promise<unknown> {
    if (this.exited) {
      return Promise.reject(
        this.failure ?? new AgentUnavailableError(agentId, 'its agent process has exited'),
      );
    }
    return new Promise((resolve, reject) => {
      const onAbort = (): void => {
        if (this.pending.has(frame.id))
          this.writeFrame({ k: 'cancel', ref: frame.id, reason: serializeError(signal?.reason) });
      };
      if (signal?.aborted) return reject(signal.reason as Error);
      signal?.addEventListener('abort', onAbort, { once: true });
      const detach = (): void => signal?.removeEventListener('abort', onAbort);
      this.pending.set(frame.id, {
        resolve: (v) => (detach(), resolve(v)),
        reject: (e) => (detach(), reject(e)),
        agentId,
        type,
      });
      if (!this.writeFrame(frame)) this.pending.delete(frame.id);
    });
  }

  /** Encodes and writes a frame; a frame above the agent's limit fails its own request instead. */
  private writeFrame(frame: HostFrame): boolean {
    if (this.exited) return false;
    let bytes: Buffer;
    try {
      bytes = encodeFrame(frame, this.peerMax);
    } catch (error) {
      const id = 'id' in frame ? frame.id : undefined;
      const p = id ? this.pending.get(id) : undefined;
      if (p && id) {
        this.pending.delete(id);
        p.reject(new ProtocolError(PROTOCOL_ERROR_CODES.frameTooLarge, (error as Error).message));
      }
      return false;
    }
    this.child.stdin?.write(bytes);
    return true;
  }

  private protocolError(code: string, message: string, re?: string): void {
    this.logger.warn({ agentType: this.agentType, code, message }, 'protocol error from agent');
    this.writeFrame({ k: 'error', ...(re ? { re } : {}), error: { name: 'ProtocolError', code, message } });
  }

  private onData(chunk: Buffer): void {
    this.lastHeard = Date.now();
    for (const decoded of this.decoder.push(chunk)) {
      if (!decoded.ok) {
        this.protocolError(decoded.code, decoded.message);
        continue;
      }
      const parsed = agentFrameSchema.safeParse(decoded.value);
      if (!parsed.success) {
        const problems = parsed.error.issues
          .map((i) => `${i.path.join('.') || '(frame)'}: ${i.message}`)
          .join('; ');
        this.protocolError(
          PROTOCOL_ERROR_CODES.badFrame,
          `invalid frame: ${problems}`,
          frameIdOf(decoded.value),
        );
        continue;
      }
      this.handle(parsed.data);
    }
  }

  private handle(frame: AgentFrame): void {
    if (!this.hello && frame.k !== 'hello') {
      this.protocolError(PROTOCOL_ERROR_CODES.unexpected, `'${frame.k}' before 'hello'`, frameIdOf(frame));
      return;
    }
    switch (frame.k) {
      case 'hello': {
        if (this.hello) {
          this.protocolError(PROTOCOL_ERROR_CODES.unexpected, 'a second hello');
          return;
        }
        const version = Math.max(
          ...frame.versions.filter((v) => (PROTOCOL_VERSIONS as readonly number[]).includes(v)),
        );
        if (!Number.isFinite(version)) {
          const error = new ProtocolError(
            PROTOCOL_ERROR_CODES.unsupportedVersion,
            `agent speaks protocol versions ${frame.versions.join(', ')}; this host speaks ${PROTOCOL_VERSIONS.join(', ')}`,
          );
          this.writeFrame({ k: 'error', error: serializeError(error) });
          this.helloReject(error);
          return;
        }
        this.hello = frame;
        this.peerMax = Math.min(this.options.maxFrameBytes, frame.maxFrameBytes);
        this.writeFrame({
          k: 'welcome',
          version,
          maxFrameBytes: this.options.maxFrameBytes,
          heartbeatMs: this.options.heartbeatIntervalMs,
        });
        this.helloResolve();
        return;
      }
      case 'result': {
        const p = this.pending.get(frame.re);
        this.pending.delete(frame.re);
        p?.resolve(frame.value);
        return;
      }
      case 'error': {
        if (frame.re === undefined) {
          this.protocolErrors.push({ code: frame.error.code, message: frame.error.message });
          this.logger.warn(
            { agentType: this.agentType, error: frame.error },
            'agent reported a protocol error',
          );
          return;
        }
        const p = this.pending.get(frame.re);
        this.pending.delete(frame.re);
        if (!p) {
          this.protocolErrors.push({ code: frame.error.code, message: frame.error.message });
          return;
        }
        p.reject(deserializeRuntimeError(frame.error, { agentId: p.agentId, messageType: p.type }));
        return;
      }
      case 'fault':
        this.binding?.onHandlerError(
          frame.to,
          frame.type,
          deserializeRuntimeError(frame.error, { agentId: frame.to, messageType: frame.type }),
        );
        return;
      case 'pong':
      case 'bye':
        return;
      case 'cancel':
        this.outbound.get(frame.ref)?.abort();
        return;
      default:
        this.relay(frame);
    }
  }

  /** Runs a call the agent made against the runtime and answers it. */
  private relay(
    frame: Exclude<AgentFrame, { k: 'hello' | 'result' | 'error' | 'fault' | 'pong' | 'bye' | 'cancel' }>,
  ): void {
    const binding = this.binding;
    if (!binding) {
      this.writeFrame({
        k: 'error',
        re: frame.id,
        error: serializeError(
          new AgentUnavailableError(this.agentType, 'the connection is not registered with a runtime'),
        ),
      });
      return;
    }
    // The agent may act only as instances of its own type: `from`/`agentId` are checked here.
    const actor = 'from' in frame ? frame.from : frame.agentId;
    const slash = actor.indexOf('/');
    if (slash <= 0 || actor.slice(0, slash) !== this.agentType) {
      const error = new ProtocolError(
        PROTOCOL_ERROR_CODES.forbidden,
        `agent of type '${this.agentType}' may not act as '${actor}'; use one of its own ids ('${this.agentType}/<key>')`,
      );
      this.writeFrame({ k: 'error', re: frame.id, error: serializeError(error) });
      return;
    }
    const port = binding.port;
    let work: Promise<unknown>;
    switch (frame.k) {
      case 'send':
        work = port.send(frame.from, frame.to, frame.type, frame.payload);
        break;
      case 'publish':
        work = port.publish(frame.from, frame.topic, frame.type, frame.payload);
        break;
      case 'request': {
        const controller = new AbortController();
        this.outbound.set(frame.id, controller);
        work = port
          .request(frame.from, frame.to, frame.type, frame.payload, {
            timeoutMs: frame.timeoutMs,
            signal: controller.signal,
          })
          .finally(() => this.outbound.delete(frame.id));
        break;
      }
      case 'broadcast':
        work = port.broadcast(frame.from, frame.type, frame.payload);
        break;
      case 'subscribe':
        work = port.subscribe(frame.agentId, frame.topic, { receiveOwn: frame.receiveOwn });
        break;
      case 'unsubscribe':
        work = port.unsubscribe(frame.agentId, frame.topic);
        break;
      case 'checkpoint':
        work = port.checkpoint(frame.agentId, frame.snapshot);
        break;
      case 'load':
        work = port.load(frame.agentId);
        break;
    }
    work.then(
      (value) => this.writeFrame({ k: 'result', re: frame.id, value: value ?? null }),
      (error: unknown) => this.writeFrame({ k: 'error', re: frame.id, error: serializeError(error) }),
    );
  }

  private nextId(): string {
    return `h${(this.seq++).toString(36)}`;
  }
}
