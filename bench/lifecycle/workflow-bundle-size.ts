/**
 * The size of the workflow bundle that every agent workflow's context evaluates, and the heaviest
 * source modules in it (the bundle is built from the workflow sources, as the workers do without
 * a prebuilt dist/workflow-bundle.js).
 *
 *   npx tsx bench/lifecycle/workflow-bundle-size.ts
 */
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode } from '@temporalio/worker';

const workflowsPath = fileURLToPath(new URL('../../workflows/index.ts', import.meta.url));
const quiet = () => undefined;
const started = performance.now();
const { code } = await bundleWorkflowCode({
  workflowsPath,
  logger: { trace: quiet, debug: quiet, info: quiet, warn: console.warn, error: console.error, log: quiet },
});
const buildMs = performance.now() - started;
// The bundle ends with an inline source map: count it apart (it is parsed only for stack traces).
const mapAt = code.lastIndexOf('//# sourceMappingURL=');
const js = mapAt >= 0 ? code.slice(0, mapAt) : code;

// Webpack marks each module of a development bundle with a `!*** <path> ***!` banner: attribute the
// bytes between banners to the package (node_modules) or to the folder of the repo they come from.
const banner = /\/\*!\*+!\*\\\n\s*!\*\*\* (.+?) \*\*\*!\n/g;
const marks = [...js.matchAll(banner)].map((m) => ({ path: m[1] ?? '?', at: m.index }));
const bytes = new Map<string, number>();
marks.forEach((mark, i) => {
  const end = marks[i + 1]?.at ?? js.length;
  const pkg = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(mark.path)?.[1];
  const key = pkg ?? mark.path.replace(/^\.\//, '').split('/').slice(0, 2).join('/');
  bytes.set(key, (bytes.get(key) ?? 0) + (end - mark.at));
});
const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
console.log(
  `workflow bundle: ${kib(js.length)} of code in ${marks.length} modules (+ ${kib(code.length - js.length)} inline source map), built in ${(buildMs / 1000).toFixed(1)} s`,
);
for (const [key, size] of [...bytes].sort((a, b) => b[1] - a[1]).slice(0, 15))
  console.log(`  ${kib(size).padStart(10)}  ${key}`);
if (process.argv.includes('--modules'))
  for (const mark of marks) if (!mark.path.includes('node_modules')) console.log(`  module ${mark.path}`);
