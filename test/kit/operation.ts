/**
 * Hand-made operations and API documents, for tests that set operation extensions directly (rate limits,
 * concurrency, ban, discovery), with a compile context and an exchange on them made by the kit
 * (test/kit/policy.ts). Starts nothing, so unit tests beside the code may use it.
 */
import type { ApiDocument, Operation } from '../../src/core/api-document.ts';
import type { Clock } from '../../src/core/clock.ts';
import type { Exchange, Principal } from '../../src/core/exchange.ts';
import type { StateStore } from '../../src/state/store.ts';
import { createTestContext, exchangeOf } from './policy.ts';

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

/** A compile context over a real store for one hand-made operation, recording emitted events. */
export function context(store: StateStore, clock: Clock, op: Operation = operation()) {
  const t = createTestContext(spec([op]), { store, clock, apiName: 'things' });
  return { ctx: t.ctx(op.id), events: t.events, shared: t.shared };
}

/** An exchange for `op` (default: GET /things/1) as the gateway builds it, for driving a handler directly. */
export function exchange(
  opts: {
    ip?: string;
    headers?: Record<string, string>;
    principal?: Partial<Principal>;
    op?: Operation;
  } = {},
): Exchange {
  const op = opts.op ?? operation();
  return exchangeOf(
    { apiName: 'things', spec: spec([op]), operation: op },
    { url: '/things/1', headers: opts.headers, clientIp: opts.ip, principal: opts.principal, startedAt: 0 },
  );
}
