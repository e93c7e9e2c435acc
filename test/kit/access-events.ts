/**
 * The event part of the test kit: access events as the gateway emits them, at fixed times after `T0`, for
 * detectors, discovery and the watch loop. Starts nothing, so unit tests beside the code may use it.
 */
import type { AccessEvent } from '../../src/core/events.ts';

export const T0 = Date.UTC(2026, 2, 1, 10, 0, 0);
let n = 0;

/** An access event as the gateway emits it, at `T0 + atMs`, with overrides. */
export function access(atMs: number, more: Partial<AccessEvent> & Record<string, unknown> = {}): AccessEvent {
  n++;
  return {
    '@timestamp': new Date(T0 + atMs).toISOString(),
    'event.kind': 'event',
    'event.category': 'web',
    'event.type': 'access',
    'event.action': 'http-request',
    'http.request.id': `req-${n}`,
    'http.request.method': 'GET',
    'http.route': '/orders/{orderId}',
    'url.path': '/orders/1',
    'http.response.status_code': 200,
    'client.address': '203.0.113.7',
    'portcullis.api': 'shop',
    'portcullis.operation_id': 'getOrder',
    'portcullis.decision': 'allow',
    ...more,
  } as AccessEvent;
}

/** `user.id` + the order id in path and params, as for GET /orders/{orderId}. */
export function getOrder(atMs: number, user: string, orderId: string | number, status = 200): AccessEvent {
  return access(atMs, {
    'user.id': user,
    'url.path': `/orders/${orderId}`,
    'portcullis.path_params': { orderId: String(orderId) },
    'http.response.status_code': status,
    'portcullis.decision': status === 200 ? 'allow' : 'upstream',
  });
}
