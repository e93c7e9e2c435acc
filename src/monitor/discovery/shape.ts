import type { JsonObject } from '../../core/api-document.ts';

type JsonType = 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean' | 'null';

/** What was learned about the values seen at one place of a JSON document (bounded by depth and width). */
export interface Shape {
  samples: number;
  types: Set<JsonType>;
  /** Object members, by name, with how many object samples had them. */
  properties?: Map<string, { shape: Shape; seen: number }>;
  objects: number;
  /** Members not kept because the object already had `maxProperties` learned. */
  droppedProperties: number;
  items?: Shape;
  /** String format seen on every string sample so far (`undefined` once two differ). */
  format?: string | null;
}

const FORMATS: ReadonlyArray<[string, RegExp]> = [
  ['date-time', /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/],
  ['date', /^\d{4}-\d{2}-\d{2}$/],
  ['uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i],
  ['email', /^[^@\s]{1,64}@[^@\s]{1,255}$/],
  ['uri', /^https?:\/\/\S{1,2000}$/],
];

export function createShape(): Shape {
  return { samples: 0, types: new Set(), objects: 0, droppedProperties: 0 };
}

function typeOf(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  if (typeof v === 'string' || typeof v === 'boolean' || typeof v === 'object') return typeof v as JsonType;
  return 'null';
}

/** Folds one JSON value into a shape; work is bounded by `maxDepth`, `maxProperties` and 20 array items. */
export function mergeShape(shape: Shape, value: unknown, maxDepth: number, maxProperties: number): void {
  shape.samples++;
  const t = typeOf(value);
  shape.types.add(t);
  if (t === 'string') {
    const s = value as string;
    const f = s.length <= 2100 ? (FORMATS.find(([, re]) => re.test(s))?.[0] ?? null) : null;
    shape.format = shape.format === undefined ? f : shape.format === f ? f : null;
  }
  if (maxDepth <= 0) return;
  if (t === 'object') {
    shape.objects++;
    shape.properties ??= new Map();
    for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
      // Member names come from clients: keep them short.
      const k = name.length > 200 ? `${name.slice(0, 200)}…` : name;
      let p = shape.properties.get(k);
      if (p === undefined) {
        if (shape.properties.size >= maxProperties) {
          shape.droppedProperties++;
          continue;
        }
        p = { shape: createShape(), seen: 0 };
        shape.properties.set(k, p);
      }
      p.seen++;
      mergeShape(p.shape, v, maxDepth - 1, maxProperties);
    }
  } else if (t === 'array') {
    shape.items ??= createShape();
    const arr = value as unknown[];
    for (let i = 0; i < Math.min(arr.length, 20); i++)
      mergeShape(shape.items, arr[i], maxDepth - 1, maxProperties);
  }
}

/** JSON Schema (2020-12, as OpenAPI 3.1 uses) of what a shape learned. */
export function shapeToSchema(shape: Shape): JsonObject {
  const types = [...shape.types];
  // An integer seen where numbers are also seen is just a number.
  const merged = types.includes('number') ? types.filter((t) => t !== 'integer') : types;
  const out: JsonObject = {};
  if (merged.length === 1) out.type = merged[0];
  else if (merged.length > 1) out.type = merged.sort();
  if (shape.types.has('string') && typeof shape.format === 'string') out.format = shape.format;
  if (shape.properties) {
    const properties: JsonObject = {};
    const required: string[] = [];
    for (const [k, p] of shape.properties) {
      properties[k] = shapeToSchema(p.shape);
      if (p.seen === shape.objects) required.push(k);
    }
    out.properties = properties;
    if (required.length > 0) out.required = required;
  }
  if (shape.items && shape.items.samples > 0) out.items = shapeToSchema(shape.items);
  return out;
}
