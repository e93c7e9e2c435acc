/**
 * Where an operation takes a URL from the client: query parameters, JSON body fields (top level and one level
 * down, `source.url`) and form fields, in every method but DELETE.
 */
import type { ApiDocument, Operation } from '../../../core/api-document.ts';
import { ownProfileWritePath, ownRecordPath } from '../discover.ts';
import { isExcluded, isLoginOperation, jsonBodySchema } from '../planner.ts';
import { propertiesOf, resolveSchema, schemaType } from '../schema.ts';

const URL_NAME =
  /(url|uri|link|href|callback|webhook|endpoint|redirect|redirect_?to|return_?to|next|feed|avatar|image_?src|src|source|target|dest(ination)?|proxy|fetch|remote|origin_?url|site|domain_?url)$/i;
const URL_FORMAT = new Set(['uri', 'url', 'iri', 'uri-reference', 'iri-reference']);

export interface UrlInput {
  readonly operation: Operation;
  readonly in: 'query' | 'body' | 'form';
  /** Parameter or member name; `a.b` for a member one level down. */
  readonly name: string;
}

function isUrlish(name: string, s: Record<string, unknown>): boolean {
  if (URL_FORMAT.has(String(s.format))) return true;
  const type = schemaType(s);
  return (type === undefined || type === 'string') && s.enum === undefined && URL_NAME.test(name);
}

function formSchema(op: Operation) {
  for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
    if (/x-www-form-urlencoded|multipart\/form-data/i.test(type)) return media.schema ?? {};
  }
  return undefined;
}

export function urlInputs(spec: ApiDocument): UrlInput[] {
  const out: UrlInput[] = [];
  for (const op of spec.operations) {
    if (isExcluded(op) || op.method === 'DELETE' || op.method === 'HEAD' || op.method === 'OPTIONS') continue;
    if (isLoginOperation(spec, op)) continue;
    // A write to the caller's own record (`POST /api/me/avatar {url}`, `PATCH /profile`) would leave the canary's
    // address on a given identity's record, with nothing to set it back.
    if (op.method !== 'GET' && (ownRecordPath(op.path) || ownProfileWritePath(op.path))) continue;
    for (const p of op.parameters) {
      if (p.in !== 'query') continue;
      if (isUrlish(p.name, resolveSchema(spec, p.schema)))
        out.push({ operation: op, in: 'query', name: p.name });
    }
    const body = jsonBodySchema(op);
    if (body !== undefined) {
      for (const [name, s] of Object.entries(propertiesOf(spec, body))) {
        if (isUrlish(name, s)) out.push({ operation: op, in: 'body', name });
        else if (schemaType(s) === 'object') {
          for (const [sub, ss] of Object.entries(propertiesOf(spec, s))) {
            if (isUrlish(sub, ss)) out.push({ operation: op, in: 'body', name: `${name}.${sub}` });
          }
        }
      }
      continue;
    }
    const form = formSchema(op);
    if (form === undefined) continue;
    for (const [name, s] of Object.entries(propertiesOf(spec, form))) {
      if (isUrlish(name, s)) out.push({ operation: op, in: 'form', name });
    }
  }
  return out;
}
