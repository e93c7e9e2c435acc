import type { ApiDocument, JsonObject } from '../../core/api-document.ts';
import { isUndeclaredDecision } from '../../core/decisions.ts';
import type { SecurityEvent } from '../../core/events.ts';
import { boundKey } from '../detectors/detector.ts';
import { createShape, mergeShape, type Shape, shapeToSchema } from './shape.ts';
import { templatePath } from './template.ts';

export interface DiscoveryConfig {
  enabled: boolean;
  /** Endpoints learned at most; traffic to further new endpoints is only counted. */
  maxEndpoints: number;
  /** Properties learned per JSON object (the rest are counted, not kept). */
  maxShapeProperties: number;
  /** Nesting depth learned in JSON bodies. */
  maxShapeDepth: number;
}

export const discoveryDefaults: DiscoveryConfig = {
  enabled: true,
  maxEndpoints: 2000,
  maxShapeProperties: 100,
  maxShapeDepth: 8,
};

/** One endpoint seen in traffic: method + path template of one API. */
export interface ObservedEndpoint {
  api: string;
  method: string;
  /** The declared template when a declared operation matched, else the templated observed path. */
  path: string;
  declared: boolean;
  operationId?: string;
  requests: number;
  /** Count per status code. */
  statuses: Record<string, number>;
  firstSeen: string;
  lastSeen: string;
}

interface EndpointState extends ObservedEndpoint {
  request?: Shape;
  responses: Map<string, Shape>;
}

/** Differences between what the spec declares and what traffic shows. */
export interface DriftReport {
  api: string;
  /** Seen in traffic, not declared (shadow endpoints). */
  shadow: ObservedEndpoint[];
  /** Declared `deprecated` and still used (zombie endpoints). */
  zombie: Array<{ operationId: string; method: string; path: string; requests: number; lastSeen: string }>;
  /** Declared and never seen since the gateway started learning. */
  unused: Array<{ operationId: string; method: string; path: string; deprecated: boolean }>;
}

export interface Discovery {
  /** Learns from an access event (method, route or path, status). */
  observe(event: SecurityEvent): void;
  /**
   * Learns the JSON shape of a request or response body of an endpoint. `path` is the declared route
   * (`http.route`) when one matched, else the raw path (templated here).
   */
  observeBody(
    input: { api: string; method: string; path: string; declared: boolean },
    direction: 'request' | 'response',
    body: unknown,
    status?: number,
  ): void;
  endpoints(api?: string): ObservedEndpoint[];
  /** New endpoints that could not be kept because `maxEndpoints` was reached (their requests). */
  overflow(): number;
  /** The learned endpoints as an OpenAPI 3.1 document. */
  toOpenApi(opts?: { api?: string; onlyUndeclared?: boolean; title?: string }): JsonObject;
  drift(api: string, spec: ApiDocument): DriftReport;
}

function endpointKey(api: string, method: string, path: string): string {
  return boundKey(`${api}\u0000${method}\u0000${path}`);
}

/**
 * Learns the API surface from live traffic: endpoints with ids templated, JSON shapes of bodies (bounded),
 * exported as OpenAPI 3.1 and compared with the declared spec.
 *
 * @example
 * const discovery = createDiscovery(discoveryDefaults);
 * sink.subscribe((e) => discovery.observe(e));
 * discovery.drift('shop', spec).shadow; // endpoints used but not declared
 */
export function createDiscovery(cfg: DiscoveryConfig): Discovery {
  const endpoints = new Map<string, EndpointState>();
  let overflow = 0;

  function endpoint(
    api: string,
    method: string,
    path: string,
    declared: boolean,
    at: string,
  ): EndpointState | undefined {
    const key = endpointKey(api, method, path);
    let s = endpoints.get(key);
    if (s === undefined) {
      if (endpoints.size >= cfg.maxEndpoints) {
        overflow++;
        return undefined;
      }
      s = {
        api,
        method,
        path,
        declared,
        requests: 0,
        statuses: {},
        firstSeen: at,
        lastSeen: at,
        responses: new Map(),
      };
      endpoints.set(key, s);
    }
    return s;
  }

  function learn(shape: Shape | undefined, body: unknown): Shape {
    const s = shape ?? createShape();
    mergeShape(s, body, cfg.maxShapeDepth, cfg.maxShapeProperties);
    return s;
  }

  function publicView(s: EndpointState): ObservedEndpoint {
    const { request: _r, responses: _s, ...rest } = s;
    return { ...rest, statuses: { ...rest.statuses } };
  }

  return {
    observe(e) {
      if (!cfg.enabled || e['event.type'] !== 'access' || e['event.category'] !== 'web') return;
      const method = typeof e['http.request.method'] === 'string' ? e['http.request.method'] : 'GET';
      const api = typeof e['portcullis.api'] === 'string' ? e['portcullis.api'] : '';
      const route = e['http.route'];
      const declared = typeof route === 'string' && !isUndeclaredDecision(e['portcullis.decision']);
      let path: string;
      if (declared) path = route as string;
      else if (typeof e['url.path'] === 'string') path = templatePath(e['url.path']);
      else return;
      const s = endpoint(api, method, path, declared, e['@timestamp']);
      if (!s) return;
      s.requests++;
      s.lastSeen = e['@timestamp'];
      if (declared && typeof e['portcullis.operation_id'] === 'string')
        s.operationId = e['portcullis.operation_id'];
      const status = e['http.response.status_code'];
      if (typeof status === 'number') {
        const k = String(status);
        // Status codes are 100..599, so this map has at most 500 keys.
        if (status >= 100 && status <= 599) s.statuses[k] = (s.statuses[k] ?? 0) + 1;
      }
    },
    observeBody(input, direction, body, status) {
      if (!cfg.enabled) return;
      const path = input.declared ? input.path : templatePath(input.path);
      const s = endpoint(input.api, input.method, path, input.declared, new Date().toISOString());
      if (!s) return;
      if (direction === 'request') s.request = learn(s.request, body);
      else {
        const k = status === undefined ? 'default' : String(status);
        if (!s.responses.has(k) && s.responses.size >= 20) return;
        s.responses.set(k, learn(s.responses.get(k), body));
      }
    },
    endpoints(api) {
      return [...endpoints.values()].filter((s) => api === undefined || s.api === api).map(publicView);
    },
    overflow: () => overflow,
    toOpenApi(opts = {}) {
      const paths: Record<string, Record<string, JsonObject>> = {};
      for (const s of endpoints.values()) {
        if (opts.api !== undefined && s.api !== opts.api) continue;
        if (opts.onlyUndeclared && s.declared) continue;
        const params = [...s.path.matchAll(/\{([^}]+)\}/g)].map((m) => ({
          name: m[1],
          in: 'path',
          required: true,
          schema: /^id\d*$/.test(m[1])
            ? { type: 'integer' }
            : /^uuid\d*$/.test(m[1])
              ? { type: 'string', format: 'uuid' }
              : /^email\d*$/.test(m[1])
                ? { type: 'string', format: 'email' }
                : { type: 'string' },
        }));
        const responses: Record<string, JsonObject> = {};
        for (const code of Object.keys(s.statuses).sort()) {
          const shape = s.responses.get(code);
          responses[code] = {
            description: `Seen ${s.statuses[code]} times`,
            ...(shape ? { content: { 'application/json': { schema: shapeToSchema(shape) } } } : {}),
          };
        }
        for (const [code, shape] of s.responses)
          responses[code] ??= {
            description: 'Seen in traffic',
            content: { 'application/json': { schema: shapeToSchema(shape) } },
          };
        if (Object.keys(responses).length === 0) responses.default = { description: 'Not observed' };
        const operation: JsonObject = {
          ...(s.operationId ? { operationId: s.operationId } : {}),
          summary: `${s.declared ? 'Declared' : 'Undeclared'} endpoint seen ${s.requests} times`,
          ...(params.length > 0 ? { parameters: params } : {}),
          ...(s.request
            ? { requestBody: { content: { 'application/json': { schema: shapeToSchema(s.request) } } } }
            : {}),
          responses,
          'x-portcullis-observed': {
            api: s.api,
            declared: s.declared,
            requests: s.requests,
            firstSeen: s.firstSeen,
            lastSeen: s.lastSeen,
          },
        };
        paths[s.path] ??= {};
        paths[s.path][s.method.toLowerCase()] = operation;
      }
      return {
        openapi: '3.1.0',
        info: {
          title: opts.title ?? `Discovered API${opts.api ? ` (${opts.api})` : ''}`,
          version: new Date().toISOString().slice(0, 10),
          description: 'Learned by Portcullis from live traffic; ids in paths are templated.',
        },
        paths,
      };
    },
    drift(api, spec) {
      const seen = new Map<string, EndpointState>();
      const shadow: ObservedEndpoint[] = [];
      for (const s of endpoints.values()) {
        if (s.api !== api) continue;
        if (s.declared) seen.set(`${s.method} ${s.path}`, s);
        else shadow.push(publicView(s));
      }
      const zombie: DriftReport['zombie'] = [];
      const unused: DriftReport['unused'] = [];
      for (const op of spec.operations) {
        const s = seen.get(`${op.method} ${op.path}`);
        if (s === undefined)
          unused.push({ operationId: op.id, method: op.method, path: op.path, deprecated: op.deprecated });
        else if (op.deprecated)
          zombie.push({
            operationId: op.id,
            method: op.method,
            path: op.path,
            requests: s.requests,
            lastSeen: s.lastSeen,
          });
      }
      shadow.sort((a, b) => b.requests - a.requests);
      return { api, shadow, zombie, unused };
    },
  };
}
