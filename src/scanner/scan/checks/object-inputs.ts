/**
 * Inputs outside the path that name which object a read returns: `GET /orders?order_id=7`,
 * `GET /profile?user_id=3`, `GET /invoice?account=alice`, `POST /orders/view {"order_id": 7}`. Shared by API1
 * (which replays them across identities) and API5 (which leaves such reads to API1: what differs between two
 * callers there is which object, not which function).
 */
import type { ApiDocument, JsonSchema, Operation } from '../../../core/api-document.ts';
import { singular } from '../harvest.ts';
import { bodySchema, idInput, isExcluded, isLoginOperation, listedValue, pathActs } from '../planner.ts';
import { propertiesOf, resolveSchema, schemaType } from '../schema.ts';

/** An input of a read that names an object by its id or its owner's name. */
export interface ObjectInput {
  /** Its name; a header's as an input is named (`X-User-Id` → `user_id`), its own name in `header`. */
  readonly name: string;
  readonly in: 'query' | 'body' | 'header';
  /** The header's own name (`X-User-Id`), for a header input. */
  readonly header?: string;
  readonly schema?: JsonSchema;
  /** The document's example of a query parameter. */
  readonly example?: unknown;
}

/** Inputs that name a person or an account by a name, not an id (`?account=alice`, `?email=`, `?username=`). */
const NAMED_BY_NAME =
  /^(user|user_?name|userName|login|account|account_?(no|num|number)|accountNumber|email|e_?mail|owner|customer|member|handle|uid)$/i;
/** A number-like suffix that names an object too (`invoice_no`, `orderNumber`). */
const NUMBERED = /[-_](no|num|number)$|[a-z0-9](No|Num|Number)$/;

/** Whether an input's name says it names an object (an id, a number, an account or user name). */
export function namesObject(name: string): boolean {
  return idInput(name) || NUMBERED.test(name) || NAMED_BY_NAME.test(name);
}

/**
 * Verbs of reading that lead a path's last segment (`/orders/view`, `/getInvoice`, `/order-details`): only those
 * that read and nothing else (`open` unlocks a locker, `load` tops up a card, `read` marks a message read).
 */
const READ_VERB = /^(view|show|get|fetch|details?|info|lookup|find|retrieve|display|preview|describe)$/;
/**
 * Words of a path that does something beyond reading, whatever the method (`/lockers/open`, `/cards/load`,
 * `/coupons/redeem`, `/messages/read`): such a path is no read, even as a GET. The verbs of change of the planner
 * (`pathActs`) count too.
 */
const NOT_READ =
  /^(open|load|reload|read|top|topup|recharge|redeem|consume|use|apply|trigger|ring|dial|notify|remind|ping|wake|renew|increment|inc|vote|upvote|like|follow|subscribe|join|checkin|start|stop|print|generate|spend)$/;

/** A segment's words, lower case (`viewOrder`, `view-order`, `order.php` → `view`, `order`; `order`, `php`). */
function words(segment: string): string[] {
  return segment
    .replace(/\.(php\d?|aspx?|jsp|do|action|cgi|json|html?)$/i, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
}

const ROUTE_WORD = /^(api|rest|v\d+(\.\d+)?|api[-_]?v\d+(\.\d+)?)$/i;

/**
 * The entity a read path is about, its verbs of reading aside: `/orders/view` → `order`, `/getInvoice` →
 * `invoice`, `/api/account.php` → `account`, `/order-details` → `order`.
 */
export function readPathEntity(path: string): string | undefined {
  const segments = path
    .split('?')[0]
    .split('/')
    .filter((s) => s !== '' && !s.includes('{') && !ROUTE_WORD.test(s));
  for (const segment of segments.reverse()) {
    const rest = words(segment).filter((w) => !READ_VERB.test(w) && w !== 'by');
    if (rest.length > 0) return singular(rest.join(''));
  }
  return undefined;
}

/**
 * A read whose object is named outside its path: a GET whose path does not act, or a POST whose path's last
 * segment starts with a verb of reading (`POST /orders/view`, `POST /getInvoice`) and does not act. No path
 * parameter but those the document lists (a version, a kind), no login.
 */
export function readsByInput(spec: ApiDocument, op: Operation): boolean {
  if (isExcluded(op) || isLoginOperation(spec, op) || pathActs(op.path)) return false;
  const literal = op.path
    .split('/')
    .filter((seg) => seg !== '' && !seg.includes('{'))
    .flatMap(words);
  if (literal.some((w) => NOT_READ.test(w))) return false;
  if (op.parameters.some((p) => p.in === 'path' && listedValue(spec, p.schema) === undefined)) return false;
  if (op.method === 'GET') return true;
  if (op.method !== 'POST') return false;
  const last = op.path
    .split('/')
    .filter((s) => s !== '')
    .pop();
  const first = last === undefined ? undefined : words(last)[0];
  return first !== undefined && READ_VERB.test(first);
}

/**
 * The inputs of a read that name an object (query parameters, and the top-level fields of a POST read's body):
 * by their names (`id`, `order_id`, `invoice_no`, `account`, `email`), not those the document lists values for,
 * and only scalars (or arrays of them).
 */
export function objectInputs(spec: ApiDocument, op: Operation): ObjectInput[] {
  const scalar = (schema: JsonSchema | undefined) => {
    const s = resolveSchema(spec, schema);
    const type = schemaType(s);
    return type !== 'object' && type !== 'boolean';
  };
  const out: ObjectInput[] = [];
  for (const p of op.parameters) {
    if (p.in !== 'query' || !namesObject(p.name) || listedValue(spec, p.schema) !== undefined) continue;
    if (scalar(p.schema)) out.push({ name: p.name, in: 'query', schema: p.schema, example: p.raw.example });
  }
  if (op.method === 'POST') {
    for (const [name, s] of Object.entries(propertiesOf(spec, bodySchema(op)))) {
      if (namesObject(name) && listedValue(spec, s) === undefined && scalar(s))
        out.push({ name, in: 'body', schema: s });
    }
  }
  return out;
}

/** Headers that carry a credential or shape the exchange: never the caller's say of whose data it wants. */
const NOT_A_SELECTOR =
  /^(authorization|cookie|x-(api|auth|access|csrf|xsrf|request|correlation|trace|session)-)/i;

/**
 * The header inputs of a read that name a person or an account (`X-User-Id`, `X-Customer-Id`, `X-Account`): an app
 * that tells the API whose data it wants in a header it sends along with the token. Named as an input is
 * (`user_id`), the header's own name in `header`; scalars only, not those the document lists values for.
 */
export function headerInputs(spec: ApiDocument, op: Operation): ObjectInput[] {
  const out: ObjectInput[] = [];
  for (const p of op.parameters) {
    if (p.in !== 'header' || NOT_A_SELECTOR.test(p.name) || listedValue(spec, p.schema) !== undefined)
      continue;
    const name = p.name
      .replace(/^x-/i, '')
      .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
      .toLowerCase()
      .replace(/-/g, '_');
    const type = schemaType(resolveSchema(spec, p.schema));
    if (type === 'object' || type === 'array' || type === 'boolean') continue;
    if (namesObject(name) && namesPerson(name, op.path))
      out.push({ name, in: 'header', header: p.name, schema: p.schema, example: p.raw.example });
  }
  return out;
}

/** Inputs that page, sort, search or shape an answer: never an object's name. */
const SHAPING =
  /^(q|query|search|term|keywords?|page|page_?(no|num|number|size)|per_?page|limit|offset|size|count|sort(_?by)?|order(_?by)?|dir(ection)?|format|lang|locale|fields|include|expand|callback|version|v|from|to|since|until|date|month|year|type|kind|status|currency)$/i;

/**
 * Other scalar inputs of a read (query parameters, a POST read's top-level body fields) that may name an object by
 * a value its owner's list shows (`?ref=RC-88412` beside `GET /claims` listing `ref`): not named like an object
 * input, nor an input that pages, sorts, searches or shapes the answer; the caller decides by the values.
 */
export function otherInputs(spec: ApiDocument, op: Operation): ObjectInput[] {
  const fitting = (name: string, schema: JsonSchema | undefined) => {
    if (namesObject(name) || SHAPING.test(name) || listedValue(spec, schema) !== undefined) return false;
    const type = schemaType(resolveSchema(spec, schema));
    return type === undefined || type === 'string' || type === 'integer' || type === 'number';
  };
  const out: ObjectInput[] = [];
  for (const p of op.parameters) {
    if (p.in === 'query' && fitting(p.name, p.schema))
      out.push({ name: p.name, in: 'query', schema: p.schema });
  }
  if (op.method === 'POST') {
    for (const [name, s] of Object.entries(propertiesOf(spec, bodySchema(op)))) {
      if (fitting(name, s)) out.push({ name, in: 'body', schema: s });
    }
  }
  return out;
}

/**
 * An input whose ids go base64-encoded (`?id=Mg==` for user 2): its schema says so (`format: byte`/`base64`,
 * `contentEncoding: base64`), or its example is the base64 of a short id with a digit in it.
 */
export function base64Input(spec: ApiDocument, input: ObjectInput): boolean {
  const s = resolveSchema(spec, input.schema);
  if (s.format === 'byte' || s.format === 'base64' || s.contentEncoding === 'base64') return true;
  const example = input.example ?? s.example;
  if (typeof example !== 'string' || example.length % 4 !== 0 || !/^[A-Za-z0-9+/]{2,64}={0,2}$/.test(example))
    return false;
  const decoded = Buffer.from(example, 'base64').toString('utf8');
  return (
    /^[\w-]{1,40}$/.test(decoded) && /\d/.test(decoded) && Buffer.from(decoded).toString('base64') === example
  );
}

/** A person or an account named by an input (`user_id`, `uid`, `account`, `email`; a plain `id` on `/profile`). */
const PERSON = /^(user|account|member|customer|profile|owner|person|client|me|self|uid|login|email|handle)$/;

/** Whether the input names a person or an account, by its name or, for a plain `id`, by the path's entity. */
export function namesPerson(name: string, path: string): boolean {
  const m = /^([A-Za-z][\w-]*?)[_-]?(?:id|Id|ID|uuid|Uuid|no|No|num|Num|number|Number|name|Name)?$/.exec(
    name,
  );
  const stem = m ? singular(m[1]) : '';
  if (PERSON.test(stem) || /^(e_?mail|uid|login|handle)$/i.test(name)) return true;
  if (/^(id|uuid|guid|pk|no|number)$/i.test(name)) return PERSON.test(readPathEntity(path) ?? '');
  return false;
}

/** The entity an object input names (`order_id` → `order`, a plain `id` → the path's entity). */
export function objectInputEntity(name: string, path: string): string | undefined {
  if (/^(id|ids|uuid|guid|pk|no|number)$/i.test(name)) return readPathEntity(path);
  const m = /^([A-Za-z][\w-]*?)[_-]?(?:id|ids|Id|Ids|ID|IDs|uuid|Uuid|no|No|num|Num|number|Number)$/.exec(
    name,
  );
  return m ? singular(m[1]) : undefined;
}

/** By scan (its object registry), the operations API1 reported an object-level flaw on (`METHOD path`). */
const objectLevel = new WeakMap<object, Set<string>>();

/** Records that API1 reported an object-level flaw on the operation, in this scan (`scan` is its object registry). */
export function markObjectLevel(scan: object, op: Operation): void {
  let set = objectLevel.get(scan);
  if (set === undefined) {
    set = new Set();
    objectLevel.set(scan, set);
  }
  if (set.size < 5000) set.add(`${op.method} ${op.path}`);
}

/** Whether API1 reported an object-level flaw on the operation earlier in this scan. */
export function objectLevelFound(scan: object, op: Operation): boolean {
  return objectLevel.get(scan)?.has(`${op.method} ${op.path}`) === true;
}
