/**
 * API8, values of the wrong kind in typed inputs: many stack traces and framework debug pages (Werkzeug's, an
 * Express error handler printing `err.stack`, a Prisma or SQL error) show only when an input the document types as a
 * number, a boolean, a date or a uuid gets something else (`?limit=abc`, `?page=-1`, `{"quantity": []}`). These
 * probes send such values; the passive readings of API8 (stack traces, database errors, exception messages and
 * secrets in error answers) judge the answers, as for the scan's other malformed requests.
 */
import type { Operation } from '../../../core/api-document.ts';
import type { ScanContext } from '../context.ts';
import { isExcluded, planRequest, requestBody } from '../planner.ts';
import { propertiesOf, resolveSchema, schemaType } from '../schema.ts';
import { accountWrite } from './api9-inventory.ts';
import { creationSweep } from './injection.ts';

/** The kind an input's schema declares, when a value of another kind can be told from it. */
export type TypedKind = 'number' | 'boolean' | 'date' | 'uuid';

/** The kind a (resolved) schema declares: number or integer, boolean, a date or date-time string, a uuid string. */
export function typedKind(schema: Record<string, unknown>): TypedKind | undefined {
  if (schema.enum !== undefined || schema.const !== undefined) return undefined;
  const type = schemaType(schema);
  if (type === 'integer' || type === 'number') return 'number';
  if (type === 'boolean') return 'boolean';
  if (type === 'string' && (schema.format === 'date' || schema.format === 'date-time')) return 'date';
  if (type === 'string' && schema.format === 'uuid') return 'uuid';
  return undefined;
}

/** A query value of another kind than the declared one: a word, which no number, boolean, date or uuid parser reads. */
export function wrongQueryValue(kind: TypedKind): string {
  return kind === 'number'
    ? 'pc-not-a-number'
    : kind === 'boolean'
      ? 'pc-not-a-boolean'
      : kind === 'date'
        ? 'pc-not-a-date'
        : 'pc-not-a-uuid';
}

/**
 * Query inputs that page or offset a list (`page`, `offset`, `skip`, `start`, `limit`, `per_page`...): a negative
 * number there reaches an OFFSET or LIMIT clause in many APIs (PostgreSQL: `OFFSET must not be negative`).
 */
const PAGING =
  /^(page|page_?(number|no|index)|offset|skip|start|from|limit|per_?page|page_?size|size|take|top)$/i;

/** Reads at most this many operations with typed query inputs; writes at most this many with typed body fields. */
const MAX_READS = 6;
const MAX_WRITES = 4;
/** Reads whose text query inputs are sent as arrays; at most this many inputs of each. */
const MAX_ARRAY_READS = 4;
const MAX_ARRAY_INPUTS = 3;

/** The typed query inputs of an operation: name and kind. */
export function typedQueryInputs(ctx: ScanContext, op: Operation): { name: string; kind: TypedKind }[] {
  const out: { name: string; kind: TypedKind }[] = [];
  for (const p of op.parameters) {
    if (p.in !== 'query') continue;
    const kind = typedKind(resolveSchema(ctx.spec, p.schema));
    if (kind) out.push({ name: p.name, kind });
  }
  return out;
}

/**
 * The top-level members of a JSON or form-encoded body that the document types as a number or a boolean, and the
 * body's encoding.
 */
export function typedBodyFields(
  ctx: ScanContext,
  op: Operation,
): { fields: { name: string; kind: TypedKind }[]; encoding: 'json' | 'form' } | undefined {
  const rb = requestBody(op);
  if (rb === undefined || rb.encoding === 'multipart') return undefined;
  const fields: { name: string; kind: TypedKind }[] = [];
  for (const [name, s] of Object.entries(propertiesOf(ctx.spec, rb.schema))) {
    const kind = typedKind(s);
    if (kind === 'number' || kind === 'boolean') fields.push({ name, kind });
  }
  return fields.length > 0 ? { fields, encoding: rb.encoding } : undefined;
}

/**
 * Wrong kinds in typed inputs, for the passive error readings:
 * - reads (GET, at most six operations): every typed query input set to a word (`?limit=pc-not-a-number`), as the
 *   first identity; and, where a paging input is a number, `-1` there in a second request;
 * - writes with a JSON or form body (POST, PUT, PATCH, at most four operations): every number or boolean member set
 *   to an empty array in JSON (`{"quantity": []}`: no number parser reads it, and JavaScript's arithmetic takes it
 *   for 0, so a lax API stores no `NaN` through it), to a word in a form, the other members as planned, as the first
 *   identity; what a creation made so is deleted again by its maker (the injection probes' sweep). A JSON write that
 *   acts on an account, a password, a sign-in, money or an admin function, and one the write guard holds back as a
 *   given identity, goes anonymously instead, with the typed members alone in its body: it names no one's data. A
 *   form write of that kind is not sent (a word there is what a lax API turns into `NaN`).
 * - and the text query inputs of up to four more reads as arrays (arrayQueries).
 * At most 6 × 2 + 4 + 4 × 2 requests.
 */
export async function wrongKinds(ctx: ScanContext): Promise<void> {
  const user = ctx.identities[0];
  if (!user) return;
  let reads = 0;
  for (const op of ctx.spec.operations) {
    if (reads >= MAX_READS || ctx.signal.aborted) break;
    if (op.method !== 'GET' || isExcluded(op)) continue;
    const inputs = typedQueryInputs(ctx, op);
    if (inputs.length === 0) continue;
    reads++;
    const wrong = Object.fromEntries(inputs.map((i) => [i.name, wrongQueryValue(i.kind)]));
    await ctx.send(planRequest(ctx.spec, op, ctx.objects, { owner: user.name, params: wrong }), user);
    const paging = inputs.filter((i) => i.kind === 'number' && PAGING.test(i.name));
    if (paging.length === 0) continue;
    const negative = Object.fromEntries(paging.map((i) => [i.name, '-1']));
    await ctx.send(planRequest(ctx.spec, op, ctx.objects, { owner: user.name, params: negative }), user);
  }
  await arrayQueries(ctx);
  const sweep = creationSweep(ctx, 'the wrong-kind probes');
  let writes = 0;
  for (const op of ctx.spec.operations) {
    if (writes >= MAX_WRITES || ctx.signal.aborted) break;
    if (!['POST', 'PUT', 'PATCH'].includes(op.method) || isExcluded(op)) continue;
    const typed = typedBodyFields(ctx, op);
    if (typed === undefined) continue;
    writes++;
    const json = typed.encoding === 'json';
    const wrong = Object.fromEntries(typed.fields.map((f) => [f.name, json ? [] : wrongQueryValue(f.kind)]));
    const anonymously = () =>
      json
        ? ctx.send(planRequest(ctx.spec, op, ctx.objects, { body: wrong }), null)
        : Promise.resolve(undefined);
    if (accountWrite(ctx.spec, op)) {
      await anonymously();
      continue;
    }
    const planned = planRequest(ctx.spec, op, ctx.objects, { owner: user.name }).body;
    const base =
      planned !== null && typeof planned === 'object' && !Array.isArray(planned)
        ? (planned as Record<string, unknown>)
        : {};
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name, body: { ...base, ...wrong } });
    const res = await ctx.send(req, user);
    if (res === undefined) {
      // Held back as a given identity (a purchase, a change of an object the scan did not make): anonymously.
      await anonymously();
      continue;
    }
    sweep.seen(op, user, '')(req, res, undefined);
  }
  await sweep.flush(undefined, true);
  sweep.report();
}

/** The query inputs of an operation that take free text (a string of no format or list, or no schema at all). */
export function textQueryInputs(ctx: ScanContext, op: Operation): string[] {
  return op.parameters
    .filter((p) => {
      if (p.in !== 'query') return false;
      const s = resolveSchema(ctx.spec, p.schema);
      const type = schemaType(s);
      return (type === undefined || type === 'string') && s.format === undefined && s.enum === undefined;
    })
    .map((p) => p.name);
}

/**
 * An array where text is declared: `?title[]=pc` (qs in Express, PHP and Rails read it as a list), which a handler
 * that calls a string method on the input (`req.query.title.toLowerCase()`) does not survive. One request each for
 * up to four GETs with text query inputs (at most three of them), as the first identity; the passive readings
 * judge the answers.
 */
async function arrayQueries(ctx: ScanContext): Promise<void> {
  const user = ctx.identities[0];
  let reads = 0;
  for (const op of ctx.spec.operations) {
    if (reads >= MAX_ARRAY_READS || ctx.signal.aborted) break;
    if (op.method !== 'GET' || isExcluded(op)) continue;
    const names = textQueryInputs(ctx, op).slice(0, MAX_ARRAY_INPUTS);
    if (names.length === 0) continue;
    reads++;
    const req = planRequest(ctx.spec, op, ctx.objects, {
      owner: user.name,
      params: Object.fromEntries(names.map((n) => [n, 'pc'])),
    });
    const [path, qs = ''] = req.path.split('?');
    const query = new URLSearchParams(qs);
    for (const n of names) {
      const value = query.get(n) ?? 'pc';
      query.delete(n);
      query.append(`${n}[]`, value);
    }
    await ctx.send({ ...req, path: `${path}?${query.toString()}` }, user);
  }
}
