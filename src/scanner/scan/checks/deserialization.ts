/**
 * Insecure deserialisation (API8): cookies the API itself set whose value is a serialised object (base64 or
 * URL-encoded JSON) are sent back with one member replaced by a function-serialisation canary, the way
 * `node-serialize` revives functions (`_$$ND_FUNC$$_function(){...}()`). The canary only returns a string
 * computed on the server (`'pcx'+(6*7)+'z'`): `pcx42z` in the answer, absent from the request, proves that the
 * server ran code it read from the cookie. Nothing else is run; at most `MAX_PROBES` requests. The identities' own
 * cookies and a bearer token that is such an object (base64 JSON in the header that carries it) go the same way.
 * Where no answer shows the result, one member of the probe's own, `pcx`, holds a function that only busy-waits
 * the time delay: slower than the same function waiting 0 ms by 80% of the delay, twice, with a 0 ms one in
 * between answering faster, proves the revival (two reads at most, declared secured ones first).
 *
 * Python pickles (`pickles`): a cookie or a JSON member the API gave out that holds a base64 pickle, an input
 * named like one of those members, an input whose description says pickled or serialised, a base64 input named
 * like saved state (`state`, `session`, `blob`), raw `application/octet-stream` or pickle bodies, and raw text
 * bodies (text/plain, `*\/*`) that hold base64 (`format: byte`, a base64 example, a description that says base64
 * or serialised, or an operation that restores, imports or loads saved state) get the probe's own pickles
 * (`pickle.ts`, protocol 0; base64 in a text body): the data the API gave out (or a dict of common names, or a
 * bare value) with every string replaced by `operator.add('pcx4', '2z')`. `pcx42z` in the answer proves that
 * loading ran the call. Where nothing comes back, a pickle calling `time.sleep` for the time-based delay, slower
 * than two `sleep(0)` pickles by 80% of it, twice, with a `sleep(0)` in between answering faster. Where neither
 * proves it, an answer to one of these pickles that quotes an unsafe loader's call (a stack trace naming
 * `pickle.loads`, `yaml.load`, `ObjectInputStream`, `unserialize`, `Marshal.load`, `BinaryFormatter`) is a sign,
 * reported at high severity and medium confidence: the input reaches a loader, which did not run the call.
 *
 * Uploaded files get the same treatment in YAML, which unsafe loaders (PyYAML's `UnsafeLoader`, `yaml.load` of
 * old) turn into Python calls: a file part set to `!!python/object/apply:operator.add ["pcx4", "2z"]` comes
 * back as `pcx42z` only when the loader called the function (the request holds the two halves, never the whole).
 */
import type { Operation } from '../../../core/api-document.ts';
import { FilePart, type ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { changesAccount, changesOwnAccount, setsPassword } from '../discover.ts';
import { setCookies } from '../login.ts';
import {
  isCreationOperation,
  isExcluded,
  isLoginOperation,
  type PlannedRequest,
  planRequest,
  requestBody,
  requiresAuth,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, sampleValue } from '../schema.ts';
import { cookiesOf, tokenCarrier } from './cookies.ts';
import { creationSweep, creators, delayed } from './injection.ts';
import { addCall, type PickledValue, pickleIn, pickleWith, readPickle, sleepPickle } from './pickle.ts';
import { selfUpload } from './upload.ts';

const CANARY = "_$$ND_FUNC$$_function(){return 'pcx'+(6*7)+'z'}()";
const PROOF = 'pcx42z';
const MAX_COOKIES = 3;
const MAX_MEMBERS = 3;
const MAX_PROBES = 30;

/** A cookie value that holds a serialised object, and how to write an object back the same way. */
export interface SerialisedValue {
  readonly object: Record<string, unknown>;
  encode(object: Record<string, unknown>): string;
}

function jsonObject(text: string): Record<string, unknown> | undefined {
  const t = text.trim();
  if (!t.startsWith('{') || t.length > 4096) return undefined;
  try {
    const v = JSON.parse(t);
    return v !== null && typeof v === 'object' && !Array.isArray(v)
      ? (v as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/** A base64 (standard or URL-safe) or URL-encoded JSON object in a cookie value; anything else: undefined. */
export function serialisedCookie(value: string): SerialisedValue | undefined {
  let decoded = value;
  try {
    decoded = decodeURIComponent(value);
  } catch {
    // keep it as sent
  }
  const plain = jsonObject(decoded);
  if (plain) return { object: plain, encode: (o) => encodeURIComponent(JSON.stringify(o)) };
  if (!/^[A-Za-z0-9+/_-]{8,}={0,2}$/.test(decoded)) return undefined;
  const urlSafe = /[-_]/.test(decoded);
  const object = jsonObject(Buffer.from(decoded, urlSafe ? 'base64url' : 'base64').toString('utf8'));
  if (!object) return undefined;
  return {
    object,
    encode: (o) => {
      const b64 = Buffer.from(JSON.stringify(o)).toString(urlSafe ? 'base64url' : 'base64');
      return value === decoded ? b64 : encodeURIComponent(b64);
    },
  };
}

/** The cookies the API set during the scan (any answer, any identity), by name, first value kept. */
function cookiesSeen(ctx: ScanContext): Map<string, { value: string; op?: Operation; as?: string }> {
  const out = new Map<string, { value: string; op?: Operation; as?: string }>();
  // The identities' own cookies (a jar given as a header, or one a login set) and their tokens (below) too.
  for (const i of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])])
    for (const [name, value] of cookiesOf(i))
      if (!out.has(name) && serialisedCookie(value) !== undefined) out.set(name, { value, as: i.name });
  for (const o of ctx.observations) {
    for (const [name, value] of setCookies(o.response)) {
      if (!out.has(name) && serialisedCookie(value) !== undefined) {
        out.set(name, {
          value,
          ...(o.operation ? { op: o.operation } : {}),
          ...(o.identity ? { as: o.identity } : {}),
        });
      }
    }
  }
  return out;
}

export async function deserialization(ctx: ScanContext): Promise<void> {
  await serialisedCookies(ctx);
  await pickles(ctx);
}

/** A serialised object the API reads back from the caller: a cookie, or the token of a request header. */
interface SerialisedPlace {
  readonly what: 'cookie' | 'token';
  /** The cookie's name, or the header's. */
  readonly name: string;
  readonly value: string;
  readonly setter?: Operation;
  readonly as: Identity | null;
}

function serialisedPlaces(ctx: ScanContext): SerialisedPlace[] {
  const everyone = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  const out: SerialisedPlace[] = [...cookiesSeen(ctx)].slice(0, MAX_COOKIES).map(([name, v]) => ({
    what: 'cookie' as const,
    name,
    value: v.value,
    ...(v.op ? { setter: v.op } : {}),
    as: everyone.find((i) => i.name === v.as) ?? null,
  }));
  // A bearer token that is a serialised object (base64 JSON), the first identity's that holds one.
  for (const i of everyone) {
    const c = tokenCarrier(i);
    const [name, value] = c ? [...c.values][0] : [];
    if (name === undefined || value === undefined || serialisedCookie(value) === undefined) continue;
    out.push({ what: 'token', name, value, as: i });
    break;
  }
  return out;
}

/** The place's request: A's cookies (or token) with `value` in the place's stead. */
function withValue(
  req: PlannedRequest,
  p: SerialisedPlace,
  value: string,
): { req: PlannedRequest; as: Identity | null } {
  if (p.what === 'token' && p.as) {
    const c = tokenCarrier(p.as);
    if (c) return { req, as: c.as(new Map([[p.name, value]]), `serialised ${p.name}`) };
  }
  const jar = new Map(p.as?.session.cookies ?? []);
  jar.set(p.name, value);
  const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
  return { req: { ...req, headers: { ...req.headers, cookie } }, as: p.as };
}

/** A node-serialize function that busy-waits `ms` milliseconds and returns nothing: a delay, nothing else. */
const waitCanary = (ms: number) => `_$$ND_FUNC$$_function(){var t=Date.now()+${ms};while(Date.now()<t){}}()`;

async function serialisedCookies(ctx: ScanContext): Promise<void> {
  const places = serialisedPlaces(ctx);
  if (places.length === 0) return;
  let probes = 0;
  for (const place of places) {
    const { name, value, setter, as } = place;
    const parsed = serialisedCookie(value);
    if (!parsed) continue;
    // Where the cookie is read back: the operation that set it first, then reads without parameters.
    const reads = ctx.spec.operations.filter(
      (o) => o.method === 'GET' && !isExcluded(o) && !o.path.includes('{') && o !== setter,
    );
    const ops = [...(setter && setter.method === 'GET' ? [setter] : []), ...reads].slice(0, 6);
    const members = Object.entries(parsed.object)
      .filter(([, v]) => typeof v === 'string')
      .slice(0, MAX_MEMBERS);
    for (const [member] of members) {
      const cookieValue = parsed.encode({ ...parsed.object, [member]: CANARY });
      for (const op of ops) {
        if (probes++ >= MAX_PROBES || ctx.signal.aborted) return;
        const sent = withValue(
          planRequest(ctx.spec, op, ctx.objects, as ? { owner: as.name } : {}),
          place,
          cookieValue,
        );
        const res: ScanResponse | undefined = await ctx.send(sent.req, sent.as);
        if (!res?.text.includes(PROOF) || res.sent.url.includes(PROOF)) continue;
        ctx.report(SCAN_RULES.insecureDeserialization, {
          operation: op,
          key: `${place.what}:${name}`,
          message: `${op.method} ${op.path} ran code read from the ${place.what === 'cookie' ? `cookie ${name}` : `token of the ${name} header`}: its member ${member} set to a serialised function (${CANARY}) came back as its result, ${PROOF} (status ${res.status}).`,
          evidence: evidenceOf(res, {
            [place.what === 'cookie' ? 'cookie' : 'header']: name,
            member,
            canary: CANARY,
          }),
        });
        return;
      }
    }
    // Nothing came back: a member of the probe's own holding a function that only waits, against the same
    // function waiting 0 ms (the control), at the first read the original value passes.
    if (await timedFunction(ctx, place, parsed, ops)) return;
  }
}

/**
 * The time-based node-serialize probe: the object with one more member, `pcx`, holding a function that busy-waits
 * the time delay; slower than two answers to the same object waiting 0 ms by 80% of the delay, twice, with a 0 ms
 * one in between answering faster (see delayed). The member is new, so the object still names whom it named.
 */
async function timedFunction(
  ctx: ScanContext,
  place: SerialisedPlace,
  parsed: SerialisedValue,
  ops: readonly Operation[],
): Promise<boolean> {
  const payload = (ms: number) => parsed.encode({ ...parsed.object, pcx: waitCanary(ms) });
  // Reads that declare security first: the ones that read the credential.
  const ordered = [...ops].sort((x, y) => Number(requiresAuth(y)) - Number(requiresAuth(x)));
  for (const op of ordered.slice(0, 2)) {
    if (ctx.signal.aborted) return false;
    const req = planRequest(ctx.spec, op, ctx.objects, place.as ? { owner: place.as.name } : {});
    const send = (value: string) => {
      const sent = withValue(req, place, value);
      return ctx.send(sent.req, sent.as);
    };
    const plain = await send(place.value);
    if (!isSuccess(plain)) continue;
    const quick = [await send(payload(0)), await send(payload(0))];
    if (quick.some((r) => r === undefined)) continue;
    const baselineMs = Math.max(...quick.map((r) => r!.durationMs));
    if (baselineMs > 300) continue;
    const slow = await delayed({ send }, payload(ctx.timeDelayMs), payload(0), baselineMs, ctx.timeDelayMs);
    if (!slow) continue;
    const where = place.what === 'cookie' ? `cookie ${place.name}` : `token of the ${place.name} header`;
    ctx.report(SCAN_RULES.insecureDeserialization, {
      operation: op,
      key: `${place.what}:${place.name}`,
      message: `${op.method} ${op.path} ran code read from the ${where}: a member added to its serialised object holding a function that waits ${ctx.timeDelayMs} ms (${waitCanary(ctx.timeDelayMs)}) delayed the answer twice (${Math.round(slow.durationMs)} ms against ${Math.round(baselineMs)} ms), the same function waiting 0 ms did not.`,
      evidence: evidenceOf(slow, {
        [place.what === 'cookie' ? 'cookie' : 'header']: place.name,
        member: 'pcx',
        canary: waitCanary(ctx.timeDelayMs),
        baselineMs: Math.round(baselineMs),
      }),
    });
    return true;
  }
  return false;
}

/** Where a pickle goes: a cookie, a body member, a query parameter, or the whole raw body. */
interface PickleInput {
  readonly op: Operation;
  readonly in: 'cookie' | 'json' | 'form' | 'query' | 'body';
  /** The cookie, member or parameter; the content type for a raw body. */
  readonly name: string;
  /** The data a pickle the API gave out under this name held, when it held plain data. */
  readonly observed?: PickledValue;
  /** URL-safe base64 (the API's own pickle was). */
  readonly urlSafe?: boolean;
  /** Who sends it: a cookie goes back as the identity it was set for. */
  readonly senders: readonly (Identity | null)[];
  /** A raw body that holds base64 (text/plain): the pickle goes base64-encoded. */
  readonly base64?: boolean;
}

const PICKLE_PROSE = /pickl|seriali[sz]|marshal/i;
const STATE_NAME =
  /pickle|serial|state|session|blob|dump|snapshot|payload|object|b64|base64|encoded|backup|cache/i;
const RAW_PICKLE = /octet-stream|pickle/i;
/** Raw text bodies that may hold base64: text/plain and other text, a declared base64, or any type. */
const TEXT_BODY = /^text\/|^\*\/\*$|base64/i;
const BASE64_PROSE = /base-?64|pickl|seriali[sz]|marshal|encoded/i;
/** Operations that take saved state back: a restore, an import, a load, a resume. */
const RESTORE_WORDS =
  /restore|import|resume|reload|(^|[^a-z])load|rehydrat|unpack|snapshot|saved[ _-]?state/i;
/**
 * An unsafe loader's call quoted in an answer (a stack trace, an error): Python's pickle (and dill, jsonpickle),
 * PyYAML's load without a safe loader, Java's ObjectInputStream, PHP's unserialize, Ruby's Marshal.load, .NET's
 * BinaryFormatter. Line by line, each line bounded: see unsafeLoader.
 */
const UNSAFE_LOADER =
  /\b(c?pickle|dill|_pickle)\.loads?\(|\bjsonpickle\.decode\(|\byaml\.(unsafe_)?load(_all)?\(|\bObjectInputStream\b|\bunserialize\(|\bMarshal\.load\b|\bBinaryFormatter\b/;
const SAFE_YAML = /SafeLoader|\bsafe_load/;

/** The first line of an answer that quotes an unsafe loader's call (not PyYAML with a safe loader), cut. */
export function unsafeLoader(text: string): string | undefined {
  for (const raw of text.slice(0, 65_536).split('\n')) {
    const line = raw.length > 400 ? raw.slice(0, 400) : raw;
    const m = UNSAFE_LOADER.exec(line);
    if (!m) continue;
    if (m[0].startsWith('yaml.') && SAFE_YAML.test(line)) continue;
    return line.trim().slice(0, 200);
  }
  return undefined;
}

/** A base64 text of at least 12 characters that decodes to something (an example of saved state). */
function base64Like(v: unknown): boolean {
  if (typeof v !== 'string') return false;
  const t = v.trim();
  return (
    t.length >= 12 && t.length % 4 === 0 && /^[A-Za-z0-9+/]+={0,2}$/.test(t) && /[0-9+/]|[A-Z].*[a-z]/.test(t)
  );
}

/**
 * A raw text body that holds base64 (see the file's comment): its content type, or undefined. Not JSON, form or
 * multipart (requestBody reads those).
 */
function base64Body(ctx: ScanContext, op: Operation): string | undefined {
  for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
    if (!TEXT_BODY.test(type)) continue;
    const s = resolveSchema(ctx.spec, media.schema ?? {});
    if (s.type !== undefined && s.type !== 'string') continue;
    const prose = [s.description, op.summary].filter((x) => typeof x === 'string').join(' ');
    if (
      s.format === 'byte' ||
      s.format === 'base64' ||
      s.contentEncoding === 'base64' ||
      /base64/i.test(type) ||
      base64Like(media.example ?? s.example) ||
      BASE64_PROSE.test(prose) ||
      RESTORE_WORDS.test(`${op.path} ${op.summary ?? ''} ${op.hasDeclaredId ? op.id : ''}`)
    )
      return type;
  }
  return undefined;
}
/** Names an API reads from a loaded object (`obj["name"]`): the shape sent when none was seen. */
const COMMON_KEYS = [
  'name',
  'username',
  'user',
  'title',
  'message',
  'text',
  'value',
  'data',
  'id',
  'email',
  'label',
];
const MAX_PICKLE_INPUTS = 6;

/** A base64 pickle found in an answer or a cookie, by the member or cookie name that carried it. */
interface SeenPickle {
  readonly value: PickledValue | undefined;
  readonly urlSafe: boolean;
  readonly op?: Operation;
  readonly as?: string;
}

/** Base64 pickles the API gave out during the scan: in cookies it set and in JSON members (3 levels down). */
function picklesSeen(ctx: ScanContext): {
  cookies: Map<string, SeenPickle>;
  members: Map<string, SeenPickle>;
} {
  const cookies = new Map<string, SeenPickle>();
  const members = new Map<string, SeenPickle>();
  const seen = (raw: string, o: (typeof ctx.observations)[number]): SeenPickle | undefined => {
    const bytes = pickleIn(raw);
    if (!bytes) return undefined;
    return {
      value: readPickle(bytes),
      urlSafe: /[-_]/.test(raw),
      ...(o.operation ? { op: o.operation } : {}),
      ...(o.identity ? { as: o.identity } : {}),
    };
  };
  const walk = (view: unknown, depth: number, o: (typeof ctx.observations)[number]) => {
    if (view === null || typeof view !== 'object' || depth > 3 || members.size >= 8) return;
    for (const [k, v] of Object.entries(view as Record<string, unknown>).slice(0, 50)) {
      if (typeof v === 'string') {
        const found = members.has(k) ? undefined : seen(v, o);
        if (found) members.set(k, found);
      } else walk(v, depth + 1, o);
    }
  };
  for (const o of ctx.observations) {
    for (const [name, value] of setCookies(o.response)) {
      const found = cookies.has(name) ? undefined : seen(value, o);
      if (found) cookies.set(name, found);
    }
    walk(o.response.json, 0, o);
  }
  return { cookies, members };
}

/** An operation a probe may not send: a login, a password setter, an account change. */
function accountOperation(ctx: ScanContext, op: Operation): boolean {
  return (
    isLoginOperation(ctx.spec, op) ||
    setsPassword(ctx.spec, op) ||
    changesAccount(ctx.spec, op) ||
    changesOwnAccount(ctx.spec, op)
  );
}

/** The inputs that may take a pickle (see the file's comment), at most `MAX_PICKLE_INPUTS`. */
function pickleInputs(ctx: ScanContext): PickleInput[] {
  const { cookies, members } = picklesSeen(ctx);
  const given = [ctx.identities[0], ctx.admin, null].filter((x): x is Identity | null => x !== undefined);
  const out: PickleInput[] = [];
  for (const [name, seen] of cookies) {
    const as = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])].find((i) => i.name === seen.as) ?? null;
    // Read back where it was set (a GET), else at the first parameterless read.
    const read =
      seen.op?.method === 'GET' && !seen.op.path.includes('{')
        ? seen.op
        : ctx.spec.operations.find((o) => o.method === 'GET' && !isExcluded(o) && !o.path.includes('{'));
    if (read)
      out.push({
        op: read,
        in: 'cookie',
        name,
        ...(seen.value !== undefined ? { observed: seen.value } : {}),
        urlSafe: seen.urlSafe,
        senders: [as],
      });
  }
  for (const op of ctx.spec.operations) {
    if (isExcluded(op) || ['DELETE', 'HEAD', 'OPTIONS'].includes(op.method) || accountOperation(ctx, op))
      continue;
    const senders = selfUpload(op.path) ? [null] : given;
    const candidate = (
      name: string,
      s: Record<string, unknown>,
    ): Omit<PickleInput, 'op' | 'in' | 'senders'> | undefined => {
      const seen = members.get(name);
      if (seen)
        return { name, ...(seen.value !== undefined ? { observed: seen.value } : {}), urlSafe: seen.urlSafe };
      const example = typeof s.example === 'string' ? pickleIn(s.example) : undefined;
      if (example)
        return { name, ...(readPickle(example) !== undefined ? { observed: readPickle(example)! } : {}) };
      if (s.type !== undefined && s.type !== 'string') return undefined;
      if (PICKLE_PROSE.test(String(s.description ?? ''))) return { name };
      const base64 = s.format === 'byte' || s.format === 'base64' || s.contentEncoding === 'base64';
      return base64 && STATE_NAME.test(name) ? { name } : undefined;
    };
    for (const p of op.parameters) {
      if (p.in !== 'query') continue;
      const found = candidate(p.name, {
        ...resolveSchema(ctx.spec, p.schema),
        ...(p.raw.description ? { description: p.raw.description } : {}),
      });
      if (found) out.push({ op, in: 'query', senders, ...found });
    }
    const rb = requestBody(op);
    if (rb && rb.encoding !== 'multipart') {
      for (const [name, s] of Object.entries(propertiesOf(ctx.spec, rb.schema))) {
        const found = candidate(name, s);
        if (found) out.push({ op, in: rb.encoding, senders, ...found });
      }
    } else if (!rb) {
      const raw = Object.keys(op.requestBody?.content ?? {}).find((t) => RAW_PICKLE.test(t));
      const text = raw === undefined ? base64Body(ctx, op) : undefined;
      if (raw) out.push({ op, in: 'body', name: raw, senders });
      else if (text) out.push({ op, in: 'body', name: text, base64: true, senders });
    }
  }
  return out.slice(0, MAX_PICKLE_INPUTS);
}

/**
 * Sends a pickle (protocol 0 text) through the input as `as`. A creation sent as a given identity or the admin
 * makes an object with each pickle: `sweep` is told of each, to delete it again (the injection probes' sweep).
 */
function pickleSender(
  ctx: ScanContext,
  input: PickleInput,
  as: Identity | null,
  sweep: ReturnType<typeof creationSweep>,
) {
  const { op } = input;
  const owner = as ? { owner: as.name } : {};
  const b64 = (text: string) => Buffer.from(text, 'latin1').toString(input.urlSafe ? 'base64url' : 'base64');
  const made = as !== null && isCreationOperation(ctx.spec, op) ? sweep.seen(op, as, '') : undefined;
  const request = (pickle: string): PlannedRequest => {
    if (input.in === 'cookie') {
      const req = planRequest(ctx.spec, op, ctx.objects, owner);
      const jar = new Map(as?.session.cookies ?? []);
      jar.set(input.name, encodeURIComponent(b64(pickle)));
      const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
      return { ...req, headers: { ...req.headers, cookie } };
    }
    if (input.in === 'query')
      return planRequest(ctx.spec, op, ctx.objects, { ...owner, params: { [input.name]: b64(pickle) } });
    if (input.in === 'body') {
      const req = planRequest(ctx.spec, op, ctx.objects, owner);
      const type = input.name === '*/*' ? 'text/plain' : input.name;
      const body = input.base64 ? b64(pickle) : pickle;
      return { ...req, body, headers: { ...req.headers, 'content-type': type } };
    }
    const schema = requestBody(op)?.schema;
    const sample = schema !== undefined ? sampleValue(ctx.spec, schema) : undefined;
    const base = sample !== null && typeof sample === 'object' && !Array.isArray(sample) ? sample : {};
    return planRequest(ctx.spec, op, ctx.objects, { ...owner, body: { ...base, [input.name]: b64(pickle) } });
  };
  return async (pickle: string): Promise<ScanResponse | undefined> => {
    const req = request(pickle);
    const res = await ctx.send(req, as);
    made?.(req, res, undefined);
    return res;
  };
}

/**
 * The pickle probes (see the file's comment): per input, the shapes in turn as the first sender let in, then the
 * time-based pair where nothing came back. At most `MAX_PICKLE_INPUTS` inputs, about eight requests each.
 */
export async function pickles(ctx: ScanContext): Promise<void> {
  const call = addCall('pcx4', '2z');
  // What a creation made with the pickles as a given identity or the admin is deleted again at the end.
  const sweep = creationSweep(ctx, 'the deserialisation probes');
  try {
    await picklesThrough(ctx, call, sweep);
  } finally {
    await sweep.flush(undefined, true);
    sweep.report();
  }
}

async function picklesThrough(ctx: ScanContext, call: string, sweep: ReturnType<typeof creationSweep>) {
  for (const input of pickleInputs(ctx)) {
    if (ctx.signal.aborted) return;
    const where =
      input.in === 'body'
        ? `its raw ${input.name} body${input.base64 ? ' (base64)' : ''}`
        : `the ${input.in === 'json' ? 'JSON field' : input.in === 'form' ? 'form field' : input.in === 'cookie' ? 'cookie' : 'query parameter'} ${input.name}`;
    const shapes: (PickledValue | undefined)[] = [
      ...(input.observed !== undefined && typeof input.observed === 'object' ? [input.observed] : []),
      Object.fromEntries(COMMON_KEYS.map((k) => [k, 'x'])),
      undefined,
    ];
    let send: ((pickle: string) => Promise<ScanResponse | undefined>) | undefined;
    let found = false;
    // The first answer to one of the probe's pickles that quotes an unsafe loader's call (see unsafeLoader).
    let sign: { res: ScanResponse; line: string; pickle: string; as: Identity | null } | undefined;
    for (const as of creators(ctx, input.op, input.senders)) {
      const sender = pickleSender(ctx, input, as, sweep);
      const attempt = async (pickle: string) => {
        const res = await sender(pickle);
        const line =
          res && !sign && res.status !== 401 && res.status !== 403 ? unsafeLoader(res.text) : undefined;
        if (res && line) sign = { res, line, pickle, as };
        return res;
      };
      const first = await attempt(pickleWith(shapes[0], call));
      if (first === undefined || first.status === 401 || first.status === 403) continue;
      send = attempt;
      for (const [i, shape] of shapes.entries()) {
        const payload = pickleWith(shape, call);
        const res = i === 0 ? first : await send(payload);
        if (
          !res?.text.includes(PROOF) ||
          res.sent.url.includes(PROOF) ||
          (res.sent.body ?? '').includes(PROOF)
        )
          continue;
        ctx.report(SCAN_RULES.insecureDeserialization, {
          operation: input.op,
          key: `pickle:${input.in}:${input.name}`,
          message: `${input.op.method} ${input.op.path} loaded a Python pickle from ${where}${as ? ` as ${as.name}` : ' without credentials'}: a pickle calling operator.add('pcx4', '2z') came back as its result, ${PROOF} (status ${res.status}).`,
          evidence: evidenceOf(res, { location: input.in, input: input.name, pickle: payload }),
        });
        found = true;
        break;
      }
      break;
    }
    if (found || send === undefined) continue;
    if (!(await timedPickle(ctx, input, send, where)) && sign) {
      const { res, line, pickle, as } = sign;
      ctx.report(SCAN_RULES.insecureDeserialization, {
        operation: input.op,
        key: `pickle:${input.in}:${input.name}`,
        severity: 'high',
        message: `${input.op.method} ${input.op.path} likely loads what it is sent in ${where} with an unsafe loader: its answer to a pickle of the probe's own${as ? ` (as ${as.name})` : ''} quoted the loader's call (${line}; status ${res.status}). The pickle's call did not show (a loader reached, not proven run).`,
        evidence: evidenceOf(res, {
          location: input.in,
          input: input.name,
          pickle,
          loader: line,
          confidence: 'medium',
        }),
      });
    }
  }
}

/**
 * The time-based pickle pair (see the file's comment) through an input that let the probe in. True when it
 * proved the pickle ran (reported).
 */
async function timedPickle(
  ctx: ScanContext,
  input: PickleInput,
  send: (pickle: string) => Promise<ScanResponse | undefined>,
  where: string,
): Promise<boolean> {
  const quick = [await send(sleepPickle(0)), await send(sleepPickle(0))];
  if (quick.some((r) => r === undefined)) return false;
  const baselineMs = Math.max(...quick.map((r) => r!.durationMs));
  if (baselineMs > 300) return false;
  const seconds = ctx.timeDelayMs / 1000;
  const slow = await delayed({ send }, sleepPickle(seconds), sleepPickle(0), baselineMs, ctx.timeDelayMs);
  if (!slow) return false;
  ctx.report(SCAN_RULES.insecureDeserialization, {
    operation: input.op,
    key: `pickle:${input.in}:${input.name}`,
    message: `${input.op.method} ${input.op.path} loaded a Python pickle from ${where}: a pickle calling time.sleep(${seconds}) delayed the answer twice (${Math.round(slow.durationMs)} ms against ${Math.round(baselineMs)} ms), the same pickle with sleep(0) did not.`,
    evidence: evidenceOf(slow, {
      location: input.in,
      input: input.name,
      pickle: sleepPickle(seconds),
      baselineMs: Math.round(baselineMs),
    }),
  });
  return true;
}

const YAML_CANARY = 'portcullis: !!python/object/apply:operator.add ["pcx4", "2z"]\n';
const YAML_PROOF = 'pcx42z';

/** File inputs of multipart bodies, one YAML canary file each, as A then the admin (the first that is let in). */
export async function yamlUploads(ctx: ScanContext): Promise<void> {
  // What an upload made as a given identity or the admin is deleted again at the end, as the pickles' are.
  const sweep = creationSweep(ctx, 'the YAML upload probes');
  try {
    await yamlThrough(ctx, sweep);
  } finally {
    await sweep.flush(undefined, true);
    sweep.report();
  }
}

async function yamlThrough(ctx: ScanContext, sweep: ReturnType<typeof creationSweep>): Promise<void> {
  let probes = 0;
  for (const op of ctx.spec.operations) {
    if (isExcluded(op) || (op.method !== 'POST' && op.method !== 'PUT')) continue;
    const rb = requestBody(op);
    if (rb?.encoding !== 'multipart') continue;
    const files = Object.entries(propertiesOf(ctx.spec, rb.schema))
      .filter(
        ([, s]) => s.format === 'binary' || s.format === 'base64' || typeof s.contentMediaType === 'string',
      )
      .map(([name]) => name);
    if (files.length === 0) continue;
    // An upload to the sender's own account (`/me/avatar`) would replace a given identity's file: anonymously only.
    const senders = selfUpload(op.path) ? [null] : creators(ctx, op, [ctx.identities[0], ctx.admin, null]);
    for (const as of senders) {
      if (as === undefined || probes++ >= MAX_PROBES || ctx.signal.aborted) break;
      const planned = planRequest(ctx.spec, op, ctx.objects, as ? { owner: as.name } : {});
      const body = { ...((planned.body as Record<string, unknown>) ?? {}) };
      for (const f of files)
        body[f] = new FilePart('portcullis-scan.yaml', 'application/x-yaml', YAML_CANARY);
      const res = await ctx.send({ ...planned, body }, as);
      if (as && isCreationOperation(ctx.spec, op))
        sweep.seen(op, as, '')({ ...planned, body }, res, undefined);
      if (res?.text.includes(YAML_PROOF)) {
        ctx.report(SCAN_RULES.insecureDeserialization, {
          operation: op,
          key: `file:${files[0]}`,
          message: `${op.method} ${op.path} loaded an uploaded YAML file with an unsafe loader: a python/object/apply tag in ${files.join(', ')} ran operator.add on the server (${YAML_PROOF} came back).`,
          evidence: evidenceOf(res, { file: files[0], content: YAML_CANARY.trim() }),
        });
        break;
      }
      if (res && res.status !== 401 && res.status !== 403) break; // let in, and nothing ran
    }
  }
}
