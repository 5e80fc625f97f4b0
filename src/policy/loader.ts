import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as cedar from '@cedar-policy/cedar-wasm/nodejs';
import { PolicyLoadError } from './errors.js';

/** Where one policy came from: its file (relative to the policy directory) and first line. */
export interface PolicySourceInfo {
  readonly file: string;
  readonly line: number;
}

/** A parsed and schema-validated policy set, ready for the engine. */
export interface LoadedPolicySet {
  readonly schemaText: string;
  /** Policy id → Cedar text of that one policy. */
  readonly policies: Readonly<Record<string, string>>;
  readonly sources: ReadonlyMap<string, PolicySourceInfo>;
  readonly files: readonly string[];
}

/** The result of loading: either a policy set, or every problem found (file:line:column). */
export type LoadResult =
  | { readonly ok: true; readonly set: LoadedPolicySet }
  | { readonly ok: false; readonly problems: readonly PolicyLoadError[]; readonly files: readonly string[] };

/** Policy text that does not come from a file (e.g. compiled from the agent DSL). */
export interface PolicySource {
  /** A name for error messages and generated ids, e.g. `dsl/researcher`. */
  readonly name: string;
  readonly text: string;
}

/**
 * Finds the `policies/` folder shipped with ARS by walking up from this module (works from src/ and
 * from dist/src/).
 */
export function findPoliciesRoot(
  start: string = dirname(fileURLToPath(import.meta.url)),
): string | undefined {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, 'policies', 'ars.cedarschema'))) return join(dir, 'policies');
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** Lists the `*.cedar` files under `dir` (recursively), sorted by path. */
export function listPolicyFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const st = statSync(full);
      if (st.isDirectory()) walk(full);
      else if (name.endsWith('.cedar')) out.push(full);
    }
  };
  walk(dir);
  return out;
}

/** Turns a UTF-8 byte offset reported by Cedar into a 1-based line and column of `text`. */
export function lineColumnAt(text: string, byteOffset: number): { line: number; column: number } {
  const prefix = Buffer.from(text, 'utf8').subarray(0, Math.max(0, byteOffset)).toString('utf8');
  const lines = prefix.split('\n');
  return { line: lines.length, column: (lines[lines.length - 1]?.length ?? 0) + 1 };
}

function describeCedarError(error: cedar.DetailedError): string {
  const label = error.sourceLocations?.find((l) => l.label)?.label;
  return [error.message, label, error.help ? `help: ${error.help}` : undefined].filter(Boolean).join('; ');
}

function problemAt(
  file: string,
  text: string,
  baseOffset: number,
  error: cedar.DetailedError,
): PolicyLoadError {
  const loc = error.sourceLocations?.[0];
  if (loc === undefined) {
    const { line } = lineColumnAt(text, baseOffset);
    return new PolicyLoadError(file, line, 1, describeCedarError(error));
  }
  const { line, column } = lineColumnAt(text, baseOffset + loc.start);
  return new PolicyLoadError(file, line, column, describeCedarError(error));
}

interface Located {
  readonly id: string;
  readonly text: string;
  readonly file: string;
  readonly fileText: string;
  readonly byteOffset: number;
}

/**
 * Reads the schema and every policy (files under `dir`, then `extra` sources), parses each file on its
 * own so that a problem names its file and line, gives each policy an id (its `@id("...")` annotation,
 * else `<file>:<line>`) and validates the whole set against the schema (Cedar's strict mode).
 */
export function loadPolicySet(
  dir: string | undefined,
  schemaPath: string,
  extra: readonly PolicySource[] = [],
): LoadResult {
  const problems: PolicyLoadError[] = [];
  const files: string[] = [];
  let schemaText: string;
  try {
    schemaText = readFileSync(schemaPath, 'utf8');
  } catch (error) {
    return {
      ok: false,
      problems: [new PolicyLoadError(schemaPath, 0, 0, `cannot read the schema: ${String(error)}`)],
      files,
    };
  }
  const schemaParse = cedar.checkParseSchema(schemaText);
  if (schemaParse.type === 'failure') {
    return {
      ok: false,
      problems: schemaParse.errors.map((e) => problemAt(schemaPath, schemaText, 0, e)),
      files,
    };
  }

  const sources: { name: string; text: string }[] = [];
  if (dir !== undefined) {
    let paths: string[];
    try {
      paths = listPolicyFiles(dir);
    } catch (error) {
      return {
        ok: false,
        problems: [new PolicyLoadError(dir, 0, 0, `cannot read the policy directory: ${String(error)}`)],
        files,
      };
    }
    for (const path of paths) {
      const name = relative(process.cwd(), path) || path;
      files.push(name);
      sources.push({ name, text: readFileSync(path, 'utf8') });
    }
  }
  for (const source of extra) {
    files.push(source.name);
    sources.push(source);
  }

  const located: Located[] = [];
  for (const { name, text } of sources) {
    const parts = cedar.policySetTextToParts(text);
    if (parts.type === 'failure') {
      problems.push(...parts.errors.map((e) => problemAt(name, text, 0, e)));
      continue;
    }
    if (parts.policy_templates.length > 0) {
      problems.push(
        new PolicyLoadError(name, 1, 1, 'policy templates are not supported; write static policies'),
      );
      continue;
    }
    let cursor = 0;
    for (const part of parts.policies) {
      const at = text.indexOf(part, cursor);
      const charOffset = at >= 0 ? at : cursor;
      cursor = at >= 0 ? at + part.length : cursor;
      const byteOffset = Buffer.byteLength(text.slice(0, charOffset), 'utf8');
      const json = cedar.policyToJson(part);
      const annotated = json.type === 'success' ? json.json.annotations?.id : undefined;
      const id = annotated ?? `${name}:${lineColumnAt(text, byteOffset).line}`;
      const clash = located.find((l) => l.id === id);
      if (clash) {
        const { line, column } = lineColumnAt(text, byteOffset);
        problems.push(
          new PolicyLoadError(
            name,
            line,
            column,
            `policy id '${id}' is already used in ${clash.file}; give each @id a unique value`,
          ),
        );
        continue;
      }
      located.push({ id, text: part, file: name, fileText: text, byteOffset });
    }
  }
  if (problems.length > 0) return { ok: false, problems, files };

  const policies: Record<string, string> = {};
  for (const l of located) policies[l.id] = l.text;
  const validation = cedar.validate({ schema: schemaText, policies: { staticPolicies: policies } });
  if (validation.type === 'failure') {
    return {
      ok: false,
      problems: validation.errors.map((e) => problemAt(schemaPath, schemaText, 0, e)),
      files,
    };
  }
  for (const { policyId, error } of validation.validationErrors) {
    const l = located.find((x) => x.id === policyId);
    problems.push(
      l
        ? problemAt(l.file, l.fileText, l.byteOffset, error)
        : new PolicyLoadError(policyId, 0, 0, describeCedarError(error)),
    );
  }
  if (problems.length > 0) return { ok: false, problems, files };

  const infos = new Map<string, PolicySourceInfo>();
  for (const l of located)
    infos.set(l.id, { file: l.file, line: lineColumnAt(l.fileText, l.byteOffset).line });
  return { ok: true, set: { schemaText, policies, sources: infos, files } };
}
