/**
 * API7 Server Side Request Forgery: every URL input (a `format: uri` field or a name like `url`, `callback`,
 * `webhook`) is pointed at the scanner's loopback canary, spelled several ways (`127.0.0.1`, `localhost`, the
 * decimal `2130706433`) to get past naive block lists. A request reaching the canary proves the fetch.
 */
import type { Check } from '../check.ts';
import { evidenceOf, type ScanContext } from '../context.ts';
import { jsonBodySchema, planRequest } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { sampleValue } from '../schema.ts';
import { type UrlInput, urlInputs } from './url-inputs.ts';

const HOSTS = ['127.0.0.1', 'localhost', '2130706433'];
const WAIT_MS = 1500;

/** Sends one request with a URL input set to `url`, as identity A. */
export async function sendWithUrl(ctx: ScanContext, input: UrlInput, url: string) {
  const user = ctx.identities[0];
  const base = sampleValue(ctx.spec, jsonBodySchema(input.operation));
  const req =
    input.in === 'query'
      ? planRequest(ctx.spec, input.operation, ctx.objects, {
          owner: user.name,
          params: { [input.name]: url },
        })
      : planRequest(ctx.spec, input.operation, ctx.objects, {
          owner: user.name,
          body: { ...(base as Record<string, unknown>), [input.name]: url },
        });
  return ctx.send(req, user);
}

export const api7: Check = {
  id: 'API7',
  title: 'Server side request forgery',
  rules: [SCAN_RULES.ssrf],
  async run(ctx) {
    if (!ctx.identities[0]) return;
    for (const input of urlInputs(ctx.spec)) {
      const tries = HOSTS.map((host) => ({ host, ...ctx.canary.url(host) }));
      const responses = await Promise.all(tries.map((t) => sendWithUrl(ctx, input, t.url)));
      const hits = await Promise.all(tries.map((t) => ctx.canary.waitFor(t.token, WAIT_MS)));
      const reached = tries.filter((_, i) => hits[i] !== undefined);
      if (reached.length === 0) continue;
      const res = responses[tries.indexOf(reached[0])];
      ctx.report(SCAN_RULES.ssrf, {
        operation: input.operation,
        key: input.name,
        message: `${input.operation.method} ${input.operation.path} fetched the canary through ${input.in} field ${input.name} (${reached.map((r) => r.host).join(', ')}).`,
        evidence: {
          ...(res ? evidenceOf(res) : {}),
          field: input.name,
          reachedVia: reached.map((r) => r.host),
        },
      });
    }
  },
};
