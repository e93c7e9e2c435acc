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
  const fields = new Set<RequestField>();
  const pathParams = new Set<string>();
  const unknown = new Set<string>();
  const walk = (n: Node | undefined, bound: ReadonlySet<string>): void => {
    if (n === undefined) return;
    const { case: kind, value } = n.exprKind;
    const v = value as Record<string, unknown>;
    switch (kind) {
      case 'identExpr': {
        const name = v.name as string;
        if (bound.has(name)) return;
        if (name === 'request') for (const f of REQUEST_FIELDS) fields.add(f);
        else if (name !== 'principal') unknown.add(name);
        return;
      }
      case 'selectExpr': {
        const operand = v.operand as Node;
        const field = v.field as string;
        if (isIdent(operand, 'request', bound)) {
          if (!(REQUEST_FIELDS as readonly string[]).includes(field)) unknown.add(`request.${field}`);
          else fields.add(field as RequestField);
          return;
        }
        const inner = operand.exprKind.value as Record<string, unknown>;
        if (
          operand.exprKind.case === 'selectExpr' &&
          inner.field === 'path' &&
          isIdent(inner.operand as Node, 'request', bound)
        ) {
          pathParams.add(field);
        }
        walk(operand, bound);
        return;
      }
      case 'callExpr':
        walk(v.target as Node | undefined, bound);
        for (const a of v.args as Node[]) walk(a, bound);
        return;
      case 'listExpr':
        for (const e of v.elements as Node[]) walk(e, bound);
        return;
      case 'structExpr':
        for (const e of v.entries as Array<{ keyKind: { case: string; value: unknown }; value: Node }>) {
          if (e.keyKind.case === 'mapKey') walk(e.keyKind.value as Node, bound);
          walk(e.value, bound);
        }
        return;
      case 'comprehensionExpr': {
        walk(v.iterRange as Node, bound);
        walk(v.accuInit as Node, bound);
        const inner = new Set(bound);
        for (const name of [v.iterVar, v.iterVar2, v.accuVar])
          if (typeof name === 'string' && name !== '') inner.add(name);
        walk(v.loopCondition as Node, inner);
        walk(v.loopStep as Node, inner);
        walk(v.result as Node, inner);
        return;
      }
      default:
        return;
    }
  };
  walk(ast.expr as unknown as Node, new Set());
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

function isIdent(n: Node, name: string, bound: ReadonlySet<string>): boolean {
  return (
    n.exprKind.case === 'identExpr' &&
    (n.exprKind.value as { name: string }).name === name &&
    !bound.has(name)
  );
}
