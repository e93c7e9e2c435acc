import type { JsonObject } from '../core/api-document.ts';

/**
 * Renders the config reference (Markdown) from the JSON Schema: one table row per setting, with its
 * path, type, default and description. The schema is the single source; this page is generated.
 */
export function renderConfigReference(schema: JsonObject): string {
  const rows: string[] = [];
  const defs = (schema.definitions ?? {}) as Record<string, JsonObject>;
  const deref = (s: JsonObject): JsonObject =>
    typeof s.$ref === 'string' ? (defs[s.$ref.replace('#/definitions/', '')] ?? s) : s;

  const typeOf = (s: JsonObject): string => {
    if (s.enum) return (s.enum as unknown[]).map((v) => `\`${JSON.stringify(v)}\``).join(' or ');
    if (s.const !== undefined) return `\`${JSON.stringify(s.const)}\``;
    if (s.type === 'array') return `list of ${typeOf(deref((s.items ?? {}) as JsonObject))}`;
    return String(s.type ?? 'object');
  };
  const cell = (v: string) => v.replace(/\|/g, '\\|').replace(/\n/g, ' ');

  const walk = (s0: JsonObject, path: string, seen: Set<JsonObject>) => {
    const s = deref(s0);
    if (seen.has(s) && path.includes('operations')) return;
    const description = (s0.description ?? s.description ?? '') as string;
    if (path) {
      const dflt = s0.default ?? s.default ?? s0['x-default'] ?? s['x-default'];
      const d = dflt === undefined ? '' : `\`${JSON.stringify(dflt)}\``;
      rows.push(`| \`${path}\` | ${cell(typeOf(s))} | ${d} | ${cell(description)} |`);
    }
    const next = new Set(seen).add(s);
    for (const [k, v] of Object.entries((s.properties ?? {}) as Record<string, JsonObject>)) {
      if (k === '$schema') continue;
      walk(v, path ? `${path}.${k}` : k, next);
    }
    if (s.type === 'array' && s.items) {
      const items = deref(s.items as JsonObject);
      if (items.properties) walk(items, `${path}[]`, next);
    }
    if (s.additionalProperties && typeof s.additionalProperties === 'object') {
      walk(
        s.additionalProperties as JsonObject,
        `${path}.<${path.endsWith('operations') ? 'operationId' : 'name'}>`,
        next,
      );
    }
  };
  walk(schema, '', new Set());
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from the JSON Schema by `npm run config:reference`; do not edit by hand. -->',
    '',
    'Portcullis reads one YAML file (`portcullis serve --config FILE`). Strings may use `${VAR}` and',
    '`${VAR:-default}` (environment variables; `$${` for a literal `${`). Unknown keys are errors.',
    'Check a file offline with `portcullis config check FILE`. The JSON Schema is',
    '[`schema/portcullis.schema.json`](../schema/portcullis.schema.json); point your editor at it with',
    '`# yaml-language-server: $schema=<path>/schema/portcullis.schema.json` for completion.',
    '',
    '| Setting | Type | Default | Description |',
    '| --- | --- | --- | --- |',
    ...rows,
    '',
  ].join('\n');
}
