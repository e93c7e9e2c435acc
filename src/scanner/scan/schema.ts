/** Just enough JSON Schema for the scanner: resolve refs, sample valid values, list declared properties. */
import { randomUUID } from 'node:crypto';
import type { ApiDocument, JsonObject, JsonSchema } from '../../core/api-document.ts';
import { sampleForPattern } from './pattern-sample.ts';

const MAX_DEPTH = 6;

/** Names whose values must be unique per request (sign-up forms). */
const UNIQUE_NAME = /^(user_?name|login|handle|slug|nick(name)?|email|e_?mail)$/i;
/** Names of e-mail inputs that declare no format: the API validates them as addresses all the same. */
const EMAIL_NAME = /^(e_?mail|mail)(_?address)?$|[_-]e_?mail$|[a-z]Email$/i;
/**
 * Optional properties that grant privileges: a plain creation leaves them out (the API's default applies),
 * so it never asks for more than an ordinary client would; the mass-assignment probes set them on purpose.
 */
const PRIVILEGED_NAME =
  /^(role|roles|user_?role|is_?admin|admin|is_?staff|is_?superuser|superuser|permissions?|privileges?|scopes?|groups?|access_?level)$/i;
/**
 * Optional lists of the people a new object is shared with or handed to (`contributors_ids`, `member_ids`,
 * `collaborators`, `shared_with`, `assignees`): a plain creation leaves them out, as it does privileges. Sampled,
 * they name user 1 (an integer's minimum), on a real deployment often the first account or the admin, who then gets
 * the object; and a check that reads it as another identity takes that access for a flaw (seen on a third-party API:
 * bob's new project listed alice, user 1, as a contributor).
 */
const ACCESS_LIST_NAME =
  /^(shared?_?with|(contributor|member|collaborator|participant|assignee|invitee|viewer|editor|reviewer|watcher|subscriber|follower|recipient|user|people|person|team_?member)s?_?(ids|list)|(contributor|member|collaborator|participant|assignee|invitee|viewer|editor|reviewer|watcher|subscriber|recipient)s)$/i;
/** Names of a date of birth: a sample of today is refused by every minimum age. */
const BIRTH_NAME = /birth|^dob$|_dob$|^born/i;
/** The date of birth a sample gives: an adult's. */
const BIRTH_DATE = '1990-01-01';

/**
 * Path words of a request that changes something (`/users/{id}/delete`, `/cards/{id}/freeze`, `/orders/{id}/pay`),
 * the operational ones too (`/devices/reboot`, `/jobs/{id}/stop`, `/alerts/{id}/ack`, `/keys/{id}/rotate`):
 * the one list of verbs of change, for discovery, the planner, the runner's safety rule and the sampled enum value.
 */
export const ACTING =
  /^(delete|remove|destroy|purge|drop|wipe|erase|clear|ban|unban|block|unblock|kick|lock|unlock|suspend|unsuspend|disable|enable|activate|deactivate|approve|accept|reject|decline|reset|promote|demote|grant|revoke|logout|signout|cancel|close|reopen|terminate|expire|void|transfer|pay|charge|checkout|refund|withdraw|toggle|freeze|unfreeze|set|update|change|edit|archive|restore|kill|run|exec|execute|send|confirm|verify|unsubscribe|leave|mark|settle|ship|fulfil|fulfill|dispatch|finalize|finalise|assign|unassign|publish|unpublish|stop|start|restart|reboot|shutdown|power|poweroff|poweron|powercycle|pause|unpause|resume|retry|rerun|trigger|deploy|redeploy|undeploy|rollback|scale|migrate|abort|halt|interrupt|snooze|mute|unmute|silence|ack|acknowledge|escalate|rotate|regenerate|provision|deprovision|install|uninstall|upgrade|downgrade|flush|empty|dismiss|wake|sleep|reload|rebuild|reprocess|replay)([-_].*)?$/i;

/** States a change leaves an object in (`deleted`, `disabled`, `banned`, `cancelled`): a value that sets one acts. */
const CHANGED_STATE =
  /^(deleted|removed|destroyed|purged|dropped|wiped|erased|cleared|banned|blocked|kicked|locked|suspended|disabled|deactivated|inactive|rejected|declined|revoked|cancell?ed|closed|terminated|expired|voided|refunded|withdrawn|archived|frozen|unsubscribed|trashed|trash|unpublished|hidden)$/i;

/**
 * States a change grants (`approved`, `paid`, `verified`, `shipped`): an event or a status that says one was reached
 * (`listing.approved`, `invoice.paid`) makes the API act on the object it names, as a payment provider's word does.
 */
const GRANTED_STATE =
  /^(approved|accepted|paid|completed?|succeeded|successful|confirmed|captured|settled|fulfill?ed|verified|granted|published|shipped|delivered|activated|promoted|authori[sz]ed|resolved|released|unlocked|unblocked|unbanned|charged|transferred|redeemed|upgraded|restored|reopened|assigned|merged|elevated)$/i;

/** A value's words: camelCase and `-`, `_`, `.`, `:`, `/` or spaces apart (at most 64 characters, else none). */
function valueWords(value: unknown): string[] {
  if (typeof value !== 'string' || value.length > 64) return [];
  return value
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .split(/[-_\s.:/]+/)
    .filter((w) => w !== '');
}

/**
 * A listed value that names a change or the state one leaves (`delete`, `soft_delete`, `markPaid`, `disabled`), or
 * an event that says one was granted (`listing.approved`, `invoice.paid`: a granted state beside other words). A bare
 * granted state (`paid`) is a filter's value as often as a new state: stateActs reads it where it sets one.
 */
export function namesChange(value: unknown): boolean {
  const words = valueWords(value);
  return words.some(
    (w) => ACTING.test(w) || CHANGED_STATE.test(w) || (words.length > 1 && GRANTED_STATE.test(w)),
  );
}

/** A value with a word of a state a change grants, bare or in an event (`approved`, `invoice.paid`, `Shipped`). */
export function grantsState(value: unknown): boolean {
  return valueWords(value).some((w) => GRANTED_STATE.test(w));
}

/**
 * The value a sample takes from a list (an enum): the first that names no change (`export` of `[delete, archive,
 * export]`, `active` of `[disabled, active]`, `listing.flagged` of `[listing.approved, listing.flagged]`), else the
 * first. A plain request then asks for what an ordinary
 * client would, and discovery does not delete, archive or disable what it only meant to reach.
 */
export function quietChoice<T>(values: readonly T[]): T | undefined {
  return values.find((v) => !namesChange(v)) ?? values[0];
}

/**
 * The URL a sample sends: a host under `.invalid` (RFC 6761 §6.4: never resolves), so an API that fetches what it
 * is given reaches nowhere outside the machine during a scan the user did not ask to reach out. The SSRF checks
 * send their own loopback canary URLs.
 */
export const SAMPLE_URL = 'https://portcullis.invalid/';
/** A host name of the same kind. */
export const SAMPLE_HOST = 'portcullis.invalid';
/** Placeholder hosts of RFC 2606 (`example.com`, `www.example.org`): real hosts that answer, never meant to be fetched. */
const PLACEHOLDER_URL = /^(https?:)?\/\/([\w-]+\.)*example\.(com|org|net)(?=[:/?#]|$)/i;

/**
 * A document's example URL on a placeholder host (`https://example.com/avatar.png`) with its host replaced by the
 * sample's `.invalid` one (path kept); any other value as it is.
 */
export function withoutPlaceholderHost(value: unknown): unknown {
  return typeof value === 'string' && PLACEHOLDER_URL.test(value)
    ? value.replace(PLACEHOLDER_URL, (m) => `${m.startsWith('http:') ? 'http:' : 'https:'}//${SAMPLE_HOST}`)
    : value;
}

/** Follows local `$ref`s and merges `allOf`, so callers see one plain object schema. */
export function resolveSchema(spec: ApiDocument, schema: JsonSchema | undefined, depth = 0): JsonObject {
  if (schema === undefined || typeof schema === 'boolean' || depth > MAX_DEPTH) return {};
  let s: JsonObject = schema;
  for (let i = 0; i < 10 && typeof s.$ref === 'string'; i++) {
    const target = spec.resolve(s.$ref);
    if (target === null || typeof target !== 'object') return {};
    s = target as JsonObject;
  }
  if (Array.isArray(s.allOf)) {
    const merged: JsonObject = { ...s, properties: { ...(s.properties as JsonObject | undefined) } };
    delete merged.allOf;
    const required = new Set<string>(Array.isArray(s.required) ? (s.required as string[]) : []);
    for (const part of s.allOf as JsonSchema[]) {
      const r = resolveSchema(spec, part, depth + 1);
      Object.assign(merged.properties as JsonObject, r.properties ?? {});
      for (const name of (r.required as string[] | undefined) ?? []) required.add(name);
      if (r.type !== undefined && merged.type === undefined) merged.type = r.type;
      if (r.additionalProperties !== undefined) merged.additionalProperties = r.additionalProperties;
    }
    merged.required = [...required];
    return merged;
  }
  const alt = (s.oneOf ?? s.anyOf) as JsonSchema[] | undefined;
  if (Array.isArray(alt) && alt.length > 0 && s.properties === undefined)
    return resolveSchema(spec, alt[0], depth + 1);
  return s;
}

/** The schema's type, reading 3.1 type arrays (`[string, 'null']`) as their first non-null member. */
export function schemaType(s: JsonObject): string | undefined {
  if (typeof s.type === 'string') return s.type;
  if (Array.isArray(s.type)) return (s.type as string[]).find((t) => t !== 'null');
  if (s.properties !== undefined) return 'object';
  if (s.items !== undefined) return 'array';
  return undefined;
}

/** Declared properties of an object schema (empty when it declares none). */
export function propertiesOf(spec: ApiDocument, schema: JsonSchema | undefined): Record<string, JsonObject> {
  const s = resolveSchema(spec, schema);
  const out: Record<string, JsonObject> = {};
  for (const [name, sub] of Object.entries((s.properties as JsonObject | undefined) ?? {})) {
    out[name] = resolveSchema(spec, sub as JsonSchema);
  }
  return out;
}

function firstExample(s: JsonObject): unknown {
  if (s.example !== undefined) return withoutPlaceholderHost(s.example);
  if (Array.isArray(s.examples) && s.examples.length > 0) return withoutPlaceholderHost(s.examples[0]);
  if (s.const !== undefined) return s.const;
  if (s.default !== undefined) return s.default;
  if (Array.isArray(s.enum) && s.enum.length > 0) return quietChoice(s.enum);
  return undefined;
}

function sampleString(s: JsonObject, name: string): string {
  const suffix = randomUUID().slice(0, 8);
  switch (s.format) {
    case 'email':
    case 'idn-email':
      return `pc${suffix}@example.com`;
    case 'uri':
    case 'url':
    case 'iri':
      return SAMPLE_URL;
    case 'uuid':
      return randomUUID();
    case 'date-time':
      return BIRTH_NAME.test(name) ? `${BIRTH_DATE}T00:00:00Z` : new Date().toISOString();
    case 'date':
      return BIRTH_NAME.test(name) ? BIRTH_DATE : new Date().toISOString().slice(0, 10);
    case 'ipv4':
      return '192.0.2.1';
    case 'ipv6':
      return '2001:db8::1';
    case 'hostname':
      return SAMPLE_HOST;
    case 'password':
      return `Pc-${suffix}-pw1!`;
    default:
      if (EMAIL_NAME.test(name) && s.pattern === undefined) return `pc${suffix}@example.com`;
      break;
  }
  const min = typeof s.minLength === 'number' ? s.minLength : 0;
  const max = typeof s.maxLength === 'number' ? s.maxLength : 64;
  let value = UNIQUE_NAME.test(name) ? `pc${suffix}` : `portcullis-${suffix}`;
  while (value.length < min) value += 'x';
  value = value.slice(0, Math.max(max, 1));
  // A declared pattern the usual value does not meet (`^20[2-9][0-9]$` for a year): a value built from it.
  if (typeof s.pattern === 'string' && !accepts(s.pattern, value)) {
    const fitted = sampleForPattern(s.pattern);
    if (fitted !== undefined && fitted.length >= min && fitted.length <= max) return fitted;
  }
  return value;
}

/** Whether the document's own pattern accepts one of our values (a pattern that does not compile: no). */
function accepts(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(value);
  } catch {
    return false;
  }
}

/**
 * A value that satisfies the schema as far as the scanner can tell: an example when one is given (except for
 * names that must be unique), else one built from type, format and bounds. `readOnly` properties are left out.
 */
export function sampleValue(
  spec: ApiDocument,
  schema: JsonSchema | undefined,
  name = '',
  depth = 0,
): unknown {
  const s = resolveSchema(spec, schema, depth);
  const example = firstExample(s);
  if (example !== undefined && !UNIQUE_NAME.test(name)) return example;
  const type = schemaType(s);
  switch (type) {
    case 'string':
      return sampleString(s, name);
    case 'integer':
    case 'number': {
      const min =
        typeof s.minimum === 'number'
          ? s.minimum
          : typeof s.exclusiveMinimum === 'number'
            ? s.exclusiveMinimum + 1
            : 1;
      return type === 'integer' ? Math.ceil(min) : min;
    }
    case 'boolean':
      return true;
    case 'array': {
      if (depth >= MAX_DEPTH) return [];
      const count = typeof s.minItems === 'number' ? Math.max(1, s.minItems) : 1;
      return Array.from({ length: Math.min(count, 5) }, () =>
        sampleValue(spec, s.items as JsonSchema, name, depth + 1),
      );
    }
    case 'object': {
      if (depth >= MAX_DEPTH) return {};
      const out: Record<string, unknown> = {};
      const required = new Set(Array.isArray(s.required) ? (s.required as string[]) : []);
      for (const [prop, sub] of Object.entries(propertiesOf(spec, s))) {
        if (sub.readOnly === true) continue;
        if ((PRIVILEGED_NAME.test(prop) || ACCESS_LIST_NAME.test(prop)) && !required.has(prop)) continue;
        out[prop] = sampleValue(spec, sub, prop, depth + 1);
      }
      return out;
    }
    default:
      return example ?? `portcullis-${randomUUID().slice(0, 8)}`;
  }
}

/**
 * Where a body keeps its record's fields: the path of members from the body to the object that holds them.
 * Empty for a flat body (`{"email": ..., "password": ...}`); `['data', 'attributes']` for a JSON:API document
 * (`{"data": {"type": "users", "attributes": {...}}}`); `['user']` for Rails-style params (`{"user": {...}}`);
 * `['data']`, `['item']`, `['record']` and the like for an object wrapped in one member.
 */
export type Envelope = readonly string[];

/** Members of a JSON:API resource object beside its `attributes`. */
const RESOURCE_MEMBER = /^(type|id|lid|relationships|links|meta)$/;
/** Members of a top-level document beside its one wrapped record (JSON:API's and common envelopes'). */
const DOCUMENT_MEMBER = /^(links|meta|included|jsonapi|success|ok|status|message)$/;
const MAX_ENVELOPE = 3;

function plainObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/**
 * One step into a record envelope, from the members an object has (and whether each holds an object): its
 * `attributes` when every other member is a JSON:API resource member, else its only member that holds an object
 * (at the top, beside JSON:API document members only) when it has no other member.
 */
function envelopeStep(members: ReadonlyMap<string, boolean>, top: boolean): string | undefined {
  if (
    members.get('attributes') === true &&
    [...members.keys()].every((k) => k === 'attributes' || RESOURCE_MEMBER.test(k))
  )
    return 'attributes';
  const rest = [...members.keys()].filter(
    (k) => !(top && DOCUMENT_MEMBER.test(k) && ((k !== 'status' && k !== 'message') || !members.get(k))),
  );
  return rest.length === 1 && members.get(rest[0]) === true ? rest[0] : undefined;
}

/** The record envelope of a body or answer value (see Envelope). */
export function envelopeOf(body: unknown): Envelope {
  const path: string[] = [];
  let cur = body;
  while (path.length < MAX_ENVELOPE && plainObject(cur)) {
    const members = new Map(Object.entries(cur).map(([k, v]) => [k, plainObject(v)] as const));
    const step = envelopeStep(members, path.length === 0);
    if (step === undefined) break;
    path.push(step);
    cur = cur[step];
  }
  return path;
}

/** The record envelope a body schema declares (see Envelope), read from its properties. */
export function schemaEnvelope(spec: ApiDocument, schema: JsonSchema | undefined): Envelope {
  const path: string[] = [];
  let props = propertiesOf(spec, schema);
  while (path.length < MAX_ENVELOPE) {
    const members = new Map(
      Object.entries(props).map(
        ([k, s]) => [k, schemaType(s) === 'object' && s.properties !== undefined] as const,
      ),
    );
    const step = envelopeStep(members, path.length === 0);
    if (step === undefined) break;
    path.push(step);
    props = propertiesOf(spec, props[step]);
  }
  return path;
}

/** The declared properties of the record a body schema holds (its envelope's, see schemaEnvelope). */
export function recordProperties(
  spec: ApiDocument,
  schema: JsonSchema | undefined,
): Record<string, JsonObject> {
  let s: JsonSchema | undefined = schema;
  for (const step of schemaEnvelope(spec, schema)) s = propertiesOf(spec, s)[step];
  return propertiesOf(spec, s);
}

/** The fields at `envelope` in a body (an empty object when nothing is there). */
export function fieldsAt(body: unknown, envelope: Envelope): Record<string, unknown> {
  let cur = body;
  for (const step of envelope) cur = plainObject(cur) ? cur[step] : undefined;
  return plainObject(cur) ? cur : {};
}

/** The record fields of a body or answer: those at its own envelope (envelopeOf). */
export function recordFields(body: unknown): Record<string, unknown> {
  return fieldsAt(body, envelopeOf(body));
}

/** A copy of `body` with `fields` set at `envelope` (the members around them kept). */
export function withFields(
  body: Readonly<Record<string, unknown>>,
  envelope: Envelope,
  fields: Readonly<Record<string, unknown>>,
): Record<string, unknown> {
  if (envelope.length === 0) return { ...body, ...fields };
  const [head, ...rest] = envelope;
  const inner = plainObject(body[head]) ? body[head] : {};
  return { ...body, [head]: withFields(inner, rest, fields) };
}
