/**
 * API3, a documented switch that uncovers data: an optional header or query input of a read that chooses what the
 * answer shows (`Hide-Info: 1` by default, `?redact=true`, `?view=public|full`, `?include_private=false`). The plain
 * read hides an account's e-mail and login token; the other value of the switch shows them to anyone. The scan sent
 * only the documented default, so the flaw never showed. Each other value of such an input goes once, without
 * credentials and as the second identity on the first identity's object, beside the plain read as the same caller;
 * what the switched answer shows and the plain one does not (a secret, a token, contact data) is the finding.
 */
import type { Operation, Parameter } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { isExcluded, planRequest } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { resolveSchema, schemaType } from '../schema.ts';

/** Names of inputs that choose how much a read shows. */
const SWITCH_NAME =
  /hide|show|include|expand|full|verbose|detail|debug|mask|redact|raw|view|mode|private|public|sensitive|secure|safe|level/i;
/** Members whose value is a secret, a credential or a person's contact data. */
const SHOWN =
  /password|passwd|pass_?hash|secret|token|api_?key|apikey|private_?key|ssn|social_?sec|card_?(number|no)|credit_?card|cvv|e_?mail|phone|mobile|address|birth|\bdob\b|salary|iban/i;
const MAX_OPERATIONS = 6;
const MAX_REQUESTS = 40;

/**
 * The other values of an optional switch-like input, at most two: a boolean's other value (both without a
 * default), the other of 0 and 1 for an integer that takes only those (its default, its bounds or its name), an enum's
 * other members, and `true`/`all` for free text whose name says it switches. `undefined` when it is no switch.
 */
export function switchValues(
  s: Record<string, unknown>,
  name: string,
  required: boolean,
): string[] | undefined {
  if (required) return undefined;
  const type = schemaType(s);
  const def = s.default;
  const named = SWITCH_NAME.test(name);
  if (Array.isArray(s.enum)) {
    if (s.enum.length < 2 || s.enum.length > 8) return undefined;
    const others = s.enum.filter((v) => v !== def && v !== null).map(String);
    return def === undefined && !named ? undefined : others.slice(0, 2);
  }
  if (type === 'boolean') return def === true ? ['false'] : def === false ? ['true'] : ['true', 'false'];
  if (type === 'integer' || type === 'number') {
    const binary =
      def === 0 || def === 1 || (s.minimum === 0 && s.maximum === 1) || (named && def === undefined);
    if (!binary) return undefined;
    return def === 1 ? ['0'] : def === 0 ? ['1'] : ['0', '1'];
  }
  if ((type === undefined || type === 'string') && named && s.format === undefined) return ['true', 'all'];
  return undefined;
}

/** The string values of an answer under names of secrets and contact data (at most 200), by their pointer. */
export function shownValues(json: unknown): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (v: unknown, at: string, key: string, depth: number) => {
    if (out.size >= 200 || depth > 6) return;
    if (Array.isArray(v)) {
      for (const [i, x] of v.slice(0, 20).entries()) walk(x, `${at}/${i}`, key, depth + 1);
    } else if (v !== null && typeof v === 'object')
      for (const [k, x] of Object.entries(v as Record<string, unknown>)) walk(x, `${at}/${k}`, k, depth + 1);
    else if (
      (typeof v === 'string' && v.trim().length >= 5) ||
      (typeof v === 'number' && /phone|mobile/i.test(key))
    )
      if (SHOWN.test(key) && !/^(\*+|x+|•+|\[?redacted\]?|hidden|null|none)$/i.test(String(v).trim()))
        out.set(at, String(v));
  };
  walk(json, '', '', 0);
  return out;
}

/** What the switched answer shows under secret or contact names that the plain answer holds nowhere. */
export function uncovered(plain: ScanResponse | undefined, switched: ScanResponse): string[] {
  if (!isSuccess(switched) || switched.json === undefined) return [];
  const before = plain !== undefined && isSuccess(plain) ? plain.text : '';
  return [...shownValues(switched.json)].filter(([, v]) => !before.includes(v)).map(([at]) => at);
}

/**
 * Each GET (at most six) with an optional switch-like header or query input (at most two), each other value
 * (switchValues), without credentials and as the second identity, on the path planned from the first identity's
 * objects; beside the plain read as the same caller. At most 40 requests.
 */
export async function switchInputs(ctx: ScanContext): Promise<void> {
  const owner = ctx.identities[0];
  if (!owner) return;
  const senders: (Identity | null)[] = [null, ...(ctx.identities[1] ? [ctx.identities[1]] : [])];
  let ops = 0;
  let sent = 0;
  for (const op of ctx.spec.operations) {
    if (ops >= MAX_OPERATIONS || sent >= MAX_REQUESTS || ctx.signal.aborted) break;
    if (op.method !== 'GET' || isExcluded(op)) continue;
    const inputs = op.parameters
      .filter((p) => p.in === 'query' || p.in === 'header')
      .map((p) => ({ p, values: switchValues(resolveSchema(ctx.spec, p.schema), p.name, p.required) }))
      .filter((x): x is { p: Parameter; values: string[] } => x.values !== undefined && x.values.length > 0)
      .slice(0, 2);
    if (inputs.length === 0) continue;
    ops++;
    let done = false;
    const planned = planRequest(ctx.spec, op, ctx.objects, { owner: owner.name });
    for (const as of senders) {
      if (done) break;
      // Another identity only on the first identity's own object (its objects or given values fill the path): a
      // value the API merely listed may be that identity's own record, whose data it may see.
      if (as !== null && op.path.includes('{') && !planned.ownedPath) continue;
      const plain = await ctx.send(planned, as);
      sent++;
      for (const { p, values } of inputs) {
        if (done) break;
        for (const value of values) {
          if (sent >= MAX_REQUESTS) break;
          const res = await ctx.send(
            planRequest(ctx.spec, op, ctx.objects, { owner: owner.name, params: { [p.name]: value } }),
            as,
          );
          sent++;
          if (!res) continue;
          const shown = uncovered(plain, res);
          if (shown.length === 0) continue;
          report(ctx, op, p, value, as, res, shown, plain);
          done = true;
          break;
        }
      }
    }
  }
}

function report(
  ctx: ScanContext,
  op: Operation,
  p: Parameter,
  value: string,
  as: Identity | null,
  res: ScanResponse,
  shown: string[],
  plain: ScanResponse | undefined,
): void {
  const who = as ? `${as.name} (another identity's object)` : 'a caller without credentials';
  ctx.report(SCAN_RULES.sensitiveData, {
    operation: op,
    key: `switch:${p.name}`,
    message: `${op.method} ${op.path} with ${p.in} ${p.name}: ${value} showed ${shown.slice(0, 5).join(', ')} to ${who}, which the plain read (${plain?.status ?? 'no answer'}) does not show.`,
    evidence: evidenceOf(res, { input: p.name, in: p.in, value, fields: shown, plainStatus: plain?.status }),
  });
}
