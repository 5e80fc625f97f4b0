/**
 * The parent's side of the bus benchmarks' second process: forks bench/bus/receiver.ts, starts it
 * and talks to it over IPC (receiver-protocol.ts).
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { RECEIVER_READY, type ReceiverReply, type ReceiverRequest } from './receiver-protocol.js';

export interface ReceiverChild {
  readonly pid: number | undefined;
  ask(m: ReceiverRequest): void;
  /** The next reply; fails when the child exits or has not answered for 60 s. */
  next(): Promise<ReceiverReply>;
  /** Asks the child to stop and waits until it has exited. */
  stop(): Promise<void>;
}

/** Forks the receiver, sends it `start` and waits until it is ready. */
export async function startReceiver(
  start: Extract<ReceiverRequest, { kind: 'start' }>,
): Promise<ReceiverChild> {
  const child = fork(fileURLToPath(new URL('./receiver.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const replies: ReceiverReply[] = [];
  let notify: () => void = () => undefined;
  child.on('message', (m: ReceiverReply) => {
    replies.push(m);
    notify();
  });
  const receiver: ReceiverChild = {
    pid: child.pid,
    ask: (m) => void child.send(m),
    async next() {
      const deadline = Date.now() + 60_000;
      while (replies.length === 0) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error('the receiver process stopped answering');
        await new Promise<void>((r) => {
          notify = r;
          setTimeout(r, 200);
        });
      }
      return replies.shift() as ReceiverReply;
    },
    async stop() {
      if (child.exitCode === null) receiver.ask({ kind: 'stop' });
      await exited;
    },
  };
  receiver.ask(start);
  if ((await receiver.next()).kind !== RECEIVER_READY) throw new Error('the receiver process did not start');
  return receiver;
}
