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
import { changesAccount, createdId, setsPassword } from '../discover.ts';
import { entityOfPath } from '../harvest.ts';
import {
  bodySchema,
  captureId,
  creationCollection,
  isCreationOperation,
  isExcluded,
  memberParam,
  type PlannedRequest,
  pathActs,
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

/** Undocumented pages read back after each stored script, at most. */
const MAX_PAGES = 4;
/** Links followed from a known page, and scripts of a page read, at most. */
const MAX_LINKS = 6;
const MAX_SCRIPTS = 2;
/** A link to a file, not a page. */
const ASSET = /\.(css|js|mjs|map|png|jpe?g|gif|svg|ico|webp|woff2?|ttf|pdf|zip|gz|txt|xml|json)$/i;
/** A link that does something when followed (a GET that logs out, deletes, confirms): never followed. */
const ACTING_LINK =
  /log-?out|sign-?out|delete|remove|destroy|erase|reset|cancel|approve|reject|unsubscribe|activate|confirm|toggle|vote|like|follow|exec|run|install|drop|clear|purge/i;
/** A script that writes data into the page as HTML (a browser would run a script inside it). */
const HTML_SINK =
  /\.innerHTML\s*[+]?=|\.outerHTML\s*=|insertAdjacentHTML\(|document\.write(ln)?\(|\.html\(|v-html|dangerouslySetInnerHTML/;

/** The HTML pages of the API's origin the document does not list, and the scripts they load (their text). */
interface Pages {
  readonly paths: readonly string[];
  /** Each page's own inline scripts and up to two same-origin scripts it loads, as text. */
  readonly scripts: ReadonlyMap<string, string>;
}

/** Per scan (its object registry): the pages found once. */
const pagesOf = new WeakMap<object, Promise<Pages>>();

/** Same-origin absolute paths in a page (`href="/guestbook"`, `src="/app.js"`), query and fragment dropped. */
function linksIn(text: string, attribute: 'href' | 'src'): string[] {
  const out: string[] = [];
  const re = attribute === 'href' ? /\bhref\s*=\s*["'](\/[^"'#?\s]*)/gi : /\bsrc\s*=\s*["'](\/[^"'#?\s]*)/gi;
  for (const m of text.slice(0, 200_000).matchAll(re)) {
    if (m[1].startsWith('//') || out.includes(m[1])) continue;
    out.push(m[1]);
    if (out.length >= 40) break;
  }
  return out;
}

/**
 * The HTML pages the scan can read without a browser, the document's aside: pages an answer of the scan already
 * showed (`/`, an inventory hit), the root page `/` (read once as `as` when no answer showed it), and the
 * same-origin pages these link to (at most six; never a file, a documented route, or a link whose words act:
 * logout, delete, confirm...). Their scripts are kept (inline, and up to two same-origin ones each) to say which
 * page renders the records in the browser.
 */
function undocumentedPages(ctx: ScanContext, as: Identity): Promise<Pages> {
  let found = pagesOf.get(ctx.objects);
  if (found) return found;
  found = (async () => {
    const routes = ctx.spec.operations.map(
      (o) =>
        new RegExp(
          `^${o.path
            .replace(/\/+$/, '')
            .split(/\{[^{}/]+\}/)
            .map((part) => part.replace(/[.*+?^$()|[\]\\]/g, '\\$&'))
            .join('[^/]+')}/?$`,
        ),
    );
    const documented = (path: string) => routes.some((r) => r.test(path));
    const texts = new Map<string, string>();
    for (const o of ctx.observations) {
      const path = o.request.path.split('?')[0];
      if (o.request.method !== 'GET' || texts.has(path) || documented(path) || !servedAsPage(o.response))
        continue;
      texts.set(path, o.response.text);
      if (texts.size >= MAX_LINKS) break;
    }
    if (!texts.has('/') && !documented('/') && !ctx.signal.aborted) {
      const root = await ctx.send({ method: 'GET', path: '/' }, as);
      if (root && servedAsPage(root)) texts.set('/', root.text);
    }
    for (const link of [...texts.values()].flatMap((t) => linksIn(t, 'href'))) {
      if (texts.size >= MAX_LINKS || ctx.signal.aborted) break;
      if (texts.has(link) || ASSET.test(link) || ACTING_LINK.test(link) || pathActs(link) || documented(link))
        continue;
      const page = await ctx.send({ method: 'GET', path: link }, as);
      if (page && servedAsPage(page)) texts.set(link, page.text);
    }
    const scripts = new Map<string, string>();
    for (const [path, text] of texts) {
      let code = [...text.slice(0, 200_000).matchAll(/<script\b[^>]*>([\s\S]*?)<\/script>/gi)]
        .map((m) => m[1])
        .join('\n');
      for (const src of linksIn(text, 'src')
        .filter((l) => /\.m?js$/i.test(l))
        .slice(0, MAX_SCRIPTS)) {
        if (ctx.signal.aborted) break;
        const js = await ctx.send({ method: 'GET', path: src }, as);
        if (js && isSuccess(js)) code += `\n${js.text}`;
      }
      scripts.set(path, code);
    }
    return { paths: [...texts.keys()], scripts };
  })();
  pagesOf.set(ctx.objects, found);
  return found;
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
 * clean-up: each is deleted again, an account of the scan's own's too, since a page may list everyone's objects):
 * where the document has no DELETE of the item, no script is stored at all. Returns how many operations it tried.
 */
export async function storedXss(
  ctx: ScanContext,
  ops: readonly Operation[],
  order: readonly Identity[],
  made: (op: Operation, as: Identity) => MadeObject,
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
    // A stored script runs for whoever opens a page that shows it (a list of everyone's objects too): only where it
    // can be taken back.
    if (itemDelete(ctx.spec, collection) === undefined) {
      ctx.note?.({
        operation: op,
        reason: 'stored XSS not probed: the document has no DELETE of the item to take the script back',
      });
      continue;
    }
    for (const as of order) {
      const swept = made(op, as);
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
      swept(req, res, body[members[0]]);
      if (res === undefined) break;
      if (res.status === 401 || res.status === 403 || refusedIn200(res)) continue;
      if (!isSuccess(res)) break;
      const param = memberParam(ctx.spec, collection);
      const id = createdId(res, param, entityOfPath(collection)) ?? captureId(ctx.spec, op, res);
      await readBack(ctx, { op, collection, as, id, res, members, tags }, over);
      break;
    }
  }
  return tried;
}

/** What a write stored (the scripts of `tags` in `members`), where, and as whom: what readBack looks for. */
interface Stored {
  readonly op: Operation;
  readonly collection: string;
  readonly as: Identity;
  /** The object's id (from the creation's answer, or the updated object's). */
  readonly id: string | undefined;
  /** The write's own answer. */
  readonly res: ScanResponse;
  readonly members: readonly string[];
  readonly tags: readonly string[];
}

/**
 * The write's answer, then the reads after it (readsAfter) as the writer, the object's id in their path: the first
 * that serves one of the scripts intact as a page is the finding. True when one did.
 */
async function readBack(ctx: ScanContext, w: Stored, over: () => boolean): Promise<boolean> {
  const { op, collection, as, id, members, tags } = w;
  const param = memberParam(ctx.spec, collection);
  const reads: { label: string; res: ScanResponse | undefined }[] = [
    { label: `${op.method} ${op.path}`, res: w.res },
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
  // The pages the document does not list (undocumentedPages), read after the documented ones.
  const pages = await undocumentedPages(ctx, as);
  for (const path of pages.paths.slice(0, MAX_PAGES)) {
    if (over() || ctx.signal.aborted) break;
    reads.push({ label: `GET ${path}`, res: await ctx.send({ method: 'GET', path }, as) });
  }
  // A page that renders the records in the browser (its script reads the collection and writes it as HTML) while
  // a JSON read gave the script back intact: what runs there needs a browser to tell. Said, never reported.
  const base = collection.replace(/\/+$/, '');
  const intact = reads.find(
    ({ res: got }) =>
      got !== undefined && isSuccess(got) && tags.some((t) => got.text.includes(canaryFor(t))),
  );
  if (intact && base !== '')
    for (const [path, code] of pages.scripts) {
      const sink = HTML_SINK.exec(code);
      if (!sink || !code.includes(base)) continue;
      ctx.note?.({
        operation: op,
        reason: `stored XSS on GET ${path} not judged: its script reads ${base} and writes what it gets into the page with ${sink[0].replace(/[^\w.-]/g, '')}, and ${intact.label} gave the stored script back intact; whether it runs there needs a browser`,
      });
    }
  for (const { label, res: got } of reads) {
    if (!got || !servedAsPage(got)) continue;
    const i = tags.findIndex((t) => got.text.includes(canaryFor(t)));
    if (i < 0) continue;
    ctx.report(SCAN_RULES.storedXss, {
      operation: op,
      key: `${op.id} ${members[i]}`,
      message: `${op.method} ${op.path} stored a script in ${members[i]} (as ${as.name}${op.method === 'POST' ? '' : `, on an object the scan created`}), and ${label} served it back intact as ${String(got.headers['content-type']).split(';')[0]}: it runs in the browser of whoever opens that answer.`,
      evidence: { ...evidenceOf(got), parameter: members[i], payload: canaryFor(tags[i]) },
    });
    return true;
  }
  return false;
}

const MAX_UPDATES = 4;

/** The record an answer holds: the object itself, or under `data` (a resource envelope). */
function recordIn(json: unknown): Record<string, unknown> | undefined {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return undefined;
  const r = json as Record<string, unknown>;
  const data = r.data;
  return data !== null && typeof data === 'object' && !Array.isArray(data)
    ? (data as Record<string, unknown>)
    : r;
}

/**
 * Stored XSS through updates (`PUT`/`PATCH /posts/{id}`) of an object the scan created (discovery's, in the
 * collection of a documented creation that makes no account), as its maker, at most four: the object is read first,
 * the update stores a script in each free-text member (after the member's value), the reads after it are looked
 * through as a creation's are (readBack), and the members are set back to what the read showed (a warning when the
 * set-back is refused: the script would stay on a page of the scan's object in that identity's data). Returns how
 * many updates it tried.
 */
export async function storedXssUpdates(
  ctx: ScanContext,
  order: readonly Identity[],
  over: () => boolean,
): Promise<number> {
  let tried = 0;
  for (const op of ctx.spec.operations) {
    if (tried >= MAX_UPDATES || over() || ctx.signal.aborted) break;
    if ((op.method !== 'PUT' && op.method !== 'PATCH') || isExcluded(op)) continue;
    const m = /^(.*)\/\{([^{}/]+)\}\/?$/.exec(op.path);
    if (!m) continue;
    const [, collection, param] = m;
    const made = ctx.spec.operations.some(
      (o) =>
        isCreationOperation(ctx.spec, o) &&
        creationCollection(ctx.spec, o) === collection &&
        !setsPassword(ctx.spec, o) &&
        !changesAccount(ctx.spec, o),
    );
    const members = textMembers(ctx, op);
    if (!made || members.length === 0) continue;
    let as: Identity | undefined;
    let id: string | undefined;
    for (const who of order) {
      const o = ctx.objects.of(who.name).find((x) => x.collection === collection);
      if (o) {
        as = who;
        id = o.id;
        break;
      }
    }
    if (!as || id === undefined) continue;
    tried++;
    const owner = as.name;
    const params = { [param]: id };
    const read = ctx.spec.operations.find((o) => o.method === 'GET' && !isExcluded(o) && o.path === op.path);
    const before = read
      ? recordIn((await ctx.send(planRequest(ctx.spec, read, ctx.objects, { owner, params }), as))?.json)
      : undefined;
    const planned = planRequest(ctx.spec, op, ctx.objects, { owner, params });
    const base =
      planned.body !== null && typeof planned.body === 'object' && !Array.isArray(planned.body)
        ? (planned.body as Record<string, unknown>)
        : {};
    // A PUT replaces the record: it keeps what the read showed of the body's members, the scripts after theirs.
    const kept: Record<string, unknown> =
      op.method === 'PUT'
        ? Object.fromEntries(
            Object.keys(base).map((k) => [k, before?.[k] !== undefined ? before[k] : base[k]]),
          )
        : {};
    const tags = members.map(() => `pcs${randomBytes(4).toString('hex')}`);
    const body: Record<string, unknown> = { ...kept };
    for (const [i, name] of members.entries())
      body[name] =
        `${typeof before?.[name] === 'string' ? before[name] : String(base[name] ?? 'pc')} ${canaryFor(tags[i])}`;
    const req = planRequest(ctx.spec, op, ctx.objects, { owner, params, body });
    const res = await ctx.send(req, as);
    if (!isSuccess(res) || refusedIn200(res)) continue;
    await readBack(ctx, { op, collection, as, id, res, members, tags }, over);
    // Set back what the read showed (an empty text where it showed nothing).
    const back: Record<string, unknown> = { ...kept };
    for (const name of members) back[name] = typeof before?.[name] === 'string' ? before[name] : '';
    const restored = await ctx.send(
      planRequest(ctx.spec, op, ctx.objects, { owner, params, body: back }),
      as,
    );
    const status = restored?.status;
    if (status === undefined || status < 200 || status >= 300)
      ctx.warn?.(
        `the stored-XSS probe of ${op.method} ${op.path} left its script in ${members.join(', ')} of ${req.path.split('?')[0]}, an object the scan created in ${owner}'s data (the set-back answered ${status ?? 'nothing'}): remove it on the target by hand`,
      );
  }
  return tried;
}
