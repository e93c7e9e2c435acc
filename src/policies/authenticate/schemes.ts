import { createHash } from 'node:crypto';
import type { SecurityScheme } from '../../core/api-document.ts';
import { ConfigPathError } from '../../core/errors.ts';
import type { Exchange } from '../../core/exchange.ts';
import type { CompileContext } from '../../core/policy.ts';
import { PolicyConfigError } from '../../core/policy.ts';
import { withDefaults } from '../../core/policy-config.ts';
import { authorizationCredential } from '../../shared/credential-hash.ts';
import { type ApiKeyConsumer, createApiKeyRegistry, createRuntimeApiKeys, readApiKey } from './api-key.ts';
import { createBasicAuthenticator } from './basic.ts';
import { type CredentialResult, invalid, MISSING, rolesOf, scopesOf } from './credential.ts';
import { createDpopVerifier, type DpopVerifier } from './dpop.ts';
import { createIntrospector } from './introspection.ts';
import { createJwtVerifier } from './jwt.ts';
import {
  type CertificateSource,
  commonName,
  createCertificateMapper,
  createCertificateSource,
} from './mtls.ts';
import {
  apiKeySchema,
  basicSchema,
  type ClientCertHeaderConfig,
  mtlsSchema,
  type SchemeBinding,
  schemeBindingSchema,
} from './schema.ts';

/** The compiled verifier of one security scheme, shared by every route of the API. */
export interface SchemeVerifier {
  readonly name: string;
  readonly kind: 'bearer' | 'apiKey' | 'basic' | 'mtls';
  /** Requirement lists name scopes for token schemes (oauth2, openIdConnect, http bearer) and roles otherwise (OAS 3.1). */
  readonly listsScopes: boolean;
  /** Challenge (without error parameters) for `WWW-Authenticate`. */
  readonly challenge: string;
  /** DPoP challenge, when the scheme accepts DPoP. */
  readonly dpopChallenge: string | undefined;
  /** True when the credentials are refused over plain HTTP (Basic): no challenge invites them there. */
  readonly httpsOnly?: boolean;
  verify(ex: Exchange): CredentialResult | Promise<CredentialResult>;
}

/**
 * Splits `Authorization: Bearer|DPoP <token>` (scheme case-insensitive, RFC 9110 §11.1) without a regex:
 * this runs on every request. Undefined for other schemes; '' for a Bearer/DPoP header without a token.
 */
function parseAuthorization(header: string): Readonly<{ dpop: boolean; token: string }> | undefined {
  // The same value is parsed once, whichever verifiers of the request (or the next requests) ask.
  if (header === lastHeader) return lastParsed;
  const sp = header.indexOf(' ');
  const scheme = (sp < 0 ? header : header.slice(0, sp)).toLowerCase();
  let parsed: { dpop: boolean; token: string } | undefined;
  if (scheme === 'bearer' || scheme === 'dpop') {
    const token = authorizationCredential(header);
    // RFC 6750 §2.1 b64token: no whitespace inside; the verifiers check the rest of the syntax.
    parsed = { dpop: scheme === 'dpop', token: /\s/.test(token) ? '' : token };
  }
  lastHeader = header;
  lastParsed = parsed;
  return parsed;
}
let lastHeader: string | undefined;
let lastParsed: Readonly<{ dpop: boolean; token: string }> | undefined;

/**
 * Builds (once per API, scheme and binding, through `ctx.shared`) the verifier of a scheme.
 * `clientCertHeader` is the API's RFC 9440 setting, for client certificates and certificate-bound tokens.
 * Throws PolicyConfigError when the binding does not fit the scheme type.
 */
export function schemeVerifier(
  name: string,
  scheme: SecurityScheme,
  binding: SchemeBinding,
  realm: string,
  ctx: CompileContext,
  clientCertHeader?: ClientCertHeaderConfig,
): SchemeVerifier {
  const path = `schemes.${name}`;
  const kinds = (['jwt', 'introspection', 'apiKey', 'basic', 'mtls'] as const).filter(
    (k) => binding[k] !== undefined,
  );
  if (kinds.length !== 1) {
    throw new PolicyConfigError(
      path,
      `scheme ${name}: give exactly one of jwt, introspection, apiKey, basic, mtls`,
    );
  }
  const kind = kinds[0];
  const raw = scheme.raw;
  const httpBearer = scheme.type === 'http' && String(raw.scheme ?? '').toLowerCase() === 'bearer';
  const tokenScheme = httpBearer || scheme.type === 'oauth2' || scheme.type === 'openIdConnect';
  if ((kind === 'jwt' || kind === 'introspection') && !tokenScheme) {
    throw new PolicyConfigError(
      path,
      `scheme ${name} (${scheme.type}) does not carry bearer tokens; ${kind} cannot verify it`,
    );
  }
  if (kind === 'apiKey' && scheme.type !== 'apiKey') {
    throw new PolicyConfigError(path, `scheme ${name} is of type ${scheme.type}, not apiKey`);
  }
  const httpBasic = scheme.type === 'http' && String(raw.scheme ?? '').toLowerCase() === 'basic';
  if (kind === 'basic' && !httpBasic) {
    throw new PolicyConfigError(path, `scheme ${name} is not of type http with scheme basic`);
  }
  if (kind === 'mtls' && scheme.type !== 'mutualTLS') {
    throw new PolicyConfigError(path, `scheme ${name} is of type ${scheme.type}, not mutualTLS`);
  }
  if (binding.dpop !== undefined && !tokenScheme) {
    throw new PolicyConfigError(`${path}.dpop`, `scheme ${name}: DPoP applies to bearer token schemes only`);
  }
  const fingerprint = createHash('sha256')
    .update(JSON.stringify([binding, clientCertHeader ?? null]))
    .digest('base64url')
    .slice(0, 16);
  const key = `authenticate:scheme:${ctx.apiName}:${name}:${realm}:${fingerprint}`;
  return ctx.shared.get(key, () => {
    try {
      const certificates = certificateSource(clientCertHeader, ctx);
      return build(name, scheme, binding, kind, realm, ctx, tokenScheme, certificates);
    } catch (err) {
      if (err instanceof PolicyConfigError) throw err;
      const sub = err instanceof ConfigPathError ? `.${kind}.${err.path}` : `.${kind}`;
      throw new PolicyConfigError(path + sub, `scheme ${name}: ${(err as Error).message}`);
    }
  });
}

type SchemeKind = 'jwt' | 'introspection' | 'apiKey' | 'basic' | 'mtls';

function build(
  name: string,
  scheme: SecurityScheme,
  binding: SchemeBinding,
  kind: SchemeKind,
  realm: string,
  ctx: CompileContext,
  listsScopes: boolean,
  certificates: CertificateSource,
): SchemeVerifier {
  const quotedRealm = quote(realm);
  if (kind === 'apiKey') return buildApiKey(name, scheme, binding, quotedRealm, ctx);
  if (kind === 'basic') return buildBasic(name, binding, quotedRealm, ctx);
  if (kind === 'mtls') return buildMtls(name, binding, quotedRealm, certificates);
  return buildBearer(name, binding, kind, quotedRealm, ctx, listsScopes, certificates);
}

function buildApiKey(
  name: string,
  scheme: SecurityScheme,
  binding: SchemeBinding,
  quotedRealm: string,
  ctx: CompileContext,
): SchemeVerifier {
  const where = scheme.raw.in;
  const paramName = scheme.raw.name;
  if ((where !== 'header' && where !== 'query' && where !== 'cookie') || typeof paramName !== 'string') {
    throw new PolicyConfigError(`schemes.${name}`, `apiKey scheme ${name} needs "in" and "name" in the spec`);
  }
  const registry = createApiKeyRegistry(binding.apiKey!);
  const runtime = withDefaults(apiKeySchema, binding.apiKey!).runtimeKeys
    ? createRuntimeApiKeys(ctx.store, ctx.apiName)
    : undefined;
  const loc = { in: where, name: paramName } as const;
  const ok = (consumer: ApiKeyConsumer): CredentialResult => ({
    kind: 'ok',
    identity: {
      subject: consumer.name,
      consumer: consumer.name,
      scopes: new Set(),
      roles: consumer.roles,
      claims: consumer.metadata,
      method: 'api-key',
    },
  });
  const unknown = invalid('unknown_api_key', 'API key not recognised');
  return {
    name,
    kind: 'apiKey',
    listsScopes: false,
    challenge: `ApiKey realm=${quotedRealm}, in="${where}", name=${quote(paramName)}`,
    dpopChallenge: undefined,
    verify(ex) {
      const presented = readApiKey(ex.req, ex.rawQuery, loc);
      if (presented === undefined) return MISSING;
      const consumer = registry.lookup(presented);
      if (consumer !== undefined) return ok(consumer);
      if (runtime === undefined) return unknown;
      return runtime.lookup(presented).then(
        (c) => (c === undefined ? unknown : ok(c)),
        () => ({
          kind: 'unavailable',
          reason: 'key_store_unavailable',
          detail: 'API keys cannot be checked',
        }),
      );
    },
  };
}

function buildBasic(
  name: string,
  binding: SchemeBinding,
  quotedRealm: string,
  ctx: CompileContext,
): SchemeVerifier {
  const basicConfig = withDefaults(basicSchema, binding.basic!);
  const basic = createBasicAuthenticator(basicConfig, { clock: ctx.clock });
  return {
    name,
    kind: 'basic',
    listsScopes: false,
    // RFC 7617 §2.1: the charset parameter tells clients to send the credentials as UTF-8.
    challenge: `Basic realm=${quotedRealm}, charset="UTF-8"`,
    dpopChallenge: undefined,
    httpsOnly: !basicConfig.allowPlainHttp,
    verify(ex) {
      const r = basic.authenticate(ex.req.headers.authorization, ex.scheme === 'https');
      if (basicConfig.forwardAuthorization) return r;
      // The verified password stops here: the upstream never sees it.
      const drop = (v: CredentialResult) => {
        if (v.kind === 'ok') {
          ex.dropUpstreamHeaders ??= [];
          ex.dropUpstreamHeaders.push('authorization');
        }
        return v;
      };
      return r instanceof Promise ? r.then(drop) : drop(r);
    },
  };
}

function buildMtls(
  name: string,
  binding: SchemeBinding,
  quotedRealm: string,
  certificates: CertificateSource,
): SchemeVerifier {
  const cfg = withDefaults(mtlsSchema, binding.mtls!);
  const mapCert = createCertificateMapper(cfg);
  return {
    name,
    kind: 'mtls',
    listsScopes: false,
    challenge: `Mutual realm=${quotedRealm}`,
    dpopChallenge: undefined,
    verify(ex) {
      const cert = certificates(ex);
      if (cert === undefined) return MISSING;
      if (!cert.ok) return invalid(cert.reason, cert.detail);
      const consumer = mapCert(cert.cert);
      if (consumer === undefined && !cfg.allowUnmapped) {
        return invalid('unmapped_certificate', 'client certificate maps to no consumer');
      }
      return {
        kind: 'ok',
        identity: {
          subject: consumer?.name ?? commonName(cert.cert),
          consumer: consumer?.name,
          scopes: new Set(),
          roles: consumer?.roles ?? new Set(),
          claims: { ...consumer?.metadata, 'x5t#S256': cert.thumbprint },
          method: 'mtls',
        },
      };
    },
  };
}

type TokenOutcome =
  | { ok: true; claims: unknown; rolesClaim: string }
  | { ok: false; reason: string; detail: string; unavailable?: boolean };

/** A bearer token scheme (JWT or introspection, maybe with DPoP), compiled. */
interface BearerState {
  readonly kind: 'jwt' | 'introspection';
  readonly check: (token: string) => TokenOutcome | Promise<TokenOutcome>;
  readonly dpop: DpopVerifier | undefined;
  readonly certificateBound: boolean;
  readonly certificates: CertificateSource;
  /** Identities memoised per verified claims object (the token cache returns the same object). */
  readonly bearerIdentities: WeakMap<object, CredentialResult>;
  readonly dpopIdentities: WeakMap<object, CredentialResult>;
}

function buildBearer(
  name: string,
  binding: SchemeBinding,
  kind: 'jwt' | 'introspection',
  quotedRealm: string,
  ctx: CompileContext,
  listsScopes: boolean,
  certificates: CertificateSource,
): SchemeVerifier {
  const deps = { clock: ctx.clock, logger: ctx.logger, shared: ctx.shared };
  let check: (token: string) => TokenOutcome | Promise<TokenOutcome>;
  if (kind === 'jwt') {
    const v = createJwtVerifier(binding.jwt!, deps);
    check = (t) => v.verify(t);
  } else {
    const v = createIntrospector(binding.introspection!, deps);
    check = (t) => v.introspect(t);
  }
  const dpop: DpopVerifier | undefined =
    binding.dpop === undefined
      ? undefined
      : createDpopVerifier(binding.dpop, {
          clock: ctx.clock,
          store: ctx.store,
          scope: `${ctx.apiName}:${name}`,
        });
  const s: BearerState = {
    kind,
    check,
    dpop,
    certificateBound: withDefaults(schemeBindingSchema, binding).certificateBound,
    certificates,
    bearerIdentities: new WeakMap(),
    dpopIdentities: new WeakMap(),
  };
  return {
    name,
    kind: 'bearer',
    listsScopes,
    challenge: `Bearer realm=${quotedRealm}`,
    dpopChallenge: dpop?.challenge,
    verify: (ex) => verifyBearer(s, ex),
  };
}

// ---- Per request (bearer tokens) ----

function verifyBearer(s: BearerState, ex: Exchange): CredentialResult | Promise<CredentialResult> {
  const header = ex.req.headers.authorization;
  if (header === undefined) return MISSING;
  const parsed = parseAuthorization(header);
  // Another scheme (Basic, ...) is not a credential for this one.
  if (parsed === undefined) return MISSING;
  if (parsed.token === '') return invalid('malformed', 'malformed Authorization header');
  const isDpop = parsed.dpop;
  const token = parsed.token;
  if (isDpop && s.dpop === undefined)
    return invalid('dpop_not_accepted', 'DPoP tokens are not accepted here');
  // A cached token (or one whose key is held) is finished synchronously: the pipeline stays synchronous.
  const out = s.check(token);
  return out instanceof Promise
    ? out.then((o) => finishBearer(s, ex, token, isDpop, o))
    : finishBearer(s, ex, token, isDpop, out);
}

function finishBearer(
  s: BearerState,
  ex: Exchange,
  token: string,
  isDpop: boolean,
  out: TokenOutcome,
): CredentialResult | Promise<CredentialResult> {
  if (!out.ok) {
    return out.unavailable === true
      ? { kind: 'unavailable', reason: out.reason, detail: out.detail }
      : invalid(out.reason, out.detail);
  }
  const claims = out.claims as Record<string, unknown>;
  const cnf = (claims.cnf !== null && typeof claims.cnf === 'object' ? claims.cnf : {}) as Record<
    string,
    unknown
  >;
  if (isDpop) {
    return s.dpop!.verify(ex, token, cnf.jkt).then((proof): CredentialResult => {
      if (proof.ok) return bound(s, ex, claims, cnf, true, out.rolesClaim);
      if (proof.unavailable === true)
        return { kind: 'unavailable', reason: proof.reason, detail: proof.detail };
      return {
        kind: 'invalid',
        reason: proof.reason,
        detail: proof.detail,
        dpop: true,
        dpopNonce: proof.nonce,
      };
    });
  }
  if (cnf.jkt !== undefined || s.dpop?.required === true) {
    // RFC 9449 §7.2: a DPoP-bound token presented as a plain bearer token is refused.
    return {
      kind: 'invalid',
      reason: 'dpop_required',
      detail: 'token must be used with a DPoP proof',
      dpop: true,
    };
  }
  return bound(s, ex, claims, cnf, false, out.rolesClaim);
}

/** Checks certificate binding, then returns the (memoised) identity of the claims. */
function bound(
  s: BearerState,
  ex: Exchange,
  claims: Record<string, unknown>,
  cnf: Record<string, unknown>,
  isDpop: boolean,
  rolesClaim: string,
): CredentialResult {
  const x5t = cnf['x5t#S256'];
  if (x5t !== undefined || s.certificateBound) {
    // RFC 8705 §3: the token is usable only over TLS with the certificate it is bound to.
    const cert = s.certificates(ex);
    if (cert === undefined || !cert.ok || typeof x5t !== 'string' || cert.thumbprint !== x5t) {
      return invalid('certificate_mismatch', 'token is not bound to the presented client certificate');
    }
  }
  // Identities are memoised per verified claims object (the token cache returns the same object), so a
  // cached token costs no claim parsing.
  const memo = isDpop ? s.dpopIdentities : s.bearerIdentities;
  const known = memo.get(claims);
  if (known !== undefined) return known;
  const sub = claims.sub ?? claims.client_id;
  const result: CredentialResult = {
    kind: 'ok',
    identity: {
      subject: typeof sub === 'string' ? sub : 'unknown',
      consumer: typeof claims.client_id === 'string' ? claims.client_id : undefined,
      scopes: scopesOf(claims),
      roles: rolesOf(claims, rolesClaim),
      claims,
      method: isDpop ? 'dpop' : s.kind === 'jwt' ? 'jwt' : 'introspection',
    },
  };
  memo.set(claims, result);
  return result;
}

/**
 * The API's one certificate source (one socket memo, one verdict cache), shared by its schemes.
 * Throws PolicyConfigError when the CA certificates of `clientCertHeader` cannot be read.
 */
export function certificateSource(
  cfg: ClientCertHeaderConfig | undefined,
  ctx: CompileContext,
): CertificateSource {
  const fingerprint = createHash('sha256')
    .update(JSON.stringify(cfg ?? null))
    .digest('base64url')
    .slice(0, 16);
  return ctx.shared.get(`authenticate:certificates:${ctx.apiName}:${fingerprint}`, () => {
    try {
      return createCertificateSource(cfg, ctx.clock);
    } catch (err) {
      throw new PolicyConfigError('clientCertHeader', (err as Error).message);
    }
  });
}

/** RFC 7235 quoted-string. */
export function quote(s: string): string {
  return `"${s.replace(/[\\"]/g, '\\$&').replace(/[\r\n]/g, ' ')}"`;
}
