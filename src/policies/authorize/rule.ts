import { CelScalar, celEnv, isCelError, mapType, parse, plan } from '@bufbuild/cel';
import { PortcullisError } from '../../core/errors.ts';

/** Variables a rule may use. */
export const RULE_VARIABLES = ['request', 'principal'] as const;

/** Fields of `request` a rule may read. */
export const REQUEST_FIELDS = ['method', 'path', 'query', 'headers', 'body'] as const;
export type RequestField = (typeof REQUEST_FIELDS)[number];

/** A compiled CEL authorization rule. */
export interface CompiledRule {
  readonly source: string;
  /** `request` fields the expression reads (all of them when `request` is used whole). */
  readonly requestFields: ReadonlySet<RequestField>;
  /** Path parameters named as `request.path.<name>`. */
  readonly pathParams: ReadonlySet<string>;
  /** true: allow; false: deny; an Error: the rule could not be evaluated (deny). */
  evaluate(vars: { request: Record<string, unknown>; principal: Record<string, unknown> }): boolean | Error;
}

/** A rule that does not parse or uses unknown names. `message` says what and where. */
export class RuleSyntaxError extends PortcullisError {
  readonly code = 'ERR_RULE_SYNTAX';
}

const env = celEnv({
  variables: {
    request: mapType(CelScalar.STRING, CelScalar.DYN),
    principal: mapType(CelScalar.STRING, CelScalar.DYN),
  },
});

// The generated AST types are not re-exported by @bufbuild/cel; the walker reads the shape structurally.
interface Node {
  exprKind: { case: string | undefined; value?: unknown };
}

/**
 * Parses and plans a CEL expression once, at load. Free identifiers other than `request` and
 * `principal` are refused here, so a typo fails the load rather than every request.
 *
 * @example
 * const rule = compileRule("request.path.accountId == principal.sub || 'admin' in principal.roles");
 */
export function compileRule(source: string): CompiledRule {
  let ast: ReturnType<typeof parse>;
  try {
    ast = parse(source);
  } catch (err) {
    throw new RuleSyntaxError(`invalid CEL expression: ${(err as Error).message}`);
  }
  const names: RuleNames = { fields: new Set(), pathParams: new Set(), unknown: new Set() };
  collectNames(ast.expr as unknown as Node, new Set(), names);
  const { fields, pathParams, unknown } = names;
  if (unknown.size > 0) {
    throw new RuleSyntaxError(
      `unknown name(s) ${[...unknown].join(', ')}; rules may use request.{${REQUEST_FIELDS.join(',')}} and principal`,
    );
  }
  const run = plan(env, ast);
  return {
    source,
    requestFields: fields,
    pathParams,
    evaluate(vars) {
      // biome-ignore lint/suspicious/noExplicitAny: plain objects are valid CEL map inputs at runtime
      const r = run(vars as any);
      if (isCelError(r)) return r;
      if (typeof r !== 'boolean') return new Error('rule did not evaluate to a boolean');
      return r;
    },
  };
}

/** What a rule reads: request fields, path parameters, and names it may not use. */
interface RuleNames {
  readonly fields: Set<RequestField>;
  readonly pathParams: Set<string>;
  readonly unknown: Set<string>;
}

/** Walks a CEL AST, noting into `names` the free identifiers it reads (`bound`: comprehension variables). */
function collectNames(n: Node | undefined, bound: ReadonlySet<string>, names: RuleNames): void {
  if (n === undefined) return;
  const { case: kind, value } = n.exprKind;
  const v = value as Record<string, unknown>;
  switch (kind) {
    case 'identExpr': {
      const name = v.name as string;
      if (bound.has(name)) return;
      if (name === 'request') for (const f of REQUEST_FIELDS) names.fields.add(f);
      else if (name !== 'principal') names.unknown.add(name);
      return;
    }
    case 'selectExpr': {
      const operand = v.operand as Node;
      const field = v.field as string;
      if (isIdent(operand, 'request', bound)) {
        if (!(REQUEST_FIELDS as readonly string[]).includes(field)) names.unknown.add(`request.${field}`);
        else names.fields.add(field as RequestField);
        return;
      }
      const inner = operand.exprKind.value as Record<string, unknown>;
      if (
        operand.exprKind.case === 'selectExpr' &&
        inner.field === 'path' &&
        isIdent(inner.operand as Node, 'request', bound)
      ) {
        names.pathParams.add(field);
      }
      collectNames(operand, bound, names);
      return;
    }
    case 'callExpr':
      collectNames(v.target as Node | undefined, bound, names);
      for (const a of v.args as Node[]) collectNames(a, bound, names);
      return;
    case 'listExpr':
      for (const e of v.elements as Node[]) collectNames(e, bound, names);
      return;
    case 'structExpr':
      for (const e of v.entries as Array<{ keyKind: { case: string; value: unknown }; value: Node }>) {
        if (e.keyKind.case === 'mapKey') collectNames(e.keyKind.value as Node, bound, names);
        collectNames(e.value, bound, names);
      }
      return;
    case 'comprehensionExpr': {
      collectNames(v.iterRange as Node, bound, names);
      collectNames(v.accuInit as Node, bound, names);
      const inner = new Set(bound);
      for (const name of [v.iterVar, v.iterVar2, v.accuVar])
        if (typeof name === 'string' && name !== '') inner.add(name);
      collectNames(v.loopCondition as Node, inner, names);
      collectNames(v.loopStep as Node, inner, names);
      collectNames(v.result as Node, inner, names);
      return;
    }
    default:
      return;
  }
}

function isIdent(n: Node, name: string, bound: ReadonlySet<string>): boolean {
  return (
    n.exprKind.case === 'identExpr' &&
    (n.exprKind.value as { name: string }).name === name &&
    !bound.has(name)
  );
}
