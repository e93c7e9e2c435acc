/**
 * API4 ReDoS: a regular expression on the server that backtracks catastrophically on a short input. Inputs
 * that are validated are probed (a declared `pattern`, e-mail, URL, phone, host and name fields of POST bodies
 * and query strings): a run of one character closed by one the validator refuses (`aaaa…a!`) makes an
 * ambiguous pattern (`^(\w+\s?)*$`, `([a-z0-9]+)*@`) try every way to split the run before it fails, twice as
 * many for each character more; the control of the same length breaks the run (`a!a!…a!`), so no pattern can
 * split it many ways. The run grows from 12 characters in steps that shrink as the answer slows down, and
 * stops at the first answer 150 ms slower than the baseline (the fastest answer so far: a loaded machine
 * makes answers late, never early): a 2^n pattern is caught after at most a few hundred milliseconds of the
 * server's time. A finding needs the curve, not slow answers alone (a server that pauses now and then gives
 * those): the same run 150 ms slow three times with a fast control of the same length before the second and
 * the third (a slow control is sent once more, the faster counts; each such sign of a loaded machine, and a
 * run slow once then fast, asks for one more slow answer, two at most), the same status for all, and the
 * run two units shorter, answered twice, clearly above the baseline both times (20 ms, a twentieth of the
 * slow run) and well below the slow run (at most 0.6 of it). A confirmation that disagrees is tried again,
 * twice at most: the run grows on when it was fast once, the same run when a control or the shorter run was
 * slow.
 * The curve is judged by ratios, so a constant slow-down of the server (every answer three times slower) only
 * makes the blow-up show at a shorter run.
 * Bounded: at most 5 inputs, a new input only while fewer than 32 of the 40 requests were sent, 24 per input,
 * and 8 s per scan.
 *
 * Where the probe goes: reads' query strings; POSTs to paths without parameters (anonymously when they need no
 * credentials, else as A, or as B or the admin when A is refused with 401/403) or naming an object the scan
 * created, never as an identity to a change of its own account.
 * Updates of an account (`PUT /users/{username}/email`, `POST /me/email`) go only to an account the scan
 * registers itself for the purpose (`pcr<hex>`, through the sign-up and the identities' login), as that
 * account, never its password or login name.
 *
 * A declared `pattern` is first tried here, on short strings, for a run that makes it backtrack (the
 * document says which characters it accepts), timed in this process's CPU time (a loaded machine does not
 * make a test look slow); only a pattern shown to blow up locally is probed that way.
 */
import type { ApiDocument, JsonObject, Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, type ScanContext } from '../context.ts';
import { sampleForPattern } from '../pattern-sample.ts';
import {
  isCreationOperation,
  isExcluded,
  isLoginOperation,
  planRequest,
  requestBody,
  requiresAuth,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, schemaType } from '../schema.ts';
import { accountParam } from '../self.ts';
import { findLoginTarget } from './api2-authentication.ts';
import { looksRefused } from './api3-property-authorization.ts';
import { creationSweep } from './injection.ts';
import {
  checkIds,
  claimAccountPath,
  MAIL_FIELD,
  NAME_FIELD,
  PASSWORD,
  registerThrowaway,
  type Throwaway,
} from './throwaway.ts';
import { storesOnAccount } from './url-inputs.ts';

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
const URL_PATH: Family = { prefix: 'http://a.invalid/', unit: 'a', breaker: '!' };
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
/**
 * Local search for a declared pattern's evil run: per run, and for the whole search, in milliseconds of this
 * process's CPU (the wall clock of a loaded machine runs on while another process has the core: at most
 * `LOCAL_WALL_FACTOR` times these).
 */
const LOCAL_SLOW_MS = 8;
const LOCAL_BUDGET_MS = 300;
const PATTERNS_BUDGET_MS = 1000;
const LOCAL_WALL_FACTOR = 4;

/** A clock of this process's work: the CPU time it used, and the wall time beside it. */
export interface WorkClock {
  readonly cpuMs: () => number;
  readonly wallMs: () => number;
}

const PROCESS_CLOCK: WorkClock = {
  cpuMs: () => {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1000;
  },
  wallMs: () => performance.now(),
};

/**
 * How long a test of `re` took: the lesser of the CPU time and the wall time it spanned. A pause while
 * another process has the core adds wall time, not CPU time; the garbage collector's threads add CPU time,
 * not wall time.
 */
function timed(re: RegExp, s: string, clock: WorkClock): number {
  const cpu = clock.cpuMs();
  const wall = clock.wallMs();
  re.test(s);
  return Math.min(clock.cpuMs() - cpu, clock.wallMs() - wall);
}

/** A budget of this process's work: spent past `ms` of CPU time, or `LOCAL_WALL_FACTOR` × `ms` of wall. */
function workBudget(ms: number, clock: WorkClock): () => boolean {
  const cpu = clock.cpuMs();
  const wall = clock.wallMs();
  return () => clock.cpuMs() - cpu > ms || clock.wallMs() - wall > LOCAL_WALL_FACTOR * ms;
}

/**
 * A run that makes a declared pattern backtrack catastrophically here (JavaScript's engine backtracks like
 * those of Python, Java, Ruby, PHP and .NET): runs of one unit after a prefix the pattern accepts, grown two
 * at a time from 4 while each test stays under 8 ms, so no test here takes long. Found when a run takes 8 ms
 * or more, four times what four units less took, and again at least 4 ms, while the control of that length
 * stays under 1 ms (the faster of two tries). Times are CPU time (`timed`); a slow test that is fast when
 * tried again was a pause, and the run grows on.
 */
export function patternFamily(pattern: string, clock: WorkClock = PROCESS_CLOCK): Family | undefined {
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
  const spent = workBudget(LOCAL_BUDGET_MS, clock);
  for (const prefix of prefixes) {
    for (const unit of units) {
      for (const breaker of ['!', '#', '%']) {
        if (spent()) return undefined;
        const f = { prefix, unit, breaker };
        const times = new Map<number, number>();
        for (let n = 4; n <= 30; n += 2) {
          const t = timed(re, evil(f, n), clock);
          times.set(n, t);
          if (t < LOCAL_SLOW_MS) continue;
          const again = timed(re, evil(f, n), clock);
          // Fast this time: the first was a pause, not the pattern.
          if (again < LOCAL_SLOW_MS / 2) {
            times.set(n, again);
            continue;
          }
          const shorter = times.get(n - 4) ?? 0;
          const ctl = Math.min(timed(re, control(f, n), clock), timed(re, control(f, n), clock));
          if (Math.min(t, again) >= 4 * shorter && ctl < 1) return f;
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
  return !SELF_CHANGE.test(op.path) && !storesOnAccount(ctx.spec, op);
}

/**
 * A change of an account that a throwaway account of the scan may send to its own account: a PUT, PATCH or
 * POST whose path names a user or account and nothing else (`/users/{username}/email`), or a POST that changes
 * the caller's own (`/me/email`, `/account/update`). Undefined for anything else.
 */
function accountChange(spec: ApiDocument, op: Operation): { readonly param?: string } | undefined {
  if (!requiresAuth(op) || (op.method !== 'PUT' && op.method !== 'PATCH' && op.method !== 'POST'))
    return undefined;
  const param = accountParam(op.path);
  if (param !== undefined) return (op.path.match(/\{/g) ?? []).length === 1 ? { param } : undefined;
  return op.method === 'POST' &&
    !op.path.includes('{') &&
    (SELF_CHANGE.test(op.path) || storesOnAccount(spec, op))
    ? {}
    : undefined;
}

function candidatesOf(ctx: ScanContext): Candidate[] {
  const out: Candidate[] = [];
  // Each declared pattern is tried once, and all of them within a second of the scanner's CPU time.
  const families = new Map<string, Family | undefined>();
  const spent = workBudget(PATTERNS_BUDGET_MS, PROCESS_CLOCK);
  const familyOf = (pattern: string) => {
    if (!families.has(pattern) && !spent()) {
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
    const asIs =
      (op.method === 'GET' && (!requiresAuth(op) || !storesOnAccount(ctx.spec, op))) ||
      (op.method === 'POST' && mayPost(ctx, op));
    const account = asIs ? undefined : accountChange(ctx.spec, op);
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
  // A creation whose validator lets a probe through stores it in the sender's data: as a given identity or the
  // admin, what the probes made is deleted again (the injection probes' sweep), after each input and at the end.
  const sweep = creationSweep(ctx, 'the ReDoS probes');
  try {
    await probeInputs(ctx, sweep);
  } finally {
    await sweep.flush();
    sweep.report();
  }
}

async function probeInputs(ctx: ScanContext, sweep: ReturnType<typeof creationSweep>): Promise<void> {
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
        const res = await ctx.send(req, as);
        if (as !== null && !c.account && isCreationOperation(ctx.spec, c.op))
          sweep.seen(c.op, as, '', c.field)(req, res, value);
        return res;
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
    await sweep.flush(`${c.op.id} ${c.field}`);
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

/** A first slow answer this much slower than the control: the run two units shorter is confirmed instead. */
const TOO_SLOW_MS = 4 * SLOW_MS;
/** The run two units shorter than a slow one: at least this much slower than the baseline (not a pause). */
const SHORTER_MS = 20;
/** Requests one probe may send, and confirmations that may disagree before it gives up. */
const PROBE_REQUESTS = 24;
const DOUBTS = 2;
/** Slow answers of the run asked for beyond three, one for each sign of a loaded machine. */
const MORE_SLOW = 2;

/**
 * Grows the run until an answer is `SLOW_MS` slower than the control, then confirms: the same run again slow,
 * the control of that length fast, and the growth super-linear. Steps of 6 while the extra time is under 3 ms,
 * of 4 under 15 ms, then of 2: a doubling-per-character pattern answers in at most a few hundred milliseconds.
 *
 * Made for a loaded machine, where any answer may come late (the server, or the scanner, waited for a core)
 * but none comes early: the baseline is the fastest answer so far, so one late control does not raise it; a
 * control that looks too slow is sent once more and the faster answer counts; the slow run must be slow three
 * times (once more for each sign of a loaded machine, twice at most) and the shorter run in its band twice. A
 * confirmation that disagrees is tried again (a control or the shorter run too slow: the same run; the run
 * fast once: a longer one), twice at most. A constant slow-down (every answer three times slower) changes no
 * judgement that compares one run with another. At most `PROBE_REQUESTS` requests.
 */
export async function probe(
  f: Family,
  sendAny: (value: string) => Promise<ScanResponse | undefined>,
): Promise<Timing | 'refused' | undefined> {
  let left = PROBE_REQUESTS;
  const send = (value: string) => (left-- > 0 ? sendAny(value) : Promise.resolve(undefined));
  const first = await send(control(f, START));
  // Only a refused control shows a validator at work (and nothing stored): 400 or 422, or a 200 whose body
  // says it failed (`{"status": "fail"}`); not a success, 401, 404...
  if (first && (first.status === 401 || first.status === 403)) return 'refused';
  if (!first || !refusal(first)) return undefined;
  const like = (res: ScanResponse | undefined): res is ScanResponse =>
    res !== undefined && res.status === first.status && refusal(res);
  let baseMs = first.durationMs;
  const overOf = (res: ScanResponse) => res.durationMs - baseMs;
  const hit = (res: ScanResponse) => overOf(res) >= SLOW_MS && res.durationMs >= 3 * baseMs;
  /** A control fast beside a run `slow` ms over the baseline. */
  const fastControl = (c: ScanResponse, slow: number) =>
    c.durationMs - baseMs < Math.max(50, slow / 5) && slow + baseMs >= 3 * c.durationMs;
  /** Confirmations that disagreed, and signs of a loaded machine (a control sent again, a run fast once). */
  let doubts = 0;
  let late = 0;
  /** The control of `n` units, sent again when it looks slow: the faster answer (it may lower the base). */
  const controlOf = async (n: number, slow: number) => {
    let c = await send(control(f, n));
    if (like(c) && !fastControl(c, slow)) {
      late++;
      const again = await send(control(f, n));
      if (!like(again)) return undefined;
      if (again.durationMs < c.durationMs) c = again;
    }
    if (like(c)) baseMs = Math.min(baseMs, c.durationMs);
    return c;
  };
  /** Every answer to each run, by its length in units. */
  const answers = new Map<number, ScanResponse[]>();
  const evilOf = async (n: number) => {
    const res = await send(evil(f, n));
    if (like(res)) {
      answers.set(n, [...(answers.get(n) ?? []), res]);
      baseMs = Math.min(baseMs, res.durationMs);
    }
    return res;
  };
  /**
   * The confirmation of a slow first answer `res` at `n` units: the timing; the extra time of a fast answer
   * when the run was fast once (the slow answer was a pause); 'unclear' when a control or the shorter run was
   * too slow; undefined when an answer was not a refusal like the first.
   */
  const confirm = async (n: number, res: ScanResponse): Promise<Timing | number | 'unclear' | undefined> => {
    const ctl = await controlOf(n, overOf(res));
    if (!like(ctl)) return undefined;
    if (!fastControl(ctl, overOf(res))) return 'unclear';
    const again = await evilOf(n);
    if (!like(again)) return undefined;
    if (overOf(again) < SLOW_MS) return overOf(again);
    const ctl2 = await controlOf(n, Math.min(overOf(res), overOf(again)));
    if (!like(ctl2)) return undefined;
    const third = await evilOf(n);
    if (!like(third)) return undefined;
    if (overOf(third) < SLOW_MS) return overOf(third);
    let slow = Math.min(overOf(res), overOf(again), overOf(third));
    // Each sign of a loaded machine so far (a control sent again, a run slow once and then fast) asks for one
    // more slow answer of the run, two at most: pauses that come that often come three times in a row too.
    for (let i = 0; i < Math.min(late, MORE_SLOW); i++) {
      const more = await evilOf(n);
      if (!like(more)) return undefined;
      if (overOf(more) < SLOW_MS) return overOf(more);
      slow = Math.min(slow, overOf(more));
    }
    if (!fastControl(ctl, slow) || !fastControl(ctl2, slow)) return 'unclear';
    // The curve: the run two units shorter, answered at least twice (the one sent while the run grew counts),
    // clearly above the baseline every time (not a pause) and well below the slow run (the fastest answer).
    do {
      if (!like(await evilOf(n - 2))) return undefined;
    } while ((answers.get(n - 2) ?? []).length < 2);
    const shorter = (answers.get(n - 2) ?? []).reduce((a, b) => (b.durationMs < a.durationMs ? b : a));
    if (overOf(shorter) < Math.max(SHORTER_MS, slow / 20)) return overOf(shorter);
    if (overOf(shorter) > 0.6 * slow) return 'unclear';
    return {
      n,
      evil: res,
      again: third,
      control: ctl,
      baseMs,
      shorter: { n: n - 2, ms: shorter.durationMs },
    };
  };
  const step = (over: number) => (over < 3 ? 6 : over < 15 ? 4 : 2);
  // The step follows the slower of the last two runs: when the control and the first runs all came late, the
  // baseline is too high for a while, and a run that looks no slower than it must not make the next one 64
  // times slower.
  let previous = 0;
  const grow = (n: number, over: number) => {
    const next = n + step(Math.max(over, previous));
    previous = over;
    return next;
  };
  for (let n = START; n <= MAX_RUN; ) {
    let res = await evilOf(n);
    if (!like(res)) return undefined;
    if (!hit(res)) {
      n = grow(n, overOf(res));
      continue;
    }
    // Far slower than needed (the run grew by several units at once): the run two units shorter, when slow
    // enough too, is confirmed instead, so that the confirmation does not cost the server seconds.
    if (overOf(res) >= TOO_SLOW_MS && n - 2 > START && !answers.has(n - 2)) {
      const less = await evilOf(n - 2);
      if (!like(less)) return undefined;
      if (hit(less)) {
        n -= 2;
        res = less;
      }
    }
    // Confirmed by the curve, not by slow answers alone (a server that pauses now and then gives those).
    const verdict = await confirm(n, res);
    if (verdict === undefined || typeof verdict === 'object') return verdict;
    if (doubts >= DOUBTS) return undefined;
    doubts++;
    // A slow answer that did not come again was noise (a loaded machine): the run grows on. A slow control or
    // shorter run: the same run once more.
    if (verdict !== 'unclear') {
      late++;
      n = grow(n, verdict);
    }
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
