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

/** An object schema: the only part of it the helpers below read is `properties`. */
interface ObjectSchema {
  readonly properties: { readonly [field: string]: unknown };
}

/** The fields of `S` that have a `default`. */
type DefaultedField<S extends ObjectSchema> = {
  [K in keyof S['properties']]: S['properties'][K] extends { readonly default: unknown } ? K : never;
}[keyof S['properties']];

/** `C` (a block of schema `S`) with every field that `S` gives a default present. */
export type WithDefaults<C, S extends ObjectSchema> = C & {
  readonly [K in DefaultedField<S> & keyof C]-?: Exclude<C[K], undefined>;
};

const defaultsCache = new WeakMap<object, ReadonlyArray<readonly [string, unknown]>>();

function defaultEntries(schema: ObjectSchema): ReadonlyArray<readonly [string, unknown]> {
  let entries = defaultsCache.get(schema);
  if (entries === undefined) {
    entries = Object.entries(schema.properties)
      .filter(([, s]) => typeof s === 'object' && s !== null && 'default' in s)
      .map(([field, s]) => [field, (s as { default: unknown }).default] as const);
    defaultsCache.set(schema, entries);
  }
  return entries;
}

/**
 * The `default` of each field of `schema` that has one: the one place defaults are written. `C` is the
 * policy's `ConfigOf<typeof schema>`.
 */
export function defaultsOf<C extends PolicyConfigBase>(schema: ObjectSchema): Omit<C, 'mode'> {
  return Object.fromEntries(defaultEntries(schema)) as Omit<C, 'mode'>;
}

/**
 * `config` with the schema's `default` for each field it leaves out, one level deep (a copy; defaults that
 * are objects or lists are copied too). For a block no validation has filled: a verifier's own block built
 * directly (tests), or a block read before the gateway fills the defaults (`wellKnown`). A block the gateway
 * compiled already has them all, and comes back equal.
 */
export function withDefaults<S extends ObjectSchema, C extends object>(
  schema: S,
  config: C,
): WithDefaults<C, S> {
  const out = { ...config } as Record<string, unknown>;
  for (const [field, value] of defaultEntries(schema)) {
    if (out[field] === undefined) out[field] = typeof value === 'object' ? structuredClone(value) : value;
  }
  return out as WithDefaults<C, S>;
}
