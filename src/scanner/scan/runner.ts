import type { ApiDocument, Operation } from '../../core/api-document.ts';
import { type ErrorCode, PortcullisError } from '../../core/errors.ts';
/** Runs a scan: load the spec, log in, create test objects, run the checks in a safe order, collect findings. */
import { loadApiDocument } from '../../openapi/load.ts';
import type { Finding, FindingsResult, RuleInfo, TargetOutages } from '../finding.ts';
import { startCanary } from './canary.ts';
import type { Check } from './check.ts';
import { api1 } from './checks/api1-bola.ts';
import { api2 } from './checks/api2-authentication.ts';
import { sessionResource } from './checks/api2-sessions.ts';
import { api3 } from './checks/api3-property-authorization.ts';
import { api4 } from './checks/api4-resource-consumption.ts';
import { api5, madeByPrivilegedCreation, refusedIn200 } from './checks/api5-function-authorization.ts';
import { api6, changesMoneyReason } from './checks/api6-business-flows.ts';
import { api7 } from './checks/api7-ssrf.ts';
import { api8 } from './checks/api8-misconfiguration.ts';
import { api9 } from './checks/api9-inventory.ts';
import { api10 } from './checks/api10-unsafe-consumption.ts';
import { deleteThrowaways, namesOnlyScanAccount } from './checks/throwaway.ts';
import { selfUpload } from './checks/upload.ts';
import { storesOnAccount } from './checks/url-inputs.ts';
import {
  createScanClient,
  FilePart,
  headerSpellings,
  MAX_BACKOFF_MS,
  type ScanRequest,
  type ScanResponse,
} from './client.ts';
import {
  type Elevation,
  type Identity,
  isSuccess,
  makeFinding,
  type Observation,
  type ScanContext,
} from './context.ts';
import { buildCoverage, type CoverageNote, type ScanCoverage, withReproduction } from './coverage.ts';
import {
  accessListPath,
  discover,
  givenPeople,
  namesPersonIn,
  ownProfileWritePath,
  ownRecordPath,
  personMember,
  setsPassword,
  setsPasswordByUrl,
  UPDATE_VERB,
} from './discover.ts';
import { urlValues } from './harvest.ts';
import { LoginError, resolveIdentity as logIn } from './login.ts';
import { SCAN_DEFAULTS, type ScanIdentity, type ScanOptions, sharedHeaders } from './options.ts';
import {
  actedOn,
  actingInputs,
  bodySchema,
  createdValue,
  documentedCodes,
  draftCreation,
  idInput,
  inDeclaredEncoding,
  inputActs,
  lastLiteralWords,
  listedValue,
  madeUpId,
  moneyMoveReason,
  moneyWord,
  ObjectRegistry,
  operationProse,
  pathActs,
  pathValues,
  placedUnpaid,
  purchases,
  segmentWords,
  textBody,
  withoutDocumentedCodes,
  writesBy,
  writeTarget,
  xmlLeaves,
} from './planner.ts';
import { propertiesOf } from './schema.ts';

// The document's codes of value moved to planner.ts (API6 reads them too); the runner's tests import them here.
export { documentedCodes, purchases, valueBearing, withoutDocumentedCodes } from './planner.ts';

import { stillScanMade } from './objects.ts';
import { isOwnAccount } from './self.ts';
import {
  CLEANUP_RESERVE_MS,
  estimateWork,
  GRACE_MS,
  MIN_SHARE,
  phaseBudget,
  type Work,
} from './time-budget.ts';

/** The order matters: the API4 burst may trip a rate limit, and API2 login attempts may trip a lockout. */
export const CHECKS: readonly Check[] = [api1, api5, api3, api6, api7, api10, api8, api9, api2, api4];

/** Counters for the summary line (all numbers, as reporters expect). */
export type ScanStats = {
  readonly requests: number;
  readonly durationMs: number;
  /** Operations in the document. */
  readonly operations: number;
  /** Objects the setup created (and the only ones PUT/PATCH/DELETE may touch by default). */
  readonly objectsCreated: number;
  readonly checks: number;
};

/** What `runScan` returns; a `FindingsResult`, so every reporter takes it as is. */
export interface ScanResult extends FindingsResult {
  readonly findings: readonly Finding[];
  /** Every rule the scan ran, found or not (reporters list passes too). */
  readonly rules: readonly RuleInfo[];
  readonly stats: ScanStats;
  readonly kind: 'scan';
  readonly specFile: string;
  readonly target: string;
  /** Checks that ran out of time (their findings so far are kept). */
  readonly timedOut: readonly string[];
  /** Checks not run at all: the scan's deadline (`scanTimeoutMs`) had passed when their turn came. */
  readonly notRun?: readonly string[];
  /** Where the time went: the discovery and each check, with their wall time and requests, in order. */
  readonly phases?: readonly { readonly name: string; readonly ms: number; readonly requests: number }[];
  /** Checks that failed, with the reason. */
  readonly errors: readonly { readonly check: string; readonly message: string }[];
  /** Check × operation: finding, tested, or skipped and why; and the rules that could not run. */
  readonly coverage: ScanCoverage;
  /** Problems a report must show loudly: setup that created nothing, checks that tested nothing. */
  readonly warnings: readonly string[];
  /** What the scan did beyond its probes: the accounts it registered and deleted (or left) at the end. */
  readonly notes: readonly string[];
  /** The target going down during the scan (`times` 0 when it answered throughout). */
  readonly targetOutages: TargetOutages;
}

/** A usage problem: bad options or an identity that cannot log in. */
export class ScanError extends PortcullisError {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ScanError';
    this.code = code;
  }
}

const MAX_OBSERVATIONS = 5000;
/**
 * Checks whose findings rest on the target's 429s (API2's login and code guessing, API4's burst): their requests
 * are not sent again after a 429 (client.ts, seeLimits).
 */
const LIMIT_JUDGES = new Set(['API2', 'API4']);
/**
 * Checks that run side by side when they come one after the other: API7 and API10 spend most of their time waiting
 * for the canary's callbacks, each probe judged by its own canary token, and mark no identity elevated; what they
 * share is the scan's own account for URL inputs stored on an account (each writes only canary URLs there). The
 * others share the scan's objects, accounts and identities' state, and run in turn.
 */
const SIDE_BY_SIDE: readonly (readonly [string, string])[] = [['API7', 'API10']];
/** The end-of-scan deletion of the scan's own accounts gets at most this long. */
const CLEANUP_MS = 10_000;
const DESTRUCTIVE = new Set(['PUT', 'PATCH', 'DELETE']);

const LOGOUT = /log_?(out|off)|sign_?(out|off)|revoke|invalidate|terminate|end_?(all_?)?sessions?/;

/**
 * What would widen a DELETE beyond the made-up value it names, whatever check sent it: a condition (`OR`, `||`,
 * `LIKE`, `UNION`), a wildcard (`%`, `*`, `?` after decoding), a traversal, an operator object or a list.
 */
const WIDENS = /\bor\b|\|\||\blike\b|\bunion\b|\bnot\b|[%*?[\]{}]|\.\.|[<>!]=?|\bin\s*\(/i;

/**
 * A value that begins with one the scan made up, followed by nothing or by a character no id goes on with,
 * and holding nothing that could widen what it names (WIDENS).
 */
function madeUpLed(value: string): boolean {
  // A made-up uuid leads with its own dashes (`c0ffee00-5ca7-4d0e-8…'`).
  const head =
    /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/.exec(value)?.[0] ??
    /^[0-9A-Za-z_]+/.exec(value)?.[0];
  return head !== undefined && madeUpId(head) && !widens(value.slice(head.length));
}

/** WIDENS, or arithmetic that makes the id another one (`3-1`, `3|1`; `3+0` stays 3). */
const widens = (rest: string) => WIDENS.test(rest) || /[-+*/|&^%]\s*[1-9]/.test(rest);

/**
 * A PUT or PATCH whose path, each probed value cut back to its leading id (`/notes/3'` → `/notes/3`), is an object
 * the scan created, with nothing after the ids that could widen them or make them other ids (widens): the injection
 * probes of a path value of the scan's own object (`3'`, `3+0`, `3 AND SLEEP(1)=0`) reach that object or nothing.
 */
function probesOwnObject(objects: ObjectRegistry, op: Operation, bare: string): boolean {
  const t = op.path.split('/');
  const c = bare.split('/');
  if (t.length !== c.length) return false;
  let probed = false;
  const clean: string[] = [];
  for (const [i, seg] of c.entries()) {
    if (!/^\{[^{}]+\}$/.test(t[i])) {
      clean.push(seg);
      continue;
    }
    let value = seg;
    try {
      value = decodeURIComponent(seg);
    } catch {
      return false;
    }
    const head = /^[0-9A-Za-z_]+/.exec(value)?.[0];
    if (head === undefined || head === value) {
      clean.push(seg);
      continue;
    }
    if (widens(value.slice(head.length))) return false;
    probed = true;
    clean.push(head);
  }
  return probed && objects.isScanCreated(clean.join('/'));
}

/**
 * A write's path value that is an object the scan created followed by an injection probe's error, time or narrowing
 * payload (`3'`, `3+0`, `3 AND 1=2`), holding nothing that could widen it or make it another id (widens): it
 * names that object or nothing.
 */
function createdLed(objects: ObjectRegistry, value: string): boolean {
  const head = /^[0-9A-Za-z_]+/.exec(value)?.[0];
  return (
    head !== undefined && head !== value && createdValue(objects, head) && !widens(value.slice(head.length))
  );
}

/**
 * A DELETE whose every path value (not those the document lists: a version) is one the scan made up, alone or
 * followed by an injection probe's error or time payload (`987654321'`, `987654321' AND SLEEP(1)-- `), as sent or
 * base64 of it: it names no object, so it deletes nothing. The probes that would widen it (`OR 1=1`) are never
 * sent in a DELETE (checks/injection.ts, deletePoints).
 */
export function namesNothing(spec: ApiDocument, op: Operation, bare: string): boolean {
  const values = pathValues(op.path, bare).filter(({ name }) => {
    const param = op.parameters.find((p) => p.in === 'path' && p.name === name);
    return listedValue(spec, param?.schema) === undefined;
  });
  return (
    values.length > 0 &&
    values.every(
      ({ value }) =>
        madeUpLed(value) ||
        madeUpLed(Buffer.from(value, /[-_]/.test(value) ? 'base64url' : 'base64').toString('latin1')),
    )
  );
}

/** camelCase and kebab-case as snake_case, lower-cased (`endAllSessions` → `end_all_sessions`). */
const snake = (s: string) =>
  s
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/-/g, '_')
    .toLowerCase();

/**
 * A logout or a token revoke (`/auth/logoutAll`, `endAllSessions`, `/tokens/revoke-all`): sent with a given
 * identity's session, it would end it for the rest of the scan. Matched anywhere in the path or the operation
 * id: a request wrongly held back is a missed probe, a given identity logged out spoils the scan.
 */
export function isLogout(path: string, operationId = ''): boolean {
  return LOGOUT.test(snake(path.split('?')[0])) || LOGOUT.test(snake(operationId));
}

/** Words a path segment says the caller's own record with (`/me.php`, `/my-profile`, `/account/settings`). */
const OWN_RECORD_WORD =
  /^(me|self|my|myself|mine|profile|myprofile|account|myaccount|current|currentuser|whoami|settings|preferences|prefs)$/;
/** Words that may stand beside them in a write of that record (`/update_profile.php`, `/user/profile/edit`). */
const OWN_RECORD_VERB =
  /^(update|edit|save|change|modify|set|patch|put|post|user|info|details|data|current)$/;

/**
 * A write of its sender's own record, by a path that names no object: its last literal segment is only words of
 * the own record and of updating it (`/profile.php`, `/me.php`, `/update_profile.php`, `/profileEdit`,
 * `/my-account`), or only updating words after a segment that is the own record (`/user/profile/update`,
 * `/api/profile/edit`, `/account/settings`). Sent as a given identity, whatever its method, it overwrites that
 * identity's real record.
 */
export function ownRecordWrite(path: string): boolean {
  const bare = path.split('?')[0].replace(/\/+$/, '');
  if (bare.includes('{')) return false;
  const segs = bare.split('/').filter((s) => s !== '');
  const last = segmentWords(segs.at(-1) ?? '');
  if (last.length === 0 || last.length > 4) return false;
  const allowed = (w: string) => OWN_RECORD_WORD.test(w) || OWN_RECORD_VERB.test(w);
  if (!last.every(allowed)) return false;
  if (last.some((w) => OWN_RECORD_WORD.test(w) && w !== 'current')) return true;
  const before = segmentWords(segs.at(-2) ?? '');
  return (
    before.length > 0 &&
    before.length <= 3 &&
    before.every(allowed) &&
    before.some((w) => OWN_RECORD_WORD.test(w))
  );
}

/** At most this many values the API gave out under an id's name are kept (acting inputs are matched against them). */
const MAX_GIVEN_IDS = 20_000;

/**
 * Values an answer gives out under an id's name (`id`, `account_id`, `orderNo`), a few levels deep: objects that
 * exist on the target. The scan's own are told apart later (createdValue).
 */
function collectIds(value: unknown, out: Set<string>, depth = 0): void {
  if (depth > 6 || value === null || typeof value !== 'object' || out.size >= MAX_GIVEN_IDS) return;
  if (Array.isArray(value)) {
    for (const v of value.slice(0, 100)) collectIds(v, out, depth + 1);
    return;
  }
  for (const [k, v] of Object.entries(value as Record<string, unknown>).slice(0, 200)) {
    if (
      (typeof v === 'number' && Number.isFinite(v)) ||
      (typeof v === 'string' && v !== '' && v.length <= 200)
    ) {
      if (idInput(k) && out.size < MAX_GIVEN_IDS) out.add(String(v));
    } else collectIds(v, out, depth + 1);
  }
}

/** The scalar values of a request's query and body (JSON, form or text read as either), a few levels deep. */
function inputValues(req: {
  readonly path: string;
  readonly body?: unknown;
}): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  const q = req.path.indexOf('?');
  if (q >= 0)
    for (const [name, value] of new URLSearchParams(req.path.slice(q + 1))) out.push({ name, value });
  const body = textBody(req.body);
  const walk = (value: unknown, name: string, depth: number) => {
    if (out.length >= 200 || depth > 4) return;
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'bigint') {
      out.push({ name, value: String(value) });
      return;
    }
    if (value === null || typeof value !== 'object') return;
    if (Array.isArray(value)) for (const v of value.slice(0, 50)) walk(v, name, depth + 1);
    else for (const [k, v] of Object.entries(value as Record<string, unknown>)) walk(v, k, depth + 1);
  };
  walk(body, '', 0);
  return out;
}

/**
 * A confirmation the answer asks for, as a query input: `confirm=yes`, `?force=true`, `confirmed=1` named in a
 * refusal (a 2xx that refuses in its body, or 400/409/412/422/428) whose words speak of confirming. Undefined
 * otherwise. Only confirm- and force-like names with a yes-like value: nothing else an answer says is followed.
 */
export function confirmationHint(res: {
  readonly status: number;
  readonly text: string;
  readonly json?: unknown;
}): { name: string; value: string } | undefined {
  const refused =
    ([400, 409, 412, 422, 428].includes(res.status) ||
      (res.status >= 200 && res.status < 300 && refusedIn200(res as Parameters<typeof refusedIn200>[0]))) &&
    res.text.length <= 4096;
  if (!refused || !/confirm/i.test(res.text)) return undefined;
  const m = /[?&\s"'`(]((?:[a-z]+_)?confirm(?:ed|ation)?|force)\s?=\s?(yes|true|1|y|on)\b/i.exec(
    ` ${res.text}`,
  );
  return m ? { name: m[1], value: m[2] } : undefined;
}

/** Member names of money an account holds (`creditCents`, `balance`, `wallet_amount`, `points`, `funds`). */
const MONEY_FIELD = /credit|balance|wallet|funds|points|money|cents|available/i;

/**
 * The numbers an account's own read shows under money names, at the top or one envelope down (`{"data": {"balance":
 * 50}}`), keyed by their place (`creditCents`, `data.balance`); at most 20.
 */
export function moneyFields(json: unknown): Map<string, number> {
  const out = new Map<string, number>();
  const visit = (value: unknown, prefix: string, depth: number) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || depth > 1) return;
    for (const [k, v] of Object.entries(value as Record<string, unknown>).slice(0, 100)) {
      if (out.size >= 20) return;
      if (typeof v === 'number' && Number.isFinite(v) && MONEY_FIELD.test(k)) out.set(`${prefix}${k}`, v);
      else visit(v, `${prefix}${k}.`, depth + 1);
    }
  };
  visit(json, '', 0);
  return out;
}

/** Whether a body carries a file (a multipart file part, alone or in a list). */
function carriesFile(body: unknown): boolean {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  return Object.values(body as Record<string, unknown>).some(
    (v) => v instanceof FilePart || (Array.isArray(v) && v.some((x) => x instanceof FilePart)),
  );
}

/** Members that hold a record's own id as a user (not a reference to another object). */
const RECORD_ID = /^(id|_id|uid|user_?id|userId)$/;

/**
 * The ids a record shows for itself (`{uid: 2, ...}`, or inside `data`/`user`/`profile`/`account`), at most 4: an
 * own-profile read's answer names the caller so.
 */
export function recordIds(json: unknown): string[] {
  const out: string[] = [];
  const take = (v: unknown, depth: number) => {
    if (depth > 1 || v === null || typeof v !== 'object' || Array.isArray(v)) return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (
        RECORD_ID.test(k) &&
        (typeof x === 'number' || (typeof x === 'string' && x !== '' && x.length <= 80))
      )
        out.length < 4 && out.push(String(x));
      else if (/^(data|user|profile|account|result)$/i.test(k)) take(x, depth + 1);
    }
  };
  take(json, 0);
  return out;
}

/**
 * A user's record named by an id its owner's own-profile read showed it (`/users/2`, `/user/2` when `GET
 * /account` answered `{uid: 2}`); only under a users collection (the same number elsewhere is another object).
 */
export function ownIdPath(bare: string, ids: ReadonlySet<string> | undefined): boolean {
  if (!ids || ids.size === 0) return false;
  const segments = bare.replace(/\/+$/, '').split('/');
  const last = segments.pop();
  const parent = segments.pop();
  if (last === undefined || parent === undefined || !/^users?$/i.test(parent)) return false;
  try {
    return ids.has(decodeURIComponent(last));
  } catch {
    return false;
  }
}

/**
 * Path words of a request that makes or signs in an account (`/register`, `/users/sign_up`, `/signup`, `/join`).
 * Not a token or session refresh (`/auth/token/refresh`): it renews the same identity's session, which may end
 * the old one; a password grant carries a password and is caught by its body.
 */
const SIGNS_IN_PATH = /regist|sign[-_]?(up|in)|log[-_]?in|join|enrol/i;
/** Body or query names of a password (`password`, `password1`, `passwd`, `pwd`, `user[password]`). */
const PASSWORD_NAME = /pass(word)?|passwd|pwd/i;

/** Whether a value (a request body, a few levels deep) has a member named like a password. */
function namesPassword(value: unknown, depth = 0): boolean {
  if (value === null || typeof value !== 'object' || depth > 3) return false;
  if (Array.isArray(value)) return value.slice(0, 10).some((v) => namesPassword(v, depth + 1));
  return Object.entries(value as Record<string, unknown>)
    .slice(0, 100)
    .some(([k, v]) => PASSWORD_NAME.test(k) || namesPassword(v, depth + 1));
}

/**
 * A request whose answer may sign someone in: a login, a sign-up (Devise, Laravel and Django sign the new account
 * in with a session cookie), any request that carries a password (in its body, form text or query) or goes to a
 * path of signing in or up. Sent as a given identity or the admin, its Set-Cookie must not replace that identity's
 * session in its jar: every later request "as alice" would go as whoever it signed in.
 */
export function mayStartSession(req: { method: string; path: string; body?: unknown }): boolean {
  if (!writesBy(req.method) && req.method !== 'GET') return false;
  const [path, query = ''] = req.path.split('?', 2);
  if (SIGNS_IN_PATH.test(path)) return true;
  if ([...new URLSearchParams(query).keys()].some((k) => PASSWORD_NAME.test(k))) return true;
  if (typeof req.body === 'string')
    return [...new URLSearchParams(req.body.slice(0, 4096)).keys()].some((k) => PASSWORD_NAME.test(k));
  return namesPassword(req.body);
}

/**
 * Why a write moves money, in words for the report (`its path says transfer`, `it takes a sum (amount) for
 * invoices`): planner's movesMoney, API6's changesMoney, a POST whose path says so; undefined when it does not, or
 * when it creates a draft, a quote or a cart (draftCreation), which no one has paid yet.
 */
export function moneyReason(
  spec: ApiDocument,
  op: Operation | undefined,
  method: string,
  path: string,
  body: unknown,
): string | undefined {
  if (op === undefined) {
    const word = moneyWord(path);
    return word === undefined ? undefined : `its path says ${word}`;
  }
  // An order placed unpaid, paid by an operation of its own, moves no money (review R1-4): the payment does.
  if (placedUnpaid(spec, op)) return undefined;
  const why =
    moneyMoveReason(spec, op) ??
    changesMoneyReason(spec, op) ??
    (method === 'POST' && moneyWord(path) !== undefined ? `its path says ${moneyWord(path)}` : undefined);
  return why !== undefined && draftCreation(spec, op, body) === undefined ? why : undefined;
}

/** Path words of an action on every item (`cancel-all`, `bulk-delete`, `mark-all-read`, `logout-everywhere`). */
const ALL_WORD = /(^|[-_])(all|bulk|every|everything|everywhere|batch|mass)([-_]|$)/i;

/**
 * An action on the caller's whole collection (R1-S7): a path that acts (a verb of change among its literal
 * segments) with no path parameter, and either a word of all (`/jobs/cancel-all`, `/items/bulk-delete`) or no input
 * at all (`POST /jobs/flush`, `POST /cache/clear`): it names no object, so it reaches every one the caller has.
 */
export function actsOnAll(op: Operation, req: { path: string; body?: unknown }): boolean {
  if (op.path.includes('{') || !pathActs(op.path)) return false;
  const segments = op.path.split('/').filter((seg) => seg !== '');
  if (segments.some((seg) => ALL_WORD.test(seg))) return true;
  const query = req.path.includes('?') && req.path.split('?')[1] !== '';
  const body =
    req.body !== undefined &&
    req.body !== null &&
    req.body !== '' &&
    !(typeof req.body === 'object' && !Array.isArray(req.body) && Object.keys(req.body).length === 0);
  return !query && !body;
}

/** Members that hold a quantity, never an id (`qty`, `cost_cents`, `unitPrice`, `stock`, `balance`, `rating`). */
const QUANTITY_MEMBER =
  /(^|_)(qty|quantity|quantities|count|price|cost|amount|cents|stock|balance|total|rating|score|weight|percent|discount|tax|fee)(_|$)/;

/**
 * The numbers an answer shows only as quantities (`{"id": 105, "org_id": 2, "qty": 1, "cost_cents": 1}` → 1):
 * no value the API gave out about anyone, so not recorded. Recorded, bob's new item's `qty: 1` made alice's org 1
 * look seen by bob, her plans left org 1 for the shared org 3 and API1 never had bob read `/orgs/1/items` (R1-R2).
 * A number also shown under any other member (`org_id: 1`) is kept. Bounded walk (4 deep, 100 items a list).
 */
export function quantityOnly(json: unknown): Set<string> {
  const quantity = new Set<string>();
  const other = new Set<string>();
  const walk = (v: unknown, depth: number): void => {
    if (depth > 4 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const x of v.slice(0, 100)) walk(x, depth + 1);
      return;
    }
    for (const [k, x] of Object.entries(v as Record<string, unknown>).slice(0, 200)) {
      if (typeof x === 'number' && Number.isFinite(x)) {
        const key = k.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
        (QUANTITY_MEMBER.test(key) && !idInput(k) && !personMember(k) ? quantity : other).add(String(x));
      } else if (typeof x === 'string') other.add(x);
      else walk(x, depth + 1);
    }
  };
  walk(json, 0);
  return new Set([...quantity].filter((n) => !other.has(n)));
}

/** The caller's own profile: a path that names no object, ending in `me`, `self`, `profile`... */
export function isOwnProfile(path: string): boolean {
  return /(^|\/)(me|self|profile|my_?profile|current_?user|whoami)\/?$/i.test(path.split('?')[0]);
}

/** Logs in (login.ts); a failure is a ScanError with the same code. */
async function resolveIdentity(
  client: ReturnType<typeof createScanClient>,
  i: ScanIdentity,
): Promise<Identity> {
  try {
    return await logIn(client, i);
  } catch (err) {
    if (err instanceof LoginError) throw new ScanError(err.code, err.message);
    throw err;
  }
}
/** A member of a creation's answer that holds the new account's own credential (`{id, token}`, `{user: {jwt}}`). */
const OWN_TOKEN = /^(access_?token|auth_?token|token|jwt|id_?token|api_?key|apikey)$/i;

/**
 * The session of an account a given identity created, from the credential its creation answered (top level or one
 * record down), carried as that identity carries its own (its token's header, or its Authorization scheme, with the
 * new token in its place; else `Authorization: Bearer`). Undefined when the answer holds none.
 */
export function ownSession(answer: unknown, maker: Identity, id: string): Identity | undefined {
  const records = [answer, ...Object.values(answer !== null && typeof answer === 'object' ? answer : {})];
  let token: string | undefined;
  for (const r of records) {
    if (r === null || typeof r !== 'object' || Array.isArray(r)) continue;
    const hit = Object.entries(r as Record<string, unknown>).find(
      ([k, v]) => OWN_TOKEN.test(k) && typeof v === 'string' && v.length >= 16 && !/\s/.test(v),
    );
    if (hit) {
      token = hit[1] as string;
      break;
    }
  }
  if (token === undefined || token === maker.token) return undefined;
  const headers: Record<string, string> = {};
  let placed = false;
  for (const [h, v] of Object.entries(maker.session.headers)) {
    if (maker.token !== undefined && v.includes(maker.token)) {
      headers[h] = v.replace(maker.token, token);
      placed = true;
    } else if (/^authorization$/i.test(h) && /^[\w-]+\s+\S+$/.test(v)) {
      // `Bearer <token>`, `Token <key>`: the maker's scheme, the account's own credential.
      headers[h] = `${v.split(/\s+/)[0]} ${token}`;
      placed = true;
    }
  }
  if (!placed) headers.Authorization = `Bearer ${token}`;
  const name = `the account ${id.slice(0, 40)}`;
  return { name, session: { name, headers, cookies: new Map() } };
}

/** An input that takes a one-time code (`code`, `otp`, `pin`, `sms_code`, `verificationCode`, `totp`). */
const CODE_INPUT =
  /^((reset|login|auth|email|sms|phone|mfa|2fa|security|verify|confirm(ation)?)_?)?(otp|pin|totp|mfa_?code|otp_?code|pin_?code|verification_?code|one_?time_?(code|password)|sms_?code|code)$/;
/** A path that checks a code (`/me/phone/verify`, `/2fa/confirm`, `/otp`, `/account/unlock`). */
const CODE_PATH = /otp|pin|mfa|2fa|totp|verif|confirm|validat|activat|unlock|one[-_]?time/i;
/** Paths whose `code` is no secret of an account: a coupon's, a country's, a currency's. */
const NOT_SECRET_CODE =
  /coupon|voucher|promo|gift|redeem|referr|invit|discount|country|currency|postal|zip|lang/i;

/**
 * Whether a request submits a one-time code: a code input (CODE_INPUT: declared in the operation's body or query,
 * or in the request's body as JSON, a form or XML) of an operation at a path that checks codes, or whose document answers 423 or 429 or speaks of a lock. A bare
 * `code` needs such a path or answer too, and no coupon-like word in the path.
 */
export function submitsCode(
  spec: ApiDocument,
  op: Operation,
  req: Pick<ScanRequest, 'path' | 'body'>,
): boolean {
  if (!writesBy(op.method) || NOT_SECRET_CODE.test(op.path)) return false;
  // The operation's declared inputs and the request's own (a body sent as JSON, a form or XML: XXE's copy).
  const names: string[] = [
    ...Object.keys(propertiesOf(spec, bodySchema(op))),
    ...op.parameters.filter((p) => p.in === 'query').map((p) => p.name),
  ];
  const text = typeof req.body === 'string' ? req.body.trim() : '';
  const body = text.startsWith('<') ? xmlLeaves(text) : textBody(req.body);
  if (body !== null && typeof body === 'object' && !Array.isArray(body)) names.push(...Object.keys(body));
  const q = req.path.indexOf('?');
  if (q >= 0) for (const [name] of new URLSearchParams(req.path.slice(q + 1))) names.push(name);
  const snake = (n: string) => n.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  const codes = names.filter((n) => CODE_INPUT.test(snake(n)));
  if (codes.length === 0) return false;
  const locks =
    op.responses['423'] !== undefined ||
    op.responses['429'] !== undefined ||
    /\block(s|ed|out)?\b|too many (wrong|failed|attempts)/i.test(operationProse(spec, op));
  return CODE_PATH.test(op.path) || locks;
}

/** At most this many reads ask whose record a path the scan deleted holds now, before a write there. */
const MAX_REISSUE_READS = 200;
/** Whether a concrete path is one of a route's (`/notes/7` of `/notes/{id}`): as many segments, the literals equal. */
function sameRoute(template: string, path: string): boolean {
  const t = template.replace(/\/+$/, '').split('/');
  const p = path.split('?')[0].replace(/\/+$/, '').split('/');
  return t.length === p.length && t.every((seg, i) => seg.includes('{') || seg === p[i]);
}

/**
 * Scans a live API described by an OpenAPI document for the OWASP API Security Top 10 (2023).
 *
 * @example
 * const result = await runScan({
 *   spec: 'openapi.yaml',
 *   target: 'http://127.0.0.1:8080',
 *   identities: [{ name: 'alice', bearer: tokenA }, { name: 'bob', bearer: tokenB }],
 * });
 * console.log(result.findings.length, result.stats.requests, result.stats.durationMs);
 */
export async function runScan(options: ScanOptions): Promise<ScanResult> {
  const started = performance.now();
  if (options.identities.length === 0) {
    throw new ScanError('ERR_SCAN_OPTIONS', 'give at least one identity (two for the authorization checks)');
  }
  try {
    new URL(options.target);
  } catch {
    throw new ScanError('ERR_SCAN_OPTIONS', `target is not a URL: ${options.target}`);
  }
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? SCAN_DEFAULTS.concurrency));
  const ratePerSecond = Math.max(0.1, options.ratePerSecond ?? SCAN_DEFAULTS.ratePerSecond);
  // A rate the user gave is kept; the default one rises while the target answers quickly and sets no limit.
  const maxRate =
    options.ratePerSecond !== undefined
      ? ratePerSecond
      : Math.max(ratePerSecond, options.maxRatePerSecond ?? SCAN_DEFAULTS.maxRatePerSecond);
  const timeoutMs = options.timeoutMs ?? SCAN_DEFAULTS.timeoutMs;
  const checkTimeoutMs = options.checkTimeoutMs ?? SCAN_DEFAULTS.checkTimeoutMs;
  // One deadline for the whole scan, logins included: the phases share it by their work (time-budget.ts).
  const deadline = started + (options.scanTimeoutMs ?? SCAN_DEFAULTS.scanTimeoutMs);
  const timeDelayMs = options.timeDelayMs ?? SCAN_DEFAULTS.timeDelayMs;
  if (!Number.isFinite(timeDelayMs) || timeDelayMs < 100 || timeDelayMs > 10_000) {
    throw new ScanError('ERR_SCAN_OPTIONS', `timeDelayMs must be between 100 and 10000, got ${timeDelayMs}`);
  }
  const wanted = options.checks?.map((c) => c.toUpperCase());
  const checks = CHECKS.filter((c) => !wanted || wanted.includes(c.id));

  const spec = await loadApiDocument(options.spec);
  // Headers of the environment (configured, or given alike by every identity) go with every request.
  const shared = sharedHeaders(options);
  const client = createScanClient({
    target: options.target,
    sharedHeaders: shared.shared,
    // Header names go out as the identities and the document spell them (else Title-Case).
    headerNames: headerSpellings(spec, options),
    concurrency,
    ratePerSecond,
    maxRatePerSecond: maxRate,
    timeoutMs,
    ...(options.ca ? { ca: options.ca } : {}),
    insecureTls: options.insecureTls === true,
  });
  const canary = await startCanary();
  const findings = new Map<string, Finding>();
  const observations: Observation[] = [];
  const timedOut: string[] = [];
  const notRun: string[] = [];
  const errors: { check: string; message: string }[] = [];
  const notes: CoverageNote[] = [];
  /** Loud lines a check raised (`warn`): changes to the target it could not undo. Bounded, each once. */
  const checkWarnings: string[] = [];
  /** What the scan did beyond its probes, for the report (the accounts it deleted at the end). */
  const reportNotes: string[] = [];
  let loggedIn: { identities: Identity[]; admin?: Identity } = { identities: [] };
  /** Identities the scan's own probes made privileged and could not set back (see `Elevation`). */
  const elevated = new Map<string, Elevation>();
  let checksDone = 0;
  let objectsCreated = 0;
  const phases: { name: string; ms: number; requests: number }[] = [];
  /** The phases in which the target stopped answering. */
  const outagePhases: string[] = [];
  let current = 'setup';
  const progress = () =>
    options.onProgress?.({
      check: current,
      checksDone,
      checksTotal: checks.length,
      requests: client.requests(),
    });

  try {
    const identities: Identity[] = [];
    for (const i of shared.identities) identities.push(await resolveIdentity(client, i));
    const admin = shared.admin ? await resolveIdentity(client, shared.admin) : undefined;
    if (shared.inferred.length > 0) {
      reportNotes.push(
        `setup: sent with every request, anonymous ones included, as every identity gives it alike: ${shared.inferred.join(', ')}`,
      );
    }
    loggedIn = admin ? { identities, admin } : { identities };
    const objects = new ObjectRegistry();
    for (const i of [...options.identities, ...(options.admin ? [options.admin] : [])]) {
      if (i.params) objects.setParams(i.name, i.params);
    }

    /** An identity that is an account the scan registered (its name is one, asked as a query value is below). */
    const registered = (as: Identity, op: Operation | undefined) =>
      op !== undefined &&
      namesOnlyScanAccount(
        spec,
        objects,
        { ...op, path: '/', parameters: [] },
        { method: 'GET', path: `/?v=${encodeURIComponent(as.name)}` },
      );
    /** Paths a given identity's own-profile probe went to: the only ones a restore may write. */
    const ownTouched = new Set<string>();
    /** `identity path` of every 2xx GET a given identity or the admin made (the own-record guard's "read first"). */
    const readBy = new Set<string>();
    /** GETs that set a password, sent once each for an account the scan registered (API2's reset probe). */
    const ownResets = new Set<string>();
    /** Per given identity, the ids its own record showed it at a path that names none (recordIds). */
    const ownIds = new Map<string, Set<string>>();
    /** The ids `name`'s own record showed it that no other given identity's showed (one record for all is no one's). */
    const onlyOwnIds = (name: string) => {
      const mine = ownIds.get(name);
      if (!mine) return undefined;
      const others = [...ownIds].filter(([n]) => n !== name).flatMap(([, ids]) => [...ids]);
      return new Set([...mine].filter((id) => !others.includes(id)));
    };
    /** Check and operation pairs the acting-path rule refused, noted once each. */
    const actingNoted = new Set<string>();
    /** A refusal's note for a check, once per check and `what` (the operation and why), at most 5,000 notes. */
    const noteOnce = (check: string, what: string, operation: Operation | undefined, reason: string) => {
      const key = `${check} ${what}`;
      if (actingNoted.has(key) || notes.length >= 5000) return;
      actingNoted.add(key);
      notes.push({ check, ...(operation ? { operation } : {}), reason });
    };
    /** `identity METHOD path` of each purchase a given identity or the admin made (one each at most). */
    const bought = new Set<string>();
    /** Per given identity (or the admin), each purchase it made: `POST /giftcards 201 (GIFT-6F2B)`. */
    const purchaseLog = new Map<string, string[]>();
    /**
     * Per given identity (or the admin) about to buy: its own account's read and the money it showed before its
     * first purchase, read again after the clean-up (a cancellation that refunds nothing leaves it spent).
     */
    const moneyBefore = new Map<
      string,
      { who: Identity; path: string; fields: Map<string, number>; purchase: string }
    >();
    /** The document's own values of coupon, voucher, promo code, gift card fields (documentedCodes). */
    const codes = documentedCodes(spec.doc);
    /** Documented reads of the caller's own account or money (no path parameter), at most 3. */
    const ownMoneyReads = spec.operations
      .filter(
        (op) =>
          op.method === 'GET' &&
          !op.path.includes('{') &&
          (isOwnProfile(op.path) ||
            ownRecordWrite(op.path) ||
            /balance|wallet|credit|funds|account|me$/.test(lastLiteralWords(op.path) ?? '')),
      )
      .slice(0, 3);
    /**
     * What a given identity or the admin made in this scan that must not stay: its purchases (what they cost comes
     * back where the API refunds a cancelled order) and the accounts it created (API5's privileged creation as
     * the admin may make an admin account). Each is deleted by its maker with the document's DELETE of the item
     * (`DELETE /customers/1/orders/4`, `DELETE /admin/users/{id}`); an account that stays is also a warning of the
     * report. Lines for the report's notes.
     */
    /** The string values of the accounts cleanGivenObjects deleted (their names: not "left in place"). */
    const deletedAccounts = new Set<string>();
    const cleanGivenObjects = async (ctx: ScanContext): Promise<string[]> => {
      const lines: string[] = [];
      const bare = (p: string) => p.split('?')[0].replace(/\/+$/, '');
      // Deepest paths first (as API1's delete probe): a webhook below a store is deleted before the store, since an
      // API that keeps a deleted parent's children answers 404 below it after, and they stay (review R1-18).
      const order = [...objects.all()].sort(
        (a, b) => bare(b.path).split('/').length - bare(a.path).split('/').length,
      );
      for (const o of order) {
        const who = [...identities, ...(admin ? [admin] : [])].find((i) => i.name === o.owner);
        if (!who) continue;
        const kind = purchases(spec, o.createdBy, { path: o.createdBy.path, body: o.body })
          ? 'purchase'
          : setsPassword(spec, o.createdBy)
            ? 'account'
            : madeByPrivilegedCreation(objects, o.path)
              ? 'privileged'
              : o.setup === true
                ? 'setup'
                : undefined;
        if (kind === undefined) continue;
        const base = o.collection.replace(/\/+$/, '');
        const item = spec.operations.find(
          (d) =>
            d.method === 'DELETE' &&
            d.path.startsWith(`${base}/{`) &&
            /^\/\{[^{}/]+\}\/?$/.test(d.path.slice(base.length)),
        );
        // A check's DELETE already answered 2xx there: the send below goes only while a read still shows it the scan's.
        const deletedBefore = objects.deletedAt(o.path) !== undefined;
        // The item route's own spelling: objects are kept without a trailing slash, and a Django item route
        // (`/projects/{id}/`) answers the path without it 301 (APPEND_SLASH), deleting nothing (review R2-S2).
        const at = item?.path.endsWith('/') ? `${o.path.replace(/\/+$/, '')}/` : o.path;
        // A parent the scan deleted earlier (`/stores/3` above `/stores/3/webhooks/502`): a 404 below it, or a read that
        // no longer shows the object, is no proof it is gone (many APIs keep a deleted parent's children).
        const segments = bare(o.path).split('/');
        let parent: string | undefined;
        for (let n = segments.length - 1; n >= 2 && parent === undefined; n--) {
          const above = objects.deletedAt(segments.slice(0, n).join('/'));
          if (above && bare(above.path) !== bare(o.path)) parent = bare(above.path);
        }
        let res = item ? await ctx.send({ method: 'DELETE', path: at, operation: item }, who) : undefined;
        const answer = res === undefined ? 'a read there no longer shows it' : `DELETE ${res.status}`;
        if (item && parent !== undefined && !(res !== undefined && isSuccess(res))) {
          lines.push(
            `${o.path}: ${who.name}'s object left in place: its parent ${parent} was deleted first; the API may keep it (${answer})`,
          );
          ctx.warn?.(
            `${o.path}, made by ${who.name} (${o.createdBy.method} ${o.createdBy.path}), may be left in place: its parent ${parent} was deleted first and the API may keep it; remove it on the target by hand`,
          );
          continue;
        }
        if (item && res === undefined && deletedBefore) {
          lines.push(
            `${o.path}: ${who.name}'s object was deleted earlier in the scan (a DELETE answered 2xx); not sent again, as a read there no longer shows it`,
          );
          objects.markDeleted(o.path);
          continue;
        }
        // What a privileged creation made (a live coupon, product, user) is deleted by the admin when its maker may not.
        if (kind === 'privileged' && item && admin && who !== admin && !(res !== undefined && isSuccess(res)))
          res = await ctx.send({ method: 'DELETE', path: at, operation: item }, admin);
        // An account a given identity created whose creation answered its own token (`{id, token}`): an API that
        // lets an account delete only itself is asked as that account (M's set A: the maker got 404).
        const itself =
          kind === 'account' && item && !isSuccess(res) ? ownSession(o.body, who, o.id) : undefined;
        if (itself) res = await ctx.send({ method: 'DELETE', path: at, operation: item }, itself);
        const status = res?.status;
        // A privileged or setup object a check already deleted answers 404 or 410: gone, as the clean-up wants.
        const ok =
          res !== undefined &&
          (isSuccess(res) ||
            (kind !== 'purchase' && kind !== 'account' && (status === 404 || status === 410)));
        const what =
          kind === 'purchase'
            ? `${who.name}'s purchase`
            : kind === 'account'
              ? `the account ${who.name} created`
              : kind === 'setup'
                ? `what ${who.name} made in setup (${o.createdBy.method} ${o.createdBy.path})`
                : `what ${who.name}'s privileged ${o.createdBy.method} ${o.createdBy.path} made`;
        lines.push(
          ok
            ? `${o.path}: ${what} ${kind === 'purchase' ? 'cancelled' : 'deleted'} (DELETE ${status})`
            : !item
              ? `${o.path}: ${what} left in place (no DELETE of the item in the document)`
              : `${o.path}: ${what} could not be ${kind === 'purchase' ? 'cancelled' : 'deleted'} (${status !== undefined ? `status ${status}` : 'no answer'})`,
        );
        if (ok) objects.markDeleted(o.path);
        if (ok && kind === 'account' && o.body !== null && typeof o.body === 'object')
          for (const v of Object.values(o.body as Record<string, unknown>))
            if (typeof v === 'string' && deletedAccounts.size < 200) deletedAccounts.add(v);
        if (!ok && kind === 'privileged')
          ctx.warn?.(
            `${o.path}, made by ${who.name}'s privileged ${o.createdBy.method} ${o.createdBy.path} (API5), was left in place${item ? ` (DELETE answered ${status ?? 'nothing'})` : ' (the document has no DELETE of it)'}: remove it on the target by hand`,
          );
        if (!ok && kind === 'setup')
          ctx.warn?.(
            `${o.path}, made in setup by ${who.name} (${o.createdBy.method} ${o.createdBy.path}), was left in place in its data${item ? ` (DELETE answered ${status ?? 'nothing'})` : ' (the document has no DELETE of it)'}: remove it on the target by hand`,
          );
        if (!ok && kind === 'account')
          ctx.warn?.(
            `the account ${o.id.slice(0, 60)} that ${who.name} created (${o.createdBy.method} ${o.createdBy.path}) was left in place${item ? '' : ' (the document has no DELETE of it)'}: it may be privileged; remove it on the target by hand`,
          );
        if (lines.length >= 50) break;
      }
      return lines;
    };
    /** Given identities (and the admin) that got a 2xx, and those whose account then answered 423 (locked). */
    const answeredOk = new Set<string>();
    const lockedOut = new Set<string>();
    /** The reads that asked whose record a deleted object's path holds now (at most MAX_REISSUE_READS). */
    let reissueReads = 0;
    /** Values the API's answers gave out under an id's name: objects that exist (collectIds). */
    const givenIds = new Set<string>();
    // A login's answer tells each identity its own ids (`{"user_id": 5}`): existing objects too.
    for (const i of [...identities, ...(admin ? [admin] : [])]) collectIds(i.login?.answer, givenIds);
    /**
     * The ordinary identities a check gets: not those the scan made privileged (a later check would take an
     * admin's answers for an ordinary user's), unless none is left (the checks then run, the report warns).
     */
    const ordinary = () => {
      const left = identities.filter((i) => !elevated.has(i.name));
      return left.length > 0 ? left : identities;
    };
    // `sender`: the phase whose requests these are, fixed when the context is made (checks may run side by side).
    const makeContext = (
      signal: AbortSignal,
      noteAs?: string,
      ends?: number,
      sender: string = current,
    ): ScanContext => ({
      spec,
      ...(ends !== undefined ? { deadline: ends } : {}),
      target: options.target,
      tls: options.ca ? { ca: options.ca, timeoutMs } : { timeoutMs },
      client,
      identities: ordinary(),
      elevated,
      markElevated(e) {
        if (!elevated.has(e.identity) && identities.some((i) => i.name === e.identity)) {
          elevated.set(e.identity, e);
        }
      },
      warn(text) {
        const line = `${noteAs ?? sender}: ${text}`;
        if (checkWarnings.length < 50 && !checkWarnings.includes(line)) checkWarnings.push(line);
      },
      ...(admin ? { admin } : {}),
      allowDestructive: options.allowDestructive === true,
      timeDelayMs,
      objects,
      canary,
      signal,
      observations,
      report(rule, input) {
        const f = makeFinding(spec, rule, withReproduction(input, observations, sender));
        if (!findings.has(f.fingerprint)) findings.set(f.fingerprint, f);
      },
      note(entry) {
        if (notes.length < 5000) notes.push({ check: noteAs ?? sender, ...entry });
        // A note about neither an operation nor a rule is about the scan: the report's notes say it.
        if (!entry.operation && !entry.rule && reportNotes.length < 200)
          reportNotes.push(`${noteAs ?? sender}: ${entry.reason}`);
      },
      async send(req, as, sendOptions) {
        // The safety rule, enforced here for every check: PUT, PATCH and DELETE go only to objects the scan
        // created, unless the user allowed destructive requests.
        // One exception, `ownProfile`: a given identity may PUT or PATCH its own profile (`/users/me`, or
        // `/users/6` when its token or login answer says it is user 6), never DELETE it. Two checks ask so: API3's
        // mass-assignment probe and the injection probes of an own-profile write, each reading the record first
        // and setting back what it stored (`restore`, by the identity or the admin, on a path such a request went
        // to, never with DELETE; the injection probes send only payloads that change nothing else). An account
        // the scan registered may PUT or PATCH its own profile path (`/me`, `/profile`, `/account/update`), never
        // one that names an id: its record is the scan's own, nothing is set back.
        const bare = req.path.split('?')[0];
        const given = as !== undefined && as !== null && identities.includes(as);
        // A check that declares an own-profile probe (`ownProfile`) of a record this identity has read at the same
        // path, or at the path without its update verb (`POST /api/profile/update` read at `GET /api/profile`),
        // reads first and sets back what it stored.
        const declaredReadFirst =
          sendOptions?.ownProfile === true &&
          as !== undefined &&
          as !== null &&
          (readBy.has(`${as.name} ${bare.replace(/\/+$/, '')}`) ||
            readBy.has(`${as.name} ${bare.replace(/\/+$/, '').replace(UPDATE_VERB, '')}`));
        const ownProfile =
          sendOptions?.ownProfile === true &&
          req.method !== 'DELETE' &&
          as !== undefined &&
          as !== null &&
          (given
            ? isOwnProfile(req.path) ||
              isOwnAccount(req.path, as) ||
              // Its own record at a path that names none (`PUT /v1/account`), read first in this scan, or its
              // account by the id its own record showed it (`PUT /v1/user/2` after `GET /v1/account` → `uid: 2`).
              (declaredReadFirst && ownRecordWrite(bare)) ||
              ownIdPath(bare, onlyOwnIds(as.name))
            : as !== admin && ownProfileWritePath(bare) && registered(as, req.operation));
        // An account the scan registered writing under its own record at a path that names no object (`PUT
        // /v1/me/password`, `/account/email`): its own, as its own profile path is (review R1-7: held back silently).
        const registeredOwnRecord =
          as !== undefined &&
          as !== null &&
          !given &&
          as !== admin &&
          req.operation !== undefined &&
          !req.operation.path.includes('{') &&
          ownRecordPath(bare) &&
          registered(as, req.operation);
        const restore =
          sendOptions?.restore === true &&
          req.method !== 'DELETE' &&
          as !== undefined &&
          as !== null &&
          (identities.includes(as) || as === admin) &&
          ownTouched.has(bare);
        // The end-of-scan deletion of an account the scan registered, by that account, at its own route (`/me`).
        const registeredDelete =
          sendOptions?.registeredAccount === true &&
          req.method === 'DELETE' &&
          as !== undefined &&
          as !== null &&
          !identities.includes(as) &&
          as !== admin &&
          isOwnProfile(req.path);
        // The logout of a session the scan made for an account it registered (`DELETE /api/v2/sessions/current`, as
        // API2's fresh login of that account): it ends that session only. Never as a given identity or the admin,
        // nor as any session under their names (a second login of theirs).
        const ownSessionEnd =
          req.method === 'DELETE' &&
          req.operation !== undefined &&
          !req.operation.path.includes('{') &&
          sessionResource(bare) &&
          as !== undefined &&
          as !== null &&
          !given &&
          as !== admin &&
          ![...identities, ...(admin ? [admin] : [])].some((i) => i.name === as.name) &&
          registered(as, req.operation);
        // A DELETE of values the scan made up (the injection probes') names nothing, and goes.
        const deletesNothing =
          req.method === 'DELETE' && req.operation !== undefined && namesNothing(spec, req.operation, bare);
        // A PUT or PATCH of the scan's own object whose path value carries an injection probe goes too.
        const ownProbe =
          (req.method === 'PUT' || req.method === 'PATCH') &&
          req.operation !== undefined &&
          probesOwnObject(objects, req.operation, bare);
        const purchase =
          as !== undefined &&
          as !== null &&
          (given || as === admin) &&
          req.operation !== undefined &&
          sendOptions?.moneySafe !== true &&
          purchases(spec, req.operation, req);
        // The write guard asks one question of everything a request touches: who owns it? The scan's own (an
        // object it created, a value it made up, an account it registered, a given identity's record a check reads
        // first and sets back): it goes. A given identity's (its money, purchases, own record, files, session, the
        // ids the API gave out) or an unknown owner's (an object the scan did not create): not in a plain scan;
        // --allow-destructive sends what is `overridable` (never a given identity's logout, nor a second purchase).
        // The touches are asked in order, each only when the ones before went; the first refused ends the request.
        const sentAsGiven = as !== undefined && as !== null && (given || as === admin);
        const op = req.operation;
        const who = as ?? undefined;
        /** What a request touches, and who owns it (`scan`: it goes). */
        type Touch = {
          readonly owner: 'scan' | 'given' | 'unknown';
          readonly overridable: boolean;
          /** The coverage note (once per key); none for a refusal the matrix does not need to explain. */
          readonly note?: readonly [key: string, reason: string];
        };
        const scanOwned: Touch = { owner: 'scan', overridable: true };
        const refuse = (touches: readonly (() => Touch | undefined)[]): boolean => {
          for (const touch of touches) {
            const t = touch();
            if (t === undefined || t.owner === 'scan' || (options.allowDestructive && t.overridable))
              continue;
            if (t.note) noteOnce(noteAs ?? sender, t.note[0], op, t.note[1]);
            return true;
          }
          return false;
        };
        /** The object named by a write's path (writeTarget), and one whose path says it acts (actedOn). */
        let acted: ReturnType<typeof actedOn> | undefined;
        let foreign: { name: string; value: string }[] | undefined;
        /** An account the scan registered, named by the request's path (or its query, as a GET would name it). */
        let peopleMemo: ((v: string | number) => boolean) | undefined;
        const people = () => {
          peopleMemo ??= givenPeople({ identities, ...(admin ? { admin } : {}), objects });
          return peopleMemo;
        };
        const scanAccountPath = () =>
          op !== undefined && namesOnlyScanAccount(spec, objects, op, { method: 'GET', path: bare });
        const scanAccountValue = (value: string) =>
          op !== undefined &&
          namesOnlyScanAccount(
            spec,
            objects,
            { ...op, path: '/', parameters: [] },
            { method: 'GET', path: `/?v=${encodeURIComponent(value)}` },
          );
        const refused = refuse([
          // A one-time code submitted as a given identity or the admin (`POST /v1/me/phone/verify {code}`): every
          // wrong code counts against the account that sends it, and an API locks it after a few (review R1-13: a
          // plain scan's discovery, API3 and the injection probes locked alice out). Never sent so, whichever check;
          // an account of the scan's own or an anonymous caller sends it. Not even with --allow-destructive.
          () =>
            sentAsGiven && op && submitsCode(spec, op, req)
              ? {
                  owner: 'given',
                  overridable: false,
                  note: [
                    `${op.method} ${op.path} one-time code`,
                    `not sent as ${who?.name}: it submits a one-time code, and wrong codes count against the account that sends them (an API locks it after a few); only an account of the scan's own or an anonymous caller sends it`,
                  ],
                }
              : undefined,
          // A PUT, PATCH or DELETE of a path: the scan's own object, its own profile read first and set back, the
          // end of its own account or session, values it made up, its own object with a probe in its path.
          () =>
            !DESTRUCTIVE.has(req.method)
              ? undefined
              : objects.isScanCreated(bare) ||
                  ownProfile ||
                  registeredOwnRecord ||
                  restore ||
                  registeredDelete ||
                  ownSessionEnd ||
                  deletesNothing ||
                  ownProbe
                ? scanOwned
                : { owner: 'unknown', overridable: true },
          // A given identity's money (`POST /transfers {from_account_id, to_account_number, amount}`, `POST
          // /wallet/top-ups`, `POST /orders/4/refund`; planner's movesMoney or API6's changesMoney), whichever check
          // sends it (its plain request, a probe, an XML copy), unless the check vouches that it changes no given
          // identity's money (`moneySafe`): nothing sets it back. The accounts the scan registered (API6's) move money
          // freely. An own-profile write read first and set back (`ownProfile`, `restore`) is no flow; the creation
          // of a draft, a quote or a cart (planner's draftCreation) is no payment.
          () => {
            if (
              !sentAsGiven ||
              !writesBy(req.method) ||
              sendOptions?.moneySafe === true ||
              ownProfile ||
              restore
            )
              return undefined;
            const money = moneyReason(spec, op, req.method, bare, req.body);
            return money === undefined
              ? undefined
              : {
                  owner: 'given',
                  overridable: true,
                  note: [
                    `${req.method} ${op?.path ?? bare} money`,
                    `not sent as ${who?.name}: it moves money, and a given identity's money is never moved (${money}; --allow-destructive sends it)`,
                  ],
                };
          },
          // A purchase (`POST /customers/1/orders {item, quantity}`, or one its words say the caller pays for): it
          // spends a given identity's real money, store credit or single-use coupon, and a 2xx DELETE of the order
          // may be a soft delete that refunds nothing. The accounts the scan registered buy freely (the
          // authorization checks' objects come from them). With --allow-destructive it goes once per operation at
          // most, until one succeeded; the clean-up cancels it where the API documents a DELETE of the item and
          // reads the identity's money again (a warning when it did not come back).
          () =>
            purchase
              ? {
                  owner: 'given',
                  overridable: true,
                  note: [
                    `${op!.method} ${op!.path} purchase`,
                    `not sent as ${who?.name}: a purchase spends a given identity's money (--allow-destructive sends it)`,
                  ],
                }
              : undefined,
          () =>
            purchase && bought.has(`${who!.name} ${op!.method} ${op!.path}`)
              ? {
                  owner: 'given',
                  overridable: false,
                  note: [
                    `${op!.method} ${op!.path} purchase`,
                    `not sent as ${who!.name}: a purchase, and even with --allow-destructive the scan buys at most once as each given identity (it spends that identity's money)`,
                  ],
                }
              : undefined,
          // An object a write names by its path (`POST /orders/3` as an update, `POST /orders/3:cancel`, `POST
          // /invoices/3/settle`, whatever its verb): an object the scan created, a value it made up (names nothing)
          // or an account it registered. A creation in a documented sub-collection (`POST /orders/3/comments`) adds
          // beside the object and goes (planner.ts: writeTarget, createsInSubCollection).
          () => {
            const written =
              options.allowDestructive || !op || DESTRUCTIVE.has(req.method) || ownProfile || restore
                ? undefined
                : writeTarget(spec, op, req.method, bare);
            if (!written || !op) return undefined;
            const mine =
              objects.isScanCreated(bare) ||
              objects.isScanCreated(written.object) ||
              // Django's item routes end in `/`: the object the scan created is `/tickets/7/`.
              objects.isScanCreated(`${written.object}/`) ||
              madeUpId(written.last) ||
              written.ids.every(
                (id) => createdValue(objects, id) || madeUpId(id) || createdLed(objects, id),
              ) ||
              scanAccountPath();
            return mine
              ? scanOwned
              : {
                  owner: written.ids.some((id) => givenIds.has(id)) ? 'given' : 'unknown',
                  overridable: true,
                  note: [
                    `${op.method} ${op.path}`,
                    `not sent: a ${req.method} that names ${written.ids.map((id) => id.slice(0, 40)).join(', ')} by its path, which the scan did not create (--allow-destructive sends it)`,
                  ],
                };
          },
          // An object a request names by a path that says it acts (`GET /appointments/{id}/cancel`, `POST
          // /users/{id}/ban`, any method): an id the API gave out or discovery confirmed is someone else's.
          () => {
            acted = options.allowDestructive || !op ? undefined : actedOn(spec, op, bare);
            if (!acted || !op) return undefined;
            const mine =
              objects.isScanCreated(bare) ||
              objects.isScanCreated(acted.object) ||
              acted.ids.every((id) => madeUpId(id) || createdLed(objects, id)) ||
              scanAccountPath();
            return mine
              ? scanOwned
              : {
                  owner: acted.ids.some((id) => givenIds.has(id)) ? 'given' : 'unknown',
                  overridable: true,
                  note: [
                    `${op.method} ${op.path}`,
                    `not sent: its path acts on ${acted.ids.join(', ')}, which the scan did not create (--allow-destructive sends it)`,
                  ],
                };
          },
          // The objects an action names by its query or body ids (`GET /appointments/cancel?id=5`, `POST
          // /orders/cancel {"order_id": 5}`), when its path names no object the scan created: each an id of an
          // object the scan created or of an account it registered. An action (`POST /transfer.php {from: 5001,
          // to_iban, amount}`) names an existing object by any input whose value the API's answers gave out as an
          // id, whatever its name (`from` = the id of an account `/accounts.php` listed).
          () => {
            const inputs =
              options.allowDestructive || !op || objects.isScanCreated(bare) || acted
                ? undefined
                : actingInputs(spec, op, req);
            foreign = inputs?.filter(
              ({ value }) => !createdValue(objects, value) && !madeUpId(value) && !scanAccountValue(value),
            );
            if (
              !op ||
              options.allowDestructive ||
              objects.isScanCreated(bare) ||
              acted ||
              (foreign !== undefined && foreign.length > 0) ||
              !(pathActs(op.path) || inputActs(req))
            )
              return undefined;
            const named = inputValues(req).filter(
              ({ value }) =>
                givenIds.has(value) &&
                !createdValue(objects, value) &&
                !madeUpId(value) &&
                !scanAccountValue(value),
            );
            if (named.length === 0) return undefined;
            const said = named.slice(0, 3).map((f) => `${f.name || 'body'}=${f.value.slice(0, 40)}`);
            return {
              owner: 'given',
              overridable: true,
              note: [
                `${op.method} ${op.path}`,
                `not sent: it acts, and its inputs ${said.join(', ')} are ids the API gave out of objects the scan did not create (--allow-destructive sends it)`,
              ],
            };
          },
          // A given identity's standing in a list of who has access (`POST /orgs/1/members {"username": "alice",
          // "role": "viewer"}`) under a parent the scan did not create: it adds that person or, with an upsert,
          // changes their role (alice, owner of org 1, made a viewer). Whoever sends it, whichever check (R1-S3).
          () => {
            if (!op || !writesBy(req.method) || !accessListPath(op.path)) return undefined;
            const parent = bare.replace(/\/+$/, '').replace(/\/[^/]*$/, '');
            if (
              objects.isScanCreated(bare) ||
              objects.isScanCreated(parent) ||
              objects.isScanCreated(`${parent}/`) ||
              !namesPersonIn(req.body, people())
            )
              return undefined;
            return {
              owner: 'given',
              overridable: true,
              note: [
                `${op.method} ${op.path} access`,
                `not sent: it names a given identity in a list of who has access under ${parent}, which the scan did not create (an upsert would change that person's role; --allow-destructive sends it)`,
              ],
            };
          },
          // An action on the caller's whole collection (`POST /jobs/cancel-all`, `/notifications/mark-all-read`,
          // `/cache/flush` with no input): a path that acts and names no object at all reaches everything the
          // sender has, so as a given identity or the admin it does not go (an account of the scan's own holds
          // only the scan's objects) (R1-S7).
          () =>
            op && sentAsGiven && writesBy(req.method) && !objects.isScanCreated(bare) && actsOnAll(op, req)
              ? {
                  owner: 'given',
                  overridable: true,
                  note: [
                    `${op.method} ${op.path} all`,
                    `not sent as ${who?.name}: its path acts and names no object, so it acts on all of that given identity's (--allow-destructive sends it)`,
                  ],
                }
              : undefined,
          // A given identity's own record (`POST /profile.php`, `POST /user/profile/update`): only when the sending
          // check reads it first and sets it back (`ownProfile`, `restore`); made-up values, privileged fields and
          // injection payloads would otherwise stay in that identity's real record. The scan's registered accounts
          // write their own records freely.
          () =>
            op &&
            writesBy(req.method) &&
            sentAsGiven &&
            !ownProfile &&
            !restore &&
            !declaredReadFirst &&
            ownRecordWrite(bare)
              ? {
                  owner: 'given',
                  overridable: true,
                  note: [
                    `${op.method} ${op.path} own`,
                    `not sent as ${who?.name}: it writes that given identity's own record, and this request does not set it back`,
                  ],
                }
              : undefined,
          () => {
            if (!op || foreign === undefined || foreign.length === 0) return undefined;
            const named = foreign.slice(0, 3).map((f) => `${f.name}=${f.value.slice(0, 40)}`);
            return {
              owner: foreign.some((f) => givenIds.has(f.value)) ? 'given' : 'unknown',
              overridable: true,
              note: [
                `${op.method} ${op.path}`,
                `not sent: it acts, and its inputs name ${named.join(', ')}, which the scan did not create (--allow-destructive sends it)`,
              ],
            };
          },
          // A given identity's session: its logout goes only with accounts the scan registered.
          () => (sentAsGiven && isLogout(bare, op?.id) ? { owner: 'given', overridable: false } : undefined),
          // The account a GET that sets a password names (`/auth/reset-password?username=alice&new_password=...`), by
          // anyone: it would take whatever password the check sampled. One exception: API2's reset probe, once per
          // operation, anonymous, naming only an account the scan registered (`registeredAccount`).
          () => {
            if (req.method !== 'GET' || !op || !setsPasswordByUrl(spec, op)) return undefined;
            const key = `${op.method} ${op.path}`;
            if (
              sendOptions?.registeredAccount !== true ||
              (as !== undefined && as !== null) ||
              ownResets.has(key) ||
              !namesOnlyScanAccount(spec, objects, op, req)
            )
              return { owner: 'unknown', overridable: false };
            ownResets.add(key);
            return scanOwned;
          },
        ]);
        if (refused) return undefined;
        // Before an identity's first purchase: the money its own account shows, to compare after the clean-up.
        if (purchase && !moneyBefore.has(as.name) && moneyBefore.size < 20) {
          for (const reader of ownMoneyReads) {
            const read = await client.trySend(
              { method: 'GET', path: reader.path },
              { session: as.session, signal },
            );
            const fields = read && isSuccess(read) ? moneyFields(read.json) : new Map<string, number>();
            if (fields.size === 0) continue;
            moneyBefore.set(as.name, {
              who: as,
              path: reader.path,
              fields,
              purchase: `${req.operation!.method} ${req.operation!.path}`,
            });
            break;
          }
        }
        if ((ownProfile || declaredReadFirst) && given && ownTouched.size < 1000) ownTouched.add(bare);
        // A documented example of a value-bearing member (`"coupon": "WELCOME10"`) may be a real code: in a write sent
        // as a given identity or the admin, that member is left out (whatever else the request does, and with
        // --allow-destructive too), so no real coupon, voucher or gift card is redeemed in a real person's name.
        if (
          as !== undefined &&
          as !== null &&
          (given || as === admin) &&
          writesBy(req.method) &&
          req.body !== undefined &&
          codes.size > 0
        ) {
          const { body, dropped } = withoutDocumentedCodes(req.body, codes);
          if (dropped.length > 0) {
            req = { ...req, body };
            noteOnce(
              noteAs ?? sender,
              `${req.method} ${req.operation?.path ?? bare} codes`,
              req.operation,
              `sent as ${as.name} without ${[...new Set(dropped)].slice(0, 3).join(', ')}: the document's example of a coupon, voucher or gift card may be a real one, never redeemed in a given identity's name`,
            );
          }
        }
        req = inDeclaredEncoding(spec, req, req.operation);
        // A file sent to a given identity's own account (`POST /v2/member/banner`, `PUT /me/avatar`,
        // `/users/{id}/photo`: upload.ts selfUpload, or a field an account keeps about itself) replaces what that
        // identity keeps there (its banner, its picture), and nothing sets it back: whichever check sends it (a
        // plain request's sample file included), it goes only as an account the scan registered, anonymously, or
        // to an object the scan created, unless destructive requests are allowed.
        if (
          refuse([
            () =>
              op &&
              sentAsGiven &&
              writesBy(req.method) &&
              carriesFile(req.body) &&
              !objects.isScanCreated(bare) &&
              !scanAccountPath() &&
              (selfUpload(op.path) || selfUpload(bare) || storesOnAccount(spec, op))
                ? {
                    owner: 'given',
                    overridable: true,
                    note: [
                      `${op.method} ${op.path} upload`,
                      `not sent as ${who?.name}: it uploads a file to that given identity's own account, which nothing sets back (only an account the scan registered uploads there; --allow-destructive sends it)`,
                    ],
                  }
                : undefined,
          ])
        )
          return undefined;
        // An object the scan deleted (a DELETE of its path answered 2xx) may have lost its id to someone else's new
        // record: a table without AUTOINCREMENT gives a deleted last row's id to the next row (review R1: a later probe
        // acted on another user's object). A write at or below its path goes only when a read there, as its maker,
        // still shows the scan's record (soft deleted, or another of the scan's at a slug path).
        const gone = writesBy(req.method) && !options.allowDestructive ? objects.deletedAt(bare) : undefined;
        if (gone !== undefined) {
          const reader = spec.operations.find(
            (o) => o.method === 'GET' && !o.deprecated && sameRoute(o.path, gone.path),
          );
          const maker =
            [...identities, ...(admin ? [admin] : [])].find((i) => i.name === gone.owner) ?? as ?? undefined;
          let read: ScanResponse | undefined;
          if (reader && reissueReads < MAX_REISSUE_READS) {
            reissueReads++;
            read = await client.trySend(
              { method: 'GET', path: reader.path.endsWith('/') ? `${gone.path}/` : gone.path },
              { session: maker?.session, signal },
            );
          }
          if (!(read && isSuccess(read) && !refusedIn200(read) && stillScanMade(read.json, gone.body))) {
            noteOnce(
              noteAs ?? sender,
              `${req.method} ${bare} reissued`,
              req.operation,
              `not sent: the scan deleted its object at ${gone.path} earlier, and ${
                read === undefined
                  ? 'no read of it could tell whose record is there now'
                  : isSuccess(read)
                    ? 'a read there now shows a record the scan did not make (the API may have given its id to another)'
                    : `a read there answers ${(read as ScanResponse).status}`
              }`,
            );
            return undefined;
          }
        }
        const clientOptions = {
          session: as?.session,
          signal,
          burst: sendOptions?.burst === true,
          // The checks that judge the target's limits see its 429s; the others' requests are sent again after one.
          seeLimits: LIMIT_JUDGES.has(noteAs ?? sender),
          // Only an identity's own login (login.ts) or its given cookies set its session cookies.
          ...((given || (as !== undefined && as !== null && as === admin)) && mayStartSession(req)
            ? { keepCookies: true }
            : {}),
        };
        let res = await client.trySend(req, clientOptions);
        // A write refused until confirmed, the answer saying how (`{"success": false, "hint": "Add ?confirm=yes to the
        // URL"}`): sent once more with that confirmation in its query. The rules above held the request already, and
        // a confirmation names no object, so it reaches nothing they did not let through.
        const confirm = res && writesBy(req.method) ? confirmationHint(res) : undefined;
        if (confirm && !new URLSearchParams(req.path.split('?')[1] ?? '').has(confirm.name)) {
          req = {
            ...req,
            path: `${req.path}${req.path.includes('?') ? '&' : '?'}${encodeURIComponent(confirm.name)}=${encodeURIComponent(confirm.value)}`,
          };
          res = await client.trySend(req, clientOptions);
        }
        progress();
        if (req.method === 'DELETE' && res && isSuccess(res)) objects.deleteSent(bare);
        // A given identity's account that starts answering 423 after it worked is locked: said loudly, once.
        if (res && sentAsGiven && as) {
          const status = res.status;
          if (status >= 200 && status < 300) answeredOk.add(as.name);
          else if (status === 423 && answeredOk.has(as.name) && !lockedOut.has(as.name)) {
            lockedOut.add(as.name);
            const at = new Date().toISOString().slice(11, 19);
            if (checkWarnings.length < 50)
              checkWarnings.push(
                `${as.name}'s account looks locked from ${at} UTC (${req.method} ${bare.slice(0, 80)} answered 423 during ${noteAs ?? sender}): what came after tested less as ${as.name}; unlock it on the target`,
              );
          }
        }
        if (purchase && res && isSuccess(res) && bought.size < 1000) {
          bought.add(`${as!.name} ${req.operation!.method} ${req.operation!.path}`);
          // Every purchase a given identity made, as the answer named it (R1-H6): the money warning lists them all.
          const made = (res.json !== null && typeof res.json === 'object' ? res.json : {}) as Record<
            string,
            unknown
          >;
          const named = ['id', 'code', 'number', 'reference']
            .map((k) => made[k])
            .find((v) => typeof v === 'string' || typeof v === 'number');
          const list = purchaseLog.get(as!.name) ?? [];
          if (list.length < 20)
            list.push(
              `${req.method} ${bare} ${res.status}${named !== undefined ? ` (${String(named).slice(0, 40)})` : ''}`,
            );
          purchaseLog.set(as!.name, list);
        }
        if (
          res &&
          req.method === 'GET' &&
          as !== undefined &&
          as !== null &&
          (given || as === admin) &&
          isSuccess(res) &&
          readBy.size < 5000
        ) {
          readBy.add(`${as.name} ${bare.replace(/\/+$/, '')}`);
          // The caller's own record at a path that names none (`GET /v1/account`): the ids it shows are its own.
          if (given && (isOwnProfile(bare) || ownRecordWrite(bare)) && ownIds.size < 100)
            ownIds.set(as.name, new Set([...(ownIds.get(as.name) ?? []), ...recordIds(res.json)]));
        }
        if (res?.json !== undefined) collectIds(res.json, givenIds);
        if (res && (res.json !== undefined || res.headers.location)) {
          objects.harvest.record(
            as?.name ?? '',
            req.operation?.path ?? req.path,
            res.json,
            res.headers.location,
            new Set([...urlValues(req.path), ...quantityOnly(res.json)]),
          );
        }
        if (res && observations.length < MAX_OBSERVATIONS) {
          observations.push({
            request: req,
            response: res,
            ...(req.operation ? { operation: req.operation } : {}),
            ...(as ? { identity: as.name } : {}),
            check: sender,
          });
        }
        return res;
      },
    });

    // Discovery: every identity calls the documented operations, harvesting values and creating objects.
    const work = checks.map((c) => estimateWork(c.id, spec));
    /**
     * The next phase's context: its deadline when its share of the time left is spent (time-budget.ts), its signal
     * aborting a little after (GRACE_MS: a check that stops at its deadline deletes what it made). The pace is the
     * one kept so far once there is enough to judge by (checks that wait on each answer go slower than the rate).
     */
    const phaseContext = (upcoming: readonly Work[], minShare?: number) => {
      const now = performance.now();
      const elapsed = (now - started) / 1000;
      const pace = elapsed >= 5 ? Math.min(maxRate, Math.max(1, client.requests() / elapsed)) : ratePerSecond;
      const ms = phaseBudget(now, deadline, upcoming, checkTimeoutMs, pace, minShare);
      // The grace never goes past the per-check timeout (checkTimeoutMs stays a hard bound).
      const hard = Math.min(ms + GRACE_MS, Math.max(ms, checkTimeoutMs));
      return ms <= 0 ? undefined : makeContext(AbortSignal.timeout(hard), undefined, now + ms);
    };
    const discoveryContext =
      phaseContext([estimateWork('discovery', spec), ...work], MIN_SHARE.discovery) ??
      makeContext(AbortSignal.abort());
    let phaseStart = performance.now();
    let phaseRequests = client.requests();
    let phaseOutages = client.outages();
    if (phaseOutages > 0) outagePhases.push('setup');
    const phaseDone = (name: string) => {
      if (client.outages() > phaseOutages) outagePhases.push(name);
      phaseOutages = client.outages();
      phases.push({
        name,
        ms: Math.round(performance.now() - phaseStart),
        requests: client.requests() - phaseRequests,
      });
      phaseStart = performance.now();
      phaseRequests = client.requests();
    };
    try {
      objectsCreated = (await discover(discoveryContext)).objectsCreated;
    } catch (err) {
      if (discoveryContext.signal.aborted) timedOut.push('discovery');
      else errors.push({ check: 'discovery', message: (err as Error).message });
    }
    phaseDone('discovery');

    const runOne = async (check: Check, ctx: ScanContext) => {
      try {
        await check.run(ctx);
      } catch (err) {
        if (ctx.signal.aborted) timedOut.push(check.id);
        else errors.push({ check: check.id, message: (err as Error).message });
      }
    };
    for (let i = 0; i < checks.length; i++) {
      const check = checks[i];
      // Checks that mostly wait (for the canary's callbacks) and share no state run side by side, each with its own
      // context; their budget is that of their work together.
      const partner = checks[i + 1];
      const together =
        partner !== undefined && SIDE_BY_SIDE.some(([a, b]) => a === check.id && b === partner.id);
      const group = together ? [check, partner] : [check];
      const upcoming = together
        ? [
            { fixed: work[i].fixed + work[i + 1].fixed, variable: work[i].variable + work[i + 1].variable },
            ...work.slice(i + 2),
          ]
        : work.slice(i);
      const contexts = group.map((c) => {
        current = c.id;
        return phaseContext(upcoming, MIN_SHARE[c.id]);
      });
      progress();
      const name = group.map((c) => c.id).join('+');
      if (contexts.some((ctx) => ctx === undefined)) {
        notRun.push(...group.map((c) => c.id));
        checksDone += group.length;
        phaseDone(name);
        i += group.length - 1;
        continue;
      }
      await Promise.all(group.map((c, k) => runOne(c, contexts[k] as ScanContext)));
      checksDone += group.length;
      phaseDone(name);
      progress();
      i += group.length - 1;
    }
    // The accounts the scan registered are deleted where the API lets them be (best effort, in the notes).
    current = 'cleanup';
    // At least its reserve, even past the deadline: the scan's own accounts must not be left for want of time.
    const cleanupMs = Math.min(
      checkTimeoutMs,
      CLEANUP_MS,
      Math.max(CLEANUP_RESERVE_MS, Math.round(deadline - performance.now())),
    );
    const cleanupContext = makeContext(AbortSignal.timeout(cleanupMs));
    try {
      reportNotes.push(...(await cleanGivenObjects(cleanupContext)).map((line) => `clean-up: ${line}`));
      reportNotes.push(
        ...(await deleteThrowaways(cleanupContext, deletedAccounts)).map((line) => `clean-up: ${line}`),
      );
    } catch (err) {
      reportNotes.push(`clean-up: stopped (${(err as Error).message})`);
    }
    // Each identity that bought: its money read again. A cancellation that refunds nothing (a soft delete that only
    // hides the order) leaves the purchase spent: said loudly, for a person to set right.
    for (const { who, path, fields, purchase } of moneyBefore.values()) {
      const read = await client.trySend({ method: 'GET', path }, { session: who.session });
      const after = read && isSuccess(read) ? moneyFields(read.json) : undefined;
      if (!after) {
        reportNotes.push(
          `clean-up: ${who.name}'s money at GET ${path} could not be read again after its purchase`,
        );
        continue;
      }
      const changed = [...fields].filter(([k, v]) => after.has(k) && after.get(k) !== v);
      if (changed.length === 0) {
        reportNotes.push(
          `clean-up: ${who.name}'s money at GET ${path} is as before its purchase (${purchase})`,
        );
        continue;
      }
      const said = changed.map(([k, v]) => `${k} ${v} -> ${after.get(k)}`).join(', ');
      if (checkWarnings.length < 50)
        checkWarnings.push(
          `cleanup: ${who.name}'s money changed with the scan's purchases (${(purchaseLog.get(who.name) ?? [purchase]).join(', ')}) and the clean-up did not restore it: ${said} at GET ${path}; set it right on the target by hand`,
        );
    }
    phaseDone('cleanup');
    const limited = client.limitedAnswers();
    if (limited.answers > 0)
      reportNotes.push(
        `pace: the target answered 429 (or 503 with Retry-After) ${limited.answers} time${limited.answers === 1 ? '' : 's'}; the scan waited as asked (up to ${MAX_BACKOFF_MS / 1000} s), slowed down, and sent ${limited.retried} of those requests again`,
      );
    if (notRun.length > 0 || timedOut.length > 0)
      reportNotes.push(
        `time: the scan had ${Math.round((options.scanTimeoutMs ?? SCAN_DEFAULTS.scanTimeoutMs) / 1000)} s (scanTimeoutMs), shared by the work each check has on ${spec.operations.length} operations; ${[...(timedOut.length > 0 ? [`ran out of their share: ${timedOut.join(', ')}`] : []), ...(notRun.length > 0 ? [`not run: ${notRun.join(', ')}`] : [])].join('; ')} (the coverage matrix says which operations each left untested)`,
      );
    current = 'passive';
    for (const check of checks) {
      // Notes of a passive judgment belong to its check's column of the matrix.
      const passive = makeContext(new AbortController().signal, check.id);
      try {
        check.passive?.(passive);
      } catch (err) {
        errors.push({ check: check.id, message: (err as Error).message });
      }
    }
  } finally {
    await canary.close();
    await client.close();
  }
  const findingList = [...findings.values()];
  const targetOutages: TargetOutages = {
    times: client.outages(),
    refusedRequests: client.refusedAfterAnswering(),
    // Outages during the login, or after the last phase (the passive checks send nothing), have no phase.
    phases: client.outages() > 0 && outagePhases.length === 0 ? ['setup'] : outagePhases,
    downAtEnd: client.isDown(),
  };
  const covered = buildCoverage({
    spec,
    checks,
    observations,
    findings: findingList,
    notes,
    timedOut,
    notRun,
    errors,
    objectsCreated,
    ...loggedIn,
    outages: targetOutages,
  });
  return {
    kind: 'scan',
    specFile: spec.file,
    target: options.target,
    findings: findingList,
    rules: covered.rules,
    stats: {
      requests: client.requests(),
      durationMs: Math.round(performance.now() - started),
      operations: spec.operations.length,
      objectsCreated,
      checks: checks.length,
    },
    timedOut,
    ...(notRun.length > 0 ? { notRun } : {}),
    errors,
    phases,
    coverage: covered.coverage,
    warnings: [...elevationWarnings(elevated), ...checkWarnings, ...covered.warnings],
    notes: reportNotes,
    targetOutages,
  };
}

/** One loud line per identity the scan made privileged and could not set back. */
export function elevationWarnings(elevated: ReadonlyMap<string, Elevation>): string[] {
  return [...elevated.values()].map(
    (e) =>
      `IDENTITY ELEVATED BY THE SCAN: ${e.identity} kept ${e.fields.join(', ')} stored by the scan's probe of ${e.operation}, and setting it back could not be confirmed; later checks did not use ${e.identity} as an ordinary identity (what it saw afterwards is an admin's view). Reset that account on the target by hand.`,
  );
}
