/**
 * Dangerous file uploads (API8): each multipart file input gets an HTML file and an SVG file of the scan's own
 * (`pcu<random>.html`, `.svg`), each holding a harmless script marker (`<script>/*pcu…*\/</script>`, it runs
 * nothing). Where the API says the file went — a same-origin URL or path in the answer or its `Location`, or a
 * documented download route (`GET /files/{id}`) filled with the id or file name the answer gave — the scan
 * reads it back as the uploader. A finding only when the API serves it from its own origin as active content
 * (`text/html`, `image/svg+xml`, XHTML or XML), the script marker intact, inline (no `attachment`, no CSP
 * sandbox): stored XSS on the API's origin (high).
 *
 * When the API serves the file under the name it was given, one more upload is named `../pcu<random>.html`:
 * read back one folder up from where the first one is served, it proves that a client's file name can write
 * outside the upload folder (critical). The names are new and random, so nothing existing can be overwritten.
 * Uploads are creations (POST); a PUT only reaches objects the scan created (the safety rule of `send`).
 * At most `MAX_OPERATIONS` operations, about ten requests each.
 */
import { randomBytes } from 'node:crypto';
import type { JsonSchema, Operation } from '../../../core/api-document.ts';
import { FilePart, type ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { captureId, creationCollection, isExcluded, planRequest, requestBody } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema } from '../schema.ts';
import { accountParam } from '../self.ts';
import { findLoginTarget } from './api2-authentication.ts';
import { registerThrowaway, reuseThrowaway } from './throwaway.ts';
import { accountPath, storesOnAccount } from './url-inputs.ts';

const MAX_OPERATIONS = 6;
/**
 * An upload to the sender's own account or to a user's (`/me/avatar`, `/profile/picture`, `/users/{id}/photo`):
 * sent as a given identity it replaces that identity's picture. Only anonymously.
 */
const SELF_UPLOAD =
  /(^|\/)(me|my|self|current_?user|whoami|profile|my_?profile|account|settings|avatar|profile_?(picture|photo|image))(\/|$)/i;
/** Whether an upload goes to the sender's own account or a user's (see SELF_UPLOAD): only anonymously. */
export function selfUpload(path: string): boolean {
  // Also a path with an account's word (`/v2/member/banner`, `/user/photo`: url-inputs.ts accountPath).
  return SELF_UPLOAD.test(path) || accountParam(path) !== undefined || accountPath(path);
}
const MAX_CANDIDATES = 4;
/** Read-backs of the whole check (the uploads are bounded by `MAX_OPERATIONS`). */
const MAX_READS = 60;
const ACTIVE_TYPE = /^\s*(text\/html|application\/xhtml\+xml|image\/svg\+xml|text\/xml|application\/xml)\b/i;
/** Routes that hand files back: `/files/{id}`, `/uploads/{name}`, `/attachments/{id}/download`. */
const DOWNLOAD_ROUTE =
  /file|upload|download|attachment|media|image|photo|avatar|document|asset|static|content/i;

interface Variant {
  readonly ext: 'html' | 'svg';
  readonly type: string;
  readonly body: (marker: string) => string;
}

const VARIANTS: readonly Variant[] = [
  {
    ext: 'html',
    type: 'text/html',
    body: (m) => `<!DOCTYPE html><html><body><p>portcullis scan</p><script>/*${m}*/</script></body></html>\n`,
  },
  {
    ext: 'svg',
    type: 'image/svg+xml',
    body: (m) =>
      `<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"><script>/*${m}*/</script></svg>\n`,
  },
];

/** The proof: the script element with the marker, as uploaded. */
function scriptOf(marker: string): string {
  return `<script>/*${marker}*/</script>`;
}

/** File inputs of an operation's multipart body (a single file or an array of files). */
export function fileInputNames(ctx: ScanContext, op: Operation): string[] {
  const rb = requestBody(op);
  if (rb?.encoding !== 'multipart') return [];
  return Object.entries(propertiesOf(ctx.spec, rb.schema))
    .filter(([, prop]) => {
      const item =
        prop.type === 'array' && prop.items !== undefined
          ? resolveSchema(ctx.spec, prop.items as JsonSchema)
          : prop;
      return (
        item.format === 'binary' || item.format === 'base64' || typeof item.contentMediaType === 'string'
      );
    })
    .map(([name]) => name);
}

/**
 * A path on the target's origin as the client's `path` (relative to the target URL, which may have a base
 * path): `/uploads/a.html` under `http://h/api` is `/../uploads/a.html`, which the URL parser resolves.
 * `undefined` for another origin or something that is no path.
 */
export function originPath(target: string, value: string): string | undefined {
  if (value.length > 500 || /\s/.test(value)) return undefined;
  const base = new URL(target);
  let url: URL;
  try {
    url = new URL(value, `${base.origin}/`);
  } catch {
    return undefined;
  }
  if (url.origin !== base.origin) return undefined;
  if (!/^(\/|https?:\/\/)/i.test(value)) return undefined;
  const basePath = base.pathname.replace(/\/$/, '');
  const path = url.pathname + url.search;
  if (basePath === '' || path === basePath || path.startsWith(`${basePath}/`))
    return path.slice(basePath.length) || '/';
  return '/..'.repeat(basePath.split('/').length - 1) + path;
}

/** Strings of an answer (bounded walk), for the paths and names it gives back. */
function strings(value: unknown, out: string[] = [], depth = 0): string[] {
  if (depth > 4 || out.length >= 50) return out;
  if (typeof value === 'string') out.push(value);
  else if (value !== null && typeof value === 'object')
    for (const v of Object.values(value as Record<string, unknown>).slice(0, 30)) strings(v, out, depth + 1);
  return out;
}

/**
 * Documented GETs ending in one path parameter below a file-like route, and the read of the item the upload
 * created (`GET /reports/{report_id}` beside `POST /reports`).
 */
function downloadRoutes(ctx: ScanContext, upload: Operation): Operation[] {
  const collection = creationCollection(ctx.spec, upload);
  return ctx.spec.operations.filter(
    (o) =>
      o.method === 'GET' &&
      !isExcluded(o) &&
      (o.path.match(/\{[^}]+\}/g) ?? []).length === 1 &&
      (DOWNLOAD_ROUTE.test(o.path) ||
        (collection !== undefined &&
          /^\/\{[^}]+\}\/?$/.test(o.path.slice(collection.length)) &&
          o.path.startsWith(collection))),
  );
}

/** A stored file name of the kind the scan uploads. */
const FILE_NAME = /^[\w.-]{1,120}\.(html?|svg|xhtml)$/i;
/** A path without a leading slash, as many answers give it (`static/uploads/a.html`). */
const RELATIVE_PATH = /^[\w.-]+(\/[\w.-]+)+$/;
/** Folders servers commonly serve uploads from: tried with a stored name only when the answer gives no path. */
const UPLOAD_FOLDERS = ['/uploads/', '/static/uploads/', '/static/', '/files/', '/media/'];

/**
 * Where the answer to an upload says the file is: same-origin paths and URLs (a path without a leading slash
 * too, taken from the origin), documented download routes filled with the created id or a stored name, and —
 * when the answer names a stored file but no path — the usual upload folders with that name.
 */
export function servedCandidates(
  ctx: ScanContext,
  op: Operation,
  res: ScanResponse,
  filename: string,
): string[] {
  const out: string[] = [];
  const add = (p: string | undefined) => {
    if (p !== undefined && p !== '/' && !out.includes(p)) out.push(p);
  };
  const values = [...(res.headers.location ? [res.headers.location] : []), ...strings(res.json)];
  const names = new Set<string>();
  for (const v of values) {
    const last = v.split(/[/?#]/).filter(Boolean).pop() ?? '';
    if (FILE_NAME.test(last)) names.add(last);
  }
  for (const p of pathsIn(ctx, values)) add(p);
  const pathGiven = out.length > 0;
  // Values a download route may take: the created id, a stored name, the name the file was sent with.
  const id = res.json !== undefined ? captureId(ctx.spec, op, res) : undefined;
  const keys = new Set([...(id !== undefined ? [id] : []), ...names, filename]);
  for (const route of downloadRoutes(ctx, op)) {
    const param = /\{([^}]+)\}/.exec(route.path)?.[1] ?? '';
    for (const key of keys) add(planRequest(ctx.spec, route, ctx.objects, { params: { [param]: key } }).path);
  }
  if (!pathGiven)
    for (const name of [...names].slice(0, 2))
      for (const folder of UPLOAD_FOLDERS)
        add(originPath(ctx.target, `${folder}${encodeURIComponent(name)}`));
  return out.slice(0, MAX_CANDIDATES * 3);
}

/** Same-origin paths among an answer's strings: absolute, or relative and ending in a file name of ours. */
function pathsIn(ctx: ScanContext, values: readonly string[]): string[] {
  const out: string[] = [];
  for (const v of values) {
    const last = v.split(/[/?#]/).filter(Boolean).pop() ?? '';
    const p =
      RELATIVE_PATH.test(v) && FILE_NAME.test(last)
        ? originPath(ctx.target, `/${v}`)
        : originPath(ctx.target, v);
    if (p !== undefined && p !== '/' && !out.includes(p)) out.push(p);
  }
  return out;
}

/** Same-origin paths in a JSON answer (a record that links its file): followed once. */
function linkedPaths(ctx: ScanContext, res: ScanResponse | undefined): string[] {
  if (!isSuccess(res) || res.json === undefined) return [];
  return pathsIn(ctx, strings(res.json)).slice(0, MAX_CANDIDATES);
}

/** Served as active content, inline, from the API's origin, with the script marker intact. */
export function servedActive(res: ScanResponse | undefined, marker: string): res is ScanResponse {
  if (!isSuccess(res) || !res.text.includes(scriptOf(marker))) return false;
  const type = res.headers['content-type'] ?? '';
  if (!ACTIVE_TYPE.test(type)) return false;
  // Plain XML runs script only as an SVG or XHTML document.
  if (
    /xml/i.test(type) &&
    !/svg|xhtml/i.test(type) &&
    !/^(<\?xml[^>]*\?>\s*)?<(svg|html)\b/i.test(res.text.trim())
  )
    return false;
  if (/attachment/i.test(res.headers['content-disposition'] ?? '')) return false;
  const csp = res.headers['content-security-policy'] ?? '';
  return !/\bsandbox\b|(script-src|default-src)\s+'none'/i.test(csp);
}

function withFile(
  planned: { body?: unknown },
  files: readonly string[],
  part: FilePart,
): Record<string, unknown> {
  const body = { ...((planned.body as Record<string, unknown>) ?? {}) };
  for (const f of files) body[f] = Array.isArray(body[f]) ? [part] : part;
  return body;
}

/** Last path words of an upload route (`/upload/product-image`, `/files`, `/attachments`, `/avatar`). */
const UPLOAD_WORD =
  /^(upload|uploads|files?|attachments?|images?|photos?|pictures?|avatars?|media|documents?|docs)$/;

/**
 * An upload route whose document declares no body at all (NestJS's `@UploadedFile()` without `@ApiBody`, an
 * Express route with multer and no schema): a POST at a path with an upload word (`/upload/product-image`,
 * `/api/files`), no path parameter after it, no request body described. It takes a multipart `file` part, as the
 * common middlewares name it.
 */
export function undeclaredUpload(op: Operation): boolean {
  if (op.method !== 'POST' || requestBody(op) !== undefined || op.requestBody !== undefined) return false;
  const words = op.path
    .split('/')
    .filter((seg) => seg !== '' && !seg.includes('{'))
    .flatMap((seg) =>
      seg
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .toLowerCase()
        .split(/[^a-z0-9]+/),
    );
  return words.some((w) => UPLOAD_WORD.test(w));
}

/** An upload's request: the file in each file input, multipart even where the document declares no body. */
function uploadRequest<T extends { body?: unknown; headers?: Readonly<Record<string, string>> }>(
  op: Operation,
  planned: T,
  files: readonly string[],
  part: FilePart,
): T {
  const body = withFile(planned, files, part);
  return undeclaredUpload(op)
    ? { ...planned, body, headers: { ...planned.headers, 'content-type': 'multipart/form-data' } }
    : { ...planned, body };
}

export async function dangerousUploads(ctx: ScanContext): Promise<void> {
  // Operations tried, and whether any let a sender in: every one skipped is said (review R1-H4).
  const tally = { tried: 0, letIn: 0, why: new Set<string>() };
  try {
    await uploadsThrough(ctx, tally);
  } finally {
    if (tally.tried > 0 && tally.letIn === 0)
      ctx.note?.({
        rule: SCAN_RULES.unrestrictedUpload,
        reason: `no upload operation took a file from the scan: ${[...tally.why].join('; ')}`,
      });
  }
}

async function uploadsThrough(
  ctx: ScanContext,
  tally: { tried: number; letIn: number; why: Set<string> },
): Promise<void> {
  let done = 0;
  let reads = 0;
  const inputsOf = (op: Operation) => (undeclaredUpload(op) ? ['file'] : fileInputNames(ctx, op));
  if (!ctx.spec.operations.some((op) => !isExcluded(op) && inputsOf(op).length > 0))
    ctx.note?.({ rule: SCAN_RULES.unrestrictedUpload, reason: 'no multipart file input in the document' });
  // The scan's own account, for a file an account keeps about itself (found once, where there is a sign-up).
  let own: Promise<Identity | undefined> | undefined;
  const ownAccount = () => {
    own ??= (async () =>
      ((await reuseThrowaway(ctx)) ?? (await registerThrowaway(ctx, findLoginTarget(ctx), 'pcu')))
        ?.identity)();
    return own;
  };
  for (const op of ctx.spec.operations) {
    if (done >= MAX_OPERATIONS || ctx.signal.aborted) return;
    if (isExcluded(op) || (op.method !== 'POST' && op.method !== 'PUT')) continue;
    const files = inputsOf(op);
    if (files.length === 0) continue;
    done++;
    tally.tried++;
    let as: Identity | null | undefined;
    let reported = false;
    // Also a file an account keeps about itself by another path (`POST /v2/member/picture`, `{avatar}`): never as a
    // given identity (it would replace that identity's file), as the scan's own account where there is one.
    const self = selfUpload(op.path) || storesOnAccount(ctx.spec, op);
    const mine = self ? await ownAccount() : undefined;
    const senders = self ? [mine, null] : [ctx.identities[0], ctx.admin, null];
    const refusals: string[] = [];
    for (const variant of VARIANTS) {
      if (reported || ctx.signal.aborted) break;
      const marker = `pcu${randomBytes(5).toString('hex')}`;
      const filename = `${marker}.${variant.ext}`;
      const part = new FilePart(filename, variant.type, variant.body(marker));
      let res: ScanResponse | undefined;
      for (const who of as === undefined ? senders : [as]) {
        if (who === undefined) continue;
        const planned = planRequest(ctx.spec, op, ctx.objects, who ? { owner: who.name } : {});
        res = await ctx.send(uploadRequest(op, planned, files, part), who);
        if (res && res.status !== 401 && res.status !== 403) {
          as = who;
          break;
        }
        refusals.push(`${who ? who.name : 'anonymously'} ${res?.status ?? 'no answer'}`);
      }
      if (as === undefined) {
        // Nobody is let in: the cell says so, not "tested" by another probe's requests.
        const why = self
          ? `it writes the sender's own record (a given identity's file would be replaced), ${mine ? `and the scan's own account ${mine.name} and an anonymous upload were refused (${refusals.join(', ')})` : `no account of the scan's own could be registered, and an anonymous upload was refused (${refusals.join(', ')})`}`
          : `every sender was refused (${refusals.join(', ')})`;
        tally.why.add(`${op.method} ${op.path}: ${why}`);
        ctx.note?.({
          operation: op,
          rule: SCAN_RULES.unrestrictedUpload,
          reason: `upload not tested: ${why}`,
          incomplete: true,
        });
        break;
      }
      tally.letIn++;
      if (!isSuccess(res)) continue; // refused this kind of file
      const queue = servedCandidates(ctx, op, res, filename);
      const followed = new Set<string>();
      for (let i = 0; i < queue.length; i++) {
        if (reads++ >= MAX_READS || ctx.signal.aborted) return;
        const path = queue[i];
        const served = await ctx.send({ method: 'GET', path }, as);
        if (!servedActive(served, marker)) {
          // A record that links its file (`GET /documents/7` → `{"url": "/files/a.html"}`): one step further.
          if (!followed.has(path))
            for (const p of linkedPaths(ctx, served))
              if (!queue.includes(p) && queue.length < MAX_CANDIDATES * 4) {
                followed.add(p);
                queue.push(p);
              }
          continue;
        }
        ctx.report(SCAN_RULES.unrestrictedUpload, {
          operation: op,
          key: 'active-content',
          severity: 'high',
          message: `${op.method} ${op.path} took ${variant.ext === 'html' ? 'an HTML' : 'an SVG'} file in ${files.join(', ')} and the API serves it back from its own origin at ${new URL(served.sent.url).pathname} as ${served.headers['content-type']}, its script intact and inline: any user's upload runs script in the API's origin (stored XSS).`,
          evidence: evidenceOf(served, { uploaded: filename, uploadStatus: res.status }),
        });
        reported = true;
        await traversal(ctx, op, files, as, variant, served, filename);
        break;
      }
    }
  }
}

/**
 * The file was served under the name it was given: a name one folder up (`../pcu….html`) is uploaded and read
 * back one folder above where the first one is served.
 */
async function traversal(
  ctx: ScanContext,
  op: Operation,
  files: readonly string[],
  as: Identity | null,
  variant: Variant,
  served: ScanResponse,
  filename: string,
): Promise<void> {
  const url = new URL(served.sent.url);
  const segments = url.pathname.split('/');
  if (segments.length < 3 || decodeURIComponent(segments[segments.length - 1]) !== filename) return;
  const marker = `pcu${randomBytes(5).toString('hex')}`;
  const name = `${marker}.${variant.ext}`;
  const up = `${segments.slice(0, -2).join('/')}/${name}`;
  const path = originPath(ctx.target, `${url.origin}${up}`);
  if (path === undefined) return;
  const before = await ctx.send({ method: 'GET', path }, as); // the control: nothing there yet
  if (servedActive(before, marker)) return;
  const planned = planRequest(ctx.spec, op, ctx.objects, as ? { owner: as.name } : {});
  const part = new FilePart(`../${name}`, variant.type, variant.body(marker));
  const upload = await ctx.send(uploadRequest(op, planned, files, part), as);
  if (!isSuccess(upload)) return;
  const after = await ctx.send({ method: 'GET', path }, as);
  if (!isSuccess(after) || !after.text.includes(scriptOf(marker))) return;
  // The control: a server that dropped the `../` keeps the file in the upload folder, and one that finds files
  // by their last name serves it at both places. Only a file served one folder up and not in the folder moved.
  const inFolder = originPath(ctx.target, `${url.origin}${segments.slice(0, -1).join('/')}/${name}`);
  const stayed = inFolder === undefined ? undefined : await ctx.send({ method: 'GET', path: inFolder }, as);
  if (stayed === undefined || (isSuccess(stayed) && stayed.text.includes(scriptOf(marker)))) return;
  ctx.report(SCAN_RULES.unrestrictedUpload, {
    operation: op,
    key: 'traversal',
    severity: 'critical',
    message: `${op.method} ${op.path} wrote a file outside its upload folder: uploaded as ../${name}, it is served at ${up}, one folder above ${url.pathname} where the same upload under a plain name went. A client's file name chooses where the server writes.`,
    evidence: evidenceOf(after, { uploadedAs: `../${name}`, uploadStatus: upload.status }),
  });
}
