import type { Exchange, Principal } from '../../core/exchange.ts';
import type { CompileContext, PolicyDefinition, PolicyHandler, RequestResult } from '../../core/policy.ts';
import { PolicyConfigError } from '../../core/policy.ts';
import { type WithDefaults, withDefaults } from '../../core/policy-config.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import { credentialHash, presentedCredential } from '../../shared/credential-hash.ts';
import { denialEvent } from '../denial-events.ts';
import type { CredentialResult, Identity } from './credential.ts';
import { metadataLocation, resourceMetadataDocuments } from './resource-metadata.ts';
import { type AuthenticateConfig, authenticateSchema, forwardIdentitySchema } from './schema.ts';
import { certificateSource, quote, type SchemeVerifier, schemeVerifier } from './schemes.ts';

interface CompiledScheme {
  readonly verifier: SchemeVerifier;
  /** Scopes (OAuth schemes) or roles (other schemes) this requirement demands. */
  readonly needs: readonly string[];
}

type Failure =
  | { kind: 'missing' }
  | { kind: 'invalid'; scheme: SchemeVerifier; result: Extract<CredentialResult, { kind: 'invalid' }> }
  | { kind: 'unavailable'; scheme: SchemeVerifier; reason: string }
  | { kind: 'insufficient'; scheme: SchemeVerifier; needs: readonly string[]; identity: Identity };

const RANK = { missing: 0, insufficient: 1, unavailable: 2, invalid: 3 } as const;

/**
 * Names (lower case) of the identity headers this config sets upstream. The gateway (and this policy)
 * remove incoming headers of these names, so a client can never forge them.
 */
export function identityHeaderNames(config: Pick<AuthenticateConfig, 'forwardIdentity'>): string[] {
  const f = withDefaults(forwardIdentitySchema, config.forwardIdentity ?? {});
  return [
    f.subjectHeader,
    f.consumerHeader,
    f.scopesHeader,
    f.rolesHeader,
    f.methodHeader,
    ...Object.keys(f.claimHeaders),
  ]
    .filter((h) => h !== '')
    .map((h) => h.toLowerCase());
}

/** The caller of an operation that admits anonymous access; subject '' so logs and detectors see no user. */
const ANONYMOUS: Principal = Object.freeze({
  subject: '',
  scopes: new Set<string>(),
  roles: new Set<string>(),
  claims: Object.freeze({}),
  method: 'anonymous' as const,
  schemes: Object.freeze([]) as readonly string[],
});

/**
 * Enforces the operation's effective OpenAPI `security`: alternatives are OR'ed, the schemes of one
 * requirement AND'ed, `{}` admits anonymous callers, `[]` declares none. OAuth scopes of the requirement
 * are checked here (only this stage knows which requirement was satisfied); role lists of other scheme
 * types (OAS 3.1) likewise. Attaches `ex.principal` and forwards identity headers upstream.
 */
export const authenticatePolicy: PolicyDefinition<AuthenticateConfig> = {
  name: 'authenticate',
  stage: 'authenticate',
  description:
    "Enforces the operation's OpenAPI security requirements (JWT, introspection, API keys, HTTP Basic, mTLS, DPoP).",
  schema: authenticateSchema,
  // Nothing is anonymous by accident. An operation whose spec requires credentials, or declares no
  // security at all, gets this policy even without an `authenticate` block; the load then fails naming
  // the unbound scheme or the undeclared operation. Only `security: []` or `{}` in the spec, or the
  // API's `public` list, makes an operation anonymous.
  fromSpec: (op) =>
    op.security === undefined || op.security.some((r) => Object.keys(r).length > 0)
      ? { schemes: {} }
      : undefined,
  ownedRequestHeaders: (config) => (config ? identityHeaderNames(config) : []),
  // RFC 9728 protected resource metadata, when `resourceMetadata` is set for the API.
  wellKnown: resourceMetadataDocuments,
  compile(block, ctx) {
    return authenticateHandler(compileAuthenticate(block, ctx));
  },
};

type AuthConfig = WithDefaults<AuthenticateConfig, typeof authenticateSchema>;
type Forwarding = WithDefaults<
  NonNullable<AuthenticateConfig['forwardIdentity']>,
  typeof forwardIdentitySchema
>;

/** One operation's authentication, compiled: its requirements, its challenges and its memos. */
interface AuthState {
  readonly ctx: CompileContext;
  readonly mode: AuthenticateConfig['mode'];
  readonly realm: string;
  /** RFC 9728 §5.1: `resource_metadata=...` for every Bearer and DPoP challenge, when configured. */
  readonly metadataParam: string | undefined;
  readonly withMetadata: (challenge: string) => string;
  readonly requirements: readonly (readonly CompiledScheme[])[];
  readonly anonymousAllowed: boolean;
  readonly verifiers: readonly SchemeVerifier[];
  readonly schemeIndex: ReadonlyMap<SchemeVerifier, number>;
  /** Challenges offered over HTTPS, and over plain HTTP (without those for HTTPS-only credentials). */
  readonly baseChallenges: readonly string[];
  readonly plainChallenges: readonly string[];
  readonly apiKeyHeaders: readonly string[];
  readonly stripNames: readonly string[];
  readonly forward: Forwarding;
  readonly claimHeaders: ReadonlyArray<readonly [string, string]>;
  /** Header values are computed once per principal; cached tokens yield the same principal object. */
  readonly forwardedValues: WeakMap<Principal, Array<[string, string]>>;
  /** Principals of single-scheme requirements are memoised per identity (and so per cached token). */
  readonly principals: Map<readonly CompiledScheme[], WeakMap<Identity, Principal>>;
}

function compileAuthenticate(block: AuthenticateConfig, ctx: CompileContext): AuthState {
  const config = withDefaults(authenticateSchema, block);
  const realm = config.realm ?? ctx.apiName;
  // RFC 9728 §5.1: every Bearer and DPoP challenge names the metadata document.
  const metadataParam =
    config.resourceMetadata === undefined
      ? undefined
      : `resource_metadata=${quote(metadataLocation(config.resourceMetadata.resource).url)}`;
  const withMetadata = (challenge: string): string =>
    metadataParam !== undefined && (challenge.startsWith('Bearer ') || challenge.startsWith('DPoP '))
      ? `${challenge}, ${metadataParam}`
      : challenge;
  // A CA file that cannot be read fails the load even before a scheme needs it.
  if (config.clientCertHeader !== undefined) certificateSource(config.clientCertHeader, ctx);
  const forward = withDefaults(forwardIdentitySchema, config.forwardIdentity ?? {});
  checkBindings(config, ctx);
  const { requirements, anonymousAllowed, verifiers } = compileRequirements(config, ctx, realm);
  return {
    ctx,
    mode: config.mode,
    realm,
    metadataParam,
    withMetadata,
    requirements,
    anonymousAllowed,
    verifiers,
    schemeIndex: new Map(verifiers.map((v, i) => [v, i])),
    ...compileChallenges(verifiers),
    apiKeyHeaders: verifiers
      .map((v) => ctx.spec.securitySchemes[v.name].raw)
      .filter((raw) => raw.type === 'apiKey' && raw.in === 'header' && typeof raw.name === 'string')
      .map((raw) => (raw.name as string).toLowerCase()),
    stripNames: identityHeaderNames(config),
    forward,
    claimHeaders: Object.entries(forward.claimHeaders).map(([h, c]) => [h.toLowerCase(), c] as const),
    forwardedValues: new WeakMap(),
    principals: new Map(),
  };
}

/** Typos fail the load: every bound scheme must exist in the spec, every public operation too. */
function checkBindings(config: AuthConfig, ctx: CompileContext): void {
  const op = ctx.operation;
  for (const name of Object.keys(config.schemes)) {
    if (ctx.spec.securitySchemes[name] === undefined) {
      const known = Object.keys(ctx.spec.securitySchemes).join(', ') || 'none';
      throw new PolicyConfigError(
        `schemes.${name}`,
        `the spec defines no security scheme ${name} (it has: ${known})`,
      );
    }
  }
  for (const [i, id] of config.public.entries()) {
    if (!ctx.spec.operations.some((o) => o.id === id)) {
      throw new PolicyConfigError(`public[${i}]`, `the spec has no operation ${id}`);
    }
  }
  if (op.security === undefined && !config.allowUndeclaredSecurity && !config.public.includes(op.id)) {
    throw new PolicyConfigError(
      'public',
      `operation ${op.id} (${op.method} ${op.path}) declares no security; declare it in the spec or list it in public`,
    );
  }
}

/** The operation's security requirements with a verifier per scheme (one per scheme name, shared). */
function compileRequirements(
  config: AuthConfig,
  ctx: CompileContext,
  realm: string,
): { requirements: CompiledScheme[][]; anonymousAllowed: boolean; verifiers: SchemeVerifier[] } {
  const op = ctx.operation;
  const security = op.security;
  const requirements: CompiledScheme[][] = [];
  let anonymousAllowed = security === undefined || security.length === 0;
  const verifiers: SchemeVerifier[] = [];
  for (const req of security ?? []) {
    const names = Object.keys(req);
    if (names.length === 0) {
      anonymousAllowed = true;
      continue;
    }
    const compiled: CompiledScheme[] = [];
    for (const name of names) {
      const scheme = ctx.spec.securitySchemes[name];
      if (scheme === undefined) {
        throw new PolicyConfigError(
          'schemes',
          `operation ${op.id} names security scheme ${name}, which the spec does not define`,
        );
      }
      const binding = config.schemes[name];
      if (binding === undefined) {
        throw new PolicyConfigError(
          `schemes.${name}`,
          `operation ${op.id} needs scheme ${name}, but no verifier is bound to it`,
        );
      }
      let verifier = verifiers.find((v) => v.name === name);
      if (verifier === undefined) {
        verifier = schemeVerifier(name, scheme, binding, realm, ctx, config.clientCertHeader);
        verifiers.push(verifier);
      }
      compiled.push({ verifier, needs: req[name] ?? [] });
    }
    requirements.push(compiled);
  }
  return { requirements, anonymousAllowed, verifiers };
}

function compileChallenges(verifiers: readonly SchemeVerifier[]): {
  baseChallenges: string[];
  plainChallenges: string[];
} {
  // Standard HTTP challenges (Bearer, Basic) are listed when the operation has any; the non-standard
  // ApiKey and Mutual ones only when it has nothing else to offer.
  const standardChallenges = verifiers
    .filter((v) => v.kind === 'bearer' || v.kind === 'basic')
    .map((v) => v.challenge);
  const baseChallenges = [
    ...new Set([
      ...(standardChallenges.length > 0 ? standardChallenges : verifiers.map((v) => v.challenge)),
      ...verifiers.map((v) => v.dpopChallenge).filter((c): c is string => c !== undefined),
    ]),
  ];
  // Over plain HTTP, a challenge for credentials that would be refused there (Basic) is left out: it would
  // make a browser ask for a password and send it in the clear.
  const httpsOnly = new Set(verifiers.filter((v) => v.httpsOnly === true).map((v) => v.challenge));
  return { baseChallenges, plainChallenges: baseChallenges.filter((c) => !httpsOnly.has(c)) };
}

function authenticateHandler(s: AuthState): PolicyHandler {
  return { onRequest: (ex) => authenticate(s, ex) };
}

// ---- Per request ----

function authenticate(s: AuthState, ex: Exchange): RequestResult | Promise<RequestResult> {
  const incoming = ex.req.headers;
  for (const name of s.stripNames) if (name in incoming) delete incoming[name];
  if (s.requirements.length === 0) {
    ex.principal = ANONYMOUS;
    return undefined;
  }
  return evaluate(s, ex, {
    results: new Array(s.verifiers.length),
    req: 0,
    scheme: 0,
    identities: [],
    worst: { kind: 'missing' },
  });
}

/** Where the evaluation of one request stands; kept so it can resume after an asynchronous check. */
interface Progress {
  readonly results: Array<CredentialResult | undefined>;
  req: number;
  scheme: number;
  identities: Identity[];
  worst: Failure;
}

/**
 * Walks the requirements in order (OR), each one's schemes in order (AND), checking each scheme at most
 * once per request. Runs synchronously until a check returns a promise (a token not yet cached, a
 * DPoP proof, ...), then resumes where it stopped.
 */
function evaluate(s: AuthState, ex: Exchange, p: Progress): RequestResult | Promise<RequestResult> {
  const { requirements } = s;
  for (; p.req < requirements.length; p.req++, p.scheme = 0, p.identities = []) {
    const req = requirements[p.req];
    let failure: Failure | undefined;
    for (; p.scheme < req.length; p.scheme++) {
      const { verifier, needs } = req[p.scheme];
      const i = s.schemeIndex.get(verifier)!;
      let result = p.results[i];
      if (result === undefined) {
        const pending = verifier.verify(ex);
        if (pending instanceof Promise) {
          return pending.then((r) => {
            p.results[i] = r;
            return evaluate(s, ex, p);
          });
        }
        result = pending;
        p.results[i] = result;
      }
      if (result.kind === 'missing') failure = { kind: 'missing' };
      else if (result.kind === 'invalid') failure = { kind: 'invalid', scheme: verifier, result };
      else if (result.kind === 'unavailable') {
        failure = { kind: 'unavailable', scheme: verifier, reason: result.reason };
      } else {
        const have = verifier.listsScopes ? result.identity.scopes : result.identity.roles;
        if (needs.some((n) => !have.has(n))) {
          failure = { kind: 'insufficient', scheme: verifier, needs, identity: result.identity };
        } else p.identities.push(result.identity);
      }
      if (failure !== undefined) break;
    }
    if (failure === undefined) {
      attach(s, ex, principalOf(s, p.identities, req));
      return undefined;
    }
    if (RANK[failure.kind] > RANK[p.worst.kind]) p.worst = failure;
  }
  if (s.anonymousAllowed && (p.worst.kind === 'missing' || p.worst.kind === 'insufficient')) {
    ex.principal = ANONYMOUS;
    return undefined;
  }
  return deny(s, ex, p.worst);
}

function emit(
  s: AuthState,
  ex: Exchange,
  reason: string,
  detail: string,
  scheme?: string,
  subject?: string,
  userName?: string,
): void {
  const event = denialEvent(s.ctx.clock, ex, {
    policy: 'authenticate',
    action: 'authenticate',
    category: 'authentication',
    reason,
    mode: s.mode,
    outcome: 'failure', // the credentials failed, whether or not the request goes on
    message: detail,
    subject,
  });
  if (scheme !== undefined) event['portcullis.scheme'] = scheme;
  // The login name tried (Basic user-id): the credential-abuse detector counts failures per user name.
  if (userName !== undefined) event['user.name'] = userName;
  // A fingerprint of the presented credential (never the credential) for per-token detectors and bans.
  const credential = presentedCredential(ex.req.headers, s.apiKeyHeaders);
  if (credential !== undefined) event['portcullis.credential.hash'] = credentialHash(credential);
  s.ctx.events.emit(event);
}

function forwardedHeaders(s: AuthState, principal: Principal): Array<[string, string]> {
  let out = s.forwardedValues.get(principal);
  if (out !== undefined) return out;
  const { forward } = s;
  out = [];
  if (forward.subjectHeader !== '')
    out.push([forward.subjectHeader.toLowerCase(), headerValue(principal.subject)]);
  if (forward.consumerHeader !== '' && principal.consumer !== undefined) {
    out.push([forward.consumerHeader.toLowerCase(), headerValue(principal.consumer)]);
  }
  if (forward.scopesHeader !== '' && principal.scopes.size > 0) {
    out.push([forward.scopesHeader.toLowerCase(), headerValue([...principal.scopes].join(' '))]);
  }
  if (forward.rolesHeader !== '' && principal.roles.size > 0) {
    out.push([forward.rolesHeader.toLowerCase(), headerValue([...principal.roles].join(' '))]);
  }
  if (forward.methodHeader !== '') out.push([forward.methodHeader.toLowerCase(), principal.method]);
  for (const [header, claim] of s.claimHeaders) {
    const v = principal.claims[claim];
    if (v !== undefined && v !== null)
      out.push([header, headerValue(typeof v === 'string' ? v : JSON.stringify(v))]);
  }
  s.forwardedValues.set(principal, out);
  return out;
}

function attach(s: AuthState, ex: Exchange, principal: Principal): void {
  ex.principal = principal;
  if (principal.method === 'anonymous') return;
  const h = ex.upstreamHeaders;
  for (const [name, value] of forwardedHeaders(s, principal)) h[name] = value;
}

function principalOf(s: AuthState, identities: Identity[], req: readonly CompiledScheme[]): Principal {
  if (identities.length !== 1) return merge(identities, req);
  let memo = s.principals.get(req);
  if (memo === undefined) {
    memo = new WeakMap();
    s.principals.set(req, memo);
  }
  let p = memo.get(identities[0]);
  if (p === undefined) {
    p = merge(identities, req);
    memo.set(identities[0], p);
  }
  return p;
}

/** The answer to a request no requirement admitted, by its worst failure. */
function deny(s: AuthState, ex: Exchange, f: Failure): Problem {
  const available = ex.scheme === 'https' ? s.baseChallenges : s.plainChallenges;
  if (available.length === 0 && (f.kind === 'missing' || f.kind === 'invalid')) {
    // Every scheme of the operation needs HTTPS: a 401 must carry a challenge (RFC 9110 §15.5.2), and
    // none can be offered here.
    if (f.kind === 'invalid') {
      const r = f.result;
      emit(s, ex, r.reason, r.detail, f.scheme.name, undefined, r.userName);
      return problem(problems.forbidden, r.detail, { reason: r.reason });
    }
    emit(s, ex, 'insecure_transport', 'no credentials presented over plain HTTP');
    return problem(problems.forbidden, 'This operation accepts credentials only over HTTPS.', {
      reason: 'insecure_transport',
    });
  }
  if (f.kind === 'missing') {
    emit(s, ex, 'missing_credentials', 'no credentials presented');
    // RFC 6750 §3: without credentials the challenge carries no error code.
    return problem(problems.unauthorized, 'This operation requires authentication.', {
      headers: { 'www-authenticate': available.map(s.withMetadata) },
      reason: 'missing_credentials',
    });
  }
  if (f.kind === 'unavailable') {
    emit(s, ex, f.reason, 'credential verification unavailable', f.scheme.name);
    return problem(problems.serviceUnavailable, 'Credentials cannot be verified right now.', {
      headers: { 'retry-after': '5' },
      reason: f.reason,
    });
  }
  if (f.kind === 'insufficient') return denyInsufficient(s, ex, f);
  return denyInvalid(s, ex, f, available);
}

function denyInsufficient(
  s: AuthState,
  ex: Exchange,
  f: Extract<Failure, { kind: 'insufficient' }>,
): Problem {
  if (f.scheme.listsScopes) {
    const scope = f.needs.join(' ');
    emit(s, ex, 'insufficient_scope', `missing scope among: ${scope}`, f.scheme.name, f.identity.subject);
    return problem(problems.insufficientScope, `This operation requires the scope(s): ${scope}.`, {
      headers: {
        'www-authenticate': s.withMetadata(
          `Bearer realm=${quote(s.realm)}, error="insufficient_scope", scope=${quote(scope)}`,
        ),
      },
      extensions: { scope },
      reason: 'insufficient_scope',
    });
  }
  const roles = f.needs.join(' ');
  emit(s, ex, 'insufficient_role', `missing role among: ${roles}`, f.scheme.name, f.identity.subject);
  return problem(problems.forbidden, `This operation requires the role(s): ${roles}.`, {
    reason: 'insufficient_role',
  });
}

/** A refused credential: 401 with the challenges, the refused scheme's carrying the error. */
function denyInvalid(
  s: AuthState,
  ex: Exchange,
  f: Extract<Failure, { kind: 'invalid' }>,
  available: readonly string[],
): Problem {
  const r = f.result;
  emit(s, ex, r.reason, r.detail, f.scheme.name, undefined, r.userName);
  const challenges: string[] = [];
  const desc = `error_description=${quote(r.detail)}`;
  if (r.dpop === true && f.scheme.dpopChallenge !== undefined) {
    const code =
      r.dpopNonce !== undefined
        ? 'use_dpop_nonce'
        : r.reason === 'dpop_required'
          ? 'invalid_token'
          : 'invalid_dpop_proof';
    challenges.push(`${f.scheme.dpopChallenge}, error="${code}", ${desc}`);
    for (const c of available) if (c !== f.scheme.dpopChallenge) challenges.push(c);
  } else {
    // RFC 7617 defines no error parameters: a refused Basic credential gets the plain challenge again.
    const withError = f.scheme.kind !== 'basic';
    for (const c of available) {
      challenges.push(
        withError && (c === f.scheme.challenge || c === f.scheme.dpopChallenge)
          ? `${c}, error="invalid_token", ${desc}`
          : c,
      );
    }
  }
  const headers: Record<string, string | string[]> = {
    'www-authenticate': s.metadataParam === undefined ? challenges : challenges.map(s.withMetadata),
  };
  if (r.dpopNonce !== undefined) headers['dpop-nonce'] = r.dpopNonce;
  const type =
    r.dpop === true && r.reason !== 'dpop_required' ? problems.invalidDpopProof : problems.invalidToken;
  return problem(type, r.detail, { headers, reason: r.reason });
}

function merge(identities: Identity[], req: readonly CompiledScheme[]): Principal {
  const first = identities[0];
  if (identities.length === 1) {
    return { ...first, schemes: [req[0].verifier.name] };
  }
  const scopes = new Set<string>();
  const roles = new Set<string>();
  for (const id of identities) {
    for (const s of id.scopes) scopes.add(s);
    for (const r of id.roles) roles.add(r);
  }
  return {
    subject: first.subject,
    consumer: identities.find((i) => i.consumer !== undefined)?.consumer,
    scopes,
    roles,
    claims: Object.assign({}, ...identities.map((i) => i.claims).reverse()),
    method: first.method,
    schemes: req.map((s) => s.verifier.name),
  };
}

/** Header values from claims: printable ASCII only, bounded. */
function headerValue(v: string): string {
  return v.replace(/[^\x20-\x7e]/g, '?').slice(0, 1024);
}
