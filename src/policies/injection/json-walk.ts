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
  const stack: Array<[unknown, string]> = [[root, '']];
  while (stack.length > 0 && findings.length < max) {
    const [value, pointer] = stack.pop()!;
    if (typeof value === 'string') {
      const only = classesAt?.(pointer);
      if (only !== undefined && only.size === 0) continue;
      const cls = detector.scanValue(value, only);
      if (cls !== undefined) findings.push({ pointer, class: cls });
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push([value[i], `${pointer}/${i}`]);
    } else if (value !== null && typeof value === 'object') {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i];
        const child = `${pointer}/${escapePointer(key)}`;
        const only = classesAt?.(child);
        if (only === undefined || only.size > 0) {
          const cls = detector.scanKey(key, only);
          if (cls !== undefined) {
            findings.push({ pointer: child, class: cls });
            continue;
          }
        }
        stack.push([(value as Record<string, unknown>)[key], child]);
      }
    }
  }
  return findings;
}
