/**
 * API2 Broken Authentication.
 * - Every secured GET without credentials.
 * - Identity A's token altered: malformed, `alg: none`, signature replaced; an HS256 token's secret tried
 *   offline against a short list, and when found, an expired token signed with it.
 * - The login: unknown user and wrong password must answer alike; twelve failed logins for one account must
 *   meet a lockout, a 429 or a delay. (The scan uses identity A's account, so expect it locked afterwards.)
 */
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isRefused, isSuccess, redact, type ScanContext } from '../context.ts';
import { isExcluded, isLoginOperation, jsonBodySchema, planRequest, requiresAuth } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { sampleValue } from '../schema.ts';
import { WEAK_HMAC_SECRETS } from './weak-secrets.ts';

const ATTEMPTS = 12;
const HMAC: Readonly<Record<string, string>> = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' };

interface Jwt {
  readonly header: Record<string, unknown>;
  readonly payload: Record<string, unknown>;
  readonly parts: readonly string[];
}

function decodeJwt(token: string): Jwt | undefined {
  const parts = token.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString());
    const payload = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
    if (typeof header !== 'object' || typeof payload !== 'object' || header === null || payload === null)
      return undefined;
    return { header, payload, parts };
  } catch {
    return undefined;
  }
}

function encode(value: unknown): string {
  return Buffer.from(JSON.stringify(value)).toString('base64url');
}

function signHmac(alg: string, secret: string, header: unknown, payload: unknown): string {
  const input = `${encode(header)}.${encode(payload)}`;
  return `${input}.${createHmac(HMAC[alg], secret).update(input).digest('base64url')}`;
}

/** Tries the built-in secrets against the token's signature, offline. */
export function crackHmac(token: string): string | undefined {
  const jwt = decodeJwt(token);
  const alg = typeof jwt?.header.alg === 'string' ? jwt.header.alg : '';
  if (!jwt || !HMAC[alg]) return undefined;
  const input = `${jwt.parts[0]}.${jwt.parts[1]}`;
  const signature = Buffer.from(jwt.parts[2], 'base64url');
  for (const secret of WEAK_HMAC_SECRETS) {
    const candidate = createHmac(HMAC[alg], secret).update(input).digest();
    if (candidate.length === signature.length && timingSafeEqual(candidate, signature)) return secret;
  }
  return undefined;
}

/** A secured GET that works for A: the reference request for the token variants. */
async function referenceRequest(ctx: ScanContext, a: Identity) {
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || !requiresAuth(op) || isExcluded(op)) continue;
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: a.name });
    if (op.path.includes('{') && !req.ownedPath) continue;
    const res = await ctx.send(req, a);
    if (isSuccess(res)) return req;
  }
  return undefined;
}

async function noCredentials(ctx: ScanContext, a: Identity): Promise<void> {
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || !requiresAuth(op) || isExcluded(op)) continue;
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: a.name });
    const res = await ctx.send(req, null);
    if (!isSuccess(res)) continue;
    ctx.report(SCAN_RULES.noCredentials, {
      operation: op,
      message: `${op.method} ${op.path} declares security but answered ${res.status} without credentials.`,
      evidence: evidenceOf(res),
    });
  }
}

async function tokens(ctx: ScanContext, a: Identity): Promise<void> {
  const reference = await referenceRequest(ctx, a);
  if (!reference) return;
  const op = reference.operation;
  const variants: [string, string][] = [['a malformed token', 'portcullis.malformed']];
  const jwt = a.token ? decodeJwt(a.token) : undefined;
  if (jwt && a.token) {
    variants.push([
      'an unsigned token (alg: none)',
      `${encode({ ...jwt.header, alg: 'none' })}.${jwt.parts[1]}.`,
    ]);
    const otherSig = randomBytes(Buffer.from(jwt.parts[2], 'base64url').length || 32).toString('base64url');
    variants.push(['a token with a wrong signature', `${jwt.parts[0]}.${jwt.parts[1]}.${otherSig}`]);
    const secret = crackHmac(a.token);
    if (secret !== undefined) {
      ctx.report(SCAN_RULES.weakHmacSecret, {
        operation: op,
        key: 'hmac',
        message: `Identity ${a.name}'s ${String(jwt.header.alg)} token is signed with a secret from the built-in list (${secret.length} characters, starts with "${secret[0]}").`,
        evidence: { alg: jwt.header.alg, secretLength: secret.length },
      });
      const now = Math.floor(Date.now() / 1000);
      const expired = { ...jwt.payload, iat: now - 7200, nbf: now - 7200, exp: now - 3600 };
      variants.push([
        'an expired token (signed with the guessed secret)',
        signHmac(String(jwt.header.alg), secret, jwt.header, expired),
      ]);
    }
  }
  for (const [kind, token] of variants) {
    const res = await ctx.send(
      { ...reference, headers: { ...reference.headers, authorization: `Bearer ${token}` } },
      null,
    );
    if (!isSuccess(res)) continue;
    ctx.report(SCAN_RULES.tokenAccepted, {
      operation: op,
      key: kind,
      message: `${op.method} ${op.path} accepted ${kind}.`,
      evidence: evidenceOf(res, { variant: kind }),
    });
  }
}

/** Normalises a login answer: the usernames tried become placeholders, volatile ids and times are dropped. */
function shape(res: ScanResponse, names: readonly string[]): string {
  let text = res.text;
  for (const n of names) text = text.split(n).join('{user}');
  text = text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '{uuid}')
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z?/g, '{time}');
  return `${res.status} ${text}`;
}

async function login(ctx: ScanContext): Promise<void> {
  const op: Operation | undefined = ctx.spec.operations.find(
    (o) => isLoginOperation(ctx.spec, o) && !isExcluded(o),
  );
  if (!op) return;
  const known = ctx.identities.find((i) => i.login !== undefined)?.login?.body;
  const base = (known ?? sampleValue(ctx.spec, jsonBodySchema(op))) as Record<string, unknown>;
  const passwordField = Object.keys(base).find((k) => /pass/i.test(k));
  const userField = Object.keys(base).find(
    (k) => k !== passwordField && /user|email|login|name|account/i.test(k),
  );
  if (!passwordField || !userField) return;
  const wrong = () => `pc-wrong-${randomUUID().slice(0, 8)}`;
  const attempt = (user: unknown) =>
    ctx.send(
      planRequest(ctx.spec, op, ctx.objects, {
        body: { ...base, [userField]: user, [passwordField]: wrong() },
      }),
      null,
    );

  if (known) {
    const unknownUser = `pc-nobody-${randomUUID().slice(0, 8)}`;
    const a = await attempt(unknownUser);
    const b = await attempt(base[userField]);
    if (a && b && isRefused(a) && isRefused(b)) {
      const names = [unknownUser, String(base[userField])];
      if (shape(a, names) !== shape(b, names)) {
        ctx.report(SCAN_RULES.userEnumeration, {
          operation: op,
          message: `${op.method} ${op.path} answers an unknown user (${a.status} ${redact(a.text.slice(0, 60))}) differently from a wrong password (${b.status} ${redact(b.text.slice(0, 60))}).`,
          evidence: {
            unknownUser: `${a.status} ${a.text.slice(0, 120)}`,
            wrongPassword: `${b.status} ${b.text.slice(0, 120)}`,
          },
        });
      }
    }
  }

  const account = known ? base[userField] : `pc-nobody-${randomUUID().slice(0, 8)}`;
  const statuses: number[] = [];
  const durations: number[] = [];
  let protectedBy = '';
  for (let i = 0; i < ATTEMPTS && !protectedBy; i++) {
    const res = await attempt(account);
    if (!res) {
      protectedBy = 'connection refused or timed out';
      break;
    }
    statuses.push(res.status);
    durations.push(res.durationMs);
    if (res.status === 429 || res.status === 423 || res.status === 503) protectedBy = `status ${res.status}`;
    else if (res.headers['retry-after'] !== undefined) protectedBy = 'Retry-After';
    else if (isSuccess(res)) return; // a wrong password succeeded: not a brute-force question
  }
  const slowedDown = durations.length > 4 && durations[durations.length - 1] > 4 * Math.max(50, durations[0]);
  if (protectedBy || slowedDown || new Set(statuses).size > 1) return;
  ctx.report(SCAN_RULES.bruteForce, {
    operation: op,
    message: `${ATTEMPTS} failed logins in a row for one account were all answered ${statuses[0]}, without lockout, 429 or delay.`,
    evidence: { attempts: ATTEMPTS, statuses: [...new Set(statuses)] },
  });
}

export const api2: Check = {
  id: 'API2',
  title: 'Broken authentication',
  rules: [
    SCAN_RULES.noCredentials,
    SCAN_RULES.tokenAccepted,
    SCAN_RULES.weakHmacSecret,
    SCAN_RULES.userEnumeration,
    SCAN_RULES.bruteForce,
  ],
  async run(ctx) {
    const a = ctx.identities[0];
    if (!a) return;
    await noCredentials(ctx, a);
    await tokens(ctx, a);
    await login(ctx);
  },
};
