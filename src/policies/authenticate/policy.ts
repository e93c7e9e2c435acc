import type { Exchange, Principal } from '../../core/exchange.ts';
import type { PolicyDefinition, PolicyHandler, RequestResult } from '../../core/policy.ts';
import { PolicyConfigError } from '../../core/policy.ts';
import { withDefaults } from '../../core/policy-config.ts';
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
    const op = ctx.operation;
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
    const stripNames = identityHeaderNames(config);
    const claimHeaders = Object.entries(forward.claimHeaders).map(([h, c]) => [h.toLowerCase(), c] as const);

    // Typos fail the load: every bound scheme must exist in the spec, every public operation too.
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
    const security = op.security;
    if (security === undefined) {
      if (!config.allowUndeclaredSecurity && !config.public.includes(op.id)) {
        throw new PolicyConfigError(
          'public',
          `operation ${op.id} (${op.method} ${op.path}) declares no security; declare it in the spec or list it in public`,
        );
      }
    }
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
    const plainChallenges = baseChallenges.filter((c) => !httpsOnly.has(c));
    const offered = (ex: Exchange) => (ex.scheme === 'https' ? baseChallenges : plainChallenges);
    const schemeIndex = new Map(verifiers.map((v, i) => [v, i]));
    const apiKeyHeaders = verifiers
      .map((v) => ctx.spec.securitySchemes[v.name].raw)
      .filter((raw) => raw.type === 'apiKey' && raw.in === 'header' && typeof raw.name === 'string')
      .map((raw) => (raw.name as string).toLowerCase());

    function emit(
      ex: Exchange,
      reason: string,
      detail: string,
      scheme?: string,
      subject?: string,
      userName?: string,
    ): void {
      const event = denialEvent(ctx.clock, ex, {
        policy: 'authenticate',
        action: 'authenticate',
        category: 'authentication',
        reason,
        mode: config.mode,
        outcome: 'failure', // the credentials failed, whether or not the request goes on
        message: detail,
        subject,
      });
      if (scheme !== undefined) event['portcullis.scheme'] = scheme;
      // The login name tried (Basic user-id): the credential-abuse detector counts failures per user name.
      if (userName !== undefined) event['user.name'] = userName;
      // A fingerprint of the presented credential (never the credential) for per-token detectors and bans.
      const credential = presentedCredential(ex.req.headers, apiKeyHeaders);
      if (credential !== undefined) event['portcullis.credential.hash'] = credentialHash(credential);
      ctx.events.emit(event);
    }

    // Header values are computed once per principal; cached tokens yield the same principal object.
    const forwardedValues = new WeakMap<Principal, Array<[string, string]>>();
    function forwardedHeaders(principal: Principal): Array<[string, string]> {
      let out = forwardedValues.get(principal);
      if (out !== undefined) return out;
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
      for (const [header, claim] of claimHeaders) {
        const v = principal.claims[claim];
        if (v !== undefined && v !== null)
          out.push([header, headerValue(typeof v === 'string' ? v : JSON.stringify(v))]);
      }
      forwardedValues.set(principal, out);
      return out;
    }

    function attach(ex: Exchange, principal: Principal): void {
      ex.principal = principal;
      if (principal.method === 'anonymous') return;
      const h = ex.upstreamHeaders;
      for (const [name, value] of forwardedHeaders(principal)) h[name] = value;
    }

    // Principals of single-scheme requirements are memoised per identity (and so per cached token).
    const principals = new Map<readonly CompiledScheme[], WeakMap<Identity, Principal>>();
    function principalOf(identities: Identity[], req: readonly CompiledScheme[]): Principal {
      if (identities.length !== 1) return merge(identities, req);
      let memo = principals.get(req);
      if (memo === undefined) {
        memo = new WeakMap();
        principals.set(req, memo);
      }
      let p = memo.get(identities[0]);
      if (p === undefined) {
        p = merge(identities, req);
        memo.set(identities[0], p);
      }
      return p;
    }

    function deny(ex: Exchange, f: Failure): Problem {
      const available = offered(ex);
      if (available.length === 0 && (f.kind === 'missing' || f.kind === 'invalid')) {
        // Every scheme of the operation needs HTTPS: a 401 must carry a challenge (RFC 9110 §15.5.2), and
        // none can be offered here.
        if (f.kind === 'invalid') {
          const r = f.result;
          emit(ex, r.reason, r.detail, f.scheme.name, undefined, r.userName);
          return problem(problems.forbidden, r.detail, { reason: r.reason });
        }
        emit(ex, 'insecure_transport', 'no credentials presented over plain HTTP');
        return problem(problems.forbidden, 'This operation accepts credentials only over HTTPS.', {
          reason: 'insecure_transport',
        });
      }
      if (f.kind === 'missing') {
        emit(ex, 'missing_credentials', 'no credentials presented');
        // RFC 6750 §3: without credentials the challenge carries no error code.
        return problem(problems.unauthorized, 'This operation requires authentication.', {
          headers: { 'www-authenticate': available.map(withMetadata) },
          reason: 'missing_credentials',
        });
      }
      if (f.kind === 'unavailable') {
        emit(ex, f.reason, 'credential verification unavailable', f.scheme.name);
        return problem(problems.serviceUnavailable, 'Credentials cannot be verified right now.', {
          headers: { 'retry-after': '5' },
          reason: f.reason,
        });
      }
      if (f.kind === 'insufficient') {
        if (f.scheme.listsScopes) {
          const scope = f.needs.join(' ');
          emit(ex, 'insufficient_scope', `missing scope among: ${scope}`, f.scheme.name, f.identity.subject);
          return problem(problems.insufficientScope, `This operation requires the scope(s): ${scope}.`, {
            headers: {
              'www-authenticate': withMetadata(
                `Bearer realm=${quote(realm)}, error="insufficient_scope", scope=${quote(scope)}`,
              ),
            },
            extensions: { scope },
            reason: 'insufficient_scope',
          });
        }
        const roles = f.needs.join(' ');
        emit(ex, 'insufficient_role', `missing role among: ${roles}`, f.scheme.name, f.identity.subject);
        return problem(problems.forbidden, `This operation requires the role(s): ${roles}.`, {
          reason: 'insufficient_role',
        });
      }
      const r = f.result;
      emit(ex, r.reason, r.detail, f.scheme.name, undefined, r.userName);
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
        'www-authenticate': metadataParam === undefined ? challenges : challenges.map(withMetadata),
      };
      if (r.dpopNonce !== undefined) headers['dpop-nonce'] = r.dpopNonce;
      const type =
        r.dpop === true && r.reason !== 'dpop_required' ? problems.invalidDpopProof : problems.invalidToken;
      return problem(type, r.detail, { headers, reason: r.reason });
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
    function evaluate(ex: Exchange, p: Progress): RequestResult | Promise<RequestResult> {
      for (; p.req < requirements.length; p.req++, p.scheme = 0, p.identities = []) {
        const req = requirements[p.req];
        let failure: Failure | undefined;
        for (; p.scheme < req.length; p.scheme++) {
          const { verifier, needs } = req[p.scheme];
          const i = schemeIndex.get(verifier)!;
          let result = p.results[i];
          if (result === undefined) {
            const pending = verifier.verify(ex);
            if (pending instanceof Promise) {
              return pending.then((r) => {
                p.results[i] = r;
                return evaluate(ex, p);
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
          attach(ex, principalOf(p.identities, req));
          return undefined;
        }
        if (RANK[failure.kind] > RANK[p.worst.kind]) p.worst = failure;
      }
      if (anonymousAllowed && (p.worst.kind === 'missing' || p.worst.kind === 'insufficient')) {
        ex.principal = ANONYMOUS;
        return undefined;
      }
      return deny(ex, p.worst);
    }

    const handler: PolicyHandler = {
      onRequest(ex) {
        const incoming = ex.req.headers;
        for (const name of stripNames) if (name in incoming) delete incoming[name];
        if (requirements.length === 0) {
          ex.principal = ANONYMOUS;
          return undefined;
        }
        return evaluate(ex, {
          results: new Array(verifiers.length),
          req: 0,
          scheme: 0,
          identities: [],
          worst: { kind: 'missing' },
        });
      },
    };
    return handler;
  },
};

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
