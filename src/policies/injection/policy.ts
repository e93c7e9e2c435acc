import { createHash } from 'node:crypto';
import type { Exchange } from '../../gateway/exchange.ts';
import { parseJson } from '../../gateway/json.ts';
import { type Problem, problem, problems } from '../../gateway/problems.ts';
import type { SecurityEvent } from '../../monitor/events.ts';
import type { JsonObject } from '../../openapi/types.ts';
import { requestEventFields } from '../event-fields.ts';
import type { CompileContext, PolicyDefinition, PolicyHandler } from '../policy.ts';
import { PolicyConfigError } from '../policy.ts';
import { percentDecode } from './decode.ts';
import { compileDetector, type Detector, type InjectionClass } from './engine.ts';
import { scanJson } from './json-walk.ts';
import {
  defaults,
  type InjectionConfig,
  type InjectionExclusion,
  type InjectionLocation,
  schema,
} from './schema.ts';
import { INJECTION_CLASSES } from './types.ts';

/** Findings reported per request at most (the problem lists where, never what). */
const MAX_FINDINGS = 8;
/** Query parameters, form fields and cookies inspected per request at most; the rest is inspected as one. */
const MAX_PAIRS = 512;

export interface InjectionFinding {
  /** `#/query/id`, `#/header/user-agent`, `#/cookie/session`, `#/path/id`, `#/body/comment`. */
  readonly pointer: string;
  readonly class: InjectionClass;
}

const NONE: ReadonlySet<InjectionClass> = new Set();

/** Exclusions that apply to one operation, resolved into a lookup: location → name/pointer → classes left. */
interface ExclusionTable {
  classesAt(location: InjectionLocation, nameOrPointer: string): ReadonlySet<InjectionClass> | undefined;
}

function compileExclusions(
  all: readonly InjectionExclusion[],
  operationId: string,
  enabled: ReadonlySet<InjectionClass>,
): ExclusionTable | undefined {
  const relevant = all.filter((e) => e.operations === undefined || e.operations.includes(operationId));
  if (relevant.length === 0) return undefined;
  const remaining = (removed: readonly InjectionClass[] | undefined): ReadonlySet<InjectionClass> =>
    removed === undefined ? NONE : new Set([...enabled].filter((c) => !removed.includes(c)));
  const rules = relevant.map((e) => ({
    location: e.location,
    name: e.location === 'header' ? e.name?.toLowerCase() : e.name,
    pointer: e.pointer,
    left: remaining(e.classes),
  }));
  return {
    classesAt(location, key) {
      let left: Set<InjectionClass> | undefined;
      for (const r of rules) {
        if (r.location !== location) continue;
        if (location === 'body') {
          if (
            r.pointer !== undefined &&
            r.pointer !== '' &&
            key !== r.pointer &&
            !key.startsWith(r.pointer + '/')
          )
            continue;
        } else if (r.name !== undefined && r.name !== (location === 'header' ? key.toLowerCase() : key))
          continue;
        left ??= new Set(enabled);
        for (const c of enabled) if (!r.left.has(c)) left.delete(c);
      }
      return left;
    },
  };
}

function escapeToken(token: string): string {
  return token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Splits `a=1&b=2` into decoded pairs (`+` is a space in form encoding), at most `MAX_PAIRS` of them. */
function formPairs(raw: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (raw === '') return out;
  let start = 0;
  while (start <= raw.length && out.length < MAX_PAIRS) {
    let end = raw.indexOf('&', start);
    if (end < 0) end = raw.length;
    if (end > start) {
      const part = raw.slice(start, end);
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      out.push([decodeFormPart(name), decodeFormPart(value)]);
    }
    start = end + 1;
  }
  if (start < raw.length) out.push(['', decodeFormPart(raw.slice(start))]);
  return out;
}

function decodeFormPart(s: string): string {
  return percentDecode(s.indexOf('+') < 0 ? s : s.split('+').join(' '));
}

function isJsonType(mediaType: string): boolean {
  return mediaType === 'application/json' || mediaType.endsWith('+json') || mediaType === 'text/json';
}

function mediaTypeOf(header: string | string[] | undefined): string {
  const h = Array.isArray(header) ? header[0] : header;
  if (h === undefined) return '';
  const semi = h.indexOf(';');
  return (semi < 0 ? h : h.slice(0, semi)).trim().toLowerCase();
}

/** A short, non-reversible tag of the offending value, so repeated payloads can be correlated in events. */
function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 12);
}

/**
 * Injection detection, a negative model beside the schema: looks for SQL, NoSQL operator, OS command, path
 * traversal, XSS, LDAP and template injection in path and query parameters, selected headers, cookie values
 * and every key and string leaf of JSON (and form) bodies. Answers 400 `injection-detected` listing where
 * (pointer) and what (class), never the payload.
 */
export const injectionPolicy: PolicyDefinition<InjectionConfig> = {
  name: 'injection',
  stage: 'validate',
  description:
    'Detects SQL, NoSQL, OS command, path traversal, XSS, LDAP and template injection in parameters, headers and bodies.',
  schema: schema as unknown as JsonObject,
  compile(config, ctx) {
    const c = { ...defaults, ...config };
    if (![1, 2, 3].includes(c.paranoia)) throw new PolicyConfigError('paranoia', 'must be 1, 2 or 3');
    for (const [i, cls] of c.classes.entries()) {
      if (!INJECTION_CLASSES.includes(cls))
        throw new PolicyConfigError(`classes[${i}]`, `unknown class ${cls}`);
    }
    if (c.classes.length === 0) return null;
    const detector = ctx.shared.get(`injection:${c.paranoia}:${[...c.classes].sort().join(',')}`, () =>
      compileDetector({ paranoia: c.paranoia, classes: c.classes }),
    );
    const op = ctx.operation;
    const exclusions = compileExclusions(c.exclusions, op.id, detector.classes);
    const headerNames = [
      ...new Set(
        c.headers.map((h) => h.toLowerCase()).filter((h) => h !== 'authorization' && h !== 'cookie'),
      ),
    ];
    const bodyTypes = Object.keys(op.requestBody?.content ?? {}).map((t) => t.toLowerCase());
    const wantsBody =
      c.body &&
      bodyTypes.some(
        (t) =>
          isJsonType(t) || t === 'application/x-www-form-urlencoded' || t === '*/*' || t.startsWith('text/'),
      );
    return createHandler(c, ctx, detector, exclusions, headerNames, wantsBody);
  },
};

function createHandler(
  c: InjectionConfig,
  ctx: CompileContext,
  detector: Detector,
  exclusions: ExclusionTable | undefined,
  headerNames: readonly string[],
  wantsBody: boolean,
): PolicyHandler {
  const at = (location: InjectionLocation, key: string) => exclusions?.classesAt(location, key);

  function scanPair(
    findings: InjectionFinding[],
    location: InjectionLocation,
    name: string,
    value: string,
    prefix: string,
  ) {
    const only = at(location, name);
    if (only !== undefined && only.size === 0) return;
    const pointer = `${prefix}${escapeToken(name)}`;
    const cls = (location === 'query' && detector.scanKey(name, only)) || detector.scanValue(value, only);
    if (cls) findings.push({ pointer, class: cls });
  }

  function inspect(ex: Exchange): { findings: InjectionFinding[]; sample?: string } {
    const findings: InjectionFinding[] = [];
    let sample: string | undefined;
    const note = (value: string) => {
      sample ??= value;
    };
    for (const [name, raw] of Object.entries(ex.route.pathParams)) {
      if (findings.length >= MAX_FINDINGS) break;
      const before = findings.length;
      scanPair(findings, 'path', name, percentDecode(raw), '#/path/');
      if (findings.length > before) note(raw);
    }
    for (const [name, value] of formPairs(ex.rawQuery)) {
      if (findings.length >= MAX_FINDINGS) break;
      const before = findings.length;
      scanPair(findings, 'query', name, value, '#/query/');
      if (findings.length > before) note(value);
    }
    for (const h of headerNames) {
      const v = ex.req.headers[h];
      if (v === undefined || findings.length >= MAX_FINDINGS) continue;
      const value = Array.isArray(v) ? v.join(', ') : v;
      const before = findings.length;
      scanPair(findings, 'header', h, value, '#/header/');
      if (findings.length > before) note(value);
    }
    const cookie = ex.req.headers.cookie;
    if (c.cookies && cookie !== undefined) {
      let count = 0;
      for (const part of cookie.split(';')) {
        if (findings.length >= MAX_FINDINGS || ++count > MAX_PAIRS) break;
        const eq = part.indexOf('=');
        if (eq < 0) continue;
        const name = part.slice(0, eq).trim();
        let value = part.slice(eq + 1).trim();
        if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
        const before = findings.length;
        scanPair(findings, 'cookie', name, value, '#/cookie/');
        if (findings.length > before) note(value);
      }
    }
    if (wantsBody && ex.body !== undefined && ex.body.length > 0 && findings.length < MAX_FINDINGS) {
      const type = mediaTypeOf(ex.req.headers['content-type']);
      if (isJsonType(type)) {
        let json = ex.json;
        if (json === undefined) {
          try {
            json = parseJson(ex.body.toString('utf8'));
            ex.json = json;
          } catch {
            // Not JSON after all: inspect the text as one value (request validation reports the syntax).
            json = ex.body.toString('utf8');
          }
        }
        const left = MAX_FINDINGS - findings.length;
        for (const f of scanJson(
          detector,
          json,
          exclusions && ((p) => exclusions.classesAt('body', p)),
          left,
        )) {
          findings.push({ pointer: `#/body${f.pointer}`, class: f.class });
        }
      } else if (type === 'application/x-www-form-urlencoded') {
        for (const [name, value] of formPairs(ex.body.toString('utf8'))) {
          if (findings.length >= MAX_FINDINGS) break;
          const only = at('body', `/${escapeToken(name)}`);
          if (only !== undefined && only.size === 0) continue;
          const cls = detector.scanKey(name, only) ?? detector.scanValue(value, only);
          if (cls !== undefined) findings.push({ pointer: `#/body/${escapeToken(name)}`, class: cls });
        }
      } else if (type.startsWith('text/')) {
        const only = at('body', '');
        const cls = only?.size === 0 ? undefined : detector.scanValue(ex.body.toString('utf8'), only);
        if (cls !== undefined) findings.push({ pointer: '#/body', class: cls });
      }
    }
    return { findings, sample };
  }

  return {
    needsRequestBody: wantsBody,
    onRequest(ex): Problem | undefined {
      const { findings, sample } = inspect(ex);
      if (findings.length === 0) return undefined;
      const classes = [...new Set(findings.map((f) => f.class))];
      const event: SecurityEvent = {
        '@timestamp': new Date(ctx.clock.now()).toISOString(),
        'event.kind': 'alert',
        'event.category': 'intrusion_detection',
        'event.type': c.mode === 'report' ? 'info' : 'denied',
        'event.action': 'injection-detected',
        'event.outcome': c.mode === 'report' ? 'unknown' : 'failure',
        'event.reason': classes.join(','),
        'event.severity': 3,
        'rule.name': 'injection',
        'rule.category': classes.join(','),
        'threat.technique.name': classes,
        ...requestEventFields(ex),
        'portcullis.mode': c.mode,
        'portcullis.paranoia': c.paranoia,
        'portcullis.pointers': findings.map((f) => f.pointer),
        'portcullis.injection': findings.map((f) => ({ pointer: f.pointer, class: f.class })),
        ...(sample === undefined ? {} : { 'portcullis.payload_hash': fingerprint(sample) }),
      };
      if (ex.principal !== undefined) event['user.id'] = ex.principal.subject;
      ctx.events.emit(event);
      return problem(
        problems.injectionDetected,
        'The request contains input that looks like an injection attack.',
        {
          reason: `injection_${classes[0]}`,
          extensions: { errors: findings.map((f) => ({ pointer: f.pointer, class: f.class })) },
        },
      );
    },
  };
}
