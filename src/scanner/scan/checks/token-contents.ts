/**
 * What a token carries that its holder should never read (API2, `scan/api2-secret-in-token`): the tokens of
 * several accounts (the identities', the scan's own) taken apart — dot-separated segments, base64 decoded when
 * that gives text, JSON members, `:`/`|`/`;`/`,` separated fields — and compared.
 *
 * - A secret-looking part every token shares (not the JOSE header, not an issuer, audience or key id, not a URL;
 *   a JSON member only when named like a key or when it signs the token): a key of the API's, most often the one
 *   that signs the tokens (checked against an HMAC signature when there is one).
 * - A hex part of 32, 40, 64 or 128 digits equal for two accounts of the scan's own registered with the same
 *   password and different for an account with another password logged in between them: a hash of the password
 *   (a value bound to time would be the same for all three, one bound to the account differs for the two). Or a
 *   part equal to the MD5, SHA-1, SHA-256 or SHA-512 of a password the scan knows.
 * - A JSON member named like a password, a hash of one, or a secret, holding a value.
 *
 * Values are never reported: where they sit, their length and first character only.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { ScanContext } from '../context.ts';
import { SCAN_RULES } from '../rules.ts';
import { registerThrowaway, reuseThrowaway, type Throwaway, type ThrowawayLogin } from './throwaway.ts';

/** One piece of a token, and where it sits (`segment 2, base64: field 3`, `claim h`). */
export interface TokenPart {
  readonly where: string;
  readonly value: string;
  /** The JSON member it came from, if any. */
  readonly claim?: string;
}

const MAX_PARTS = 80;
const SEPARATORS = /[:|;,]/;
/** Members of a JOSE header or of a token's claims that every token of an API shares by design. */
const PUBLIC_CLAIM =
  /^(alg|typ|cty|kid|jku|x5u|x5t|iss|aud|azp|client_id|scope|scp|token_type|ver|version|realm|tenant(_?id)?|role|roles|groups|type)$/i;
/** A member named like a key. */
const KEY_NAME = /key|secret|salt|pepper|sign|hmac|private/i;
/** Members that must never be in a token: a password, its hash, a secret. */
const SECRET_CLAIM =
  /^(pass|passwd|pwd|password|user_?password|password_?hash|hashed_?password|pw_?hash|pwd_?hash|pass_?hash|hash|secret|client_?secret|api_?secret|secret_?key|signing_?key|private_?key|salt)$/i;

function printable(text: string): boolean {
  if (text.length < 4 || text.includes('\uFFFD')) return false;
  let ok = 0;
  for (const ch of text) {
    const c = ch.charCodeAt(0);
    if ((c >= 0x20 && c < 0x7f) || c === 0x09 || c >= 0xa0) ok++;
  }
  return ok / text.length >= 0.95;
}

/** The text a base64 or base64url segment stands for, when it is text. */
function decoded(segment: string): string | undefined {
  if (segment.length < 8 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(segment)) return undefined;
  const text = Buffer.from(segment.replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('utf8');
  return printable(text) ? text : undefined;
}

function jsonOf(text: string): Record<string, unknown> | undefined {
  if (!/^\s*\{/.test(text)) return undefined;
  try {
    const v = JSON.parse(text);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A token taken apart: its segments, their base64 text, the members of JSON texts (one level of nesting) and
 * the fields of separated texts. A JOSE header (a JSON segment with `alg`) is marked so, to be left out.
 */
export function tokenParts(token: string): TokenPart[] {
  const out: TokenPart[] = [];
  const add = (part: TokenPart) => {
    if (out.length < MAX_PARTS && part.value !== '') out.push(part);
  };
  const fields = (text: string, where: string) => {
    if (!SEPARATORS.test(text)) return;
    text.split(SEPARATORS).forEach((f, i) => {
      add({ where: `${where}, field ${i + 1}`, value: f });
    });
  };
  const claims = (json: Record<string, unknown>, where: string, header: boolean, depth = 0) => {
    for (const [k, v] of Object.entries(json)) {
      const claim = header ? `header ${k}` : k;
      if (typeof v === 'string')
        add({ where: `${where}, ${header ? 'header' : 'claim'} ${k}`, value: v, claim });
      else if (v !== null && typeof v === 'object' && !Array.isArray(v) && depth < 1)
        claims(v as Record<string, unknown>, `${where}, ${k}`, header, depth + 1);
    }
  };
  const raw = token.replace(/^bearer\s+/i, '');
  const segments = raw.split('.');
  segments.forEach((segment, i) => {
    const where = segments.length > 1 ? `segment ${i + 1}` : 'the token';
    const text = decoded(segment);
    const json = text === undefined ? jsonOf(segment) : jsonOf(text);
    const header = json !== undefined && typeof json.alg === 'string';
    if (segments.length > 1) add({ where, value: segment, ...(header ? { claim: 'header' } : {}) });
    if (json) claims(json, where, header);
    else if (text !== undefined) {
      add({ where: `${where}, base64`, value: text });
      fields(text, `${where}, base64`);
    } else fields(segment, where);
  });
  return out;
}

/** Hex runs of the lengths of common digests (MD5, SHA-1, SHA-256, SHA-512), lower case, anywhere in the parts. */
export function hexRuns(token: string): Set<string> {
  const out = new Set<string>();
  const texts = [token, ...tokenParts(token).map((p) => p.value)];
  for (const text of texts)
    for (const m of text.matchAll(/[0-9a-f]+/gi))
      if ([32, 40, 64, 128].includes(m[0].length)) out.add(m[0].toLowerCase());
  return out;
}

function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const ch of value) counts.set(ch, (counts.get(ch) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) bits -= (n / value.length) * Math.log2(n / value.length);
  return bits;
}

/**
 * A value that looks like a key rather than a name: 12 to 200 characters without spaces, not a URL, a UUID or a
 * date, with three kinds of characters (lower, upper, digits, others), or a long mix of letters and digits.
 */
export function looksSecret(value: string): boolean {
  if (value.length < 12 || value.length > 200 || /\s/.test(value)) return false;
  if (/^[a-z][\w+.-]*:\/\//i.test(value) || /^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$/i.test(value))
    return false;
  if (/^\d{4}-\d\d-\d\d/.test(value) || /^[\d.:-]+$/.test(value)) return false;
  const kinds = [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z0-9]/].filter((re) => re.test(value)).length;
  return (
    kinds >= 3 || (value.length >= 20 && /\d/.test(value) && /[a-z]/i.test(value) && entropy(value) >= 3.5)
  );
}

/**
 * The secret-looking parts every token holds, in the same place (tokens of at least two accounts, all
 * different): never the JOSE header or a public claim, never a whole token.
 */
export function sharedSecrets(tokens: readonly string[]): TokenPart[] {
  const distinct = [...new Set(tokens)];
  if (distinct.length < 2) return [];
  const [first, ...rest] = distinct.map(tokenParts);
  return first.filter(
    (p) =>
      p.claim !== 'header' &&
      !p.claim?.startsWith('header ') &&
      !(p.claim !== undefined && PUBLIC_CLAIM.test(p.claim)) &&
      !distinct.includes(p.value) &&
      looksSecret(p.value) &&
      // A member every token shares (`plan: "Premium-Plan-2024"`) is a key only by its name or its signature.
      (p.claim === undefined || KEY_NAME.test(p.claim) || signsToken(distinct[0], p.value)) &&
      rest.every((parts) => parts.some((q) => q.where === p.where && q.value === p.value)),
  );
}

/** Members named like a password, a hash of one, or a secret, holding a value (`at_hash` and the like are not). */
export function secretClaims(token: string): TokenPart[] {
  return tokenParts(token).filter(
    (p) =>
      p.claim !== undefined && SECRET_CLAIM.test(p.claim.replace(/^.*\s/, '')) && p.value.trim().length >= 4,
  );
}

const DIGESTS = ['md5', 'sha1', 'sha256', 'sha512'] as const;

/** The digest (`md5`...) of `password` that the token carries in hex, if any. */
export function passwordDigestIn(token: string, password: string): string | undefined {
  const runs = hexRuns(token);
  return DIGESTS.find((alg) => runs.has(createHash(alg).update(password).digest('hex')));
}

/**
 * Hex parts the same in `x` and `y` (two accounts, one password) and absent from `z` (another password, logged
 * in between them): a hash of the password.
 */
export function samePasswordParts(x: string, z: string, y: string): string[] {
  const inZ = hexRuns(z);
  const inY = hexRuns(y);
  return [...hexRuns(x)].filter((h) => inY.has(h) && !inZ.has(h));
}

/** Where a hex value sits in a token (`the token, base64, field 2`). */
function whereIs(token: string, hex: string): string {
  const parts = tokenParts(token);
  return (
    parts.find((p) => p.value.toLowerCase() === hex)?.where ??
    parts.find((p) => p.value.toLowerCase().includes(hex))?.where ??
    'the token'
  );
}

const HMAC: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

/** Does `key` make the HMAC signature of a JWT (HS256/384/512)? */
export function signsToken(token: string, key: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  const header = jsonOf(Buffer.from(parts[0], 'base64url').toString('utf8'));
  const alg = HMAC[String(header?.alg)];
  if (!alg) return false;
  const mac = createHmac(alg, key).update(`${parts[0]}.${parts[1]}`).digest();
  const sig = Buffer.from(parts[2], 'base64url');
  return mac.length === sig.length && timingSafeEqual(mac, sig);
}

/** Keys reported at most from one scan's tokens. */
const MAX_KEYS = 3;

/**
 * What a token may carry of each password: the password itself (4+ characters), its MD5, SHA-1, SHA-256 and
 * SHA-512 in hex (lower case), and in base64 and base64url.
 */
export function passwordForms(passwords: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const pw of new Set(passwords)) {
    if (pw.length >= 4) out.add(pw);
    for (const alg of DIGESTS) {
      const digest = createHash(alg).update(pw).digest();
      out.add(digest.toString('hex'));
      out.add(digest.toString('base64').replace(/=+$/, ''));
      out.add(digest.toString('base64url'));
    }
  }
  return out;
}

/** Does this part hold one of the password forms (itself, or in its base64 text, or as a hex run in it)? */
export function fromPassword(value: string, forms: ReadonlySet<string>): boolean {
  if ([...hexRuns(value)].some((h) => forms.has(h))) return true;
  const texts = [value, ...tokenParts(value).map((p) => p.value)];
  return texts.some((t) => [...forms].some((f) => t.includes(f)));
}

/**
 * One part per place: a part is left out when a more precise one inside it is kept too (`segment 3` beside its
 * base64 text `segment 3, base64`, a text beside one of its fields).
 */
export function distinctParts(parts: readonly TokenPart[]): TokenPart[] {
  return parts.filter((p) => !parts.some((q) => q !== p && q.where.startsWith(`${p.where}, `)));
}

/** What a report says of a secret, a password or its digest: its length, never a character of it. */
const hint = (value: string) => `${value.length} characters`;

/**
 * The token checks: the identities' tokens and the scan's own accounts' (registered `pct<random>`, two of them
 * with one password and one with another, only when some token holds a digest-long hex part to explain).
 */
export async function tokenSecrets(ctx: ScanContext, t: ThrowawayLogin | undefined): Promise<void> {
  const at: { operation?: Operation } = t?.op ? { operation: t.op } : {};
  const held = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])].filter((i) => i.token !== undefined);
  if (held.length === 0) {
    ctx.note?.({ rule: SCAN_RULES.secretInToken, reason: 'no identity holds a token (cookies only)' });
    return;
  }
  const tokens = held.map((i) => ({ account: i.name, token: i.token! }));
  // Hashes of passwords the scan knows (the identities' own, never shown; its accounts').
  const known: { account: string; token: string; password: string }[] = [];
  for (const i of held) {
    const flow = i.login?.flow;
    const pw = flow
      ? Object.entries(flow.body).find(([k]) => /pass(word)?|passwd|pwd/i.test(k))?.[1]
      : undefined;
    if (typeof pw === 'string' && pw !== '') known.push({ account: i.name, token: i.token!, password: pw });
  }
  let differential: { x: Throwaway; y: Throwaway; z: Throwaway; parts: string[]; tx: string } | undefined;
  if (t && held.some((i) => hexRuns(i.token!).size > 0)) {
    const x = (await reuseThrowaway(ctx, t)) ?? (await registerThrowaway(ctx, t, 'pct'));
    const z = x ? await registerThrowaway(ctx, t, 'pct') : undefined;
    const y = x && z ? await registerThrowaway(ctx, t, 'pct', x.password) : undefined;
    if (x && y && z) {
      // X, then Z, then Y: a part bound to the time would be Z's too.
      const [tx, tz, ty] = [
        (await x.login(ctx)).identity?.token,
        (await z.login(ctx)).identity?.token,
        (await y.login(ctx)).identity?.token,
      ];
      if (tx && tz && ty) {
        tokens.push(
          { account: x.name, token: tx },
          { account: z.name, token: tz },
          { account: y.name, token: ty },
        );
        for (const [v, token] of [
          [x, tx],
          [z, tz],
          [y, ty],
        ] as const)
          known.push({ account: v.name, token, password: v.password });
        const parts = samePasswordParts(tx, tz, ty);
        if (parts.length > 0) differential = { x, y, z, parts, tx };
      }
    }
  }
  const accounts = new Set(tokens.map((e) => e.account));
  // A part derived from a password every account compared happens to share (two identities with one password)
  // is the same in every token too: it is the password's hash (reported below), never the API's key.
  const derived = passwordForms(known.map((k) => k.password));
  for (const h of differential?.parts ?? []) derived.add(h);
  const keys = distinctParts(
    sharedSecrets(tokens.map((e) => e.token)).filter((p) => !fromPassword(p.value, derived)),
  );
  const passwords = new Set(known.map((k) => k.password));
  const apart = passwords.size >= 2 ? `, accounts with different passwords among them` : '';
  keys.slice(0, MAX_KEYS).forEach((part, i) => {
    const verified = signsToken(tokens[0].token, part.value);
    ctx.report(SCAN_RULES.secretInToken, {
      ...at,
      key: i === 0 ? 'signing-secret' : `signing-secret:${part.where}`,
      message: `Every token the API handed out (${accounts.size} accounts${apart}) carries the same secret-looking value at ${part.where} (${hint(part.value)})${verified ? ', and it is the key that signs them' : ''}: whoever holds one token reads the API's key${verified ? ' and can mint tokens for anyone' : ''}.`,
      evidence: {
        kind: 'signing-secret',
        where: part.where,
        length: part.value.length,
        accounts: accounts.size,
        differentPasswords: passwords.size >= 2,
        verified,
      },
    });
  });

  const direct = known
    .map((k) => ({ ...k, digest: passwordDigestIn(k.token, k.password) }))
    .find((k) => k.digest !== undefined);
  if (differential || direct) {
    const how = differential
      ? `the same ${differential.parts[0].length}-digit hex value at ${whereIs(differential.tx, differential.parts[0])} for two accounts the scan registered with the same password (${differential.x.name}, ${differential.y.name}) and another for an account with another password logged in between them (${differential.z.name})`
      : `the ${direct!.digest!.toUpperCase()} of the account's password (${direct!.account}) at ${whereIs(direct!.token, createHash(direct!.digest!).update(direct!.password).digest('hex'))}`;
    ctx.report(SCAN_RULES.secretInToken, {
      ...at,
      key: 'password-hash',
      message: `The tokens carry a hash of the account's password: ${how}. Whoever reads a token can crack the password offline.`,
      evidence: {
        kind: 'password-hash',
        ...(differential
          ? {
              hexLength: differential.parts[0].length,
              accounts: [differential.x.name, differential.y.name, differential.z.name],
            }
          : {}),
        ...(direct ? { digest: direct.digest } : {}),
      },
    });
  }

  const claimed = new Set<string>();
  for (const { account, token } of tokens) {
    for (const p of secretClaims(token)) {
      if (claimed.has(p.claim!)) continue;
      claimed.add(p.claim!);
      ctx.report(SCAN_RULES.secretInToken, {
        ...at,
        key: `claim:${p.claim}`,
        message: `The token the login gave ${account} carries a member named ${p.claim} (${p.where}, ${hint(p.value)}): a password, its hash or a secret, readable by whoever holds the token.`,
        evidence: { kind: 'claim', claim: p.claim, where: p.where, length: p.value.length },
      });
    }
  }
}
