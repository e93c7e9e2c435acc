/**
 * `--suggest-policy`: a gateway config fragment (for one `apis[i]` entry) that would block what a scan found.
 * Plain YAML text with comments, conservative on purpose: it names the policies and the operations, uses
 * only config keys the policy schemas define, and marks with TODO what only the API's owner knows.
 */
import type { ApiDocument, Operation } from '../../core/api-document.ts';
import type { Finding } from '../finding.ts';
import { SCAN_RULES } from './rules.ts';

type RuleId = (typeof SCAN_RULES)[keyof typeof SCAN_RULES]['id'];

/** A YAML scalar: strings always double-quoted (JSON strings are valid YAML). */
function scalar(value: string | number | boolean): string {
  return typeof value === 'string' ? JSON.stringify(value) : String(value);
}

/** Operation ids that have a finding of one of these rules, in spec order. */
function operationsWith(
  findings: readonly Finding[],
  spec: ApiDocument,
  ids: readonly RuleId[],
): Operation[] {
  const keys = new Set(
    findings
      .filter((f) => ids.includes(f.rule.id as RuleId) && f.operation)
      .map((f) => `${f.operation!.method} ${f.operation!.path}`),
  );
  return spec.operations.filter((op) => keys.has(`${op.method} ${op.path}`));
}

/** API-wide blocks, in the order they are written. */
export type ApiBlock =
  | 'authenticate'
  | 'validateRequest'
  | 'rateLimit'
  | 'protectResponse'
  | 'securityHeaders'
  | 'cors';
/** Blocks on each operation with the finding (the hints are comments only), in the order they are written. */
export type OperationBlock =
  | 'authorize'
  | 'ownershipHint'
  | 'loginRateLimit'
  | 'flowQuota'
  | 'pageSizeHint'
  | 'ssrfGuard';

/**
 * What the fragment says about one rule: API-wide policies that close or contain it, a block on each operation
 * with the finding, `routing` when the gateway closes it by routing only declared operations, and `inApi`: what
 * only the API can fix, written as a comment beside (or instead of) a policy.
 */
export interface PolicySuggestion {
  readonly api?: readonly ApiBlock[];
  readonly operation?: OperationBlock;
  readonly routing?: true;
  readonly inApi?: string;
}

/**
 * Every rule of the active scan, and what the suggestion does about it. A rule added to `SCAN_RULES` without an
 * entry here fails `suggest-policy.test.ts` (rule ids are plain strings to the compiler).
 */
export const POLICY_SUGGESTIONS: Readonly<Record<RuleId, PolicySuggestion>> = {
  'scan/api1-bola-read': { operation: 'ownershipHint' },
  'scan/api1-bola-write': { operation: 'ownershipHint' },
  'scan/api1-bola-delete': { operation: 'ownershipHint' },
  'scan/api1-account-takeover': {
    operation: 'ownershipHint',
    inApi:
      'take the account whose password changes from the session, never from the path or body; ask for the current password',
  },
  'scan/api2-no-credentials': { api: ['authenticate'] },
  'scan/api2-invalid-token-accepted': { api: ['authenticate'] },
  'scan/api2-token-in-query': {
    api: ['validateRequest'],
    inApi:
      'accept tokens in the Authorization header (or a secure cookie) only; undeclared query parameters such as ?access_token= are refused by validateRequest',
  },
  'scan/api2-weak-hmac-secret': { api: ['authenticate'] },
  'scan/api2-password-change-without-current': {
    inApi: 'ask for the current password before setting a new one',
  },
  'scan/api2-password-reset-without-proof': {
    inApi:
      'reset a password only with a single-use, short-lived token sent to the account, never from a user name or e-mail alone',
  },
  'scan/api2-session-not-ended': {
    inApi:
      'end the session on logout (delete it server-side, or deny-list the token id until it expires); authenticate.maxTokenAgeSeconds only bounds how long a token lives',
  },
  'scan/api2-token-without-expiry': {
    api: ['authenticate'],
    inApi: 'issue tokens with an exp claim; the gateway refuses tokens without one',
  },
  'scan/api2-user-enumeration': { operation: 'loginRateLimit' },
  'scan/api2-credentials-in-url': {
    inApi: 'take credentials in the body of a POST or an Authorization header, never in the query string',
  },
  'scan/api2-wrong-password-accepted': {
    inApi:
      'compare the password with the stored hash and refuse a mismatch; the gateway cannot tell a wrong password',
  },
  'scan/api2-no-brute-force-protection': { operation: 'loginRateLimit' },
  'scan/api2-any-credentials-accepted': {
    inApi:
      'find the account and verify its password before issuing any token; the gateway cannot tell an unknown user',
  },
  'scan/api2-secret-in-token': {
    inApi:
      'issue opaque random tokens or signed claims without keys, passwords or hashes; rotate the exposed key and passwords',
  },
  'scan/api2-default-credentials': {
    inApi: 'remove default and sample accounts, or force a new strong password on first use',
  },
  'scan/api2-weak-password-policy': {
    api: ['validateRequest'],
    inApi:
      'refuse short and common passwords; declare minLength on the password in the API description and validateRequest enforces it',
  },
  'scan/api3-mass-assignment': { api: ['validateRequest'] },
  'scan/api3-undeclared-response-fields': { api: ['protectResponse'] },
  'scan/api3-sensitive-data-exposure': { api: ['protectResponse'] },
  'scan/api4-no-rate-limit': { api: ['rateLimit'] },
  'scan/api4-unbounded-page-size': { api: ['validateRequest'], operation: 'pageSizeHint' },
  'scan/api4-page-limit-ignored': { inApi: 'apply the page-size parameter, with a default and a maximum' },
  'scan/api4-no-pagination': {
    inApi: 'page every list (a limit with a default and a maximum) and declare it in the API description',
  },
  'scan/api4-oversized-input': { api: ['validateRequest'] },
  'scan/api4-redos': {
    api: ['validateRequest'],
    inApi:
      "declare the input's pattern, format and maxLength: the gateway checks patterns in linear time and refuses what fails them before the API's own expression runs; replace the nested quantifiers in the API",
  },
  'scan/api5-bfla': { operation: 'authorize' },
  'scan/api5-anonymous-write': {
    api: ['authenticate'],
    inApi:
      'declare security on the operation (the gateway authenticates what the API description secures) and require a caller in the API',
  },
  'scan/api6-repeatable-business-flow': { operation: 'flowQuota' },
  'scan/api7-ssrf': { operation: 'ssrfGuard' },
  'scan/api8-cors-credentials': { api: ['cors'] },
  'scan/api8-missing-security-headers': { api: ['securityHeaders'] },
  'scan/api8-insecure-session-cookie': {
    inApi: 'set the session cookie with HttpOnly, Secure and SameSite=Lax (or Strict)',
  },
  'scan/api8-csrf': {
    inApi:
      'set the session cookie with SameSite=Lax (or Strict) and require an anti-forgery token on state changes',
  },
  'scan/api8-verbose-errors': { api: ['protectResponse'] },
  'scan/api8-version-banner': { api: ['protectResponse'] },
  'scan/api8-trace-enabled': { routing: true },
  'scan/api8-weak-tls': {
    inApi: 'serve TLS 1.2 or later only (or terminate TLS at the gateway: listeners[].tls)',
  },
  'scan/api8-certificate-problem': {
    inApi: 'serve a valid certificate for the host name (or terminate TLS at the gateway: listeners[].tls)',
  },
  'scan/api8-configuration-exposure': {
    api: ['protectResponse'],
    inApi: 'remove debug and configuration dumps, and rotate every secret that was exposed',
  },
  'scan/api8-directory-listing': {
    routing: true,
    inApi:
      'turn directory listings off (autoindex, serve-index) and keep configuration, dumps and uploads out of public folders',
  },
  'scan/api8-host-header-injection': {
    inApi:
      'build links (reset, invitation, verification, next pages) from a configured public base URL, never from Host or X-Forwarded-Host; accept only your own host names',
  },
  'scan/api8-sql-injection': { api: ['validateRequest'] },
  'scan/api8-nosql-injection': { api: ['validateRequest'] },
  'scan/api8-command-injection': { api: ['validateRequest'] },
  'scan/api8-template-injection': { api: ['validateRequest'] },
  'scan/api8-insecure-deserialization': {
    inApi: 'never deserialize client data into objects (node-serialize, pickle, YAML tags): parse plain JSON',
  },
  'scan/api8-xxe': {
    api: ['validateRequest'],
    inApi:
      'turn off DTDs and external entities in the XML parser; validateRequest refuses bodies of media types the operation does not declare (XML sent to a JSON operation)',
  },
  'scan/api8-unrestricted-upload': {
    api: ['validateRequest', 'securityHeaders'],
    inApi:
      "store uploads under names the server makes and serve them as attachments; declare the allowed types per file part (encoding.<part>.contentType); the gateway's Content-Security-Policy keeps scripts in files it serves from running",
  },
  'scan/api8-stored-xss': {
    api: ['securityHeaders'],
    inApi:
      "escape stored text in every HTML page and serve data as application/json; the gateway's Content-Security-Policy and nosniff keep an inline script from running",
  },
  'scan/api8-path-traversal': { api: ['validateRequest'] },
  'scan/api9-undocumented-endpoint': { routing: true },
  'scan/api9-deprecated-operation-served': {
    inApi:
      'retire the operation: take it out of the API description (the gateway then routes it no more) or answer 410',
  },
  'scan/api9-older-version-weaker': {
    inApi: 'retire the older version, or declare the same security on it as on the current one',
  },
  'scan/api10-unvalidated-third-party-data': { operation: 'ssrfGuard' },
  'scan/api10-unsigned-webhook': {
    inApi:
      "verify the provider's signature (an HMAC of the raw body, with its timestamp) before acting on an event",
  },
};

/** The found rules that ask for a block. */
function rulesFor(findings: readonly Finding[], wanted: (s: PolicySuggestion) => boolean): RuleId[] {
  const ids = new Set<RuleId>();
  for (const f of findings) {
    const s = POLICY_SUGGESTIONS[f.rule.id as RuleId];
    if (s !== undefined && wanted(s)) ids.add(f.rule.id as RuleId);
  }
  return [...ids];
}

/** Fields reported by API3 findings, for the response protection (`/a/*\/b` pointers → `a.b`). */
function exposedFields(findings: readonly Finding[]): string[] {
  const out = new Set<string>();
  for (const f of findings) {
    if (f.rule.id !== SCAN_RULES.undeclaredFields.id && f.rule.id !== SCAN_RULES.sensitiveData.id) continue;
    const fields = f.evidence?.fields;
    if (!Array.isArray(fields)) continue;
    for (const raw of fields) {
      const pointer = String(raw).split(' ')[0];
      const name = pointer
        .split('/')
        .filter((s) => s !== '' && s !== '*')
        .pop();
      if (name) out.add(name);
    }
  }
  return [...out].sort();
}

/**
 * Builds the suggestion. Returns a YAML fragment with `policies:` (API-wide) and `operations:` (per
 * operationId); an empty API-wide block and no operations when nothing was found.
 *
 * @example
 * const yaml = suggestPolicy(result.findings, await loadApiDocument('openapi.yaml'));
 */
export function suggestPolicy(findings: readonly Finding[], spec: ApiDocument): string {
  const R = SCAN_RULES;
  const lines: string[] = [
    `# Gateway policies suggested by \`portcullis scan\` for ${spec.title} ${spec.version} (${findings.length} findings).`,
    '# Paste under the matching `apis[i]` entry of the gateway config and review every line. TODO marks values',
    '# only you know. Start with `mode: report` to see what would be blocked, then switch to `mode: enforce`.',
  ];
  /** The found rules that ask for this API-wide block, as a comment line (none: the block is not written). */
  const apiRules = (block: ApiBlock) => rulesFor(findings, (s) => s.api?.includes(block) === true);
  const found = (id: RuleId) => findings.some((f) => f.rule.id === id);
  const forLine = (ids: readonly RuleId[]) => `  # For: ${ids.join(', ')}.`;
  const api: string[] = [];

  const authenticate = apiRules('authenticate');
  if (authenticate.length > 0) {
    const schemes = Object.entries(spec.securitySchemes).filter(
      ([, s]) =>
        s.type === 'oauth2' ||
        s.type === 'openIdConnect' ||
        (s.type === 'http' && /bearer/i.test(String(s.raw.scheme))),
    );
    api.push(
      '  # API2: tokens were accepted that should not be (no credentials, alg none, expired, forged, weak secret).',
      '  # The gateway verifies signature, algorithm allow-list, expiry, issuer and audience on every request.',
      forLine(authenticate),
      ...(found(R.weakHmacSecret.id)
        ? ['  # The HMAC secret was guessed: rotate it now and prefer asymmetric keys (JWKS).']
        : []),
      ...(found(R.tokenWithoutExpiry.id)
        ? ['  # Tokens without `exp` were accepted: the gateway requires `exp` on every token it verifies.']
        : []),
      ...(found(R.anonymousWrite.id)
        ? [
            '  # Writes answered callers without credentials: declare `security` on those operations in the spec.',
          ]
        : []),
      '  # TODO: your issuer, its JWKS and your audience.',
      '  authenticate:',
      '    mode: enforce',
      ...(schemes.length > 0
        ? ['    schemes:']
        : ['    schemes: {} # TODO: the spec declares no bearer scheme']),
    );
    for (const [name] of schemes) {
      api.push(
        `      ${/^[\w.-]+$/.test(name) ? name : scalar(name)}:`,
        '        jwt:',
        '          issuers:',
        `            - issuer: ${scalar('https://TODO-issuer.example')}`,
        `              jwksUri: ${scalar('https://TODO-issuer.example/.well-known/jwks.json')}`,
        `              audiences: [${scalar('TODO-audience')}]`,
        `              algorithms: [${scalar('RS256')}, ${scalar('ES256')}]`,
      );
    }
  }
  const validate = apiRules('validateRequest');
  if (validate.length > 0) {
    api.push(
      '  # API3 mass assignment, API4 oversized input and page size, API8 injection: requests must match the',
      '  # API description. Add `maxLength`, `maximum`, `pattern` and `additionalProperties: false` to the spec',
      '  # where the scan found none: the gateway enforces what the spec declares.',
      forLine(validate),
      '  validateRequest:',
      '    mode: enforce',
      `    additionalProperties: ${scalar('reject')}`,
      `    unknownQueryParameters: ${scalar('reject')}`,
      '    maxBodyBytes: 65536',
      '    maxStringLength: 10000',
      '    maxArrayItems: 1000',
    );
  }
  const rate = apiRules('rateLimit');
  if (rate.length > 0) {
    api.push(
      '  # API4: a burst of requests was answered in full. A budget per consumer (or client address):',
      forLine(rate),
      '  rateLimit:',
      '    mode: enforce',
      '    limits:',
      `      - name: ${scalar('per-client')}`,
      `        algorithm: ${scalar('gcra')}`,
      '        limit: 100',
      '        windowSeconds: 60',
      '        burst: 20',
      `        key: ${scalar('consumer')}`,
      `        fallbackKey: ${scalar('ip')}`,
    );
  }
  const protect = apiRules('protectResponse');
  if (protect.length > 0) {
    const fields = exposedFields(findings);
    api.push(
      '  # API3 excessive data, API8 verbose errors and version banners: responses are cut to their schema,',
      '  # secrets masked, 5xx details replaced, revealing headers removed.',
      forLine(protect),
      ...(fields.length > 0 ? [`  # Fields the scan saw leak: ${fields.join(', ')}`] : []),
      '  protectResponse:',
      '    mode: enforce',
      `    schemaMismatch: ${scalar('block')}`,
      '    maskServerErrors: true',
      `    dataLeak: ${scalar('mask')}`,
      `    removeHeaders: [${scalar('server')}, ${scalar('x-powered-by')}]`,
    );
  }
  const headers = apiRules('securityHeaders');
  if (headers.length > 0) {
    api.push(
      '  # API8: security headers (nosniff, a Content-Security-Policy that lets nothing load or run, no-store for',
      '  # authenticated callers, HSTS on https).',
      forLine(headers),
      '  securityHeaders:',
      '    mode: enforce',
      '    noStoreWhenAuthenticated: true',
    );
  }
  const cors = apiRules('cors');
  if (cors.length > 0) {
    api.push(
      '  # API8: CORS reflected any origin. Allow only your front ends (TODO):',
      forLine(cors),
      '  cors:',
      '    mode: enforce',
      `    allowOrigins: [${scalar('https://TODO-app.example')}]`,
      '    allowCredentials: false',
      '    rejectUnlistedOrigins: true',
    );
  }
  const routed = rulesFor(findings, (s) => s.routing === true);
  if (routed.length > 0) {
    lines.push(
      '# API9 / TRACE: the gateway routes only the operations the API description declares (`undeclared: deny`);',
      '# undocumented paths, older versions and undeclared methods get 404/405 through it. No policy needed.',
      `# For: ${routed.join(', ')}.`,
    );
  }
  const inApi = rulesFor(findings, (s) => s.inApi !== undefined);
  if (inApi.length > 0) {
    lines.push('# No gateway policy closes these (alone): fix them in the API.');
    for (const id of inApi) {
      const ops = [
        ...new Set(
          findings
            .filter((f) => f.rule.id === id && f.operation)
            .map((f) => f.operation!.operationId ?? `${f.operation!.method} ${f.operation!.path}`),
        ),
      ];
      const where =
        ops.length === 0 ? '' : ` (${ops.slice(0, 5).join(', ')}${ops.length > 5 ? ', ...' : ''})`;
      lines.push(`#   ${id}${where}: ${POLICY_SUGGESTIONS[id].inApi}.`);
    }
  }
  lines.push(api.length > 0 ? 'policies:' : 'policies: {}', ...api);

  const perOp = new Map<string, string[]>();
  const add = (op: Operation, block: string[]) => {
    const list = perOp.get(op.id) ?? [];
    const policy = block.find((l) => /^ {6}\w+:$/.test(l));
    if (policy && list.includes(policy)) return; // one block per policy and operation; the first reason wins
    list.push(...block);
    perOp.set(op.id, list);
  };
  const opsFor = (block: OperationBlock) =>
    operationsWith(
      findings,
      spec,
      rulesFor(findings, (s) => s.operation === block),
    );
  for (const op of opsFor('authorize')) {
    add(op, [
      '      # API5: an ordinary identity called this privileged operation.',
      '      authorize:',
      '        mode: enforce',
      `        rolesAnyOf: [${scalar('admin')}]`,
    ]);
  }
  for (const op of opsFor('ownershipHint')) {
    add(op, [
      '      # API1: another identity reached this object. The gateway can check ownership only when the request',
      '      # or the token names the owner, e.g. a path like /users/{userId}/...; otherwise fix it in the API.',
      '      # authorize:',
      '      #   mode: enforce',
      `      #   rule: ${scalar('request.path.userId == principal.sub')}`,
    ]);
  }
  for (const op of opsFor('loginRateLimit')) {
    add(op, [
      '      # API2: no brute-force protection on the login. Few attempts per client address:',
      '      rateLimit:',
      '        mode: enforce',
      '        limits:',
      `          - name: ${scalar(`${op.id}-attempts`)}`,
      `            algorithm: ${scalar('sliding-window')}`,
      '            limit: 5',
      '            windowSeconds: 300',
      `            key: ${scalar('ip')}`,
    ]);
  }
  for (const op of opsFor('flowQuota')) {
    add(op, [
      '      # API6: this business action repeats without limit. Once per consumer per day (adjust):',
      '      rateLimit:',
      '        mode: enforce',
      '        limits:',
      `          - name: ${scalar(`${op.id}-per-day`)}`,
      `            algorithm: ${scalar('quota')}`,
      '            limit: 1',
      `            period: ${scalar('day')}`,
      `            key: ${scalar('consumer')}`,
      `            fallbackKey: ${scalar('ip')}`,
    ]);
  }
  for (const op of opsFor('pageSizeHint')) {
    const f = findings.find((x) => x.rule.id === R.unboundedPageSize.id && x.operation?.path === op.path);
    const param =
      typeof f?.evidence?.parameter === 'string' ? f.evidence.parameter : 'the page size parameter';
    add(op, [
      `      # API4: no maximum page size: declare \`maximum\` on ${param} in the spec (validateRequest enforces it).`,
    ]);
  }
  for (const op of opsFor('ssrfGuard')) {
    add(op, [
      '      # API7/API10: this operation fetches URLs the client gives. Internal addresses are refused; list',
      '      # the hosts it may reach (TODO) in allowHosts, e.g. [api.partner.example].',
      '      ssrfGuard:',
      '        mode: enforce',
      '        allowHosts: []',
    ]);
  }
  const isPolicy = (l: string) => /^ {6}\w+:$/.test(l);
  const withPolicies = [...perOp].filter(([, block]) => block.some(isPolicy));
  const commentsOnly = [...perOp].filter(([, block]) => !block.some(isPolicy));
  for (const [id, block] of commentsOnly) {
    lines.push(`# ${id}:`, ...block.map((l) => l.replace(/^ {6}# ?|^ {6}/, '#   ')));
  }
  if (withPolicies.length > 0) {
    lines.push('operations:');
    for (const [id, block] of withPolicies) {
      lines.push(`  ${/^[\w.-]+$/.test(id) ? id : scalar(id)}:`, '    policies:', ...block);
    }
  }
  return `${lines.join('\n')}\n`;
}
