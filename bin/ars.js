#!/usr/bin/env node
// The `ars` executable: runs the compiled CLI (build it with `npm run build`, or let `npm start` do it).
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(cli)) {
  console.error(
    "ars: the CLI is not built yet; run 'npm run build' (or 'npm start') in the ARS checkout first",
  );
  process.exit(1);
}
await import(cli.href);
