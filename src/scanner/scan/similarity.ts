/** How alike two responses are, for judging whether identity B saw what identity A sees. */

function flatten(value: unknown, prefix: string, out: Set<string>, depth: number): void {
  if (out.size > 5000 || depth > 8) return;
  if (value !== null && typeof value === 'object') {
    for (const [k, v] of Object.entries(value as Record<string, unknown>))
      flatten(v, `${prefix}/${k}`, out, depth + 1);
    return;
  }
  out.add(`${prefix}=${JSON.stringify(value)}`);
}

/** Jaccard similarity (0..1) of the flattened `pointer=value` pairs of two JSON values; texts compare equal or not. */
export function similarity(a: unknown, b: unknown): number {
  if (typeof a === 'string' || typeof b === 'string') return a === b ? 1 : 0;
  const sa = new Set<string>();
  const sb = new Set<string>();
  flatten(a, '', sa, 0);
  flatten(b, '', sb, 0);
  if (sa.size === 0 && sb.size === 0) return 1;
  let common = 0;
  for (const x of sa) if (sb.has(x)) common++;
  return common / (sa.size + sb.size - common);
}
