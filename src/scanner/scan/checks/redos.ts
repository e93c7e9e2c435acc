/**
 * API4 ReDoS: a regular expression on the server that backtracks catastrophically on a short input. Inputs
 * that are validated are probed (a declared `pattern`, e-mail, URL, phone, host and name fields of POST bodies
 * and query strings): a run of one character closed by one the validator refuses (`aaaa…a!`) makes an
 * ambiguous pattern (`^(\w+\s?)*$`, `([a-z0-9]+)*@`) try every way to split the run before it fails, twice as
 * many for each character more; the control of the same length breaks the run (`a!a!…a!`), so no pattern can
 * split it many ways. The run grows from 12 characters in steps that shrink as the answer slows down, and
 * stops at the first answer 150 ms slower than the control: a 2^n pattern is caught after at most a few
 * hundred milliseconds of the server's time. A finding needs the curve, not slow answers alone (a server that
 * pauses now and then gives those): the same run slow three times with a fast control of the same length
 * before the second and the third, the same status for all, and the run two units shorter, measured then,
 * clearly above the baseline (10 ms, a twentieth of the slow run) and well below the slow run (at most 0.6 of
 * it); a slow answer that does not come again is taken for noise and the run grows on (twice at most).
 * Bounded: at most 5 inputs, 40 requests and 8 s per scan.
 *
 * Where the probe goes: reads' query strings; POSTs to paths without parameters (anonymously when they need no
 * credentials, else as A, or as B or the admin when A is refused with 401/403) or naming an object the scan
 * created, never as an identity to a change of its own account.
 * Updates of an account (`PUT /users/{username}/email`, `POST /me/email`) go only to an account the scan
 * registers itself for the purpose (`pcr<hex>`, through the sign-up and the identities' login), as that
 * account, never its password or login name.
 *
 * A declared `pattern` is first tried here, on short strings, for a run that makes it backtrack (the
 * document says which characters it accepts); only a pattern shown to blow up locally is probed that way.
 */
import type { JsonObject, Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, type ScanContext } from '../context.ts';
import { sampleForPattern } from '../pattern-sample.ts';
import { isExcluded, isLoginOperation, planRequest, requestBody, requiresAuth } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, schemaType } from '../schema.ts';
import { accountParam } from '../self.ts';
import { findLoginTarget } from './api2-authentication.ts';
import { looksRefused } from './api3-property-authorization.ts';
import {
  checkIds,
  claimAccountPath,
  MAIL_FIELD,
  NAME_FIELD,
  PASSWORD,
  registerThrowaway,
  type Throwaway,
} from './throwaway.ts';

/** How an evil string is built: a prefix, `n` repetitions of the unit, the breaker that forces a failure. */
export interface Family {
  readonly prefix: string;
  readonly unit: string;
  readonly breaker: string;
}

export function evil(f: Family, n: number): string {
  return f.prefix + f.unit.repeat(n) + f.breaker;
}

/** The control: as long as the evil string, the run broken after every unit, so nothing can split it. */
export function control(f: Family, n: number): string {
  let s = f.prefix;
  for (let i = 0; i < n; i++) s += i % 2 === 0 ? f.unit : f.breaker.repeat(f.unit.length);
  return s + f.breaker;
}

const RUN: Family = { prefix: '', unit: 'a', breaker: '!' };
const DIGITS: Family = { prefix: '', unit: '1', breaker: 'x' };
const URL_PATH: Family = { prefix: 'http://a.aa/', unit: 'a', breaker: '!' };
const URL_HOST: Family = { prefix: 'http://', unit: 'a', breaker: '!' };

interface Kind {
  readonly name: string;
  readonly test: (field: string, s: JsonObject) => boolean;
  readonly families: readonly Family[];
}

/** Inputs validators usually check with a hand-written regular expression, most likely first. */
const KINDS: readonly Kind[] = [
  {
    name: 'e-mail',
    test: (f, s) => s.format === 'email' || s.format === 'idn-email' || /e-?mail/i.test(f),
    families: [RUN],
  },
  {
    name: 'URL',
    test: (f, s) =>
      s.format === 'uri' ||
      s.format === 'url' ||
      s.format === 'iri' ||
      /(url|uri|link|website|homepage|href)$/i.test(f),
    families: [URL_PATH, URL_HOST],
  },
  { name: 'phone number', test: (f) => /phone|mobile|msisdn|(^|_)tel$|cell/i.test(f), families: [DIGITS] },
  {
    name: 'host name',
    test: (f, s) =>
      s.format === 'hostname' || s.format === 'idn-hostname' || /(host|hostname|domain|fqdn)$/i.test(f),
    families: [RUN],
  },
  {
    name: 'name',
    test: (f) =>
      /^(user_?name|username|login|name|first_?name|last_?name|full_?name|display_?name|nick_?name)$/i.test(
        f,
      ),
    families: [RUN],
  },
];

const START = 12;
const MAX_RUN = 42;
/** An answer this much slower than the control is a hit (then confirmed). */
const SLOW_MS = 150;
const MAX_INPUTS = 5;
const MAX_REQUESTS = 40;
const WALL_MS = 8000;
/** Local search for a declared pattern's evil run: per run, and for the whole search. */
const LOCAL_SLOW_MS = 8;
const LOCAL_BUDGET_MS = 300;
const PATTERNS_BUDGET_MS = 1000;

function timed(re: RegExp, s: string): number {
  const t = performance.now();
  re.test(s);
  return performance.now() - t;
}

/**
 * A run that makes a declared pattern backtrack catastrophically here (JavaScript's engine backtracks like
 * those of Python, Java, Ruby, PHP and .NET): runs of one unit after a prefix the pattern accepts, grown two
 * at a time from 4 while each test stays under 8 ms, so no test here takes long. Found when a run takes 8 ms
 * or more, four times what four units less took, twice, while the control of that length stays fast.
 */
export function patternFamily(pattern: string): Family | undefined {
  let re: RegExp;
  try {
    re = new RegExp(pattern);
  } catch {
    return undefined;
  }
  const sample = sampleForPattern(pattern) ?? '';
  const prefixes = [
    ...new Set([
      '',
      ...Array.from({ length: Math.min(sample.length, 12) }, (_, i) => sample.slice(0, i + 1)),
    ]),
  ];
  const units = [
    ...new Set(['a', '1', 'A', ...sample.slice(0, 8), '.', '-', '_', ' ', 'a.', 'a-', 'a ', '1-']),
  ];
  const started = performance.now();
  for (const prefix of prefixes) {
    for (const unit of units) {
      for (const breaker of ['!', '#', '%']) {
        if (performance.now() - started > LOCAL_BUDGET_MS) return undefined;
        const f = { prefix, unit, breaker };
        const times = new Map<number, number>();
        for (let n = 4; n <= 30; n += 2) {
          const t = timed(re, evil(f, n));
          times.set(n, t);
          if (t < LOCAL_SLOW_MS) continue;
          const shorter = times.get(n - 4) ?? 0;
          if (
            t >= 4 * shorter &&
            timed(re, evil(f, n)) >= LOCAL_SLOW_MS / 2 &&
            timed(re, control(f, n)) < 1
          ) {
            return f;
          }
          break;
        }
      }
    }
  }
  return undefined;
}

/** One input to probe: where it goes, what kind it is, the evil runs to try. */
interface Candidate {
  readonly op: Operation;
  readonly field: string;
  readonly in: 'body' | 'query';
  readonly kind: string;
  readonly families: readonly Family[];
  readonly rank: number;
  /**
   * Sent as a throwaway account the scan registers, on its own account: an update of an account (`PUT
   * /users/{username}/email`), with the path parameter that names it (none: `POST /me/email`).
   */
  readonly account?: { readonly param?: string };
}

/** A POST that may change the sender's own account or profile: `/me`, `/profile/update`, `/account/email`. */
const SELF_CHANGE =
  /(^|[/_-])(me|self|profile|my_?profile|current_?user|account|settings|preferences|update|edit|change|modify|user|e-?mail|mail|phone|password|passwd|avatar|name|user_?name)([/_-]|$)/i;
/** Body fields of an account's own details: a body of these alone changes its sender's account. */
const OWN_DETAIL =
  /^(new_?|current_?|old_?|confirm_?)?(e-?mail(_?address)?|mail|user_?name|display_?name|name|phone(_?number)?|mobile|avatar|password|passwd|pwd)$/i;

/**
 * A POST the probe may send: the probe values are refused by design, but the first (the control) is sent before
 * the API has shown that it validates. So never to a path naming an object the scan did not create (another
 * user's, or a given identity's account), nor, as an identity, to what looks like a change of its own account.
 */
function mayPost(ctx: ScanContext, op: Operation): boolean {
  if (op.path.includes('{')) {
    return planRequest(ctx.spec, op, ctx.objects, { owner: ctx.identities[0]?.name }).object !== undefined;
  }
  if (!requiresAuth(op)) return true;
  // A body of account details alone (`POST /api/user/email {email}`) changes the sender's own account.
  const fields = Object.keys(propertiesOf(ctx.spec, requestBody(op)?.schema));
  if (fields.length > 0 && fields.every((k) => OWN_DETAIL.test(k))) return false;
  return !SELF_CHANGE.test(op.path);
}

/**
 * A change of an account that a throwaway account of the scan may send to its own account: a PUT, PATCH or
 * POST whose path names a user or account and nothing else (`/users/{username}/email`), or a POST that changes
 * the caller's own (`/me/email`, `/account/update`). Undefined for anything else.
 */
function accountChange(op: Operation): { readonly param?: string } | undefined {
  if (!requiresAuth(op) || (op.method !== 'PUT' && op.method !== 'PATCH' && op.method !== 'POST'))
    return undefined;
  const param = accountParam(op.path);
  if (param !== undefined) return (op.path.match(/\{/g) ?? []).length === 1 ? { param } : undefined;
  return op.method === 'POST' && !op.path.includes('{') && SELF_CHANGE.test(op.path) ? {} : undefined;
}

function candidatesOf(ctx: ScanContext): Candidate[] {
  const out: Candidate[] = [];
  // Each declared pattern is tried once, and all of them within a second of the scanner's time.
  const families = new Map<string, Family | undefined>();
  const started = performance.now();
  const familyOf = (pattern: string) => {
    if (!families.has(pattern) && performance.now() - started < PATTERNS_BUDGET_MS) {
      families.set(pattern, patternFamily(pattern));
    }
    return families.get(pattern);
  };
  const add = (
    op: Operation,
    field: string,
    where: 'body' | 'query',
    schema: JsonObject,
    account?: { readonly param?: string },
  ) => {
    if (schemaType(schema) !== undefined && schemaType(schema) !== 'string') return;
    if (schema.enum !== undefined || schema.const !== undefined || schema.format === 'binary') return;
    const publicOp = requiresAuth(op) ? 1 : 0;
    if (typeof schema.pattern === 'string') {
      const family = familyOf(schema.pattern);
      if (family) {
        out.push({
          op,
          field,
          in: where,
          kind: `pattern ${schema.pattern}`,
          families: [family],
          rank: publicOp + (account ? 1 : 0),
          ...(account ? { account } : {}),
        });
        return;
      }
    }
    const i = KINDS.findIndex((k) => k.test(field, schema));
    // A login refuses any unknown name alike: its name field shows no validator (its e-mail may).
    if (i < 0 || (KINDS[i].name === 'name' && isLoginOperation(ctx.spec, op))) return;
    out.push({
      op,
      field,
      in: where,
      kind: KINDS[i].name,
      families: KINDS[i].families,
      rank: 2 * (i + 1) + publicOp + (account ? 1 : 0),
      ...(account ? { account } : {}),
    });
  };
  for (const op of ctx.spec.operations) {
    if (isExcluded(op)) continue;
    const asIs = op.method === 'GET' || (op.method === 'POST' && mayPost(ctx, op));
    const account = asIs ? undefined : accountChange(op);
    if (!asIs && !account) continue;
    for (const p of op.parameters) {
      if (p.in === 'query') add(op, p.name, 'query', resolveSchema(ctx.spec, p.schema), account);
    }
    const rb = op.method !== 'GET' ? requestBody(op) : undefined;
    if (!rb || rb.encoding === 'multipart') continue;
    for (const [name, s] of Object.entries(propertiesOf(ctx.spec, rb.schema))) {
      // Never the account's password or login name: a stored probe would lock the throwaway account out.
      if (account && (PASSWORD.test(name) || NAME_FIELD.test(name))) continue;
      add(op, name, 'body', resolveSchema(ctx.spec, s), account);
    }
  }
  out.sort((a, b) => a.rank - b.rank);
  // The same field in many operations (`email` in sign-up, login, invite): two of them at most.
  const perField = new Map<string, number>();
  return out
    .filter((c) => {
      const seen = perField.get(c.field) ?? 0;
      perField.set(c.field, seen + 1);
      return seen < 2;
    })
    .slice(0, MAX_INPUTS);
}

/** The value that names the throwaway account in a path parameter: its e-mail, its name, else its id. */
function accountValue(t: Throwaway | null, param: string | undefined): string | undefined {
  if (!t || param === undefined) return undefined;
  if (MAIL_FIELD.test(param)) return t.email;
  if (/name|login/i.test(param)) return t.name;
  // Only an id read back as the account's own (checkIds): a token's `account_id` may name every user's tenant.
  return [...t.checked][0];
}

/** Statuses that say the request never reached validation: no timing can be compared. */
const UNREACHED = new Set([401, 403, 404, 405, 413, 415, 429]);

/** A refusal of the value: a 4xx that is not about access or routing, or a 2xx whose body says it failed. */
function refusal(res: ScanResponse): boolean {
  if (res.status >= 200 && res.status < 300) return looksRefused(res);
  return res.status >= 400 && res.status < 500 && !UNREACHED.has(res.status);
}

export async function redos(ctx: ScanContext): Promise<void> {
  const started = performance.now();
  let sent = 0;
  let throwaway: Throwaway | null | undefined;
  for (const c of candidatesOf(ctx)) {
    let as: Identity | null = requiresAuth(c.op) ? (ctx.identities[0] ?? null) : null;
    let params: Record<string, string> = {};
    if (c.account) {
      // Registered once, when the first account change comes (two requests: the sign-up and the login).
      if (throwaway === undefined) {
        if (performance.now() - started > WALL_MS || MAX_REQUESTS - sent < 11) break;
        sent += 2;
        throwaway = (await registerThrowaway(ctx, findLoginTarget(ctx), 'pcr')) ?? null;
        if (throwaway && c.account.param !== undefined && !/name|login|mail/i.test(c.account.param)) {
          sent += 4; // at most 2 routes, each with the id and an id nobody has
          await checkIds(ctx, throwaway);
        }
      }
      const value = accountValue(throwaway, c.account.param);
      if (!throwaway || (c.account.param !== undefined && value === undefined)) {
        ctx.note?.({
          operation: c.op,
          rule: SCAN_RULES.redos,
          reason: `no account of the scan's own to probe ${c.field} on`,
        });
        continue;
      }
      as = throwaway.identity;
      if (c.account.param !== undefined && value !== undefined) {
        params = { [c.account.param]: value };
        const req = planRequest(ctx.spec, c.op, ctx.objects, { params });
        claimAccountPath(ctx, c.op, req, throwaway, c.account.param, value);
        if (!ctx.objects.isScanCreated(req.path.split('?')[0])) continue;
      }
    }
    for (const family of c.families) {
      if (performance.now() - started > WALL_MS || MAX_REQUESTS - sent < 9 || ctx.signal.aborted) {
        ctx.note?.({
          operation: c.op,
          rule: SCAN_RULES.redos,
          reason: `ReDoS budget spent before ${c.field}`,
        });
        return;
      }
      const send = async (value: string): Promise<ScanResponse | undefined> => {
        sent++;
        const owner = c.account ? undefined : ctx.identities[0]?.name;
        if (c.in === 'query') {
          const req = planRequest(ctx.spec, c.op, ctx.objects, {
            owner,
            params: { ...params, [c.field]: value },
          });
          return ctx.send(req, as);
        }
        const planned = planRequest(ctx.spec, c.op, ctx.objects, { owner, params }).body;
        const body =
          planned !== null && typeof planned === 'object' && !Array.isArray(planned) ? planned : {};
        const req = planRequest(ctx.spec, c.op, ctx.objects, {
          owner,
          params,
          body: { ...body, [c.field]: value },
        });
        return ctx.send(req, as);
      };
      let found = await probe(family, send);
      // An operation A may not use (401/403): the other ordinary identities, then the admin, reach it.
      const others = [...ctx.identities.slice(1), ...(ctx.admin ? [ctx.admin] : [])];
      while (found === 'refused' && !c.account && as !== null && others.length > 0) {
        as = others.shift() ?? null;
        found = await probe(family, send);
      }
      if (found && found !== 'refused') {
        report(ctx, c, family, found);
        break;
      }
    }
  }
}

interface Timing {
  readonly n: number;
  readonly evil: ScanResponse;
  readonly again: ScanResponse;
  readonly control: ScanResponse;
  readonly baseMs: number;
  readonly shorter: { readonly n: number; readonly ms: number };
}

/**
 * Grows the run until an answer is `SLOW_MS` slower than the control, then confirms: the same run again slow,
 * the control of that length fast, and the growth super-linear. Steps of 6 while the extra time is under 3 ms,
 * of 4 under 15 ms, then of 2: a doubling-per-character pattern answers in at most a few hundred milliseconds.
 */
export async function probe(
  f: Family,
  send: (value: string) => Promise<ScanResponse | undefined>,
): Promise<Timing | 'refused' | undefined> {
  const first = await send(control(f, START));
  // Only a refused control shows a validator at work (and nothing stored): 400 or 422, or a 200 whose body
  // says it failed (`{"status": "fail"}`); not a success, 401, 404...
  if (first && (first.status === 401 || first.status === 403)) return 'refused';
  if (!first || !refusal(first)) return undefined;
  const like = (res: ScanResponse | undefined): res is ScanResponse =>
    res !== undefined && res.status === first.status && refusal(res);
  const baseMs = first.durationMs;
  const overs = new Map<number, number>();
  const step = (over: number) => (over < 3 ? 6 : over < 15 ? 4 : 2);
  let spikes = 0;
  for (let n = START; n <= MAX_RUN; ) {
    const res = await send(evil(f, n));
    if (!like(res)) return undefined;
    const over = res.durationMs - baseMs;
    overs.set(n, over);
    if (over >= SLOW_MS && res.durationMs >= 3 * baseMs) {
      // Confirmed by the curve, not by slow answers alone (a server that pauses now and then gives those): the
      // control of the same length fast, the same run slow again and a third time with a fast control before
      // each, and the run two units shorter, measured now, clearly above the baseline and well below this one.
      const ctl = await send(control(f, n));
      const again = await send(evil(f, n));
      if (!like(ctl) || !like(again)) return undefined;
      const againOver = again.durationMs - baseMs;
      if (againOver < SLOW_MS / 2) {
        // A slow answer that did not come again was noise (a loaded machine): go on growing the run, twice at
        // most.
        if (spikes >= 2) return undefined;
        spikes++;
        overs.set(n, againOver);
        n += step(againOver);
        continue;
      }
      const slow = Math.min(over, againOver);
      const fastControl = (c: ScanResponse) =>
        c.durationMs - baseMs < Math.max(50, slow / 5) && slow + baseMs >= 3 * c.durationMs;
      if (!fastControl(ctl)) return undefined;
      const shorterN = n - 2;
      const shorter = await send(evil(f, shorterN));
      const ctl2 = await send(control(f, n));
      const third = await send(evil(f, n));
      if (!like(shorter) || !like(ctl2) || !like(third)) return undefined;
      const shorterOver = shorter.durationMs - baseMs;
      const thirdOver = third.durationMs - baseMs;
      const slowest = Math.min(slow, thirdOver);
      const confirmed =
        thirdOver >= SLOW_MS / 2 &&
        fastControl(ctl2) &&
        shorterOver >= Math.max(10, slowest / 20) &&
        shorterOver <= 0.6 * slowest;
      if (!confirmed) return undefined;
      return {
        n,
        evil: res,
        again: third,
        control: ctl,
        baseMs,
        shorter: { n: shorterN, ms: shorter.durationMs },
      };
    }
    n += step(over);
  }
  return undefined;
}

function report(ctx: ScanContext, c: Candidate, f: Family, t: Timing): void {
  const ms = (x: number) => `${Math.round(x)} ms`;
  const length = evil(f, t.n).length;
  ctx.report(SCAN_RULES.redos, {
    operation: c.op,
    key: c.field,
    message:
      `${c.op.method} ${c.op.path}: a ${length}-character ${c.field} (${c.kind}; ${JSON.stringify(f.prefix)} + ${t.n} × ${JSON.stringify(f.unit)} + ${JSON.stringify(f.breaker)}) ` +
      `took ${ms(t.evil.durationMs)} and ${ms(t.again.durationMs)}, the same-length control ${ms(t.control.durationMs)}, ` +
      `${t.shorter.n} units ${ms(t.shorter.ms)}: its validation backtracks catastrophically.`,
    evidence: evidenceOf(t.again, {
      input: c.field,
      in: c.in,
      length,
      evilMs: [Math.round(t.evil.durationMs), Math.round(t.again.durationMs)],
      controlMs: Math.round(t.control.durationMs),
      baselineMs: Math.round(t.baseMs),
      shorterRun: { units: t.shorter.n, ms: Math.round(t.shorter.ms) },
    }),
  });
}
