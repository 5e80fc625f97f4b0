import type { Readable } from 'node:stream';
import {
  AgentExecutor,
  CancelledError,
  deserializeRuntimeError,
  serializeError,
  type AgentDefinition,
  type AgentPort,
  type PublishResult,
  type StateSnapshot,
} from '../sdk/index.js';
import { encodeFrame, frameIdOf, FrameDecoder } from './framing.js';
import {
  DEFAULT_MAX_FRAME_BYTES,
  hostFrameSchema,
  PROTOCOL_ERROR_CODES,
  PROTOCOL_VERSIONS,
  type AgentFrame,
  type HostFrame,
} from './protocol.js';

export interface AgentSideOptions {
  readonly definition: AgentDefinition;
  readonly input: Readable;
  /** Writes bytes to the host (the process's real stdout). */
  readonly write: (bytes: Buffer) => void;
  /** Where the agent host reports problems it cannot send as frames (stderr). */
  readonly log?: (line: string) => void;
  /** @default DEFAULT_MAX_FRAME_BYTES */
  readonly maxFrameBytes?: number;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  readonly to: string;
  readonly type: string;
}

/**
 * The agent end of the stdio protocol: says hello, then serves the host's frames with an
 * AgentExecutor (the same one the in-process runtime uses), and turns the handlers' ctx calls into
 * frames. Resolves when the host says shutdown or closes stdin.
 */
export function serveAgent(options: AgentSideOptions): Promise<void> {
  const { definition } = options;
  const log = options.log ?? (() => undefined);
  let peerMax = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
  const decoder = new FrameDecoder(options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES);
  const pending = new Map<string, Pending>();
  let seq = 0;
  let welcomed = false;
  let finished = false;

  const write = (frame: AgentFrame): void => {
    if (finished) return;
    try {
      options.write(encodeFrame(frame, peerMax));
    } catch (error) {
      // Too large: tell the host about the request it concerns instead of sending it.
      const re = 're' in frame ? frame.re : undefined;
      if (re !== undefined) {
        options.write(encodeFrame({ k: 'error', re, error: serializeError(error) }, peerMax));
      } else {
        log(`agent-host: dropped an outgoing ${frame.k} frame: ${(error as Error).message}`);
      }
    }
  };

  const call = (
    frame: AgentFrame & { id: string },
    to: string,
    type: string,
    signal?: AbortSignal,
  ): Promise<unknown> =>
    new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason as Error);
      const onAbort = (): void => {
        pending.delete(frame.id);
        write({ k: 'cancel', ref: frame.id });
        reject(signal?.reason as Error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const detach = (): void => signal?.removeEventListener('abort', onAbort);
      pending.set(frame.id, {
        resolve: (v) => (detach(), resolve(v)),
        reject: (e) => (detach(), reject(e)),
        to,
        type,
      });
      write(frame);
    });
  const nextId = (): string => `a${(seq++).toString(36)}`;

  const port: AgentPort = {
    send: async (from, to, type, payload) => {
      await call({ k: 'send', id: nextId(), from, to, type, payload }, to, type);
    },
    publish: async (from, topic, type, payload) =>
      (await call({ k: 'publish', id: nextId(), from, topic, type, payload }, topic, type)) as PublishResult,
    request: (from, to, type, payload, o) =>
      call(
        { k: 'request', id: nextId(), from, to, type, payload, timeoutMs: o.timeoutMs },
        to,
        type,
        o.signal,
      ),
    broadcast: async (from, type, payload) =>
      (await call({ k: 'broadcast', id: nextId(), from, type, payload }, 'broadcast', type)) as number,
    subscribe: async (agentId, topic, o) => {
      await call(
        { k: 'subscribe', id: nextId(), agentId, topic, receiveOwn: o.receiveOwn ?? false },
        agentId,
        'subscribe',
      );
    },
    unsubscribe: async (agentId, topic) =>
      (await call({ k: 'unsubscribe', id: nextId(), agentId, topic }, agentId, 'unsubscribe')) as boolean,
    checkpoint: async (agentId, snapshot) => {
      await call({ k: 'checkpoint', id: nextId(), agentId, snapshot }, agentId, 'checkpoint');
    },
    load: async (agentId) =>
      ((await call({ k: 'load', id: nextId(), agentId }, agentId, 'load')) ?? undefined) as
        StateSnapshot | undefined,
  };
  const executor = new AgentExecutor(definition, port);

  const answer = (re: string, work: () => Promise<unknown>): void => {
    work().then(
      (value) => write({ k: 'result', re, value: value ?? null }),
      (error: unknown) => write({ k: 'error', re, error: serializeError(error) }),
    );
  };

  const protocolError = (code: string, message: string, re?: string): void =>
    write({ k: 'error', ...(re ? { re } : {}), error: { name: 'ProtocolError', code, message } });

  return new Promise<void>((resolve) => {
    const finish = (): void => {
      if (finished) return;
      executor.close('the agent host is shutting down');
      for (const p of pending.values())
        p.reject(new CancelledError(p.to, p.type, 'the agent host is shutting down'));
      pending.clear();
      write({ k: 'bye' });
      finished = true;
      options.input.off('data', onData);
      resolve();
    };

    const handle = (frame: HostFrame): void => {
      if (!welcomed && frame.k !== 'welcome' && frame.k !== 'shutdown' && frame.k !== 'error') {
        protocolError(PROTOCOL_ERROR_CODES.unexpected, `'${frame.k}' before 'welcome'`, frameIdOf(frame));
        return;
      }
      switch (frame.k) {
        case 'welcome':
          if (!(PROTOCOL_VERSIONS as readonly number[]).includes(frame.version)) {
            protocolError(
              PROTOCOL_ERROR_CODES.unsupportedVersion,
              `version ${frame.version} is not spoken here`,
            );
            finish();
            return;
          }
          welcomed = true;
          peerMax = Math.min(peerMax, frame.maxFrameBytes);
          return;
        case 'deliver': {
          let accepted;
          try {
            accepted = executor.accept(frame);
          } catch (error) {
            write({ k: 'error', re: frame.id, error: serializeError(error) });
            return;
          }
          if (frame.reply) {
            answer(frame.id, () => accepted.result);
          } else {
            write({ k: 'result', re: frame.id, value: null });
            accepted.result.catch((error: unknown) =>
              write({
                k: 'fault',
                ref: frame.id,
                to: frame.to,
                type: frame.type,
                error: serializeError(error),
              }),
            );
          }
          return;
        }
        case 'run':
          answer(frame.id, () => executor.run(frame.id, frame.to, frame.task).result);
          return;
        case 'cancel':
          executor.cancel(frame.ref, deserializeRuntimeError(frame.reason, { agentId: '', messageType: '' }));
          return;
        case 'state.export':
          answer(frame.id, () => executor.exportState(frame.agentId));
          return;
        case 'state.import':
          answer(frame.id, async () => {
            executor.checkSnapshot(frame.agentId, frame.snapshot);
            return executor.importState(frame.agentId, frame.snapshot);
          });
          return;
        case 'deactivate':
          answer(frame.id, () => executor.deactivate(frame.agentId));
          return;
        case 'result': {
          const p = pending.get(frame.re);
          pending.delete(frame.re);
          p?.resolve(frame.value);
          return;
        }
        case 'error': {
          if (frame.re === undefined) {
            log(`agent-host: the host reported a protocol error: ${frame.error.message}`);
            return;
          }
          const p = pending.get(frame.re);
          pending.delete(frame.re);
          p?.reject(deserializeRuntimeError(frame.error, { agentId: p.to, messageType: p.type }));
          return;
        }
        case 'ping':
          write({ k: 'pong', re: frame.id });
          return;
        case 'shutdown':
          finish();
          return;
      }
    };

    const onData = (chunk: Buffer): void => {
      for (const decoded of decoder.push(chunk)) {
        if (!decoded.ok) {
          protocolError(decoded.code, decoded.message);
          continue;
        }
        const parsed = hostFrameSchema.safeParse(decoded.value);
        if (!parsed.success) {
          const problems = parsed.error.issues
            .map((i) => `${i.path.join('.') || '(frame)'}: ${i.message}`)
            .join('; ');
          protocolError(
            PROTOCOL_ERROR_CODES.badFrame,
            `invalid frame: ${problems}`,
            frameIdOf(decoded.value),
          );
          continue;
        }
        handle(parsed.data);
      }
    };
    options.input.on('data', onData);
    options.input.once('end', finish);
    options.input.once('close', finish);
    write({
      k: 'hello',
      versions: [...PROTOCOL_VERSIONS],
      agent: { type: definition.type, messages: [...definition.messageTypes], run: definition.hasRun },
      maxFrameBytes: options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES,
      impl: `ars-agent-host/node-${process.version}`,
    });
  });
}
