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

function has(findings: readonly Finding[], ...ids: RuleId[]): boolean {
  return findings.some((f) => ids.includes(f.rule.id as RuleId));
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
  const api: string[] = [];

  if (has(findings, R.noCredentials.id, R.tokenAccepted.id, R.weakHmacSecret.id)) {
    const schemes = Object.entries(spec.securitySchemes).filter(
      ([, s]) =>
        s.type === 'oauth2' ||
        s.type === 'openIdConnect' ||
        (s.type === 'http' && /bearer/i.test(String(s.raw.scheme))),
    );
    api.push(
      '  # API2: tokens were accepted that should not be (no credentials, alg none, expired, forged, weak secret).',
      '  # The gateway verifies signature, algorithm allow-list, expiry, issuer and audience on every request.',
      ...(has(findings, R.weakHmacSecret.id)
        ? ['  # The HMAC secret was guessed: rotate it now and prefer asymmetric keys (JWKS).']
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
  if (
    has(
      findings,
      R.massAssignment.id,
      R.oversizedInput.id,
      R.unboundedPageSize.id,
      R.sqlInjection.id,
      R.nosqlInjection.id,
      R.commandInjection.id,
      R.templateInjection.id,
      R.pathTraversal.id,
    )
  ) {
    api.push(
      '  # API3 mass assignment, API4 oversized input and page size, API8 injection: requests must match the',
      '  # API description. Add `maxLength`, `maximum`, `pattern` and `additionalProperties: false` to the spec',
      '  # where the scan found none: the gateway enforces what the spec declares.',
      '  validateRequest:',
      '    mode: enforce',
      `    additionalProperties: ${scalar('reject')}`,
      `    unknownQueryParameters: ${scalar('reject')}`,
      '    maxBodyBytes: 65536',
      '    maxStringLength: 10000',
      '    maxArrayItems: 1000',
    );
  }
  if (has(findings, R.noRateLimit.id)) {
    api.push(
      '  # API4: a burst of requests was answered in full. A budget per consumer (or client address):',
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
  if (has(findings, R.undeclaredFields.id, R.sensitiveData.id, R.verboseErrors.id, R.versionBanner.id)) {
    const fields = exposedFields(findings);
    api.push(
      '  # API3 excessive data, API8 verbose errors and version banners: responses are cut to their schema,',
      '  # secrets masked, 5xx details replaced, revealing headers removed.',
      ...(fields.length > 0 ? [`  # Fields the scan saw leak: ${fields.join(', ')}`] : []),
      '  protectResponse:',
      '    mode: enforce',
      `    schemaMismatch: ${scalar('block')}`,
      '    maskServerErrors: true',
      `    dataLeak: ${scalar('mask')}`,
      `    removeHeaders: [${scalar('server')}, ${scalar('x-powered-by')}]`,
    );
  }
  if (has(findings, R.securityHeaders.id)) {
    api.push(
      '  # API8: security headers missing (nosniff, no-store for authenticated callers, HSTS on https).',
      '  securityHeaders:',
      '    mode: enforce',
      '    noStoreWhenAuthenticated: true',
    );
  }
  if (has(findings, R.corsCredentials.id)) {
    api.push(
      '  # API8: CORS reflected any origin. Allow only your front ends (TODO):',
      '  cors:',
      '    mode: enforce',
      `    allowOrigins: [${scalar('https://TODO-app.example')}]`,
      '    allowCredentials: false',
      '    rejectUnlistedOrigins: true',
    );
  }
  if (has(findings, R.undocumentedEndpoint.id, R.traceEnabled.id)) {
    lines.push(
      '# API9 / TRACE: the gateway routes only the operations the API description declares (`undeclared: deny`);',
      '# undocumented paths, older versions and undeclared methods get 404/405 through it. No policy needed.',
    );
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
  for (const op of operationsWith(findings, spec, [R.bfla.id])) {
    add(op, [
      '      # API5: an ordinary identity called this privileged operation.',
      '      authorize:',
      '        mode: enforce',
      `        rolesAnyOf: [${scalar('admin')}]`,
    ]);
  }
  for (const op of operationsWith(findings, spec, [R.bolaRead.id, R.bolaWrite.id, R.bolaDelete.id])) {
    add(op, [
      '      # API1: another identity reached this object. The gateway can check ownership only when the request',
      '      # or the token names the owner, e.g. a path like /users/{userId}/...; otherwise fix it in the API.',
      '      # authorize:',
      '      #   mode: enforce',
      `      #   rule: ${scalar('request.path.userId == principal.sub')}`,
    ]);
  }
  for (const op of operationsWith(findings, spec, [R.bruteForce.id, R.userEnumeration.id])) {
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
  for (const op of operationsWith(findings, spec, [R.businessFlow.id])) {
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
  for (const op of operationsWith(findings, spec, [R.unboundedPageSize.id])) {
    const f = findings.find((x) => x.rule.id === R.unboundedPageSize.id && x.operation?.path === op.path);
    const param =
      typeof f?.evidence?.parameter === 'string' ? f.evidence.parameter : 'the page size parameter';
    add(op, [
      `      # API4: no maximum page size: declare \`maximum\` on ${param} in the spec (validateRequest enforces it).`,
    ]);
  }
  for (const op of operationsWith(findings, spec, [R.ssrf.id, R.unvalidatedThirdParty.id])) {
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
