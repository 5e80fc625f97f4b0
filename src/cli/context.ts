import { readFile } from 'node:fs/promises';
import { ArsClient } from '../client/index.js';
import { ConfigError, compileSettings, type Settings } from '../config/index.js';
import { ArsError } from '../util/errors.js';

/** The checkout the CLI runs from. */
export { projectRoot } from '../util/project-root.js';

/** Bad command-line input; exits with status 2. */
export class UsageError extends ArsError {
  readonly code = 'ARS_USAGE';
}

let settingsCache: Settings | undefined;
export function settings(): Settings {
  settingsCache ??= compileSettings();
  return settingsCache;
}

/** Temporal could not be reached. */
export class TemporalUnreachableError extends ArsError {
  readonly code = 'ARS_TEMPORAL_UNREACHABLE';

  constructor(address: string, options: { cause: unknown }) {
    super(
      `cannot reach Temporal at ${address}; start the services with 'ars up' or set ARS_TEMPORAL_ADDRESS`,
      options,
    );
  }
}

/** Runs `fn` with a connected client and closes it afterwards. */
export async function withClient<T>(fn: (client: ArsClient) => Promise<T>): Promise<T> {
  const client = await ArsClient.connect(settings()).catch((cause: unknown) => {
    throw new TemporalUnreachableError(settings().temporalAddress, { cause });
  });
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Reads a JSON file, naming the file in any error. */
export async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new UsageError(`cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new UsageError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
}

/** Prints an error the way every command does and sets the exit status. */
export function reportError(error: unknown): void {
  if (error instanceof UsageError || error instanceof ConfigError) {
    console.error(`error: ${error.message}`);
    process.exitCode = 2;
  } else if (error instanceof ArsError) {
    console.error(`error: ${error.message}`);
    process.exitCode = 1;
  } else {
    console.error(error);
    process.exitCode = 1;
  }
}

export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}
