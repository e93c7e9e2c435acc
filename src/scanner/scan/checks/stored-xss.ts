/**
 * Stored cross-site scripting through a JSON API: a script of the scan's own (`<script>/*pcs…*\/</script>`, which
 * runs nothing) stored through a creation and served back, intact, by a read of the API's own origin as HTML. The
 * API's answers as `application/json` are data, whatever they hold (a browser does not render them); the same
 * record served as `text/html` (a framework's default for a string written as the answer: `res.send(JSON.stringify(x))`),
 * or pasted unescaped into an HTML page the API serves (a guestbook, a preview, a share page), runs in the browser
 * of whoever opens it. An escaped script (`&lt;script&gt;`), a download (`Content-Disposition: attachment`) or a
 * page sandboxed by its CSP is no finding.
 */
import { randomBytes } from 'node:crypto';
import type { JsonObject, Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { createdId } from '../discover.ts';
import { entityOfPath } from '../harvest.ts';
import {
  bodySchema,
  captureId,
  creationCollection,
  isExcluded,
  memberParam,
  type PlannedRequest,
  planRequest,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, schemaType } from '../schema.ts';
import { refusedIn200 } from './api5-function-authorization.ts';

/** Members that hold an identifier, a secret or a typed value, not free text a page shows. */
const NOT_TEXT =
  /(^|_)(id|ids|uuid|key|token|code|pin|otp|secret)$|[a-z](Id|Uuid|Key|Token)$|pass|mail|phone|url|uri|link|href|date|time|^at$|_at$|At$|price|amount|total|qty|quantity|count|currency|lang|locale|country|zip|postal/i;
/** Free-text members first: what a page is most likely to show. */
const TEXT_NAME =
  /title|name|subject|headline|message|comment|body|content|text|description|note|bio|about|summary|review|caption|label|remark|feedback|question|answer/i;
/** Media types a browser renders as a page of the API's origin. */
const HTML_TYPE = /^\s*(text\/html|application\/xhtml\+xml)\b/i;

const MAX_OPERATIONS = 6;
const MAX_READS = 8;

/** The scan's script for one member: a comment that names it, inside a script element that runs nothing. */
function canaryFor(tag: string): string {
  return `<script>/*${tag}*/</script>`;
}

/** The free-text members of a creation's body (JSON or a form) the script can go in (at most four, free text first). */
function textMembers(ctx: ScanContext, op: Operation): string[] {
  const schema = bodySchema(op);
  if (schema === undefined) return [];
  const props = propertiesOf(ctx.spec, schema);
  return Object.entries(props)
    .filter(([name, raw]) => {
      const s = resolveSchema(ctx.spec, raw) as JsonObject;
      const type = schemaType(s);
      return (
        (type === undefined || type === 'string') &&
        s.enum === undefined &&
        s.const === undefined &&
        s.readOnly !== true &&
        s.format === undefined &&
        !NOT_TEXT.test(name)
      );
    })
    .map(([name]) => name)
    .sort((a, b) => Number(TEXT_NAME.test(b)) - Number(TEXT_NAME.test(a)))
    .slice(0, 4);
}

/** Served as a page of the API's origin: HTML, inline, not sandboxed. */
function servedAsPage(res: ScanResponse): boolean {
  if (!isSuccess(res)) return false;
  const type = String(res.headers['content-type'] ?? '');
  if (!HTML_TYPE.test(type)) return false;
  if (/^\s*attachment/i.test(String(res.headers['content-disposition'] ?? ''))) return false;
  return !/(^|;)\s*sandbox\b/i.test(String(res.headers['content-security-policy'] ?? ''));
}

/** The reads that may show what the creation stored: the item and what hangs below it, the list, HTML pages. */
function readsAfter(ctx: ScanContext, op: Operation, collection: string): Operation[] {
  const base = collection.replace(/\/+$/, '');
  const gets = ctx.spec.operations.filter((o) => o.method === 'GET' && !isExcluded(o));
  const below = gets.filter((o) => o.path.startsWith(`${base}/{`));
  const list = gets.filter((o) => o.path.replace(/\/+$/, '') === base);
  // A page the document says is HTML, with no path parameter or only the created object's.
  const pages = gets.filter(
    (o) =>
      Object.values(o.responses).some((r) => Object.keys(r.content).some((t) => HTML_TYPE.test(t))) &&
      o.parameters.filter((p) => p.in === 'path').length <= (o.path.startsWith(`${base}/{`) ? 1 : 0),
  );
  const seen = new Set<Operation>();
  const out: Operation[] = [];
  // The item route first, then the rest below it, the list, the pages elsewhere.
  for (const o of [
    ...below.filter((x) => /^\/\{[^{}/]+\}\/?$/.test(x.path.slice(base.length))),
    ...below,
    ...list,
    ...pages,
  ]) {
    if (seen.has(o) || o === op) continue;
    seen.add(o);
    out.push(o);
  }
  return out.slice(0, MAX_READS);
}

/** The document's DELETE of an item of a collection (`DELETE /notes/{id}` beside `POST /notes`), when it has one. */
export function itemDelete(spec: ScanContext['spec'], collection: string): Operation | undefined {
  const base = collection.replace(/\/+$/, '');
  return spec.operations.find(
    (d) =>
      d.method === 'DELETE' &&
      !isExcluded(d) &&
      d.path.startsWith(`${base}/{`) &&
      /^\/\{[^{}/]+\}\/?$/.test(d.path.slice(base.length)),
  );
}

/** What the probes of one creation made, for the caller's clean-up (see injection.ts's creationSweep). */
export type MadeObject = (req: PlannedRequest, res: ScanResponse | undefined, value: unknown) => void;

/**
 * Stored XSS through up to six creations with a JSON or form body: each free-text member (at most four) gets a script of its
 * own; the first identity in `order` whose creation is taken (the scan's own account first, where the caller gives
 * one) sends it, then reads back the created object, what hangs below it, its collection and the pages the document
 * says are HTML, as the same identity. A read that serves one of the scripts intact as a page is `api8-stored-xss`,
 * on the creation, naming the member and the read. `made(op, as)` is told of every object made as `as` (its
 * clean-up; undefined for an account of the scan's own, which needs none): where the document has no DELETE of the
 * item, nothing is stored as a given identity. Returns how many operations it tried.
 */
export async function storedXss(
  ctx: ScanContext,
  ops: readonly Operation[],
  order: readonly Identity[],
  made: (op: Operation, as: Identity) => MadeObject | undefined,
  over: () => boolean,
): Promise<number> {
  let tried = 0;
  for (const op of ops) {
    if (tried >= MAX_OPERATIONS || over() || ctx.signal.aborted) break;
    const collection = creationCollection(ctx.spec, op);
    const members = textMembers(ctx, op);
    if (collection === undefined || members.length === 0) continue;
    tried++;
    const tags = members.map(() => `pcs${randomBytes(4).toString('hex')}`);
    const deletable = itemDelete(ctx.spec, collection) !== undefined;
    for (const as of order) {
      // A script stored in a given identity's data runs for whoever opens it: only where it can be taken back.
      const swept = made(op, as);
      if (swept !== undefined && !deletable) {
        ctx.note?.({
          operation: op,
          reason: `stored XSS not probed as ${as.name}: the document has no DELETE of the item to take the script back (and the scan has no account of its own to store it in)`,
        });
        break;
      }
      const planned = planRequest(ctx.spec, op, ctx.objects, { owner: as.name });
      if (planned.invented.length > 0) break;
      const base =
        planned.body !== null && typeof planned.body === 'object' && !Array.isArray(planned.body)
          ? (planned.body as Record<string, unknown>)
          : {};
      const body = { ...base };
      for (const [i, m] of members.entries()) body[m] = `${String(base[m] ?? 'pc')} ${canaryFor(tags[i])}`;
      const req = planRequest(ctx.spec, op, ctx.objects, { owner: as.name, body });
      const res = await ctx.send(req, as);
      swept?.(req, res, body[members[0]]);
      if (res === undefined) break;
      if (res.status === 401 || res.status === 403 || refusedIn200(res)) continue;
      if (!isSuccess(res)) break;
      const param = memberParam(ctx.spec, collection);
      const id = createdId(res, param, entityOfPath(collection)) ?? captureId(ctx.spec, op, res);
      const reads: { label: string; res: ScanResponse | undefined }[] = [
        { label: `${op.method} ${op.path}`, res },
      ];
      for (const read of readsAfter(ctx, op, collection)) {
        if (over() || ctx.signal.aborted) break;
        const itemParam = read.parameters.find(
          (p) =>
            p.in === 'path' &&
            (p.name === param || read.path.startsWith(`${collection.replace(/\/+$/, '')}/{${p.name}}`)),
        );
        if (itemParam && id === undefined) continue;
        const r = planRequest(ctx.spec, read, ctx.objects, {
          owner: as.name,
          ...(itemParam && id !== undefined ? { params: { [itemParam.name]: id } } : {}),
        });
        if (r.invented.length > 0) continue;
        reads.push({ label: `GET ${read.path}`, res: await ctx.send(r, as) });
      }
      for (const { label, res: got } of reads) {
        if (!got || !servedAsPage(got)) continue;
        const i = tags.findIndex((t) => got.text.includes(canaryFor(t)));
        if (i < 0) continue;
        ctx.report(SCAN_RULES.storedXss, {
          operation: op,
          key: `${op.id} ${members[i]}`,
          message: `${op.method} ${op.path} stored a script in ${members[i]} (as ${as.name}), and ${label} served it back intact as ${String(got.headers['content-type']).split(';')[0]}: it runs in the browser of whoever opens that answer.`,
          evidence: { ...evidenceOf(got), parameter: members[i], payload: canaryFor(tags[i]) },
        });
        break;
      }
      break;
    }
  }
  return tried;
}
