import type { Operation } from '../../core/api-document.ts';
import type { Exchange, Principal } from '../../core/exchange.ts';
import type { CompileContext, PolicyDefinition, PolicyHandler } from '../../core/policy.ts';
import { PolicyConfigError } from '../../core/policy.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import { parseJson, unsafeIntegerAt } from '../../shared/json.ts';
import { denialEvent } from '../denial-events.ts';
import { type CompiledRule, compileRule, RuleSyntaxError } from './rule.ts';
import { type AuthorizeConfig, type AuthzExtension, authorizeSchema } from './schema.ts';

/**
 * Function- and object-level authorization after `authenticate`: role rules and a CEL rule per
 * operation, compiled at load. OAuth scopes are checked by `authenticate`, which knows which security
 * requirement the caller satisfied.
 */
export const authorizePolicy: PolicyDefinition<AuthorizeConfig> = {
  name: 'authorize',
  stage: 'authorize',
  description: 'Role rules and object-level CEL rules per operation (x-portcullis-authz or config).',
  schema: authorizeSchema,
  fromSpec(operation) {
    return fromExtension(operation);
  },
  compile(config, ctx) {
    const s = compileAuthorize(config, ctx);
    if (s === null) return null;
    const handler: PolicyHandler = {
      needsRequestBody: s.rule?.requestFields.has('body') === true,
      onRequest: (ex) => authorize(s, ex),
    };
    return handler;
  },
};

/** One operation's authorization, compiled. */
interface AuthorizeState {
  readonly ctx: CompileContext;
  readonly mode: AuthorizeConfig['mode'];
  readonly anyOf: readonly string[];
  readonly allOf: readonly string[];
  readonly rule: CompiledRule | undefined;
  readonly allowAnonymous: boolean;
  /** Principals of cached tokens are shared objects, so their CEL view is built once. */
  readonly principalViews: WeakMap<Principal, Record<string, unknown>>;
}

function compileAuthorize(config: AuthorizeConfig, ctx: CompileContext): AuthorizeState | null {
  const anyOf = config.rolesAnyOf ?? [];
  const allOf = config.rolesAllOf ?? [];
  const rule = config.rule === undefined ? undefined : compileOperationRule(config.rule, ctx.operation);
  if (anyOf.length === 0 && allOf.length === 0 && rule === undefined) return null;
  return {
    ctx,
    mode: config.mode,
    anyOf,
    allOf,
    rule,
    allowAnonymous: config.allowAnonymous === true,
    principalViews: new WeakMap(),
  };
}

/** The CEL rule, which may read only path parameters the operation declares. */
function compileOperationRule(source: string, op: Operation): CompiledRule {
  let rule: CompiledRule;
  try {
    rule = compileRule(source);
  } catch (err) {
    if (err instanceof RuleSyntaxError) {
      throw new PolicyConfigError('rule', `operation ${op.id}: ${err.message}`);
    }
    throw err;
  }
  const declared = new Set(op.parameters.filter((p) => p.in === 'path').map((p) => p.name));
  const undeclared = [...rule.pathParams].filter((p) => !declared.has(p));
  if (undeclared.length > 0) {
    throw new PolicyConfigError(
      'rule',
      `operation ${op.id}: the rule reads path parameter(s) ${undeclared.join(', ')} that ${op.path} does not declare`,
    );
  }
  return rule;
}

// ---- Per request ----

function authorize(s: AuthorizeState, ex: Exchange): Problem | undefined {
  const { anyOf, allOf, rule } = s;
  const principal = ex.principal;
  if (principal === undefined || (principal.method === 'anonymous' && !s.allowAnonymous)) {
    return deny(s, ex, 'no_principal', 'This operation requires an authenticated caller.');
  }
  if (anyOf.length > 0 && !anyOf.some((r) => principal.roles.has(r))) {
    return deny(s, ex, 'insufficient_role', `Requires one of the roles: ${anyOf.join(', ')}.`);
  }
  if (allOf.length > 0 && !allOf.every((r) => principal.roles.has(r))) {
    return deny(s, ex, 'insufficient_role', `Requires the roles: ${allOf.join(', ')}.`);
  }
  if (rule === undefined) return undefined;
  const result = rule.evaluate({ request: requestVars(ex, rule), principal: viewOf(s, principal) });
  if (result === true) return undefined;
  if (result === false) return deny(s, ex, 'rule_denied', 'Access to this resource is denied.');
  s.ctx.logger.warn(
    { operation: s.ctx.operation.id, err: result.message },
    'authorization rule failed to evaluate',
  );
  return deny(s, ex, 'rule_error', 'Access to this resource is denied.');
}

function viewOf(s: AuthorizeState, p: Principal): Record<string, unknown> {
  let v = s.principalViews.get(p);
  if (v === undefined) {
    v = principalVars(p);
    s.principalViews.set(p, v);
  }
  return v;
}

function deny(s: AuthorizeState, ex: Exchange, reason: string, detail: string): Problem {
  const subject = ex.principal?.subject;
  const event = denialEvent(s.ctx.clock, ex, {
    policy: 'authorize',
    action: 'authorize',
    category: 'api',
    reason,
    mode: s.mode,
    outcome: 'failure', // the permission check failed, whether or not the request goes on
    message: detail,
    subject: subject === '' ? undefined : subject,
  });
  if (ex.principal?.consumer !== undefined) event['portcullis.consumer'] = ex.principal.consumer;
  s.ctx.events.emit(event);
  return problem(problems.forbidden, detail, { reason });
}

function fromExtension(operation: Operation): Partial<AuthorizeConfig> | undefined {
  const ext = operation.extensions['x-portcullis-authz'] as AuthzExtension | undefined;
  if (ext === undefined) return undefined;
  if (typeof ext === 'string') return { rule: ext };
  if (ext !== null && typeof ext === 'object') {
    const out: Partial<AuthorizeConfig> = {};
    if (typeof ext.rule === 'string') out.rule = ext.rule;
    if (Array.isArray(ext.rolesAnyOf)) out.rolesAnyOf = ext.rolesAnyOf.map(String);
    if (Array.isArray(ext.rolesAllOf)) out.rolesAllOf = ext.rolesAllOf.map(String);
    if (typeof ext.allowAnonymous === 'boolean') out.allowAnonymous = ext.allowAnonymous;
    return out;
  }
  return undefined;
}

function decode(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Builds only the `request` fields the rule reads. */
function requestVars(ex: Exchange, rule: CompiledRule): Record<string, unknown> {
  const f = rule.requestFields;
  const out: Record<string, unknown> = {};
  if (f.has('method')) out.method = ex.req.method ?? '';
  if (f.has('path')) {
    const path: Record<string, string> = {};
    for (const [k, v] of Object.entries(ex.route.pathParams)) path[k] = decode(v);
    out.path = path;
  }
  if (f.has('query')) {
    const query: Record<string, string> = {};
    if (ex.rawQuery !== '')
      for (const [k, v] of new URLSearchParams(ex.rawQuery)) if (!(k in query)) query[k] = v;
    out.query = query;
  }
  if (f.has('headers')) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(ex.req.headers)) {
      if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
    }
    out.headers = headers;
  }
  if (f.has('body')) out.body = jsonBody(ex);
  return out;
}

function jsonBody(ex: Exchange): unknown {
  if (ex.json !== undefined) return ex.json;
  if (ex.body === undefined || ex.body.length === 0) return null;
  const text = ex.body.toString('utf8');
  // An integer a double cannot hold would be compared rounded, two ids as one (issue 13 item 5): the
  // rule sees no body, so a rule reading it fails and denies.
  if (unsafeIntegerAt(text) !== undefined) return null;
  try {
    ex.json = parseJson(text);
  } catch {
    return null;
  }
  return ex.json;
}

function principalVars(p: Principal): Record<string, unknown> {
  return {
    sub: p.subject,
    consumer: p.consumer ?? '',
    scopes: [...p.scopes],
    roles: [...p.roles],
    claims: p.claims,
    method: p.method,
  };
}
