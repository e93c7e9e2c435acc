import type { JsonObject } from '../core/api-document.ts';

/**
 * Converts a Swagger 2.0 document to OpenAPI 3.0.3, keeping what a gateway and a scanner need: servers,
 * parameters, request bodies (body and formData), responses with content, security schemes and
 * definitions. Refs to `#/definitions/X` become `#/components/schemas/X`.
 */
export function convertSwagger2(src: JsonObject): JsonObject {
  const consumes = asStrings(src.consumes) ?? ['application/json'];
  const produces = asStrings(src.produces) ?? ['application/json'];
  const out: JsonObject = {
    openapi: '3.0.3',
    info: src.info ?? { title: 'API', version: '0' },
    servers: servers(src),
    paths: {},
    components: {
      schemas: rewriteRefs(src.definitions ?? {}),
      parameters: {},
      responses: {},
      securitySchemes: securitySchemes(src.securityDefinitions as JsonObject | undefined),
    },
  };
  copyExtensions(src, out);
  if (src.security !== undefined) out.security = src.security;
  if (src.tags !== undefined) out.tags = src.tags;
  if (src.externalDocs !== undefined) out.externalDocs = src.externalDocs;

  const components = out.components as JsonObject;
  // Top-level body/formData parameters have no 3.0 equivalent: they are inlined where used.
  const globalParams = (src.parameters ?? {}) as Record<string, JsonObject>;
  for (const [name, p] of Object.entries(globalParams)) {
    if (p.in !== 'body' && p.in !== 'formData') (components.parameters as JsonObject)[name] = convertParam(p);
  }
  for (const [name, r] of Object.entries((src.responses ?? {}) as Record<string, JsonObject>)) {
    (components.responses as JsonObject)[name] = convertResponse(r, produces);
  }

  const resolveParam = (p: JsonObject): JsonObject => {
    const ref = p.$ref;
    if (typeof ref === 'string' && ref.startsWith('#/parameters/')) {
      const target = globalParams[decodePointerToken(ref.slice('#/parameters/'.length))];
      if (target && (target.in === 'body' || target.in === 'formData')) return target;
    }
    return p;
  };

  for (const [path, item] of Object.entries((src.paths ?? {}) as Record<string, JsonObject>)) {
    const newItem: JsonObject = {};
    const pathParams = ((item.parameters ?? []) as JsonObject[]).map(resolveParam);
    copyExtensions(item, newItem);
    const plainPathParams = pathParams.filter((p) => p.in !== 'body' && p.in !== 'formData');
    if (plainPathParams.length > 0) newItem.parameters = plainPathParams.map(convertParam);
    for (const method of ['get', 'put', 'post', 'delete', 'options', 'head', 'patch']) {
      const op = item[method] as JsonObject | undefined;
      if (op === undefined) continue;
      const opParams = ((op.parameters ?? []) as JsonObject[]).map(resolveParam);
      const all = [...pathParams, ...opParams];
      const newOp: JsonObject = {};
      for (const [k, v] of Object.entries(op)) {
        if (
          k === 'parameters' ||
          k === 'responses' ||
          k === 'consumes' ||
          k === 'produces' ||
          k === 'schemes'
        )
          continue;
        newOp[k] = v;
      }
      const params = opParams.filter((p) => p.in !== 'body' && p.in !== 'formData').map(convertParam);
      if (params.length > 0) newOp.parameters = params;
      const opConsumes = asStrings(op.consumes) ?? consumes;
      const body = all.find((p) => p.in === 'body');
      const form = all.filter((p) => p.in === 'formData');
      if (body !== undefined) {
        const content: JsonObject = {};
        for (const mt of opConsumes) content[mt] = { schema: rewriteRefs(body.schema ?? {}) };
        newOp.requestBody = {
          content,
          required: body.required === true,
          ...(body.description ? { description: body.description } : {}),
        };
      } else if (form.length > 0) {
        const properties: JsonObject = {};
        const required: string[] = [];
        for (const f of form) {
          properties[f.name as string] =
            f.type === 'file' ? { type: 'string', format: 'binary' } : schemaOf(f);
          if (f.required === true) required.push(f.name as string);
        }
        const hasFile = form.some((f) => f.type === 'file');
        const types = opConsumes.filter((c) => c.includes('form'));
        const mts =
          types.length > 0 ? types : [hasFile ? 'multipart/form-data' : 'application/x-www-form-urlencoded'];
        const content: JsonObject = {};
        for (const mt of mts) {
          content[mt] = { schema: { type: 'object', properties, ...(required.length ? { required } : {}) } };
        }
        newOp.requestBody = { content, required: required.length > 0 };
      }
      const opProduces = asStrings(op.produces) ?? produces;
      const responses: JsonObject = {};
      for (const [code, r] of Object.entries((op.responses ?? {}) as Record<string, JsonObject>)) {
        responses[code] = convertResponse(r, opProduces);
      }
      newOp.responses = responses;
      newItem[method] = newOp;
    }
    (out.paths as JsonObject)[path] = newItem;
  }
  return out;
}

function servers(src: JsonObject): JsonObject[] {
  const host = typeof src.host === 'string' ? src.host : undefined;
  const basePath = typeof src.basePath === 'string' ? src.basePath : '';
  const schemes = asStrings(src.schemes) ?? ['https'];
  if (host === undefined) return [{ url: basePath || '/' }];
  return schemes.map((s) => ({ url: `${s}://${host}${basePath}` }));
}

const SCHEMA_KEYS = [
  'type',
  'format',
  'items',
  'collectionFormat',
  'default',
  'maximum',
  'exclusiveMaximum',
  'minimum',
  'exclusiveMinimum',
  'maxLength',
  'minLength',
  'pattern',
  'maxItems',
  'minItems',
  'uniqueItems',
  'enum',
  'multipleOf',
];

function schemaOf(p: JsonObject): JsonObject {
  const schema: JsonObject = {};
  for (const k of SCHEMA_KEYS) if (k !== 'collectionFormat' && p[k] !== undefined) schema[k] = p[k];
  if (schema.items !== undefined) schema.items = rewriteRefs(schema.items);
  return schema;
}

function convertParam(p: JsonObject): JsonObject {
  if (typeof p.$ref === 'string')
    return { $ref: p.$ref.replace('#/parameters/', '#/components/parameters/') };
  const out: JsonObject = { name: p.name, in: p.in };
  if (p.description !== undefined) out.description = p.description;
  if (p.required !== undefined) out.required = p.required;
  copyExtensions(p, out);
  out.schema = schemaOf(p);
  // collectionFormat → style/explode (OpenAPI 3.0 §4.7.12.4)
  switch (p.collectionFormat) {
    case 'multi':
      out.style = 'form';
      out.explode = true;
      break;
    case 'ssv':
      out.style = 'spaceDelimited';
      out.explode = false;
      break;
    case 'pipes':
      out.style = 'pipeDelimited';
      out.explode = false;
      break;
    case 'csv':
    case undefined:
      if (p.type === 'array') {
        out.style = p.in === 'query' || p.in === 'cookie' ? 'form' : 'simple';
        out.explode = false;
      }
      break;
  }
  return out;
}

function convertResponse(r: JsonObject, produces: string[]): JsonObject {
  if (typeof r.$ref === 'string') return { $ref: r.$ref.replace('#/responses/', '#/components/responses/') };
  const out: JsonObject = { description: r.description ?? '' };
  copyExtensions(r, out);
  if (r.schema !== undefined) {
    const content: JsonObject = {};
    for (const mt of produces) content[mt] = { schema: rewriteRefs(r.schema) };
    out.content = content;
  }
  if (r.headers !== undefined) {
    const headers: JsonObject = {};
    for (const [name, h] of Object.entries(r.headers as Record<string, JsonObject>)) {
      headers[name] = { schema: schemaOf(h), ...(h.description ? { description: h.description } : {}) };
    }
    out.headers = headers;
  }
  return out;
}

function securitySchemes(defs: JsonObject | undefined): JsonObject {
  const out: JsonObject = {};
  for (const [name, d] of Object.entries((defs ?? {}) as Record<string, JsonObject>)) {
    if (d.type === 'basic') out[name] = { type: 'http', scheme: 'basic' };
    else if (d.type === 'apiKey') out[name] = { type: 'apiKey', name: d.name, in: d.in };
    else if (d.type === 'oauth2') {
      const scopes = d.scopes ?? {};
      const flowName =
        d.flow === 'implicit'
          ? 'implicit'
          : d.flow === 'password'
            ? 'password'
            : d.flow === 'application'
              ? 'clientCredentials'
              : 'authorizationCode';
      const flow: JsonObject = { scopes };
      if (d.authorizationUrl !== undefined) flow.authorizationUrl = d.authorizationUrl;
      if (d.tokenUrl !== undefined) flow.tokenUrl = d.tokenUrl;
      out[name] = { type: 'oauth2', flows: { [flowName]: flow } };
    } else out[name] = { ...d };
    if (d.description !== undefined) (out[name] as JsonObject).description = d.description;
  }
  return out;
}

function rewriteRefs(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(rewriteRefs);
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value as JsonObject)) {
    if (k === '$ref' && typeof v === 'string') out[k] = v.replace('#/definitions/', '#/components/schemas/');
    else if (k === 'x-nullable' && v === true) out.nullable = true;
    else out[k] = rewriteRefs(v);
  }
  return out;
}

function copyExtensions(from: JsonObject, to: JsonObject): void {
  for (const [k, v] of Object.entries(from)) if (k.startsWith('x-')) to[k] = v;
}

function asStrings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x) => typeof x === 'string') ? v : undefined;
}

function decodePointerToken(t: string): string {
  return t.replace(/~1/g, '/').replace(/~0/g, '~');
}
