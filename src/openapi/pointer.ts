/** JSON Pointer (RFC 6901) pieces shared by the document loader and the `$ref` index. */

/** One reference token, escaped and with its leading `/` (`a/b` → `/a~1b`). */
export function escapeToken(t: string | number): string {
  return `/${String(t).replaceAll('~', '~0').replaceAll('/', '~1')}`;
}

/** One reference token as it was before escaping (`a~1b` → `a/b`). */
export function unescapeToken(t: string): string {
  return t.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** The value the tokens lead to, through own members only (`constructor` names no inherited member). */
export function valueAt(root: unknown, tokens: readonly string[]): unknown {
  let cur = root;
  for (const t of tokens) {
    if (cur === null || typeof cur !== 'object' || !Object.hasOwn(cur, t)) return undefined;
    cur = (cur as Record<string, unknown>)[t];
  }
  return cur;
}
