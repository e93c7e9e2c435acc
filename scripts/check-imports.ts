/**
 * Checks the import graph of src/ against the direction shared/DESIGN.md draws: no cycle between files,
 * no import from one top-level folder to another that the table below does not allow, and no policy
 * importing another policy's files (shared policy helpers sit at the root of src/policies/). Imports of
 * `type` only count too: a type import is still a dependency a reader must follow. A unit test beside the
 * code (a `x.test.ts` under src/) may import from test/ only the test kit (test/kit/), never a part's test folder.
 *
 * Known violations are listed in KNOWN, each with the issue that removes it; the check fails on any
 * other, and on a KNOWN entry that no longer occurs (so the list only shrinks).
 *
 * Usage: node scripts/check-imports.ts   (exit 1 with one line per finding)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..', 'src');
const kit = path.resolve(import.meta.dirname, '..', 'test', 'kit');
const testRoot = path.resolve(import.meta.dirname, '..', 'test');

/** Which folders each folder may import (besides itself). */
const ALLOWED: Record<string, readonly string[]> = {
  core: ['shared'],
  shared: [],
  config: ['core', 'shared'],
  openapi: ['core', 'shared'],
  state: ['core', 'shared'],
  waf: ['core', 'shared'],
  policies: ['core', 'shared', 'state', 'openapi', 'waf'],
  gateway: ['core', 'shared', 'openapi', 'state', 'config'],
  monitor: ['core', 'shared', 'state', 'openapi', 'config'],
  admin: ['core', 'shared', 'monitor', 'state', 'openapi', 'config'],
  scanner: ['core', 'shared', 'openapi'],
  demo: ['core', 'shared'],
  cli: ['*'],
};

/**
 * Folder-to-folder imports that exist today against the direction above, as `from -> to: file`. Each is
 * a debt of issue 15 (one-way imports); remove the entry with the import.
 */
const KNOWN = new Set<string>(
  readFileSync(path.join(import.meta.dirname, 'known-imports.txt'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#')),
);

const IMPORT =
  /(?:^|\n)\s*(?:import|export)\s[^'";]*?from\s+'(\.{1,2}\/[^']+)'|import\(\s*'(\.{1,2}\/[^']+)'\s*\)|(?:^|\n)\s*import\s+'(\.{1,2}\/[^']+)'/g;

function sourceFiles(dir: string, tests = false): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p, tests));
    else if (name.endsWith('.ts') && name.endsWith('.test.ts') === tests) out.push(p);
  }
  return out;
}

const folderOf = (file: string) => path.relative(root, file).split(path.sep)[0];
const rel = (file: string) => path.relative(root, file);

const files = sourceFiles(root);
const graph = new Map<string, string[]>();
const findings: string[] = [];
const seenKnown = new Set<string>();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const targets: string[] = [];
  for (const m of text.matchAll(IMPORT)) {
    const target = path.resolve(path.dirname(file), m[1] ?? m[2] ?? m[3]);
    if (!target.startsWith(root)) continue;
    targets.push(target);
    const from = folderOf(file);
    const to = folderOf(target);
    const policyOf = (f: string) => (from === 'policies' ? rel(f).split(path.sep)[1] : undefined);
    const fromPolicy = policyOf(file);
    const toPolicy = to === 'policies' ? rel(target).split(path.sep)[1] : undefined;
    // A policy folder may use the helpers at the root of policies/, never another policy's files.
    if (
      fromPolicy !== undefined &&
      toPolicy !== undefined &&
      !fromPolicy.endsWith('.ts') &&
      !toPolicy.endsWith('.ts') &&
      fromPolicy !== toPolicy
    ) {
      const key = `policies/${fromPolicy} -> policies/${toPolicy}: ${rel(file)} imports ${rel(target)}`;
      if (KNOWN.has(key)) seenKnown.add(key);
      else findings.push(`import of another policy's internals: ${key}`);
    }
    if (from === to || from.endsWith('.ts') || to.endsWith('.ts')) continue;
    const allowed = ALLOWED[from];
    if (allowed?.includes('*') || allowed?.includes(to)) continue;
    const key = `${from} -> ${to}: ${rel(file)} imports ${rel(target)}`;
    if (KNOWN.has(key)) seenKnown.add(key);
    else findings.push(`import against the direction: ${key}`);
  }
  graph.set(file, targets);
}
for (const key of KNOWN)
  if (!seenKnown.has(key)) findings.push(`known import gone, remove it from the list: ${key}`);

// Unit tests beside the code use the test kit only: whatever else is under test/ belongs to one part's
// whole-system tests.
for (const file of sourceFiles(root, true)) {
  for (const m of readFileSync(file, 'utf8').matchAll(IMPORT)) {
    const target = path.resolve(path.dirname(file), m[1] ?? m[2] ?? m[3]);
    if (target.startsWith(testRoot + path.sep) && !target.startsWith(kit + path.sep))
      findings.push(
        `unit test imports a part's test folder: ${rel(file)} imports ${path.relative(testRoot, target)}`,
      );
  }
}

// Cycles between files: Tarjan's strongly connected components.
let index = 0;
const idx = new Map<string, number>();
const low = new Map<string, number>();
const stack: string[] = [];
const onStack = new Set<string>();
function connect(v: string): void {
  idx.set(v, index);
  low.set(v, index);
  index++;
  stack.push(v);
  onStack.add(v);
  for (const w of graph.get(v) ?? []) {
    if (!graph.has(w)) continue;
    if (!idx.has(w)) {
      connect(w);
      low.set(v, Math.min(low.get(v)!, low.get(w)!));
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
  }
  if (low.get(v) === idx.get(v)) {
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(rel(w));
    } while (w !== v);
    if (component.length > 1) findings.push(`import cycle: ${component.sort().join(' <-> ')}`);
  }
}
for (const v of graph.keys()) if (!idx.has(v)) connect(v);

if (findings.length > 0) {
  for (const f of findings) process.stderr.write(`${f}\n`);
  process.exit(1);
}
process.stdout.write(
  `imports: ${files.length} files, no cycle, no import against the direction; unit tests use only the test kit\n`,
);
