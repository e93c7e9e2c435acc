/**
 * API9 Improper Inventory Management: paths that should not answer (debug consoles, configuration files,
 * framework endpoints, backups, API documents), at the root and under the API's own base path, and variants
 * of documented paths: older and unversioned versions (`/v1/notes` beside `/v2/notes`, `/api/v1/users` beside
 * `/api/users`) and `admin`/`internal`/`debug` siblings. A success that the document does not list, and that
 * differs from what a random path returns (catch-all routes), is reported, at the undocumented path.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { parse as parseYaml } from 'yaml';
import type { ApiDocument, Operation } from '../../../core/api-document.ts';
import type { Severity } from '../../finding.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { changesAccount, changesOwnAccount, setsPassword } from '../discover.ts';
import type { ObjectRegistry } from '../objects.ts';
import {
  bodySchema,
  createdValue,
  idInput,
  isAdminOperation,
  isBusinessFlow,
  isExcluded,
  isLoginOperation,
  listedValue,
  operationDescription,
  planRequest,
  requiresAuth,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, sampleValue } from '../schema.ts';
import { similarity } from '../similarity.ts';
import { looksRefused } from './api3-property-authorization.ts';
import { linkedFolders } from './api8-directory-listing.ts';
import { undocumentedOperation } from './undocumented-operation.ts';

/** Built-in probe list: path and how bad an answer is. Tried at the root and under the API's base path. */
export const PROBES: readonly (readonly [string, Severity])[] = [
  ['/.env', 'critical'],
  ['/.env.local', 'critical'],
  ['/.env.production', 'critical'],
  ['/.env.bak', 'critical'],
  ['/config.env', 'critical'],
  ['/.git/config', 'critical'],
  ['/.git/HEAD', 'critical'],
  ['/.svn/entries', 'high'],
  ['/.DS_Store', 'low'],
  ['/config.json', 'high'],
  ['/config.yml', 'high'],
  ['/settings.json', 'high'],
  ['/appsettings.json', 'high'],
  ['/application.properties', 'high'],
  ['/web.config', 'high'],
  ['/backup.zip', 'critical'],
  ['/backup.sql', 'critical'],
  ['/dump.sql', 'critical'],
  ['/db.sqlite', 'critical'],
  ['/debug', 'high'],
  ['/debug/vars', 'high'],
  ['/debug/pprof/', 'high'],
  ['/debug/config', 'high'],
  ['/debug/users', 'critical'],
  ['/debug/routes', 'high'],
  ['/_debug', 'high'],
  ['/__debug__', 'high'],
  ['/console', 'high'],
  ['/env', 'high'],
  ['/environment', 'high'],
  ['/config', 'high'],
  ['/configuration', 'high'],
  ['/settings', 'medium'],
  ['/info', 'low'],
  ['/status', 'low'],
  ['/health/details', 'medium'],
  ['/actuator', 'high'],
  ['/actuator/env', 'critical'],
  ['/actuator/heapdump', 'critical'],
  ['/actuator/configprops', 'high'],
  ['/actuator/mappings', 'medium'],
  ['/admin', 'high'],
  ['/admin/users', 'high'],
  ['/administrator', 'high'],
  ['/internal', 'high'],
  ['/private', 'high'],
  ['/test', 'medium'],
  ['/dev', 'medium'],
  ['/server-status', 'medium'],
  ['/server-info', 'medium'],
  ['/metrics', 'medium'],
  ['/prometheus', 'medium'],
  ['/phpinfo.php', 'medium'],
  ['/info.php', 'medium'],
  ['/graphql', 'medium'],
  ['/graphiql', 'medium'],
  ['/swagger.json', 'low'],
  ['/swagger.yaml', 'low'],
  ['/openapi.json', 'low'],
  ['/openapi.yaml', 'low'],
  ['/swagger-ui.html', 'low'],
  ['/swagger-ui/', 'low'],
  ['/api-docs', 'low'],
  ['/docs', 'low'],
  ['/redoc', 'low'],
  ['/v1/api-docs', 'low'],
  ['/v2/api-docs', 'low'],
  ['/v3/api-docs', 'low'],
  // Framework defaults: swaggo (Go), ASP.NET's Swashbuckle, Quarkus.
  ['/swagger/index.html', 'low'],
  ['/swagger/doc.json', 'low'],
  ['/swagger/', 'low'],
  ['/swagger/v1/swagger.json', 'low'],
  ['/q/openapi', 'low'],
  ['/q/swagger-ui', 'low'],
];

/** Under the API's base path, only the probes that matter most (the rest are root-level files). */
const UNDER_BASE = new Set([
  '/debug',
  '/debug/vars',
  '/debug/config',
  '/debug/users',
  '/env',
  '/config',
  '/admin',
  '/admin/users',
  '/internal',
  '/test',
  '/metrics',
  '/swagger.json',
  '/openapi.json',
  '/docs',
  '/swagger/doc.json',
  '/swagger/v1/swagger.json',
  '/q/openapi',
]);

/** Configuration and backup files also looked for under the first folders of documented paths (`/api/config.env`). */
const CONFIG_FILES = new Set([
  '/.env',
  '/.env.local',
  '/.env.production',
  '/.env.bak',
  '/config.env',
  '/config.json',
  '/config.yml',
  '/settings.json',
  '/appsettings.json',
  '/application.properties',
  '/web.config',
  '/backup.sql',
]);

/**
 * The folders to look for configuration files in: the API's base path and the first literal segment of documented
 * paths that have more than one (`/api` of `/api/view-user.php`), at most three.
 */
export function configFolders(paths: readonly string[], base: string): string[] {
  const out = base ? [base] : [];
  for (const p of paths) {
    const segs = p.split('/').filter(Boolean);
    if (segs.length < 2 || segs[0].includes('{')) continue;
    const folder = `/${segs[0]}`;
    if (!out.includes(folder)) out.push(folder);
  }
  return out.slice(0, 3);
}

/**
 * The top folders of the same-origin file paths the answers link to (`/public` of `/public/images/mat.png`), at most
 * two: a static folder often holds a configuration file put there by mistake. Only where the target is the host's
 * root (the links are origin paths).
 */
export function staticFolders(ctx: ScanContext): string[] {
  if (new URL(ctx.target).pathname.replace(/\/+$/, '') !== '') return [];
  return linkedFolders(ctx)
    .filter((f) => f.split('/').filter(Boolean).length === 1)
    .map((f) => f.replace(/\/$/, ''))
    .slice(0, 2);
}

const SIBLINGS: readonly (readonly [string, Severity])[] = [
  ['admin', 'high'],
  ['internal', 'high'],
  ['debug', 'high'],
  ['all', 'medium'],
  ['export', 'medium'],
];

/**
 * Words of a route that hands out a whole collection at once (`/api/v0/users/listAll`, `/api/v0/items/bulk`), looked
 * for below the collections of the version before the documented one: a retired version often keeps such a route.
 */
const OLD_COLLECTION_WORDS: readonly (readonly [string, Severity])[] = [
  ['all', 'medium'],
  ['list', 'medium'],
  ['listAll', 'medium'],
  ['bulk', 'medium'],
  ['export', 'medium'],
];

/** First segments below a version that name no collection of records: sign-in, passwords, sessions, the caller, health. */
const NO_COLLECTION =
  /^(auth|oauth2?|login|logout|sign_?(in|up|out)|register|signup|password|passwords|session|sessions|token|tokens|me|self|profile|health|healthz|status|ping|docs?|openapi(\.json)?|swagger(\.json)?)$/i;

/** At most this many collections are looked at below the version before. */
const MAX_OLD_COLLECTIONS = 12;

/**
 * The collections of the version before the documented one: for each versioned documented path, its first literal
 * segment below the version (`/api/v1/users/{id}` → `/api/v1/users`), moved one version down (`/api/v0/users`);
 * at most MAX_OLD_COLLECTIONS, each with the documented collection it came from.
 */
export function olderCollections(paths: readonly string[]): { older: string; documented: string }[] {
  const out: { older: string; documented: string }[] = [];
  for (const p of paths) {
    const v = /\/v(\d+)\/([^/{}]+)/i.exec(p);
    // The first segment below the version (`/api/v1/users` of `/api/v1/users/{id}/orders`), a literal one that
    // names a collection: not a sign-in, a password or a session, nor the caller's own record or the API's health.
    if (!v || Number(v[1]) < 1 || NO_COLLECTION.test(v[2])) continue;
    const literal = p.slice(0, v.index + v[0].length);
    const older = `${p.slice(0, v.index)}/v${Number(v[1]) - 1}/${v[2]}`;
    if (out.length >= MAX_OLD_COLLECTIONS) break;
    if (!out.some((o) => o.older === older)) out.push({ older, documented: literal });
  }
  return out;
}

/**
 * Names a route left from development or an earlier release goes by (`/dev-test`, `/legacy-api`, `/beta`), looked
 * for at the root, under the API's base path and under its base's other versions; the first ten also under versions.
 */
export const STAGE_WORDS: readonly (readonly [string, Severity])[] = [
  ['dev-test', 'medium'],
  ['legacy-api', 'medium'],
  ['legacy', 'medium'],
  ['old', 'medium'],
  ['beta', 'medium'],
  ['debug', 'high'],
  ['internal', 'high'],
  ['test', 'medium'],
  ['dev', 'medium'],
  ['old-api', 'medium'],
  ['test-api', 'medium'],
  ['dev-api', 'medium'],
  ['api-test', 'medium'],
  ['beta-api', 'medium'],
  ['internal-api', 'high'],
  ['staging', 'medium'],
  ['sandbox', 'medium'],
  ['testing', 'medium'],
  ['development', 'medium'],
  ['deprecated', 'medium'],
  ['preview', 'low'],
  ['demo', 'low'],
];
/** Of STAGE_WORDS, how many are also tried under the base's other versions. */
const STAGE_WORDS_IN_VERSIONS = 10;

/**
 * The folders stage routes are looked for in: the root, the API's base path, its version before and the base without
 * its version (`/api/v2` → `/api/v1`, `/api`; `/api` → `/api/v1`, `/api/v2`; none → `/v1`, `/v2`), and `/v1` at the
 * root, each once.
 */
export function stageFolders(base: string): { folder: string; words: number }[] {
  const out = [{ folder: '', words: STAGE_WORDS.length }];
  if (base !== '') out.push({ folder: base, words: STAGE_WORDS.length });
  // The version before, and the base without its version (or, unversioned, its first two versions).
  const variants = versionVariants(base);
  const picked = versionOf(base) ? [variants[0], variants.at(-1)] : variants.slice(0, 2);
  // And the first version at the root (`/v1/legacy-api` beside `/api/users`).
  for (const v of [...picked, '/v1'])
    if (v !== undefined && !out.some((o) => o.folder === v))
      out.push({ folder: v, words: STAGE_WORDS_IN_VERSIONS });
  return out;
}

/** Sends a guessed path as an identity (null: anonymously): the answer, and whether it is unlike a made-up path's. */
type GuessProbe = (
  path: string,
  as: Identity | null,
) => Promise<{ res: ScanResponse | undefined; real: boolean } | undefined>;

/**
 * Stage routes (STAGE_WORDS in stageFolders) that answer a 2xx unlike a made-up name in the same folder (a
 * catch-all answers both alike) and unlike the root's and base's made-up paths: each one a finding at its path.
 * At most 22 + 22 + 10 + 10 + 10 requests and one made-up name a folder.
 */
async function stageRoutes(
  ctx: ScanContext,
  user: Identity,
  base: string,
  probe: GuessProbe,
  looksReal: (res: ScanResponse | undefined) => res is ScanResponse,
): Promise<void> {
  for (const { folder, words } of stageFolders(base)) {
    let control: { path: string; res: ScanResponse | undefined } | undefined;
    for (const [word, severity] of STAGE_WORDS.slice(0, words)) {
      const path = `${folder}/${word}`;
      const found = await probe(path, user);
      if (!found?.real || !looksReal(found.res) || looksRefused(found.res)) continue;
      if (control === undefined) {
        const made = `${folder}/pcx${randomBytes(6).toString('hex')}`;
        control = { path: made, res: await ctx.send({ method: 'GET', path: made }, user) };
      }
      if (
        control.res !== undefined &&
        isSuccess(control.res) &&
        answersAlike({ path, res: found.res }, { path: control.path, res: control.res })
      )
        continue;
      ctx.report(SCAN_RULES.undocumentedEndpoint, {
        operation: undocumentedOperation(path),
        severity,
        key: path,
        message: `GET ${path} answered ${found.res.status} but is not in the API description: a ${word} route left beside the documented ones.`,
        evidence: evidenceOf(found.res),
      });
    }
  }
}

function templateRegex(template: string): RegExp {
  return new RegExp(
    `^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}/?$`,
  );
}

/** Does the document declare a path template that matches this concrete path? */
function documented(ctx: ScanContext, path: string): boolean {
  const clean = path.split('?')[0];
  return ctx.spec.operations.some((op) => templateRegex(op.path).test(clean));
}

/** The longest leading run of literal segments every documented path shares (`/api/v2`), or ''. */
export function basePath(paths: readonly string[]): string {
  if (paths.length === 0) return '';
  const split = paths.map((p) => p.split('/').filter(Boolean));
  const out: string[] = [];
  for (let i = 0; ; i++) {
    const seg = split[0][i];
    if (seg === undefined || seg.includes('{') || split.some((s) => s[i] !== seg || s.length === i + 1))
      break;
    out.push(seg);
  }
  return out.length > 0 ? `/${out.join('/')}` : '';
}

/**
 * Version variants of a path template: older versions (`/v3/x` → `/v2/x`, `/v1/x`), and for an unversioned
 * path, `v1` and `v2` after a leading `api`/`rest` segment or at the front (`/api/users` → `/api/v1/users`).
 */
export function versionVariants(template: string): string[] {
  const m = /\/v(\d+)(?=\/|$)/.exec(template);
  if (m) {
    const n = Number(m[1]);
    const out: string[] = [];
    for (let v = n - 1; v >= Math.max(0, n - 3); v--) out.push(template.replace(`/v${n}`, `/v${v}`));
    out.push(template.replace(`/v${n}`, ''));
    return out.filter((p) => p !== '' && p !== template);
  }
  const segs = template.split('/');
  const at = /^(api|rest)$/i.test(segs[1] ?? '') ? 2 : 1;
  return ['v1', 'v2'].map((v) => [...segs.slice(0, at), v, ...segs.slice(at)].join('/'));
}

/**
 * The paths an answer lists when it is an API description (OpenAPI or Swagger, JSON or YAML): each as written
 * and below the description's base (`basePath`, or its first server's path).
 */
export function describedPaths(res: ScanResponse): { shown: string; spellings: string[] }[] | undefined {
  let doc: unknown = res.json;
  if (doc === undefined && /^\s*(openapi|swagger)\s*:/m.test(res.text.slice(0, 2000))) {
    try {
      doc = parseYaml(res.text.slice(0, 2_000_000), { maxAliasCount: 100 });
    } catch {
      return undefined;
    }
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) return undefined;
  const d = doc as Record<string, unknown>;
  if (typeof d.openapi !== 'string' && typeof d.swagger !== 'string') return undefined;
  if (d.paths === null || typeof d.paths !== 'object' || Array.isArray(d.paths)) return undefined;
  const first = (Array.isArray(d.servers) ? d.servers[0] : undefined) as { url?: unknown } | undefined;
  let base = typeof d.basePath === 'string' ? d.basePath : '';
  if (base === '' && typeof first?.url === 'string') {
    try {
      base = new URL(first.url, 'http://x').pathname;
    } catch {
      base = '';
    }
  }
  base = base.replace(/\/$/, '');
  return Object.keys(d.paths as Record<string, unknown>)
    .slice(0, 2000)
    .map((p) => ({ shown: p, spellings: base === '' ? [p] : [p, `${base}${p}`] }));
}

/**
 * What an API description served at a path says about the scanned API: `own` when it lists paths and every one
 * is in the given document (the document the scan was given, served where it came from, or a copy of it);
 * `more` with the paths it lists that the given document does not have (operations it does not declare).
 */
export function describes(
  spec: ApiDocument,
  res: ScanResponse,
): { kind: 'own' } | { kind: 'more'; extra: string[] } | undefined {
  const paths = describedPaths(res);
  if (paths === undefined || paths.length === 0) return undefined;
  const bare = (p: string) => unnamed(p.length > 1 ? p.replace(/\/$/, '') : p);
  const known = new Set(spec.operations.map((o) => bare(o.path)));
  const extra = paths.filter((p) => !p.spellings.some((x) => known.has(bare(x)))).map((p) => p.shown);
  return extra.length === 0 ? { kind: 'own' } : { kind: 'more', extra };
}

/** A documentation page (Swagger UI, ReDoc, RapiDoc, Scalar, Stoplight Elements). */
const DOC_UI =
  /swagger-ui|SwaggerUIBundle|<redoc|redoc\.standalone|rapi-doc|@scalar\/api-reference|elements-api/i;
/** Where such a page points at its description: `url: '/openapi.json'`, `spec-url="..."`, `data-url="..."`. */
const DOC_REF =
  /(?:\burl|spec-url|specUrl|apiDescriptionUrl|data-url)\s*[:=]\s*["'`]([^"'`\s<>]{1,200})["'`]/g;

/** The same-origin description URLs a documentation page names (at most 3), as paths; none when it is no such page. */
export function docPageRefs(res: ScanResponse, pagePath: string): string[] {
  if (res.json !== undefined || !DOC_UI.test(res.text.slice(0, 200_000))) return [];
  const out: string[] = [];
  for (const m of res.text.slice(0, 200_000).matchAll(DOC_REF)) {
    if (out.length >= 3) break;
    try {
      const u = new URL(m[1], `http://doc.invalid${pagePath}`);
      if (u.host === 'doc.invalid' && !out.includes(u.pathname + u.search)) out.push(u.pathname + u.search);
    } catch {
      // not a URL
    }
  }
  return out;
}

/** Words that retire an operation in its summary, tags or description: an old version kept running. */
const RETIRED_WORDS =
  /\b(legacy|deprecated|obsolete|superseded|old(er)? (api )?version|kept for (backward )?compatibility|to be removed)\b/i;

/**
 * Why the document says an operation is retired: `deprecated: true`, or its summary, tags or description call it
 * legacy, deprecated or an old version (`Legacy API: list all users`, a `Users (Legacy)` tag).
 */
export function retired(spec: ScanContext['spec'], op: Operation): string | undefined {
  if (op.deprecated) return 'marked deprecated';
  const internal = oldInternal(spec, op);
  if (internal !== undefined) return internal;
  if (RETIRED_WORDS.test(op.summary ?? '') || op.tags.some((t) => RETIRED_WORDS.test(t))) {
    return 'described as legacy';
  }
  return RETIRED_WORDS.test(operationDescription(spec, op)) ? 'described as legacy' : undefined;
}

/** Path words of a route not meant for clients: internal tooling, backups, dumps, debugging. */
const INTERNAL_WORD = /^(internal|backup|backups|dump|dumps|debug|export-all|dev|test|tmp|old|legacy)$/i;

/**
 * An internal route (`internal`, `backup`, `dump`, `debug`... among its literal segments) under a version older
 * than the newest the document has (`/api/v1/internal/backup` beside `/api/v2/...`): a leftover of the inventory,
 * whatever the document says of it.
 */
export function oldInternal(spec: ScanContext['spec'], op: Operation): string | undefined {
  const own = versionOf(op.path);
  if (!own) return undefined;
  if (!op.path.split('/').some((seg) => !seg.includes('{') && INTERNAL_WORD.test(seg))) return undefined;
  let newest = own.version;
  for (const other of spec.operations) newest = Math.max(newest, versionOf(other.path)?.version ?? 0);
  return newest > own.version
    ? `an internal route of an older version (v${own.version}; the document's newest is v${newest})`
    : undefined;
}

/** Whether an answer holds data: a non-empty list, or an object with a non-empty list or five members or more. */
function holdsData(json: unknown, depth = 0): boolean {
  if (Array.isArray(json)) return json.length > 0;
  if (json === null || typeof json !== 'object' || depth > 2) return false;
  const values = Object.values(json as Record<string, unknown>);
  return (
    values.length >= 5 || values.some((v) => v !== null && typeof v === 'object' && holdsData(v, depth + 1))
  );
}

/** `/api/v1/users` → version 1 and the path without it (`/api/users`); undefined for an unversioned path. */
export function versionOf(path: string): { version: number; bare: string } | undefined {
  const m = /\/v(\d+)(?=\/|$)/i.exec(path);
  return m ? { version: Number(m[1]), bare: unnamed(path.replace(m[0], '')) } : undefined;
}

/** A path template with its parameters unnamed (`/users/{id}` and `/users/{user_id}` are the same route). */
function unnamed(path: string): string {
  return path.replace(/\{[^}]*\}/g, '{}');
}

/**
 * Documented GET operations that are an older version of another documented one: `/v1/x` beside `/x` (the
 * unversioned path is the current one) or beside `/v2/x` (the highest version is). Pairs [older, current].
 */
export function olderVersions(ops: readonly Operation[]): [Operation, Operation][] {
  const reads = ops.filter((op) => op.method === 'GET' && !isExcluded(op));
  const out: [Operation, Operation][] = [];
  for (const old of reads) {
    const o = versionOf(old.path);
    if (!o) continue;
    let current: Operation | undefined;
    let best = o.version;
    for (const op of reads) {
      if (op === old) continue;
      const v = versionOf(op.path);
      if (v === undefined ? unnamed(op.path) === o.bare : v.bare === o.bare && v.version > best) {
        current = op;
        if (v === undefined) break;
        best = v.version;
      }
    }
    if (current) out.push([old, current]);
  }
  return out;
}

/** A scalar worth matching records on: a number or a string of two characters or more (not flags or nulls). */
function telling(value: unknown): value is string | number {
  return typeof value === 'number' || (typeof value === 'string' && value.length >= 2);
}

/** The objects of a JSON answer, at any depth (envelopes, list items, nested records), bounded. */
export function recordsIn(
  json: unknown,
  out: Record<string, unknown>[] = [],
  depth = 0,
): Record<string, unknown>[] {
  if (depth > 6 || out.length >= 200 || json === null || typeof json !== 'object') return out;
  if (Array.isArray(json)) {
    for (const item of json.slice(0, 50)) recordsIn(item, out, depth + 1);
    return out;
  }
  const record = json as Record<string, unknown>;
  out.push(record);
  for (const v of Object.values(record)) recordsIn(v, out, depth + 1);
  return out;
}

function tellingPairs(record: Record<string, unknown>): Set<string> {
  return new Set(
    Object.entries(record)
      .filter(([, v]) => telling(v))
      .map(([k, v]) => `${k}\0${v}`),
  );
}

/**
 * Members the older version's records show that the current version's same records do not. Records are paired
 * by content, wherever each answer holds them (a list, `{"data": {"users": [...]}}`, a nested `owner`): a
 * current record pairs with the older record sharing at least two of its names and values, and at least half
 * of them. Only scalar members count: an envelope's lists and objects are no difference (the records inside are
 * paired on their own); a member whose value the current record shows under another name (a renamed field), or
 * that is null or empty, is none either.
 */
export function extraMembers(older: unknown, current: unknown): string[] {
  const currents = recordsIn(current).map((r) => ({ record: r, pairs: tellingPairs(r) }));
  const extra = new Set<string>();
  for (const old of recordsIn(older)) {
    const pairs = tellingPairs(old);
    let best: { record: Record<string, unknown>; shared: number } | undefined;
    for (const c of currents) {
      let shared = 0;
      for (const p of c.pairs) if (pairs.has(p)) shared++;
      if (shared >= 2 && shared * 2 >= c.pairs.size && shared > (best?.shared ?? 0)) {
        best = { record: c.record, shared };
      }
    }
    if (!best) continue;
    const match = best.record;
    const shown = new Set(Object.values(match).filter(telling).map(String));
    for (const [k, v] of Object.entries(old)) {
      // Containers are envelopes or records of their own (paired on their own); null and '' show nothing.
      if (v === null || v === '' || typeof v === 'object') continue;
      if (k in match || (telling(v) && shown.has(String(v)))) continue;
      extra.add(k);
    }
  }
  return [...extra];
}

/**
 * An older version weaker than the current one: it answers without credentials where the current one declares
 * security (and refuses an anonymous caller), or its records (list items, nested objects, wherever the envelope
 * puts them) show members the current one's same records do not (`extraMembers`).
 */
async function olderVersionChecks(ctx: ScanContext, user: Identity): Promise<void> {
  for (const [old, current] of olderVersions(ctx.spec.operations).slice(0, 20)) {
    const plan = (op: Operation) => planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
    const oldReq = plan(old);
    if (requiresAuth(current)) {
      const anon = await ctx.send(oldReq, null);
      const currentAnon =
        isSuccess(anon) && !looksRefused(anon) ? await ctx.send(plan(current), null) : undefined;
      // The current one refuses strangers as it declares; the old one does not.
      const currentStatus = currentAnon?.status ?? 0;
      if (isSuccess(anon) && !looksRefused(anon) && (currentStatus === 401 || currentStatus === 403)) {
        ctx.report(SCAN_RULES.olderVersionWeaker, {
          operation: old,
          message: `GET ${old.path} (an older version of ${current.path}, which requires credentials and refused a caller without them with ${currentStatus}) answered ${anon.status} without credentials.`,
          evidence: evidenceOf(anon, { current: current.path, currentStatus }),
        });
        continue;
      }
    }
    const [a, b] = [await ctx.send(oldReq, user), await ctx.send(plan(current), user)];
    if (!isSuccess(a) || !isSuccess(b) || looksRefused(a) || looksRefused(b)) continue;
    const extra = extraMembers(a.json, b.json);
    if (extra.length === 0) continue;
    ctx.report(SCAN_RULES.olderVersionWeaker, {
      operation: old,
      message: `GET ${old.path} (an older version of ${current.path}) shows fields the current version does not: ${extra.slice(0, 8).join(', ')}.`,
      evidence: evidenceOf(a, { current: current.path, extraFields: extra.slice(0, 20) }),
    });
  }
}

/** At most this many older-version writes are tried (each with its control). */
const MAX_OLDER_WRITES = 16;
/** Answers that say a route is not there. */
const ABSENT = new Set([404, 405, 501]);
/** Inputs that name or describe an account: an older version's write gets fresh values of the scan's own there. */
const ACCOUNT_INPUT = /user|name|mail|login|phone|mobile|pass|pwd|account|handle|owner|role|admin/i;
/** Paths of writes that act on an account, its password or a sign-in. */
const ACCOUNT_PATH =
  /pass(word)?|passwd|reset|forgot|recover|regist|sign_?-?up|sign_?-?in|log_?-?in|account|users?(\/|$)|profile|role|admin/i;

/**
 * A write that acts on an account, a password, a sign-in or money (a sign-up, a login, a reset, an account
 * change, a business flow, an admin function): an older version of it goes out anonymously, with fresh values.
 */
export function accountWrite(spec: ApiDocument, op: Operation): boolean {
  return (
    isLoginOperation(spec, op) ||
    setsPassword(spec, op) ||
    changesAccount(spec, op) ||
    changesOwnAccount(spec, op) ||
    isBusinessFlow(spec, op) ||
    isAdminOperation(op) ||
    ACCOUNT_PATH.test(op.path) ||
    Object.keys(propertiesOf(spec, bodySchema(op))).some(
      (k) => ACCOUNT_INPUT.test(k) && /pass|pwd|role|admin/i.test(k),
    )
  );
}

/** A body of fresh values: every input that names an account, a password or a role gets one of the scan's own. */
function freshBody(spec: ApiDocument, op: Operation): unknown {
  const schema = bodySchema(op);
  if (schema === undefined) return undefined;
  const body = sampleValue(spec, schema);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const tag = `pcv${randomBytes(5).toString('hex')}`;
  const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
  for (const [k, v] of Object.entries(out)) {
    if (!ACCOUNT_INPUT.test(k) || typeof v !== 'string') continue;
    out[k] = /mail/i.test(k)
      ? `${tag}@example.com`
      : /pass|pwd/i.test(k)
        ? `Pc-${randomBytes(9).toString('base64url')}-7q`
        : /phone|mobile/i.test(k)
          ? `+1555${String(randomBytes(3).readUIntBE(0, 3) % 10_000_000).padStart(7, '0')}`
          : tag;
  }
  return out;
}

/** Path parameters that name nothing: fresh values of the parameter's type (an account write touches no one). */
function freshParams(spec: ApiDocument, op: Operation): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of op.parameters) {
    // A version or a kind the document lists names no object: the planner fills it from the list.
    if (p.in !== 'path' || listedValue(spec, p.schema) !== undefined) continue;
    const s = resolveSchema(spec, p.schema);
    out[p.name] =
      s.type === 'integer' || s.type === 'number' ? '987654321' : `pcv${randomBytes(4).toString('hex')}`;
  }
  return out;
}

/** A made-up id of the kind of the value it stands for: names nothing on the target. */
function madeUpLike(value: unknown): unknown {
  return typeof value === 'number' || typeof value === 'bigint' || /^\d+$/.test(String(value))
    ? typeof value === 'string'
      ? '987654321'
      : 987654321
    : `pcv${randomBytes(4).toString('hex')}`;
}

/**
 * A body whose id inputs (`order_id`, `ids`, nested ones, three levels deep) name only objects the scan created
 * or nothing: any other id becomes a made-up one. An older route answering is when a real id would reach
 * someone's object (`POST /api/v0/orders/cancel {"order_id": 1}`).
 */
function madeUpBodyIds(objects: ObjectRegistry, body: unknown, depth = 0): unknown {
  if (body === null || typeof body !== 'object' || depth > 3) return body;
  if (Array.isArray(body)) return body.slice(0, 50).map((v) => madeUpBodyIds(objects, v, depth + 1));
  if (Object.getPrototypeOf(body) !== Object.prototype) return body;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body as Record<string, unknown>)) {
    const id = (x: unknown) =>
      (typeof x === 'string' || typeof x === 'number') && !createdValue(objects, String(x))
        ? madeUpLike(x)
        : x;
    out[k] = idInput(k)
      ? Array.isArray(v)
        ? v.slice(0, 50).map(id)
        : id(v)
      : madeUpBodyIds(objects, v, depth + 1);
  }
  return out;
}

/** Query inputs that name an id (`archive?id=3`): made-up unless the plan gave an object the scan created. */
function madeUpQueryIds(objects: ObjectRegistry, op: Operation, path: string): Record<string, string> {
  const q = path.indexOf('?');
  const given = new URLSearchParams(q >= 0 ? path.slice(q + 1) : '');
  const out: Record<string, string> = {};
  for (const p of op.parameters) {
    if (p.in !== 'query' || !idInput(p.name)) continue;
    const value = given.get(p.name);
    if (value !== null && !createdValue(objects, value)) out[p.name] = String(madeUpLike(value));
  }
  return out;
}

/**
 * Older versions of the documented writes (`POST /api/v2/feedback` → `/api/v1/feedback`, `/api/feedback`;
 * `/v1/x` → `/v0/x`): an older version that answers (not 404, 405 or 501) where a made-up route beside it, sent
 * the same way, answers otherwise, is still served though the document does not list it. Safety: a write that
 * acts on an account, a password, a sign-in or money goes out anonymously, with fresh values in its body and
 * path (never a given identity's data or session); any other POST goes as A with the planned body; PUT and
 * PATCH only where the safety rule lets them (objects the scan created, or `allowDestructive`).
 */
async function olderWrites(ctx: ScanContext, user: Identity): Promise<void> {
  let sent = 0;
  const controls = new Map<string, (Control | undefined)[]>();
  for (const op of ctx.spec.operations) {
    if (!/^(POST|PUT|PATCH)$/.test(op.method) || isExcluded(op) || versionOf(op.path) === undefined) continue;
    const sensitive = accountWrite(ctx.spec, op);
    for (const template of versionVariants(op.path)) {
      if (sent >= MAX_OLDER_WRITES || ctx.signal.aborted) return;
      if (ctx.spec.operations.some((o) => o.method === op.method && templateRegex(o.path).test(template)))
        continue;
      const as = sensitive ? null : user;
      const params = sensitive ? freshParams(ctx.spec, op) : undefined;
      const first = planRequest(ctx.spec, op, ctx.objects, {
        ...(as ? { owner: as.name } : {}),
        ...(params ? { params } : {}),
        ...(sensitive ? { body: freshBody(ctx.spec, op) } : {}),
      });
      if (!sensitive && first.invented.length > 0) continue;
      // Only ids of objects the scan created, or made-up ones, in its path, query and body: an older route that
      // answers is exactly where a real id would change someone's object.
      const keepPath = ctx.objects.isScanCreated(first.path.split('?')[0]);
      const planned = planRequest(ctx.spec, op, ctx.objects, {
        ...(as ? { owner: as.name } : {}),
        params: {
          ...(keepPath ? {} : freshParams(ctx.spec, op)),
          ...madeUpQueryIds(ctx.objects, op, first.path),
        },
        body: madeUpBodyIds(ctx.objects, first.body),
      });
      const documentedPath = planned.path;
      const variant = fillVariant(op.path, template, documentedPath);
      // The request as planned, at the older path; its operation stays the documented one (the encoding), with the
      // older template as its path, so what the runner reads from the path lines up with it (`/invoices/{id}/finalize`
      // names the invoice, not `finalize`).
      const res = await ctx.send({ ...planned, path: variant, operation: { ...op, path: template } }, as);
      sent++;
      if (res === undefined) {
        ctx.note?.({
          operation: op,
          reason: `the older version ${op.method} ${template} was not sent: a change to an object the scan did not create`,
        });
        continue;
      }
      if (res.status !== 404 && ABSENT.has(res.status)) continue;
      // Made-up routes beside it: the same answer there says nothing about the older version.
      const bare = variant.split('?')[0];
      const parent = bare.slice(0, bare.lastIndexOf('/'));
      const key = `${op.method} ${as ? 'A' : '-'} ${parent}`;
      const controlAt = async (i: number): Promise<Control | undefined> => {
        const known = controls.get(key) ?? [];
        controls.set(key, known);
        if (known[i] === undefined) {
          const path = `${parent}/portcullis-${randomUUID()}`;
          known[i] = { path, res: await ctx.send({ ...planned, path }, as) };
        }
        return known[i];
      };
      const control = await controlAt(0);
      let message: string;
      if (res.status === 404) {
        // A 404 of the app's own (`{"message": "User not found"}`) where made-up routes beside it get the
        // framework's (`Cannot POST ...`), alike twice: the route is there, the value it was sent is not.
        const second = control?.res?.status === 404 ? await controlAt(1) : undefined;
        if (!control?.res || !second?.res) continue;
        const own = ownNotFound({ path: bare, res }, [
          { path: control.path, res: control.res },
          { path: second.path, res: second.res },
        ]);
        if (own === undefined) continue;
        message = `${op.method} ${template} (an older version of the documented ${op.method} ${op.path}) answered ${res.status}${as ? '' : ' without credentials'} with an answer of its own (${own.route}), but is not in the API description; two made-up routes beside it answered 404 alike (${own.madeUp}): the route is served, the value it was sent is unknown to it.`;
      } else {
        // No control (the safety rule kept it back): nothing to compare with, nothing judged.
        if (control?.res === undefined || control.res.status === res.status) continue;
        message = `${op.method} ${template} (an older version of the documented ${op.method} ${op.path}) answered ${res.status}${as ? '' : ' without credentials'}, but is not in the API description; a made-up route beside it answered ${control?.res?.status ?? 'nothing'}.`;
      }
      ctx.report(SCAN_RULES.undocumentedEndpoint, {
        operation: undocumentedOperation(template, op, op.method),
        severity: 'medium',
        key: `${op.method} ${template}`,
        message,
        evidence: evidenceOf(res, { documented: op.path, control: control?.res?.status }),
      });
    }
  }
}

/** A made-up route's path and its answer (none when the safety rule kept the request back). */
interface Control {
  readonly path: string;
  readonly res: ScanResponse | undefined;
}

/** What a 404 looks like, with the path it was asked for (and its last segment) written as a placeholder. */
interface NotFoundShape {
  readonly media: string;
  /** Pointer → value of a JSON answer (leaves only), else undefined. */
  readonly members: ReadonlyMap<string, string> | undefined;
  /** The text of an answer that is not JSON. */
  readonly text: string;
}

function notFoundShape(path: string, res: ScanResponse): NotFoundShape {
  // A route of Django REST framework ends with `/`: its last segment is the one before (`projects` of
  // `/api/v0/projects/`), and its 404 page echoes the path also without the leading slash (`api/v0/projects/`).
  const bare = path.split('?')[0].replace(/\/+$/, '');
  const last = bare.slice(bare.lastIndexOf('/') + 1);
  const escaped = last.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const segment = last.length >= 3 ? new RegExp(`(?<![\\w-])${escaped}(?![\\w-])`, 'g') : undefined;
  const spellings = [
    ...new Set([path, encodeURI(path), path.replace(/^\/+/, ''), bare, bare.replace(/^\/+/, '')]),
  ]
    .filter((p) => p.length >= 3)
    .sort((a, b) => b.length - a.length);
  const plain = (text: string) => {
    let out = text;
    let echoed = false;
    for (const p of spellings) {
      if (!out.includes(p)) continue;
      out = out.split(p).join('{path}');
      echoed = true;
    }
    // The last segment alone only where the path is not echoed whole: a page that echoes the path may also list
    // routes holding the same word (Django's URL patterns), which a made-up segment beside it would not hold.
    return segment && !echoed ? out.replace(segment, '{segment}') : out;
  };
  const media = (res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  const json = res.json;
  if (json === null || typeof json !== 'object') return { media, members: undefined, text: plain(res.text) };
  const members = new Map<string, string>();
  const walk = (value: unknown, at: string, depth: number) => {
    if (members.size >= 200) return;
    if (value !== null && typeof value === 'object' && depth < 6) {
      for (const [k, v] of Object.entries(value)) walk(v, `${at}/${k}`, depth + 1);
    } else {
      members.set(at, plain(typeof value === 'string' ? value : JSON.stringify(value)));
    }
  };
  walk(json, '', 0);
  return { media, members, text: '' };
}

/** A short description of a 404 for the report: its media type and the start of its body. */
function describe404(res: ScanResponse): string {
  const body = res.text.replace(/\s+/g, ' ').trim();
  const media = (res.headers['content-type'] ?? 'no content type').split(';')[0].trim();
  return `${media} ${body.length > 80 ? `${body.slice(0, 80)}...` : body}`;
}

/**
 * A 404 at a route that is there: two made-up routes beside it answered 404 alike (the same media type, the same
 * text, or the same JSON members with the same values wherever their two answers agree: a timestamp or a request
 * id may differ), and this one answered otherwise (another media type, text, members or value): the app's own
 * 404 for a value it does not know, not the framework's for a route it does not have. Undefined when the made-up
 * answers differ from each other (nothing to judge by) or this one looks like them.
 */
export function ownNotFound(
  route: { readonly path: string; readonly res: ScanResponse },
  madeUp: readonly [
    { readonly path: string; readonly res: ScanResponse },
    { readonly path: string; readonly res: ScanResponse },
  ],
): { readonly route: string; readonly madeUp: string } | undefined {
  if (route.res.status !== 404 || madeUp.some((c) => c.res.status !== 404)) return undefined;
  const [a, b] = madeUp.map((c) => notFoundShape(c.path, c.res));
  if (a.media !== b.media || (a.members === undefined) !== (b.members === undefined)) return undefined;
  if (a.members === undefined || b.members === undefined) {
    if (a.text !== b.text) return undefined;
  } else if (a.members.size !== b.members.size || [...a.members.keys()].some((k) => !b.members?.has(k))) {
    return undefined;
  }
  const shape = notFoundShape(route.path, route.res);
  const differs = (() => {
    if (shape.media !== a.media) return true;
    if ((shape.members === undefined) !== (a.members === undefined)) return true;
    if (shape.members === undefined || a.members === undefined) return shape.text !== a.text;
    if (shape.members.size !== a.members.size) return true;
    for (const [k, v] of a.members) {
      if (!shape.members.has(k)) return true;
      if (b.members?.get(k) === v && shape.members.get(k) !== v) return true;
    }
    return false;
  })();
  return differs ? { route: describe404(route.res), madeUp: describe404(madeUp[0].res) } : undefined;
}

/**
 * Did a guessed path and a made-up one beside it answer alike: the same status and the same body (the same JSON
 * members and values, nearly all of them, or the same text once each answer's own last segment is set aside)?
 * Then what answered is the parent taking any suffix, not a route at the guessed path.
 */
export function answersAlike(
  guessed: { readonly path: string; readonly res: ScanResponse },
  madeUp: { readonly path: string; readonly res: ScanResponse },
): boolean {
  if (guessed.res.status !== madeUp.res.status) return false;
  const a = notFoundShape(guessed.path, guessed.res);
  const b = notFoundShape(madeUp.path, madeUp.res);
  if (a.media !== b.media || (a.members === undefined) !== (b.members === undefined)) return false;
  if (a.members === undefined || b.members === undefined) return a.text === b.text;
  let common = 0;
  for (const [k, v] of a.members) if (b.members.get(k) === v) common++;
  const all = a.members.size + b.members.size - common;
  return all === 0 || common / all >= 0.9;
}

/** A variant template filled with the values a planned request put into the documented template's parameters. */
function fillVariant(documented: string, variant: string, concrete: string): string {
  const [path, query] = concrete.split('?');
  const templateSegs = documented.split('/');
  const concreteSegs = path.split('/');
  const filled = variant
    .split('/')
    .map((seg) => {
      const i = templateSegs.indexOf(seg);
      return seg.includes('{') && i >= 0 ? concreteSegs[i] : seg;
    })
    .join('/');
  return query === undefined ? filled : `${filled}?${query}`;
}

/**
 * Where the target URL has a path of its own (`http://host/api/v2`), what lies outside it: the host's root (`/debug`,
 * `/graphql`, the probes that matter most) and the other versions of that base (`/api/v1/users` beside the
 * documented `/users` under `/api/v2`). Every request path is joined to the target, so these go as dot segments
 * (`/../../debug`), which the URL parser resolves before the request is sent (WHATWG URL). Each is judged against a
 * made-up path in the same place (a catch-all answers it alike), as A, anonymously where A is refused for a version.
 */
async function outsideTargetBase(
  ctx: ScanContext,
  user: Identity,
  probe: GuessProbe,
  looksReal: (res: ScanResponse | undefined) => res is ScanResponse,
): Promise<void> {
  const targetBase = new URL(ctx.target).pathname.replace(/\/+$/, '');
  if (targetBase === '') return;
  const up = '/..'.repeat(targetBase.split('/').length - 1);
  const controls = new Map<string, ScanResponse | undefined>();
  /** A made-up path in `folder` (an origin path), asked as `as`: what a catch-all there answers. */
  const control = async (folder: string, as: Identity | null) => {
    const key = `${as ? 'A' : '-'} ${folder}`;
    if (!controls.has(key))
      controls.set(
        key,
        await ctx.send({ method: 'GET', path: `${up}${folder}/pcx${randomBytes(6).toString('hex')}` }, as),
      );
    return controls.get(key);
  };
  const unlike = async (path: string, res: ScanResponse, as: Identity | null) => {
    const folder = path.slice(0, path.lastIndexOf('/'));
    const made = await control(folder, as);
    return made !== undefined && !answersAlike({ path, res }, { path: `${folder}/pcx`, res: made });
  };
  for (const [path, severity] of PROBES) {
    if (!UNDER_BASE.has(path) && path !== '/graphql') continue;
    const found = await probe(`${up}${path}`, user);
    if (!found?.real || !looksReal(found.res) || !(await unlike(path, found.res, user))) continue;
    ctx.report(SCAN_RULES.undocumentedEndpoint, {
      operation: undocumentedOperation(path),
      severity,
      key: `origin ${path}`,
      message: `GET ${path} at the host's root, outside the target's base ${targetBase}, answered ${found.res.status} but is not in the API description.`,
      evidence: evidenceOf(found.res, { targetBase }),
    });
  }
  // The base's other versions, with the documented parameterless reads below them (at most 5 reads, 3 versions).
  const reads = ctx.spec.operations
    .filter((op) => op.method === 'GET' && !isExcluded(op) && !op.path.includes('{'))
    .filter((op) => !op.parameters.some((p) => p.required && p.in === 'query'))
    .slice(0, 5);
  for (const alt of versionVariants(targetBase).slice(0, 3)) {
    for (const op of reads) {
      const path = `${alt}${op.path}`;
      let found = await probe(`${up}${path}`, user);
      let anonymous = false;
      if (found && !found.real && (found.res?.status === 401 || found.res?.status === 403)) {
        found = await probe(`${up}${path}`, null);
        anonymous = true;
      }
      if (!found?.real || !looksReal(found.res) || !(await unlike(path, found.res, anonymous ? null : user)))
        continue;
      ctx.report(SCAN_RULES.undocumentedEndpoint, {
        operation: undocumentedOperation(path, op),
        severity: 'medium',
        key: `origin ${path}`,
        message: `GET ${path} answers${anonymous ? ' without credentials' : ''} beside the documented ${targetBase}${op.path} (another version of the target's base), but is not in the API description.`,
        evidence: evidenceOf(found.res, { documented: `${targetBase}${op.path}` }),
      });
      break; // one read shows the version is served
    }
  }
}

/**
 * Whole-collection routes below the version before the documented one (`/api/v0/users/listAll` beside the
 * documented `/api/v1/users/{id}`): each word of OLD_COLLECTION_WORDS below each older collection, as A, and
 * anonymously where A is refused. A 2xx that refuses nothing, unlike the catch-alls (looksReal, in `probe`) and
 * unlike a made-up last segment in the same folder asked as the same caller, is reported at its path. At most
 * 12 collections × 5 words, and one made-up path a folder and caller.
 */
async function olderCollectionRoutes(
  ctx: ScanContext,
  user: Identity,
  probe: GuessProbe,
  controls: Map<string, Control>,
): Promise<void> {
  for (const { older, documented: current } of olderCollections(ctx.spec.operations.map((o) => o.path))) {
    for (const [word, severity] of OLD_COLLECTION_WORDS) {
      if (ctx.signal.aborted) return;
      const path = `${older}/${word}`;
      let found = await probe(path, user);
      let as: Identity | null = user;
      if (found && !found.real && (found.res?.status === 401 || found.res?.status === 403)) {
        found = await probe(path, null);
        as = null;
      }
      if (!found?.real || found.res === undefined || looksRefused(found.res)) continue;
      const key = `${as ? 'A' : '-'} ${older}`;
      if (!controls.has(key)) {
        const made = `${older}/pcx${randomBytes(6).toString('hex')}`;
        controls.set(key, { path: made, res: await ctx.send({ method: 'GET', path: made }, as) });
      }
      const control = controls.get(key);
      if (
        control?.res === undefined ||
        answersAlike({ path, res: found.res }, { path: control.path, res: control.res })
      )
        continue;
      ctx.report(SCAN_RULES.undocumentedEndpoint, {
        operation: undocumentedOperation(path),
        severity,
        key: path,
        message: `GET ${path} answers${as ? '' : ' without credentials'} below the version before the documented ${current}, but is not in the API description: a route of a retired version still served.`,
        evidence: evidenceOf(found.res, { documented: current }),
      });
    }
  }
}

export const api9: Check = {
  id: 'API9',
  title: 'Improper inventory management',
  rules: [SCAN_RULES.undocumentedEndpoint, SCAN_RULES.deprecatedServed, SCAN_RULES.olderVersionWeaker],
  async run(ctx) {
    const user = ctx.identities[0];
    if (!user) return;
    await olderVersionChecks(ctx, user);
    await olderWrites(ctx, user);
    const random = await ctx.send({ method: 'GET', path: `/portcullis-${randomUUID()}` }, user);
    const catchAll = isSuccess(random) ? random : undefined;
    const base = basePath(ctx.spec.operations.map((o) => o.path));
    const randomUnderBase = base
      ? await ctx.send({ method: 'GET', path: `${base}/portcullis-${randomUUID()}` }, user)
      : undefined;
    const catchAllBase = isSuccess(randomUnderBase) ? randomUnderBase : undefined;
    const looksReal = (res: ScanResponse | undefined): res is ScanResponse =>
      isSuccess(res) &&
      [catchAll, catchAllBase].every((c) => !c || similarity(c.json ?? c.text, res.json ?? res.text) < 0.9);
    const tried = new Set<string>();
    const probe = async (path: string, as: Identity | null) => {
      const key = `${as ? 'A' : '-'} ${path}`;
      if (tried.has(key) || documented(ctx, path)) return undefined;
      tried.add(key);
      const res = await ctx.send({ method: 'GET', path }, as);
      return { res, real: looksReal(res) };
    };

    // The API's own description, and documentation pages showing it, are no undocumented route (the scan was
    // given that document); a description listing more than the given one discloses what that one hides.
    const descriptions = new Map<string, ReturnType<typeof describes>>();
    const describedAt = async (path: string, res: ScanResponse) => {
      const direct = describes(ctx.spec, res);
      if (direct !== undefined) return { ...direct, via: path };
      for (const ref of docPageRefs(res, path)) {
        if (!descriptions.has(ref)) {
          const doc = await ctx.send({ method: 'GET', path: ref }, user);
          descriptions.set(ref, isSuccess(doc) ? describes(ctx.spec, doc) : undefined);
        }
        const found = descriptions.get(ref);
        if (found !== undefined) return { ...found, via: ref };
      }
      return undefined;
    };
    const ownDocs: string[] = [];
    for (const [path, severity] of PROBES) {
      const paths = [path, ...(base && UNDER_BASE.has(path) ? [`${base}${path}`] : [])];
      for (const p of paths) {
        const res = (await probe(p, user))?.res;
        if (!looksReal(res)) continue;
        const described = await describedAt(p, res);
        if (described?.kind === 'own') {
          ownDocs.push(p === described.via ? p : `${p} (showing ${described.via})`);
          continue;
        }
        if (described?.kind === 'more') {
          ctx.report(SCAN_RULES.undocumentedEndpoint, {
            operation: undocumentedOperation(p),
            severity: 'low',
            key: p,
            message: `GET ${p} serves an API description that lists ${described.extra.length} path${described.extra.length === 1 ? '' : 's'} the given document does not: ${described.extra.slice(0, 5).join(', ')}${described.extra.length > 5 ? ', ...' : ''}.`,
            evidence: evidenceOf(res, {
              description: described.via,
              undocumentedPaths: described.extra.slice(0, 20),
            }),
          });
          continue;
        }
        ctx.report(SCAN_RULES.undocumentedEndpoint, {
          operation: undocumentedOperation(p),
          severity,
          key: p,
          message: `GET ${p} answered ${res.status} but is not in the API description.`,
          evidence: evidenceOf(res),
        });
      }
    }

    // Configuration files below the documented folders (`/api/config.env`) and the static folders the answers link
    // to (`/public/config.json` beside `/public/images/mat.png`), judged against a made-up file there.
    const folders = configFolders(
      ctx.spec.operations.map((o) => o.path),
      base,
    );
    for (const folder of staticFolders(ctx)) if (!folders.includes(folder)) folders.push(folder);
    for (const folder of folders) {
      const made = await ctx.send({ method: 'GET', path: `${folder}/portcullis-${randomUUID()}.env` }, user);
      const catchFolder = isSuccess(made) ? made : undefined;
      for (const [path, severity] of PROBES) {
        if (!CONFIG_FILES.has(path)) continue;
        const p = `${folder}${path}`;
        const res = (await probe(p, user))?.res;
        if (!looksReal(res)) continue;
        if (catchFolder && similarity(catchFolder.json ?? catchFolder.text, res.json ?? res.text) >= 0.9)
          continue;
        ctx.report(SCAN_RULES.undocumentedEndpoint, {
          operation: undocumentedOperation(p),
          severity,
          key: p,
          message: `GET ${p} answered ${res.status} but is not in the API description: a configuration or backup file served below a documented folder.`,
          evidence: evidenceOf(res),
        });
      }
    }

    if (ownDocs.length > 0) {
      ctx.note?.({
        reason: `the API serves its own description (no operation the given document lacks) at ${ownDocs.join(', ')}: not reported; hide it if the API is not meant to be public`,
      });
    }

    await outsideTargetBase(ctx, user, probe, looksReal);
    await stageRoutes(ctx, user, base, probe, looksReal);

    // Variants of documented GET paths: other versions, and admin/internal/debug siblings of collections.
    const suffixControls = new Map<string, Control>();
    for (const op of ctx.spec.operations) {
      if (op.method !== 'GET' || isExcluded(op)) continue;
      // Values for the path parameters: A's objects first, then the others' (A's may be deleted by now).
      const owners = [user, ...ctx.identities.slice(1), ...(ctx.admin ? [ctx.admin] : [])];
      const fills = [
        ...new Set(
          owners.map((o) => planRequest(ctx.spec, op, ctx.objects, { owner: o.name }).path.split('?')[0]),
        ),
      ].slice(0, op.path.includes('{') ? 3 : 1);
      const templateSegs = op.path.split('/');
      /** Fills a variant template with a planned request's values for the same parameters. */
      const fill = (variant: string, concrete: string) => {
        const concreteSegs = concrete.split('/');
        return variant
          .split('/')
          .map((seg) => {
            const i = templateSegs.indexOf(seg);
            return seg.startsWith('{') && i >= 0 ? concreteSegs[i] : seg;
          })
          .join('/');
      };
      const variants: [string, Severity][] = versionVariants(op.path).map((v) => [v, 'medium']);
      if (!op.path.includes('{')) {
        for (const [s, sev] of SIBLINGS) variants.push([`${op.path.replace(/\/$/, '')}/${s}`, sev]);
      }
      for (const [template, severity] of variants) {
        if (tried.size > 400) break;
        let res: ScanResponse | undefined;
        let resPath = template;
        let anonymous = false;
        for (const concrete of fills) {
          const path = fill(template, concrete);
          // Old versions often skip authentication: ask as A, and anonymously when A is refused.
          const asA = await probe(path, user);
          if (!asA) break;
          if (asA.real) {
            res = asA.res;
            resPath = path;
            break;
          }
          if (asA.res && (asA.res.status === 401 || asA.res.status === 403)) {
            const anon = await probe(path, null);
            if (anon?.real) {
              res = anon.res;
              resPath = path;
              anonymous = true;
            }
            break;
          }
          if (asA.res?.status !== 404) break; // only a missing object is worth another id
        }
        if (!res) continue;
        // A folder that answers any name alike is no route of its own: under a documented path, a script that
        // takes any suffix (PHP's PATH_INFO: `/api/view-user.php/admin` runs view-user.php); under a version
        // folder, a catch-all (`/api/v1/<anything>` answering `{"status":"ok"}`). The guessed path is compared
        // with a made-up last segment in the same folder, asked as the same caller (the root's and the base
        // path's catch-alls were set aside by looksReal).
        const parent = resPath.slice(0, resPath.lastIndexOf('/'));
        if (parent !== '') {
          const as = anonymous ? null : user;
          const key = `${as ? 'A' : '-'} ${parent}`;
          if (!suffixControls.has(key)) {
            const path = `${parent}/pcx${randomBytes(6).toString('hex')}`;
            suffixControls.set(key, { path, res: await ctx.send({ method: 'GET', path }, as) });
          }
          const control = suffixControls.get(key);
          if (
            control?.res === undefined ||
            answersAlike({ path: resPath, res }, { path: control.path, res: control.res })
          )
            continue;
        }
        ctx.report(SCAN_RULES.undocumentedEndpoint, {
          operation: undocumentedOperation(template, op),
          severity,
          key: template,
          message: `GET ${template} answers${anonymous ? ' without credentials' : ''} beside the documented ${op.path}, but is not in the API description.`,
          evidence: evidenceOf(res, { documented: op.path }),
        });
      }
    }
    await olderCollectionRoutes(ctx, user, probe, suffixControls);
  },
  passive(ctx) {
    // A deprecated operation that the discovery or a check reached with success is still served.
    const done = new Set<string>();
    for (const { operation: op, response, identity } of ctx.observations) {
      if (!op || done.has(op.id) || !isSuccess(response) || looksRefused(response)) continue;
      const why = retired(ctx.spec, op);
      if (why === undefined) continue;
      const internal = why === oldInternal(ctx.spec, op);
      // An old internal route counts when it answers data to someone who is not the admin.
      if (internal && (identity === ctx.admin?.name || !holdsData(response.json))) continue;
      done.add(op.id);
      ctx.report(SCAN_RULES.deprecatedServed, {
        operation: op,
        ...(internal ? { severity: 'medium' as const, key: 'old-internal' } : {}),
        message: internal
          ? `${op.method} ${op.path} is ${why}, and still answered ${response.status} with data${identity === undefined ? ' without credentials' : ` to ${identity}`}.`
          : `${op.method} ${op.path} is ${why} in the API description but still answered ${response.status}${identity === undefined ? ' without credentials' : ''}.`,
        evidence: evidenceOf(response, identity !== undefined ? { identity } : {}),
      });
    }
  },
};
