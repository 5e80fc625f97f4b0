// Policy decisions per second: uncached (every request distinct, so Cedar evaluates each one) and
// cached (a working set of repeated requests), with the default policy set. Run:
//   npx tsx bench/policy/decisions.ts
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { PolicyEngine } from '../../src/policy/index.js';

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

function rate(n: number, fn: (i: number) => void): number {
  const t = performance.now();
  for (let i = 0; i < n; i += 1) fn(i);
  return n / ((performance.now() - t) / 1000);
}

const engine = new PolicyEngine({ cacheSize: 1_000_000 });
const fresh = new PolicyEngine({ cacheSize: 0 });
const uncached: number[] = [];
const cached: number[] = [];
let salt = 0;

// One function per measurement keeps each loop monomorphic (a shared higher-order timing helper
// over the wasm calls crashed V8 20's deoptimizer here: "Fatal error ... unreachable code").
function runUncached(n: number): number {
  const t = performance.now();
  for (let i = 0; i < n; i += 1) fresh.checkSend({ sender: `a${salt++}`, recipient: `b${i}`, size: 100 });
  return n / ((performance.now() - t) / 1000);
}
function runCached(n: number): number {
  const t = performance.now();
  for (let i = 0; i < n; i += 1) engine.checkSend({ sender: `a${i % 100}`, recipient: 'b', size: 100 });
  return n / ((performance.now() - t) / 1000);
}
for (let round = 0; round < 5; round += 1) cached.push(runCached(300_000));
for (let round = 0; round < 5; round += 1) uncached.push(runUncached(2000));
// Raw engine limit in the same run: Cedar's stateful isAuthorized on a preparsed policy set, no ARS code.

cedar.preparsePolicySet('bench', { staticPolicies: 'permit(principal, action, resource);' });
function runRaw(n: number): number {
  const t = performance.now();
  for (let i = 0; i < n; i += 1) {
    cedar.statefulIsAuthorized({
      principal: { type: 'Ars::Agent', id: `a${i}` },
      action: { type: 'Ars::Action', id: 'SendMessage' },
      resource: { type: 'Ars::Agent', id: 'b' },
      context: {},
      entities: [],
      preparsedPolicySetId: 'bench',
    });
  }
  return n / ((performance.now() - t) / 1000);
}
const raw = runRaw(3000);
const map = new Map<string, number>([['k', 1]]);
const rawMap = rate(3_000_000, () => map.get('k'));
console.log(`policy decisions (default policy set, checkSend), median of 5 rounds:`);
console.log(
  `  uncached: ${Math.round(median(uncached)).toLocaleString()}/s  (rounds: ${uncached.map((x) => Math.round(x)).join(', ')})`,
);
console.log(
  `  cached:   ${Math.round(median(cached)).toLocaleString()}/s  (target >= 100,000/s; rounds: ${cached.map((x) => Math.round(x)).join(', ')})`,
);
console.log(`raw limits in this run:`);
console.log(
  `  cedar statefulIsAuthorized, 1 permit-all policy, no schema, no entities: ${Math.round(raw).toLocaleString()}/s`,
);
console.log(`  JS Map.get: ${Math.round(rawMap).toLocaleString()}/s`);
