/**
 * API9 Improper Inventory Management: paths that should not answer (debug consoles, configuration files,
 * framework endpoints, backups, API documents), at the root and under the API's own base path, and variants
 * of documented paths: older and unversioned versions (`/v1/notes` beside `/v2/notes`, `/api/v1/users` beside
 * `/api/users`) and `admin`/`internal`/`debug` siblings. A success that the document does not list, and that
 * differs from what a random path returns (catch-all routes), is reported, at the undocumented path.
 */
import { randomUUID } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { Severity } from '../../finding.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { isExcluded, planRequest, requiresAuth } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { similarity } from '../similarity.ts';
import { looksRefused } from './api3-property-authorization.ts';

/** Built-in probe list: path and how bad an answer is. Tried at the root and under the API's base path. */
export const PROBES: readonly (readonly [string, Severity])[] = [
  ['/.env', 'critical'],
  ['/.env.local', 'critical'],
  ['/.env.production', 'critical'],
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

const SIBLINGS: readonly (readonly [string, Severity])[] = [
  ['admin', 'high'],
  ['internal', 'high'],
  ['debug', 'high'],
  ['all', 'medium'],
  ['export', 'medium'],
];

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

/** An operation-shaped place for a finding at a path the document does not have. */
function undocumentedOperation(path: string, near?: Operation): Operation {
  return {
    id: `GET ${path}`,
    hasDeclaredId: false,
    method: 'GET',
    path,
    tags: [],
    deprecated: false,
    parameters: [],
    requestBody: undefined,
    responses: {},
    security: undefined,
    extensions: {},
    pointer: near?.pointer ?? '',
  };
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
  if (RETIRED_WORDS.test(op.summary ?? '') || op.tags.some((t) => RETIRED_WORDS.test(t))) {
    return 'described as legacy';
  }
  const raw = op.pointer !== '' ? spec.resolve(`#${op.pointer}`) : undefined;
  const description =
    raw !== null && typeof raw === 'object' ? (raw as Record<string, unknown>).description : undefined;
  return typeof description === 'string' && RETIRED_WORDS.test(description.slice(0, 2000))
    ? 'described as legacy'
    : undefined;
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

export const api9: Check = {
  id: 'API9',
  title: 'Improper inventory management',
  rules: [SCAN_RULES.undocumentedEndpoint, SCAN_RULES.deprecatedServed, SCAN_RULES.olderVersionWeaker],
  async run(ctx) {
    const user = ctx.identities[0];
    if (!user) return;
    await olderVersionChecks(ctx, user);
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

    for (const [path, severity] of PROBES) {
      const paths = [path, ...(base && UNDER_BASE.has(path) ? [`${base}${path}`] : [])];
      for (const p of paths) {
        const res = (await probe(p, user))?.res;
        if (!looksReal(res)) continue;
        ctx.report(SCAN_RULES.undocumentedEndpoint, {
          operation: undocumentedOperation(p),
          severity,
          key: p,
          message: `GET ${p} answered ${res.status} but is not in the API description.`,
          evidence: evidenceOf(res),
        });
      }
    }

    // Variants of documented GET paths: other versions, and admin/internal/debug siblings of collections.
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
        let anonymous = false;
        for (const concrete of fills) {
          const path = fill(template, concrete);
          // Old versions often skip authentication: ask as A, and anonymously when A is refused.
          const asA = await probe(path, user);
          if (!asA) break;
          if (asA.real) {
            res = asA.res;
            break;
          }
          if (asA.res && (asA.res.status === 401 || asA.res.status === 403)) {
            const anon = await probe(path, null);
            if (anon?.real) {
              res = anon.res;
              anonymous = true;
            }
            break;
          }
          if (asA.res?.status !== 404) break; // only a missing object is worth another id
        }
        if (!res) continue;
        ctx.report(SCAN_RULES.undocumentedEndpoint, {
          operation: undocumentedOperation(template, op),
          severity,
          key: template,
          message: `GET ${template} answers${anonymous ? ' without credentials' : ''} beside the documented ${op.path}, but is not in the API description.`,
          evidence: evidenceOf(res, { documented: op.path }),
        });
      }
    }
  },
  passive(ctx) {
    // A deprecated operation that the discovery or a check reached with success is still served.
    const done = new Set<string>();
    for (const { operation: op, response, identity } of ctx.observations) {
      if (!op || done.has(op.id) || !isSuccess(response) || looksRefused(response)) continue;
      const why = retired(ctx.spec, op);
      if (why === undefined) continue;
      done.add(op.id);
      ctx.report(SCAN_RULES.deprecatedServed, {
        operation: op,
        message: `${op.method} ${op.path} is ${why} in the API description but still answered ${response.status}${identity === undefined ? ' without credentials' : ''}.`,
        evidence: evidenceOf(response, identity !== undefined ? { identity } : {}),
      });
    }
  },
};
