/**
 * API10 Unsafe Consumption of APIs. A black-box scan sees little of how an API consumes other services; what it
 * can see is an API that fetches a URL it is given: whether it follows a redirect from the third party and
 * whether it passes the third party's content (markup from the canary) back verbatim. And an API that takes a
 * third party's word without proof: an inbound webhook (a payment provider's `invoice.paid`) acted on without a
 * signature (unsignedWebhooks).
 */

import type { JsonObject, JsonSchema, Operation } from '../../../core/api-document.ts';
import { CANARY_BODY_MARKER } from '../canary.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import type { CreatedObject } from '../objects.ts';
import { bodySchema, isExcluded, isLoginOperation } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema } from '../schema.ts';
import { refusedIn200 } from './api5-function-authorization.ts';
import { wordsOf } from './api6-business-flows.ts';
import { reachWithUrl, sentBy } from './api7-ssrf.ts';
import { creationSweep } from './injection.ts';
import { urlInputs } from './url-inputs.ts';

const WAIT_MS = 1500;

export const api10: Check = {
  id: 'API10',
  title: 'Unsafe consumption of APIs',
  rules: [SCAN_RULES.unvalidatedThirdParty, SCAN_RULES.unsignedWebhook],
  async run(ctx) {
    if (!ctx.identities[0]) return;
    await unsignedWebhooks(ctx);
    if (urlInputs(ctx.spec).length === 0)
      ctx.note?.({
        rule: SCAN_RULES.unvalidatedThirdParty,
        reason: 'no URL input (format uri, or a name like url, callback, webhook) in the document',
      });
    // What the probe of a creation makes as a given identity or the admin is deleted after the waits (sentBy).
    const sweep = creationSweep(ctx, 'the API10 probes');
    await Promise.all(
      urlInputs(ctx.spec).map(async (input) => {
        let token = '';
        const { res } = await reachWithUrl(
          ctx,
          input,
          () => {
            const c = ctx.canary.url();
            token = c.token;
            return `${c.url}/redirect`;
          },
          sentBy(ctx, input, sweep),
        );
        const followed = await ctx.canary.waitFor(`/c/${token}/redirected`, WAIT_MS);
        const text = res?.text ?? '';
        const verbatim = text.includes(`${CANARY_BODY_MARKER}:${token}`) && text.includes('<script>');
        if (!followed && !verbatim) return;
        const what = [
          followed ? 'followed a redirect from it' : '',
          verbatim ? 'returned its markup verbatim' : '',
        ]
          .filter(Boolean)
          .join(' and ');
        ctx.report(SCAN_RULES.unvalidatedThirdParty, {
          operation: input.operation,
          key: input.name,
          message: `${input.operation.method} ${input.operation.path} consumed a third party (the canary) unsafely: it ${what}.`,
          evidence: {
            ...(res ? evidenceOf(res) : {}),
            followedRedirect: followed !== undefined,
            passedThroughMarkup: verbatim,
          },
        });
      }),
    );
    await sweep.flush();
    sweep.report();
  },
};

/** Path words of an inbound webhook: what a third party (a payment provider, a repository host) posts events to. */
const WEBHOOK_WORD = /^(webhooks?|hooks?|ipn|callbacks?)$/;
/** Words of an event or state that grants something (an invoice paid, a payment captured, an order confirmed). */
const GRANTED =
  /^(paid|succeeded|success|successful|completed?|confirmed|approved|captured|settled|fulfilled|verified)$/;
/** Words of an input that carries the event's kind or the new state. */
const EVENT_INPUT = /^(type|event|event_?type|kind|status|state|action|result|outcome)$/i;
/** Words of an id input that are no entity (`invoice_id` → invoice). */
const ID_WORD = /^(id|ids|uuid|no|number|num|ref|reference|key)$/;

/** The singular of a collection's last literal segment: `/invoices` → `invoice`, `/v1/orders/` → `order`. */
function entityOf(collection: string): string | undefined {
  const last = collection
    .split('/')
    .filter((seg) => seg !== '' && !seg.includes('{'))
    .at(-1);
  if (!last) return undefined;
  const word = wordsOf(last).at(-1) ?? '';
  return word
    .replace(/ies$/, 'y')
    .replace(/(s|x|ch|sh)es$/, '$1')
    .replace(/s$/, '');
}

/** A webhook's plan: where its body names the object, and the value that says it was granted. */
interface WebhookPlan {
  readonly op: Operation;
  readonly object: CreatedObject;
  readonly owner: Identity;
  readonly body: Record<string, unknown>;
  readonly event: string;
}

/**
 * The event a webhook body can carry for an entity: an enum value of an event input that names the entity and a
 * granted state (`invoice.paid`), else one that names a granted state alone (`paid`), else for a bare status input
 * `paid`. Undefined when no event input exists.
 */
function grantedEvent(name: string, schema: JsonObject, entity: string): string | undefined {
  const values = Array.isArray(schema.enum)
    ? schema.enum.filter((v): v is string => typeof v === 'string')
    : [];
  const granted = values.filter((v) => wordsOf(v).some((w) => GRANTED.test(w)));
  return (
    granted.find((v) => wordsOf(v).includes(entity)) ??
    granted[0] ??
    (values.length === 0 && /status|state|result|outcome/i.test(name) ? 'paid' : undefined)
  );
}

/**
 * Plans the webhooks (at most 3): a POST whose path names a webhook (`/webhooks/payments`, `/stripe/hook`, `/ipn`), no
 * login or excluded operation, with a JSON body that names an object of a kind the scan created (`invoice_id` beside
 * `POST /invoices`, at the top or one level down) and an event or state input that can say it was granted. The
 * object is one the scan created as a given identity or the admin (its owner reads it back).
 */
function webhookPlans(ctx: ScanContext): WebhookPlan[] {
  const people = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  const objects = ctx.objects.all().filter((o) => people.some((p) => p.name === o.owner));
  const plans: WebhookPlan[] = [];
  for (const op of ctx.spec.operations) {
    if (plans.length >= 3) break;
    if (op.method !== 'POST' || isExcluded(op) || isLoginOperation(ctx.spec, op)) continue;
    if (!wordsOf(op.path.replace(/\{[^}]*\}/g, ' ')).some((w) => WEBHOOK_WORD.test(w))) continue;
    const top = propertiesOf(ctx.spec, bodySchema(op));
    // The body's members and those one level down (`data: {invoice_id}`), each with where it goes.
    const members: { at: string[]; name: string; schema: JsonObject }[] = [];
    for (const [name, raw] of Object.entries(top).slice(0, 30)) {
      const schema = resolveSchema(ctx.spec, raw as JsonSchema) as JsonObject;
      members.push({ at: [name], name, schema });
      for (const [inner, innerRaw] of Object.entries(propertiesOf(ctx.spec, raw as JsonSchema)).slice(0, 30))
        members.push({
          at: [name, inner],
          name: inner,
          schema: resolveSchema(ctx.spec, innerRaw as JsonSchema) as JsonObject,
        });
    }
    let plan: WebhookPlan | undefined;
    for (const idInput of members) {
      const entity = wordsOf(idInput.name)
        .filter((w) => !ID_WORD.test(w))
        .at(-1);
      if (!entity || !wordsOf(idInput.name).some((w) => ID_WORD.test(w))) continue;
      const object = objects.find((o) => entityOf(o.collection) === entity);
      const owner = object && people.find((p) => p.name === object.owner);
      if (!object || !owner) continue;
      for (const eventInput of members) {
        if (eventInput === idInput || !EVENT_INPUT.test(eventInput.name)) continue;
        const event = grantedEvent(eventInput.name, eventInput.schema, entity);
        if (event === undefined) continue;
        const body: Record<string, unknown> = {};
        const put = (at: string[], v: unknown) => {
          let here = body;
          for (const k of at.slice(0, -1)) {
            if (here[k] === null || typeof here[k] !== 'object') here[k] = {};
            here = here[k] as Record<string, unknown>;
          }
          here[at[at.length - 1]] = v;
        };
        const isNumber = idInput.schema.type === 'integer' || idInput.schema.type === 'number';
        put(idInput.at, isNumber && /^\d+$/.test(object.id) ? Number(object.id) : object.id);
        put(eventInput.at, event);
        plan = { op, object, owner, body, event };
        break;
      }
      if (plan) break;
    }
    if (plan) plans.push(plan);
    else
      ctx.note?.({
        operation: op,
        rule: SCAN_RULES.unsignedWebhook,
        reason:
          'a webhook, not sent: its body names no object of a kind the scan created, or no event or state that says it was granted',
      });
  }
  return plans;
}

/** The scalar members of a record read back (a few levels down), by pointer. */
function scalars(
  value: unknown,
  pointer = '',
  out = new Map<string, unknown>(),
  depth = 0,
): Map<string, unknown> {
  if (depth > 3 || value === null || typeof value !== 'object' || Array.isArray(value) || out.size > 200)
    return out;
  for (const [k, v] of Object.entries(value as Record<string, unknown>).slice(0, 100)) {
    if (v !== null && typeof v === 'object') scalars(v, `${pointer}/${k}`, out, depth + 1);
    else out.set(`${pointer}/${k}`, v);
  }
  return out;
}

/**
 * An inbound webhook acted on without proof that the third party sent it. For each planned webhook (webhookPlans),
 * the object the scan created is read twice as its owner (what moves by itself is dropped), the event that says it
 * was granted (`{"type": "invoice.paid", "invoice_id": <the scan's invoice>}`) is posted anonymously with no
 * signature header, and the object read again: a member that now says it was granted (`status: "open"` → `"paid"`,
 * `paid: false` → `true`) is the finding. Only objects the scan created are named; nothing else is sent.
 */
async function unsignedWebhooks(ctx: ScanContext): Promise<void> {
  for (const plan of webhookPlans(ctx)) {
    if (ctx.signal.aborted) return;
    const read = async () => {
      const res = await ctx.send({ method: 'GET', path: plan.object.path }, plan.owner);
      return isSuccess(res) && !refusedIn200(res) ? scalars(res.json) : undefined;
    };
    const before = await read();
    const control = await read();
    if (!before || !control) continue;
    const sent: ScanResponse | undefined = await ctx.send(
      {
        method: 'POST',
        path: plan.op.path,
        headers: { 'content-type': 'application/json' },
        body: plan.body,
        operation: plan.op,
      },
      null,
    );
    if (!isSuccess(sent) || refusedIn200(sent)) continue;
    const after = await read();
    if (!after) continue;
    const changed = [...before].filter(([p, v]) => {
      if (control.get(p) !== v || !after.has(p) || after.get(p) === v) return false;
      const now = after.get(p);
      return (
        (now === true && v === false) ||
        (typeof now === 'string' &&
          wordsOf(now).some((w) => GRANTED.test(w)) &&
          !(typeof v === 'string' && wordsOf(v).some((w) => GRANTED.test(w))))
      );
    });
    if (changed.length === 0) continue;
    const shown = changed.map(
      ([p, v]) => `${p.slice(1)} ${JSON.stringify(v)} → ${JSON.stringify(after.get(p))}`,
    );
    ctx.report(SCAN_RULES.unsignedWebhook, {
      operation: plan.op,
      message: `${plan.op.method} ${plan.op.path} acted on an unsigned event sent without credentials ("${plan.event}" naming ${plan.object.path}, an object the scan created): ${shown.slice(0, 3).join(', ')}.`,
      evidence: evidenceOf(sent, { object: plan.object.path, event: plan.event, changed: shown }),
    });
  }
}
