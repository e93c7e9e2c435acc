import type { ServerResponse } from 'node:http';
import { type Problem, problemBody } from './problems.ts';

/**
 * The one writer of JSON and problem (RFC 9457) answers, for the gateway and the admin listener alike:
 * exact length, `no-store`, `nosniff`, and no body for HEAD.
 */
export function writeJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<Record<string, string | string[]>> = {},
  contentType = 'application/json; charset=utf-8',
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    ...headers,
    'content-type': contentType,
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}

/** Writes a problem; `instance` is the request id it names (`urn:portcullis:request:<id>`). */
export function writeProblem(
  res: ServerResponse,
  p: Problem,
  instance: string,
  headers: Readonly<Record<string, string | string[]>> = {},
): void {
  const text = problemBody(p, instance);
  res.writeHead(p.problem.status, {
    ...headers,
    ...p.headers,
    'content-type': 'application/problem+json',
    'content-length': String(Buffer.byteLength(text)),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(res.req?.method === 'HEAD' ? undefined : text);
}
