/**
 * API3 Broken Object Property Level Authorization.
 * Active: mass assignment. Each POST with a JSON object body is sent with extra fields (readOnly properties of
 * its response schema, usual privileged names such as `role` and `isAdmin`, and one undeclared probe field); a
 * value read back in the response (or in a GET of the created object) was stored. An update of the identity's
 * own object that takes its inputs from the query string gets the privileged names as query parameters.
 * Passive: every successful JSON response is compared with its schema (fields outside it) and searched for
 * secrets and personal data: unsalted digests of any password the scan sent (MD5, SHA-1, SHA-256, SHA-512, to its
 * owner too), password hash shapes (bcrypt, argon2, crypt, PBKDF2, LDAP), credentials of some service that two
 * callers read alike (an upstream's `iam_token` relayed: the server's secret). A plain password only one caller
 * ever reads, and not one the scan signs in with, is that caller's own (a vault's saved passwords); one under a
 * member that shows how to call the API (`usage`, `example`, `body`) or a placeholder is no one's.
 */

import { randomUUID } from 'node:crypto';
import type { ApiDocument, JsonObject, JsonSchema, Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type FindingInput, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { curlFor } from '../curl.ts';
import {
  changesAccount,
  ownProfileWritePath,
  ownRecordPath,
  ownRecordWrite,
  setsPassword,
  UPDATE_VERB,
} from '../discover.ts';
import { singular } from '../harvest.ts';
import { resolveIdentity } from '../login.ts';
import {
  bodySchema,
  captureId,
  creationCollection,
  isAdminOperation,
  isBusinessFlow,
  isCreationOperation,
  isExcluded,
  isLoginOperation,
  itemRouteBeside,
  type PlannedRequest,
  planRequest,
  requiresAuth,
  withForeignKeys,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, sampleValue, schemaType } from '../schema.ts';
import { accountParam, isOwnAccount, selfAccount, selfIds } from '../self.ts';
import { findLoginTarget } from './api2-authentication.ts';
import { exportedPersonalData } from './api3-exported-data.ts';
import { switchInputs } from './api3-switch-inputs.ts';
import { isFlowCandidate, judgeFlow, movesMoneyOut, sendsMoneyTo } from './api6-business-flows.ts';
import { creationSweep } from './injection.ts';
import {
  checkIds,
  claimAccountPath,
  ID_KEYS,
  passwordInputs,
  registerThrowaway,
  retireThrowaway,
  reuseThrowaway,
  signup,
  type Throwaway,
} from './throwaway.ts';
import { looksSecret, passwordForms } from './token-contents.ts';

/** Field names that grant privileges when a client may set them, and the value to try. */
const PRIVILEGED: Readonly<Record<string, unknown>> = {
  role: 'admin',
  roles: ['admin'],
  isAdmin: true,
  is_admin: true,
  admin: true,
  is_superuser: true,
  is_staff: true,
  verified: true,
  isVerified: true,
  is_verified: true,
  email_verified: true,
  approved: true,
  permissions: ['*'],
  scope: 'admin',
  balance: 999999,
  credit: 999999,
  credits: 999999,
  plan: 'enterprise',
  tier: 'premium',
};
/** Enum values that name a privilege (`role: [user, vet, admin]` → `admin`). */
/** Inputs named as the server's own (`internal_status`, `internalNote`). */
const INTERNAL = /(^|[_-])internal([_-]|$)|^internal[A-Z]/;
const PRIVILEGED_VALUE = /admin|super|root|owner|staff|manager|premium|enterprise/i;
/** Secrets, keys and personal data, by field name. */
const SENSITIVE_KEY =
  /^(password|passwd|pass|pwd|user_?pass(word)?|pass_?hash|password_?hash|hashed_?password|password_?digest|(en)?crypted_?password|password_?md5|md5_?password|hash|salt|secret|client_?secret|api_?key|private_?key|ssn|social_?security(_?number)?|tax_?id|credit_?card|card_?number|cvv|cvc|pin|otp_?secret|mfa_?secret|totp_?secret|reset_?(pin|code|token))$/i;
/** Never legitimately returned, declared or not. */
const ALWAYS_SECRET =
  /pass|hash|salt|ssn|social|tax|card|cvv|cvc|private|api_?key|otp|mfa|totp|^pin$|reset_?(pin|code|token)/i;
/**
 * The business's own figures and notes, by name (`internal_notes`, `supplierCost`, `profit_margin`,
 * `admin_notes`): not the caller's business, declared or not, when an ordinary or anonymous caller gets them
 * with a value. Ids and flags (`internal_id`, `is_internal`) say nothing; shipping or total costs are the
 * caller's own, so only a supplier's, a purchase or the wholesale cost counts.
 */
const INTERNAL_DATA =
  /^(supplier|vendor|purchase|wholesale)_?(cost|price)$|^cost_?price$|^(profit|gross|net)?_?margins?$|^profits?$|^markup$|^(admin|staff|private)_?notes?$/i;
const NOT_INTERNAL_DATA = /^(is_?)?internal$|^is_?internal|internal_?(id|ids|ref)$/i;

/**
 * Internal business data anywhere in a value: names with a number or string value, but not a string this
 * caller sent itself (its own notes, or what the scan's probe wrote).
 */
function internalData(value: unknown, pointer: string, out: string[], own: ReadonlySet<string>): void {
  eachScalar(value, pointer, out, (key, v, p) => {
    if (
      (typeof v === 'number' ||
        (typeof v === 'string' && v.trim() !== '' && !own.has(v) && !/^(pcinternal|portcullis)/.test(v))) &&
      (INTERNAL.test(key) || /[a-z]Internal$/.test(key) || INTERNAL_DATA.test(key)) &&
      !NOT_INTERNAL_DATA.test(key)
    )
      out.push(`${p} (internal business data by name)`);
  });
}

/**
 * Calls `visit` with each member of a value that is not an object (its name, value and pointer), 8 levels
 * deep and 20 items of each array, until `out` holds more than 20 entries.
 */
function eachScalar(
  value: unknown,
  pointer: string,
  out: readonly unknown[],
  visit: (key: string, v: unknown, p: string) => void,
  depth = 0,
): void {
  if (depth > 8 || out.length > 20) return;
  if (Array.isArray(value)) {
    for (const item of value.slice(0, 20)) eachScalar(item, `${pointer}/*`, out, visit, depth + 1);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const p = `${pointer}/${key}`;
    if (v !== null && typeof v === 'object') eachScalar(v, p, out, visit, depth + 1);
    else visit(key, v, p);
  }
}

/** A person's identifiers that are theirs to see in their own record (not a secret of the account). */
const OWN_IDENTIFIER =
  /^(ssn|social_?security(_?number)?|national_?id|tax_?id|tax_?number|credit_?card(_?number)?|card_?number)$/i;
/** Personal data that is legitimate when declared, but not when it leaks through an undeclared field. */
const PERSONAL_KEY = /(e_?mail|phone|address|birth|dob|national_?id|passport)/i;
const SENSITIVE_VALUE: readonly [string, RegExp][] = [
  ['bcrypt hash', /^\$2[abxy]?\$\d\d\$/],
  ['argon2 hash', /^\$argon2(id|i|d)\$/],
  ['crypt(3) password hash', /^\$(1|5|6|y|gy|7|md5|sha1|P|H)\$[./\w$=,-]{8,}$/],
  [
    'PBKDF2 or scrypt password hash',
    /^(pbkdf2_sha\d+\$\d+\$|\$pbkdf2(-sha\d+)?\$\d+\$|scrypt:\d+:\d+:\d+\$|pbkdf2:sha\d+:\d+\$)/,
  ],
  ['LDAP password hash', /^\{(SSHA|SHA|SMD5|MD5|SSHA256|SSHA512|CRYPT|PBKDF2[\w-]*)\}\S{8,}$/i],
  ['private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['AWS access key', /\bAKIA[0-9A-Z]{16}\b/],
  ['US social security number', /^\d{3}-\d{2}-\d{4}$/],
  ['SHA-256 hex digest', /^[a-f0-9]{64}$/],
];

function responseSchema(op: Operation, status: number): JsonSchema | undefined {
  const spec = op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`] ?? op.responses.default;
  if (!spec) return undefined;
  for (const [type, media] of Object.entries(spec.content)) {
    if (/json/i.test(type)) return media.schema;
  }
  return undefined;
}

interface Extra {
  readonly pointer: string;
  readonly value: unknown;
}

/** Walks a value against its schema and collects properties the schema does not declare. */
function undeclared(
  spec: ApiDocument,
  value: unknown,
  schema: JsonSchema | undefined,
  pointer: string,
  out: Extra[],
  depth = 0,
): void {
  if (depth > 8 || out.length > 50 || schema === undefined || schema === true) return;
  const s = resolveSchema(spec, schema);
  if (Array.isArray(value)) {
    for (const item of value.slice(0, 20))
      undeclared(spec, item, s.items as JsonSchema, `${pointer}/*`, out, depth + 1);
    return;
  }
  if (value === null || typeof value !== 'object' || schemaType(s) !== 'object') return;
  const props = (s.properties as JsonObject | undefined) ?? {};
  if (Object.keys(props).length === 0) return; // a free-form object declares nothing to compare with
  const extraSchema = s.additionalProperties;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key in props) undeclared(spec, v, props[key] as JsonSchema, `${pointer}/${key}`, out, depth + 1);
    else if (extraSchema === true || (typeof extraSchema === 'object' && extraSchema !== null)) continue;
    else out.push({ pointer: `${pointer}/${key}`, value: v });
  }
}

/**
 * Undeclared fields worth a finding: secrets, hashes and keys by name, tokens (not in the caller's own sign-in or
 * profile answer), national ids and card data, privilege internals (`permissions`, `is_admin`, `role` outside the
 * caller's own answer), the server's internal data, or a value shaped like a hash, a key or an SSN.
 */
const SENSITIVE_EXTRA =
  /password|passwd|^pwd$|pass_?hash|^hash$|^hashed|salt|secret|private_?key|api_?key|otp|mfa|totp|ssn|social_?sec|tax_?id|card_?(number|no)$|credit_?card|cvv|cvc|^pin$|internal|permissions?$|privileges?$|^is_?(admin|staff|superuser)$|^acl$/i;
const TOKEN_EXTRA = /token|session|^jwt$|^sid$/i;
const ROLE_EXTRA = /^(roles?|user_?role|scopes?|groups?)$/i;
/** Privilege flags and lists a person's own record shows its owner (`is_admin`, `permissions`): not internal data. */
const OWN_PRIVILEGE_EXTRA = /permissions?$|privileges?$|^is_?(admin|staff|superuser)$/i;
/** Token members that say what kind or how long (`token_type`, `session_ttl`, `token_expires_at`). */
const TOKEN_ABOUT =
  /(?:type|kind|expir\w*|expires?(?:_?(?:in|at))?|ttl|lifetime|timeout|count|length|started|created(?:_?at)?|issued(?:_?at)?|_at|At|scopes?|id_?hint)$/;
/**
 * Whether a member named like a token may hold a credential: a string of 12 or more characters without spaces that
 * is no date, under a name that does not only say what kind or how long (`token_type`, `session_expires_in`).
 */
function credentialLike(key: string, v: unknown): boolean {
  if (typeof v !== 'string') return typeof v === 'object' && v !== null && !TOKEN_ABOUT.test(key);
  if (TOKEN_ABOUT.test(key) && !/token$|secret$/i.test(key)) return false;
  return v.length >= 12 && !/\s/.test(v) && !/^\d{4}-\d{2}-\d{2}/.test(v);
}
/** Names of privilege internals: a flag under them (`is_admin: true`) says what the record may do. */
const PRIVILEGE_EXTRA = /internal|permissions?$|privileges?$|^is_?(admin|staff|superuser)$|^acl$/i;
/**
 * A value that says whether something is set, not what it is: a boolean, or a short word of state
 * (`hasPassword: false`, `secretsConfigured: true`, `api_key: "configured"`, `smtpPassword: "unset"`).
 */
export function stateFlag(v: unknown): boolean {
  return (
    typeof v === 'boolean' ||
    (typeof v === 'string' &&
      /^(?:true|false|yes|no|on|off|set|unset|not[ _-]?set|configured|not[ _-]?configured|enabled|disabled|present|missing|none|n\/a|connected|disconnected|ok|up|down|healthy|unhealthy|available|unavailable|ready|running|online|offline|verified|unverified)$/i.test(
        v.trim(),
      ))
  );
}
/** Anti-forgery tokens by name (`csrfToken`, `_csrf`, `xsrf_token`, `antiforgery`): made to be handed to the client. */
const ANTI_FORGERY = /csrf|xsrf|anti_?forgery|request_?verification/i;
/** Where the answer came from and what it set: a token it also sets as the caller's cookie is handed to its owner. */
export interface ExtraAnswer {
  /** The answer's Set-Cookie lines, joined. */
  readonly setCookie?: string;
  /** The operation's path template (`/api/csrf-token`). */
  readonly route?: string;
}
export function sensitiveExtra(
  e: { pointer: string; value: unknown },
  selfAnswer: boolean,
  answer?: unknown,
  from: ExtraAnswer = {},
): boolean {
  if (e.value === null || e.value === '' || e.value === undefined) return false;
  const key = e.pointer.slice(e.pointer.lastIndexOf('/') + 1);
  // A flag says whether a secret exists, not what it is (`hasPassword: false`); privilege flags stay telling.
  if (stateFlag(e.value) && !PRIVILEGE_EXTRA.test(key)) return false;
  // The caller's own record at the top of its own answer (not list items in it).
  const own = selfAnswer && !e.pointer.includes('/*');
  // A member named like a token that holds no credential (`token_type: "bearer"`, `session_expires_in: 300`,
  // `session_started: "2026-..."`): what kind or how long, not the thing itself.
  if (TOKEN_EXTRA.test(key))
    return credentialLike(key, e.value) && !own && !handedToCaller(key, e.value, from);
  // The caller's own role and privilege flags in its own record (`role: "member"`, `is_admin: false`): its own to see.
  if (own && (ROLE_EXTRA.test(key) || OWN_PRIVILEGE_EXTRA.test(key))) return false;
  // A role in a record that is no person's (`GET /orgs` → `{id, name, role: owner}`) is the caller's own role in
  // that object, as an authenticated answer shows it to the caller; in a person's record it is that person's.
  if (ROLE_EXTRA.test(key)) return !own && !(answer !== undefined && callerRelation(answer, e.pointer));
  if (SENSITIVE_EXTRA.test(key) && !NOT_INTERNAL_DATA.test(key)) return true;
  // By value (a content digest is no secret: SHA-256 values are judged by the sensitive-data reading).
  const found: string[] = [];
  eachScalar({ [key]: e.value }, '', found, (k, v) => {
    if (typeof v === 'string' && SENSITIVE_VALUE.some(([name, re]) => !/SHA-256/.test(name) && re.test(v)))
      found.push(k);
  });
  return found.length > 0;
}

/**
 * Whether a token in an answer is handed to the caller as its own: an anti-forgery token by its name or by its route's
 * (`GET /csrf-token` → `{token}`), or a value the same answer sets as the caller's cookie (a double-submit token, a
 * session). Only a string of its own (not a list's items), compared whole with a cookie's value.
 */
function handedToCaller(key: string, value: unknown, from: ExtraAnswer): boolean {
  if (typeof value !== 'string') return false;
  const last =
    (from.route ?? '')
      .split('/')
      .filter((s) => s !== '' && !s.includes('{'))
      .at(-1) ?? '';
  if (ANTI_FORGERY.test(key) || ANTI_FORGERY.test(last)) return true;
  if (value.length < 8 || !from.setCookie) return false;
  return from.setCookie
    .split(/,\s*(?=[^;,=\s]+=)/)
    .some((line) => line.split(';', 1)[0].split('=').slice(1).join('=').trim() === value);
}

/** Paths of people: any segment naming users, accounts, members, customers, staff, profiles... */
const PEOPLE_PATH =
  /(^|\/)(users?|accounts?|members?|memberships?|customers?|employees?|people|persons?|profiles?|staff|admins?|players?|students?|patients?|contacts?|collaborators?)(\/|$)/i;

/** Members that make a record a person's (an account, a profile, a contact). */
const PERSON_KEY =
  /^(e_?mail|email_?address|user_?name|login|handle|phone(_?number)?|password|pw|pass_?hash|first_?name|last_?name|full_?name|display_?name|date_?of_?birth|dob|user_?id|member_?id|account_?id|person_?id)$/i;

/**
 * Whether every record holding the member at `pointer` (each item of a list under `data`) is an object that is no
 * person's (it has an id of its own and no person member, nor a person's id: not a membership `{user_id, role}`): a
 * `role` there names the caller's relation to it.
 */
function callerRelation(answer: unknown, pointer: string): boolean {
  const steps = pointer.split('/').slice(1, -1);
  let records: unknown[] = [answer];
  for (const step of steps) {
    const next: unknown[] = [];
    for (const r of records.slice(0, 50)) {
      if (step === '*') {
        if (Array.isArray(r)) next.push(...r.slice(0, 50));
      } else if (r !== null && typeof r === 'object' && !Array.isArray(r)) {
        next.push((r as Record<string, unknown>)[step]);
      }
    }
    records = next;
  }
  const objects = records.filter(
    (r): r is Record<string, unknown> => r !== null && typeof r === 'object' && !Array.isArray(r),
  );
  return (
    objects.length > 0 &&
    objects.length === records.length &&
    objects.every(
      (r) => ['id', '_id', 'uuid'].some((k) => k in r) && !Object.keys(r).some((k) => PERSON_KEY.test(k)),
    )
  );
}

/** A member named like a password (`password`, `pwd`, `db_pass`, `newPassword`; not `passport` or `bypass`). */
const PASSWORD_NAME =
  /(?:^|[_-])(?:pass|passwd|pwd|passphrase|password)$|^pass(?:word)?[_-]?\d?$|[a-z]Password$/i;
/**
 * Members of a landing or documentation answer that show how to call the API (`example`, `usage`, `request`,
 * `body`, `endpoints`...): a password under them is an example, not a record's.
 */
const DOC_MEMBER =
  /^(?:examples?|samples?|usage|how_?to|request|request_?body|body|payload|params|parameters|schema|input|inputs|docs?|documentation|endpoints?|routes?|template|format|fields|curl)$/i;
/** A placeholder where a password would go: `string`, `<password>`, `your_password`, `***`, `...`. */
const PLACEHOLDER =
  /^(?:string|text|password|passw(?:or)?d|secret|changeme|\*+|x+|\.{3}|<[^<>]{1,40}>|\{\{?[^{}]{1,40}\}?\}|\[[^[\]]{1,40}\]|(?:your|my|the|new|example|sample)[_ -]?\w{0,20})$/i;

/** Whether a member sits under one that shows how to call the API (`/usage/signIn/body/password`). */
const exampleAt = (pointer: string) =>
  pointer
    .split('/')
    .slice(0, -1)
    .some((seg) => DOC_MEMBER.test(seg));

/** What the sensitive-data reading knows of the scan's passwords. */
export interface PasswordsKnown {
  /** The passwords identities and the scan's accounts sign in with: shown plain, they are a leak to anyone. */
  readonly login: ReadonlySet<string>;
  /** Unsalted digests (MD5, SHA-1, SHA-256, SHA-512; hex and base64) of every password the scan sent, and the plain ones. */
  readonly forms: ReadonlySet<string>;
  /**
   * Plain values under password names that more than one caller got (the admin aside): someone else's. A value only
   * one caller ever gets (its own vault's saved passwords) is its own.
   */
  readonly shared: ReadonlySet<string>;
}

const DIGEST_BY_LENGTH: Readonly<Record<number, string>> = {
  32: 'MD5',
  40: 'SHA-1',
  64: 'SHA-256',
  128: 'SHA-512',
};

/** The digest a value is of a password the scan knows (`MD5`...), or undefined; never the plain password itself. */
export function passwordDigest(v: string, known: PasswordsKnown): string | undefined {
  if (v.length < 22 || (!known.forms.has(v.toLowerCase()) && !known.forms.has(v))) return undefined;
  if (known.login.has(v)) return undefined;
  return /^[0-9a-f]+$/i.test(v) ? (DIGEST_BY_LENGTH[v.length] ?? 'digest') : 'base64 digest';
}

/** Finds secrets and personal data anywhere in a value. */
function sensitive(
  value: unknown,
  pointer: string,
  declared: (p: string) => boolean,
  out: string[],
  own: ReadonlySet<string>,
  selfRead = false,
  passwords: PasswordsKnown = { login: new Set(), forms: new Set(), shared: new Set() },
  /** Whether a personal value is the caller's own or the scan's (see ownPersonalValues). */
  ownPersonal: (v: string) => boolean = (v) => own.has(v),
): void {
  eachScalar(value, pointer, out, (key, v, p) => {
    if (v === null || v === '' || v === undefined) return;
    // A password the scan used, as an unsalted digest: never to be shown, to its owner neither.
    const digest = typeof v === 'string' ? passwordDigest(v, passwords) : undefined;
    if (digest) {
      out.push(`${p} (the unsalted ${digest} of a password the scan used)`);
      return;
    }
    // The caller's own record read by itself (`GET /me`; not list items in it): its own tax id, card number and
    // contact data are its to see. Passwords, hashes, secrets and keys are not shown even to their owner.
    const mine = selfRead && !p.includes('/*');
    if (mine && (OWN_IDENTIFIER.test(key) || PERSONAL_KEY.test(key))) return;
    if (SENSITIVE_KEY.test(key)) {
      // Whether a secret exists, not the secret (`password: false`, `api_key: "configured"`).
      const login = typeof v === 'string' && passwords.login.has(v);
      if (stateFlag(v) && !login) return;
      // What this caller wrote itself (the secret note of its own book, the passwords its own vault keeps) is its
      // data, not a leak; a password it signs in with, or a hash, never comes back, whoever sent it.
      if (typeof v === 'string' && own.has(v) && !login && !/hash|salt/i.test(key)) return;
      if (
        PLAIN_PASSWORD_KEY.test(key) &&
        typeof v === 'string' &&
        !login &&
        !passwords.shared.has(v) &&
        !SENSITIVE_VALUE.some(([, re]) => re.test(v))
      )
        return;
      // How to call the API (a landing page's example body, a placeholder): no one's password.
      if (!login && (PLACEHOLDER.test(String(v)) || exampleAt(p))) return;
      // A declared `secret` or `pin` is part of the API's contract (the secret note of a book); declared
      // passwords, hashes, card data and national ids are leaks all the same.
      if (declared(p) && !ALWAYS_SECRET.test(key)) return;
      out.push(`${p} (secret or identifier by name)`);
      return;
    }
    // A flag under a personal name (`notifyByEmail: true`, `emailService: "connected"`) is no one's contact data,
    // and the caller's own e-mail or address (what it sent, signed in or up with) is its own.
    if (
      PERSONAL_KEY.test(key) &&
      !declared(p) &&
      !stateFlag(v) &&
      !(typeof v === 'string' && ownPersonal(v))
    ) {
      out.push(`${p} (personal data outside the schema)`);
      return;
    }
    if (typeof v === 'string') {
      const hit = SENSITIVE_VALUE.find(([, re]) => re.test(v));
      if (hit && !(mine && /social security/.test(hit[0]))) out.push(`${p} (${hit[0]})`);
    }
  });
}

/** Members holding a password itself (not its hash). */
const PLAIN_PASSWORD_KEY = /^(password|passwd|pass|pwd|user_?pass(word)?)$/i;

/** The string members of a request body (a JSON object two levels down, or a form) named like a password. */
function sentPasswords(body: unknown, out: Set<string>): void {
  let value = body;
  if (typeof body === 'string') {
    try {
      value = JSON.parse(body);
    } catch {
      if (body.length <= 4000) value = Object.fromEntries(new URLSearchParams(body));
    }
  }
  const walk = (v: unknown, depth: number) => {
    if (depth > 2 || v === null || typeof v !== 'object' || out.size >= 500) return;
    for (const [k, child] of Object.entries(v as Record<string, unknown>).slice(0, 50)) {
      if (typeof child === 'string' && PASSWORD_NAME.test(k) && child.length >= 1 && child.length <= 200)
        out.add(child);
      else walk(child, depth + 1);
    }
  };
  walk(value, 0);
}

/**
 * The passwords the scan knows: those the identities (and the admin) sign in with, and those sent to a login
 * operation (the scan's own accounts); and unsalted digests of every password any request sent.
 */
export function passwordsKnown(ctx: ScanContext): PasswordsKnown {
  const login = new Set<string>();
  const all = new Set<string>();
  for (const who of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    sentPasswords(who.login?.body, login);
    sentPasswords(who.login?.flow.body, login);
  }
  for (const { request, operation } of ctx.observations) {
    if (operation && isLoginOperation(ctx.spec, operation)) sentPasswords(request.body, login);
    else sentPasswords(request.body, all);
  }
  for (const pw of login) all.add(pw);
  // Plain password values in answers, with who got them.
  const callers = new Map<string, Set<string>>();
  for (const { response, operation, identity } of ctx.observations) {
    if (!operation || !isSuccess(response) || response.json === undefined) continue;
    if (identity !== undefined && identity === ctx.admin?.name) continue;
    eachScalar(response.json, '', [], (key, v) => {
      if (typeof v !== 'string' || !PLAIN_PASSWORD_KEY.test(key) || callers.size >= 2000) return;
      const set = callers.get(v) ?? new Set<string>();
      callers.set(v, set);
      set.add(identity ?? '');
    });
  }
  const shared = new Set([...callers].filter(([, who]) => who.size >= 2).map(([v]) => v));
  return { login, forms: passwordForms([...all].filter((pw) => pw.length >= 3)), shared };
}

/**
 * Members that carry a credential of some service (`iam_token`, `upstreamSecret`, `api_key`, `access_key`,
 * `client_credentials`); not a page cursor, a CSRF token or a key meant to be public (`publishable_key`, `site_key`).
 */
const CREDENTIAL_KEY = /(?:token|secret|apikey|accesskey|secretkey|privatekey|credentials?)$/;
const NOT_CREDENTIAL_KEY =
  /csrf|xsrf|page|cursor|next|continuation|public|publishable|sitekey|captcha|pagination|tokentype|expires|count|length|limit/;

/** Members a login or sign-up hands the caller its own credential in (`api_key`, `apiKey`, `access_token`, `key`). */
const OWN_CREDENTIAL_KEY =
  /^(api_?key|apikey|access_?key|auth_?key|user_?key|key|token|access_?token|auth_?token|refresh_?token|session_?(id|key|token)?|jwt)$/i;

/** A name without case, separators or a leading `x-`: `X-API-Key`, `api_key` and `apiKey` are one. */
const bareName = (name: string) =>
  name
    .toLowerCase()
    .replace(/^x[-_]/, '')
    .replace(/[^a-z0-9]/g, '');

/** Does the operation hand out a credential: a login, or a sign-up or password change (a POST that sets one)? */
function handsOutCredential(ctx: ScanContext, op: Operation): boolean {
  return (
    isLoginOperation(ctx.spec, op) ||
    (op.method === 'POST' && !op.path.includes('{') && setsPassword(ctx.spec, op))
  );
}

/** A caller of a login or sign-up: the identity that sent it, and the login names (lowercased) it sent. */
interface Caller {
  readonly name?: string;
  readonly logins: ReadonlySet<string>;
}

/** The login names (user name, e-mail, phone) a request body sends, lowercased. */
function loginNames(body: unknown): Set<string> {
  let value = body;
  if (typeof value === 'string') value = Object.fromEntries(new URLSearchParams(value.slice(0, 4000)));
  const out = new Set<string>();
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return out;
  for (const [k, v] of Object.entries(value as Record<string, unknown>).slice(0, 50))
    if (LOGIN_KEY.test(k) && typeof v === 'string' && v !== '') out.add(v.toLowerCase());
  return out;
}

/** Did two different callers get the value (neither the same identity nor a login name in common)? */
function sharedAmong(callers: readonly Caller[] | undefined): boolean {
  if (callers === undefined) return false;
  const same = (a: Caller, b: Caller) =>
    (a.name !== undefined && a.name === b.name) || [...a.logins].some((l) => b.logins.has(l));
  return callers.some((a, i) => callers.slice(i + 1).some((b) => !same(a, b)));
}

/**
 * The values under credential names at the top of login and sign-up answers (`{token, api_key}`), with the callers
 * that got each: a value two callers got alike is no one's own credential.
 */
function handedCredentials(ctx: ScanContext): Map<string, Caller[]> {
  const callers = new Map<string, Caller[]>();
  const add = (answer: unknown, caller: Caller) =>
    eachScalar(answer, '', [], (key, v, p) => {
      if (typeof v !== 'string' || callers.size >= 1000 || p.includes('/*') || !OWN_CREDENTIAL_KEY.test(key))
        return;
      const list = callers.get(v) ?? [];
      callers.set(v, list);
      if (list.length < 20) list.push(caller);
    });
  const people = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  const loginsOf = (name: string | undefined) => {
    const who = people.find((p) => p.name === name);
    return who ? loginNames(who.login?.body) : new Set<string>();
  };
  // The given identities' own sign-ins (made before any check), then every login and sign-up the scan sent.
  for (const who of people) add(who.login?.answer, { name: who.name, logins: loginNames(who.login?.body) });
  for (const { request, response, operation, identity } of ctx.observations) {
    if (!operation || !isSuccess(response) || response.json === undefined) continue;
    if (!handsOutCredential(ctx, operation)) continue;
    const logins = loginNames(request.body);
    for (const l of loginsOf(identity)) logins.add(l);
    add(response.json, { name: identity, logins });
  }
  return callers;
}

/**
 * The members of a login or sign-up answer that hand the caller its own credential, by pointer: at the top of the
 * answer (or of its record), under a credential name, no other caller got the same value, and the value is one the
 * API takes as a credential (its name is an apiKey scheme's parameter: `api_key` in the query; the scan signs in
 * with it), or it is the only credential the answer holds. Such a member is what the login is for, not a leak.
 */
export function ownCredentials(
  ctx: ScanContext,
  op: Operation,
  answer: unknown,
  handed: ReadonlyMap<string, readonly Caller[]>,
  held: ReadonlySet<string>,
): Map<string, string> {
  const out = new Map<string, string>();
  if (!handsOutCredential(ctx, op)) return out;
  const schemeNames = new Set(
    Object.values(ctx.spec.securitySchemes)
      .filter((s) => s.type === 'apiKey' && typeof s.raw.name === 'string')
      .map((s) => bareName(String(s.raw.name))),
  );
  const members: [string, string, string][] = [];
  eachScalar(answer, '', [], (key, v, p) => {
    if (typeof v !== 'string' || v.length < 8 || p.includes('/*') || p.split('/').length > 3) return;
    if (OWN_CREDENTIAL_KEY.test(key)) members.push([p, key, v]);
  });
  for (const [p, key, v] of members) {
    if (sharedAmong(handed.get(v))) continue;
    if (schemeNames.has(bareName(key)) || held.has(v) || members.length === 1) out.set(p, v);
  }
  return out;
}

/**
 * Credentials the scan holds of its own (its identities' tokens, session headers and cookies, what any login
 * answered): coming back, they are the caller's, not a relayed secret.
 */
function heldCredentials(ctx: ScanContext): Set<string> {
  const out = heldSessionValues(ctx);
  const strings = (v: unknown, depth = 0) => {
    if (out.size >= 5000 || depth > 6) return;
    if (typeof v === 'string') out.add(v);
    else if (v !== null && typeof v === 'object')
      for (const child of Object.values(v as Record<string, unknown>).slice(0, 100))
        strings(child, depth + 1);
  };
  for (const who of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) strings(who.login?.answer);
  for (const { operation, response } of ctx.observations)
    if (operation && isLoginOperation(ctx.spec, operation)) strings(response.json);
  return out;
}

/** The tokens, session header values and cookies the identities and the admin sign in with. */
function heldSessionValues(ctx: ScanContext): Set<string> {
  const out = new Set<string>();
  for (const who of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    if (who.token) out.add(who.token);
    for (const h of Object.values(who.session.headers)) {
      out.add(h);
      out.add(h.replace(/^\S+\s+/, ''));
    }
    for (const c of who.session.cookies.values()) out.add(c);
  }
  return out;
}

/**
 * Token-like values under credential names in answers to reads (`GET /weather` relaying its upstream's
 * `iam_token`), with the callers that got each: a value two callers (or an anonymous one and another) got alike
 * is no one's own session or key but the server's. Values the scan holds are left out.
 */
function relayedSecrets(ctx: ScanContext): Map<string, Set<string>> {
  const held = heldCredentials(ctx);
  const callers = new Map<string, Set<string>>();
  for (const { request, response, operation, identity } of ctx.observations) {
    if (!operation || request.method !== 'GET' || !isSuccess(response) || response.json === undefined)
      continue;
    if (isLoginOperation(ctx.spec, operation)) continue;
    eachScalar(response.json, '', [], (key, v, p) => {
      if (typeof v !== 'string' || callers.size >= 1000 || exampleAt(p)) return;
      const k = key.toLowerCase().replace(/[^a-z]/g, '');
      if (!CREDENTIAL_KEY.test(k) || NOT_CREDENTIAL_KEY.test(k) || !looksSecret(v) || held.has(v)) return;
      const set = callers.get(v) ?? new Set<string>();
      callers.set(v, set);
      set.add(identity ?? '');
    });
  }
  for (const [v, who] of callers) if (who.size < 2) callers.delete(v);
  return callers;
}

function probeValue(s: JsonObject, marker: string): unknown {
  switch (schemaType(s)) {
    case 'integer':
    case 'number':
      return 424242;
    case 'boolean':
      return true;
    case 'array':
      return [marker];
    default:
      return marker;
  }
}

/** The privileged value to try for a declared property with an enum, if one of its values names a privilege. */
function privilegedEnum(s: JsonObject): unknown {
  const values = Array.isArray(s.enum)
    ? s.enum
    : Array.isArray(s.items && (s.items as JsonObject).enum)
      ? ((s.items as JsonObject).enum as unknown[])
      : [];
  const hit = values.find((v) => typeof v === 'string' && PRIVILEGED_VALUE.test(v));
  if (hit === undefined) return undefined;
  return schemaType(s) === 'array' ? [hit] : hit;
}

/** Declared names of a privilege held as free text (`role: {type: string}`, `account_type`, `user_level`). */
const PRIVILEGE_NAME =
  /^(roles?|user_?roles?|account_?(type|role|level)|user_?(type|level)|access_?level|privileges?|permission_?level)$/i;

/**
 * The privileged value to try for a declared string property of a privilege name without an enum: the
 * document does not say which values exist, so the usual one (`admin`). Nothing for other names, other
 * types, enums, formats and patterns (those say which values exist: privilegedEnum).
 */
function privilegedFree(spec: ApiDocument, name: string, prop: JsonSchema): unknown {
  if (!PRIVILEGE_NAME.test(name)) return undefined;
  const s = resolveSchema(spec, prop);
  const type = schemaType(s);
  const item = type === 'array' ? resolveSchema(spec, s.items as JsonSchema) : s;
  if ((type !== 'string' && type !== 'array') || schemaType(item) !== 'string') return undefined;
  if (item.enum !== undefined || item.const !== undefined || item.format !== undefined) return undefined;
  if (item.pattern !== undefined) return undefined;
  return type === 'array' ? ['admin'] : 'admin';
}

/** Objects (at any depth) that carry one of the marker values, and the top-level record itself. */
function recordsOf(view: unknown, markers: readonly string[], direct = true): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const walk = (v: unknown, depth: number, top: boolean) => {
    if (depth > 5 || v === null || typeof v !== 'object' || out.length > 20) return;
    if (Array.isArray(v)) {
      for (const item of v.slice(0, 100)) walk(item, depth + 1, false);
      return;
    }
    const record = v as Record<string, unknown>;
    const values = Object.values(record);
    if (top || values.some((x) => typeof x === 'string' && markers.includes(x))) out.push(record);
    // A direct view's wrappers describe the record too (`data`, `user`; a create's `loan`, `card_details`).
    for (const [k, x] of Object.entries(record))
      walk(x, depth + 1, top && (depth === 0 || /^(data|user|item|result|profile)$/i.test(k)));
  };
  walk(view, 0, direct);
  return out;
}

/** Members that wrap a read's one record (`{"data": {...}}`, `{"ok": true, "user": {...}}`). */
const WRAPPER = /^(data|user|item|result|profile|account|record|payload|resource|entity)$/i;
/** Members that only a record itself has: the envelope holds none of them. */
const IDENTIFYING = /^(id|_id|uuid|uid|e_?mail|user_?name|name|login|handle)$/i;

/**
 * The one record a read of a single thing answers (a profile, an account): the top-level object, or the record it
 * wraps (`{"data": {"id": 2, "role": ...}}`, Phoenix's and JSON:API's envelopes, `{"status": "ok", "user": {...}}`)
 * when it holds one such wrapper and nothing that identifies a record. The envelope's own members say nothing of
 * the record: read as fields, a probe would see none of `role` and set back none of what it changed.
 */
function topRecord(view: unknown): Record<string, unknown> | undefined {
  let [record] = recordsOf(view, []);
  for (let depth = 0; record && depth < 2; depth++) {
    const inner = Object.entries(record).filter(
      ([k, v]) => WRAPPER.test(k) && v !== null && typeof v === 'object' && !Array.isArray(v),
    );
    if (inner.length !== 1 || Object.keys(record).some((k) => IDENTIFYING.test(k))) break;
    record = inner[0][1] as Record<string, unknown>;
  }
  return record;
}

/**
 * Views of our record: `direct` ones are about it as a whole (the answer, its GET, the profile of the user
 * it is), `listed` ones hold it among others (lists), where only the item carrying our values counts.
 */
interface Views {
  readonly direct: unknown[];
  readonly listed: unknown[];
}

/** The values the views show for a field of our record. */
function valueIn(views: Views, markers: readonly string[], field: string): unknown[] {
  const out: unknown[] = [];
  for (const [list, direct] of [
    [views.direct, true],
    [views.listed, false],
  ] as const) {
    for (const view of list) {
      for (const record of recordsOf(view, markers, direct)) if (field in record) out.push(record[field]);
    }
  }
  return out;
}

/** Unique strings of a body we sent: how our record is recognised in a list. */
function uniqueStrings(body: unknown): string[] {
  if (body === null || typeof body !== 'object') return [];
  return Object.values(body as Record<string, unknown>).filter(
    (v): v is string => typeof v === 'string' && /(^pc[0-9a-f]{8})|(portcullis-[0-9a-f]{8})|pcma-/.test(v),
  );
}

const REGISTER_USER = /^(user_?name|login|email|e_?mail|handle)$/i;
const PASSWORD = /pass(word)?$/i;

/**
 * Signs in as a user the probe just registered, with the first identity's login flow and the registered
 * user name and password, and reads its profiles (every GET without path parameters). Nothing when the
 * operation does not look like a registration or the login does not work.
 */
async function readAsRegistered(ctx: ScanContext, sent: Record<string, unknown>): Promise<unknown[]> {
  const flow = ctx.identities[0]?.login?.flow;
  if (!flow) return [];
  const body: Record<string, unknown> = { ...flow.body };
  let user = false;
  let password = false;
  for (const key of Object.keys(flow.body)) {
    if (PASSWORD.test(key)) {
      const given = Object.entries(sent).find(([k, v]) => PASSWORD.test(k) && typeof v === 'string');
      if (given) {
        body[key] = given[1];
        password = true;
      }
    } else if (REGISTER_USER.test(key)) {
      const given = sent[key] ?? Object.entries(sent).find(([k]) => REGISTER_USER.test(k))?.[1];
      if (typeof given === 'string') {
        body[key] = given;
        user = true;
      }
    }
  }
  if (!user || !password) return [];
  let identity: Awaited<ReturnType<typeof resolveIdentity>>;
  try {
    identity = await resolveIdentity(ctx.client, { name: 'registered', login: { ...flow, body } });
  } catch {
    return [];
  }
  const views: unknown[] = [];
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || op.path.includes('{') || isExcluded(op) || !requiresAuth(op)) continue;
    const res = await ctx.send(planRequest(ctx.spec, op, ctx.objects), identity);
    if (isSuccess(res) && res.json !== undefined) views.push(res.json);
  }
  return views;
}

interface Probe {
  readonly op: Operation;
  /** Who sends it. */
  readonly as: Identity;
  /** The body without the probe fields; the control request sends it as is. */
  readonly base: Record<string, unknown>;
  /** The planned update of an existing object (PUT/PATCH); creations are planned afresh each time. */
  readonly target?: PlannedRequest;
  /** A read of the changed object (the update's own GET), when there is one. */
  readonly read?: PlannedRequest;
  /** The record's id, when the read may hold other records too (a list): the record carrying it is ours. */
  readonly id?: string;
}

/** Per scan (its observations), the field names each operation's 2xx answers have shown so far (none: not JSON). */
const shownCache = new WeakMap<object, { seen: number; names: Map<string, Set<string>> }>();
function fieldsShown(ctx: ScanContext): Map<string, Set<string>> {
  let entry = shownCache.get(ctx.observations);
  if (!entry) {
    entry = { seen: 0, names: new Map() };
    shownCache.set(ctx.observations, entry);
  }
  for (; entry.seen < ctx.observations.length; entry.seen++) {
    const { operation, response } = ctx.observations[entry.seen];
    if (!operation || !isSuccess(response)) continue;
    const set = entry.names.get(operation.id) ?? new Set<string>();
    entry.names.set(operation.id, set);
    if (response.json !== undefined && set.size < 500) fieldNames(response.json, set);
  }
  return entry.names;
}

/**
 * A read that cannot show a record we sent: its successes so far were never JSON, or named several fields
 * and none of the body's (an empty list's wrapper names few, and is asked again). Never answered: asked.
 */
function cannotShow(names: Set<string> | undefined, sent: readonly string[]): boolean {
  if (names === undefined) return false;
  return names.size === 0 || (names.size >= 6 && !sent.some((n) => names.has(n)));
}

/** The costly views: lists and profiles as the sender and the admin, and the registered user's profile. */
async function widerViews(ctx: ScanContext, probe: Probe, sent: Record<string, unknown>): Promise<Views> {
  const { op, as } = probe;
  const views: Views = { direct: [], listed: [] };
  // Lists and profiles without path parameters, as the sender and as the admin. The sender's own profile is
  // a direct view when the sender changed itself (an update without path parameters).
  // Reads that cannot show our record (see cannotShow) are not asked.
  const shownBy = fieldsShown(ctx);
  const sentNames = Object.keys(sent);
  for (const reader of [as, ...(ctx.admin ? [ctx.admin] : [])]) {
    for (const o of ctx.spec.operations) {
      if (o.method !== 'GET' || o.path.includes('{') || isExcluded(o)) continue;
      if (o.parameters.some((p) => p.required && p.in === 'query')) continue;
      if (cannotShow(shownBy.get(o.id), sentNames)) continue;
      const again = await ctx.send(planRequest(ctx.spec, o, ctx.objects, { owner: reader.name }), reader);
      if (!isSuccess(again) || again.json === undefined) continue;
      const selfUpdate = reader === as && probe.target !== undefined && !op.path.includes('{');
      (selfUpdate && o.path === op.path ? views.direct : views.listed).push(again.json);
    }
  }
  if (op.method === 'POST' && Object.keys(sent).some((k) => PASSWORD.test(k))) {
    views.direct.push(...(await readAsRegistered(ctx, sent)));
  }
  return views;
}

/** The views of our record after a request: cheap (the answer, the object's GET) or the costly ones. */
async function viewsAfter(
  ctx: ScanContext,
  probe: Probe,
  res: ScanResponse,
  sent: Record<string, unknown>,
  full: boolean,
): Promise<Views> {
  const { op, as } = probe;
  const views: Views = { direct: [withoutEcho(res.json, sent)], listed: [] };
  if (full) return widerViews(ctx, probe, sent);
  if (probe.read) {
    const again = await ctx.send(probe.read, as);
    if (isSuccess(again)) views.direct.push(again.json);
  } else {
    const id = captureId(ctx.spec, op, res);
    const collection = op.path.replace(/\/$/, '');
    const get = ctx.spec.operations.find(
      (o) =>
        o.method === 'GET' &&
        o.path.startsWith(`${collection}/{`) &&
        /^\{[^}]+\}\/?$/.test(o.path.slice(collection.length + 1)),
    );
    if (id !== undefined && get) {
      const param = /\{([^}]+)\}\/?$/.exec(get.path)![1];
      const again = await ctx.send(
        planRequest(ctx.spec, get, ctx.objects, { owner: as.name, params: { [param]: id } }),
        as,
      );
      if (isSuccess(again)) views.direct.push(again.json);
    }
  }
  return views;
}

/**
 * The answer without the objects that echo our request: they carry the undeclared probe field we sent, or
 * are the body we sent itself. `{"debug": {"raw_request": {...}}}` shows what we sent, not what was stored;
 * a read-back must confirm those.
 */
export function withoutEcho(view: unknown, sent: Readonly<Record<string, unknown>>, depth = 0): unknown {
  if (depth > 6 || view === null || typeof view !== 'object') return view;
  if (Array.isArray(view)) return view.map((v) => withoutEcho(v, sent, depth + 1));
  const record = view as Record<string, unknown>;
  const probe = sent.portcullisProbe;
  if (probe !== undefined && record.portcullisProbe === probe) return null;
  if (sameRecord(record, sent)) return null;
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, withoutEcho(v, sent, depth + 1)]));
}

function sameRecord(a: Readonly<Record<string, unknown>>, b: Readonly<Record<string, unknown>>): boolean {
  const keys = Object.keys(b);
  return (
    keys.length > 0 &&
    Object.keys(a).length === keys.length &&
    keys.every((k) => JSON.stringify(a[k]) === JSON.stringify(b[k]))
  );
}

/** Every property name in an answer (any depth, bounded): the fields the record is known to have. */
export function fieldNames(view: unknown, out = new Set<string>(), depth = 0): Set<string> {
  if (depth > 5 || view === null || typeof view !== 'object' || out.size > 500) return out;
  if (Array.isArray(view)) {
    for (const v of view.slice(0, 20)) fieldNames(v, out, depth + 1);
    return out;
  }
  for (const [k, v] of Object.entries(view as Record<string, unknown>)) {
    out.add(k);
    fieldNames(v, out, depth + 1);
  }
  return out;
}

/** At most this many fields are tried one by one when the whole set is refused. */
const MAX_SINGLE_PROBES = 6;

/**
 * Sends the body twice: as planned (the control) and with privileged, read-only and undeclared fields added;
 * a field counts as stored when a view of the probe's record shows the injected value and the control's
 * does not (a default of `verified: true` is no finding).
 */
async function massAssignment(ctx: ScanContext, probe: Probe): Promise<void> {
  // An update of an existing record (the identity's own profile, often): read before the control writes the base
  // body, and set back afterwards all the requests sent, found or not.
  const { target, read } = probe;
  const readRecord = async (who: Identity) => {
    const r = read ? await ctx.send(read, who) : undefined;
    if (!isSuccess(r) || r.json === undefined) return undefined;
    return probe.id !== undefined ? ownRecord(r.json, probe.id) : topRecord(r.json);
  };
  const before = target ? await readRecord(probe.as) : undefined;
  const since = ctx.observations.length;
  // A creation's control and probes as a given identity or the admin make objects in its data (a webhook with
  // `role: admin` beside it): each is deleted by its maker once the probe is judged (the injection probes' sweep).
  const sweep =
    !target &&
    (ctx.identities.includes(probe.as) || probe.as === ctx.admin) &&
    // A creation for staff too (`POST /staff/accounts`, creationProbes): its records deleted by their maker.
    (isCreationOperation(ctx.spec, probe.op) || creationCollection(ctx.spec, probe.op) !== undefined)
      ? creationSweep(ctx, 'the mass-assignment probes')
      : undefined;
  try {
    await massAssignmentProbe(ctx, probe, before, sweep);
  } finally {
    if (sweep) {
      await sweep.flush();
      sweep.report();
    }
    if (target && before) {
      const writable = propertiesOf(ctx.spec, bodySchema(probe.op));
      await setBackSent(ctx, {
        as: probe.as,
        op: probe.op,
        scanMade: ctx.objects.isScanCreated(target.path.split('?')[0]),
        before,
        sent: Object.keys(before).filter((k) => k in probe.base || k in writable || k in PRIVILEGED),
        // The record's own values under the body's names (never the sample again), then the fields to set back.
        write: (values, who) => {
          const held = Object.keys(probe.base).filter((k) => k in before);
          const body = { ...Object.fromEntries(held.map((k) => [k, before[k]])), ...values };
          return ctx.send({ ...target, body }, who, { restore: true, ownProfile: true });
        },
        read: readRecord,
        since,
      });
    }
  }
}

async function massAssignmentProbe(
  ctx: ScanContext,
  probe: Probe,
  pristine: Record<string, unknown> | undefined,
  sweep?: ReturnType<typeof creationSweep>,
): Promise<void> {
  const { op, as } = probe;
  const schema = bodySchema(op);
  const writable = propertiesOf(ctx.spec, schema);
  const marker = `pcma-${randomUUID().slice(0, 8)}`;
  const injected: Record<string, unknown> = {};
  const why: Record<string, string> = {};
  for (const [status, response] of Object.entries(op.responses)) {
    if (!status.startsWith('2')) continue;
    for (const media of Object.values(response.content)) {
      for (const [name, prop] of Object.entries(propertiesOf(ctx.spec, media.schema))) {
        if (prop.readOnly !== true || name in writable) continue;
        // An update never writes a login name, e-mail or password into the record it changes.
        if (probe.target && isLoginField(name, pristine?.[name], as)) continue;
        injected[name] = name in PRIVILEGED ? PRIVILEGED[name] : probeValue(prop, marker);
        why[name] = 'readOnly';
      }
    }
  }
  for (const [name, prop] of Object.entries(writable)) {
    // A declared flag that makes an account privileged (`is_admin: {type: boolean, default: false}`) is no
    // ordinary user's to set either.
    const flag = ELEVATING.test(name) && schemaType(prop) === 'boolean' ? true : undefined;
    const value = privilegedEnum(prop) ?? privilegedFree(ctx.spec, name, prop) ?? flag;
    if (value !== undefined && !(name in injected)) {
      injected[name] = value;
      why[name] = 'privileged value';
    }
  }
  for (const [name, value] of Object.entries(PRIVILEGED)) {
    if (name in writable || name in injected) continue;
    injected[name] = value;
    why[name] = 'privileged';
  }
  injected.portcullisProbe = marker;
  why.portcullisProbe = 'undeclared';

  // Whether any write of the probe went out (the runner's write guard may hold every one back).
  let reached = false;
  interface Sent {
    readonly res: ScanResponse;
    readonly body: Record<string, unknown>;
    readonly views: Map<boolean, Promise<Views>>;
  }
  const send = async (body: Record<string, unknown>): Promise<Sent | undefined> => {
    const req = probe.target
      ? { ...probe.target, body }
      : planRequest(ctx.spec, op, ctx.objects, { owner: as.name, body });
    const res = await ctx.send(req, as, { ownProfile: true });
    sweep?.seen(op, as, '')(req, res, undefined);
    if (res) reached = true;
    if (!isSuccess(res) || looksRefused(res)) return undefined;
    return { res, body, views: new Map() };
  };
  const viewsOf = (sent: Sent, full: boolean) => {
    let views = sent.views.get(full);
    if (!views) {
      views = viewsAfter(ctx, probe, sent.res, sent.body, full);
      sent.views.set(full, views);
    }
    return views;
  };
  // A creation gets a new sample each time (unique user names), with foreign keys the API gave out; a sign-up's
  // repeated password (`password_confirmation`) repeats the sampled one.
  const passwords = probe.target ? undefined : passwordInputs(ctx, op);
  const fresh = (b: Record<string, unknown>) => {
    if (probe.target) return b;
    const body = withForeignKeys(
      ctx.spec,
      schema ?? {},
      sampleValue(ctx.spec, schema),
      ctx.objects,
      as.name,
      op.path,
    ) as Record<string, unknown>;
    const first = passwords?.body.find((k) => typeof body[k] === 'string');
    if (first !== undefined) for (const k of passwords?.repeat ?? []) if (k in body) body[k] = body[first];
    return body;
  };
  // An update's control goes first (it must not undo the probe); a creation's only when needed.
  let control: Promise<Sent | undefined> | undefined = probe.target
    ? Promise.resolve(send(fresh(probe.base)))
    : undefined;
  // An update's record as it was, to set back what the probe stores (the identity's own account, often).
  let original: Record<string, unknown> | undefined;
  let lastWrite: ScanResponse | undefined;
  const readOwn = async (who: Identity): Promise<Record<string, unknown> | undefined> => {
    const r = probe.read ? await ctx.send(probe.read, who) : lastWrite;
    if (!isSuccess(r) || r.json === undefined) return undefined;
    const record = probe.id !== undefined ? ownRecord(r.json, probe.id) : topRecord(r.json);
    // A field the read does not show (a record read at another path) as the last write's answer showed it.
    // The record inside the answer by its id first: `{"updated": {id, role, ...}}` wraps it in a member no
    // wrapper list names.
    const written =
      probe.read && isSuccess(lastWrite) && lastWrite.json !== undefined
        ? ((probe.id !== undefined ? ownRecord(lastWrite.json, probe.id) : undefined) ??
          topRecord(lastWrite.json))
        : undefined;
    return record && written ? { ...written, ...record } : record;
  };
  if (control) {
    // The same object is read back after the probe: the control's views must be taken before it.
    const c = await control;
    if (c) await Promise.all([viewsOf(c, false), viewsOf(c, true)]);
    lastWrite = c?.res;
    original = pristine ?? (await readOwn(as));
  }
  // A given identity's own record (no account of the scan's own carries this probe) gets only the fields its
  // read, or the update's own answer, shows: a field nothing shows could be stored unseen and never set back
  // (a hidden `role: admin` left on a real person's account). Each one sent is set back and read again.
  const given = probe.target !== undefined && !scanAccounts.has(as);
  if (given) {
    // Never a given identity's money or account state (`balance`, `verified`): an account of the scan's own's.
    for (const n of Object.keys(injected))
      if (MONEY_OR_STATE.test(n) && !ELEVATING.test(n)) {
        delete injected[n];
        delete why[n];
      }
    // No member of the scan's own goes into a given identity's record: an update that merges its body keeps an
    // added member however the fields are set back (a PUT of the record, a null, neither removes it everywhere).
    delete injected.portcullisProbe;
    delete why.portcullisProbe;
    const seen =
      pristine !== undefined && lastWrite !== undefined ? { ...(await readOwn(as)), ...pristine } : original;
    if (seen !== undefined) original = seen;
    const hidden = Object.keys(injected).filter((n) => n !== 'portcullisProbe' && !(n in (seen ?? {})));
    for (const n of hidden) delete injected[n];
    if (hidden.length > 0) {
      // The object may be one the scan created, written as a given identity (`PATCH /orgs/<its own org>`).
      const path = (probe.target?.path ?? '').split('?')[0];
      const where = ctx.objects.isScanCreated(path) ? `${path}, an object the scan created,` : undefined;
      noteHidden(ctx, op, as, hidden, Object.keys(injected).length <= 1, where);
    }
  }
  const sentNames = Object.keys(injected).filter((n) => n !== 'portcullisProbe');
  // An account of the scan's own: the admin-only reads it is refused now, to tell after the probe whether a
  // privileged field no read shows was stored (a read that answers it then is the escalation).
  const blind = probe.target !== undefined && !given;
  const refusedReads = blind ? await refusedAdminReads(ctx, as) : [];
  const setBack = (names: readonly string[]) =>
    Object.fromEntries(
      names.map((n) => [
        n,
        original?.[n] ?? writable[n]?.default ?? (injected[n] === true ? false : undefined),
      ]),
    );
  const restoreTarget = async (names: readonly string[], sinceProbe: number): Promise<string[]> => {
    const target = probe.target;
    if (!target || names.length === 0) return [];
    return restoreOwn(ctx, {
      as,
      op,
      // A field the record did not show: its declared default, else false for a flag the probe set true.
      originals: setBack(names),
      stored: injected,
      // On a given identity's record every field the probe sent grants something: one kept is loud.
      privileged: given ? names : names.filter((n) => why[n] === 'privileged value'),
      write: async (values, who) => {
        // With the probe's own option too: an account of the scan's own sets back its own profile (the runner
        // grants `restore` to given identities and the admin only).
        lastWrite = await ctx.send({ ...target, body: { ...probe.base, ...values } }, who, {
          restore: true,
          ownProfile: true,
        });
        return lastWrite;
      },
      read: readOwn,
      since: sinceProbe,
    });
  };
  const since = ctx.observations.length;
  // Our record is the one carrying the unique values of its own body (the control's never has the marker).
  const markersOf = (body: Record<string, unknown>) => uniqueStrings(body);
  // A number reads back as the database formats it (`"999999.00"` from a DECIMAL column through PHP).
  const shown = (sent: Sent, views: Views, name: string) =>
    valueIn(views, markersOf(sent.body), name).some((v) => storedAs(v, injected[name]));
  // Cheap views first (the answer, the object's GET); lists, profiles and a login only when those show nothing.
  const storedBy = async (attempt: Sent, names: readonly string[]): Promise<string[]> => {
    for (const full of [false, true]) {
      const views = await viewsOf(attempt, full);
      const seen = names.filter((name) => shown(attempt, views, name));
      if (seen.length === 0) continue;
      control ??= send(fresh(probe.base));
      const c: Sent | undefined = await control;
      const controlViews = c ? await viewsOf(c, full) : undefined;
      const stored = seen.filter((name) => !c || !controlViews || !shown(c, controlViews, name));
      if (stored.length > 0) return stored;
    }
    return [];
  };
  /** The probe, its set-back and its finding: the fields set back (undefined: a given identity's not done). */
  async function probeAndReport(): Promise<string[] | undefined> {
    let stored: string[] = [];
    let evidence = await send({ ...fresh(probe.base), ...injected });
    if (evidence) {
      stored = await storedBy(evidence, Object.keys(injected));
    } else {
      // The whole set was refused (an unknown column fails the insert): the fields the record is known to have
      // (the control's answer shows them), one at a time.
      control ??= send(fresh(probe.base));
      const c = await control;
      if (!c) return undefined;
      // The fields the control's answer shows, and for an update those its record shows (a PHP update answers
      // `{"updated": true}`, and an unknown column such as the probe's own fails the whole statement).
      const known = fieldNames(c.res.json);
      for (const name of Object.keys(original ?? pristine ?? {})) known.add(name);
      const singles = Object.keys(injected)
        .filter((name) => name !== 'portcullisProbe' && known.has(name))
        .slice(0, MAX_SINGLE_PROBES);
      for (const name of singles) {
        const single = await send({ ...fresh(probe.base), [name]: injected[name] });
        if (!single) continue;
        const found = await storedBy(single, [name]);
        if (found.length === 0) continue;
        stored.push(...found);
        evidence ??= single;
      }
    }
    if (stored.length === 0 || !evidence) return undefined;
    // An update changed the identity's own record: set back what it stored (a given identity's: all it sent), at once.
    const back = await restoreTarget(
      given ? sentNames : stored.filter((n) => n !== 'portcullisProbe'),
      since,
    );
    reportStored(
      ctx,
      stored.map((n) => [n, why[n]]),
      {
        operation: op,
        message: `${op.method} ${op.path} stored fields a client must not set: ${stored.map((n) => `${n} (${why[n]})`).join(', ')}.`,
        evidence: evidenceOf(evidence.res, {
          fields: stored,
          identity: as.name,
          ...(back.length > 0 ? { restored: back.filter((n) => stored.includes(n)) } : {}),
        }),
      },
    );
    return back;
  }
  let restored: string[] | undefined;
  try {
    restored = await probeAndReport();
  } finally {
    // A given identity's record: everything sent is set back, stored or not (an answer may hide what it stored).
    // Nothing to set back when no write went out: the record is as it was, and no identity was made privileged.
    if (given && restored === undefined && reached) await restoreTarget(sentNames, since);
    if (blind && reached)
      await blindSetBack(ctx, probe, { sentNames, injected, original, refusedReads, restored });
    if (!reached && probe.target)
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.massAssignment,
        reason: `not sent: the scan's write guard held back every write of ${as.name}'s record at ${probe.target.path.split('?')[0]} (not a path it takes for the caller's own profile)`,
      });
  }
}

/** The mass-assignment findings of each operation while API3 runs (`api3.run`), to report as one each. */
const storedFindings = new WeakMap<
  ScanContext,
  Map<string, { inputs: FindingInput[]; fields: Map<string, string> }>
>();

/**
 * A mass-assignment finding: the fields stored, each with why it counts. While API3 runs, the probes of one
 * operation (the read-back probe's `creditCents`, then the privileged probe's `role: admin`) make one finding
 * that names every field stored, a privilege first (`flushStored`); else it is reported at once.
 */
function reportStored(ctx: ScanContext, fields: readonly (readonly [string, string])[], input: FindingInput) {
  const buffer = storedFindings.get(ctx);
  const op = input.operation;
  if (!buffer || !op) return ctx.report(SCAN_RULES.massAssignment, input);
  const key = `${op.method} ${op.path}`;
  let entry = buffer.get(key);
  if (!entry) {
    entry = { inputs: [], fields: new Map() };
    buffer.set(key, entry);
  }
  entry.inputs.push(input);
  for (const [name, why] of fields) if (!entry.fields.has(name)) entry.fields.set(name, why);
}

/** Reports the findings `reportStored` held: one per operation, every field it stored, privileges first. */
function flushStored(ctx: ScanContext): void {
  const buffer = storedFindings.get(ctx);
  storedFindings.delete(ctx);
  for (const { inputs, fields } of buffer?.values() ?? []) {
    if (inputs.length === 1) {
      ctx.report(SCAN_RULES.massAssignment, inputs[0]);
      continue;
    }
    const rank = (n: string) =>
      ELEVATING.test(n) || PRIVILEGE_NAME.test(n) ? 0 : n in PRIVILEGED ? 1 : n === 'portcullisProbe' ? 3 : 2;
    const names = [...fields.keys()].sort((a, b) => rank(a) - rank(b));
    // The evidence of the probe that stored the first field named (the privilege).
    const named = (i: FindingInput) => {
      const f = i.evidence?.fields;
      return Array.isArray(f) && f.includes(names[0]);
    };
    const lead = inputs.find(named) ?? inputs[0];
    const op = lead.operation as Operation;
    ctx.report(SCAN_RULES.massAssignment, {
      ...lead,
      message: `${op.method} ${op.path} stored fields a client must not set: ${names.map((n) => `${n} (${fields.get(n)})`).join(', ')}.`,
      evidence: { ...lead.evidence, fields: names },
    });
  }
}

/** Accounts of the scan's own a probe sent privileged fields to that no read of theirs shows: never reused. */
const blindlyProbed = new WeakSet<Identity>();

/** At most this many admin-only reads are asked before and after a probe of an account of the scan's own. */
const MAX_ADMIN_READS = 3;

/**
 * The admin-only reads (`GET /v1/admin/audit`: a path, tag or scope naming admins; no path parameter) that refuse
 * `as` now (403, or a refusal in a 2xx answer).
 */
async function refusedAdminReads(ctx: ScanContext, as: Identity): Promise<PlannedRequest[]> {
  const out: PlannedRequest[] = [];
  for (const o of ctx.spec.operations) {
    if (out.length >= MAX_ADMIN_READS) break;
    if (o.method !== 'GET' || isExcluded(o) || o.path.includes('{') || !isAdminOperation(o)) continue;
    const req = planRequest(ctx.spec, o, ctx.objects, { owner: as.name });
    const res = await ctx.send(req, as);
    if (res && (res.status === 403 || (isSuccess(res) && looksRefused(res)))) out.push(req);
  }
  return out;
}

/** An ordinary value for a privileged field the probe set (`false` for a flag, `user` for a role, none for a grant). */
function ordinaryValue(name: string, sent: unknown): unknown {
  if (typeof sent === 'boolean') return false;
  if (Array.isArray(sent)) return [];
  if (typeof sent === 'number') return 0;
  if (/plan|tier/i.test(name)) return 'free';
  return 'user';
}

/**
 * After a probe of an account of the scan's own: every privileged field it sent that no read of the record shows
 * is set back blindly (its ordinary value: false, `user`, none), since whether it was stored cannot be seen; an
 * admin-only read that refused the account before the probe and answers it after is the escalation, reported
 * when the probe reported nothing. Such an account is never reused as an ordinary one (retireIfElevated).
 */
async function blindSetBack(
  ctx: ScanContext,
  probe: Probe,
  state: {
    readonly sentNames: readonly string[];
    readonly injected: Readonly<Record<string, unknown>>;
    readonly original: Readonly<Record<string, unknown>> | undefined;
    readonly refusedReads: readonly PlannedRequest[];
    readonly restored: readonly string[] | undefined;
  },
): Promise<void> {
  const { op, as, target } = probe;
  if (!target) return;
  const hidden = state.sentNames.filter((n) => !(n in (state.original ?? {})));
  if (hidden.length === 0) return;
  blindlyProbed.add(as);
  let opened: { req: PlannedRequest; res: ScanResponse } | undefined;
  for (const req of state.refusedReads) {
    const res = await ctx.send(req, as);
    if (isSuccess(res) && !looksRefused(res)) {
      opened = { req, res };
      break;
    }
  }
  const values = Object.fromEntries(hidden.map((n) => [n, ordinaryValue(n, state.injected[n])]));
  // Sent as the probe's own writes were (the account's own profile), not as a restore of a given identity's.
  let back = await ctx.send({ ...target, body: { ...probe.base, ...values } }, as, { ownProfile: true });
  // Refused as a whole (a role the API does not list, an unknown column): each field alone, flags first.
  if (!isSuccess(back) || looksRefused(back)) {
    const flagsFirst = [...hidden].sort((a, b) => Number(ELEVATING.test(b)) - Number(ELEVATING.test(a)));
    let all = true;
    for (const n of flagsFirst) {
      const one = await ctx.send({ ...target, body: { ...probe.base, [n]: values[n] } }, as, {
        ownProfile: true,
      });
      if (!isSuccess(one) || looksRefused(one)) all = false;
      else back = one;
    }
    if (!all) back = undefined;
  }
  if (opened && state.restored === undefined) {
    reportStored(
      ctx,
      hidden.map((n) => [n, 'privileged, answered by an admin read']),
      {
        operation: op,
        message: `${op.method} ${op.path} stored a privileged field no read shows: after ${as.name} (an account of the scan's own) sent ${hidden.join(', ')}, ${opened.req.path.split('?')[0]} answered it, which refused it before.`,
        evidence: evidenceOf(opened.res, { fields: hidden, identity: as.name }),
      },
    );
  }
  if (opened) {
    const still = await ctx.send(opened.req, as);
    if (!isSuccess(back) || (isSuccess(still) && !looksRefused(still)))
      ctx.warn?.(
        `${as.name}, an account of the scan's own, may still be privileged (${opened.req.path.split('?')[0]} answers it after ${hidden.join(', ')} were set back): remove it on the target by hand`,
      );
  }
}

/**
 * Notes the privilege fields a probe of a given identity's own record did not send: its read does not show
 * them, so whether one was stored, and set back, could not be seen. `nothing`: no such field was left to send.
 */
function noteHidden(
  ctx: ScanContext,
  op: Operation,
  as: Identity,
  hidden: readonly string[],
  nothing: boolean,
  where?: string,
): void {
  ctx.note?.({
    operation: op,
    rule: SCAN_RULES.massAssignment,
    reason: `not sent to ${where !== undefined ? `${where} as ${as.name} (a given identity)` : `${as.name}'s own record (a given identity's)`}: ${hidden.slice(0, 8).join(', ')}${hidden.length > 8 ? ` and ${hidden.length - 8} more` : ''}, as its read does not show them, so a stored value could not be seen or set back; an account of the scan's own (a sign-up) would carry them`,
    ...(nothing ? { incomplete: true } : {}),
  });
}

/**
 * Names whose stored value makes an account privileged: when the scan stored one on an identity's own account
 * and cannot set it back, that identity is no ordinary identity any more.
 */
const ELEVATING =
  /^(roles?|user_?roles?|is_?admin|admin|is_?super_?user|is_?staff|permissions?|scopes?|privileges?|groups?|access_?level|permission_?level|account_?(type|role|level)|user_?(type|level))$/i;

/**
 * A person's money and the state of their account, by name (`balance`, `balanceCents`, `credit`, `loyalty_points`,
 * `wallet`; `verified`, `email_verified`, `approved`, `active`, `locked`): never written into a given identity's
 * record, even to set it back (an absolute set-back loses what moved in between, and a withdrawn verification
 * locks a real person out). Probed only on an account of the scan's own.
 */
const MONEY_OR_STATE =
  /balance|credit|points|wallet|amount|funds|coins|cents$|^(is_?)?(e_?mail_?)?(verified|approved|active|locked|enabled|disabled|banned|suspended|blocked|confirmed)$|_(verified|approved|locked|confirmed)$/i;

/**
 * Whether a value read back is the one a probe sent: the same JSON, or the number as a numeric text (`"999999.00"`,
 * `"999999"`: a DECIMAL column, a driver that gives every column as text), or a flag as `1`/`"1"`.
 */
export function storedAs(read: unknown, sent: unknown): boolean {
  if (JSON.stringify(read) === JSON.stringify(sent)) return true;
  if (typeof sent === 'number' && typeof read === 'string' && /^-?\d+(\.\d+)?$/.test(read.trim()))
    return Number(read) === sent;
  if (sent === true) return read === 1 || read === '1';
  return false;
}

/** The same value, as JSON or as text (a query parameter reads back as a number or a boolean). */
function sameValue(a: unknown, b: unknown): boolean {
  if (JSON.stringify(a) === JSON.stringify(b)) return true;
  return (
    a !== null && b !== null && typeof a !== 'object' && typeof b !== 'object' && String(a) === String(b)
  );
}

/**
 * Sets back what a probe stored on the identity's own account (or object): the same operation with the
 * original values (null for a field the record did not show), as the identity, then as the admin when the
 * identity cannot (any more); each write is confirmed by reading the record back. A privilege-like field that
 * cannot be set back marks the identity elevated (later checks no longer take it for an ordinary identity) only
 * when a read after the set-back shows it changed: a probe the API refused (415, 422) stored nothing, and its
 * set-back is refused alike while the record still holds its own value. Returns the fields the record holds as
 * they were (set back, or never changed).
 */
async function restoreOwn(
  ctx: ScanContext,
  input: {
    readonly as: Identity;
    readonly op: Operation;
    /** The fields the probe stored, with their values before it (undefined: the record did not show it). */
    readonly originals: Readonly<Record<string, unknown>>;
    /** What the probe stored, for the warning. */
    readonly stored: Readonly<Record<string, unknown>>;
    /** Fields stored with a privileged value (beside the ELEVATING names). */
    readonly privileged: readonly string[];
    readonly write: (values: Record<string, unknown>, who: Identity) => Promise<ScanResponse | undefined>;
    readonly read: (who: Identity) => Promise<Record<string, unknown> | undefined>;
    /** The observation count when the probe was sent. */
    readonly since: number;
  },
): Promise<string[]> {
  const { as, op, originals } = input;
  // A field the record did not show before is set back to null (absent and null alike grant nothing).
  const known = Object.fromEntries(Object.entries(originals).map(([k, v]) => [k, v ?? null]));
  const holds = (now: unknown, v: unknown) =>
    v === null ? now === null || now === undefined || now === '' : sameValue(now, v);
  const restored = new Set<string>();
  // The admin writes the record only where the path names it (`/users/{id}`): at `/users/me` it would change its own.
  for (const who of [as, ...(ctx.admin && op.path.includes('{') ? [ctx.admin] : [])]) {
    const pending = Object.fromEntries(Object.entries(known).filter(([k]) => !restored.has(k)));
    if (Object.keys(pending).length === 0) break;
    const res = await input.write(pending, who);
    if (!isSuccess(res) || looksRefused(res)) continue;
    const after = (await input.read(as)) ?? (who === as ? undefined : await input.read(who));
    if (!after) continue;
    for (const [k, v] of Object.entries(pending)) if (holds(after[k], v)) restored.add(k);
  }
  let kept = Object.keys(known).filter(
    (k) => !restored.has(k) && (ELEVATING.test(k) || input.privileged.includes(k)),
  );
  if (kept.length > 0) {
    // The record as it is now: a field that holds its own value was never changed (or is back); one that no read
    // shows stays kept (fail closed).
    const now = await input.read(as);
    if (now) {
      for (const k of kept) if (holds(now[k], known[k])) restored.add(k);
      kept = kept.filter((k) => !restored.has(k));
    }
  }
  if (kept.length > 0) {
    ctx.markElevated?.({
      identity: as.name,
      fields: kept.map((k) => `${k}=${JSON.stringify(input.stored[k])}`),
      operation: `${op.method} ${op.path}`,
      since: input.since,
    });
  }
  return [...restored];
}

/**
 * After a probe of the identity's own record (its profile, often): the fields the probe's requests sent that the
 * record showed before and shows otherwise now (a sampled `display_name` a control wrote, not only what the probe
 * stored) are written back as they were and read again (restoreOwn). A field that stays changed is noted.
 */
async function setBackSent(
  ctx: ScanContext,
  input: {
    readonly as: Identity;
    readonly op: Operation;
    /** The record is an object the scan made (its clean-up deletes it or names it): no reset by hand to ask. */
    readonly scanMade?: boolean;
    /** The record before the probe's first write. */
    readonly before: Readonly<Record<string, unknown>>;
    /** The names the probe's requests carried. */
    readonly sent: Iterable<string>;
    readonly write: (values: Record<string, unknown>, who: Identity) => Promise<ScanResponse | undefined>;
    readonly read: (who: Identity) => Promise<Record<string, unknown> | undefined>;
    readonly since: number;
  },
): Promise<void> {
  const { before } = input;
  const after = await input.read(input.as);
  if (!after) return;
  const changed = [...new Set(input.sent)].filter(
    (k) => k in before && !BOOKKEEPING.test(k) && !sameValue(after[k], before[k]),
  );
  if (changed.length === 0) return;
  const restored = await restoreOwn(ctx, {
    as: input.as,
    op: input.op,
    originals: Object.fromEntries(changed.map((k) => [k, before[k]])),
    stored: Object.fromEntries(changed.map((k) => [k, after[k]])),
    privileged: [],
    write: input.write,
    read: input.read,
    since: input.since,
  });
  const kept = changed.filter((k) => !restored.includes(k));
  if (kept.length === 0) return;
  const { note, warning } = setBackFailed(input.as.name, input.op, kept, before);
  ctx.note?.({ operation: input.op, rule: SCAN_RULES.massAssignment, reason: note });
  // Loud: a given identity's record keeps what the probe's requests stored (a sampled display name) from now on.
  // An account of the scan's own, or an object the scan made, is the clean-up's (deleted, or named as left): no
  // work by hand to ask for (review R2-R1).
  if (!scanAccounts.has(input.as) && input.scanMade !== true) ctx.warn?.(warning);
}

/**
 * The cell note and the report warning for fields of `who`'s record a probe of `op` changed and could not set
 * back: each field with the value it had, cut at 80 characters; a password-like or secret field's value never
 * (`its former value`).
 */
export function setBackFailed(
  who: string,
  op: Pick<Operation, 'method' | 'path'>,
  kept: readonly string[],
  before: Readonly<Record<string, unknown>>,
): { note: string; warning: string } {
  const was = (k: string) =>
    PASSWORD_FIELD.test(k) || NOT_RESENT.test(k)
      ? 'its former value'
      : `'${String(JSON.stringify(before[k])).replace(/^"|"$/g, '').slice(0, 80)}'`;
  return {
    note: `${who}'s record could not be set back after the probe: ${kept.map((k) => `${k} was ${was(k)}`).join(', ')}`,
    warning: `${kept.map((k) => `${who}'s ${k} could not be set back to ${was(k)}`).join('; ')} after the API3 probe of ${op.method} ${op.path}: reset it on the target by hand`,
  };
}

/** Names of the fields an account signs in with or is reached at: its login name, e-mail, phone. */
const LOGIN_KEY = /^(user_?name|login|handle|e_?mail|email_?address|mail|phone(_?number)?|mobile)$/i;

/** The identities of accounts the scan registered for its own probes (never a given identity). */
const scanAccounts = new WeakSet<Identity>();

/**
 * A field of a record that a probe never writes with another value: a password or secret, a login name or
 * e-mail (by name, as `who`'s login names it, or holding a value `who` logs in with). Changing one would lock a
 * given identity out of its account (or the scan out of its own).
 */
function isLoginField(key: string, value: unknown, who: Identity): boolean {
  if (PASSWORD_FIELD.test(key) || NOT_RESENT.test(key) || LOGIN_KEY.test(key)) return true;
  const login = who.login?.body ?? {};
  if (key in login) return true;
  return (
    typeof value === 'string' &&
    Object.values(login).some(
      (v) => typeof v === 'string' && v.length >= 3 && v.toLowerCase() === value.toLowerCase(),
    )
  );
}

/**
 * A body for a record of `who`'s with no changed login field: such a field keeps the record's own value (what
 * `record` shows), else is left out.
 */
function keepLogin(
  body: Readonly<Record<string, unknown>>,
  record: Readonly<Record<string, unknown>> | undefined,
  who: Identity,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(body)) {
    if (!isLoginField(k, record?.[k] ?? v, who)) out[k] = v;
    else if (record !== undefined && k in record && !PASSWORD_FIELD.test(k) && !NOT_RESENT.test(k))
      out[k] = record[k];
  }
  return out;
}

/** The scan's own account for the account-record probes, per scan (its object registry). */
const ownAccounts = new WeakMap<object, Promise<Throwaway | undefined>>();

/** An account of the scan's own at an account item route: the account, and the path value naming it. */
interface ScanAccount {
  readonly v: Throwaway;
  readonly params: Readonly<Record<string, string>>;
  readonly id: string;
}

/**
 * An account of the scan's own (reused, else registered through the document's sign-up as pcm<random>) to carry
 * a probe of an account item route (`PATCH /users/{id}`) instead of a given identity's account: its id read
 * back as its own (checkIds) and its path claimed as scan-created, so the safety rule lets the write through.
 * Undefined when the API has no sign-up, the account's id cannot be checked, or the route has another parameter.
 */
async function scanAccountAt(ctx: ScanContext, op: Operation): Promise<ScanAccount | undefined> {
  const param = accountParam(op.path);
  if (param === undefined || /name|mail/i.test(param)) return undefined;
  if (!op.path.replace(/\/$/, '').endsWith(`{${param}}`)) return undefined;
  if (op.parameters.some((p) => p.in === 'path' && p.name !== param)) return undefined;
  const v = await scanAccount(ctx);
  if (!v) return undefined;
  // A login that answers only a token tells the account no id: its own-profile read may (`GET /account` →
  // `{uid: 9, username: pcm…}`), checked as any other (checkIds: V's read at the item route shows V's name).
  const extra = (await ownReadIds(ctx, v)).filter((id) => !v.ids.includes(id));
  await checkIds(ctx, extra.length > 0 ? { ...v, ids: [...v.ids, ...extra] } : v);
  for (const id of v.checked) {
    const params = { [param]: id };
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: v.name, params });
    if (req.invented.length > 0) continue;
    claimAccountPath(ctx, op, req, v, param, id);
    if (ctx.objects.isScanCreated(req.path.split('?')[0])) return { v, params, id };
  }
  return undefined;
}

/** The scan's own account for the account-record probes (reused, else registered as pcm<random>), per scan. */
async function scanAccount(ctx: ScanContext): Promise<Throwaway | undefined> {
  let pending = ownAccounts.get(ctx.objects);
  if (!pending) {
    pending = (async () =>
      (await reuseThrowaway(ctx)) ?? (await registerThrowaway(ctx, findLoginTarget(ctx), 'pcm')))();
    ownAccounts.set(ctx.objects, pending);
  }
  const v = await pending;
  if (v) scanAccounts.add(v.identity);
  return v;
}

/** The ids each account of the scan's own read at its own-profile reads, per account. */
const ownReads = new WeakMap<Throwaway, Promise<string[]>>();

/**
 * The ids V's own record shows at the document's own-profile reads (`GET /me`, `GET /v1/account`; at most 2): the
 * id members (`id`, `uid`, `user_id`...) of the record that carries V's name or e-mail. Unchecked.
 */
function ownReadIds(ctx: ScanContext, v: Throwaway): Promise<string[]> {
  let pending = ownReads.get(v);
  if (!pending) {
    pending = (async () => {
      const out = new Set<string>();
      const reads = ctx.spec.operations
        .filter(
          (o) =>
            o.method === 'GET' && !isExcluded(o) && !o.path.includes('{') && OWN_PROFILE_READ.test(o.path),
        )
        .slice(0, 2);
      for (const op of reads) {
        const res = await ctx.send(planRequest(ctx.spec, op, ctx.objects, { owner: v.name }), v.identity);
        if (!isSuccess(res) || looksRefused(res) || res.json === undefined) continue;
        for (const record of recordsOf(res.json, [v.name, v.email], false))
          for (const key of ID_KEYS) {
            const id = record[key];
            if ((typeof id === 'string' || typeof id === 'number') && String(id) !== '' && out.size < 6)
              out.add(String(id));
          }
      }
      return [...out];
    })();
    ownReads.set(v, pending);
  }
  return pending;
}

/**
 * After the probes on the scan's own account: an account left privileged (a stored role the set-back could not
 * undo) is no ordinary account any more, and no later check reuses it.
 */
async function retireIfElevated(
  ctx: ScanContext,
  account: ScanAccount,
  before: Readonly<Record<string, unknown>> | undefined,
  read: (who: Identity) => Promise<Record<string, unknown> | undefined>,
): Promise<void> {
  const after = await read(account.v.identity);
  const changed =
    before === undefined ||
    after === undefined ||
    Object.keys({ ...before, ...after }).some(
      (k) => (ELEVATING.test(k) || k in PRIVILEGED) && !sameValue(before[k], after[k]),
    );
  if (!changed && !blindlyProbed.has(account.v.identity)) return;
  retireThrowaway(ctx, account.v);
  ownAccounts.delete(ctx.objects);
}

/** Fields a read shows that are identifiers or timestamps: not worth writing. */
const BOOKKEEPING = /(^id$|_id$|[a-z]Id$|^uuid$|_at$|[a-z]At$|date|time|^created|^updated|^version$)/i;
/** The number written into fields a read shows: no action sets it by itself. */
const READ_BACK_VALUE = 424242;

/** The GET operations that show the object an operation acts on: the same path, the object's own path, its collection. */
function readsOf(ctx: ScanContext, op: Operation): Operation[] {
  const segs = op.path.split('/');
  let last = -1;
  segs.forEach((seg, i) => {
    if (/^\{[^}]+\}$/.test(seg)) last = i;
  });
  const paths = [
    op.path,
    ...(last >= 0 ? [segs.slice(0, last + 1).join('/'), segs.slice(0, last).join('/')] : []),
  ];
  const out: Operation[] = [];
  for (const path of paths) {
    const bare = path.replace(/\/$/, '');
    const get = ctx.spec.operations.find(
      (o) => o.method === 'GET' && o.path.replace(/\/$/, '') === bare && !isExcluded(o),
    );
    if (get && !out.includes(get)) out.push(get);
  }
  return out;
}

/** The record of a read that is our object: the one carrying its id, or for a profile the top-level record. */
export function recordFor(view: unknown, id: string | undefined): Record<string, unknown> | undefined {
  if (id === undefined) return topRecord(view);
  let found: Record<string, unknown> | undefined;
  const walk = (v: unknown, depth: number) => {
    if (found || depth > 5 || v === null || typeof v !== 'object') return;
    if (Array.isArray(v)) {
      for (const item of v.slice(0, 100)) walk(item, depth + 1);
      return;
    }
    const record = v as Record<string, unknown>;
    if (
      Object.entries(record).some(
        ([k, x]) =>
          (typeof x === 'string' || typeof x === 'number') && String(x) === id && BOOKKEEPING.test(k),
      )
    ) {
      found = record;
      return;
    }
    for (const x of Object.values(record)) walk(x, depth + 1);
  };
  walk(view, 0);
  return found;
}

/** `card_limit` names the same thing as a declared `limit`: the action's own input, not an extra one. */
function aliasOf(field: string, declared: readonly string[]): boolean {
  const words = field
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[_-]+/);
  return declared.some((d) => words.includes(d.toLowerCase()));
}

/**
 * The fields of a record that a request may try to write although it does not declare them: plain values,
 * neither declared nor an alias of a declared input, nor ids, timestamps or secrets; at most a few.
 */
export function shownFields(
  record: Readonly<Record<string, unknown>>,
  declared: readonly string[],
): string[] {
  return Object.entries(record)
    .filter(
      ([k, v]) =>
        (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string') &&
        !declared.includes(k) &&
        !BOOKKEEPING.test(k) &&
        !SENSITIVE_KEY.test(k) &&
        !ALWAYS_SECRET.test(k) &&
        !aliasOf(k, declared),
    )
    .map(([k]) => k)
    .slice(0, MAX_SINGLE_PROBES);
}

/** Another value of the same type, one no action produces by itself: a number, the boolean flipped, a marker. */
export function changedValue(v: unknown, marker: string): unknown {
  if (typeof v === 'number') return v === READ_BACK_VALUE ? READ_BACK_VALUE + 1 : READ_BACK_VALUE;
  // A number given as text (`"75.00"`: every column of a PHP answer is a string): a number all the same.
  if (typeof v === 'string' && /^-?\d{1,15}(\.\d{1,6})?$/.test(v.trim()))
    return Number(v) === READ_BACK_VALUE ? READ_BACK_VALUE + 1 : READ_BACK_VALUE;
  return typeof v === 'boolean' ? !v : marker;
}

/**
 * Mass assignment through the fields an object shows: an update or an action on the identity's own object
 * (or profile) is sent with the numeric fields that its reads show and its request schema does not declare
 * (`current_balance` beside a declared `limit`), set to a value no action produces; the object read back
 * with that value stored them. The body is tried with the planned inputs, then without them (a documented
 * input the server does not know may fail the whole request), then one field at a time.
 */
async function readBackAssignment(
  ctx: ScanContext,
  op: Operation,
  as: Identity,
  params?: Readonly<Record<string, string>>,
): Promise<void> {
  const schema = bodySchema(op);
  if (schema === undefined) return;
  const plan = { owner: as.name, ...(params ? { params } : {}) };
  const req = planRequest(ctx.spec, op, ctx.objects, plan);
  if (req.invented.length > 0) return;
  // The object's id: the value of the path's last parameter.
  const tSegs = op.path.split('/');
  const cSegs = req.path.split('?')[0].split('/');
  let id: string | undefined;
  tSegs.forEach((seg, i) => {
    if (/^\{[^}]+\}$/.test(seg) && cSegs[i] !== undefined) id = decodeURIComponent(cSegs[i]);
  });
  // Only the identity's own object (one it created) or its own profile is changed.
  const own =
    !op.path.includes('{') ||
    req.ownedPath ||
    ctx.objects.isScanCreated(req.path.split('?')[0]) ||
    ctx.objects.of(as.name).some((o) => o.id === id);
  if (!own) return;
  const read = async (): Promise<Record<string, unknown> | undefined> => {
    for (const get of readsOf(ctx, op)) {
      const res = await ctx.send(planRequest(ctx.spec, get, ctx.objects, plan), as);
      if (!isSuccess(res) || res.json === undefined) continue;
      const record = recordFor(res.json, id);
      if (record) return record;
    }
    return undefined;
  };
  const original = await read();
  if (!original) return;
  let before: Record<string, unknown> = original;
  const declared = Object.keys(propertiesOf(ctx.spec, schema));
  const marker = `pcma-${randomUUID().slice(0, 8)}`;
  const valueFor = (v: unknown) => changedValue(v, marker);
  // Never a login name, e-mail or password (a given identity would be locked out of its account, the scan out of
  // its own); never a privilege of a given identity's (its account's probes go to an account of the scan's own).
  // A body schema that names nothing leaves every field undeclared: only privileges and non-text fields count.
  const given = !scanAccounts.has(as);
  // A given identity's own record (not an object the scan made as it): no money or account state written there.
  const person = given && !ctx.objects.isScanCreated(req.path.split('?')[0]);
  const writable = Object.entries(before).filter(
    ([k, v]) =>
      !isLoginField(k, v, as) &&
      !(given && ELEVATING.test(k)) &&
      !(person && MONEY_OR_STATE.test(k)) &&
      (declared.length > 0 || ELEVATING.test(k) || k in PRIVILEGED || typeof v !== 'string'),
  );
  // A given identity's money and account state are the scan's own account's to probe (MONEY_OR_STATE): said.
  const held = person
    ? shownFields(
        Object.fromEntries(
          Object.entries(before).filter(([k]) => MONEY_OR_STATE.test(k) && !ELEVATING.test(k)),
        ),
        declared,
      )
    : [];
  if (held.length > 0)
    ctx.note?.({
      operation: op,
      rule: SCAN_RULES.massAssignment,
      reason: `not sent to ${as.name}'s own record (a given identity's): ${held.slice(0, 8).join(', ')}, its money or account state; only an account of the scan's own carries those`,
    });
  let fields = shownFields(Object.fromEntries(writable), declared);
  if (fields.length === 0) return;
  const planned = keepLogin(
    req.body !== null && typeof req.body === 'object' && !Array.isArray(req.body)
      ? (req.body as Record<string, unknown>)
      : {},
    original,
    as,
  );
  const firstWrite = ctx.observations.length;
  try {
    await readBackProbe();
  } finally {
    // The planned body (a sampled display name) changed the record too: set back all it sent.
    await setBackSent(ctx, {
      as,
      op,
      scanMade: ctx.objects.isScanCreated(req.path.split('?')[0]),
      before: original,
      sent: [...Object.keys(planned), ...fields],
      write: (values, who) => ctx.send({ ...req, body: values }, who, { restore: true, ownProfile: true }),
      read: () => read(),
      since: firstWrite,
    });
  }
  async function readBackProbe(): Promise<void> {
    // The controls: the action as planned, and with an empty body; a field one of them changes is the action's
    // own doing (an approval sets `approved`), not ours.
    for (const body of [planned, {}]) {
      const res = await ctx.send({ ...req, body }, as, { ownProfile: true });
      if (!isSuccess(res) || looksRefused(res)) continue;
      const after = await read();
      if (!after) return;
      const prior = before;
      fields = fields.filter((k) => JSON.stringify(after[k]) === JSON.stringify(prior[k]));
      before = after;
      break;
    }
    const current = before;
    const extra = Object.fromEntries(fields.map((k) => [k, valueFor(current[k])]));
    const attempts: Record<string, unknown>[] = [{ ...planned, ...extra }, extra];
    if (fields.length > 1) for (const k of fields) attempts.push({ [k]: extra[k] });
    const stored = new Set<string>();
    let evidence: ScanResponse | undefined;
    const since = ctx.observations.length;
    for (const body of attempts) {
      if (fields.length === 0 || Object.keys(body).every((k) => stored.has(k) || !(k in extra))) continue;
      const res = await ctx.send({ ...req, body }, as, { ownProfile: true });
      if (!isSuccess(res) || looksRefused(res)) continue;
      const after = await read();
      const now = fields.filter(
        (k) =>
          k in body &&
          after !== undefined &&
          (typeof extra[k] === 'number' ? Number(after[k]) === extra[k] : after[k] === extra[k]),
      );
      for (const k of now) stored.add(k);
      if (now.length > 0) evidence ??= res;
      if (stored.size === fields.length || (now.length > 0 && body === attempts[0])) break;
    }
    if (!evidence || stored.size === 0) return;
    // Set back what was stored (a flipped `is_admin` of the identity's own profile included).
    const restored = await restoreOwn(ctx, {
      as,
      op,
      originals: Object.fromEntries([...stored].map((k) => [k, current[k]])),
      stored: extra,
      // A privilege of a given identity's own record that stays changed is loud.
      privileged: given ? [...stored].filter((k) => k in PRIVILEGED || PRIVILEGE_NAME.test(k)) : [],
      write: (values, who) => ctx.send({ ...req, body: values }, who, { restore: true, ownProfile: true }),
      read: () => read(),
      since,
    });
    reportStored(
      ctx,
      [...stored].map((n) => [n, 'undeclared, shown by reads']),
      {
        operation: op,
        message: `${op.method} ${op.path} stored fields its request does not declare, taken from what the object shows and confirmed by reading it back: ${[...stored].map((n) => `${n} (undeclared, shown by reads)`).join(', ')}.`,
        evidence: evidenceOf(evidence, {
          fields: [...stored],
          identity: as.name,
          ...(restored.length > 0 ? { restored } : {}),
        }),
      },
    );
  }
}

/** A query string with more parameters (replacing any of the same name). */
function withQuery(path: string, extra: Readonly<Record<string, string>>): string {
  const q = path.indexOf('?');
  const params = new URLSearchParams(q < 0 ? '' : path.slice(q + 1));
  for (const [k, v] of Object.entries(extra)) params.set(k, v);
  return `${q < 0 ? path : path.slice(0, q)}?${params.toString()}`;
}

/**
 * Mass assignment through the query string, for updates that take their inputs there instead of a body
 * (`PUT /users/{id}?email=...`): the privileged names (declared as query parameters or not) sent with an
 * update of the identity's own object. Stored when the object's read shows the value after the probe and did
 * not after the control (the same update without them).
 */
async function queryMassAssignment(
  ctx: ScanContext,
  op: Operation,
  as: Identity,
  target: PlannedRequest,
  read: PlannedRequest,
): Promise<void> {
  const injected: Record<string, string> = {};
  const why: Record<string, string> = {};
  for (const p of op.parameters) {
    if (p.in !== 'query') continue;
    const s = resolveSchema(ctx.spec, p.schema);
    if (INTERNAL.test(p.name)) {
      // A field the server keeps for itself (`internal_status`, `internalNote`), named so.
      const type = schemaType(s);
      if (type !== undefined && type !== 'string' && type !== 'boolean') continue;
      injected[p.name] = type === 'boolean' ? 'true' : `pcinternal${Date.now().toString(36)}`;
      why[p.name] = 'internal, declared';
      continue;
    }
    const listed = privilegedEnum(s);
    const value = p.name in PRIVILEGED ? PRIVILEGED[p.name] : listed;
    if (value === undefined || typeof value === 'object') continue;
    injected[p.name] = String(value);
    why[p.name] = p.name in PRIVILEGED ? 'privileged, declared' : 'privileged value';
  }
  for (const [name, value] of Object.entries(PRIVILEGED)) {
    if (name in injected || typeof value === 'object') continue;
    injected[name] = String(value);
    why[name] = 'privileged';
  }
  const ownProfile = { ownProfile: true };
  const readRecord = async (who: Identity) => {
    const again = await ctx.send(read, who);
    return isSuccess(again) ? topRecord(again.json) : undefined;
  };
  // The record before the first write (the control writes the sampled ordinary inputs: set back afterwards).
  const pristine = await readRecord(as);
  // A given identity's own record gets only the fields its read shows (one stored unseen is never set back).
  if (!scanAccounts.has(as)) {
    const hidden = Object.keys(injected).filter((n) => !(n in (pristine ?? {})));
    for (const n of hidden) delete injected[n];
    if (hidden.length > 0) noteHidden(ctx, op, as, hidden, Object.keys(injected).length === 0);
    if (Object.keys(injected).length === 0) return;
  }
  // The control sends the ordinary inputs (an update with none is often refused), never the probed ones, and
  // never a login name, e-mail or password but the one the record holds.
  const plain = new URL(target.path, 'http://x');
  for (const name of Object.keys(injected)) plain.searchParams.delete(name);
  for (const name of [...plain.searchParams.keys()]) {
    if (!isLoginField(name, pristine?.[name] ?? plain.searchParams.get(name), as)) continue;
    const held = pristine?.[name];
    if (held !== undefined && held !== null && typeof held !== 'object' && !PASSWORD_FIELD.test(name))
      plain.searchParams.set(name, String(held));
    else plain.searchParams.delete(name);
  }
  target = { ...target, path: `${plain.pathname}${plain.search}` };
  const firstWrite = ctx.observations.length;
  try {
    await queryProbe();
  } finally {
    if (pristine) {
      const sent = [...new URL(target.path, 'http://x').searchParams.keys(), ...Object.keys(injected)];
      await setBackSent(ctx, {
        as,
        op,
        scanMade: ctx.objects.isScanCreated(target.path.split('?')[0]),
        before: pristine,
        sent,
        write: (values, who) => {
          const text = Object.fromEntries(
            Object.entries(values).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]),
          );
          return ctx.send({ ...target, path: withQuery(target.path, text) }, who, { restore: true });
        },
        read: readRecord,
        since: firstWrite,
      });
    }
  }
  async function queryProbe(): Promise<void> {
    let control = await ctx.send(target, as, ownProfile);
    const beside = itemRouteBeside(ctx.spec, op);
    let served = '';
    if ((control?.status === 404 || control?.status === 405) && beside !== undefined) {
      // The documented route is not served: the item route the document names beside it (a drifted document).
      const item = plain.pathname.split('/').slice(0, beside.split('/').length).join('/');
      target = { ...target, path: `${item}${plain.search}` };
      control = await ctx.send(target, as, ownProfile);
      served = ` (served at ${op.method} ${beside})`;
    }
    if (!isSuccess(control) || looksRefused(control)) return;
    const before = await ctx.send(read, as);
    if (!isSuccess(before)) return;
    const probe = { ...target, path: withQuery(target.path, injected) };
    const since = ctx.observations.length;
    const res = await ctx.send(probe, as, ownProfile);
    if (!isSuccess(res) || looksRefused(res)) return;
    const after = await ctx.send(read, as);
    if (!isSuccess(after)) return;
    const was = topRecord(before.json) ?? {};
    const now = topRecord(after.json) ?? {};
    const same = (v: unknown, want: string) => v !== undefined && v !== null && String(v) === want;
    const stored = Object.keys(injected).filter(
      (n) => same(now[n], injected[n]) && !same(was[n], injected[n]),
    );
    if (stored.length === 0) return;
    // Set back what was stored on the identity's own object (its role, often), as it was before the probe.
    const restored = await restoreOwn(ctx, {
      as,
      op,
      originals: Object.fromEntries(stored.map((n) => [n, was[n]])),
      stored: injected,
      // On a given identity's record every field the probe sent grants something: one kept is loud.
      privileged: scanAccounts.has(as) ? stored.filter((n) => why[n] === 'privileged value') : stored,
      write: (values, who) => {
        const text = Object.fromEntries(
          Object.entries(values).map(([k, v]) => [k, v === null || v === undefined ? '' : String(v)]),
        );
        return ctx.send({ ...target, path: withQuery(target.path, text) }, who, { restore: true });
      },
      read: async (who) => {
        const again = await ctx.send(read, who);
        return isSuccess(again) ? topRecord(again.json) : undefined;
      },
      since,
    });
    reportStored(
      ctx,
      stored.map((n) => [n, `query parameter, ${why[n]}`]),
      {
        operation: op,
        message: `${op.method} ${op.path}${served} stored query parameters a client must not set: ${stored.map((n) => `${n} (${why[n]})`).join(', ')}.`,
        evidence: evidenceOf(res, {
          fields: stored,
          identity: as.name,
          ...(restored.length > 0 ? { restored } : {}),
        }),
      },
    );
  }
}

/** A 2xx whose body says the request failed (`{"status": "fail", ...}`, `{"error": ...}`). */
export function looksRefused(res: ScanResponse): boolean {
  const body = res.json;
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return false;
  const r = body as Record<string, unknown>;
  if (r.success === false || r.ok === false) return true;
  if (typeof r.status === 'string' && /^(fail|failed|failure|error)$/i.test(r.status)) return true;
  return typeof r.error === 'string' && Object.keys(r).length <= 3;
}

/** An update without a body that takes its inputs from the query, of the identity's own object. */
async function queryUpdate(ctx: ScanContext, op: Operation, last: Identity): Promise<void> {
  if (op.method !== 'PUT' && op.method !== 'PATCH') return;
  if (!op.parameters.some((p) => p.in === 'query') || op.requestBody !== undefined) return;
  const get = ctx.spec.operations.find((o) => o.method === 'GET' && o.path === op.path && !isExcluded(o));
  if (!get) return;
  // The last identity's own object, else another ordinary identity's (each changes only what it owns).
  const others = ctx.identities.filter((i) => i.name !== last.name).reverse();
  for (const as of [last, ...others]) {
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: as.name, allQuery: true });
    if (req.invented.length > 0) continue;
    const path = req.path.split('?')[0];
    const own = !op.path.includes('{') || req.ownedPath || ctx.objects.isScanCreated(path);
    if (!own || (as !== last && !req.object)) continue;
    const read = planRequest(ctx.spec, get, ctx.objects, { owner: as.name });
    await queryMassAssignment(ctx, op, as, req, read);
    return;
  }
}

/**
 * Contact data, by name: e-mail, phone, postal address, birth date (not an IP, MAC or wallet address, an id
 * or a flag such as `email_verified`). Public profile fields (name, avatar) are not contact data.
 */
const CONTACT_KEY =
  /^(e_?mail|email_?address|contact_?email|phone|phone_?number|mobile|mobile_?phone|telephone|tel|address|street|street_?address|postal_?address|home_?address|shipping_?address|birth_?date|date_?of_?birth|dob|birthday)$/i;

/** Keys that name the user a record belongs to (not a bare `id`: store 1 and user 1 are different things). */
const USER_REF_KEY = /^(sub|uid|user_?id|userid|owner_?id|ownerid|user_?name|username|login)$/i;
/** A read of the caller's own profile: a path that names no object, ending in `me`, `profile`... */
const OWN_PROFILE_READ = /(^|\/)(me|self|profile|my_?profile|current_?user|whoami|account)\/?$/i;

/**
 * The contact data each identity's own record holds, in an answer it got itself: value → whose it is. A record
 * is the identity's own when a value in it is one of its login values (its user name or e-mail), when a key that
 * names a user (`user_id`, `owner_id`, `username`) holds one of its ids, or when its bare `id` is the identity's
 * id in the answer of an own-profile read (`GET /me`, `GET /users/6` for user 6), never by a small integer alone.
 * The admin's count too.
 */
function heldContactData(ctx: ScanContext): Map<string, string> {
  const out = new Map<string, string>();
  const people = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  const selves = new Map(
    people.map((p) => [
      p.name,
      {
        person: p,
        ids: selfIds(p),
        logins: new Set(
          Object.entries(p.login?.body ?? {})
            .filter(([k, v]) => !/pass|secret|otp|pin/i.test(k) && typeof v === 'string' && v.length >= 3)
            .map(([, v]) => String(v).toLowerCase()),
        ),
        named: namedSelfIds(p),
      },
    ]),
  );
  // Every person's ids by name, to tell a nested record of someone else's (`student: {student_id: 12}`) apart.
  const othersOf = (name: string) =>
    [...selves.values()].filter((o) => o.person.name !== name).map((o) => ({ ids: o.ids, named: o.named }));
  const fixed = fixedProfiles(ctx, new Set(selves.keys()));
  for (const { identity, response, request } of ctx.observations) {
    const self = identity !== undefined ? selves.get(identity) : undefined;
    if (!self || (self.ids.size === 0 && self.logins.size === 0)) continue;
    if (!isSuccess(response) || response.json === undefined) continue;
    const path = request.path.split('?')[0];
    // One fixed record to every identity (a single-user API's `/me`): no one's own.
    if (request.method === 'GET' && fixed.has(path)) continue;
    const ownRead =
      request.method === 'GET' && (OWN_PROFILE_READ.test(path) || isOwnAccount(path, self.person));
    // An object this identity made itself, read at its own path or in its creation's answer: its record is the
    // caller's (the nested `student` of a lesson it booked is the caller, unless it names another person).
    const madeByIt = ownObjectAnswer(ctx, identity!, request.method, path);
    const others = othersOf(identity!);
    const walk = (v: unknown, depth: number, top: boolean, inherited: boolean) => {
      if (depth > 5 || v === null || typeof v !== 'object' || out.size > 1000) return;
      if (Array.isArray(v)) {
        for (const item of v.slice(0, 50)) walk(item, depth + 1, false, inherited);
        return;
      }
      const record = v as Record<string, unknown>;
      const namesOther = others.some((o) => namesPerson(record, o.ids, o.named));
      const mine =
        ((inherited || (madeByIt && top)) && !namesOther) ||
        Object.entries(record).some(([k, x]) => {
          if (typeof x !== 'string' && typeof x !== 'number') return false;
          const value = String(x);
          if (typeof x === 'string' && self.logins.has(value.toLowerCase())) return true;
          // `student_id: 11` where its own login answer or token says `student_id: 11`.
          if (PERSON_ID_KEY.test(k) && self.named.get(idName(k))?.has(value)) return true;
          if (USER_REF_KEY.test(k)) return self.ids.has(value);
          return ownRead && top && /^(id|_id|uuid)$/i.test(k) && self.ids.has(value);
        });
      for (const [k, x] of Object.entries(record)) {
        if (mine && CONTACT_KEY.test(k) && typeof x === 'string' && x.trim().length >= 5)
          out.set(x, identity!);
        else if (x !== null && typeof x === 'object')
          // `{data: {...}}`, `{user: {...}}`: still the answer's own record; a person nested in the caller's own
          // record (`lesson.student`, `order.customer`) is the caller.
          walk(
            x,
            depth + 1,
            top && /^(data|user|profile|account|result)$/i.test(k),
            mine && PERSON_OBJECT_KEY.test(k),
          );
      }
    };
    walk(response.json, 0, true, false);
  }
  return out;
}

/** A member holding a person's id (`student_id`, `customerId`, `member_no`...; not a bare `id`). */
const PERSON_ID_KEY =
  /^(?:user|student|member|customer|client|patient|person|player|employee|owner|buyer|guest|traveller|traveler|learner|subscriber)_?(?:id|no|number|uuid)$/i;
/** A member holding the person a record is about or was made by (`order.customer`, `lesson.student`). */
const PERSON_OBJECT_KEY =
  /^(?:user|student|member|customer|client|patient|person|player|employee|owner|buyer|guest|traveller|traveler|learner|subscriber|profile|account|created_?by|placed_?by|booked_?by|ordered_?by)$/i;
/** A person-id member's name without case or separators (`studentId`, `student_id` → `studentid`). */
const idName = (key: string) => key.toLowerCase().replace(/[_-]/g, '');

/**
 * The person ids an identity was told are its own, by member name: members named like a person's id in its login
 * answer (three levels down: `{result: {student_id: 11}}`) and in its token's claims. Compared by name only: a
 * `customer_id` may count in another table than a `user_id`.
 */
function namedSelfIds(identity: Identity): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  const take = (v: unknown, depth: number) => {
    if (depth > 3 || v === null || typeof v !== 'object' || Array.isArray(v)) return;
    for (const [k, x] of Object.entries(v as Record<string, unknown>).slice(0, 100)) {
      if (PERSON_ID_KEY.test(k) && (typeof x === 'string' || typeof x === 'number') && String(x) !== '') {
        const set = out.get(idName(k)) ?? new Set<string>();
        out.set(idName(k), set);
        set.add(String(x));
      } else take(x, depth + 1);
    }
  };
  take(identity.login?.answer, 0);
  const parts = identity.token?.split('.') ?? [];
  if (parts.length === 3) {
    try {
      take(JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')), 0);
    } catch {
      // not a JWT
    }
  }
  return out;
}

/** Whether a record names a person by that person's own ids (a user reference, or a person id of the same name). */
function namesPerson(
  record: Readonly<Record<string, unknown>>,
  ids: ReadonlySet<string>,
  named: ReadonlyMap<string, ReadonlySet<string>>,
): boolean {
  return Object.entries(record).some(([k, x]) => {
    if (typeof x !== 'string' && typeof x !== 'number') return false;
    const value = String(x);
    return (
      (USER_REF_KEY.test(k) && ids.has(value)) ||
      (PERSON_ID_KEY.test(k) && named.get(idName(k))?.has(value) === true)
    );
  });
}

/**
 * Whether an answer is the identity's own object: a GET at the path of an object it created, or a POST to the
 * collection it created one in (the creation's answer).
 */
function ownObjectAnswer(ctx: ScanContext, identity: string, method: string, path: string): boolean {
  if (method !== 'GET' && method !== 'POST') return false;
  const bare = path.replace(/\/+$/, '');
  return ctx.objects
    .of(identity)
    .some((o) =>
      method === 'GET'
        ? o.path.replace(/\/+$/, '') === bare
        : o.createdBy.method === 'POST' && o.collection.replace(/\/+$/, '') === bare,
    );
}

/** Members that hold the name a person signs in with. */
const LOGIN_NAME_KEY = /^(?:user_?name|login|e_?mail|email_?address|handle)$/i;

/** The non-secret values an identity signs in with (its user name, its e-mail), lowercased. */
function loginValues(p: Identity): Set<string> {
  return new Set(
    Object.entries(p.login?.body ?? {})
      .filter(([k, v]) => !/pass|secret|otp|pin/i.test(k) && typeof v === 'string' && v.length >= 3)
      .map(([, v]) => String(v).toLowerCase()),
  );
}

/**
 * Whether an answer is the caller's own record, whatever its route: its top record (or the one under `data`,
 * `result`, `user`...) holds the user name or e-mail the caller signs in with, or the caller's own id under `id`
 * when the path ends in that id; and names no other given person.
 */
function ownRecordAnswer(
  json: unknown,
  person: Identity,
  path: string,
  people: readonly Identity[],
): boolean {
  const logins = loginValues(person);
  const ids = selfIds(person);
  const last = path.replace(/\/+$/, '').split('/').at(-1) ?? '';
  const records: Record<string, unknown>[] = [];
  const add = (v: unknown) => {
    if (v !== null && typeof v === 'object' && !Array.isArray(v)) records.push(v as Record<string, unknown>);
  };
  add(json);
  for (const [k, v] of Object.entries(records[0] ?? {}))
    if (/^(?:data|result|user|profile|account|record|item)$/i.test(k)) add(v);
  return records.some((r) => {
    const entries = Object.entries(r);
    const mine = entries.some(
      ([k, v]) =>
        (typeof v === 'string' && LOGIN_NAME_KEY.test(k) && logins.has(v.toLowerCase())) ||
        (/^(?:id|_id|uuid)$/i.test(k) &&
          (typeof v === 'string' || typeof v === 'number') &&
          String(v) === last &&
          ids.has(last)),
    );
    if (!mine) return false;
    return !people.some(
      (o) =>
        o.name !== person.name &&
        entries.some(
          ([k, v]) => typeof v === 'string' && LOGIN_NAME_KEY.test(k) && loginValues(o).has(v.toLowerCase()),
        ),
    );
  });
}

/** A session the scan made from a given identity's (`alice (altered token)`): not an account of its own. */
function derivedSession(identity: string, given: readonly string[]): boolean {
  return given.some((g) => identity.startsWith(`${g} (`));
}

/**
 * Own-profile reads (`GET /me`, no object in the path) that answered two identities or more, and every one of
 * them the same contact data: a single-user API's one fixed record, the same to everyone, not the caller's own.
 */
function fixedProfiles(ctx: ScanContext, people: ReadonlySet<string>): Set<string> {
  const seen = new Map<string, Map<string, string>>();
  for (const { identity, response, request } of ctx.observations) {
    if (identity === undefined || !people.has(identity) || request.method !== 'GET') continue;
    const path = request.path.split('?')[0];
    if (!OWN_PROFILE_READ.test(path) || !isSuccess(response) || response.json === undefined) continue;
    const values: string[] = [];
    eachScalar(response.json, '', values, (key, v) => {
      if (typeof v === 'string' && CONTACT_KEY.test(key)) values.push(v);
    });
    const answers = seen.get(path) ?? new Map<string, string>();
    if (seen.size < 1000) seen.set(path, answers);
    // An identity that got two different records there already makes the path its own.
    const text = JSON.stringify(values.sort());
    const before = answers.get(identity);
    answers.set(identity, before === undefined || before === text ? text : '\u0000differs');
  }
  const out = new Set<string>();
  for (const [path, answers] of seen) {
    const texts = new Set(answers.values());
    const [text] = texts;
    if (answers.size >= 2 && texts.size === 1 && text !== '[]' && text !== '\u0000differs') out.add(path);
  }
  return out;
}

/** Contact data of the identities' own records in an answer to a caller without credentials: its pointers. */
function othersContactData(value: unknown, held: ReadonlyMap<string, string>, sent: string): string[] {
  const out: string[] = [];
  if (held.size === 0) return out;
  eachScalar(value, '', out, (key, v, p) => {
    const whose =
      typeof v === 'string' && CONTACT_KEY.test(key) && !sent.includes(v) ? held.get(v) : undefined;
    if (whose !== undefined) out.push(`${p} (${whose}'s contact data shown to a caller without credentials)`);
  });
  return out;
}

/** The string values at the top of a request body (its own data when they come back). */
function bodyStrings(body: unknown): Set<string> {
  const out = new Set<string>();
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return out;
  for (const v of Object.values(body as Record<string, unknown>)) if (typeof v === 'string') out.add(v);
  return out;
}

/**
 * The values a request carried, decoded: its path segments and query values (three characters or more) and its
 * body's strings, a few levels down (bounded).
 */
function carriedValues(request: { readonly path: string; readonly body?: unknown }): Set<string> {
  const out = new Set<string>(queryValues(request.path));
  for (const seg of request.path.split('?')[0].split('/').slice(0, 20)) {
    try {
      const v = decodeURIComponent(seg);
      if (v.length >= 3) out.add(v);
    } catch {
      // not percent-encoded text
    }
  }
  deepStrings(sentBody(request.body), out);
  return out;
}

/** A request's body as sent, read back: JSON text parsed, other text as form fields (up to 4,000 characters). */
function sentBody(body: unknown): unknown {
  if (typeof body !== 'string' || body.length > 4000) return body;
  try {
    return JSON.parse(body);
  } catch {
    return Object.fromEntries(new URLSearchParams(body));
  }
}

/** The values of a path's query string (decoded), at most 50. */
function queryValues(path: string): string[] {
  const query = path.split('?')[1];
  if (!query) return [];
  return [...new URLSearchParams(query).values()].slice(0, 50).filter((v) => v.length >= 3);
}

/** A value's strings, a few levels down (bounded): a body's nested members (`shipping: {street}`) too. */
function deepStrings(value: unknown, out: Set<string>, depth = 0): void {
  if (out.size >= 10_000 || depth > 4) return;
  if (typeof value === 'string') {
    if (value.length >= 3 && value.length <= 500) out.add(value);
  } else if (value !== null && typeof value === 'object')
    for (const child of Object.values(value as Record<string, unknown>).slice(0, 100))
      deepStrings(child, out, depth + 1);
}

/**
 * Personal values that are no other person's: by caller, what it sent (every body, nested members too, and query
 * values) and the body it signs in with; and what any sign-up of the scan sent (the scan's own accounts' e-mails and
 * names: given identities never sign up), wherever they come back.
 */
function ownPersonalValues(ctx: ScanContext): { byCaller: Map<string, Set<string>>; signedUp: Set<string> } {
  const byCaller = new Map<string, Set<string>>();
  const signedUp = new Set<string>();
  const of = (name: string) => {
    const set = byCaller.get(name) ?? new Set<string>();
    byCaller.set(name, set);
    return set;
  };
  for (const who of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    deepStrings(who.login?.body, of(who.name));
    // Apart too: what it signs in with is never another caller's own.
    deepStrings(who.login?.body, of(`login:${who.name}`));
  }
  for (const { request, operation, identity } of ctx.observations) {
    const body = sentBody(request.body);
    if (operation && !isLoginOperation(ctx.spec, operation) && handsOutCredential(ctx, operation))
      deepStrings(body, signedUp);
    if (identity === undefined) continue;
    const set = of(identity);
    deepStrings(body, set);
    for (const v of queryValues(request.path)) if (set.size < 10_000) set.add(v);
  }
  return { byCaller, signedUp };
}

/** What a request carried (its path, query and body), as text: values in it are the caller's own to see. */
function sentText(request: { readonly path: string; readonly body?: unknown }): string {
  let text = request.path;
  try {
    text += ` ${decodeURIComponent(request.path)}`;
  } catch {}
  if (request.body !== undefined)
    text += ` ${typeof request.body === 'string' ? request.body : JSON.stringify(request.body)}`;
  return text;
}

/** Fields of a held record never sent back: secrets (a hash sent as a password would become the password). */
const NOT_RESENT = /pass|secret|token|hash|salt|key|otp|pin$/i;

/** The record whose own id (`id`, `_id`, `uuid`, `uid`: not a reference such as `user_id`) is `id`. */
function ownRecord(view: unknown, id: string, depth = 0): Record<string, unknown> | undefined {
  if (depth > 4 || view === null || typeof view !== 'object') return undefined;
  const items = Array.isArray(view) ? view.slice(0, 100) : Object.values(view as Record<string, unknown>);
  if (!Array.isArray(view)) {
    const r = view as Record<string, unknown>;
    if (['id', '_id', 'uuid', 'uid'].some((k) => r[k] !== undefined && String(r[k]) === id)) return r;
  }
  for (const v of items) {
    const found = ownRecord(v, id, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The identity's own record as an earlier 2xx read of its showed it (a profile, or its item in a list). */
function heldRecord(
  ctx: ScanContext,
  who: Identity,
  id: string,
): { record: Record<string, unknown>; read: PlannedRequest | undefined } | undefined {
  for (let i = ctx.observations.length - 1; i >= 0; i--) {
    const o = ctx.observations[i];
    if (o.identity !== who.name || o.request.method !== 'GET' || !isSuccess(o.response)) continue;
    const record = ownRecord(o.response.json, id);
    if (record === undefined || Object.keys(record).length < 2) continue;
    const read = o.operation
      ? { ...o.request, operation: o.operation, ownedPath: false, invented: [] }
      : undefined;
    return { record, read };
  }
  return undefined;
}

/**
 * An update of the identity's own account (named by an id its token or login answer gave it) that documents
 * no body: the mass-assignment probe all the same, with the privileged fields over what the record was seen
 * to hold (the control sends those values back unchanged), confirmed by the answer or a read of the record,
 * and set back as any own-account probe. Nothing is sent when the record was never seen.
 */
async function undocumentedUpdate(ctx: ScanContext, op: Operation, last: Identity): Promise<void> {
  if ((op.method !== 'PUT' && op.method !== 'PATCH') || op.requestBody !== undefined) return;
  const name = accountParam(op.path);
  if (name === undefined) return;
  for (const id of selfIds(last)) {
    const target = planRequest(ctx.spec, op, ctx.objects, { owner: last.name, params: { [name]: id } });
    if (target.invented.length > 0 || !isOwnAccount(target.path, last)) continue;
    const held = heldRecord(ctx, last, id);
    if (held === undefined) continue;
    const base = Object.fromEntries(
      Object.entries(held.record).filter(
        ([k, v]) =>
          v !== null &&
          typeof v !== 'object' &&
          !BOOKKEEPING.test(k) &&
          !NOT_RESENT.test(k) &&
          !(k in PRIVILEGED),
      ),
    );
    if (Object.keys(base).length === 0) continue;
    await massAssignment(ctx, {
      op,
      as: last,
      base,
      target,
      id,
      ...(held.read ? { read: held.read } : {}),
    });
    return;
  }
}

const PASSWORD_FIELD = /pass(word)?|passwd|pwd/i;
const NAMES_USER = /^(user_?name|login|e-?mail(_?address)?|name|nick_?name|handle)$/i;
const SELF_PATH =
  /(^|\/)(me|my|self|current|account|profile|settings|password|passwd|change|reset|forgot|recover)([-_/]|$)/i;
const OWN_DETAIL =
  /^(new_?|current_?|old_?|confirm_?)?(e-?mail(_?address)?|user_?name|display_?name|phone(_?number)?|mobile|avatar)$/i;

/**
 * A POST that sets a password and is not a sign-up: a password field with no user name or e-mail beside it
 * (`{new_password}`), a new/old/confirm password, or a self or reset path. Sign-ups (`/register {username,
 * password}`) register an account of their own and stay.
 */
function setsOwnPassword(spec: ApiDocument, op: Operation): boolean {
  const fields = Object.keys(propertiesOf(spec, bodySchema(op)));
  if (!fields.some((k) => PASSWORD_FIELD.test(k))) return false;
  if (fields.some((k) => /(new|old|current|confirm).*pass|pass.*(new|old|current|confirm)/i.test(k)))
    return true;
  return SELF_PATH.test(op.path) || !fields.some((k) => NAMES_USER.test(k));
}

/** A POST without path parameters whose body holds only the sender's account details (`/user/email {email}`). */
function changesOwnDetails(spec: ApiDocument, op: Operation): boolean {
  if (op.path.includes('{')) return false;
  const fields = Object.keys(propertiesOf(spec, bodySchema(op)));
  // With a password beside them it is a sign-up (a password change is `setsOwnPassword`'s).
  if (fields.some((k) => PASSWORD_FIELD.test(k))) return false;
  return fields.length > 0 && fields.every((k) => OWN_DETAIL.test(k));
}

/** Does the last identity's planned update of `op` name its own account by its id (`PATCH /users/6`)? */
function givenAccountRoute(ctx: ScanContext, op: Operation, who: Identity): boolean {
  if (accountParam(op.path) === undefined) return false;
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: who.name });
  if (isOwnAccount(req.path, who)) return true;
  const self = selfAccount(ctx, op, who);
  return (
    self !== undefined &&
    isOwnAccount(planRequest(ctx.spec, op, ctx.objects, { owner: who.name, params: self }).path, who)
  );
}

/**
 * The reads of the record an item update changes, best first: the GET at the same path, then GETs at other
 * documented paths that end in the same parameter below a collection of the same name (`GET /v1/users/{user_id}`
 * for `PUT /v2/users/{user_id}`), then at paths ending in the same parameter name. Each planned with `params`.
 */
function itemReads(
  ctx: ScanContext,
  op: Operation,
  plan: { readonly owner: string; readonly params?: Readonly<Record<string, string>> },
): PlannedRequest[] {
  const bare = op.path.replace(/\/$/, '');
  const m = /\/([^/{}]+)\/\{([^}]+)\}$/.exec(bare);
  const rank = (o: Operation): number => {
    const path = o.path.replace(/\/$/, '');
    if (path === bare) return 0;
    if (!m || o.parameters.filter((p) => p.in === 'path').length !== 1) return -1;
    const n = /\/([^/{}]+)\/\{([^}]+)\}$/.exec(path);
    if (!n || n[2] !== m[2]) return -1;
    return singular(n[1]) === singular(m[1]) ? 1 : 2;
  };
  return ctx.spec.operations
    .filter((o) => o.method === 'GET' && !isExcluded(o) && rank(o) >= 0)
    .sort((a, b) => rank(a) - rank(b))
    .slice(0, 3)
    .map((o) => planRequest(ctx.spec, o, ctx.objects, plan));
}

/** The record the first of `reads` that answers shows, as `who`, and that read. */
async function firstRecord(
  ctx: ScanContext,
  reads: readonly PlannedRequest[],
  who: Identity,
): Promise<{ record: Record<string, unknown>; read: PlannedRequest } | undefined> {
  for (const read of reads) {
    const res = await ctx.send(read, who);
    if (!isSuccess(res) || looksRefused(res) || res.json === undefined) continue;
    const record = topRecord(res.json);
    if (record && Object.keys(record).length >= 2) return { record, read };
  }
  return undefined;
}

/**
 * The body an update of a record starts from: the record's own values (a PUT replaces), under the names the
 * body declares, or, when it declares none, every plain field but ids, timestamps, secrets and privileges.
 */
function heldBody(
  ctx: ScanContext,
  op: Operation,
  record: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  const declared = Object.keys(propertiesOf(ctx.spec, bodySchema(op)));
  const names =
    declared.length > 0
      ? declared
      : Object.keys(record).filter(
          (k) => !BOOKKEEPING.test(k) && !NOT_RESENT.test(k) && !(k in PRIVILEGED) && !ELEVATING.test(k),
        );
  const body: Record<string, unknown> = {};
  for (const name of names) {
    const v = record[name];
    if (name in record && v !== null && typeof v !== 'object' && !PASSWORD_FIELD.test(name)) body[name] = v;
  }
  return body;
}

/**
 * The mass-assignment probe of an account item update on an account of the scan's own: from what its record
 * holds (read at the same path, or another documented read of the same id), the privileged fields added, read
 * back and set back as any own-account probe. The account is not reused when it stays privileged.
 */
async function accountMassAssignment(ctx: ScanContext, op: Operation, account: ScanAccount): Promise<void> {
  const as = account.v.identity;
  const plan = { owner: account.v.name, params: account.params };
  const held = await firstRecord(ctx, itemReads(ctx, op, plan), as);
  if (!held) return;
  const base = heldBody(ctx, op, held.record);
  if (Object.keys(base).length === 0) return;
  const target = planRequest(ctx.spec, op, ctx.objects, { ...plan, body: base });
  const read = held.read;
  await massAssignment(ctx, { op, as, base, target, read, id: account.id });
  await retireIfElevated(ctx, account, held.record, async (who) => {
    const res = await ctx.send(read, who);
    return isSuccess(res) && res.json !== undefined ? ownRecord(res.json, account.id) : undefined;
  });
}

const MONEY_FLOW_REASON =
  "not sent: a money flow (its control and probe would move a given identity's money, and nothing sets it back)";

/** A POST that moves money: out of the caller's account, to an account or person it names, or into it (a top-up). */
function movesMoney(ctx: ScanContext, op: Operation): boolean {
  if (op.method !== 'POST') return false;
  return (
    sendsMoneyTo(ctx.spec, op) ||
    ((movesMoneyOut(ctx.spec, op) || isFlowCandidate(ctx.spec, op)) &&
      judgeFlow(ctx.spec, op).gain === 'money or credit')
  );
}

/** An account item route: a PUT or PATCH whose path ends in the account parameter, with no other (`/users/{id}`). */
function accountItemRoute(op: Operation): boolean {
  const param = accountParam(op.path);
  return (
    param !== undefined &&
    !/name|mail/i.test(param) &&
    op.path.replace(/\/$/, '').endsWith(`{${param}}`) &&
    !op.parameters.some((p) => p.in === 'path' && p.name !== param)
  );
}

/**
 * The mass-assignment probe of an own-record update at a path that names none (`PUT /v1/account`), as an account
 * of the scan's own on its own record: read first, the body from what the record holds, set back after; an account
 * left privileged is not reused (retireIfElevated).
 */
async function scanOwnRecordUpdate(
  ctx: ScanContext,
  op: Operation,
  v: Throwaway,
  base: Record<string, unknown>,
): Promise<void> {
  const plan = { owner: v.name };
  const req = planRequest(ctx.spec, op, ctx.objects, plan);
  if (req.invented.length > 0) return;
  const bare = op.path.replace(/\/$/, '');
  const reads = ctx.spec.operations
    .filter(
      (o) =>
        o.method === 'GET' &&
        !isExcluded(o) &&
        [bare, bare.replace(UPDATE_VERB, '')].includes(o.path.replace(/\/$/, '')),
    )
    .map((o) => planRequest(ctx.spec, o, ctx.objects, plan));
  const before = await firstRecord(ctx, reads, v.identity);
  await ownRecordUpdate(ctx, op, { as: v.identity, req, plan, isAccount: false }, base);
  const id = ID_KEYS.map((k) => before?.record[k]).find(
    (x) => typeof x === 'string' || typeof x === 'number',
  );
  await retireIfElevated(
    ctx,
    { v, params: {}, id: String(id ?? '') },
    before?.record,
    async (who) => (await firstRecord(ctx, reads, who))?.record,
  );
}

/**
 * A POST that writes the sender's own record rather than creating one: its path ends at an own-profile segment
 * (`/me`, `/profile`, `/account`, `/current_user`), alone or with an update verb after it (`/profile/update`).
 */
/** An update of `as`'s own record: the planned request, how its path was planned, whether it names the account by id. */
interface OwnRecord {
  readonly as: Identity;
  readonly req: PlannedRequest;
  readonly plan: { readonly owner: string; readonly params?: Readonly<Record<string, string>> };
  readonly isAccount: boolean;
}

/**
 * A POST that changes `who`'s own record: at an own-profile path without parameters (ownProfileWritePath), or at
 * its own account named by the id its token or login answer gave it (`POST /users/6`). Undefined otherwise (a
 * creation).
 */
function ownRecordPost(ctx: ScanContext, op: Operation, who: Identity): OwnRecord | undefined {
  const plan = { owner: who.name };
  if (!op.path.includes('{')) {
    if (!ownProfileWritePath(op.path)) return undefined;
    return { as: who, req: planRequest(ctx.spec, op, ctx.objects, plan), plan, isAccount: false };
  }
  const req = planRequest(ctx.spec, op, ctx.objects, plan);
  if (req.invented.length === 0 && isOwnAccount(req.path, who))
    return { as: who, req, plan, isAccount: true };
  const self = selfAccount(ctx, op, who);
  if (self === undefined) return undefined;
  const mine = planRequest(ctx.spec, op, ctx.objects, { ...plan, params: self });
  if (mine.invented.length > 0 || !isOwnAccount(mine.path, who)) return undefined;
  return { as: who, req: mine, plan: { ...plan, params: self }, isAccount: true };
}

/**
 * The mass-assignment probe of an update of an identity's own record (a PUT, PATCH or POST at its profile or
 * its account): read first, the body built from what the record holds (the control changes nothing), and
 * probed as an update (a given identity's record gets only the fields its read shows, each set back).
 */
async function ownRecordUpdate(
  ctx: ScanContext,
  op: Operation,
  own: OwnRecord,
  base: Record<string, unknown>,
): Promise<void> {
  const { as, req, plan, isAccount } = own;
  // The record's reads: the same path (for `POST /profile/update`, `/profile` too); for an account, another
  // documented read of the same id too (the record served at `/v1/users/{id}`, updated at `/v2/users/{id}`).
  const bare = op.path.replace(/\/$/, '');
  const paths = [bare];
  if (op.method === 'POST' && UPDATE_VERB.test(bare)) paths.push(bare.replace(UPDATE_VERB, ''));
  const reads = isAccount
    ? itemReads(ctx, op, plan)
    : paths
        .flatMap((p) =>
          ctx.spec.operations.filter(
            (o) => o.method === 'GET' && o.path.replace(/\/$/, '') === p && !isExcluded(o),
          ),
        )
        .slice(0, 2)
        .map((o) => planRequest(ctx.spec, o, ctx.objects, plan));
  // A profile updated at one path and read at another (`PATCH /api/users/me`, `GET /api/me`): without a read the
  // probe would take the control's own answer for the record as it was, and the control's sample (a display name)
  // could not be set back (seen on a third-party API: a given identity's name left as `portcullis-…`).
  if (!isAccount && OWN_PROFILE_READ.test(bare))
    for (const o of ctx.spec.operations) {
      if (reads.length >= 4) break;
      if (o.method !== 'GET' || isExcluded(o) || o.path.includes('{') || !OWN_PROFILE_READ.test(o.path))
        continue;
      if (o.path.replace(/\/$/, '') === bare) continue;
      reads.push(planRequest(ctx.spec, o, ctx.objects, plan));
    }
  const found = await firstRecord(ctx, reads, as);
  const read = found?.read ?? reads[0];
  // PUT replaces: start from what the object holds now, so the control changes nothing.
  const holds = found?.record;
  const body: Record<string, unknown> = {};
  for (const name of Object.keys(propertiesOf(ctx.spec, bodySchema(op)))) {
    if (holds && name in holds && typeof holds[name] !== 'object') body[name] = holds[name];
  }
  // A given identity's own account named by its id is only probed from what it holds: the sampled body
  // would overwrite its e-mail, name or password. Whether its id came from its login (self) or filled the
  // path as a value only it was given (an owned path).
  if (isAccount && Object.keys(body).length === 0) return;
  // Never a login name, e-mail or password of the identity's other than what it holds.
  const plannedBody = keepLogin(Object.keys(body).length > 0 ? body : base, holds, as);
  await massAssignment(ctx, { op, as, base: plannedBody, target: req, ...(read ? { read } : {}) });
}

const OWN_PART_UNREAD =
  "not sent: a write to part of the identity's own record whose fields no documented read shows (what the probe stored could not be set back)";

/**
 * The mass-assignment probe of a POST to a part of `as`'s own record under another name (`POST /api/me/avatar
 * {url}`, `POST /account/bio {bio}`; discover.ts: ownRecordWrite), as an update of that record: read first (a GET at
 * the same path, then at each shorter path down to the own-record segment, then any documented read of one's own
 * profile: `GET /api/me`), only when that read shows every field the body declares; the body is what the record
 * holds, and what the probe's requests sent is set back after (massAssignment). No such read: not sent, noted (the
 * sampled values would stay on a given identity's record).
 */
async function ownPartUpdate(ctx: ScanContext, op: Operation, as: Identity): Promise<void> {
  const plan = { owner: as.name };
  const req = planRequest(ctx.spec, op, ctx.objects, plan);
  const declared = Object.keys(propertiesOf(ctx.spec, bodySchema(op)));
  if (req.invented.length > 0 || declared.length === 0) {
    ctx.note?.({ operation: op, rule: SCAN_RULES.massAssignment, reason: OWN_PART_UNREAD });
    return;
  }
  const segments = op.path.replace(/\/$/, '').split('/');
  const paths: string[] = [];
  for (let n = segments.length; n > 1; n--) {
    const p = segments.slice(0, n).join('/');
    paths.push(p);
    if (!ownRecordPath(segments.slice(0, n - 1).join('/'))) break;
  }
  const gets = ctx.spec.operations.filter((o) => o.method === 'GET' && !isExcluded(o));
  const candidates = [
    ...paths.flatMap((p) => gets.filter((o) => o.path.replace(/\/$/, '') === p)),
    ...gets.filter((o) => !o.path.includes('{') && OWN_PROFILE_READ.test(o.path)),
  ];
  const reads = [...new Set(candidates)]
    .slice(0, 3)
    .map((o) => planRequest(ctx.spec, o, ctx.objects, plan))
    .filter((r) => r.invented.length === 0);
  const found = await firstRecord(ctx, reads, as);
  const holds = found?.record;
  if (
    !found ||
    !holds ||
    declared.some((k) => !(k in holds) || (holds[k] !== null && typeof holds[k] === 'object'))
  ) {
    ctx.note?.({ operation: op, rule: SCAN_RULES.massAssignment, reason: OWN_PART_UNREAD });
    return;
  }
  const body = Object.fromEntries(declared.map((k) => [k, holds[k]]));
  await massAssignment(ctx, { op, as, base: keepLogin(body, holds, as), target: req, read: found.read });
}

/** The active probes of API3, operation by operation: `first` creates, `last` changes its own objects and profile. */
/** Whether every answer `who` got at the operation since observation `since` refused it (401, 403). */
function refusedThroughout(ctx: ScanContext, op: Operation, who: Identity, since: number): boolean {
  const mine = ctx.observations.slice(since).filter((o) => o.operation === op && o.identity === who.name);
  return mine.length > 0 && mine.every((o) => o.response.status === 401 || o.response.status === 403);
}

/**
 * A creation's probes as the first ordinary identity, then, when every one of its requests there was refused
 * (401, 403), as the next: a creation only some ordinary users may call (`POST /staff/accounts` that a nurse
 * may call and a patient may not) is probed as one it lets in (`role`, `verified`, `tenant_id` on the record it
 * makes, read back and deleted by its maker as any creation's probe).
 */
async function creationProbes(ctx: ScanContext, op: Operation, base: Record<string, unknown>): Promise<void> {
  for (const as of ctx.identities) {
    const since = ctx.observations.length;
    await massAssignment(ctx, { op, as, base });
    if (!refusedThroughout(ctx, op, as, since)) return;
  }
}

async function activeProbes(ctx: ScanContext, first: Identity, last: Identity): Promise<void> {
  for (const op of ctx.spec.operations) {
    if (isExcluded(op)) continue;
    if (isLoginOperation(ctx.spec, op) || isBusinessFlow(ctx.spec, op)) continue;
    // A POST that changes a named account (its e-mail, its role) could change a given identity's.
    if (changesAccount(ctx.spec, op)) continue;
    if (isAdminOperation(op)) {
      // A creation for staff (`POST /staff/accounts`) is probed as an ordinary identity it lets in, and only so;
      // the admin's other operations are the admin's to call.
      const base = sampleValue(ctx.spec, bodySchema(op));
      if (
        op.method === 'POST' &&
        !movesMoney(ctx, op) &&
        creationCollection(ctx.spec, op) !== undefined &&
        base !== null &&
        typeof base === 'object' &&
        !Array.isArray(base)
      )
        await creationProbes(ctx, op, base as Record<string, unknown>);
      continue;
    }
    // A money flow (a transfer, a payment to someone, a top-up or deposit: API6's judgement) moves real money
    // with the control and the probe alike, and nothing sets it back: not sent here (API6 runs money flows on
    // accounts of the scan's own).
    if (movesMoney(ctx, op)) {
      ctx.note?.({ operation: op, rule: SCAN_RULES.massAssignment, reason: MONEY_FLOW_REASON });
      continue;
    }
    if (bodySchema(op) === undefined) {
      await queryUpdate(ctx, op, last);
      await undocumentedUpdate(ctx, op, last);
      continue;
    }
    // An update of the last identity's own account at an account item route (`PATCH /users/{id}`, or a POST
    // there) is probed on an account of the scan's own instead, when the API lets the scan register one; so is
    // any PUT or PATCH at such a route (`PUT /v1/user/{uid}`) when no identity knows its own id there (a login
    // that answers only a token): the scan's own account fills the route with the id read back as its own.
    const account =
      ((op.method === 'PUT' || op.method === 'PATCH' || op.method === 'POST') &&
        givenAccountRoute(ctx, op, last)) ||
      ((op.method === 'PUT' || op.method === 'PATCH') && accountItemRoute(op))
        ? await scanAccountAt(ctx, op)
        : undefined;
    // Fields the object (or profile) shows but the request does not declare, on its updates and actions.
    if (op.method !== 'POST' || op.path.includes('{'))
      await readBackAssignment(ctx, op, account?.v.identity ?? last, account?.params);
    const base = sampleValue(ctx.spec, bodySchema(op));
    if (base === null || typeof base !== 'object' || Array.isArray(base)) continue;
    // The document's sign-up makes a new account, even when it asks the password twice (`password_confirmation`)
    // or sits under an own-account word (`/api/account/register`): probed as a creation, never taken for a change
    // of the sender's password, details or record.
    if (!account && signup(ctx)?.op === op) {
      await creationProbes(ctx, op, base as Record<string, unknown>);
      continue;
    }
    // An update of the sender's own record at a path that names none (`PUT /v1/account`, `PATCH /me`, `POST
    // /profile/update`) is probed on an account of the scan's own, its own record, when the API lets the scan
    // register one: every privileged field goes, not only those a given identity's read shows.
    const ownScan =
      !account && ownProfileWritePath(op.path) && op.method !== 'DELETE' ? await scanAccount(ctx) : undefined;
    if (account) {
      await accountMassAssignment(ctx, op, account);
    } else if (ownScan) {
      await scanOwnRecordUpdate(ctx, op, ownScan, base as Record<string, unknown>);
    } else if (op.method === 'POST') {
      // Sent as a given identity, a password change or a change of its own e-mail/name stores the sample.
      if (setsOwnPassword(ctx.spec, op) || changesOwnDetails(ctx.spec, op)) continue;
      // A POST to the sender's own record (`POST /api/profile`, `POST /users/me`) updates it: probed as an
      // update of a given identity's own record, never as a creation with every privilege and no set-back.
      const own = ownRecordPost(ctx, op, last) ?? ownRecordPost(ctx, op, first);
      if (own) await ownRecordUpdate(ctx, op, own, base as Record<string, unknown>);
      // A part of it under another name (`POST /me/avatar {url}`, `POST /account/bio {bio}`): the same, only
      // from a read that shows every field the body declares.
      else if (ownRecordWrite(ctx.spec, op)) await ownPartUpdate(ctx, op, last);
      else await creationProbes(ctx, op, base as Record<string, unknown>);
    } else if (op.method === 'PUT' || op.method === 'PATCH') {
      let req = planRequest(ctx.spec, op, ctx.objects, { owner: last.name });
      // Our own object, or our own profile (a path of our own values, or none at all), or our own account
      // named by the id our token or login answer gives (`/users/6`), listed to everyone or not.
      let own = !op.path.includes('{') || req.ownedPath || ctx.objects.isScanCreated(req.path.split('?')[0]);
      const self = own ? undefined : selfAccount(ctx, op, last);
      if (self !== undefined) {
        const mine = planRequest(ctx.spec, op, ctx.objects, { owner: last.name, params: self });
        if (isOwnAccount(mine.path, last)) {
          req = mine;
          own = true;
        }
      }
      if (!own || req.invented.length > 0) continue;
      const plan = { owner: last.name, ...(self ? { params: self } : {}) };
      const isAccount = self !== undefined || isOwnAccount(req.path, last);
      await ownRecordUpdate(ctx, op, { as: last, req, plan, isAccount }, base as Record<string, unknown>);
    }
  }
}

export const api3: Check = {
  id: 'API3',
  title: 'Broken object property level authorization',
  rules: [SCAN_RULES.massAssignment, SCAN_RULES.undeclaredFields, SCAN_RULES.sensitiveData],
  async run(ctx) {
    const first = ctx.identities[0];
    if (!first) return;
    // The last ordinary identity changes its own objects and profile (it may become an admin on a vulnerable
    // API: API1 and API5 have run before).
    const last = ctx.identities[ctx.identities.length - 1];
    storedFindings.set(ctx, new Map());
    try {
      await activeProbes(ctx, first, last);
      // Documented switches of a read (`Hide-Info: 0`, `?redact=false`) that uncover secrets or contact data.
      await switchInputs(ctx);
    } finally {
      flushStored(ctx);
    }
  },
  passive(ctx) {
    const doneExtra = new Set<string>();
    const notedExtra = new Set<string>();
    const doneSensitive = new Set<string>();
    // String values each identity sent in request bodies: its own data when they come back.
    const sent = new Map<string, Set<string>>();
    for (const { request, identity } of ctx.observations) {
      if (identity === undefined || request.body === null || typeof request.body !== 'object') continue;
      const set = sent.get(identity) ?? new Set<string>();
      sent.set(identity, set);
      for (const v of Object.values(request.body as Record<string, unknown>)) {
        if (typeof v === 'string' && set.size < 10_000) set.add(v);
      }
    }
    const none = new Set<string>();
    const personal = ownPersonalValues(ctx);
    const notJudged = new Set<string>();
    const held = heldContactData(ctx);
    const people = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
    const fixed = fixedProfiles(ctx, new Set(people.map((p) => p.name)));
    const givenNames = [...people.map((p) => p.name), ...(ctx.elevated?.keys() ?? [])];
    const passwords = passwordsKnown(ctx);
    const relayed = relayedSecrets(ctx);
    const handed = handedCredentials(ctx);
    const heldCreds = heldSessionValues(ctx);
    for (const [index, { operation: op, response, identity, request }] of ctx.observations.entries()) {
      if (!op || response.status < 200 || response.status >= 300 || response.json === undefined) continue;
      const schema = responseSchema(op, response.status);
      // The caller's own credential a login or sign-up hands it (`{token, api_key}`): what it is for, not a leak.
      const ownCreds = ownCredentials(ctx, op, response.json, handed, heldCreds);
      const extras: Extra[] = [];
      undeclared(ctx.spec, response.json, schema, '', extras);
      for (let i = extras.length - 1; i >= 0; i--) if (ownCreds.has(extras[i].pointer)) extras.splice(i, 1);
      // The caller's own profile read by itself (one record for everyone, a single-user API's, is no one's own).
      const path = request.path.split('?')[0];
      const person = identity !== undefined ? people.find((p) => p.name === identity) : undefined;
      // An own-profile read (`GET /me`) shows the caller's own record, whoever signed in: a given identity, or an
      // account of the scan's own (a throwaway, the made-up user a login that creates accounts let in); not a
      // session made from a given identity's (`alice (altered token)`), which API2 judges.
      // So is a given identity's own record read at any route (`GET /climbers_strict/1` holding its user name).
      const selfRead =
        identity !== undefined &&
        request.method === 'GET' &&
        !fixed.has(path) &&
        (OWN_PROFILE_READ.test(path)
          ? person !== undefined || !derivedSession(identity, givenNames)
          : person !== undefined &&
            (isOwnAccount(path, person) || ownRecordAnswer(response.json, person, path, people)));
      const extraPointers = new Set(extras.map((e) => e.pointer));
      if (extras.length > 0 && !doneExtra.has(op.id)) {
        // Only undeclared fields that matter are a finding (secrets, hashes, others' tokens, privilege internals);
        // schema drift (`created_at`, `theme`) is a note. The caller's own token in its sign-in or profile is its own.
        const selfAnswer = selfRead || isLoginOperation(ctx.spec, op);
        // An anonymous answer is no caller's, and a collection of people (`/users`) shows each person's own role.
        const answer = identity !== undefined && !PEOPLE_PATH.test(op.path) ? response.json : undefined;
        const from = { setCookie: response.headers['set-cookie'], route: op.path };
        const telling = extras
          .filter((e) => sensitiveExtra(e, selfAnswer, answer, from))
          .map((e) => e.pointer);
        if (telling.length > 0) {
          doneExtra.add(op.id);
          ctx.report(SCAN_RULES.undeclaredFields, {
            operation: op,
            message: `${op.method} ${op.path} returned sensitive fields its schema does not declare: ${telling.slice(0, 10).join(', ')}${extraPointers.size > telling.length ? ` (and ${extraPointers.size - telling.length} other undeclared fields)` : ''}.`,
            evidence: evidenceOf(response, { fields: telling.slice(0, 20) }),
          });
        } else if (!notedExtra.has(op.id) && notedExtra.size < 1000) {
          notedExtra.add(op.id);
          ctx.note?.({
            operation: op,
            rule: SCAN_RULES.undeclaredFields,
            reason: `fields outside the response schema, none sensitive (not reported): ${[...extraPointers].slice(0, 10).join(', ')}`,
          });
        }
      }
      // An admin's own view of an admin operation (a user directory with personal data) is its purpose; the same
      // answer to an ordinary identity is reported from that identity's observation.
      if (identity !== undefined && identity === ctx.admin?.name && isAdminOperation(op)) continue;
      // An identity the scan's own probe made privileged (and could not set back) sees what an admin sees:
      // from then on its answers are no ordinary identity's.
      const elevation = identity !== undefined ? ctx.elevated?.get(identity) : undefined;
      if (elevation !== undefined && index >= elevation.since) {
        if (!notJudged.has(op.id) && notJudged.size < 1000) {
          notJudged.add(op.id);
          ctx.note?.({
            operation: op,
            rule: SCAN_RULES.sensitiveData,
            reason: `${identity}'s answers not judged after the scan's probe of ${elevation.operation} made it privileged (${elevation.fields.join(', ')}; not set back)`,
          });
        }
        continue;
      }
      const found: string[] = [];
      // An anonymous caller's own data is what this very request sent (a sign-up echoing its e-mail).
      const sentOwn = identity !== undefined ? (sent.get(identity) ?? none) : bodyStrings(request.body);
      const own = ownCreds.size > 0 ? new Set([...sentOwn, ...ownCreds.values()]) : sentOwn;
      // Personal values that are its own: what it sent (any request, its sign-in), this request's own query values,
      // what the scan's own accounts signed up with, and the contact data of records that name it (heldContactData);
      // never another given identity's contact data or what it signs in with.
      const mineSent = identity !== undefined ? (personal.byCaller.get(identity) ?? none) : none;
      const query = queryValues(request.path);
      // What this very request carried (a path segment, a query value, a body member) comes back as an echo: the
      // caller named it itself (`GET /users/check/{email}`, `?phone=` echoed in `searchCriteria`), whoever's it is.
      const carried = carriedValues(request);
      const ownPersonal = (v: string) => {
        if (carried.has(v)) return true;
        const whose = held.get(v);
        if (whose !== undefined) return whose === identity;
        if (people.some((p) => p.name !== identity && personal.byCaller.get(`login:${p.name}`)?.has(v)))
          return false;
        return own.has(v) || mineSent.has(v) || query.includes(v) || personal.signedUp.has(v);
      };
      const loginAnswer = isLoginOperation(ctx.spec, op) && request.method !== 'GET';
      sensitive(
        response.json,
        '',
        (p) => schema !== undefined && !extraPointers.has(p),
        found,
        own,
        selfRead || loginAnswer,
        passwords,
        ownPersonal,
      );
      // A credential of some service that callers get alike (an upstream's token relayed): the server's secret.
      if (relayed.size > 0 && request.method === 'GET')
        eachScalar(response.json, '', found, (_key, v, p) => {
          const who = typeof v === 'string' ? relayed.get(v) : undefined;
          if (!who || found.some((f) => f.startsWith(`${p} `))) return;
          const names = [...who].map((w) => w || 'anonymous callers');
          found.push(
            `${p} (a token or secret the scan was not given, the same for ${names.slice(0, 3).join(' and ')})`,
          );
        });
      // The business's own notes and costs are the admin's to see; an ordinary or anonymous caller should not.
      if (identity === undefined || identity !== ctx.admin?.name) internalData(response.json, '', found, own);
      // Another person's contact data to a caller without credentials, declared or not: values an identity's own
      // record holds, shown anonymously under contact names.
      // Not what the caller itself sent (a sign-up echoing the e-mail in its body, a conflict naming it).
      // A login's answer shows the account the caller just signed in as (its top record): a login that let in the
      // wrong account (a tautology in the e-mail) is the injection check's finding, not a property's.
      if (identity === undefined)
        found.push(
          ...othersContactData(response.json, held, sentText(request)).filter(
            (f) => !loginAnswer || f.split(' ')[0].includes('/*'),
          ),
        );
      const unique = [...new Set(found)];
      if (unique.length > 0 && !doneSensitive.has(op.id)) {
        doneSensitive.add(op.id);
        ctx.report(SCAN_RULES.sensitiveData, {
          operation: op,
          message: `${op.method} ${op.path} returned secrets, personal or internal data: ${unique.slice(0, 10).join(', ')}.`,
          evidence: {
            request: `${response.sent.method} ${response.sent.url}`,
            status: response.status,
            // The request this judgement read, whoever sent it (the scan may have sent the same line twice).
            curl: curlFor(response.sent),
            fields: unique,
          },
        });
      }
    }
    // A CSV export of several people's personal data, served to anyone (text, which the readings above skip).
    exportedPersonalData(ctx);
  },
};
