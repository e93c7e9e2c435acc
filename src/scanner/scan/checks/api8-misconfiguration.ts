/**
 * API8 Security Misconfiguration.
 * Active: CORS with several crafted origins (an attacker's, `null`, look-alikes of the target's own host), on a
 * secured and a public operation and in a preflight; TRACE; a malformed JSON body; injection in every input
 * (injection.ts); NoSQL operators at the login; XML external entities (xxe.ts);
 * HTML/SVG uploads served back as active content, and `../` upload names (upload.ts). Documented GETs without parameters that no one called yet are
 * called once, anonymously, so the passive checks see them.
 * Passive, over every response of the scan: stack traces and database errors (in 2xx answers too: frames and error
 * lines with source paths, a database refusal naming its user; see disclosure.ts internalError), unhandled exception
 * messages in 5xx answers, version banners (headers, and software versions in JSON answers to anonymous GETs), SQL
 * statements that show a sent value pasted in with its quote (disclosure.ts), configuration secrets and debug
 * dumps in successful answers, missing security headers.
 */

import { randomUUID } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import type { ScanRequest, ScanResponse } from '../client.ts';
import { evidenceOf, isRefused, isSuccess, type Observation, type ScanContext } from '../context.ts';
import { loginRequest, signedIn } from '../login.ts';
import { captureId, isExcluded, jsonBodySchema, planRequest, requiresAuth } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { findLoginTarget, unknownUser } from './api2-authentication.ts';
import { refusedIn200 } from './api5-function-authorization.ts';
import { directoryListings } from './api8-directory-listing.ts';
import { hostHeaderInjection } from './api8-host-header.ts';
import { wrongKinds } from './api8-typed-inputs.ts';
import { type CrossSite, cookieFlags, reportCrossSite } from './cookies.ts';
import { deserialization, yamlUploads } from './deserialization.ts';
import {
  type DebugSign,
  debugData,
  debugFinding,
  debugRoute,
  deploymentRoute,
  errorSecretsOf,
  internalError,
  quotedValues,
  recordSecrets,
  reflectedSql,
  runtimeError,
  serverVersion,
  sharedDebug,
  softwareVersions,
} from './disclosure.ts';
import { creationSweep, injection, NOSQL_ERROR, SQL_ERROR } from './injection.ts';
import { registerThrowaway, reuseThrowaway } from './throwaway.ts';
import { probeTls } from './tls.ts';
import { dangerousUploads } from './upload.ts';
import { xxe } from './xxe.ts';

export const STACK_TRACE: readonly RegExp[] = [
  /\n\s+at [\w$.<>[\] ]+ \(?[^)\n]*:\d+:\d+\)?/, // Node.js / JavaScript
  /<br>(?: &nbsp;)+at [^<\n]{1,300}:\d+:\d+/, // the same printed as HTML (Express's error page in development)
  /Traceback \(most recent call last\)/, // Python
  /File "[^"\n]+\.py", line \d+/, // Python frames
  /\bat [\w$.]+\([\w]+\.java:\d+\)/, // Java
  /\.(php|rb|py|go|cs):\d+/, // source file and line
  /Exception in thread|System\.\w+Exception|java\.lang\.\w+/,
];

/**
 * A web framework's development error page, which shows its internals even where no stack trace is printed (a 404
 * for an unknown path): Django's with `DEBUG = True` (it lists every URL pattern), Rails' development page, Whoops
 * (Laravel, Slim), ASP.NET's detailed error page. Each names the framework; read in the first 64 KiB of an error
 * answer.
 */
export const DEBUG_PAGE: readonly (readonly [RegExp, string])[] = [
  [/DEBUG = True<\/code> in your Django settings file/, 'Django with DEBUG = True'],
  [/<title>Action Controller: Exception caught<\/title>/, "Rails' development error page"],
  [/<title>Whoops! There was an error\.<\/title>/, 'the Whoops error page'],
  [/Server Error in '[^'\n]{0,100}' Application\./, "ASP.NET's detailed error page"],
];

/** The framework whose development error page this text is, if it is one. */
export function debugPageOf(text: string): string | undefined {
  const head = text.slice(0, 65_536);
  return DEBUG_PAGE.find(([re]) => re.test(head))?.[1];
}

/** Configuration members that hold secrets (`SECRET_KEY`, `db_password`, `SMTP_PASS`...), not a user's password. */
const CONFIG_SECRET =
  /^(secret_?key|app_?secret|session_?secret|jwt_?secret(_?key)?|token_?secret|signing_?key|private_?key|encryption_?key|api_?secret|client_?secret|aws_?secret(_?access)?(_?key)?|\w*(db|database|mysql|postgres|pg|redis|mongo|smtp|mail|email|admin|root|ldap|ftp)_?(pass(word)?|pwd|secret))$/i;
/** A connection string with a password in it: `postgresql://user:pass@host/db`. */
const CREDENTIAL_URI = /\b[a-z][\w+.-]*:\/\/[^\s:/@"']+:[^\s@/"']+@[\w.-]+/i;

/** Origins a careless allow-list lets through: an attacker's, `null`, and look-alikes of the target's host. */
export function craftedOrigins(target: string): string[] {
  const host = new URL(target).hostname;
  const base = host.replace(/^www\./, '');
  return [
    'https://portcullis-evil.example',
    'null',
    `https://${base}.portcullis-evil.example`,
    `https://portcullis-evil${base}`,
    `http://${base}:1`,
  ];
}

async function cors(ctx: ScanContext, ops: readonly Operation[]): Promise<void> {
  const user = ctx.identities[0];
  for (const op of ops) {
    const secured = requiresAuth(op);
    const as = secured ? user : null;
    const req = planRequest(ctx.spec, op, ctx.objects, as ? { owner: user.name } : {});
    const allowed: string[] = [];
    let credentials = false;
    let evidence: ScanResponse | undefined;
    for (const origin of craftedOrigins(ctx.target)) {
      const res = await ctx.send({ ...req, headers: { ...req.headers, origin } }, as);
      if (!res) continue;
      const allowOrigin = res.headers['access-control-allow-origin'];
      const creds = res.headers['access-control-allow-credentials'] === 'true';
      // `*` is how public APIs are meant to work, with credentials too: a browser refuses a credentialed read whose
      // answer allows `*` (Fetch standard, CORS check), so no crafted origin reads with the caller's cookies. An
      // echoed crafted origin is the finding.
      if (allowOrigin === origin) {
        allowed.push(origin);
        credentials ||= creds;
        evidence ??= res;
      }
    }
    // The preflight, for browsers' non-simple requests.
    const origin = craftedOrigins(ctx.target)[0];
    const pre = await ctx.send(
      {
        method: 'OPTIONS',
        path: req.path,
        headers: {
          origin,
          'access-control-request-method': 'PUT',
          'access-control-request-headers': 'authorization',
        },
        operation: op,
      },
      null,
    );
    if (
      pre &&
      pre.headers['access-control-allow-origin'] === origin &&
      !allowed.includes(`${origin} (preflight)`)
    ) {
      allowed.push(`${origin} (preflight)`);
      credentials ||= pre.headers['access-control-allow-credentials'] === 'true';
      evidence ??= pre;
    }
    if (allowed.length === 0 || !evidence) continue;
    ctx.report(SCAN_RULES.corsCredentials, {
      operation: op,
      key: 'cors',
      severity: credentials ? 'high' : 'medium',
      message: `${op.method} ${op.path} allowed crafted origins in CORS${credentials ? ' with credentials' : ''}: ${allowed.join(', ')}.`,
      evidence: evidenceOf(evidence, {
        allowOrigin: evidence.headers['access-control-allow-origin'],
        allowCredentials: credentials,
        originsAllowed: allowed,
      }),
    });
    return; // one operation shows it; the policy is usually global
  }
}

/** Methods that may echo the request: TRACE, IIS's TRACK, and one no server defines (a server that takes any). */
const ECHO_METHODS = ['TRACE', 'TRACK', 'PCSCANTRACE'] as const;

/**
 * Cross-site tracing: TRACE (and TRACK, and a made-up method) on a few documented reads without path parameters and
 * on `/`, with a marker header, as the first identity on a secured read (its credentials go with it) and anonymously
 * elsewhere. Reported when the answer is a 2xx that holds the marker while a GET of the same path with the same
 * marker does not (the control: a route that shows its request headers to a GET by design echoes any method). One
 * finding; it says whether the echo showed a credential of the caller's (its session header, a cookie: what XST steals).
 */
async function trace(ctx: ScanContext, reads: readonly Operation[]): Promise<void> {
  const user = ctx.identities[0];
  const targets: { path: string; as: ScanContext['identities'][number] | null }[] = [];
  const seen = new Set<string>();
  for (const op of reads.slice(0, 4)) {
    const path = planRequest(ctx.spec, op, ctx.objects, { owner: user.name }).path;
    if (seen.has(path)) continue;
    seen.add(path);
    targets.push({ path, as: requiresAuth(op) ? user : null });
  }
  if (!seen.has('/')) targets.push({ path: '/', as: null });
  for (const [i, { path, as }] of targets.entries()) {
    for (const method of ECHO_METHODS) {
      // TRACE everywhere; the others on the first two paths (a server either takes them or not).
      if (method !== 'TRACE' && i >= 2) continue;
      const marker = `pctrace-${randomUUID().slice(0, 8)}`;
      const res = await ctx.send({ method, path, headers: { 'x-portcullis-trace': marker } }, as);
      if (!isSuccess(res) || !res.text.includes(marker)) continue;
      const control = await ctx.send(
        { method: 'GET', path, headers: { 'x-portcullis-trace': `pctrace-${randomUUID().slice(0, 8)}` } },
        as,
      );
      if (control && /pctrace-[0-9a-f]{8}/.test(control.text)) continue;
      // What XST steals: a credential of the caller's (a session header's value, a cookie) shown in the echo.
      const held =
        as === null
          ? []
          : [...Object.values(as.session.headers), ...as.session.cookies.values()].flatMap((v) =>
              v.split(/\s+/).filter((part) => part.length >= 8),
            );
      const credentials = held.some((v) => res.text.includes(v));
      ctx.report(SCAN_RULES.traceEnabled, {
        message: `${method} ${path} echoed the request back${credentials ? ", the caller's credentials included" : ''}, while a GET of it does not show its headers.`,
        key: 'trace',
        ...(credentials ? { severity: 'medium' as const } : {}),
        evidence: evidenceOf(res, { method, controlStatus: control?.status, credentialsEchoed: credentials }),
      });
      return;
    }
  }
}

/**
 * Malformed input, for the passive readings of errors (stack traces, secrets in errors): a JSON body cut short to up
 * to three POSTs that take one, and a value of the wrong kind in the path parameter of up to two reads that declare
 * a number or a uuid there (`/orders/pc-not-a-number`).
 */
async function malformedBody(ctx: ScanContext): Promise<void> {
  const user = ctx.identities[0];
  const posts = ctx.spec.operations.filter(
    (o) => o.method === 'POST' && !isExcluded(o) && jsonBodySchema(o) !== undefined,
  );
  for (const op of posts.slice(0, 3)) {
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name, body: '{"portcullis": ' });
    await ctx.send({ ...req, headers: { ...req.headers, 'content-type': 'application/json' } }, user);
  }
  let typed = 0;
  for (const op of ctx.spec.operations) {
    if (typed >= 2) break;
    if (op.method !== 'GET' || isExcluded(op)) continue;
    const param = op.parameters.find((p) => {
      if (p.in !== 'path') return false;
      const schema = (p.schema ?? {}) as { type?: unknown; format?: unknown };
      return schema.type === 'integer' || schema.type === 'number' || schema.format === 'uuid';
    });
    if (!param) continue;
    typed++;
    const req = planRequest(ctx.spec, op, ctx.objects, {
      owner: user.name,
      params: { [param.name]: 'pc-not-a-number' },
    });
    await ctx.send(req, user);
  }
  // judged by the passive stack-trace and error-secret readings
}

/** NoSQL operators in place of the password: a login that fails with a wrong password must not pass. */
/**
 * `{"$ne": ...}` as the password (beside a wrong password for a user nobody has), for an account of the scan's own (reused or
 * registered `pcn<random>`): never a given identity (both may be failed logins, and an API that locks an account
 * after a few would lock it; API2 keeps a given identity's one failed login of the scan). Without such an account
 * the probe is not sent, and the notes say so.
 */
async function nosqlLogin(ctx: ScanContext): Promise<void> {
  const t = findLoginTarget(ctx);
  if (!t || t.flow.encoding === 'form' || t.flow.grantType === 'password') return;
  const v = (await reuseThrowaway(ctx, t)) ?? (await registerThrowaway(ctx, t, 'pcn'));
  if (!v) {
    ctx.note?.({
      rule: SCAN_RULES.nosqlInjection,
      ...(t.op ? { operation: t.op } : {}),
      reason:
        'login not sent {"$ne": ...}: no account of the scan\'s own signs in there, and a given identity gets at most one failed login a scan',
    });
    return;
  }
  const wrong = `pc-wrong-${randomUUID().slice(0, 8)}`;
  const send = (password: unknown, user: unknown = v.loginName) =>
    ctx.send(
      {
        ...loginRequest(t.flow, { [t.userField]: user, [t.passwordField]: password }),
        ...(t.op ? { operation: t.op } : {}),
      },
      null,
    );
  // The baseline names a user nobody has: V's registration already saw its wrong password refused, and one
  // failed login fewer keeps V usable where two lock it.
  const baseline = await send(wrong, unknownUser(ctx, t, v.loginName));
  if (!baseline || signedIn(t.flow, baseline)) return;
  const res = await send({ $ne: wrong });
  if (!res) return;
  const where = `${t.flow.method ?? 'POST'} ${t.flow.path}`;
  if (signedIn(t.flow, res)) {
    ctx.report(SCAN_RULES.nosqlInjection, {
      ...(t.op ? { operation: t.op } : {}),
      key: t.passwordField,
      message: `${where} signed an account the scan registered (${v.name}) in with {"$ne": ...} as the ${t.passwordField}, while a wrong ${t.passwordField} fails (${baseline.status}).`,
      evidence: evidenceOf(res, { field: t.passwordField, baselineStatus: baseline.status }),
    });
    // The same request is an authentication bypass (F5): anyone who knows a user name signs in as that user.
    ctx.report(SCAN_RULES.wrongPasswordAccepted, {
      ...(t.op ? { operation: t.op } : {}),
      key: `operator:${t.passwordField}`,
      message: `${where} lets a caller in without the password: an operator object ({"$ne": ...}) as the ${t.passwordField} signed in the account the scan registered (${v.name}), while a wrong ${t.passwordField} fails (${baseline.status}); anyone who knows a user name signs in as that user.`,
      evidence: evidenceOf(res, {
        field: t.passwordField,
        baselineStatus: baseline.status,
        via: 'nosql-operator',
      }),
    });
  } else if (NOSQL_ERROR.test(res.text) && !NOSQL_ERROR.test(baseline.text)) {
    ctx.report(SCAN_RULES.nosqlInjection, {
      ...(t.op ? { operation: t.op } : {}),
      key: t.passwordField,
      severity: 'high',
      message: `${where} answered an operator object with a database error.`,
      evidence: evidenceOf(res, { field: t.passwordField }),
    });
  }
}

/** Documented GETs without path parameters that the scan has not called yet: once, anonymously. */
async function visitUnseen(ctx: ScanContext): Promise<void> {
  const seen = new Set(ctx.observations.map((o) => o.operation?.id));
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || isExcluded(op) || op.path.includes('{') || seen.has(op.id)) continue;
    await ctx.send(planRequest(ctx.spec, op, ctx.objects), null);
  }
}

/** A request's path, query and body as text (decoded too): values in it are the caller's own. */
function sentText(request: ScanRequest): string {
  let text = request.path;
  try {
    text += ` ${decodeURIComponent(request.path)}`;
  } catch {}
  if (request.body !== undefined)
    text += ` ${typeof request.body === 'string' ? request.body : JSON.stringify(request.body)}`;
  return text;
}

/**
 * The strings the scan's requests carried (body members two levels down, query values, path segments, and the
 * IPv4 addresses anywhere in them), at most 50,000: a value any request sent is no disclosure when it comes back.
 */
export function sentStrings(requests: readonly ScanRequest[]): Set<string> {
  const out = new Set<string>();
  const add = (v: string) => {
    if (out.size >= 50_000) return;
    out.add(v);
    for (const m of v.matchAll(/(?<![\d.])\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?![\d.])/g)) out.add(m[0]);
  };
  const walk = (v: unknown, depth: number) => {
    if (typeof v === 'string') add(v);
    else if (depth < 3 && v !== null && typeof v === 'object')
      for (const child of Object.values(v as Record<string, unknown>).slice(0, 100)) walk(child, depth + 1);
  };
  for (const r of requests) {
    if (out.size >= 50_000) break;
    const [path, query = ''] = r.path.split('?');
    for (const seg of path.split('/')) if (seg.length >= 4) add(seg);
    for (const [, v] of new URLSearchParams(query)) add(v);
    let body: unknown = r.body;
    if (typeof r.body === 'string') {
      try {
        body = JSON.parse(r.body);
      } catch {
        add(r.body.slice(0, 2000));
      }
    }
    walk(body, 0);
  }
  return out;
}

const ENV_NAME = /^[A-Z][A-Z0-9_]*$/;
const ENV_USUAL = /^(HOME|PWD|USER|SHELL|HOSTNAME|LANG|TERM|SHLVL|TZ)$/;

/**
 * A process environment served as data (a debug route's `env_vars`): an object of at least 8 upper-case
 * names with a `PATH` of directories and one of the usual shell variables (`HOME`, `PWD`, `HOSTNAME`...).
 * Whatever the names, it carries every secret the deployment put in the environment.
 */
export function environmentDump(json: unknown, depth = 0): boolean {
  if (depth > 4 || json === null || typeof json !== 'object') return false;
  const record = json as Record<string, unknown>;
  // The same as `NAME=value` lines (`env` output, Python's `[f"{k}={v}" ...]`).
  if (Array.isArray(json) && json.length >= 8 && json.every((l) => typeof l === 'string')) {
    const lines = json.slice(0, 500) as string[];
    const named = lines.filter((l) => /^[A-Z][A-Z0-9_]*=/.test(l));
    if (
      named.length >= 8 &&
      named.some((l) => /^PATH=[\w./\\:;~ -]*[:;]/.test(l)) &&
      named.some((l) => ENV_USUAL.test(l.slice(0, l.indexOf('='))))
    )
      return true;
  }
  if (!Array.isArray(json)) {
    const keys = Object.keys(record);
    const path = record.PATH;
    if (
      typeof path === 'string' &&
      /^[\w./\\:;~ -]+$/.test(path) &&
      /[:;]/.test(path) &&
      /[/\\]/.test(path) &&
      keys.filter((k) => ENV_NAME.test(k)).length >= 8 &&
      keys.some((k) => ENV_USUAL.test(k))
    )
      return true;
  }
  return Object.values(record)
    .slice(0, 50)
    .some((v) => environmentDump(v, depth + 1));
}

const ENVIRONMENT = 'the process environment (PATH, HOME...)';

/** A configuration secret an answer shows: the member's name (or what it is) and its value. */
export interface SecretMember {
  readonly name: string;
  readonly value: string;
}

/**
 * Configuration secrets in a successful answer: members named like SECRET_KEY or db_password, a credential URI,
 * or the process environment (its value is the whole answer: the server's own, whoever asks).
 */
export function configSecretMembers(json: unknown, text: string): SecretMember[] {
  const found: SecretMember[] = [];
  const walk = (v: unknown, depth: number) => {
    if (depth > 6 || v === null || typeof v !== 'object' || found.length >= 8) return;
    for (const [k, child] of Object.entries(v as Record<string, unknown>)) {
      if (
        typeof child === 'string' &&
        child.length >= 4 &&
        CONFIG_SECRET.test(k) &&
        !/^\*+$|redacted|hidden/i.test(child)
      )
        found.push({ name: k, value: child });
      else walk(child, depth + 1);
    }
  };
  walk(json, 0);
  const uri = CREDENTIAL_URI.exec(text);
  if (uri) found.push({ name: 'a connection string with a password', value: uri[0] });
  if (environmentDump(json)) found.push({ name: ENVIRONMENT, value: '' });
  return found;
}

/** The names of configSecretMembers. */
export function configSecrets(json: unknown, text: string): string[] {
  return configSecretMembers(json, text).map((m) => m.name);
}

/**
 * CSRF of a JSON API (cookies.ts left it to prove): one creation a given identity made with its session cookie alone
 * is sent again as `text/plain` with the same JSON text, what a form on another site can send without asking
 * first; a new object made (its id in the answer) is `-csrf`. What it made is deleted by its maker after (the
 * injection probes' sweep); a cookie set SameSite=Lax or Strict is not tried.
 */
async function crossSiteJson(ctx: ScanContext, found: CrossSite | undefined): Promise<void> {
  // Whether anything judged the rule: a finding, a SameSite note, or a text/plain creation sent.
  let judged = found !== undefined && found.done.size > 0;
  if (found !== undefined && found.json.size > 0) {
    const sweep = creationSweep(ctx, 'the CSRF probe');
    for (const [name, obs] of found.json) {
      const set = found.judged.get(name);
      const as = ctx.identities.find((i) => i.name === obs.identity);
      const body = obs.request.body;
      if (found.done.has(name) || !set || !obs.operation || !as || body === undefined) continue;
      const sameSite = set.line.sameSite?.toLowerCase();
      if (sameSite === 'lax' || sameSite === 'strict') {
        // A cross-site POST does not carry the cookie: noted, nothing sent.
        reportCrossSite(ctx, name, set, obs, 'a JSON body');
        found.done.add(name);
        judged = true;
        continue;
      }
      const op = obs.operation;
      const req = {
        method: 'POST',
        path: obs.request.path,
        operation: op,
        ownedPath: false,
        invented: [],
        headers: { 'content-type': 'text/plain' },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      };
      const res = await ctx.send(req, as);
      judged = true;
      sweep.seen(op, as, '')(req, res, undefined);
      if (!isSuccess(res) || refusedIn200(res) || captureId(ctx.spec, op, res) === undefined) continue;
      found.done.add(name);
      reportCrossSite(ctx, name, set, { ...obs, response: res }, 'the same JSON sent as text/plain');
    }
    await sweep.flush(undefined, true);
    sweep.report();
  }
  if (!judged)
    ctx.note?.({
      rule: SCAN_RULES.csrf,
      reason:
        found === undefined || found.judged.size === 0
          ? 'no identity signs in with a session cookie an answer the scan saw set'
          : 'no POST changed state with the session cookie alone: nothing to replay cross-site',
    });
}

export const api8: Check = {
  id: 'API8',
  title: 'Security misconfiguration',
  rules: [
    SCAN_RULES.corsCredentials,
    SCAN_RULES.securityHeaders,
    SCAN_RULES.insecureSessionCookie,
    SCAN_RULES.csrf,
    SCAN_RULES.verboseErrors,
    SCAN_RULES.versionBanner,
    SCAN_RULES.traceEnabled,
    SCAN_RULES.weakTls,
    SCAN_RULES.certificateProblem,
    SCAN_RULES.configurationExposure,
    SCAN_RULES.sqlInjection,
    SCAN_RULES.nosqlInjection,
    SCAN_RULES.commandInjection,
    SCAN_RULES.templateInjection,
    SCAN_RULES.pathTraversal,
    SCAN_RULES.insecureDeserialization,
    SCAN_RULES.xxe,
    SCAN_RULES.unrestrictedUpload,
    // Probed by the injection probes after their first round (stored-xss.ts, F4's 45c36b1).
    SCAN_RULES.storedXss,
    SCAN_RULES.hostHeaderInjection,
    SCAN_RULES.directoryListing,
  ],
  async run(ctx) {
    const started = performance.now();
    for (const problem of await probeTls(new URL(ctx.target), ctx.tls)) {
      const protocol = problem.kind === 'protocol';
      ctx.report(protocol ? SCAN_RULES.weakTls : SCAN_RULES.certificateProblem, {
        key: problem.detail.split(' ')[0],
        message: `${new URL(ctx.target).host}: ${problem.detail}.`,
        evidence: { target: ctx.target, detail: problem.detail },
      });
    }
    if (!ctx.identities[0]) return;
    await visitUnseen(ctx);
    const reads = ctx.spec.operations.filter(
      (op) => op.method === 'GET' && !isExcluded(op) && !op.path.includes('{'),
    );
    const secured = reads.find((op) => requiresAuth(op));
    const open = reads.find((op) => !requiresAuth(op));
    await cors(
      ctx,
      [secured, open].filter((o): o is Operation => o !== undefined),
    );
    // A secured read first (the caller's credentials go with it), then the others.
    await trace(ctx, [...reads.filter((op) => requiresAuth(op)), ...reads.filter((op) => !requiresAuth(op))]);
    await malformedBody(ctx);
    await hostHeaderInjection(ctx);
    await wrongKinds(ctx);
    await directoryListings(ctx);
    await crossSiteJson(ctx, await cookieFlags(ctx));
    await nosqlLogin(ctx);
    await deserialization(ctx);
    await yamlUploads(ctx);
    await xxe(ctx);
    await dangerousUploads(ctx);
    // Last: it uses what is left of the check's time and records what it could not reach.
    // Within API8's share of the scan's deadline, 1.5 s before it ends: the injection's own sweep of what its
    // probes created must run before the check is aborted.
    const left = (ctx.deadline ?? Number.POSITIVE_INFINITY) - performance.now() - 1500;
    const outcomes = await injection(
      ctx,
      Math.max(0, Math.min(Math.max(3000, 20_000 - (performance.now() - started)), left)),
    );
    const skippedOps = new Map<string, { op: Operation; reason: string }>();
    for (const o of outcomes) {
      if (
        o.status === 'skipped' &&
        !outcomes.some((x) => x.point.op === o.point.op && x.status !== 'skipped')
      )
        skippedOps.set(o.point.op.id, { op: o.point.op, reason: `injection not probed: ${o.reason}` });
    }
    for (const { op, reason } of skippedOps.values()) ctx.note?.({ operation: op, reason });
    if (outcomes.length === 0)
      for (const rule of [SCAN_RULES.sqlInjection, SCAN_RULES.commandInjection])
        ctx.note?.({ rule, reason: 'no string input in any operation' });
    if (!outcomes.some((o) => o.status !== 'skipped'))
      for (const rule of [SCAN_RULES.sqlInjection, SCAN_RULES.commandInjection])
        ctx.note?.({
          rule,
          reason: 'no input could be probed (no identity got a 2xx baseline, or no time was left)',
        });
  },
  passive(ctx) {
    let banner: { res: ScanResponse; value: string } | undefined;
    const noNosniff = new Set<string>();
    const cacheable = new Set<string>();
    let first: Operation | undefined;
    const verbose = new Map<
      string,
      { op: Operation; res: ScanResponse; what: string; runtime: string | undefined }
    >();
    const unlisted = new Map<string, ScanResponse>();
    // Secrets in error answers, one per operation: the answer and what it showed.
    const errorSecretsFound = new Map<string, { op: Operation; res: ScanResponse; names: string[] }>();
    const exposed = new Set<string>();
    const reflected = new Set<string>();
    const versioned = new Set<string>();
    const targetHost = new URL(ctx.target).hostname;
    // Every string the scan sent (its probes, the identities' own data), read once and only when needed.
    let sentSet: Set<string> | undefined;
    const sentValues = () => (sentSet ??= sentStrings(ctx.observations.map((o) => o.request)));
    // Successful answers by method and URL, built when first needed: the same URL read by another caller.
    let byUrl: Map<string, Observation[]> | undefined;
    const othersAtUrl = (request: ScanRequest, identity: string | undefined): Observation[] => {
      if (!byUrl) {
        byUrl = new Map();
        for (const o of ctx.observations) {
          if (!isSuccess(o.response) || refusedIn200(o.response)) continue;
          if (o.identity !== undefined && o.identity === ctx.admin?.name) continue;
          const k = `${o.request.method} ${o.request.path}`;
          const list = byUrl.get(k) ?? [];
          if (list.length === 0) byUrl.set(k, list);
          list.push(o);
        }
      }
      return (byUrl.get(`${request.method} ${request.path}`) ?? []).filter((o) => o.identity !== identity);
    };
    // The document's own strings (its examples), joined: an error text it shows is documented, not leaked.
    let docText: string | undefined;
    const documented = (text: string) => {
      if (docText === undefined) {
        const parts: string[] = [];
        const walk = (v: unknown, depth: number) => {
          if (depth > 40 || parts.length > 100_000) return;
          if (typeof v === 'string') parts.push(v);
          else if (v !== null && typeof v === 'object')
            for (const child of Object.values(v as Record<string, unknown>)) walk(child, depth + 1);
        };
        walk(ctx.spec.doc, 0);
        docText = parts.join('\n');
      }
      return docText.includes(text);
    };
    const echoed = (request: ScanRequest) => (text: string) =>
      sentText(request).includes(text) || [...sentValues()].some((v) => v.includes(text));
    for (const { request, response: res, operation: op, identity } of ctx.observations) {
      const server = res.headers.server;
      const powered = res.headers['x-powered-by'];
      if (!banner && (powered || (server && serverVersion(server)))) {
        banner = {
          res,
          value: [server && `Server: ${server}`, powered && `X-Powered-By: ${powered}`]
            .filter(Boolean)
            .join(', '),
        };
      }
      if (isRefused(res) && op && !errorSecretsFound.has(op.id) && errorSecretsFound.size < 10) {
        // A secret an error shows (a connection string with its password in a trace, the environment, a
        // DB_PASSWORD line): not a value a request of the scan sent (an echo of its input), nor one the document
        // shows (an example).
        const notEcho = echoed(request);
        const names = [
          ...new Set(
            [...configSecretMembers(res.json, res.text), ...errorSecretsOf(res)]
              .filter((m) => m.value === '' || (!notEcho(m.value) && !documented(m.value)))
              .map((m) => m.name),
          ),
        ];
        if (names.length > 0) errorSecretsFound.set(op.id, { op, res, names });
      }
      if (isRefused(res)) {
        const stack = STACK_TRACE.some((re) => re.test(res.text)) || /"stack"\s*:/.test(res.text);
        // A framework's development page (Django's DEBUG = True 404 lists every route): internals, without a stack.
        const page = stack ? undefined : debugPageOf(res.text);
        // An unhandled exception's own message in a 5xx (`division by zero`): internals, if no stack.
        const runtime = stack || page || SQL_ERROR.test(res.text) ? undefined : runtimeError(res);
        // A database's refusal naming its user, a PHP error line with its path.
        const inner =
          stack || page || SQL_ERROR.test(res.text) || runtime
            ? undefined
            : internalError(res, SQL_ERROR, echoed(request), documented);
        if (stack || page || SQL_ERROR.test(res.text) || runtime || inner) {
          const what = stack
            ? 'a stack trace'
            : page
              ? `a development error page (${page})`
              : runtime
                ? `an unhandled exception's message (${JSON.stringify(runtime)})`
                : inner
                  ? `${inner.what} (${JSON.stringify(inner.shown.slice(0, 160))})`
                  : 'a database error';
          // One per operation; a stack trace or a database error wins over a bare exception message seen first.
          const had = op ? verbose.get(op.id) : undefined;
          if (op && (had === undefined || (had.runtime !== undefined && runtime === undefined))) {
            verbose.set(op.id, { op, res, what, runtime });
          } else if (!op && unlisted.size < 20) {
            // Paths outside the document (probes, TRACE): one finding for all of them.
            unlisted.set(`${res.sent.method} ${new URL(res.sent.url).pathname}`, res);
          }
        }
      } else if (
        op &&
        !verbose.has(op.id) &&
        verbose.size < 50 &&
        (identity === undefined || identity !== ctx.admin?.name)
      ) {
        // An answer read as data (a 2xx: a debug route, a PHP page whose headers were already sent) that shows an
        // error's internals: once per operation, echoes and documented examples aside (internalError). Not the
        // admin's (its log viewer shows tracebacks by design).
        const inner = internalError(res, SQL_ERROR, echoed(request), documented);
        if (inner)
          verbose.set(op.id, {
            op,
            res,
            what: `${inner.what} (${JSON.stringify(inner.shown.slice(0, 160))})`,
            runtime: undefined,
          });
      }
      if (op && !reflected.has(op.id) && reflected.size < 10) {
        const hit = reflectedSql(quotedValues(request, op.path), res);
        if (hit) {
          reflected.add(op.id);
          const where = `${hit.value.in} ${hit.value.in === 'json' || hit.value.in === 'form' ? 'field' : 'parameter'} ${hit.value.name}`;
          ctx.report(SCAN_RULES.sqlInjection, {
            operation: op,
            severity: 'medium',
            key: `${hit.value.in}:${hit.value.name}`,
            message: `${op.method} ${op.path}: ${where} is pasted into SQL: the answer (${res.status}) shows a statement holding the sent value with its quote unescaped (${JSON.stringify(hit.statement.slice(0, 160))})${identity ? ` as ${identity}` : ' without credentials'}.`,
            evidence: evidenceOf(res, {
              location: hit.value.in,
              parameter: hit.value.name,
              payload: hit.value.value,
              statement: hit.statement,
              confidence: 'medium',
            }),
          });
        }
      }
      if (!op || !isSuccess(res)) continue;
      first ??= op;
      if (!identity && op.method === 'GET' && !versioned.has(op.id) && versioned.size < 5) {
        const pairs = softwareVersions(res.json, op.path);
        if (pairs.length > 0) {
          versioned.add(op.id);
          ctx.report(SCAN_RULES.versionBanner, {
            operation: op,
            key: 'body',
            message: `${op.method} ${op.path} tells anonymous callers which software runs it: ${pairs.join(', ')}.`,
            evidence: evidenceOf(res, { versions: pairs }),
          });
        }
      }
      if (!exposed.has(op.id) && exposed.size < 10) {
        // Deployment settings are the same for every caller; a customer's own record (its database's address,
        // its router's LAN address, its app's client secret) is read by its owner only, or differs per caller.
        // So a finding needs the route to be about the deployment (no path parameter), the answer to be an
        // anonymous one, or another caller (not the admin) to get the same values at the same URL.
        const global = deploymentRoute(op.path) || identity === undefined;
        const members = configSecretMembers(res.json, res.text);
        let secrets = members;
        let also: string | undefined;
        if (!global && !members.some((m) => m.name === ENVIRONMENT)) {
          secrets = [];
          // The admin reads every customer's records: its answers and a customer's alike show nothing.
          const others =
            identity !== undefined && identity === ctx.admin?.name ? [] : othersAtUrl(request, identity);
          for (const o of others) {
            const theirs = configSecretMembers(o.response.json, o.response.text);
            secrets = members.filter((m) => theirs.some((x) => x.name === m.name && x.value === m.value));
            if (secrets.length > 0) {
              also = o.identity ?? 'anonymous callers';
              break;
            }
          }
        }
        const who = (other?: string) =>
          identity ? ` to ${identity}${other ? ` and ${other}` : ''}` : ' without credentials';
        if (secrets.length > 0) {
          exposed.add(op.id);
          ctx.report(SCAN_RULES.configurationExposure, {
            operation: op,
            key: 'configuration',
            message: `${op.method} ${op.path} exposes configuration secrets${who(also)}: ${secrets.map((m) => m.name).join(', ')}.`,
            evidence: evidenceOf(res, { members: secrets.map((m) => m.name) }),
          });
        } else if (
          members.length === 0 &&
          res.json !== undefined &&
          (identity === undefined || identity !== ctx.admin?.name)
        ) {
          // A debug, dump or backup route handing out people's records with their passwords or hashes: the
          // route itself is the misconfiguration (API3 reports the fields; this is the endpoint left open).
          const leaked = debugRoute(op.path) ? recordSecrets(res.json) : [];
          if (leaked.length > 0) {
            exposed.add(op.id);
            ctx.report(SCAN_RULES.configurationExposure, {
              operation: op,
              key: 'debug-records',
              message: `${op.method} ${op.path}, a debug or backup route, hands out people's records with their secrets${who()}: ${leaked.slice(0, 4).join(', ')}.`,
              evidence: evidenceOf(res, { members: leaked.slice(0, 10) }),
            });
          }
          // Debug output without a secret in it (an admin's own diagnostics page is its purpose).
          const debugOf = (o: { request: ScanRequest; response: ScanResponse }) => {
            const here = sentText(o.request);
            return debugData(o.response.json, {
              route: op.path,
              targetHost,
              sent: (v) => here.includes(v) || sentValues().has(v),
            });
          };
          const debug = debugOf({ request, response: res });
          const finding = (d: { strong: readonly string[]; weak: ReadonlyMap<DebugSign, string> }) =>
            d.strong.length > 0 || debugFinding(d.weak, op.path);
          let shown: { strong: readonly string[]; weak: ReadonlyMap<DebugSign, string> } | undefined;
          if (finding(debug)) {
            if (global) shown = debug;
            else
              for (const o of othersAtUrl(request, identity)) {
                if (o.response.json === undefined) continue;
                const same = sharedDebug(debug, debugOf(o));
                if (finding(same)) {
                  shown = same;
                  also = o.identity ?? 'anonymous callers';
                  break;
                }
              }
          }
          if (shown && leaked.length === 0) {
            exposed.add(op.id);
            const signs = [...shown.strong, ...shown.weak.values()];
            ctx.report(SCAN_RULES.configurationExposure, {
              operation: op,
              key: 'debug',
              severity: 'medium',
              message: `${op.method} ${op.path} shows debug or configuration data${who(also)}: ${signs.slice(0, 6).join(', ')}.`,
              evidence: evidenceOf(res, { signs }),
            });
          }
        }
      }
      if (res.headers['x-content-type-options']?.toLowerCase() !== 'nosniff' && noNosniff.size < 10) {
        noNosniff.add(`${op.method} ${op.path}`);
      }
      const cache = res.headers['cache-control'] ?? '';
      if (identity && requiresAuth(op) && !/no-store|private/i.test(cache) && cacheable.size < 10) {
        cacheable.add(`${op.method} ${op.path}`);
      }
    }
    for (const { op, res, what, runtime } of verbose.values()) {
      ctx.report(SCAN_RULES.verboseErrors, {
        operation: op,
        ...(runtime ? { severity: 'low' as const } : {}),
        message: `${res.sent.method} ${op.path} answered ${res.status} with ${what}.`,
        evidence: evidenceOf(res, runtime ? { exception: runtime } : {}),
      });
    }
    for (const { op, res, names } of errorSecretsFound.values()) {
      ctx.report(SCAN_RULES.configurationExposure, {
        operation: op,
        key: 'error-secrets',
        message: `${res.sent.method} ${op.path} answered ${res.status} with secrets in its error: ${names.slice(0, 6).join(', ')}.`,
        evidence: evidenceOf(res, { secrets: names }),
      });
    }
    if (unlisted.size > 0) {
      const [firstRes] = unlisted.values();
      ctx.report(SCAN_RULES.verboseErrors, {
        key: 'unlisted-paths',
        message: `Requests outside the API description were answered with stack traces, development error pages or database errors: ${[...unlisted.keys()].slice(0, 5).join(', ')}${unlisted.size > 5 ? ` and ${unlisted.size - 5} more` : ''}.`,
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
