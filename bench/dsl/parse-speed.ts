/**
 * Parse speed of the agent DSL on a large generated file: KB/s and definitions/s for the full parse
 * (lexing, nesting guard, Chevrotain parse with AST building, comment attachment), next to the raw
 * limits measured in the same run: the Chevrotain lexer alone, and V8's JSON.parse on a JSON document
 * of the same size. Also formatter and compiler throughput. Run: npx tsx bench/dsl/parse-speed.ts [MB]
 */
import { performance } from 'node:perf_hooks';
import { compileProgram, format, parseDsl } from '../../src/dsl/index.js';
import { dslLexer } from '../../src/dsl/tokens.js';

const targetMb = Number(process.argv[2] ?? 4);
const RUNS = 5;

function agent(i: number): string {
  return `// agent number ${i}
agent worker_${i}(input: String, limit: int) -> Summary {
    capabilities = ["read", "write", "net:http"]

    policy rules_${i} {
        allow: read(doc) if doc.in_project == true && doc.size < ${1000 + i}
        deny: ["write", "net"]
        audit: { log_level: "info", sample: ${i % 10} }
    }

    with sandbox = "gvisor", timeout = 30.seconds, max_memory_mb = 256, command = ["node", "w${i}.js"] {
        let text = read(input);
        let parts = split(text, "\\n");
        let total = 0;
        for p in parts {
            if p.len() > limit {
                total += 1;
            } else {
                log("short", p);
            }
        }
        match total {
            0 => none(),
            _ => report(count: total, id = "${i}"),
        }
        return Summary { body: summarize(text), length: text.len(), ok: total < 10 };
    }
}

schedule nightly_${i} { cron: "${i % 60} 2 * * *", agent: "worker_${i}", timezone: "UTC" }
`;
}

const chunks: string[] = ['metadata { version = "1.0.0", description = "bench" }\n'];
let size = chunks[0]?.length ?? 0;
let definitions = 1;
for (let i = 0; size < targetMb * 1024 * 1024; i++) {
  const text = agent(i);
  chunks.push(text);
  size += text.length;
  definitions += 2;
}
const source = chunks.join('\n');
const kb = source.length / 1024;
const json = JSON.stringify(
  Array.from({ length: Math.ceil(source.length / 120) }, (_, i) => ({
    id: i,
    name: `worker_${i}`,
    tags: ['a', 'b'],
    n: i * 3,
  })),
);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
function time(fn: () => void): number {
  const samples: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    fn();
    samples.push(performance.now() - t0);
  }
  return median(samples);
}

// Warm up (JIT) on a slice.
parseDsl(source.slice(0, 200_000).slice(0, source.lastIndexOf('\nschedule', 200_000)));

let tokenCount = 0;
const lexMs = time(() => {
  tokenCount = dslLexer.tokenize(source).tokens.length;
});
let parsed = parseDsl(source);
const parseMs = time(() => {
  parsed = parseDsl(source);
});
if (!parsed.program) throw new Error(`generated file does not parse: ${parsed.diagnostics[0]?.message}`);
const program = parsed.program;
const formatMs = time(() => void format(program));
let compiled = compileProgram(program, { generateId: () => 'x' });
const compileMs = time(() => {
  compiled = compileProgram(program, { generateId: () => 'x' });
});
if (!compiled.ok) throw new Error(`generated file does not compile: ${compiled.problems[0]?.message}`);
const jsonMs = time(() => void JSON.parse(json));

const rate = (amount: number, ms: number): string => (amount / (ms / 1000)).toFixed(0);
console.log(`DSL parse benchmark (${RUNS} runs, medians; 2 shared cores, expect noise)`);
console.log(
  `input: ${(kb / 1024).toFixed(2)} MB, ${definitions} top-level definitions (${program.items.length} parsed), ${tokenCount} tokens`,
);
console.log(
  `parse (lex + guard + parse + AST + comments): ${parseMs.toFixed(0)} ms  → ${rate(kb, parseMs)} KB/s, ${rate(definitions, parseMs)} definitions/s`,
);
console.log(
  `raw limit, Chevrotain lexer alone:            ${lexMs.toFixed(0)} ms  → ${rate(kb, lexMs)} KB/s, ${rate(tokenCount, lexMs)} tokens/s`,
);
console.log(
  `raw reference, V8 JSON.parse (${(json.length / 1024 / 1024).toFixed(2)} MB JSON): ${jsonMs.toFixed(0)} ms  → ${rate(json.length / 1024, jsonMs)} KB/s`,
);
console.log(`format: ${formatMs.toFixed(0)} ms → ${rate(kb, formatMs)} KB/s`);
console.log(
  `compile (AgentConfig + Cedar text checked by cedar-wasm + schedules): ${compileMs.toFixed(0)} ms → ${rate(compiled.agents.length, compileMs)} agents/s`,
);
const jsonKbPerMs = json.length / 1024 / jsonMs;
console.log(
  `ratios (same run): parse takes ${(parseMs / lexMs).toFixed(2)}x the lexer's time; parse throughput is ${((kb / parseMs / jsonKbPerMs) * 100).toFixed(1)}% of JSON.parse's`,
);
