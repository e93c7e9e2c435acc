/**
 * API4 Unrestricted Resource Consumption: a page size of 100000 (reported when the page then holds more than 100
 * items, or more than the declared maximum) and of 1 (a list that answers more than one item to `limit=1`
 * ignores its page size; lists in an envelope are counted too; an answer without a list that counts its page,
 * `{"rows": 100000}`, when the count follows the page size asked), a list that declares no paging answering 200 items or more,
 * a search asked to match everything (`q=` empty, else `q=a`; with the page size at 100000 when one is declared)
 * answering more than the cap, a list that names an undeclared page size in its answer (`per_page`, else `limit` for
 * a round page under a larger total) honouring it at 100000, a
 * 100000-character string in a create request, validators that backtrack catastrophically (`redos.ts`), and one bounded burst of 50 requests to a cheap read (the only
 * requests that skip the scan's rate limit). Beyond one endpoint's page: a batch of ids sent twice and then 1000
 * times (`batchIds`), an export answering the whole collection at once (`exportAll`), and numeric cost inputs
 * (`depth`, `width`, `height`...) asked small and far past their declared maximum (`costInputs`): each judged by
 * what the large value's answer costs against the small one's.
 */
import type { JsonSchema, Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import { MAX_BODY_CHARS, type ScanResponse } from '../client.ts';
import { evidenceOf, isSuccess, type ScanContext } from '../context.ts';
import { setsPassword, setsPasswordByUrl } from '../discover.ts';
import {
  bodySchema,
  inputActs,
  isAdminOperation,
  isCreationOperation,
  isExcluded,
  isLoginOperation,
  listedValue,
  operationProse,
  pathActs,
  planRequest,
  requestBody,
  requiresAuth,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, sampleValue, schemaType } from '../schema.ts';
import { refusedIn200 } from './api5-function-authorization.ts';
import { creationSweep } from './injection.ts';
import { redos } from './redos.ts';
import { MAIL_FIELD, PASSWORD, reuseThrowaway } from './throwaway.ts';

const PAGE_PARAM =
  /^(limit|page_?size|per_?page|size|count|max(_?results|_?items|_?rows)?|top|first|take|\$top|items_?per_?page|results_?per_?page|page\[(size|limit)\]|num_?(results|items|rows)|batch_?size)$/i;
/** The names that can only mean "how many items in this page" (`size`, `count`, `first` may mean other things). */
const LIMIT_PARAM =
  /^(limit|page_?size|per_?page|max_?(results|items|rows)|\$?top|items_?per_?page|results_?per_?page|page\[(size|limit)\])$/i;
/**
 * A search's text input (`q`, `query`, `search`, `keyword`): left empty it matches everything in many APIs
 * (`LIKE '%' || ? || '%'`), so the answer holds every record unless the list is capped.
 */
const SEARCH_PARAM =
  /^(q|query|search|search_?(term|query|text|string)|term|terms|keywords?|kw|text|find|filter|s)$/i;
/** Members of an answer's totals (`total`, `meta.total_count`): more items exist than the page answered. */
const TOTAL_KEY = /^(total|total_?(count|items|results|records|rows|elements|size)|count|num_?found|found)$/i;
/** The round page sizes lists default to: a list answering one of these may have more behind it. */
const DEFAULT_PAGES = new Set([10, 12, 15, 20, 25, 30, 50, 100]);
/** Any paging input: a list that declares one of these is paged by design, whatever its page holds. */
const PAGING_PARAM = /page|limit|offset|cursor|size|after|before|skip|start|top|take|count|first/i;
/** Items in one answer of a list without paging before it is reported (small lists are fine unpaged). */
const NO_PAGING_ITEMS = 200;
const HUGE_PAGE = '100000';
/** More items than this in one page, asked for 100000, is a page size honoured past any sane maximum. */
const SANE_PAGE = 100;
const HUGE_STRING = 100_000;
const BURST = 50;
const RATE_HEADER = /^(x-)?rate-?limit|^retry-after$/i;

/** Members that hold a page's items in an envelope (`{"items": [...], "total": 3}`). */
const LIST_KEYS = ['items', 'data', 'results', 'content', 'records', 'rows', 'entries', 'list', 'hits'];

/**
 * The items of a page: the body itself when it is an array; else, in an envelope, the array under an items-like
 * key (`items`, `data`, `results`...) or the envelope's only array member (`{"documents": [...], "count": 3}`);
 * an envelope inside an envelope (`{"data": {"users": [...]}}`) is opened too, two levels at most. Undefined
 * when no single list can be told apart (two arrays and no items-like key).
 */
export function pageItems(body: unknown, depth = 0): unknown[] | undefined {
  if (Array.isArray(body)) return body;
  if (body === null || typeof body !== 'object' || depth > 2) return undefined;
  const record = body as Record<string, unknown>;
  for (const key of LIST_KEYS) if (Array.isArray(record[key])) return record[key];
  // Without an items-like name, only an array of records is a page (not a record's `roles: ["a", "b"]`).
  const members = Object.values(record);
  const arrays = members.filter(Array.isArray);
  if (arrays.length === 1) return arrays[0].every(isRecord) ? arrays[0] : undefined;
  if (arrays.length > 1) return undefined;
  const objects = members.filter(isRecord);
  return objects.length === 1 ? pageItems(objects[0], depth + 1) : undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function itemCount(body: unknown): number | undefined {
  return pageItems(body)?.length;
}

/** Containers deeper than this in a cut answer are not followed (no page sits that deep). */
const MAX_PREFIX_DEPTH = 64;

/**
 * The JSON value a cut answer began with, closed at the last comma between two members of an array (outside
 * strings): `[{"id":1},{"id":2},{"id` → `[{"id":1},{"id":2}]`. One pass over the text, no backtracking.
 * The last element kept may itself be cut short inside (a comma in an inner array); undefined when no such
 * comma came or the text is no JSON.
 */
export function jsonPrefix(text: string): unknown {
  let stack = '';
  let inString = false;
  let escaped = false;
  let cut = -1;
  /** The containers open at the cut. */
  let open = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '[' || c === '{') {
      if (stack.length >= MAX_PREFIX_DEPTH) break;
      stack += c;
    } else if (c === ']' || c === '}') stack = stack.slice(0, -1);
    else if (c === ',' && stack.endsWith('[')) {
      cut = i;
      open = stack;
    }
  }
  if (cut < 0) return undefined;
  const closers = [...open]
    .reverse()
    .map((o) => (o === '[' ? ']' : '}'))
    .join('');
  try {
    return JSON.parse(text.slice(0, cut) + closers);
  } catch {
    return undefined;
  }
}

/**
 * Items of a page whose answer the client cut at its cap: those in the part kept (the last one, maybe cut
 * short, left out). Undefined when the answer was not cut or its start holds no page.
 */
export function cutPageItems(res: ScanResponse): number | undefined {
  if (res.truncated !== true || res.json !== undefined || !/json/i.test(res.headers['content-type'] ?? ''))
    return undefined;
  const items = pageItems(jsonPrefix(res.text));
  return items === undefined ? undefined : Math.max(0, items.length - 1);
}

/** Members that can only count the items of the page answered (`{"rows": 5000}`, `{"meta": {"count": 20}}`). */
const COUNT_KEY =
  /^(count|rows|items|records|results|entries|returned|num_?(rows|items|records|results)|(row|item|record|result|entry|entrie)s?_?(count|returned))$/i;

/**
 * The numbers an answer holds under count-like names (or under the page-size input's own name, an echo of
 * it), at the top level and one envelope down (`meta`, `pagination`), keyed by their place: `rows`,
 * `meta.count`.
 */
export function pageCounts(body: unknown, param: string): Map<string, number> {
  const out = new Map<string, number>();
  const visit = (value: unknown, prefix: string, depth: number) => {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || depth > 1) return;
    for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
      if (typeof v === 'number' && Number.isInteger(v) && (COUNT_KEY.test(key) || key === param))
        out.set(`${prefix}${key}`, v);
      else visit(v, `${prefix}${key}.`, depth + 1);
    }
  };
  visit(body, '', 0);
  return out;
}

/**
 * An answer that only counts its page (`{"rows": 100000}` to `size=100000`): a count above the cap that
 * follows the page size asked, shown by a control with the smallest page (the same count at most that small
 * there). A total of the whole collection answers both alike and says nothing; a clamped page counts no more
 * than the cap.
 */
async function countedPage(
  ctx: ScanContext,
  op: Operation,
  param: string,
  huge: ScanResponse,
  cap: number,
  minimum: number,
): Promise<{ place: string; count: number; small: number } | undefined> {
  const above = [...pageCounts(huge.json, param)].filter(([, n]) => n > cap);
  if (above.length === 0) return undefined;
  const user = ctx.identities[0];
  const req = planRequest(ctx.spec, op, ctx.objects, {
    owner: user.name,
    params: { [param]: String(minimum) },
  });
  const control = await ctx.send(req, user);
  if (!served(control)) return undefined;
  const small = pageCounts(control.json, param);
  for (const [place, count] of above) {
    const n = small.get(place);
    if (n !== undefined && n <= minimum) return { place, count, small: n };
  }
  return undefined;
}

/**
 * A cut page whose kept part holds too few items to tell (large items): the smallest page as a control, a list
 * of at most that many items, not cut. Its bytes per item (its envelope counted in, so the figure is low) give
 * how many items the big answer holds at least: `items = size × control items ÷ control size`.
 */
async function weighedPage(
  ctx: ScanContext,
  op: Operation,
  param: string,
  huge: ScanResponse,
  minimum: number,
): Promise<{ items: number; about: true; detail: string } | undefined> {
  const user = ctx.identities[0];
  const req = planRequest(ctx.spec, op, ctx.objects, {
    owner: user.name,
    params: { [param]: String(minimum) },
  });
  const control = await ctx.send(req, user);
  if (!served(control) || control.truncated === true) return undefined;
  const small = itemCount(control.json);
  const bytes = control.size ?? Buffer.byteLength(control.text);
  if (small === undefined || small < 1 || small > minimum || bytes === 0) return undefined;
  const size = huge.size ?? Buffer.byteLength(huge.text);
  return {
    items: Math.floor((size * small) / bytes),
    about: true,
    detail: `${param}=${minimum} answered ${small} item${small === 1 ? '' : 's'} in ${bytes} bytes`,
  };
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
  if (!served(res)) return;
  const count = itemCount(res.json) ?? cutPageItems(res);
  if (count === undefined || count <= 1) return;
  ctx.report(SCAN_RULES.pageLimitIgnored, {
    operation: op,
    key: param.name,
    message: `${op.method} ${op.path} answered ${res.truncated ? 'at least ' : ''}${count} items to ${param.name}=1.`,
    evidence: evidenceOf(res, { parameter: param.name, items: count }),
  });
}

/** The operation's documented success answer is a list: an array, or an object with an items-like or single array. */
function documentsList(ctx: ScanContext, op: Operation): boolean {
  const answer = op.responses['200'] ?? op.responses['2XX'];
  const media = Object.entries(answer?.content ?? {}).find(([type]) => /json/i.test(type))?.[1];
  if (media?.schema === undefined) return false;
  const schema = resolveSchema(ctx.spec, media.schema);
  if (schemaType(schema) === 'array') return true;
  const arrays = Object.entries(propertiesOf(ctx.spec, schema)).filter(
    ([, s]) => schemaType(resolveSchema(ctx.spec, s)) === 'array',
  );
  return arrays.length === 1 || arrays.some(([name]) => LIST_KEYS.includes(name));
}

/** The operation's search text input (SEARCH_PARAM, a string without a list of values), if any. */
function searchParam(ctx: ScanContext, op: Operation): string | undefined {
  return op.parameters.find((p) => {
    if (p.in !== 'query' || !SEARCH_PARAM.test(p.name)) return false;
    const s = resolveSchema(ctx.spec, p.schema);
    return (schemaType(s) === undefined || schemaType(s) === 'string') && s.enum === undefined;
  })?.name;
}

/**
 * A search that matches everything: its text left empty (`GET /search?q=`), else one common letter (`q=a`) when
 * the empty text is refused or finds nothing, with the page size asked at 100000 when one is declared. Reported
 * when it answers more than `cap` items at once (a capped or paged search answers its page and no more). At most
 * two requests. True when it reported.
 */
async function searchAll(
  ctx: ScanContext,
  op: Operation,
  search: string,
  page: string | undefined,
  cap: number,
  maximum: number | undefined,
  inBody = false,
): Promise<boolean> {
  const user = ctx.identities[0];
  const sample = inBody ? sampleValue(ctx.spec, bodySchema(op)) : undefined;
  for (const text of ['', 'a']) {
    const params: Record<string, string> = { [search]: text, ...(page ? { [page]: HUGE_PAGE } : {}) };
    const body = {
      ...(isRecord(sample) ? sample : {}),
      [search]: text,
      ...(page ? { [page]: Number(HUGE_PAGE) } : {}),
    };
    const req = planRequest(ctx.spec, op, ctx.objects, {
      owner: user.name,
      ...(inBody ? { body } : { params }),
    });
    if (req.invented.length > 0) return false;
    const res = await ctx.send(req, user);
    if (!served(res)) continue;
    const count = itemCount(res.json) ?? cutPageItems(res);
    if (count === undefined) return false;
    if (count === 0) continue;
    if (count <= cap) return false;
    const said = `${search}=${text}${page ? `&${page}=${HUGE_PAGE}` : ''}${inBody ? ' in its body' : ''}`;
    const many = res.truncated
      ? `at least ${count} items (in the first ${MAX_BODY_CHARS / 1024} KiB of ${res.size} bytes)`
      : `${count} items`;
    ctx.report(page ? SCAN_RULES.unboundedPageSize : SCAN_RULES.noPagination, {
      operation: op,
      ...(page ? { key: page } : {}),
      message: page
        ? `${op.method} ${op.path} answered ${many} to ${said}${maximum !== undefined ? ` (declared maximum ${maximum})` : ''}: a search that matches everything is not capped.`
        : `${op.method} ${op.path} declares no paging parameter and answered ${many} at once to ${said}: a search that matches everything returns every record.`,
      evidence: evidenceOf(res, { parameter: search, value: text, items: count }),
    });
    return true;
  }
  return false;
}

/** A POST that searches rather than creates (`POST /products/search {keyword}`, `/orders/filter`). */
const SEARCH_PATH = /(^|[/_.-])(search|find|lookup|filter|query)([/_.-]|$)/i;

/**
 * A search sent as a POST, its text in a JSON body field (SEARCH_PARAM): judged as a GET search is (searchAll),
 * with the body's page size (a PAGE_PARAM member) at 100000 when it has one. Not a creation, not GraphQL, no path
 * parameter.
 */
async function postSearch(ctx: ScanContext, op: Operation): Promise<void> {
  if (op.path.includes('{') || /graphql/i.test(op.path) || !SEARCH_PATH.test(op.path)) return;
  if (isCreationOperation(ctx.spec, op) || requestBody(op)?.encoding !== 'json') return;
  const props = propertiesOf(ctx.spec, bodySchema(op));
  const search = Object.entries(props).find(
    ([name, s]) =>
      SEARCH_PARAM.test(name) && (schemaType(s) ?? 'string') === 'string' && s.enum === undefined,
  )?.[0];
  if (search === undefined) return;
  const page = Object.keys(props).find((name) => PAGE_PARAM.test(name));
  const declared = page ? resolveSchema(ctx.spec, props[page]) : {};
  const maximum = typeof declared.maximum === 'number' ? declared.maximum : undefined;
  const paged = Object.keys(props).some((name) => PAGING_PARAM.test(name));
  if (!page && paged) return;
  await searchAll(ctx, op, search, page, page ? (maximum ?? SANE_PAGE) : NO_PAGING_ITEMS - 1, maximum, true);
}

/** A number under a page-size name in an answer (`per_page`, `meta.limit`), one envelope down at most. */
function answeredPageSize(body: unknown): { name: string; size: number } | undefined {
  if (!isRecord(body)) return undefined;
  for (const record of [body, ...Object.values(body).filter(isRecord)]) {
    for (const [key, v] of Object.entries(record)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) continue;
      if (LIMIT_PARAM.test(key)) return { name: key, size: v };
      // A Spring page (`{"content": [...], "size": 20, "totalElements": 900}`) names its page size `size`.
      if (key === 'size' && ('totalElements' in record || 'totalPages' in record || 'pageable' in record))
        return { name: key, size: v };
    }
  }
  return undefined;
}

/** The largest total an answer gives (`total`, `meta.total_count`), one envelope down at most. */
function answeredTotal(body: unknown): number | undefined {
  if (!isRecord(body)) return undefined;
  let total: number | undefined;
  for (const record of [body, ...Object.values(body).filter(isRecord)]) {
    for (const [key, v] of Object.entries(record)) {
      if (TOTAL_KEY.test(key) && typeof v === 'number' && Number.isInteger(v))
        total = Math.max(total ?? 0, v);
    }
  }
  return total;
}

/**
 * A list that declares no paging but pages all the same (`{"items": [20], "per_page": 20, "total": 900}`, a Spring
 * page's `size`, or a round page of 10, 20, 50... items): the page size it names in its answer (else `limit`) asked
 * at 100000.
 * Reported when that answers more than a sane page and more than the default page did (an API that ignores or
 * clamps the undeclared size answers its page). One request.
 */
async function undeclaredPageSize(
  ctx: ScanContext,
  op: Operation,
  first: ScanResponse,
  count: number,
): Promise<void> {
  const named = answeredPageSize(first.json);
  const total = answeredTotal(first.json);
  // A round page with no total, or under a larger one: `limit` asked at 100000 (one request either way).
  const paged =
    named !== undefined ? named.size <= count : DEFAULT_PAGES.has(count) && (total ?? count) >= count;
  if (!paged || count < 1) return;
  const name = named?.name ?? 'limit';
  if (op.parameters.some((p) => p.name === name)) return;
  const user = ctx.identities[0];
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
  const path = `${req.path}${req.path.includes('?') ? '&' : '?'}${encodeURIComponent(name)}=${HUGE_PAGE}`;
  const res = await ctx.send({ ...req, path }, user);
  if (!served(res)) return;
  const items = itemCount(res.json) ?? cutPageItems(res);
  if (items === undefined || items <= Math.max(count, SANE_PAGE)) return;
  ctx.report(SCAN_RULES.unboundedPageSize, {
    operation: op,
    key: name,
    message: `${op.method} ${op.path} answered ${res.truncated ? 'at least ' : ''}${items} items to ${name}=${HUGE_PAGE}, a page size its document does not declare (${count} without it${total !== undefined ? `, of ${total}` : ''}).`,
    evidence: evidenceOf(res, { parameter: name, declared: false, items, defaultPage: count }),
  });
}

/** A list that declares no paging input at all, answering a very long list at once. */
async function unpaged(ctx: ScanContext, op: Operation): Promise<void> {
  if (op.parameters.some((p) => p.in === 'query' && PAGING_PARAM.test(p.name))) return;
  const search = searchParam(ctx, op);
  // A search: asked to match everything (its required inputs but the search text sampled as usual).
  if (
    search !== undefined &&
    !op.parameters.some((p) => p.required && p.in !== 'path' && p.name !== search) &&
    (await searchAll(ctx, op, search, undefined, NO_PAGING_ITEMS - 1, undefined))
  )
    return;
  if (op.parameters.some((p) => p.required && p.in !== 'path')) return;
  const user = ctx.identities[0];
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
  if (req.invented.length > 0) return;
  const res = await ctx.send(req, user);
  if (!served(res)) return;
  const count = itemCount(res.json) ?? cutPageItems(res);
  if (count === undefined) return;
  // A page of a list the document does not describe is judged only against the same list asked for more.
  if (count < NO_PAGING_ITEMS || !documentsList(ctx, op)) return undeclaredPageSize(ctx, op, res, count);
  ctx.report(SCAN_RULES.noPagination, {
    operation: op,
    message: `${op.method} ${op.path} declares no paging parameter and answered ${res.truncated ? `at least ${count} items (in the first ${MAX_BODY_CHARS / 1024} KiB of ${res.size} bytes)` : `${count} items`} at once.`,
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
  // Only a page that really holds more than a sane page (or than the declared maximum) shows the size was
  // honoured: an API that clamps the page answers the big request with its own maximum, and a short list
  // cannot tell clamping from honouring.
  const declared = resolveSchema(ctx.spec, param.schema);
  const maximum = declared.maximum;
  const cap = typeof maximum === 'number' ? maximum : SANE_PAGE;
  // A search whose sampled text was refused or found a page within the cap: asked again to match everything.
  const search = searchParam(ctx, op);
  const count = served(res) ? itemCount(res.json) : undefined;
  const cut = served(res) ? cutPageItems(res) : undefined;
  if (
    search !== undefined &&
    (count ?? cut ?? 0) <= cap &&
    (await searchAll(ctx, op, search, param.name, cap, typeof maximum === 'number' ? maximum : undefined))
  )
    return;
  if (!served(res)) return;
  const minimum = typeof declared.minimum === 'number' && declared.minimum > 1 ? declared.minimum : 1;
  if (count === undefined && cut !== undefined) {
    // An answer past what the client keeps: counted in the part kept, else weighed against the smallest page.
    const judged =
      cut > cap
        ? { items: cut, about: false, detail: '' }
        : await weighedPage(ctx, op, param.name, res, minimum);
    if (judged === undefined || judged.items <= cap) return;
    ctx.report(SCAN_RULES.unboundedPageSize, {
      operation: op,
      key: param.name,
      message: `${op.method} ${op.path} answered ${res.size ?? res.text.length} bytes to ${param.name}=${HUGE_PAGE}, more than the scan keeps (${MAX_BODY_CHARS / 1024} KiB): ${
        judged.about
          ? `about ${judged.items} items by size (${judged.detail})`
          : `at least ${judged.items} items in the part kept`
      }${typeof maximum === 'number' ? ` (declared maximum ${maximum})` : ''}.`,
      evidence: evidenceOf(res, { parameter: param.name, items: judged.items, bytes: res.size, cut: true }),
    });
    return;
  }
  if (count === undefined) {
    // No list to count: an answer that counts its page in a number instead.
    const counted = await countedPage(ctx, op, param.name, res, cap, minimum);
    if (counted === undefined) return;
    ctx.report(SCAN_RULES.unboundedPageSize, {
      operation: op,
      key: param.name,
      message: `${op.method} ${op.path} counted ${counted.count} in ${counted.place} to ${param.name}=${HUGE_PAGE} (${counted.small} to ${param.name}=${minimum})${typeof maximum === 'number' ? ` (declared maximum ${maximum})` : ''}.`,
      evidence: evidenceOf(res, { parameter: param.name, [counted.place]: counted.count }),
    });
    return;
  }
  if (count <= cap) {
    // Too few items to tell (a short list): the answer saying the page size it took (`"limit": 100000`) past the
    // cap is the API taking it (an API that clamps says its own maximum, one that checks refuses).
    const said = answeredPageSize(res.json);
    if (said === undefined || said.size !== Number(HUGE_PAGE) || said.size <= cap) return;
    ctx.report(SCAN_RULES.unboundedPageSize, {
      operation: op,
      key: param.name,
      message: `${op.method} ${op.path} took ${param.name}=${HUGE_PAGE}: its answer says ${said.name}: ${said.size}${typeof maximum === 'number' ? ` (declared maximum ${maximum})` : ''}, and it answered every item it has (${count}); a large collection comes back whole.`,
      evidence: evidenceOf(res, { parameter: param.name, items: count, answeredPageSize: said.size }),
    });
    return;
  }
  ctx.report(SCAN_RULES.unboundedPageSize, {
    operation: op,
    key: param.name,
    message: `${op.method} ${op.path} answered ${count} items to ${param.name}=${HUGE_PAGE}${typeof maximum === 'number' ? ` (declared maximum ${maximum})` : ''}.`,
    evidence: evidenceOf(res, { parameter: param.name, items: count }),
  });
}

/** What a creation made with the oversized probe (as the first identity), deleted again at the end (review R1-S6). */
type Sweep = ReturnType<typeof creationSweep>;

async function oversized(ctx: ScanContext, op: Operation, sweep: Sweep): Promise<void> {
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
  sweep.seen(op, user, '')(req, res, undefined);
  if (!served(res)) return;
  ctx.report(SCAN_RULES.oversizedInput, {
    operation: op,
    key: field,
    message: `${op.method} ${op.path} accepted a ${HUGE_STRING}-character ${field}.`,
    evidence: evidenceOf(res, { field, length: HUGE_STRING }),
  });
}

/** An input that names objects by their ids (`ids`, `product_ids`, `userIds`, `id`): a batch when it is an array. */
const IDS_NAME = /^(ids?|[a-z]+_ids|[a-z]+Ids|id_list|ids_list)$/i;
/** A POST that reads a batch rather than writes one (`:batchGet`, `/bulk-get`, `/lookup`, `/fetch`). */
const BATCH_READ =
  /batch_?get|bulk_?get|get_?many|get_?batch|batch_?read|bulk_?read|lookup|fetch|retrieve|resolve/i;
/** Ids sent in the large batch (the declared maxItems times ten when larger). */
const BATCH_SIZE = 1000;
/** A batch, export or cost input is reported when its answer is this many times the small one's, and this much larger. */
const GROWTH = 10;
const MIN_EXTRA_BYTES = 32 * 1024;
/** A cost input's answer grows with one dimension (the others as sampled, often their minimum): less is enough. */
const MIN_COST_BYTES = 4 * 1024;

/**
 * An answer that serves what was asked: a 2xx that is no error page or bare error report (isSuccess) and refuses
 * nothing in its body (`{"success": false, "message": "...", "sampleLogs": [...]}`: a refusal's sample is no page).
 */
function served(res: ScanResponse | undefined): res is ScanResponse {
  return isSuccess(res) && !refusedIn200(res);
}

/** Bytes of an answer (counted past what the client keeps). */
const bytesOf = (res: ScanResponse) => res.size ?? Buffer.byteLength(res.text);

/**
 * A batch input of ids with no cap (`GET /products:batchGet?ids=1&ids=2`, `POST /users/lookup {"ids": [...]}`):
 * the same id given twice, then BATCH_SIZE times (more than the declared maxItems). Reported (`-oversized-input`)
 * when the large batch is accepted and served — its answer GROWTH times the small one's, and MIN_EXTRA_BYTES more
 * (an API that refuses it, caps it or answers each id once serves no more). Reads only: a POST only at a batch
 * read's path or id; nothing whose path or inputs say it acts.
 */
async function batchIds(ctx: ScanContext, op: Operation): Promise<boolean> {
  if (isCreationOperation(ctx.spec, op) || pathActs(op.path)) return false;
  const user = ctx.identities[0];
  const query = op.parameters.find(
    (p) =>
      p.in === 'query' && IDS_NAME.test(p.name) && schemaType(resolveSchema(ctx.spec, p.schema)) === 'array',
  );
  let field: string | undefined;
  let maxItems: unknown;
  if (query) maxItems = resolveSchema(ctx.spec, query.schema).maxItems;
  else {
    if (
      op.method !== 'POST' ||
      !BATCH_READ.test(`${op.path} ${op.id}`) ||
      requestBody(op)?.encoding !== 'json'
    )
      return false;
    const props = propertiesOf(ctx.spec, bodySchema(op));
    field = Object.keys(props).find(
      (k) => IDS_NAME.test(k) && schemaType(resolveSchema(ctx.spec, props[k])) === 'array',
    );
    if (field === undefined) return false;
    maxItems = resolveSchema(ctx.spec, props[field]).maxItems;
  }
  const name = query?.name ?? field ?? '';
  const size =
    typeof maxItems === 'number' && maxItems * GROWTH > BATCH_SIZE ? maxItems * GROWTH : BATCH_SIZE;
  const plan = planRequest(ctx.spec, op, ctx.objects, { owner: user.name, allQuery: true });
  if (plan.invented.length > 0 || inputActs(plan)) return false;
  // The id repeated: a value the planner found for it (the API gave it out), else one it sampled.
  const [bare, search = ''] = plan.path.split('?');
  const params = new URLSearchParams(search);
  const body = isRecord(plan.body) ? plan.body : {};
  // An id the API gave out for this collection (`/v1/products:batchGet` → a product's id), else the planner's.
  const literal = op.path.split('/').filter((seg) => seg !== '' && !seg.includes('{'));
  const last = (literal.at(-1) ?? '').split(':')[0];
  const entity = BATCH_READ.test(last) ? (literal.at(-2) ?? '') : last;
  const itemSchema = resolveSchema(
    ctx.spec,
    (query ? resolveSchema(ctx.spec, query.schema) : propertiesOf(ctx.spec, bodySchema(op))[name])
      ?.items as JsonSchema,
  );
  const one = /^ids?$/i.test(name) ? 'id' : name.replace(/_?ids$/i, '_id').replace(/Ids$/, 'Id');
  const given = ctx.objects.harvest.best(
    { name: one, context: entity, schema: itemSchema },
    user.name,
  )?.value;
  const planned = query ? params.getAll(name).flatMap((v) => v.split(',')) : body[name];
  const first = Array.isArray(planned) ? planned[0] : planned;
  const value = given ?? (first === undefined || first === '' ? '1' : first);
  const exploded = query?.explode !== false;
  const batch = (n: number) => {
    const ids = Array.from({ length: n }, () => value);
    if (!query) return { ...plan, body: { ...body, [name]: ids } };
    const p = new URLSearchParams(params);
    p.delete(name);
    if (exploded) for (const id of ids) p.append(name, String(id));
    else p.set(name, ids.join(','));
    return { ...plan, path: `${bare}?${p.toString()}` };
  };
  const small = await ctx.send(batch(2), user);
  if (!served(small)) return false;
  const large = await ctx.send(batch(size), user);
  if (!served(large)) return false;
  const smallBytes = bytesOf(small);
  const largeBytes = bytesOf(large);
  if (largeBytes < GROWTH * Math.max(smallBytes, 1) || largeBytes - smallBytes < MIN_EXTRA_BYTES)
    return false;
  const items = itemCount(large.json) ?? cutPageItems(large);
  ctx.report(SCAN_RULES.oversizedInput, {
    operation: op,
    key: `${name}[]`,
    message: `${op.method} ${op.path} took ${size} ids in ${name}${typeof maxItems === 'number' ? ` (declared maxItems ${maxItems})` : ''} and served them: ${largeBytes} bytes${items !== undefined ? ` (${large.truncated ? 'at least ' : ''}${items} items)` : ''} against ${smallBytes} bytes for 2. A batch without a cap lets one request cost as much as the client likes.`,
    evidence: evidenceOf(large, { input: name, ids: size, bytes: largeBytes, smallBytes }),
  });
  return true;
}

/** An export or download of a whole collection (`/export`, `/orders.csv`, `/reports/download`, `/dump`). */
const EXPORT_PATH = /(^|[/_.:-])(export|exports|download|dump|backup)([/_.:-]|$)|\.(csv|xlsx?|ndjson)$/i;

/** Rows of a CSV or other line-based answer (its header line left out), counted in the part kept. */
function lineRows(res: ScanResponse): number | undefined {
  const type = res.headers['content-type'] ?? '';
  if (!/csv|tab-separated|ndjson|x-ndjson|jsonl|text\/plain/i.test(type)) return undefined;
  const lines = res.text.split('\n').filter((l) => l.trim() !== '');
  // A cut answer's last line may be cut short: left out.
  const whole = res.truncated ? lines.slice(0, -1) : lines;
  return /csv|tab-separated/i.test(type) ? Math.max(0, whole.length - 1) : whole.length;
}

/**
 * An export that answers the whole collection at once: a GET at an export or download path (EXPORT_PATH) that
 * declares no paging input, answering NO_PAGING_ITEMS rows or more (a JSON list, or CSV/NDJSON lines):
 * `-no-pagination`. An export capped at fewer rows, or paged, is not reported. One request.
 */
async function exportAll(ctx: ScanContext, op: Operation): Promise<boolean> {
  if (!EXPORT_PATH.test(op.path) && !EXPORT_PATH.test(op.id)) return false;
  if (op.parameters.some((p) => p.in === 'query' && PAGING_PARAM.test(p.name))) return false;
  const user = ctx.identities[0];
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
  if (req.invented.length > 0) return false;
  const res = await ctx.send(req, user);
  if (!served(res)) return false;
  const rows = itemCount(res.json) ?? cutPageItems(res) ?? lineRows(res);
  if (rows === undefined || rows < NO_PAGING_ITEMS) return false;
  ctx.report(SCAN_RULES.noPagination, {
    operation: op,
    key: 'export',
    message: `${op.method} ${op.path} exported ${res.truncated ? 'at least ' : ''}${rows} rows at once (${bytesOf(res)} bytes, ${res.headers['content-type'] ?? 'no content type'}), with no paging input and no cap: one request reads the whole collection.`,
    evidence: evidenceOf(res, { rows, bytes: bytesOf(res) }),
  });
  return true;
}

/**
 * Numeric inputs whose value sets how much work an answer costs (`depth`, `width`, `height`, `levels`,
 * `iterations`, `resolution`, `points`...; page sizes are judged apart).
 */
const COST_PARAM =
  /^(max_?)?(depth|levels?|width|height|w|h|resolution|res|dpi|scale|zoom|iterations?|rounds|repeat|times|points|samples|steps|radius|dimensions?|pixels|px|frames|nodes|hops|degree|precision|digits)$/i;
/** Cost inputs probed per operation and per scan. */
const MAX_COST_INPUTS = 2;
const MAX_COST_OPERATIONS = 6;

/**
 * A numeric cost input of a GET (COST_PARAM, not a page size) asked at a small value (its declared minimum, else
 * 1) and far past any declared maximum (ten times it; 1000 when none is declared): reported (`-oversized-input`)
 * when the large value is accepted and served — an answer GROWTH times the small one's and MIN_EXTRA_BYTES more.
 * An API that refuses or clamps the value answers alike. Two requests per input.
 */
async function costInputs(ctx: ScanContext, op: Operation): Promise<boolean> {
  const user = ctx.identities[0];
  const inputs = op.parameters
    .filter((p) => p.in === 'query' && COST_PARAM.test(p.name) && !PAGE_PARAM.test(p.name))
    .filter((p) => {
      const t = schemaType(resolveSchema(ctx.spec, p.schema));
      return t === 'integer' || t === 'number';
    })
    .slice(0, MAX_COST_INPUTS);
  let probed = false;
  for (const p of inputs) {
    const s = resolveSchema(ctx.spec, p.schema);
    const small = typeof s.minimum === 'number' && s.minimum > 1 ? s.minimum : 1;
    const large = typeof s.maximum === 'number' ? Math.max(s.maximum * 10, small * 100) : 1000;
    const ask = (v: number) =>
      planRequest(ctx.spec, op, ctx.objects, { owner: user.name, params: { [p.name]: String(v) } });
    const low = ask(small);
    if (low.invented.length > 0) return probed;
    probed = true;
    const a = await ctx.send(low, user);
    if (!served(a)) continue;
    const b = await ctx.send(ask(large), user);
    if (!served(b)) continue;
    const smallBytes = bytesOf(a);
    const largeBytes = bytesOf(b);
    if (largeBytes < GROWTH * Math.max(smallBytes, 1) || largeBytes - smallBytes < MIN_COST_BYTES) continue;
    ctx.report(SCAN_RULES.oversizedInput, {
      operation: op,
      key: p.name,
      message: `${op.method} ${op.path} served ${p.name}=${large}${typeof s.maximum === 'number' ? `, past its declared maximum ${s.maximum},` : ''} with ${largeBytes} bytes against ${smallBytes} bytes for ${p.name}=${small}: the client sets how much each answer costs, without a cap.`,
      evidence: evidenceOf(b, {
        input: p.name,
        value: large,
        bytes: largeBytes,
        smallValue: small,
        smallBytes,
      }),
    });
  }
  return probed;
}

/**
 * Operations that send a message or a code to the person they name: a forgotten password, a reset link, a one-time
 * code or a magic link by SMS or e-mail (`POST /initiate_forgot_password`, `POST /auth/reset {email}`, `POST
 * /otp/send {phone}`), by their path, operation id or prose. Each message may cost money (an SMS) and floods its
 * recipient: OWASP's API4 example is an SMS reset sent without limit.
 */
const MESSAGE_FLOW =
  /forgot|((re)?send|request|text)[-_ ]?(an? )?(otp|code|sms|pin|text|link|token|verification|confirmation|e-?mail|mail|message)|(^|[^a-z])(sms|otp)([^a-z]|$)|one[-_ ]?time|2fa|mfa|magic[-_ ]?link|verification[-_ ]?(code|e-?mail|sms|link)/i;
/** A reset or recovery of an account (`POST /auth/reset {email}`), not of any state (`POST /tickets/reset`). */
const ACCOUNT_RESET =
  /(reset|recover)[\s\S]*(pass|pwd|account|login|auth|credential|sign[-_ ]?in)|(pass|pwd|account|login|auth|credential)[\s\S]*(reset|recover)/i;
/** An input that takes the code the message carried (the verification step, which API2's code guessing probes). */
const CODE_INPUT = /(^|_)(otp|pin|code|token|totp|nonce)$/i;
const PHONE_INPUT = /phone|mobile|msisdn|tel$|number$/i;
const PERSON_INPUT = /^(user|username|user_?name|login|handle|account|name|identifier)$/i;
/** Inputs that name someone by an id: never sent with a sampled value (it may be a real person's). */
const ID_INPUT = /(^|_)(id|uid)$|Id$/;
/** A number no one has (the 555-01xx range is reserved for fiction). */
const FICTIONAL_PHONE = '+15555550143';
/** Requests a message flow gets (the first included): enough for a limit of a few an hour to show. */
const MESSAGE_BURST = 20;
/** Operations probed so, at most. */
const MAX_MESSAGE_FLOWS = 3;
/** Words of a limit said in a 2xx or 4xx answer (`{"detail": "Request was throttled."}`). */
const LIMIT_WORDS = /too many|rate.?limit|throttl|try again (later|in)|slow down|quota/i;

/** The operations that send a message or a code (MESSAGE_FLOW), not its verification step nor a password setter. */
export function messageFlows(ctx: Pick<ScanContext, 'spec'>): Operation[] {
  const { spec } = ctx;
  return spec.operations.filter((op) => {
    if ((op.method !== 'POST' && op.method !== 'GET') || isExcluded(op) || isAdminOperation(op)) return false;
    const words = `${op.path} ${op.hasDeclaredId ? op.id : ''} ${operationProse(spec, op)}`;
    if (!MESSAGE_FLOW.test(words) && !ACCOUNT_RESET.test(words)) return false;
    if (isLoginOperation(spec, op) || setsPassword(spec, op) || setsPasswordByUrl(spec, op)) return false;
    const names = [
      ...Object.keys(propertiesOf(spec, bodySchema(op))),
      ...op.parameters.filter((p) => p.in === 'query').map((p) => p.name),
    ];
    if (names.some((n) => CODE_INPUT.test(n) || PASSWORD.test(n))) return false;
    // A path parameter names someone (`/users/{id}/send-code`), unless the document lists its values.
    return !op.parameters.some((p) => p.in === 'path' && listedValue(spec, p.schema) === undefined);
  });
}

/**
 * A message flow without a limit (`-no-rate-limit`, key `message-flow`): MESSAGE_BURST requests in a burst to each
 * operation that sends a reset, a code or a message (messageFlows, at most MAX_MESSAGE_FLOWS) must meet a 429, a
 * 503, a rate-limit header or a refusal that says so. Never for a given identity or the admin: the request names an
 * account of the scan's own (reused, with its session where the operation needs one) or, for an operation open to
 * anyone, a user name and e-mail nobody has, and a fictional phone number; an operation that needs a session and
 * has no account of the scan's own is noted, not sent (it would text or mail a given person).
 */
async function messageFlowLimits(ctx: ScanContext): Promise<void> {
  const ops = messageFlows(ctx).slice(0, MAX_MESSAGE_FLOWS);
  if (ops.length === 0) return;
  const own = await reuseThrowaway(ctx);
  const tag = Math.random().toString(16).slice(2, 10);
  const subject = own
    ? { name: own.name, email: own.email, label: `an account the scan registered (${own.name})` }
    : { name: `pc-nobody-${tag}`, email: `pc-nobody-${tag}@example.com`, label: 'a user name nobody has' };
  const valueFor = (name: string): string | undefined =>
    MAIL_FIELD.test(name)
      ? subject.email
      : PHONE_INPUT.test(name)
        ? FICTIONAL_PHONE
        : PERSON_INPUT.test(name)
          ? subject.name
          : undefined;
  for (const op of ops) {
    if (ctx.signal.aborted) return;
    const as = requiresAuth(op) ? own?.identity : null;
    if (as === undefined) {
      ctx.note?.({
        rule: SCAN_RULES.noRateLimit,
        operation: op,
        reason: `not sent: it sends a message or a code to its caller, and only an account of the scan's own may ask that (never a given identity, whose phone or mailbox it reaches); no sign-up gave one`,
      });
      continue;
    }
    const schema = bodySchema(op);
    let body: Record<string, unknown> | undefined;
    if (schema !== undefined) {
      const sample = sampleValue(ctx.spec, schema);
      body = sample !== null && typeof sample === 'object' && !Array.isArray(sample) ? { ...sample } : {};
      for (const k of Object.keys(propertiesOf(ctx.spec, schema))) {
        const v = valueFor(k);
        if (v !== undefined) body[k] = v;
        else if (ID_INPUT.test(k)) delete body[k];
      }
    }
    const params: Record<string, string> = {};
    for (const p of op.parameters) {
      if (p.in !== 'query') continue;
      const v = valueFor(p.name);
      if (v !== undefined) params[p.name] = v;
    }
    const req = planRequest(ctx.spec, op, ctx.objects, { params, ...(body !== undefined ? { body } : {}) });
    // Said only when a phone input took the fictional number (review R1-15: an e-mail reset said so too).
    const phoned = Object.values({ ...params, ...(body ?? {}) }).includes(FICTIONAL_PHONE);
    if (req.invented.length > 0) continue;
    const first = await ctx.send(req, as);
    if (!first || !isSuccess(first) || refusedIn200(first) || LIMIT_WORDS.test(first.text)) {
      ctx.note?.({
        rule: SCAN_RULES.noRateLimit,
        operation: op,
        reason: `message flow not judged: its first request for ${subject.label} answered ${first?.status ?? 'nothing'}${first && isSuccess(first) ? ' and refused it' : ''}`,
      });
      continue;
    }
    const rest = await Promise.all(
      Array.from({ length: MESSAGE_BURST - 1 }, () => ctx.send(req, as, { burst: true })),
    );
    const answered = [first, ...rest].filter((r) => r !== undefined);
    const limited = answered.find(
      (r) =>
        r.status === 429 ||
        r.status === 503 ||
        Object.keys(r.headers).some((h) => RATE_HEADER.test(h)) ||
        LIMIT_WORDS.test(r.text),
    );
    if (
      limited ||
      answered.length < MESSAGE_BURST ||
      !answered.every((r) => isSuccess(r) && !refusedIn200(r))
    ) {
      ctx.note?.({
        rule: SCAN_RULES.noRateLimit,
        operation: op,
        reason: limited
          ? `message flow limited: of ${MESSAGE_BURST} requests for ${subject.label}, one answered ${limited.status}${LIMIT_WORDS.test(limited.text) ? ' saying so' : ' with a limit'}`
          : `message flow not judged: of ${MESSAGE_BURST} requests for ${subject.label}, ${answered.filter((r) => isSuccess(r)).length} succeeded`,
      });
      continue;
    }
    ctx.report(SCAN_RULES.noRateLimit, {
      operation: op,
      key: 'message-flow',
      message: `${MESSAGE_BURST} requests in a burst to ${op.method} ${op.path}, which sends a reset, a code or a message to the person it names, all succeeded (${[...new Set(answered.map((r) => r.status))].join(', ')}) without a 429 or rate-limit headers: each may cost a message (an SMS) and floods its recipient. Sent for ${subject.label}${phoned ? ', with a fictional phone number' : ''}.`,
      evidence: { ...evidenceOf(first), requests: MESSAGE_BURST, account: subject.name },
    });
  }
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
    SCAN_RULES.redos,
  ],
  async run(ctx) {
    if (!ctx.identities[0]) return;
    let costly = 0;
    // The oversized creations' objects (`POST /devices {label: "AAAA…"}` as alice) are deleted at the end.
    const sweep = creationSweep(ctx, 'the oversized-input probes');
    // The probes stop at the check's deadline, not at its signal: the sweep gets the grace after it (GRACE_MS) to
    // delete what they made (on a slow target the loop ran until the abort and the long creation stayed).
    const over = () => ctx.signal.aborted || (ctx.deadline !== undefined && performance.now() > ctx.deadline);
    for (const op of ctx.spec.operations) {
      if (over()) break;
      if (isExcluded(op)) continue;
      // An export that answered the whole collection needs no page-size probe besides.
      if (op.method === 'GET' && !(await exportAll(ctx, op))) await pageSize(ctx, op);
      if (op.method === 'POST') await postSearch(ctx, op);
      if (op.method === 'GET' || op.method === 'POST') await batchIds(ctx, op);
      if (op.method === 'GET' && costly < MAX_COST_OPERATIONS && (await costInputs(ctx, op))) costly++;
      if (isCreationOperation(ctx.spec, op)) await oversized(ctx, op, sweep);
    }
    await sweep.flush(undefined, true);
    sweep.report();
    // Before the burst, which may trip a rate limit and slow every answer after it.
    await redos(ctx);
    await messageFlowLimits(ctx);
    await burst(ctx);
  },
};
