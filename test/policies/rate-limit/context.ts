import type { IncomingMessage, ServerResponse } from 'node:http';
import { pino } from 'pino';
import type { ApiDocument, Operation } from '../../../src/core/api-document.ts';
import type { Clock } from '../../../src/core/clock.ts';
import type { SecurityEvent } from '../../../src/core/events.ts';
import type { Exchange, Principal } from '../../../src/core/exchange.ts';
import { createMetrics } from '../../../src/core/metrics.ts';
import type { CompileContext } from '../../../src/core/policy.ts';
import { createSharedServices } from '../../../src/core/shared-services.ts';
import type { StateStore } from '../../../src/state/store.ts';

/** A per-snapshot shared registry: the gateway's own. */
export const createShared = createSharedServices;

export function operation(id = 'getThing', extensions: Record<string, unknown> = {}): Operation {
  return {
    id,
    hasDeclaredId: true,
    method: 'GET',
    path: '/things/{id}',
    tags: [],
    deprecated: false,
    parameters: [],
    requestBody: undefined,
    responses: {},
    security: undefined,
    extensions: extensions as Operation['extensions'],
    pointer: '/paths/~1things~1{id}/get',
  };
}

export function spec(ops: Operation[] = [operation()], root: Record<string, unknown> = {}): ApiDocument {
  return {
    file: '/dev/null',
    sourceVersion: '3.1' as ApiDocument['sourceVersion'],
    doc: { openapi: '3.1.0', ...root } as ApiDocument['doc'],
    title: 't',
    version: '1',
    operations: ops,
    securitySchemes: {},
    resolve: () => undefined,
    lineOf: () => undefined,
  };
}

/** A compile context over a real store, recording emitted events. */
export function context(store: StateStore, clock: Clock, op: Operation = operation()) {
  const events: SecurityEvent[] = [];
  const shared = createShared();
  const ctx: CompileContext = {
    apiName: 'things',
    spec: spec([op]),
    operation: op,
    clock,
    logger: pino({ level: 'silent' }),
    events: { emit: (e) => events.push(e) },
    store,
    metrics: createMetrics(),
    shared,
  };
  return { ctx, events, shared };
}

let seq = 0;
/** An exchange as the gateway builds it, for driving a handler directly. */
export function exchange(
  opts: {
    ip?: string;
    headers?: Record<string, string>;
    principal?: Partial<Principal>;
    op?: Operation;
  } = {},
): Exchange {
  const op = opts.op ?? operation();
  return {
    id: `req-${++seq}`,
    req: { headers: opts.headers ?? {} } as IncomingMessage,
    res: {} as ServerResponse,
    startedAt: 0,
    clientIp: opts.ip ?? '203.0.113.7',
    scheme: 'http',
    host: 'localhost',
    path: '/things/1',
    rawQuery: '',
    route: { api: 'things', spec: spec([op]), operation: op, pathParams: { id: '1' } },
    principal:
      opts.principal === undefined
        ? undefined
        : {
            subject: 'sub-1',
            scopes: new Set(),
            roles: new Set(),
            claims: {},
            method: 'jwt',
            schemes: [],
            ...opts.principal,
          },
    upstreamHeaders: {},
    responseHeaders: {},
    reported: [],
  };
}
