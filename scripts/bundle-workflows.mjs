// Bundles the compiled workflow code once at build time (dist/workflow-bundle.js), so workers start
// without running webpack. Workers fall back to bundling dist/workflows at start-up if it is absent.
import { bundleWorkflowCode } from '@temporalio/worker';
import { writeFile } from 'node:fs/promises';

const workflowsPath = new URL('../dist/workflows/index.js', import.meta.url).pathname;
const { code } = await bundleWorkflowCode({
  workflowsPath,
  logger: { trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error, log() {} },
});
await writeFile(new URL('../dist/workflow-bundle.js', import.meta.url), code);
