/** Where an operation takes a URL from the client: query parameters and top-level JSON body fields. */
import type { ApiDocument, Operation } from '../../../core/api-document.ts';
import { isExcluded, isLoginOperation, jsonBodySchema } from '../planner.ts';
import { propertiesOf, resolveSchema } from '../schema.ts';

const URL_NAME = /(url|uri|link|href|callback|webhook|endpoint|redirect|feed|avatar|image_?src)$/i;
const URL_FORMAT = new Set(['uri', 'url', 'iri', 'uri-reference']);

export interface UrlInput {
  readonly operation: Operation;
  readonly in: 'query' | 'body';
  readonly name: string;
}

export function urlInputs(spec: ApiDocument): UrlInput[] {
  const out: UrlInput[] = [];
  for (const op of spec.operations) {
    if (isExcluded(op) || (op.method !== 'GET' && op.method !== 'POST') || isLoginOperation(spec, op))
      continue;
    for (const p of op.parameters) {
      if (p.in !== 'query') continue;
      const s = resolveSchema(spec, p.schema);
      if (URL_NAME.test(p.name) || URL_FORMAT.has(String(s.format)))
        out.push({ operation: op, in: 'query', name: p.name });
    }
    const body = jsonBodySchema(op);
    if (body === undefined) continue;
    for (const [name, s] of Object.entries(propertiesOf(spec, body))) {
      if (URL_NAME.test(name) || URL_FORMAT.has(String(s.format)))
        out.push({ operation: op, in: 'body', name });
    }
  }
  return out;
}
