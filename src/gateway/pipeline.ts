import { performance } from 'node:perf_hooks';
import { Ajv, type ValidateFunction } from 'ajv';
import { policyConfigSchema } from '../config/schema.ts';
import type { Operation } from '../core/api-document.ts';
import type { ApiConfig, PoliciesConfig } from '../core/config.ts';
import type { Exchange } from '../core/exchange.ts';
import {
  type CompileContext,
  type ExchangeOutcome,
  type PolicyConfigBase,
  PolicyConfigError,
  type PolicyDefinition,
  type PolicyHandler,
  type ResponseHead,
  STAGES,
  type Stage,
} from '../core/policy.ts';
import type { Problem } from '../core/problems.ts';
import { type RequestSpan, SPAN_KIND } from '../core/tracing.ts';

/** A compiled policy on one route. */
export interface CompiledPolicy {
  readonly name: string;
  readonly stage: Stage;
  readonly mode: 'enforce' | 'report';
  readonly handler: PolicyHandler;
  /** The name of its trace span, made once. */
  readonly spanName: string;
}

/**
 * The per-route pipeline: only what some policy asked for. Empty hook lists are `null`, so the request
 * path checks one reference per hook kind and does nothing else.
 */
export interface Pipeline {
  readonly policies: readonly CompiledPolicy[];
  readonly onRequest: readonly CompiledPolicy[] | null;
  readonly needsRequestBody: boolean;
  readonly onResponseHead: readonly CompiledPolicy[] | null;
  readonly bodyTransformers: readonly CompiledPolicy[] | null;
  readonly onComplete: readonly CompiledPolicy[] | null;
}

/** A policy that stopped the request, and how. */
export interface Denial {
  readonly policy: string;
  readonly problem: Problem;
}

function merge(base: Record<string, unknown> | undefined, over: Record<string, unknown> | undefined) {
  if (base === undefined) return over;
  if (over === undefined) return base;
  return { ...base, ...over };
}

const validators = new WeakMap<PolicyDefinition, ValidateFunction>();

/** Validates a merged policy block against the policy's schema and fills its defaults. */
function validateAndFillDefaults(
  def: PolicyDefinition,
  config: Record<string, unknown>,
): Record<string, unknown> {
  let validate = validators.get(def);
  if (validate === undefined) {
    validate = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(
      policyConfigSchema(def),
    );
    validators.set(def, validate);
  }
  const copy = structuredClone(config);
  if (!validate(copy)) {
    const e = validate.errors?.[0];
    const at = e ? e.instancePath.slice(1).replace(/\//g, '.') : '';
    const key =
      e?.keyword === 'additionalProperties'
        ? (e.params as { additionalProperty: string }).additionalProperty
        : '';
    throw new PolicyConfigError(
      [at, key].filter(Boolean).join('.'),
      `${def.name}: ${e?.message ?? 'invalid'}`,
    );
  }
  return copy;
}

/**
 * Config of one policy for one operation: spec extension < API-wide config < per-operation config, then
 * the schema's defaults for whatever none of them set. Shallow merge: an operation that sets a key
 * replaces the API's value for that key and inherits the others.
 */
export function policyConfigFor(
  def: PolicyDefinition,
  api: ApiConfig,
  operation: Operation,
  fromSpec: Record<string, unknown> | undefined,
): (PolicyConfigBase & { enabled: boolean }) | undefined {
  const apiLevel = (api.policies as PoliciesConfig | undefined)?.[def.name];
  const opLevel = api.operations[operation.id]?.policies?.[def.name];
  const merged = merge(merge(fromSpec, apiLevel), opLevel) ?? (def.enabledByDefault ? {} : undefined);
  if (merged === undefined || merged.enabled === false) return undefined;
  const config = validateAndFillDefaults(def, merged) as unknown as PolicyConfigBase & { enabled: boolean };
  return config.enabled ? config : undefined;
}

/** Compiles every configured policy for one operation, ordered by stage, then by registry order. */
export async function compilePipeline(
  defs: ReadonlyArray<PolicyDefinition>,
  api: ApiConfig,
  ctx: CompileContext,
): Promise<Pipeline> {
  const ordered = [...defs].sort((a, b) => STAGES.indexOf(a.stage) - STAGES.indexOf(b.stage));
  const compiled: CompiledPolicy[] = [];
  for (const def of ordered) {
    const fromSpec = def.fromSpec?.(ctx.operation, ctx.spec) as Record<string, unknown> | undefined;
    const config = policyConfigFor(def, api, ctx.operation, fromSpec);
    if (config === undefined) continue;
    const handler = await def.compile(config, ctx);
    if (handler !== null)
      compiled.push({
        name: def.name,
        stage: def.stage,
        mode: config.mode,
        handler,
        spanName: `${def.stage} ${def.name}`,
      });
  }
  const having = (pick: (h: PolicyHandler) => unknown) => {
    const list = compiled.filter((c) => pick(c.handler) !== undefined && pick(c.handler) !== false);
    return list.length > 0 ? list : null;
  };
  return {
    policies: compiled,
    onRequest: having((h) => h.onRequest),
    needsRequestBody: compiled.some((c) => c.handler.needsRequestBody === true),
    // Response hooks run in reverse order of the request hooks (as Envoy's filter chain does).
    onResponseHead: having((h) => h.onResponseHead)?.reverse() ?? null,
    bodyTransformers: having((h) => h.transformResponseBody)?.reverse() ?? null,
    onComplete: having((h) => h.onComplete),
  };
}

/**
 * Runs the request hooks in order. Stays synchronous until a hook returns a promise. Report-mode
 * policies record what they would have done and let the request through.
 */
export function runRequestHooks(
  hooks: readonly CompiledPolicy[],
  ex: Exchange,
  onReport: (policy: string, problem: Problem, ex: Exchange) => void,
  start = 0,
): Denial | undefined | Promise<Denial | undefined> {
  for (let i = start; i < hooks.length; i++) {
    const p = hooks[i];
    const result = p.handler.onRequest!(ex);
    if (result === undefined) continue;
    if (typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<Problem | undefined>).then((r) => {
        const denial = settle(p, r, ex, onReport);
        return denial ?? runRequestHooks(hooks, ex, onReport, i + 1);
      });
    }
    const denial = settle(p, result as Problem, ex, onReport);
    if (denial) return denial;
  }
  return undefined;
}

/**
 * `runRequestHooks` for a traced request: each hook becomes a child span of the request's (INTERNAL,
 * named `{stage} {policy}`), from its call until its answer, async or not.
 */
export function runRequestHooksTraced(
  hooks: readonly CompiledPolicy[],
  ex: Exchange,
  onReport: (policy: string, problem: Problem, ex: Exchange) => void,
  span: RequestSpan,
  start = 0,
): Denial | undefined | Promise<Denial | undefined> {
  for (let i = start; i < hooks.length; i++) {
    const p = hooks[i];
    const t0 = performance.now();
    let result: Problem | undefined | Promise<Problem | undefined>;
    try {
      result = p.handler.onRequest!(ex);
    } catch (err) {
      policySpan(span, p, t0, undefined, err);
      throw err;
    }
    if (result === undefined) {
      policySpan(span, p, t0, undefined);
      continue;
    }
    if (typeof (result as Promise<unknown>).then === 'function') {
      return (result as Promise<Problem | undefined>).then(
        (r) => {
          policySpan(span, p, t0, r);
          const denial = settle(p, r, ex, onReport);
          return denial ?? runRequestHooksTraced(hooks, ex, onReport, span, i + 1);
        },
        (err: unknown) => {
          policySpan(span, p, t0, undefined, err);
          throw err;
        },
      );
    }
    policySpan(span, p, t0, result as Problem);
    const denial = settle(p, result as Problem, ex, onReport);
    if (denial) return denial;
  }
  return undefined;
}

/** The span of one request hook: its outcome (pass, deny, report) and the reason of a refusal. */
function policySpan(span: RequestSpan, p: CompiledPolicy, t0: number, r: Problem | undefined, err?: unknown) {
  const outcome =
    err !== undefined ? 'error' : r === undefined ? 'pass' : p.mode === 'report' ? 'report' : 'deny';
  span.child(
    p.spanName,
    SPAN_KIND.internal,
    t0,
    performance.now(),
    {
      'portcullis.policy.name': p.name,
      'portcullis.policy.stage': p.stage,
      'portcullis.policy.mode': p.mode,
      'portcullis.policy.outcome': outcome,
      'portcullis.policy.reason': r === undefined ? undefined : (r.reason ?? r.problem.type),
    },
    err === undefined ? undefined : err instanceof Error ? err.name : 'error',
  );
}

function settle(
  p: CompiledPolicy,
  result: Problem | undefined,
  ex: Exchange,
  onReport: (policy: string, problem: Problem, ex: Exchange) => void,
): Denial | undefined {
  if (result === undefined) return undefined;
  if (p.mode === 'report') {
    ex.reported.push(`${p.name}:${result.reason ?? result.problem.type}`);
    onReport(p.name, result, ex);
    return undefined;
  }
  return { policy: p.name, problem: result };
}

/** Lets response-head hooks edit status and headers. */
export function runResponseHead(pipeline: Pipeline, ex: Exchange, head: ResponseHead): void {
  if (pipeline.onResponseHead === null) return;
  for (const p of pipeline.onResponseHead) p.handler.onResponseHead!(ex, head);
}

/** Whether any body transformer wants this response buffered. */
export function wantsResponseBody(pipeline: Pipeline, ex: Exchange, head: ResponseHead): boolean {
  return firstBodyTransformer(pipeline, ex, head) !== -1;
}

/** The index of the first body transformer that wants this response buffered, or -1. */
export function firstBodyTransformer(pipeline: Pipeline, ex: Exchange, head: ResponseHead): number {
  const transformers = pipeline.bodyTransformers;
  if (transformers === null) return -1;
  for (let i = 0; i < transformers.length; i++) {
    const p = transformers[i];
    if (p.handler.wantsResponseBody === undefined || p.handler.wantsResponseBody(ex, head)) return i;
  }
  return -1;
}

/** Runs the completion hooks; a throwing hook is a bug and must not take the others down. */
export function runComplete(
  pipeline: Pipeline,
  ex: Exchange,
  outcome: ExchangeOutcome,
  onError: (e: unknown) => void,
) {
  if (pipeline.onComplete === null) return;
  for (const p of pipeline.onComplete) {
    try {
      p.handler.onComplete!(ex, outcome);
    } catch (err) {
      onError(err);
    }
  }
}
