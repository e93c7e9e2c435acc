/**
 * Bodies the document does not describe: what an operation's body holds, read from the API's own answers.
 *
 * A served document often lists writes with no request body (handlers that read `await request.json()`,
 * Express routes without schemas). Sent without a body they are refused, create nothing, and every check that
 * needs an object or a body field tests nothing. Two sources tell what the body holds:
 *
 * 1. the API's error answers: FastAPI/pydantic's 422 `detail[]` (`loc: ["body", "title"]`, `type: "missing"`,
 *    `int_parsing`, the allowed values of an enum), express-validator's `errors[].path|param`, Joi/celebrate's
 *    `details[].path`, Django REST framework's and marshmallow's `{field: ["This field is required."]}`, and
 *    plain messages (`title is required`, `missing field 'title'`, `KeyError: 'title'`, `"servings" must be a
 *    number`, `The due date field is required.`);
 * 2. the shape of the records the API returns for the same resource (`GET /recipes/{id}` → `POST /recipes` with
 *    the same fields, less its ids, owner, timestamps, secrets and privileges).
 *
 * Pure functions: discovery (discover.ts) sends the requests and adopts a body that was answered 2xx.
 */
import { randomUUID } from 'node:crypto';
import type { ApiDocument, JsonObject, JsonSchema, Operation } from '../../core/api-document.ts';
import { propertiesOf, quietChoice, resolveSchema, SAMPLE_URL, sampleValue, schemaType } from './schema.ts';

/** What a field holds, as far as an answer says or a value shows. */
export type FieldKind =
  | 'string'
  | 'integer'
  | 'number'
  | 'boolean'
  | 'array'
  | 'object'
  | 'email'
  | 'url'
  | 'date'
  | 'date-time'
  | 'uuid';

/** One field an error answer names: missing, of the wrong kind, not one of the allowed values, or not wanted. */
export interface FieldProblem {
  readonly name: string;
  readonly missing: boolean;
  readonly kind?: FieldKind;
  readonly allowed?: readonly (string | number)[];
  readonly minLength?: number;
  /** The API refuses the field (pydantic's `extra_forbidden`, `"x" is not allowed`). */
  readonly extra?: boolean;
  /** Where below the field the problem is (`["street"]` of `address`, `[0, "qty"]` of `items`): pydantic's `loc`. */
  readonly at?: readonly (string | number)[];
  /** A list needs at least this many items (pydantic's `too_short` on a list). */
  readonly minItems?: number;
}

const FIELD = /^[A-Za-z_][\w-]{0,40}$/;
/** Words that messages put where a field name would stand, but that name the request or the caller. */
const NOT_A_FIELD =
  /^(body|request|request_?body|value|values|field|fields|parameter|parameters|param|params|input|data|payload|json|content|authentication|authorization|auth|login|it|this|that|which|what|there|one|something|everything|nothing|header|headers|query|path|id_?token|access|permission|signature|csrf|the|a|an|is|are|be|valid|integer|int|string|str|boolean|bool|float|decimal|numeric|array|list|object|dict)$/i;
const MAX_PROBLEMS = 12;
const MAX_TEXT = 4000;

/** Kind words of messages and validator types (`must be a number`, `int_parsing`, `number.base`). */
function kindOfWords(text: string): FieldKind | undefined {
  const t = text.toLowerCase();
  if (/e-?mail/.test(t)) return 'email';
  if (/\b(url|uri)\b|url_|_url|\.uri/.test(t)) return 'url';
  if (/uuid/.test(t)) return 'uuid';
  if (/datetime|date_?time|date-time|timestamp/.test(t)) return 'date-time';
  if (/\bdate\b|date_|\.date/.test(t)) return 'date';
  if (/\b(integer|int)\b|int_|\.integer|whole number/.test(t)) return 'integer';
  if (/\b(number|numeric|float|decimal|double)\b|float_|decimal_|number\./.test(t)) return 'number';
  if (/\b(boolean|bool)\b|bool_|boolean\./.test(t)) return 'boolean';
  if (/\b(array|list|tuple)\b|list_|array\./.test(t)) return 'array';
  if (/\b(object|dict|dictionary|mapping|map)\b|dict_|model_|object\./.test(t)) return 'object';
  if (/\b(string|str|text)\b|string_|string\./.test(t)) return 'string';
  return undefined;
}

/** `'a', 'b' or 'c'` (pydantic's `ctx.expected`) → the values. */
function allowedOf(text: unknown): (string | number)[] | undefined {
  if (Array.isArray(text)) {
    const out = text.filter((v): v is string | number => typeof v === 'string' || typeof v === 'number');
    return out.length > 0 ? out.slice(0, 20) : undefined;
  }
  if (typeof text !== 'string') return undefined;
  const out = [...text.slice(0, 1000).matchAll(/'([^'\n]{1,60})'/g)].map((m) => m[1]);
  return out.length > 0 ? out.slice(0, 20) : undefined;
}

type Collector = (problem: FieldProblem) => void;

/** FastAPI/pydantic (v1 and v2): `{detail: [{loc: ["body", "x"], type, msg, ctx}]}`. */
function pydantic(json: JsonObject, add: Collector): void {
  const detail = json.detail;
  if (!Array.isArray(detail)) return;
  for (const d of detail.slice(0, 40)) {
    if (d === null || typeof d !== 'object') continue;
    const { loc, msg, type, ctx } = d as Record<string, unknown>;
    if (!Array.isArray(loc) || loc.length < 2 || loc[0] !== 'body') continue;
    const name = loc[1];
    if (typeof name !== 'string') continue;
    const t = typeof type === 'string' ? type : '';
    const m = typeof msg === 'string' ? msg : '';
    const c = ctx !== null && typeof ctx === 'object' ? (ctx as Record<string, unknown>) : {};
    // A member of a nested object or list: where below the field (at most 4 levels).
    const at = loc
      .slice(2, 6)
      .filter((x): x is string | number => typeof x === 'string' || typeof x === 'number');
    if (t === 'extra_forbidden' || /extra fields not permitted|extra inputs are not permitted/i.test(m)) {
      if (at.length === 0) add({ name, missing: false, extra: true });
      continue;
    }
    const missing = t === 'missing' || t === 'value_error.missing' || /field required|missing/i.test(m);
    const allowed =
      t === 'enum' ||
      t === 'literal_error' ||
      t.startsWith('type_error.enum') ||
      /permitted|should be '/i.test(m)
        ? (allowedOf(c.expected) ?? allowedOf(c.enum_values) ?? allowedOf(c.permitted) ?? allowedOf(m))
        : undefined;
    const minLength =
      typeof c.min_length === 'number'
        ? c.min_length
        : typeof c.limit_value === 'number'
          ? c.limit_value
          : undefined;
    const kind = missing ? undefined : (kindOfWords(t) ?? kindOfWords(m));
    const tooShortList = /too_short/.test(t) && /list|items?\b/i.test(m);
    add({
      name,
      missing,
      ...(at.length > 0 ? { at } : {}),
      ...(tooShortList && minLength !== undefined ? { minItems: minLength, kind: 'array' as const } : {}),
      ...(kind ? { kind } : {}),
      ...(allowed ? { allowed } : {}),
      ...(minLength !== undefined && /too_short|min_length|at least/i.test(`${t} ${m}`) ? { minLength } : {}),
    });
  }
}

/** A field a message names, and what it says of it. */
function fromMessage(name: string, message: string, add: Collector): void {
  const m = message.slice(0, 300);
  if (/not allowed|not permitted|unknown field|unrecognized|unexpected/i.test(m)) {
    add({ name, missing: false, extra: true });
    return;
  }
  // `A valid integer is required.` (Django REST framework) names a kind, not a missing field.
  const valid = /\b(?:a )?valid ([a-z-]{2,20})\b/i.exec(m);
  const validKind = valid ? kindOfWords(valid[1]) : undefined;
  if (validKind !== undefined) {
    add({ name, missing: false, kind: validKind });
    return;
  }
  const missing =
    /required|missing|must be (provided|present|specified|given)|cannot be (blank|empty|null)|may not be (blank|empty|null)|must not be (blank|empty|null)/i.test(
      m,
    );
  const kind = missing ? undefined : kindOfWords(m.replace(name, ''));
  const allowed = /one of|must be one|valid choice|allowed values?/i.test(m)
    ? allowedOf(m.replace(/"/g, "'"))
    : undefined;
  add({
    name,
    missing,
    ...(kind ? { kind } : {}),
    ...(allowed ? { allowed: allowed.filter((v) => v !== name) } : {}),
  });
}

/** express-validator `{errors: [{path|param, msg}]}`, Joi `{details: [{path, message, type}]}`, celebrate. */
function validators(json: JsonObject, add: Collector): void {
  const lists: unknown[] = [];
  for (const key of ['errors', 'details', 'issues', 'violations']) lists.push(json[key]);
  const error = json.error;
  if (error !== null && typeof error === 'object' && !Array.isArray(error)) {
    lists.push((error as JsonObject).details, (error as JsonObject).errors, (error as JsonObject).issues);
  }
  for (const list of lists) {
    if (!Array.isArray(list)) continue;
    for (const e of list.slice(0, 40)) {
      if (e === null || typeof e !== 'object') continue;
      const r = e as Record<string, unknown>;
      if (typeof r.location === 'string' && r.location !== 'body') continue;
      const where = r.path ?? r.param ?? r.field ?? r.property ?? r.propertyPath ?? r.key;
      const name = Array.isArray(where)
        ? where[0]
        : typeof where === 'string'
          ? where.replace(/^body\./, '')
          : undefined;
      if (typeof name !== 'string' || !FIELD.test(name)) continue;
      const message = [r.msg, r.message, r.defaultMessage, r.type, r.code, r.rule]
        .filter((x): x is string => typeof x === 'string')
        .join(' ');
      fromMessage(name, message === '' ? 'required' : message.replace(/any\.required/, 'required'), add);
    }
  }
  // celebrate: `{validation: {body: {keys: ["x"], message}}}`.
  const validation = json.validation;
  if (validation !== null && typeof validation === 'object') {
    const body = (validation as JsonObject).body;
    if (body !== null && typeof body === 'object') {
      const { keys, message } = body as JsonObject;
      for (const k of Array.isArray(keys) ? keys.slice(0, 20) : []) {
        if (typeof k === 'string' && FIELD.test(k))
          fromMessage(k, typeof message === 'string' ? message : 'required', add);
      }
    }
  }
}

const MESSAGE_WORDS = /required|blank|missing|valid|null|may not|must|should|expected|allowed|choice|empty/i;

/**
 * Django REST framework, marshmallow, Rails: an object of field → messages (`{"title": ["This field is
 * required."]}`), at the top or under `errors`/`messages` (marshmallow's `messages.json`).
 */
function keyedMessages(json: JsonObject, add: Collector): void {
  const candidates: unknown[] = [json, json.errors, json.messages, json.message, json.error];
  const messages = json.messages;
  if (messages !== null && typeof messages === 'object') candidates.push((messages as JsonObject).json);
  for (const c of candidates) {
    if (c === null || typeof c !== 'object' || Array.isArray(c)) continue;
    for (const [key, v] of Object.entries(c as JsonObject).slice(0, 40)) {
      // ASP.NET names a member it could not read by its JSON path (`$.portions`).
      const name = key.replace(/^\$\./, '');
      if (
        !FIELD.test(name) ||
        NOT_A_FIELD.test(name) ||
        // Members that carry the answer's own words (`reason`, `hint`, `networkError: "ERR_INVALID_URL"`).
        /^(detail|details|error|errors|err|message|messages|msg|reason|hint|cause|status|code)$|[a-z](Error|Message|Reason)$|_(error|message|reason)$/i.test(
          name,
        )
      )
        continue;
      // Mongoose: `{title: {message: "Path \`title\` is required.", kind: "required"}}` (an object, not a list).
      const one =
        v !== null &&
        typeof v === 'object' &&
        !Array.isArray(v) &&
        typeof (v as JsonObject).message === 'string'
          ? `${(v as JsonObject).message} ${typeof (v as JsonObject).kind === 'string' ? (v as JsonObject).kind : ''}`
          : v;
      const texts = (Array.isArray(one) ? one : [one]).filter((x): x is string => typeof x === 'string');
      const text = texts.join(' ');
      if (texts.length > 0 && MESSAGE_WORDS.test(text)) fromMessage(name, text, add);
    }
  }
}

const NAME = `[A-Za-z_][\\w.-]{0,40}`;
/** Plain messages (bounded, no nested quantifiers). */
const MESSAGES: readonly { re: RegExp; kind?: 'type' | 'list' }[] = [
  {
    re: new RegExp(
      `['"\`]?(${NAME})['"\`]? (?:field |property |parameter |key )?(?:is|are) (?:a )?(?:required|missing|mandatory)`,
      'gi',
    ),
  },
  {
    re: new RegExp(
      `missing (?:required )?(?:field|property|parameter|key|attribute|value|argument)(?: for)?:? ['"\`]?(${NAME})`,
      'gi',
    ),
  },
  {
    re: new RegExp(
      `(?:field|property|parameter|key|attribute|argument) ['"\`]?(${NAME})['"\`]? (?:is )?(?:required|missing)`,
      'gi',
    ),
  },
  { re: new RegExp(`(?:field )?required:? ['"\`](${NAME})['"\`]`, 'gi') },
  { re: new RegExp(`field required:? (${NAME})`, 'gi') },
  { re: new RegExp(`keyerror:? ['"](${NAME})['"]`, 'gi') },
  // Express handlers without validation: `Cannot destructure property 'title' of 'req.body'`.
  { re: new RegExp(`cannot destructure property ['"\`](${NAME})['"\`] of ['"\`]?(?:req\\.)?body`, 'gi') },
  {
    re: new RegExp(
      `['"\`]?(${NAME})['"\`]? (?:cannot|can't|may not|must not|should not) be (?:blank|empty|null|none|undefined|missing)`,
      'gi',
    ),
  },
  {
    re: new RegExp(
      `['"\`]?(${NAME})['"\`]? (?:must|should) be (?:provided|present|specified|given|set)`,
      'gi',
    ),
  },
  // A handler that reads a member nobody sent and says so with JavaScript's `undefined` (a NestJS `@Body()` without
  // a DTO): `Unknown test action: undefined`, `Unknown debug command: undefined`, `Invalid mode = undefined`.
  {
    re: new RegExp(
      `\\b(?:unknown|invalid|unsupported|unrecogni[sz]ed|bad|no such)(?: [a-z]{1,20}){0,2}? (${NAME}) ?[:=] ?['"]?(?:undefined|null)['"]?(?![\\w.])`,
      'gi',
    ),
  },
  {
    re: /missing (?:required )?(?:fields|properties|parameters|keys|attributes|arguments):? ([\w ,'"`-]{1,200})/gi,
    kind: 'list',
  },
  {
    re: new RegExp(
      `['"\`]?(${NAME})['"\`]? (?:must be|should be|is not|expected|needs to be)(?: an?)?(?: valid)? (integer|int|number|numeric|float|decimal|boolean|bool|string|text|array|list|object|email|e-mail|url|uri|date|datetime|uuid)\\b`,
      'gi',
    ),
    kind: 'type',
  },
];

/**
 * Runtimes that say which member of the body has the wrong type: Go's `encoding/json` (`cannot unmarshal string
 * into Go struct field Recipe.portions of type int`), Jackson (`Cannot deserialize value of type \`int\` ...
 * (through reference chain: Recipe["portions"])`), System.Text.Json (`could not be converted to System.Int32.
 * Path: $.portions`).
 */
const TYPED: readonly RegExp[] = [
  new RegExp(`go struct field (?:[\\w]{1,60}\\.)?(${NAME}) of type ([\\w.]{1,40})`, 'gi'),
  new RegExp(
    `value of type \`([\\w.]{1,60})\`[^\\n]{0,300}?reference chain: [^\\n]{0,200}?\\["(${NAME})"\\]\\)`,
    'gi',
  ),
  new RegExp(`could not be converted to ([\\w.]{1,60})\\. path: \\$\\.(${NAME})`, 'gi'),
  // Mongoose: `Cast to Number failed for value "x" (type string) at path "portions"`.
  new RegExp(`cast to ([\\w.]{1,40}) failed for value [^\\n]{0,200}? at path ['"\`](${NAME})['"\`]`, 'gi'),
];

/** String leaves of an answer (bounded), for messages inside JSON (`{"error": "title is required"}`). */
function leaves(json: unknown, out: string[] = [], depth = 0): string[] {
  if (out.length >= 40 || depth > 4) return out;
  if (typeof json === 'string') out.push(json.slice(0, 500));
  else if (Array.isArray(json)) for (const v of json.slice(0, 20)) leaves(v, out, depth + 1);
  else if (json !== null && typeof json === 'object')
    for (const v of Object.values(json).slice(0, 20)) leaves(v, out, depth + 1);
  return out;
}

function typedMessages(text: string, add: Collector): void {
  for (const [i, re] of TYPED.entries()) {
    for (const m of text.matchAll(re)) {
      const [name, type] = i === 0 ? [m[1], m[2]] : [m[2], m[1]];
      const kind = kindOfWords(
        type
          .replace(/^System\./i, '')
          .replace(/^(u?int|Int)\d*$/i, 'integer')
          .replace(/^(float|double|Single|Double|Decimal)\d*$/i, 'number'),
      );
      add({ name, missing: false, ...(kind ? { kind } : {}) });
    }
  }
}

/**
 * PHP reading a form or JSON member that was not sent: `Notice: Undefined index: id in /var/www/x.php on line 4`
 * (PHP 5 and 7), `Warning: Undefined array key "id" in ...` (PHP 8). Numeric keys (`Undefined offset: 0`, `Undefined
 * array key 0`) name no field.
 */
const PHP_NOTICES: readonly RegExp[] = [
  /undefined index:\s{0,3}['"]?([A-Za-z_][\w-]{0,40})['"]?\s{1,3}in\b/gi,
  /undefined array key\s{1,3}['"]([A-Za-z_][\w-]{0,40})['"]/gi,
];

function phpNotices(text: string, add: Collector): void {
  for (const re of PHP_NOTICES) for (const m of text.matchAll(re)) add({ name: m[1], missing: true });
}

function plainMessages(message: string, add: Collector): void {
  // Laravel's spaced names first (`The due date field is required.`), taken out of the text for the others.
  const text = message.replace(/the ([a-z][a-z ]{0,40}?) field is required/gi, (_, name: string) => {
    add({ name: name.trim().replace(/ /g, '_'), missing: true });
    return '';
  });
  // Node's URL parser on a member nobody sent (`new URL(undefined)`): the whole message is `Invalid URL`.
  if (/^invalid ur[li]\.?$/im.test(text)) add({ name: 'url', missing: true, kind: 'url' });
  for (const { re, kind } of MESSAGES) {
    for (const m of text.matchAll(re)) {
      if (kind === 'list') {
        for (const part of m[1].split(/,|\band\b/)) {
          const name = part.trim().replace(/^['"`]|['"`.]$/g, '');
          if (FIELD.test(name)) add({ name, missing: true });
        }
      } else if (kind === 'type') {
        const k = kindOfWords(m[2]);
        add({ name: m[1], missing: false, ...(k ? { kind: k } : {}) });
      } else {
        add({ name: m[1], missing: true });
      }
    }
  }
}

/**
 * The fields an answer names as missing, of the wrong kind, not allowed or unwanted in the body, from the
 * validators' shapes and plain messages. One entry per name (the first says), at most 12.
 */
export function fieldProblems(json: unknown, text = ''): FieldProblem[] {
  const out = new Map<string, FieldProblem>();
  const add: Collector = (p) => {
    // `body.title`, Sequelize's `Recipe.title cannot be null`: the member is the last part.
    const name = p.name.split('.').pop() ?? p.name;
    if (!FIELD.test(name) || NOT_A_FIELD.test(name) || out.size >= MAX_PROBLEMS) return;
    const key = `${name}\0${(p.at ?? []).join('\0')}`;
    const had = out.get(key);
    // A later reading that knows more (a kind, allowed values) completes the first.
    if (had === undefined) out.set(key, { ...p, name });
    else {
      const kind = had.kind ?? p.kind;
      const allowed = had.allowed ?? p.allowed;
      out.set(key, { ...p, ...had, ...(kind ? { kind } : {}), ...(allowed ? { allowed } : {}) });
    }
  };
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const o = json as JsonObject;
    pydantic(o, add);
    validators(o, add);
    keyedMessages(o, add);
  }
  // HTML error pages quote names as entities (Werkzeug's `KeyError: &#39;title&#39;`).
  const message = (json === undefined ? text : leaves(json).join('\n'))
    .slice(0, MAX_TEXT)
    .replace(/&#0*39;|&#x0*27;|&apos;/gi, "'")
    .replace(/&quot;|&#0*34;/gi, '"');
  typedMessages(message, add);
  plainMessages(message, add);
  // PHP's notices come before the answer, JSON or not, so the raw text is read for them.
  phpNotices(text.slice(0, MAX_TEXT), add);
  return [...out.values()].map((p) =>
    p.allowed === undefined ? p : { ...p, allowed: p.allowed.length > 0 ? p.allowed : undefined },
  );
}

/** A field whose name says what it holds, when nothing else does. */
export function kindOfName(name: string): FieldKind {
  const n = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  if (/(^|_)e_?mail(_address)?$/.test(n)) return 'email';
  if (/(^|_)(url|uri|link|website|homepage|callback|webhook)$/.test(n)) return 'url';
  if (/(^|_)uuid$/.test(n)) return 'uuid';
  if (/(^|_)(date|birthday|dob|day)$|_on$/.test(n)) return 'date';
  if (/_at$|(^|_)(time|datetime|timestamp|deadline)$/.test(n)) return 'date-time';
  if (
    /^(is|has|can|should|allow|enable)_|(^|_)(enabled|active|public|private|visible|done|completed|flag)$/.test(
      n,
    )
  )
    return 'boolean';
  if (/(^|_)(ids|tags|items|list)$/.test(n)) return 'array';
  if (
    /(^|_)(id|count|quantity|qty|amount|price|total|age|year|number|num|no|size|limit|rating|score|stock|servings|seats|capacity|weight|height|width|length|duration|minutes|hours|days|points|level|priority|cost|balance|nights|guests|pages|grams|kg|ml|calories|percent|units|qty)$/.test(
      n,
    )
  )
    return 'integer';
  return 'string';
}

/** A fresh value of a kind (strings carry a unique marker, so a list can show which item is ours). */
export function valueOfKind(kind: FieldKind, minLength = 0): unknown {
  const tag = randomUUID().slice(0, 8);
  switch (kind) {
    case 'integer':
      return 1;
    case 'number':
      return 1.5;
    case 'boolean':
      return true;
    case 'array':
      return [];
    case 'object':
      return {};
    case 'email':
      return `pc${tag}@example.com`;
    case 'url':
      return SAMPLE_URL;
    case 'uuid':
      return randomUUID();
    case 'date':
      return new Date().toISOString().slice(0, 10);
    case 'date-time':
      return new Date().toISOString();
    default: {
      let v = `portcullis-${tag}`;
      while (v.length < minLength) v += 'x';
      return v;
    }
  }
}

/**
 * The field's value with the problem below it mended (`address.street` missing → `{street: "portcullis-…"}`,
 * `items[0].qty` not an integer → `[{qty: 1}]`), or `undefined` when nothing changes. Containers are made as the
 * path asks (a number: a list, a name: an object); at most 4 levels, 5 items.
 */
export function mendNested(current: unknown, p: FieldProblem, given?: unknown): unknown {
  const at = p.at ?? [];
  if (at.length === 0) return undefined;
  const root: unknown = structuredClone(current ?? (typeof at[0] === 'number' ? [] : {}));
  const holder = (v: unknown, key: string | number) =>
    typeof key === 'number' ? Array.isArray(v) : v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!holder(root, at[0])) return undefined;
  let node = root as Record<string | number, unknown>;
  for (let i = 0; i < at.length - 1; i++) {
    const key = at[i];
    if (typeof key === 'number' && key > 4) return undefined;
    if (!holder(node[key], at[i + 1])) node[key] = typeof at[i + 1] === 'number' ? [] : {};
    node = node[key] as Record<string | number, unknown>;
  }
  const leaf = at[at.length - 1];
  if (typeof leaf === 'number' && leaf > 4) return undefined;
  const name = typeof leaf === 'string' ? leaf : '';
  const value =
    given !== undefined
      ? given
      : p.allowed !== undefined && p.allowed.length > 0
        ? quietChoice(p.allowed)
        : p.kind !== undefined
          ? valueOfKind(p.kind, p.minLength)
          : p.missing
            ? valueOfKind(kindOfName(name))
            : undefined;
  if (value === undefined || JSON.stringify(node[leaf]) === JSON.stringify(value)) return undefined;
  node[leaf] = value;
  return root;
}

/** The kind a value has (a string by its looks: an e-mail, a URL, a date, a UUID). */
export function kindOfValue(value: unknown): FieldKind {
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  if (Array.isArray(value)) return 'array';
  if (value !== null && typeof value === 'object') return 'object';
  const s = String(value);
  if (/^[^@\s]{1,64}@[^@\s]{1,200}\.[a-z]{2,}$/i.test(s)) return 'email';
  if (/^https?:\/\//i.test(s)) return 'url';
  if (/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s)) return 'uuid';
  if (/^\d{4}-\d{2}-\d{2}$/.test(s)) return 'date';
  if (/^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}/.test(s)) return 'date-time';
  return 'string';
}

/** Whether a value is of the kind (an e-mail is a string; an integer is a number). */
export function valueFits(value: unknown, kind: FieldKind): boolean {
  const has = kindOfValue(value);
  if (has === kind) return true;
  if (kind === 'string') return typeof value === 'string';
  if (kind === 'number') return typeof value === 'number';
  return false;
}

/** Members of a record that are no input of a creation: its own ids, its owner, its timestamps, links. */
const NOT_INPUT =
  /^(id|_id|uuid|guid|pk|key|slug|href|links?|_links|self|url|uri|version|_v|__v|etag|rev|_rev)$|^(created|updated|modified|deleted|last_?modified|inserted)(_?(at|on|date|time|by))?$|_at$|At$|^(owner|user|author|creator|created_?by|updated_?by|seller|customer|member)([-_]?(id|no|name|username))?$/i;
/** Members an ordinary client never sets: secrets and privileges. */
const NOT_SENT =
  /pass(word)?|passwd|pwd|secret|token|hash|salt|api_?key|otp|^pin$|_pin$|^(role|roles|user_?role|is_?admin|admin|is_?staff|is_?superuser|superuser|permissions?|privileges?|scopes?|groups?|access_?level|verified|is_?verified|approved|is_?approved|balance|credits?)$/i;
/** Members whose text is free (a title, a name): a fresh marked value, not the record's. */
const FREE_TEXT =
  /name|title|description|desc$|text|body|content|comment|note|message|summary|subject|label|address|city|street|bio|about|details|remarks|caption|headline|question|answer|review|reason|memo/i;
const CODE_WORD = /^[a-z][a-z0-9_-]{0,19}$/;

/** A member whose value is free text (a title, a note): never taken from another record. */
export function freeText(name: string): boolean {
  return FREE_TEXT.test(name);
}

/** One field inferred for a body: its value and where it came from. */
export interface InferredField {
  readonly value: unknown;
  /** The value is the API's own or a listed one (an id it gave out, an allowed value): kept as the example. */
  readonly kept: boolean;
}

/**
 * The body fields a record of the same resource suggests (`GET /recipes/1` → `POST /recipes`): its plain members
 * less ids, owner, timestamps, links, secrets and privileges (at most 12). Ids of other objects (`category_id`)
 * and code words (`status: "open"`) keep the record's value; free text and formatted strings get fresh ones.
 */
export function shapeFields(record: unknown): Map<string, InferredField> {
  const out = new Map<string, InferredField>();
  if (record === null || typeof record !== 'object' || Array.isArray(record)) return out;
  for (const [name, value] of Object.entries(record as JsonObject)) {
    if (out.size >= 12) break;
    if (!FIELD.test(name) || NOT_INPUT.test(name) || NOT_SENT.test(name)) continue;
    if (value === null || value === undefined || typeof value === 'object') continue;
    if (typeof value === 'string') {
      const kind = kindOfValue(value);
      const keep = kind === 'string' && CODE_WORD.test(value) && !FREE_TEXT.test(name);
      const foreign = /(_id|Id)$/.test(name);
      out.set(name, keep || foreign ? { value, kept: true } : { value: valueOfKind(kind), kept: false });
    } else out.set(name, { value, kept: true });
  }
  return out;
}

/**
 * The body fields a documented or inferred body schema of the same resource holds (`POST /recipes`'s for
 * `PUT /recipes/{id}`), and the allowed values it lists; its privileges, secrets and read-only members left out.
 */
export function schemaFields(
  spec: ApiDocument,
  schema: JsonSchema | undefined,
): { fields: Map<string, InferredField>; allowed: Map<string, readonly (string | number)[]> } {
  const fields = new Map<string, InferredField>();
  const allowed = new Map<string, readonly (string | number)[]>();
  for (const [name, p] of Object.entries(propertiesOf(spec, schema))) {
    if (fields.size >= 12) break;
    if (p.readOnly === true || NOT_SENT.test(name) || NOT_INPUT.test(name)) continue;
    const value = sampleValue(spec, p, name);
    if (value === undefined) continue;
    const list = Array.isArray(p.enum)
      ? (p.enum as unknown[]).filter((v) => typeof v === 'string' || typeof v === 'number')
      : [];
    if (list.length > 0) allowed.set(name, list as (string | number)[]);
    fields.set(name, { value, kept: list.length > 0 || p.example !== undefined });
  }
  return { fields, allowed };
}

/** The record of a list or an item answer: the item itself, `data`, or the first item of a list. */
export function recordOf(json: unknown): JsonObject | undefined {
  let v = json;
  for (let i = 0; i < 3; i++) {
    if (Array.isArray(v)) v = v.find((x) => x !== null && typeof x === 'object' && !Array.isArray(x));
    else if (v !== null && typeof v === 'object') {
      const o = v as JsonObject;
      const inner = Object.values(o).find(
        (x) => Array.isArray(x) && x.some((y) => y !== null && typeof y === 'object'),
      );
      const wrapped = ['data', 'item', 'result', 'record']
        .map((k) => o[k])
        .find((x) => x !== null && typeof x === 'object');
      const plain = Object.values(o).filter((x) => x === null || typeof x !== 'object').length;
      if (plain >= 2) return o;
      if (wrapped !== undefined) v = wrapped;
      else if (inner !== undefined) v = inner;
      else return plain > 0 ? o : undefined;
    } else return undefined;
  }
  return undefined;
}

/** The JSON schema of a 2xx answer the document declares for an operation, when it declares one. */
export function answerSchema(op: Operation): JsonSchema | undefined {
  for (const [status, r] of Object.entries(op.responses)) {
    if (!/^2/.test(status)) continue;
    for (const [type, media] of Object.entries(r.content)) {
      if (/json/i.test(type) && media.schema !== undefined) return media.schema;
    }
  }
  return undefined;
}

/** A record sampled from the document's own schema of an answer (`Recipe` of `GET /recipes/{id}`), if any. */
export function sampledRecord(spec: ApiDocument, schema: JsonSchema | undefined): JsonObject | undefined {
  if (schema === undefined) return undefined;
  const s = resolveSchema(spec, schema);
  if (schemaType(s) === 'array') return sampledRecord(spec, s.items as JsonSchema);
  if (Object.keys(propertiesOf(spec, s)).length === 0) return undefined;
  return recordOf(sampleValue(spec, s));
}

/** The JSON schema of an inferred body (`x-portcullis-inferred` says where it came from). */
export function inferredSchema(
  fields: ReadonlyMap<string, InferredField>,
  allowed: ReadonlyMap<string, readonly (string | number)[]>,
  from: string,
  own: ReadonlyMap<string, string> = new Map(),
): JsonObject {
  const properties: JsonObject = {};
  for (const [name, f] of fields) {
    const kind = kindOfValue(f.value);
    const type =
      kind === 'integer' || kind === 'number' || kind === 'boolean' || kind === 'array' || kind === 'object'
        ? kind
        : 'string';
    const p: JsonObject = { type };
    const format = { email: 'email', url: 'uri', uuid: 'uuid', date: 'date', 'date-time': 'date-time' }[
      kind as string
    ];
    if (format !== undefined) p.format = format;
    if (type === 'array') p.items = {};
    // The allowed values an answer listed; a string the API gave out (an id of another object, a code word such
    // as `status: "open"`) as the one value known to be taken, so that no check swaps it for a marker.
    const login = own.get(name);
    const list = allowed.get(name);
    if (list !== undefined) p.enum = [...list];
    else if (type === 'string' && f.kept && login === undefined) p.enum = [f.value];
    // A fresh marked string is sampled again for each request; a value the API gave (or listed) is kept.
    if (f.kept || type !== 'string') p.example = f.value;
    if (login !== undefined) p['x-portcullis-own'] = login;
    properties[name] = p;
  }
  return { type: 'object', properties, required: [...fields.keys()], 'x-portcullis-inferred': from };
}

/**
 * Gives an operation the body inferred for it, as if its document had declared it: every later request and check
 * (injection, mass assignment, object-level checks) reads it from `requestBody`. The document is the scan's own
 * copy, loaded for this run.
 */
export function adoptBody(op: Operation, schema: JsonObject, form = false): void {
  (op as { requestBody: Operation['requestBody'] }).requestBody = {
    required: true,
    content: { [form ? FORM : 'application/json']: { schema } },
  };
}

/** The media type of a form-encoded body. */
export const FORM = 'application/x-www-form-urlencoded';

/** Where an operation's body came from when the scan inferred it (`undefined` for a documented one). */
export function inferredFrom(op: Operation): string | undefined {
  for (const media of Object.values(op.requestBody?.content ?? {})) {
    const schema = media.schema;
    if (schema === undefined || typeof schema === 'boolean') continue;
    const from = schema['x-portcullis-inferred'];
    if (typeof from === 'string') return from;
  }
  return undefined;
}
