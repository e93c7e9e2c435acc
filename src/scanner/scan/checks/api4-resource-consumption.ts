/**
 * API4 Unrestricted Resource Consumption: a page size of 100000 and of 1 (a list that answers more than one item
 * to `limit=1` ignores its page size), a list that declares no paging answering 200 items or more, a
 * 100000-character string in a create request, and one bounded burst of 50 requests to a cheap read (the only
 * requests that skip the scan's rate limit).
 */
import type { Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import { evidenceOf, isSuccess, type ScanContext } from '../context.ts';
import { bodySchema, isCreationOperation, isExcluded, planRequest, requiresAuth } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, sampleValue, schemaType } from '../schema.ts';

const PAGE_PARAM = /^(limit|page_?size|per_?page|size|count|max(_?results)?|top|first|take|\$top)$/i;
/** The names that can only mean "how many items in this page" (`size`, `count`, `first` may mean other things). */
const LIMIT_PARAM = /^(limit|page_?size|per_?page|max_?results|\$?top)$/i;
/** Any paging input: a list that declares one of these is paged by design, whatever its page holds. */
const PAGING_PARAM = /page|limit|offset|cursor|size|after|before|skip|start|top|take|count|first/i;
/** Items in one answer of a list without paging before it is reported (small lists are fine unpaged). */
const NO_PAGING_ITEMS = 200;
const HUGE_PAGE = '100000';
const HUGE_STRING = 100_000;
const BURST = 50;
const RATE_HEADER = /^(x-)?rate-?limit|^retry-after$/i;

/** Items in a page: the body itself when it is an array, else its `items`, `data` or `results` array. */
function itemCount(body: unknown): number | undefined {
  if (Array.isArray(body)) return body.length;
  if (body === null || typeof body !== 'object') return undefined;
  const record = body as Record<string, unknown>;
  const list = [record.items, record.data, record.results, record.content].find(Array.isArray);
  return list?.length;
}

/** A declared page-size parameter asked for one item: more than one in the answer means it is not applied. */
async function pageOfOne(ctx: ScanContext, op: Operation): Promise<void> {
  const user = ctx.identities[0];
  const param = op.parameters.find((p) => p.in === 'query' && LIMIT_PARAM.test(p.name));
  if (!param) return;
  const minimum = resolveSchema(ctx.spec, param.schema).minimum;
  if (typeof minimum === 'number' && minimum > 1) return;
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name, params: { [param.name]: '1' } });
  const res = await ctx.send(req, user);
  if (!isSuccess(res)) return;
  const count = itemCount(res.json);
  if (count === undefined || count <= 1) return;
  ctx.report(SCAN_RULES.pageLimitIgnored, {
    operation: op,
    key: param.name,
    message: `${op.method} ${op.path} answered ${count} items to ${param.name}=1.`,
    evidence: evidenceOf(res, { parameter: param.name, items: count }),
  });
}

/** The operation's documented success answer is a list: an array, or an object with an items-like array. */
function documentsList(ctx: ScanContext, op: Operation): boolean {
  const answer = op.responses['200'] ?? op.responses['2XX'];
  const media = Object.entries(answer?.content ?? {}).find(([type]) => /json/i.test(type))?.[1];
  if (media?.schema === undefined) return false;
  const schema = resolveSchema(ctx.spec, media.schema);
  if (schemaType(schema) === 'array') return true;
  const props = propertiesOf(ctx.spec, schema);
  return ['items', 'data', 'results', 'content'].some(
    (name) => props[name] !== undefined && schemaType(resolveSchema(ctx.spec, props[name])) === 'array',
  );
}

/** A list that declares no paging input at all, answering a very long list at once. */
async function unpaged(ctx: ScanContext, op: Operation): Promise<void> {
  if (!documentsList(ctx, op)) return;
  if (op.parameters.some((p) => p.in === 'query' && PAGING_PARAM.test(p.name))) return;
  if (op.parameters.some((p) => p.required && p.in !== 'path')) return;
  const user = ctx.identities[0];
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
  if (req.invented.length > 0) return;
  const res = await ctx.send(req, user);
  if (!isSuccess(res)) return;
  const count = itemCount(res.json);
  if (count === undefined || count < NO_PAGING_ITEMS) return;
  ctx.report(SCAN_RULES.noPagination, {
    operation: op,
    message: `${op.method} ${op.path} declares no paging parameter and answered ${count} items at once.`,
    evidence: evidenceOf(res, { items: count }),
  });
}

async function pageSize(ctx: ScanContext, op: Operation): Promise<void> {
  const user = ctx.identities[0];
  const param = op.parameters.find((p) => p.in === 'query' && PAGE_PARAM.test(p.name));
  if (!param) return unpaged(ctx, op);
  await pageOfOne(ctx, op);
  const req = planRequest(ctx.spec, op, ctx.objects, {
    owner: user.name,
    params: { [param.name]: HUGE_PAGE },
  });
  const res = await ctx.send(req, user);
  if (!isSuccess(res)) return;
  // A declared maximum and no more items than that: the API may well clamp the page; no finding.
  const maximum = resolveSchema(ctx.spec, param.schema).maximum;
  const count = itemCount(res.json);
  if (typeof maximum === 'number' && count !== undefined && count <= maximum) return;
  ctx.report(SCAN_RULES.unboundedPageSize, {
    operation: op,
    key: param.name,
    message: `${op.method} ${op.path} accepted ${param.name}=${HUGE_PAGE}.`,
    evidence: evidenceOf(res, { parameter: param.name }),
  });
}

async function oversized(ctx: ScanContext, op: Operation): Promise<void> {
  const user = ctx.identities[0];
  const schema = bodySchema(op);
  const body = sampleValue(ctx.spec, schema);
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const field = Object.entries(propertiesOf(ctx.spec, schema)).find(
    ([name, s]) =>
      schemaType(s) === 'string' && s.format === undefined && s.enum === undefined && name in body,
  )?.[0];
  if (!field) return;
  const req = planRequest(ctx.spec, op, ctx.objects, {
    owner: user.name,
    body: { ...body, [field]: 'A'.repeat(HUGE_STRING) },
  });
  const res = await ctx.send(req, user);
  if (!isSuccess(res)) return;
  ctx.report(SCAN_RULES.oversizedInput, {
    operation: op,
    key: field,
    message: `${op.method} ${op.path} accepted a ${HUGE_STRING}-character ${field}.`,
    evidence: evidenceOf(res, { field, length: HUGE_STRING }),
  });
}

async function burst(ctx: ScanContext): Promise<void> {
  const user = ctx.identities[0];
  // A cheap read that works for this identity: a GET without path parameters.
  const candidates = ctx.spec.operations.filter(
    (op) =>
      op.method === 'GET' &&
      !op.path.includes('{') &&
      !isExcluded(op) &&
      !op.parameters.some((p) => p.required),
  );
  candidates.sort((a, b) => Number(requiresAuth(b)) - Number(requiresAuth(a)));
  for (const op of candidates) {
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
    const first = await ctx.send(req, user);
    if (!isSuccess(first)) continue;
    const results = await Promise.all(
      Array.from({ length: BURST }, () => ctx.send(req, user, { burst: true })),
    );
    const answered = results.filter((r) => r !== undefined);
    const limited = answered.some(
      (r) => r.status === 429 || r.status === 503 || Object.keys(r.headers).some((h) => RATE_HEADER.test(h)),
    );
    if (!limited && answered.length === BURST && answered.every(isSuccess)) {
      ctx.report(SCAN_RULES.noRateLimit, {
        operation: op,
        message: `${BURST} requests in a burst to ${op.method} ${op.path} all succeeded, without a 429 or rate-limit headers.`,
        evidence: {
          request: `${first.sent.method} ${first.sent.url}`,
          requests: BURST,
          statuses: [...new Set(answered.map((r) => r.status))],
        },
      });
    }
    return;
  }
}

export const api4: Check = {
  id: 'API4',
  title: 'Unrestricted resource consumption',
  rules: [
    SCAN_RULES.noRateLimit,
    SCAN_RULES.unboundedPageSize,
    SCAN_RULES.pageLimitIgnored,
    SCAN_RULES.noPagination,
    SCAN_RULES.oversizedInput,
  ],
  async run(ctx) {
    if (!ctx.identities[0]) return;
    for (const op of ctx.spec.operations) {
      if (isExcluded(op)) continue;
      if (op.method === 'GET') await pageSize(ctx, op);
      if (isCreationOperation(ctx.spec, op)) await oversized(ctx, op);
    }
    await burst(ctx);
  },
};
