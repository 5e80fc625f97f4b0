import { pino, type Logger } from 'pino';

export type { Logger };

/** Library code logs through an injected logger; this makes the default one (JSON to stderr). */
export function createLogger(options: { name?: string; level?: string } = {}): Logger {
  return pino(
    { name: options.name ?? 'ars', level: options.level ?? process.env.ARS_LOG_LEVEL ?? 'info' },
    pino.destination(2),
  );
}

/** A logger that drops everything: the default in tests and in quiet CLI commands. */
export const silentLogger: Logger = pino({ level: 'silent' });

/** Cuts a large payload down for a log line. */
export function truncate(text: string, max = 512): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${text.length - max} more chars)`;
}
