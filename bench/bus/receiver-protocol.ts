/** Messages between bench/bus/bus.ts and its receiver child process (bench/bus/receiver.ts). */
export const RECEIVER_READY = 'ready';

export type ReceiverRequest =
  | {
      kind: 'start';
      url: string;
      prefix: string;
      keystorePrefix: string;
      security: 'off' | 'signed-encrypted';
      masterKey: string;
    }
  | { kind: 'expect'; n: number }
  | { kind: 'stop' };

export type ReceiverReply =
  { kind: typeof RECEIVER_READY } | { kind: 'expecting' } | { kind: 'done'; n: number };
