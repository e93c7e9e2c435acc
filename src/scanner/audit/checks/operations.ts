/**
 * Operation rules, run in one loop over the operations: authentication, identifiers and credentials in URLs,
 * documented error and rate-limit responses, CORS, admin separation, inventory.
 */
import type { Emit } from '../collector.ts';
import { type AuditModel, type AuditOperation, type AuditResponse, type Located, typeIs } from '../model.ts';
import { R } from '../rules.ts';
import { isMapValue, type Json, type JsonMap, pointerJoin } from '../source.ts';
import { URL_NAME } from './schemas.ts';

/** Endpoints that are anonymous by nature: signing in or up, token and password-reset flows. */
const PUBLIC_WRITE =
  /(?:^|\/)(?:login|log-in|signin|sign-in|signup|sign-up|register|registration|token|oauth2?|authorize|sessions?|refresh|password[-_]?reset|reset[-_]?password|forgot[-_]?password|verify(?:-email)?)(?:\/|$|\.|\{)/i;
const PUBLIC_READ =
  /(?:^|\/)(?:health|healthz|livez|readyz|ready|status|ping|version|openapi(?:\.json|\.ya?ml)?|swagger(?:\.json|\.ya?ml)?|docs|\.well-known|login|authorize|jwks(?:\.json)?)(?:\/|$)/i;
const ID_NAME = /^(?:id|.*(?:_id|-id|Id|ID))$/;
/** Parameter names that carry a credential (pagination tokens excluded). */
const CREDENTIAL_NAME =
  /(?:password|passwd|secret|api[-_]?key|apikey|access[-_]?token|refresh[-_]?token|id[-_]?token|auth[-_]?token|session[-_]?id|^token$|^jwt$|^auth$|^authorization$|^key$|credentials?$)/i;
const PAGINATION_TOKEN = /(?:page|next|continuation|cursor|sync|resume)[-_]?token/i;
const PAGE_SIZE =
  /^(?:limit|page[-_]?size|per[-_]?page|size|count|max[-_]?results|top|first|last|take|batch[-_]?size)$/i;
const ADMIN_PATH = /(?:^|[/_-])admin(?:[/_-]|s?$|s?\/)/i;
const SENSITIVE_FLOW =
  /(?:checkout|purchase|orders?|payments?|coupons?|vouchers?|redeem|referrals?|invite|signup|sign-up|register|votes?|likes?|comments?|messages?|reviews?|tickets?|bookings?|reservations?|transfers?)(?:\/|$|\{)/i;
const VERBOSE_FIELDS = new Set([
  'stack',
  'stacktrace',
  'trace',
  'exception',
  'sql',
  'query',
  'debug',
  'innererror',
]);
const RATE_LIMIT_HEADERS = [
  'ratelimit',
  'ratelimit-policy',
  'ratelimit-limit',
  'ratelimit-remaining',
  'ratelimit-reset',
  'x-ratelimit-limit',
  'x-rate-limit-limit',
  'x-ratelimit-remaining',
];

function hasStatus(op: AuditOperation, ...codes: string[]): boolean {
  for (const r of op.responses) {
    const s = r.status.toUpperCase();
    for (const c of codes) if (s === c || s === `${c[0]}XX`) return true;
  }
  return false;
}

/** Values a header or schema could take, from `enum`, `const`, `default`, `example` and `examples`. */
function declaredValues(header: JsonMap): Json[] {
  const out: Json[] = [];
  for (const src of [header, isMapValue(header.schema) ? header.schema : undefined]) {
    if (!src) continue;
    if (Array.isArray(src.enum)) out.push(...src.enum);
    for (const k of ['const', 'default', 'example']) if (src[k] !== undefined) out.push(src[k]);
    if (isMapValue(src.examples)) {
      for (const e of Object.values(src.examples))
        if (isMapValue(e) && e.value !== undefined) out.push(e.value);
    } else if (Array.isArray(src.examples)) out.push(...src.examples);
  }
  return out;
}

/** Top-level property names of a schema, following `$ref` and `allOf` a few levels deep. */
function topLevelProperties(model: AuditModel, schema: Located, depth = 0): string[] {
  const loc = model.deref(schema);
  if (!isMapValue(loc.node) || depth > 4) return [];
  const names = isMapValue(loc.node.properties) ? Object.keys(loc.node.properties) : [];
  if (Array.isArray(loc.node.allOf)) {
    loc.node.allOf.forEach((s, i) => {
      names.push(
        ...topLevelProperties(model, { pointer: pointerJoin(loc.pointer, 'allOf', i), node: s }, depth + 1),
      );
    });
  }
  return names;
}

/** One signature per security alternative: schemes with their sorted scopes; `{}` is `anonymous`. */
function securitySignatures(op: AuditOperation): string[] {
  if (!op.security || op.security.length === 0) return ['anonymous'];
  return op.security.map((req) =>
    Object.keys(req).length === 0
      ? 'anonymous'
      : Object.keys(req)
          .sort()
          .map((k) => `${k}:${[...req[k]!].sort().join(' ')}`)
          .join('&'),
  );
}

export function checkOperations(model: AuditModel, emit: Emit): void {
  const { operations, securitySchemes } = model;
  const hasRootSecurityKey = Array.isArray(model.root.security);
  const versions = new Map<string, number>();

  for (const op of operations) {
    const opHit = { pointer: op.pointer, label: op.label, op };

    // API2: anonymous access. Group by where the fix goes: the root, or the operation's own opt-out.
    if (op.isAnonymous) {
      const rule = op.isWrite ? R.writeWithoutAuth : R.readWithoutAuth;
      const exempt = op.isWrite
        ? PUBLIC_WRITE.test(op.path)
        : PUBLIC_READ.test(op.path) || op.method === 'OPTIONS';
      if (!exempt && op.method !== 'OPTIONS') {
        if (op.securitySource === 'operation') {
          emit(rule, {
            ...opHit,
            key: op.pointer,
            anchor: `${op.pointer}/security`,
            note: 'the operation opts out',
          });
        } else if (op.securitySource === 'root') {
          emit(rule, {
            ...opHit,
            key: 'root',
            anchor: '/security',
            note: 'the root security allows anonymous calls',
          });
        } else {
          emit(rule, {
            ...opHit,
            key: 'root',
            anchor: hasRootSecurityKey ? '/security' : '',
            note: 'no security is declared at the root or on these operations',
          });
        }
      }
    }
    for (const req of op.security ?? []) {
      for (const name of Object.keys(req)) {
        if (securitySchemes.has(name)) continue;
        const at = op.securitySource === 'operation' ? `${op.pointer}/security` : '/security';
        emit(R.undefinedScheme, {
          key: name,
          anchor: at,
          subject: `\`${name}\``,
          pointer: at,
          label: op.label,
          op,
        });
      }
    }

    // Parameters: identifiers, credentials, page sizes and URLs.
    for (const p of op.parameters) {
      const schema = p.schema ? model.deref(p.schema) : undefined;
      const s = schema && isMapValue(schema.node) ? schema.node : undefined;
      const at = schema?.pointer ?? p.pointer;
      if (s && ID_NAME.test(p.name) && (typeIs(s, 'integer') || typeIs(s, 'number')) && s.format !== 'uuid') {
        // One finding for the API: moving to random identifiers is one design decision.
        emit(R.numericIds, { key: 'all', anchor: at, pointer: at, label: `\`${p.name}\``, op });
      }
      if (
        (p.in === 'query' || p.in === 'path') &&
        CREDENTIAL_NAME.test(p.name) &&
        !PAGINATION_TOKEN.test(p.name)
      ) {
        emit(R.credentialsInUrl, {
          key: `param:${p.in}:${p.name}`,
          anchor: p.pointer,
          subject: `${p.in} parameter \`${p.name}\``,
          pointer: p.pointer,
          label: op.label,
          op,
        });
      }
      if (s && p.in === 'query' && PAGE_SIZE.test(p.name) && (typeIs(s, 'integer') || typeIs(s, 'number'))) {
        if (s.maximum === undefined && typeof s.exclusiveMaximum !== 'number') {
          emit(R.pageSize, {
            key: at,
            anchor: at,
            subject: `parameter \`${p.name}\``,
            pointer: at,
            label: op.label,
            op,
          });
        }
      }
      if (p.in !== 'header' && (URL_NAME.test(p.name) || (s && /^(?:uri|url|iri)/.test(String(s.format))))) {
        emit(R.ssrfParameter, {
          key: `param:${p.name}`,
          anchor: p.pointer,
          subject: `parameter \`${p.name}\``,
          pointer: p.pointer,
          label: op.label,
          op,
        });
      }
    }

    // Documented responses.
    const all = { key: 'all', anchor: op.pointer, ...opHit, pointer: `${op.pointer}/responses` };
    if (!op.isAnonymous) {
      if (!hasStatus(op, '401')) emit(R.missing401, all);
      if (!hasStatus(op, '403')) emit(R.missing403, all);
    }
    if (!hasStatus(op, '429')) emit(R.missing429, all);
    if (!hasStatus(op, '500')) emit(R.missing500, all);
    if ((op.parameters.length > 0 || op.requestSchemas.length > 0) && !hasStatus(op, '400', '422')) {
      emit(R.missing400, all);
    }
    checkResponses(model, op, emit);

    if (
      op.deprecated &&
      op.node['x-sunset'] === undefined &&
      !op.responses.some((r) => r.headers.has('sunset'))
    ) {
      emit(R.deprecatedOperation, {
        ...opHit,
        key: 'all',
        anchor: `${op.pointer}/deprecated`,
        pointer: `${op.pointer}/deprecated`,
      });
    }
    if (isMapValue(op.node.callbacks)) {
      for (const [name, cb] of Object.entries(op.node.callbacks)) {
        if (!isMapValue(cb)) continue;
        for (const expression of Object.keys(cb)) {
          if (!/\{\$request\./.test(expression)) continue;
          const at = pointerJoin(op.pointer, 'callbacks', name, expression);
          emit(R.callbackUrl, { key: at, anchor: at, pointer: at, label: `${op.label}: ${expression}`, op });
        }
      }
    }
    if (op.method === 'TRACE') emit(R.traceMethod, { ...opHit, key: op.pointer, anchor: op.pointer });
    if (op.isWrite && SENSITIVE_FLOW.test(op.path) && !hasStatus(op, '429')) {
      emit(R.businessFlow, { ...opHit, key: 'all', anchor: op.pointer });
    }
    const version = /(?:^|\/)(v\d+)(?:[./]|$)/i.exec(op.path)?.[1]?.toLowerCase();
    if (version) versions.set(version, (versions.get(version) ?? 0) + 1);
  }

  // API5: administrative operations must not accept what ordinary operations accept.
  const ordinary = new Set(operations.filter((o) => !ADMIN_PATH.test(o.path)).flatMap(securitySignatures));
  for (const op of operations) {
    if (ADMIN_PATH.test(op.path) && securitySignatures(op).some((s) => ordinary.has(s))) {
      emit(R.adminSecurity, { key: 'all', anchor: op.pointer, pointer: op.pointer, label: op.label, op });
    }
  }
  if (versions.size > 1) {
    for (const [v, n] of [...versions].sort()) {
      emit(R.versionsSideBySide, {
        key: 'all',
        anchor: '/paths',
        pointer: '/paths',
        label: `${v} (${n} operation${n === 1 ? '' : 's'})`,
      });
    }
  }
}

function checkResponses(model: AuditModel, op: AuditOperation, emit: Emit): void {
  const opHit = { pointer: op.pointer, label: op.label, op };
  let missingRateHeaders = false;
  let missingCors = false;
  for (const r of op.responses) {
    const s = r.status.toUpperCase();
    if (/^[24]/.test(s) && !RATE_LIMIT_HEADERS.some((h) => r.headers.has(h))) missingRateHeaders = true;
    if (!r.headers.has('access-control-allow-origin')) missingCors = true;
    if (s === '429' && !r.headers.has('retry-after')) {
      emit(R.retryAfter, { key: 'all', anchor: r.pointer, pointer: r.pointer, label: op.label, op });
    }
    checkCors(r, op, emit);
    if (/^[45]/.test(s) || s === 'DEFAULT') {
      for (const schema of r.schemas) {
        const names = topLevelProperties(model, schema).filter((n) => VERBOSE_FIELDS.has(n.toLowerCase()));
        if (names.length === 0) continue;
        const target = model.deref(schema).pointer;
        emit(R.verboseErrors, {
          key: target,
          anchor: target,
          subject: `the ${r.status} response schema`,
          pointer: target,
          label: `${op.label} (${names.join(', ')})`,
          op,
        });
      }
    }
  }
  if (op.responses.length > 0 && missingRateHeaders) {
    emit(R.rateLimitHeaders, {
      ...opHit,
      key: 'all',
      anchor: op.pointer,
      pointer: `${op.pointer}/responses`,
    });
  }
  if (op.responses.length > 0 && missingCors) {
    emit(R.corsOrigin, { ...opHit, key: 'all', anchor: op.pointer, pointer: `${op.pointer}/responses` });
  }
}

function checkCors(r: AuditResponse, op: AuditOperation, emit: Emit): void {
  const origin = r.headers.get('access-control-allow-origin');
  if (!origin) return;
  const values = declaredValues(origin.node);
  if (!values.includes('*') && !values.some((v) => v === 'null')) return;
  const credentials = r.headers.get('access-control-allow-credentials');
  const withCredentials =
    credentials !== undefined && declaredValues(credentials.node).some((v) => v === true || v === 'true');
  emit(R.corsPermissive, {
    key: origin.pointer,
    anchor: origin.pointer,
    pointer: origin.pointer,
    label: op.label,
    op,
    severity: withCredentials ? 'high' : 'medium',
    note: withCredentials ? 'together with Access-Control-Allow-Credentials: true' : undefined,
  });
}
