/**
 * API8 Security Misconfiguration.
 * Active: CORS with a foreign Origin, TRACE, a malformed JSON body, and injection in string query parameters
 * (SQL and command: error/output-based, then time-based against a baseline; NoSQL operators at the login).
 * Passive, over every response of the scan: stack traces and database errors, version banners, missing
 * security headers.
 *
 * Time-based rule: the payload delays by DELAY_MS; a response slower than the slowest of two baseline requests
 * by DELAY_MS * 0.8 is repeated once, and only a second slow answer counts.
 */
import { randomUUID } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, isRefused, isSuccess, type ScanContext } from '../context.ts';
import { isExcluded, isLoginOperation, jsonBodySchema, planRequest, requiresAuth } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { resolveSchema, sampleValue, schemaType } from '../schema.ts';
import { probeTls } from './tls.ts';
import { urlInputs } from './url-inputs.ts';

const EVIL_ORIGIN = 'https://portcullis-evil.example';
const DELAY_MS = 1000;
const PAGE_PARAM = /^(limit|offset|page|page_?size|per_?page|size|count|cursor)$/i;

export const STACK_TRACE: readonly RegExp[] = [
  /\n\s+at [\w$.<>[\] ]+ \(?[^)\n]*:\d+:\d+\)?/, // Node.js / JavaScript
  /Traceback \(most recent call last\)/, // Python
  /\bat [\w$.]+\([\w]+\.java:\d+\)/, // Java
  /\.(php|rb|py|go|cs):\d+/, // source file and line
  /Exception in thread|System\.\w+Exception|java\.lang\.\w+/,
];
const SQL_ERROR =
  /SQLITE_ERROR|ERR_SQLITE|unrecognized token|near ".{0,40}": syntax error|SQL syntax|syntax error at or near|unterminated quoted string at or near|ORA-\d{5}|SQLSTATE|PG::|pg_query|mysql_fetch|ODBC|JDBC|Microsoft OLE DB/i;
const NOSQL_ERROR = /MongoError|MongoServerError|CastError|BSONError|\$where|E11000/;
const CMD_OUTPUT = 'pcx42z';

function responseText(res: ScanResponse): string {
  return res.text;
}

async function cors(ctx: ScanContext, op: Operation): Promise<void> {
  const user = ctx.identities[0];
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
  const res = await ctx.send({ ...req, headers: { ...req.headers, origin: EVIL_ORIGIN } }, user);
  if (!res) return;
  const allowOrigin = res.headers['access-control-allow-origin'];
  const credentials = res.headers['access-control-allow-credentials'] === 'true';
  if (allowOrigin === EVIL_ORIGIN || (allowOrigin === 'null' && credentials)) {
    ctx.report(SCAN_RULES.corsCredentials, {
      operation: op,
      severity: credentials ? 'high' : 'medium',
      message: `${op.method} ${op.path} allowed the foreign origin ${EVIL_ORIGIN}${credentials ? ' with credentials' : ''}.`,
      evidence: evidenceOf(res, { allowOrigin, allowCredentials: credentials }),
    });
  }
}

async function trace(ctx: ScanContext, op: Operation): Promise<void> {
  const marker = `pctrace-${randomUUID().slice(0, 8)}`;
  const path = planRequest(ctx.spec, op, ctx.objects).path;
  const res = await ctx.send({ method: 'TRACE', path, headers: { 'x-portcullis-trace': marker } }, null);
  if (isSuccess(res) && res.text.includes(marker)) {
    ctx.report(SCAN_RULES.traceEnabled, {
      message: `TRACE ${path} echoed the request back.`,
      key: 'trace',
      evidence: evidenceOf(res),
    });
  }
}

async function malformedBody(ctx: ScanContext): Promise<void> {
  const user = ctx.identities[0];
  const op = ctx.spec.operations.find(
    (o) => o.method === 'POST' && !isExcluded(o) && jsonBodySchema(o) !== undefined,
  );
  if (!op) return;
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name, body: '{"portcullis": ' });
  await ctx.send({ ...req, headers: { ...req.headers, 'content-type': 'application/json' } }, user);
  // judged by the passive stack-trace check
}

interface StringParam {
  readonly op: Operation;
  readonly name: string;
  readonly value: string;
}

function injectableParams(ctx: ScanContext): StringParam[] {
  const urls = new Set(urlInputs(ctx.spec).map((u) => `${u.operation.id}\0${u.name}`));
  const out: StringParam[] = [];
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || isExcluded(op)) continue;
    for (const p of op.parameters) {
      if (p.in !== 'query' || PAGE_PARAM.test(p.name) || urls.has(`${op.id}\0${p.name}`)) continue;
      const s = resolveSchema(ctx.spec, p.schema);
      if (schemaType(s) !== 'string' || s.enum !== undefined || s.format !== undefined) continue;
      out.push({ op, name: p.name, value: String(p.raw.example ?? sampleValue(ctx.spec, p.schema, p.name)) });
    }
  }
  return out;
}

async function probe(ctx: ScanContext, p: StringParam, value: string): Promise<ScanResponse | undefined> {
  const user = ctx.identities[0];
  return ctx.send(
    planRequest(ctx.spec, p.op, ctx.objects, { owner: user.name, params: { [p.name]: value } }),
    user,
  );
}

/** Time-based: slower than the baseline by most of the delay, twice. */
async function delayed(
  ctx: ScanContext,
  p: StringParam,
  payload: string,
  baselineMs: number,
): Promise<ScanResponse | undefined> {
  const threshold = baselineMs + DELAY_MS * 0.8;
  const first = await probe(ctx, p, payload);
  if (!first || first.durationMs < threshold) return undefined;
  const second = await probe(ctx, p, payload);
  return second && second.durationMs >= threshold ? second : undefined;
}

async function injection(ctx: ScanContext, p: StringParam): Promise<void> {
  const baseline = await probe(ctx, p, p.value);
  if (!baseline) return;
  const baseline2 = await probe(ctx, p, p.value);
  const baselineMs = Math.max(baseline.durationMs, baseline2?.durationMs ?? 0);
  const report = (rule: typeof SCAN_RULES.sqlInjection, how: string, res: ScanResponse, payload: string) =>
    ctx.report(rule, {
      operation: p.op,
      key: p.name,
      message: `${p.op.method} ${p.op.path}: parameter ${p.name} is injectable (${how}).`,
      evidence: evidenceOf(res, {
        parameter: p.name,
        payload,
        baselineMs: Math.round(baselineMs),
        ms: Math.round(res.durationMs),
      }),
    });

  // SQL, error-based.
  if (!SQL_ERROR.test(responseText(baseline))) {
    for (const payload of [`${p.value}'`, `${p.value}"`]) {
      const res = await probe(ctx, p, payload);
      if (res && SQL_ERROR.test(responseText(res))) {
        report(SCAN_RULES.sqlInjection, 'database error on a quote', res, payload);
        return;
      }
    }
  }
  // Command, time-based first, then by output.
  const seconds = DELAY_MS / 1000;
  for (const payload of [
    `${p.value};sleep ${seconds};`,
    `${p.value}|sleep ${seconds}`,
    `${p.value}$(sleep ${seconds})`,
  ]) {
    const res = await delayed(ctx, p, payload, baselineMs);
    if (res) {
      report(SCAN_RULES.commandInjection, `sleep ${seconds} delayed the answer`, res, payload);
      return;
    }
  }
  for (const payload of [`${p.value};echo pcx$((6*7))z`, `${p.value}$(echo pcx$((6*7))z)`]) {
    const res = await probe(ctx, p, payload);
    if (res?.text.includes(CMD_OUTPUT)) {
      report(SCAN_RULES.commandInjection, 'injected command output in the response', res, payload);
      return;
    }
  }
  // SQL, time-based (MySQL, PostgreSQL, SQL Server).
  for (const payload of [
    `${p.value}' AND SLEEP(${seconds})-- `,
    `${p.value}';SELECT pg_sleep(${seconds})-- `,
    `${p.value}';WAITFOR DELAY '0:0:${seconds}'-- `,
  ]) {
    const res = await delayed(ctx, p, payload, baselineMs);
    if (res) {
      report(SCAN_RULES.sqlInjection, 'a database sleep delayed the answer', res, payload);
      return;
    }
  }
}

/** NoSQL operators in place of the password: a login that fails with a wrong password must not pass. */
async function nosqlLogin(ctx: ScanContext): Promise<void> {
  const login = ctx.spec.operations.find((op) => isLoginOperation(ctx.spec, op) && !isExcluded(op));
  if (!login) return;
  const known = ctx.identities.find((i) => i.login !== undefined)?.login?.body;
  const base = (known ?? sampleValue(ctx.spec, jsonBodySchema(login))) as Record<string, unknown>;
  const passwordField = Object.keys(base).find((k) => /pass/i.test(k));
  if (!passwordField) return;
  const wrong = `pc-wrong-${randomUUID().slice(0, 8)}`;
  const baseline = await ctx.send(
    planRequest(ctx.spec, login, ctx.objects, { body: { ...base, [passwordField]: wrong } }),
    null,
  );
  if (!baseline || !isRefused(baseline)) return;
  const payload = { ...base, [passwordField]: { $ne: wrong } };
  const res = await ctx.send(planRequest(ctx.spec, login, ctx.objects, { body: payload }), null);
  if (!res) return;
  if (!isRefused(res)) {
    ctx.report(SCAN_RULES.nosqlInjection, {
      operation: login,
      key: passwordField,
      message: `${login.method} ${login.path} signed in with {"$ne": ...} as the ${passwordField}, while a wrong ${passwordField} fails (${baseline.status}).`,
      evidence: evidenceOf(res, { field: passwordField, baselineStatus: baseline.status }),
    });
  } else if (NOSQL_ERROR.test(res.text)) {
    ctx.report(SCAN_RULES.nosqlInjection, {
      operation: login,
      key: passwordField,
      severity: 'high',
      message: `${login.method} ${login.path} answered an operator object with a database error.`,
      evidence: evidenceOf(res, { field: passwordField }),
    });
  }
}

export const api8: Check = {
  id: 'API8',
  title: 'Security misconfiguration',
  rules: [
    SCAN_RULES.corsCredentials,
    SCAN_RULES.securityHeaders,
    SCAN_RULES.verboseErrors,
    SCAN_RULES.versionBanner,
    SCAN_RULES.traceEnabled,
    SCAN_RULES.weakTls,
    SCAN_RULES.certificateProblem,
    SCAN_RULES.sqlInjection,
    SCAN_RULES.nosqlInjection,
    SCAN_RULES.commandInjection,
  ],
  async run(ctx) {
    for (const problem of await probeTls(new URL(ctx.target), ctx.tls)) {
      const protocol = problem.kind === 'protocol';
      ctx.report(protocol ? SCAN_RULES.weakTls : SCAN_RULES.certificateProblem, {
        key: problem.detail.split(' ')[0],
        message: `${new URL(ctx.target).host}: ${problem.detail}.`,
        evidence: { target: ctx.target, detail: problem.detail },
      });
    }
    if (!ctx.identities[0]) return;
    const reads = ctx.spec.operations.filter(
      (op) => op.method === 'GET' && !isExcluded(op) && !op.path.includes('{'),
    );
    const probeOp = reads.find((op) => requiresAuth(op)) ?? reads[0];
    if (probeOp) {
      await cors(ctx, probeOp);
      await trace(ctx, probeOp);
    }
    await malformedBody(ctx);
    for (const p of injectableParams(ctx)) await injection(ctx, p);
    await nosqlLogin(ctx);
  },
  passive(ctx) {
    let banner: { res: ScanResponse; value: string } | undefined;
    const noNosniff = new Set<string>();
    const cacheable = new Set<string>();
    let first: Operation | undefined;
    const verbose = new Set<string>();
    const unlisted = new Map<string, ScanResponse>();
    for (const { response: res, operation: op, identity } of ctx.observations) {
      const server = res.headers.server;
      const powered = res.headers['x-powered-by'];
      if (!banner && (powered || (server && /\d/.test(server)))) {
        banner = {
          res,
          value: [server && `Server: ${server}`, powered && `X-Powered-By: ${powered}`]
            .filter(Boolean)
            .join(', '),
        };
      }
      if (isRefused(res)) {
        const stack = STACK_TRACE.some((re) => re.test(res.text)) || /"stack"\s*:/.test(res.text);
        if (stack || SQL_ERROR.test(res.text)) {
          const what = stack ? 'a stack trace' : 'a database error';
          if (op && !verbose.has(op.id)) {
            verbose.add(op.id);
            ctx.report(SCAN_RULES.verboseErrors, {
              operation: op,
              message: `${res.sent.method} ${op.path} answered ${res.status} with ${what}.`,
              evidence: evidenceOf(res),
            });
          } else if (!op && unlisted.size < 20) {
            // Paths outside the document (probes, TRACE): one finding for all of them.
            unlisted.set(`${res.sent.method} ${new URL(res.sent.url).pathname}`, res);
          }
        }
      }
      if (!op || !isSuccess(res)) continue;
      first ??= op;
      if (res.headers['x-content-type-options']?.toLowerCase() !== 'nosniff' && noNosniff.size < 10) {
        noNosniff.add(`${op.method} ${op.path}`);
      }
      const cache = res.headers['cache-control'] ?? '';
      if (identity && requiresAuth(op) && !/no-store|private/i.test(cache) && cacheable.size < 10) {
        cacheable.add(`${op.method} ${op.path}`);
      }
    }
    if (unlisted.size > 0) {
      const [firstRes] = unlisted.values();
      ctx.report(SCAN_RULES.verboseErrors, {
        key: 'unlisted-paths',
        message: `Requests outside the API description were answered with stack traces or database errors: ${[...unlisted.keys()].slice(0, 5).join(', ')}${unlisted.size > 5 ? ` and ${unlisted.size - 5} more` : ''}.`,
        evidence: evidenceOf(firstRes, { requests: [...unlisted.keys()] }),
      });
    }
    if (banner) {
      ctx.report(SCAN_RULES.versionBanner, {
        key: 'banner',
        message: `The API discloses its software: ${banner.value}.`,
        evidence: evidenceOf(banner.res),
      });
    }
    const https = ctx.observations.find((o) => o.response.sent.url.startsWith('https:'));
    const noHsts = https !== undefined && !https.response.headers['strict-transport-security'];
    if (first && (noNosniff.size > 0 || cacheable.size > 0 || noHsts)) {
      const parts = [
        noNosniff.size > 0 ? `no X-Content-Type-Options: nosniff (${[...noNosniff].join(', ')})` : '',
        cacheable.size > 0
          ? `authenticated responses without Cache-Control: no-store (${[...cacheable].join(', ')})`
          : '',
        noHsts ? 'no Strict-Transport-Security over https' : '',
      ].filter(Boolean);
      ctx.report(SCAN_RULES.securityHeaders, {
        operation: first,
        key: 'headers',
        message: `Security headers missing: ${parts.join('; ')}.`,
        evidence: { missingNosniff: [...noNosniff], missingNoStore: [...cacheable], missingHsts: noHsts },
      });
    }
  },
};
