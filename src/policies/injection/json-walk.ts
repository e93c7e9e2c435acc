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
  // Entries are [value, pointer of the parent, key]; a leaf's own pointer is only built when it is needed.
  const stack: Array<[unknown, string, string | null]> = [[root, '', null]];
  while (stack.length > 0 && findings.length < max) {
    const [value, parent, key] = stack.pop()!;
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
        for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], here, String(i)]);
        continue;
      }
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const name = keys[i];
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
        stack.push([(value as Record<string, unknown>)[name], here, token]);
      }
    }
  }
  return findings;
}
