/**
 * Insecure deserialisation (API8): cookies the API itself set whose value is a serialised object (base64 or
 * URL-encoded JSON) are sent back with one member replaced by a function-serialisation canary, the way
 * `node-serialize` revives functions (`_$$ND_FUNC$$_function(){...}()`). The canary only returns a string
 * computed on the server (`'pcx'+(6*7)+'z'`): `pcx42z` in the answer, absent from the request, proves that the
 * server ran code it read from the cookie. Nothing else is run; at most `MAX_PROBES` requests.
 *
 * Uploaded files get the same treatment in YAML, which unsafe loaders (PyYAML's `UnsafeLoader`, `yaml.load` of
 * old) turn into Python calls: a file part set to `!!python/object/apply:operator.add ["pcx4", "2z"]` comes
 * back as `pcx42z` only when the loader called the function (the request holds the two halves, never the whole).
 */
import type { Operation } from '../../../core/api-document.ts';
import { FilePart, type ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, type ScanContext } from '../context.ts';
import { setCookies } from '../login.ts';
import { isExcluded, planRequest, requestBody } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf } from '../schema.ts';
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
  const seen = [...cookiesSeen(ctx)].slice(0, MAX_COOKIES);
  if (seen.length === 0) return;
  let probes = 0;
  for (const [name, { value, op: setter, as: setterName }] of seen) {
    const parsed = serialisedCookie(value);
    if (!parsed) continue;
    const as: Identity | null =
      [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])].find((i) => i.name === setterName) ?? null;
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
        const req = planRequest(ctx.spec, op, ctx.objects, as ? { owner: as.name } : {});
        const jar = new Map(as?.session.cookies ?? []);
        jar.set(name, cookieValue);
        const cookie = [...jar].map(([k, v]) => `${k}=${v}`).join('; ');
        const res: ScanResponse | undefined = await ctx.send(
          { ...req, headers: { ...req.headers, cookie } },
          as,
        );
        if (!res?.text.includes(PROOF) || res.sent.url.includes(PROOF)) continue;
        ctx.report(SCAN_RULES.insecureDeserialization, {
          operation: op,
          key: `cookie:${name}`,
          message: `${op.method} ${op.path} ran code read from the cookie ${name}: its member ${member} set to a serialised function (${CANARY}) came back as its result, ${PROOF} (status ${res.status}).`,
          evidence: evidenceOf(res, { cookie: name, member, canary: CANARY }),
        });
        return;
      }
    }
  }
}

const YAML_CANARY = 'portcullis: !!python/object/apply:operator.add ["pcx4", "2z"]\n';
const YAML_PROOF = 'pcx42z';

/** File inputs of multipart bodies, one YAML canary file each, as A then the admin (the first that is let in). */
export async function yamlUploads(ctx: ScanContext): Promise<void> {
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
    const senders = selfUpload(op.path) ? [null] : [ctx.identities[0], ctx.admin, null];
    for (const as of senders) {
      if (as === undefined || probes++ >= MAX_PROBES || ctx.signal.aborted) break;
      const planned = planRequest(ctx.spec, op, ctx.objects, as ? { owner: as.name } : {});
      const body = { ...((planned.body as Record<string, unknown>) ?? {}) };
      for (const f of files)
        body[f] = new FilePart('portcullis-scan.yaml', 'application/x-yaml', YAML_CANARY);
      const res = await ctx.send({ ...planned, body }, as);
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
