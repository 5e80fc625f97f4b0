/**
 * The agent host program that runs inside a sandbox (or as a local child process): loads a handler
 * module written with defineAgent() and serves it over the stdio protocol (docs/stdio-protocol.md).
 *
 *   node agent-host/main.js --module /agent/agent.js [--type worker] [--max-frame-bytes N]
 *   (or ARS_AGENT_MODULE, ARS_AGENT_TYPE, ARS_MAX_FRAME_BYTES)
 *
 * stdout carries frames only: anything the handler code prints (console.log) goes to stderr.
 */
import { parseArgs } from 'node:util';
import { serveAgent } from './agent-side.js';
import { loadAgentDefinition } from './load-definition.js';
import { DEFAULT_MAX_FRAME_BYTES } from './protocol.js';

const frames = process.stdout.write.bind(process.stdout);
// Everything else written to stdout (console.log in a handler) would corrupt the frame stream.
process.stdout.write = process.stderr.write.bind(process.stderr);

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      module: { type: 'string' },
      type: { type: 'string' },
      'max-frame-bytes': { type: 'string' },
    },
    strict: true,
  });
  const modulePath = values.module ?? process.env.ARS_AGENT_MODULE;
  if (!modulePath) {
    process.stderr.write('agent-host: no handler module; pass --module <path> or set ARS_AGENT_MODULE\n');
    return 2;
  }
  const maxText = values['max-frame-bytes'] ?? process.env.ARS_MAX_FRAME_BYTES;
  const maxFrameBytes = maxText ? Number(maxText) : DEFAULT_MAX_FRAME_BYTES;
  if (!Number.isInteger(maxFrameBytes) || maxFrameBytes < 1024) {
    process.stderr.write(`agent-host: --max-frame-bytes '${maxText}' is invalid; use an integer >= 1024\n`);
    return 2;
  }
  const definition = await loadAgentDefinition(modulePath, values.type ?? process.env.ARS_AGENT_TYPE);
  await serveAgent({
    definition,
    input: process.stdin,
    write: (bytes) => void frames(bytes),
    log: (line) => void process.stderr.write(`${line}\n`),
    maxFrameBytes,
  });
  return 0;
}

main().then(
  (code) => {
    // Let the last frames ('bye') drain before exiting.
    frames(Buffer.alloc(0), () => process.exit(code));
  },
  (error: unknown) => {
    process.stderr.write(`agent-host: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
