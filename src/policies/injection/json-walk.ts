import type { Detector, InjectionClass } from './engine.ts';

/** One finding in a JSON document: where (RFC 6901 pointer) and what. */
export interface JsonFinding {
  readonly pointer: string;
  readonly class: InjectionClass;
}

function escapePointer(token: string): string {
  return token.indexOf('~') < 0 && token.indexOf('/') < 0
    ? token
    : token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The walk's stacks, kept between calls (a scan is synchronous and the detectors never call back into it):
 * the value, the pointer of its parent, and its key (an escaped token, an array index, or null for the root).
 * Slots are cleared as they are popped; stacks that grew past `KEEP_STACK` are dropped after the scan.
 */
interface Stacks {
  values: unknown[];
  parents: string[];
  keys: Array<string | number | null>;
  /** One object's key names, in Object.keys order (without its array). */
  names: string[];
}
const KEEP_STACK = 1024;
const newStacks = (): Stacks => ({ values: [], parents: [], keys: [], names: [] });
let spare: Stacks | undefined = newStacks();

/**
 * Scans every key and every string leaf of a parsed JSON value, depth first, iteratively (no recursion, so a
 * deeply nested body cannot overflow the stack). `classesAt` narrows the classes for a pointer (exclusions);
 * returning an empty set skips that value. Stops after `max` findings.
 */
export function scanJson(
  detector: Detector,
  root: unknown,
  classesAt?: (pointer: string) => ReadonlySet<InjectionClass> | undefined,
  max = 8,
): JsonFinding[] {
  const stacks = spare ?? newStacks();
  spare = undefined;
  try {
    return walk(stacks, detector, root, classesAt, max);
  } finally {
    // Slots stay allocated (no array per scan) but hold nothing from this body.
    stacks.values.fill(undefined);
    stacks.parents.fill('');
    stacks.keys.fill(null);
    stacks.names.fill('');
    if (stacks.values.length <= KEEP_STACK && stacks.names.length <= KEEP_STACK) spare = stacks;
  }
}

function walk(
  stacks: Stacks,
  detector: Detector,
  root: unknown,
  classesAt: ((pointer: string) => ReadonlySet<InjectionClass> | undefined) | undefined,
  max: number,
): JsonFinding[] {
  const findings: JsonFinding[] = [];
  const { values, parents, keys, names } = stacks;
  // A pointer is only built when it is needed.
  let top = 0;
  values[top] = root;
  parents[top] = '';
  keys[top] = null;
  top++;
  while (top > 0 && findings.length < max) {
    top--;
    const value = values[top];
    values[top] = undefined;
    const parent = parents[top];
    const key = keys[top];
    const isRoot = key === null;
    if (typeof value === 'string') {
      const pointer = isRoot ? '' : undefined;
      let only: ReadonlySet<InjectionClass> | undefined;
      if (classesAt !== undefined) {
        only = classesAt(pointer ?? `${parent}/${key}`);
        if (only !== undefined && only.size === 0) continue;
      }
      const cls = detector.scanValue(value, only);
      if (cls !== undefined) findings.push({ pointer: pointer ?? `${parent}/${key}`, class: cls });
    } else if (value !== null && typeof value === 'object') {
      const here = isRoot ? '' : `${parent}/${key}`;
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) {
          values[top] = value[i];
          parents[top] = here;
          keys[top] = i;
          top++;
        }
        continue;
      }
      // Own enumerable keys in Object.keys order, then taken last to first (so that they come off the stack
      // in document order).
      let n = 0;
      for (const name in value as Record<string, unknown>) if (Object.hasOwn(value, name)) names[n++] = name;
      for (let i = n - 1; i >= 0; i--) {
        const name = names[i];
        const token = escapePointer(name);
        let only: ReadonlySet<InjectionClass> | undefined;
        if (classesAt !== undefined) only = classesAt(`${here}/${token}`);
        if (only === undefined || only.size > 0) {
          const cls = detector.scanKey(name, only);
          if (cls !== undefined) {
            findings.push({ pointer: `${here}/${token}`, class: cls });
            continue;
          }
        }
        values[top] = (value as Record<string, unknown>)[name];
        parents[top] = here;
        keys[top] = token;
        top++;
      }
    }
  }
  return findings;
}
