/**
 * Messages between the bus benchmarks (bench/bus/bus.ts, bench/bus/request-latency.ts) and their child
 * process (bench/bus/receiver.ts).
 */
export const RECEIVER_READY = 'ready';

export type ReceiverRequest =
  | {
      kind: 'start';
      url: string;
      prefix: string;
      keystorePrefix: string;
      security: 'off' | 'signed-encrypted';
      masterKey: string;
      /**
       * 'sink' (default) counts the messages sent to agent 'sink'; 'echo' answers every request to
       * agent 'server' with its own payload; 'raw-echo' runs the raw floor's echo loop (raw-echo.ts,
       * no bus) on the streams under `prefix`.
       */
      role?: 'sink' | 'echo' | 'raw-echo';
    }
  | { kind: 'expect'; n: number }
  | { kind: 'stop' };

export type ReceiverReply =
  { kind: typeof RECEIVER_READY } | { kind: 'expecting' } | { kind: 'done'; n: number };
