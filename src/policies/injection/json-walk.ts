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
  const findings: JsonFinding[] = [];
  // Three stacks side by side (no tuple per value): the value, the pointer of its parent, and its key (an
  // escaped token, an array index, or null for the root). A pointer is only built when it is needed.
  const values: unknown[] = [root];
  const parents: string[] = [''];
  const keys: Array<string | number | null> = [null];
  while (values.length > 0 && findings.length < max) {
    const value = values.pop();
    const parent = parents.pop() as string;
    const key = keys.pop() as string | number | null;
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
          values.push(value[i]);
          parents.push(here);
          keys.push(i);
        }
        continue;
      }
      const names = Object.keys(value);
      for (let i = names.length - 1; i >= 0; i--) {
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
        values.push((value as Record<string, unknown>)[name]);
        parents.push(here);
        keys.push(token);
      }
    }
  }
  return findings;
}
