/**
 * API7 Server Side Request Forgery: every URL input (a `format: uri` field or a name like `url`, `callback`,
 * `webhook`, in the query, a JSON body or a form, in every method but DELETE) is pointed at the scanner's
 * loopback canary, spelled several ways (`127.0.0.1`, `localhost`, the decimal `2130706433`) to get past naive
 * block lists. It is sent as the first identity the operation does not refuse (A, B, the admin: A's object may
 * be gone by now). A request reaching the canary proves the fetch.
 */
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, type ScanContext } from '../context.ts';
import { jsonBodySchema, planRequest } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { sampleValue } from '../schema.ts';
import { type UrlInput, urlInputs } from './url-inputs.ts';

const HOSTS = ['127.0.0.1', 'localhost', '2130706433'];
const WAIT_MS = 1500;

const REFUSED = new Set([401, 403, 404]);

function setMember(body: Record<string, unknown>, name: string, value: unknown): Record<string, unknown> {
  const dot = name.indexOf('.');
  if (dot < 0) return { ...body, [name]: value };
  const head = name.slice(0, dot);
  const inner = (body[head] ?? {}) as Record<string, unknown>;
  return { ...body, [head]: { ...inner, [name.slice(dot + 1)]: value } };
}

/** Sends one request with a URL input set to `url`, as `as` (identity A by default). */
export async function sendWithUrl(ctx: ScanContext, input: UrlInput, url: string, as?: Identity) {
  const user = as ?? ctx.identities[0];
  if (input.in === 'query') {
    return ctx.send(
      planRequest(ctx.spec, input.operation, ctx.objects, {
        owner: user.name,
        params: { [input.name]: url },
      }),
      user,
    );
  }
  if (input.in === 'form') {
    const schema = Object.entries(input.operation.requestBody?.content ?? {}).find(([t]) =>
      /form/i.test(t),
    )?.[1].schema;
    const base = (sampleValue(ctx.spec, schema) ?? {}) as Record<string, string>;
    // Sent in the operation's own encoding (form-encoded or multipart, files included).
    const req = planRequest(ctx.spec, input.operation, ctx.objects, {
      owner: user.name,
      body: { ...base, [input.name]: url },
    });
    return ctx.send(req, user);
  }
  const base = (sampleValue(ctx.spec, jsonBodySchema(input.operation)) ?? {}) as Record<string, unknown>;
  return ctx.send(
    planRequest(ctx.spec, input.operation, ctx.objects, {
      owner: user.name,
      body: setMember(base, input.name, url),
    }),
    user,
  );
}

/** The first identity the operation does not refuse (401, 403, 404) with a canary URL, and its answer. */
export async function reachWithUrl(
  ctx: ScanContext,
  input: UrlInput,
  url: (as: Identity) => string,
): Promise<{ as: Identity; res: ScanResponse | undefined }> {
  const who = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  let last: { as: Identity; res: ScanResponse | undefined } = { as: who[0], res: undefined };
  for (const as of who) {
    const res = await sendWithUrl(ctx, input, url(as), as);
    last = { as, res };
    if (res && !REFUSED.has(res.status)) break;
  }
  return last;
}

export const api7: Check = {
  id: 'API7',
  title: 'Server side request forgery',
  rules: [SCAN_RULES.ssrf],
  async run(ctx) {
    if (!ctx.identities[0]) return;
    if (urlInputs(ctx.spec).length === 0)
      ctx.note?.({
        rule: SCAN_RULES.ssrf,
        reason: 'no URL input (format uri, or a name like url, callback, webhook) in the document',
      });
    // All inputs at once: the waits for the canary overlap (the client still bounds the rate).
    await Promise.all(
      urlInputs(ctx.spec).map(async (input) => {
        const tries: { host: string; url: string; token: string; res?: ScanResponse }[] = [];
        const first = await reachWithUrl(ctx, input, () => {
          const t = { host: HOSTS[0], ...ctx.canary.url(HOSTS[0]) };
          tries.push(t);
          return t.url;
        });
        tries[tries.length - 1].res = first.res;
        const others = HOSTS.slice(1).map((host) => ({ host, ...ctx.canary.url(host) }));
        const responses = await Promise.all(others.map((t) => sendWithUrl(ctx, input, t.url, first.as)));
        for (const [i, t] of others.entries()) tries.push({ ...t, res: responses[i] });
        const hits = await Promise.all(
          tries.map((t, i) => ctx.canary.waitFor(t.token, i < tries.length - 2 ? 200 : WAIT_MS)),
        );
        const reached = tries.filter((_, i) => hits[i] !== undefined);
        if (reached.length === 0) return;
        const res = reached[0].res;
        ctx.report(SCAN_RULES.ssrf, {
          operation: input.operation,
          key: input.name,
          message: `${input.operation.method} ${input.operation.path} fetched the canary through ${input.in} field ${input.name} (${[...new Set(reached.map((r) => r.host))].join(', ')}) as ${first.as.name}.`,
          evidence: {
            ...(res ? evidenceOf(res) : {}),
            field: input.name,
            reachedVia: [...new Set(reached.map((r) => r.host))],
            as: first.as.name,
          },
        });
      }),
    );
  },
};
