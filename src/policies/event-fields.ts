import type { Exchange } from '../core/exchange.ts';

/**
 * The request fields every policy's security event carries (ECS / OpenTelemetry names), so events from
 * different policies can be filtered and joined alike.
 */
export function requestEventFields(ex: Exchange): Record<string, unknown> {
  return {
    'http.request.id': ex.id,
    'http.request.method': ex.req.method,
    'url.path': ex.path,
    'http.route': ex.route.operation.path,
    'source.ip': ex.clientIp,
    'client.address': ex.clientIp,
    'portcullis.api': ex.route.api,
    'portcullis.operation_id': ex.route.operation.id,
  };
}
