/**
 * A policy's config is written once, as its JSON Schema (`as const`, each field with its `default`): the
 * TypeScript type and the defaults object are derived from it, so the schema Ajv validates against, the
 * type `compile` receives and the defaults the docs print cannot drift apart. Type-only use of
 * json-schema-to-ts (a devDependency): nothing of it runs.
 *
 * ```ts
 * export const schema = { type: 'object', additionalProperties: false,
 *   properties: { maxUrls: { type: 'integer', minimum: 1, default: 20 } } } as const;
 * export type MyConfig = ConfigOf<typeof schema>;   // { mode: 'enforce' | 'report'; maxUrls: number }
 * export const defaults = defaultsOf<MyConfig>(schema); // { maxUrls: 20 }, typed Omit<MyConfig, 'mode'>
 * ```
 */
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { PolicyConfigBase } from './policy.ts';

/**
 * The config a policy compiles from: the schema's fields after validation filled in the defaults (a field
 * with a `default` is always present) plus `mode`, which the config schema adds to every policy. Use it on
 * a concrete `typeof schema` only: on a type parameter json-schema-to-ts cannot finish.
 */
export type ConfigOf<S extends JSONSchema> = FromSchema<S> & PolicyConfigBase;

/**
 * Like `ConfigOf`, but a field with a default may be absent: for a config that may also come from the
 * spec (an operation extension), which no defaults fill.
 */
export type SparseConfigOf<S extends JSONSchema> = FromSchema<S, { keepDefaultedPropertiesOptional: true }> &
  PolicyConfigBase;

/**
 * The `default` of each field of `schema` that has one: the one place defaults are written. `C` is the
 * policy's `ConfigOf<typeof schema>`.
 */
export function defaultsOf<C extends PolicyConfigBase>(schema: {
  readonly properties: { readonly [field: string]: unknown };
}): Omit<C, 'mode'> {
  const out: Record<string, unknown> = {};
  for (const [field, s] of Object.entries(schema.properties)) {
    if (typeof s === 'object' && s !== null && 'default' in s) out[field] = s.default;
  }
  return out as Omit<C, 'mode'>;
}
