import { createHash } from 'node:crypto';
import type { Exchange } from '../../core/exchange.ts';
import type { CompileContext, PolicyDefinition, PolicyHandler, RequestResult } from '../../core/policy.ts';
import { PolicyConfigError } from '../../core/policy.ts';
import { type Problem, problem, problems } from '../../core/problems.ts';
import { parseJson } from '../../shared/json.ts';
import { loadCoreRuleSet, readUnicodeMapFile } from '../../waf/index.ts';
import { denialEvent, type PolicyDenial } from '../denial-events.ts';
import {
  type BodyKind,
  bodyKindOf,
  hasContentCoding,
  parseMediaType,
  unreadableCharset,
} from '../media-type.ts';
import { BodyFormatError, parseMultipart } from '../request-body.ts';
import { emitViolation } from '../violation-events.ts';
import {
  compileCrsExclusions,
  compileTypedArgs,
  crsSettings,
  eventMatches,
  exclusionProblem,
  type LoadedRuleSet,
  ruleSetKey,
  type TypedArgTable,
  typedArgsOf,
  wafRequestOf,
} from './crs.ts';
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
/** Query parameters and form fields inspected per request one by one; the rest is inspected as one value. */
const MAX_PAIRS = 512;
/**
 * Shortest run of text inspected inside a body that is not UTF-8. Measured on 10 MiB of random bytes, five
 * PNG and WOFF2 files and 21 MB of an executable: runs of 8 gave 20 chance findings in the random bytes
 * and 1–2 per image, runs of 16 none.
 */
const MIN_TEXT_RUN = 16;
/** Multipart parts read per request at most; a body with more is refused (each part is inspected). */
const MAX_PARTS = 512;

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

/** The JSON value a text holds, when it is a JSON object or array (undefined otherwise). */
function sniffJson(text: string): unknown {
  let i = 0;
  while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\r' || text[i] === '\n'))
    i++;
  if (text[i] !== '{' && text[i] !== '[') return undefined;
  try {
    return parseJson(text);
  } catch {
    return undefined;
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function isUtf8(bytes: Buffer): boolean {
  try {
    utf8.decode(bytes);
    return true;
  } catch {
    return false;
  }
}

/**
 * The stretches of text in a leniently decoded binary body: split at U+FFFD (a byte that is not UTF-8),
 * C0 and C1 controls other than tab, line feed and carriage return, and DEL; NUL is kept, as the
 * detectors drop it. Only runs of at least `min` characters.
 */
function* textRuns(text: string, min: number): Generator<string> {
  let start = 0;
  for (let i = 0; i <= text.length; i++) {
    const c = i === text.length ? -1 : text.charCodeAt(i);
    const separator =
      c === -1 ||
      c === 0xfffd ||
      (c < 0x20 && c !== 0 && c !== 0x09 && c !== 0x0a && c !== 0x0d) ||
      (c >= 0x7f && c < 0xa0);
    if (!separator) continue;
    if (i - start >= min) yield text.slice(start, i);
    start = i + 1;
  }
}

/**
 * How a multipart part is read: RFC 7578 §4.4 makes a part without Content-Type text/plain; a nested
 * multipart (or a malformed type) is read as bytes.
 */
function partKind(contentType: string | undefined): BodyKind {
  if (contentType === undefined) return 'text';
  const kind = bodyKindOf(parseMediaType(contentType));
  return kind === 'multipart' ? 'bytes' : kind;
}

/** A short, non-reversible tag of the offending value, so repeated payloads can be correlated in events. */
function fingerprint(value: string): string {
  return createHash('sha256').update(value).digest('base64url').slice(0, 12);
}

/** The common part of an `injection-detected` alert, from the built-in guard or the CRS mode. */
function detection(
  mode: InjectionConfig['mode'],
  policy: string,
  reason: string,
  ex: Exchange,
): PolicyDenial {
  return {
    policy,
    action: 'injection-detected',
    category: 'intrusion_detection',
    reason,
    mode,
    alert: true,
    severity: 3,
    subject: ex.principal?.subject,
  };
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
  schema,
  async compile(config, ctx) {
    const c = { ...defaults, ...config };
    if (![1, 2, 3].includes(c.paranoia)) throw new PolicyConfigError('paranoia', 'must be 1, 2 or 3');
    for (const [i, cls] of c.classes.entries()) {
      if (!INJECTION_CLASSES.includes(cls))
        throw new PolicyConfigError(`classes[${i}]`, `unknown class ${cls}`);
    }
    const builtin = c.crs !== undefined && !c.crs.builtinDetectors ? null : compileBuiltin(c, ctx);
    if (c.crs === undefined) return builtin;
    return createCrsHandler(c, ctx, await compileCrs(c, ctx), builtin);
  },
};

/** What the built-in guard compiled for one operation: everything its per-request steps read. */
interface Guard {
  readonly mode: InjectionConfig['mode'];
  readonly paranoia: number;
  readonly cookies: boolean;
  readonly ctx: CompileContext;
  readonly detector: Detector;
  readonly exclusions: ExclusionTable | undefined;
  /** Headers inspected, lowercase, never Authorization nor Cookie. */
  readonly headerNames: readonly string[];
  readonly wantsBody: boolean;
  /**
   * The last Content-Type read and its parsed form: a route's requests nearly always send the same one,
   * which then is not parsed again. One entry, read only (as validateRequest keeps its own).
   */
  lastContentType: string | undefined;
  lastMedia: ReturnType<typeof parseMediaType>;
}

/** One request's inspection: where injections were found, the first offending parameter value, a refusal. */
interface Inspection {
  readonly findings: InjectionFinding[];
  /** The first offending value of a parameter, header or cookie (its fingerprint goes in the event). */
  sample: string | undefined;
  /** Why the body could not be inspected (it is refused, whatever the findings). */
  refusal: Problem | undefined;
}

/** The built-in detectors (the first-generation guard), or null when no class is enabled. */
function compileBuiltin(c: InjectionConfig, ctx: CompileContext): PolicyHandler | null {
  if (c.classes.length === 0) return null;
  const detector = ctx.shared.get(`injection:${c.paranoia}:${[...c.classes].sort().join(',')}`, () =>
    compileDetector({ paranoia: c.paranoia, classes: c.classes }),
  );
  const headerNames = [
    ...new Set(c.headers.map((h) => h.toLowerCase()).filter((h) => h !== 'authorization' && h !== 'cookie')),
  ];
  const g: Guard = {
    mode: c.mode,
    paranoia: c.paranoia,
    cookies: c.cookies,
    ctx,
    detector,
    exclusions: compileExclusions(c.exclusions, ctx.operation.id, detector.classes),
    headerNames,
    // Every body is inspected, declared or not, under the media type it is forwarded with: a route that
    // would otherwise stream its body unread buffers it (docs/injection.md, "Bodies").
    wantsBody: c.body,
    lastContentType: undefined,
    lastMedia: undefined,
  };
  return { needsRequestBody: g.wantsBody, onRequest: (ex) => judge(g, ex) };
}

/** What the CRS mode compiled for one operation. */
interface CompiledCrs {
  readonly loaded: LoadedRuleSet;
  readonly exclusions: ReturnType<typeof compileCrsExclusions>;
  readonly typed: TypedArgTable | undefined;
}

async function compileCrs(c: InjectionConfig, ctx: CompileContext): Promise<CompiledCrs> {
  const crs = c.crs!;
  if (crs.detectionParanoiaLevel !== undefined && crs.detectionParanoiaLevel < crs.paranoiaLevel)
    throw new PolicyConfigError('crs.detectionParanoiaLevel', 'must be at least crs.paranoiaLevel');
  for (const [i, e] of crs.exclusions.entries()) {
    const bad = exclusionProblem(e, i);
    if (bad !== undefined) throw new PolicyConfigError(`crs.${bad[0]}`, bad[1]);
  }
  // One load per config load, shared by every operation (and by every API naming the same rules).
  const loading = ctx.shared.get(ruleSetKey(crs), () => {
    const p = Promise.resolve()
      .then(() =>
        loadCoreRuleSet(
          crs.path,
          crsSettings(crs),
          crs.unicodeMapFile === undefined
            ? {}
            : { unicodeMap: readUnicodeMapFile(crs.unicodeMapFile, crs.unicodeCodePage) },
        ),
      )
      .then(({ ruleSet, issues }): LoadedRuleSet => ({ rules: ruleSet, issues }))
      .then((loaded) => {
        for (const issue of loaded.issues)
          ctx.logger.warn({ file: issue.file, line: issue.line }, `crs: ${issue.message}`);
        ctx.logger.info(
          { path: crs.path, version: loaded.rules.version, rules: loaded.rules.ruleCount },
          'crs: rule set loaded',
        );
        return loaded;
      });
    // A failed load is reported per operation below, not as an unhandled rejection.
    p.catch(() => {});
    return p;
  });
  let loaded: LoadedRuleSet;
  try {
    loaded = await loading;
  } catch (e) {
    throw new PolicyConfigError('crs.path', `cannot load the Core Rule Set: ${(e as Error).message}`);
  }
  if (loaded.rules.ruleCount === 0) throw new PolicyConfigError('crs.path', `no rules found in ${crs.path}`);
  return {
    loaded,
    exclusions: compileCrsExclusions(crs.exclusions, ctx.operation.id),
    typed: !crs.schemaAware ? undefined : compileTypedArgs(ctx.operation, ctx.spec),
  };
}

/**
 * The CRS mode: the rule set judges the request as the client sent it (request target, header fields in
 * order, body), then the built-in detectors, when kept, judge what the CRS let through. Answers 400
 * `injection-detected` listing the rule ids, never the payload.
 */
function createCrsHandler(
  c: InjectionConfig,
  ctx: CompileContext,
  compiled: CompiledCrs,
  builtin: PolicyHandler | null,
): PolicyHandler {
  const { loaded, exclusions, typed } = compiled;
  const crs = c.crs!;
  const paranoiaLevel = crs.paranoiaLevel;
  const ruleSet = `OWASP CRS ${loaded.rules.version ?? '(version unknown)'}`;
  const judge = (ex: Exchange): RequestResult => {
    if (ex.body !== undefined && ex.body.length > 0 && hasContentCoding(ex.req.headers['content-encoding'])) {
      emitViolation(ctx, ex, {
        policy: 'injection',
        action: 'injection-uninspectable',
        reason: 'unsupported_content_coding',
        mode: c.mode,
        pointers: ['#/body'],
      });
      return problem(problems.unsupportedMediaType, 'Send the body without a Content-Encoding.', {
        reason: 'unsupported_content_coding',
        headers: { 'accept-encoding': 'identity' },
      });
    }
    const typedArgs =
      typed === undefined
        ? undefined
        : typedArgsOf(typed, ex.rawQuery, ex.req.headers['content-type'], ex.body, () => {
            if (ex.json === undefined && ex.body !== undefined) {
              try {
                ex.json = parseJson(ex.body.toString('utf8'));
              } catch {
                return undefined;
              }
            }
            return ex.json;
          });
    const verdict = loaded.rules.evaluate(wafRequestOf(ex, typedArgs), exclusions);
    const ids = [...new Set(verdict.matches.map((m) => m.id))];
    // The access record lists what matched, blocked or not (rules above the blocking level, low scores).
    if (ids.length > 0) ex.waf = { score: verdict.anomalyScore, ruleIds: ids };
    if (!verdict.blocked) return undefined;
    const event = denialEvent(ctx.clock, ex, detection(c.mode, 'crs', 'crs', ex));
    event['rule.id'] = ids.join(',');
    event['rule.ruleset'] = ruleSet;
    event['rule.category'] = [
      ...new Set(verdict.matches.flatMap((m) => m.tags.filter((t) => t.startsWith('attack-')))),
    ].join(',');
    event['portcullis.paranoia'] = paranoiaLevel;
    event['portcullis.crs'] = {
      score: verdict.anomalyScore,
      threshold: crs.inboundAnomalyThreshold,
      paranoiaLevel,
      matches: eventMatches(verdict),
    };
    ctx.events.emit(event);
    return problem(problems.injectionDetected, 'The request matched rules of the Core Rule Set.', {
      reason: 'injection_crs',
      extensions: { rules: ids, score: verdict.anomalyScore },
    });
  };
  if (builtin === null) return { needsRequestBody: true, onRequest: judge };
  const next = builtin.onRequest!;
  return {
    needsRequestBody: true,
    onRequest(ex) {
      return judge(ex) ?? next(ex);
    },
  };
}

/** The built-in guard's decision: nothing, the refusal of an uninspectable body, or 400 with an alert. */
function judge(g: Guard, ex: Exchange): Problem | undefined {
  const { findings, sample, refusal } = inspect(g, ex);
  if (findings.length === 0) return refusal;
  const classes = [...new Set(findings.map((f) => f.class))];
  const names = classes.join(',');
  const event = denialEvent(g.ctx.clock, ex, detection(g.mode, 'injection', names, ex));
  event['rule.category'] = names;
  event['threat.technique.name'] = classes;
  event['portcullis.paranoia'] = g.paranoia;
  // One list for the event and the answer: both only read it (each is serialized as it is).
  const where = findings.map((f) => ({ pointer: f.pointer, class: f.class }));
  event['portcullis.pointers'] = findings.map((f) => f.pointer);
  event['portcullis.injection'] = where;
  if (sample !== undefined) event['portcullis.payload_hash'] = fingerprint(sample);
  g.ctx.events.emit(event);
  return problem(
    problems.injectionDetected,
    'The request contains input that looks like an injection attack.',
    {
      reason: `injection_${classes[0]}`,
      extensions: { errors: where },
    },
  );
}

/** Path parameters, query, selected headers, cookies, then the body, until `MAX_FINDINGS`. */
function inspect(g: Guard, ex: Exchange): Inspection {
  const seen: Inspection = { findings: [], sample: undefined, refusal: undefined };
  const params = ex.route.pathParams;
  for (const name in params) {
    if (!Object.hasOwn(params, name)) continue;
    if (seen.findings.length >= MAX_FINDINGS) break;
    // The raw value is the sample: the decoded one is what was judged.
    const raw = params[name];
    scanNoted(g, seen, 'path', name, percentDecode(raw), '#/path/', raw);
  }
  if (ex.rawQuery !== '') {
    for (const [name, value] of formPairs(ex.rawQuery)) {
      if (seen.findings.length >= MAX_FINDINGS) break;
      scanNoted(g, seen, 'query', name, value, '#/query/', value);
    }
  }
  for (const h of g.headerNames) {
    const v = ex.req.headers[h];
    if (v === undefined || seen.findings.length >= MAX_FINDINGS) continue;
    const value = Array.isArray(v) ? v.join(', ') : v;
    scanNoted(g, seen, 'header', h, value, '#/header/', value);
  }
  const cookie = ex.req.headers.cookie;
  if (g.cookies && cookie !== undefined) scanCookies(g, seen, cookie);
  const body = ex.body;
  if (g.wantsBody && body !== undefined && body.length > 0 && seen.findings.length < MAX_FINDINGS)
    seen.refusal = inspectBody(g, ex, body, seen.findings);
  return seen;
}

/**
 * Every cookie, however many: the Cookie header is bounded by server.maxHeaderBytes, and a cookie left
 * uninspected would reach the upstream unjudged.
 */
function scanCookies(g: Guard, seen: Inspection, cookie: string): void {
  for (const part of cookie.split(';')) {
    if (seen.findings.length >= MAX_FINDINGS) break;
    const eq = part.indexOf('=');
    // RFC 6265bis §5.6: a pair without `=` is a cookie with an empty name and this value.
    const name = eq < 0 ? '' : part.slice(0, eq).trim();
    let value = (eq < 0 ? part : part.slice(eq + 1)).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    scanNoted(g, seen, 'cookie', name, value, '#/cookie/', value);
  }
}

/** `scanPair`, noting `sample` as the request's sample when this pair is the first finding. */
function scanNoted(
  g: Guard,
  seen: Inspection,
  location: InjectionLocation,
  name: string,
  value: string,
  prefix: string,
  sample: string,
): void {
  const before = seen.findings.length;
  scanPair(g, seen.findings, location, name, value, prefix);
  if (seen.findings.length > before) seen.sample ??= sample;
}

function scanPair(
  g: Guard,
  findings: InjectionFinding[],
  location: InjectionLocation,
  name: string,
  value: string,
  prefix: string,
): void {
  const only = g.exclusions?.classesAt(location, name);
  if (only !== undefined && only.size === 0) return;
  const { detector } = g;
  const cls = (location === 'query' && detector.scanKey(name, only)) || detector.scanValue(value, only);
  // The pointer is only built for a finding (this runs for every header, parameter and cookie).
  if (cls) findings.push({ pointer: `${prefix}${escapeToken(name)}`, class: cls });
}

/** Inspects the body under the media type it is forwarded with; a problem when it cannot be read. */
function inspectBody(
  g: Guard,
  ex: Exchange,
  body: Buffer,
  findings: InjectionFinding[],
): Problem | undefined {
  if (hasContentCoding(ex.req.headers['content-encoding'])) {
    return uninspectable(g, ex, 'unsupported_content_coding', 'Send the body without a Content-Encoding.', {
      'accept-encoding': 'identity',
    });
  }
  const contentType = ex.req.headers['content-type'];
  // No or a malformed Content-Type: the body is inspected as bytes (text), whatever the upstream makes of it.
  let media: ReturnType<typeof parseMediaType>;
  if (contentType === undefined) media = undefined;
  else if (contentType === g.lastContentType) media = g.lastMedia;
  else {
    media = parseMediaType(contentType);
    g.lastContentType = contentType;
    g.lastMedia = media;
  }
  const kind = bodyKindOf(media);
  const badCharset = unreadableCharset(kind, media, body);
  if (badCharset !== undefined) return uninspectable(g, ex, 'unsupported_charset', `${badCharset}.`);
  if (kind === 'multipart') return inspectMultipart(g, ex, body, media?.parameters.get('boundary'), findings);
  inspectBytes(g, findings, kind, body, '', ex);
  return undefined;
}

/** Each part's name, file name and content, under the part's own media type. */
function inspectMultipart(
  g: Guard,
  ex: Exchange,
  body: Buffer,
  boundary: string | undefined,
  findings: InjectionFinding[],
): Problem | undefined {
  let parts: ReturnType<typeof parseMultipart>;
  try {
    parts = parseMultipart(body, boundary ?? '', MAX_PARTS);
  } catch (e) {
    if (!(e instanceof BodyFormatError)) throw e;
    return uninspectable(g, ex, 'unreadable_body', `The multipart body cannot be read: ${e.message}.`);
  }
  const { detector } = g;
  for (const part of parts) {
    if (findings.length >= MAX_FINDINGS) break;
    const pointer = `/${escapeToken(part.name)}`;
    const only = g.exclusions?.classesAt('body', pointer);
    if (only !== undefined && only.size === 0) continue;
    const cls =
      detector.scanKey(part.name, only) ??
      (part.filename === undefined ? undefined : detector.scanValue(part.filename, only));
    if (cls !== undefined) {
      findings.push({ pointer: `#/body${pointer}`, class: cls });
      continue;
    }
    inspectBytes(g, findings, partKind(part.contentType), part.data, pointer);
  }
  return undefined;
}

/** Inspects bytes of one reading (a whole body, or one multipart part at `pointer`). */
function inspectBytes(
  g: Guard,
  findings: InjectionFinding[],
  kind: BodyKind,
  bytes: Buffer,
  pointer: string,
  ex?: Exchange,
): void {
  if (kind === 'json') {
    let json = ex?.json;
    if (json === undefined) {
      // Decoded only when the body was not parsed yet (request validation usually has): 1 KB of body is
      // a 1 KB string.
      const text = bytes.toString('utf8');
      try {
        json = parseJson(text);
        if (ex !== undefined) ex.json = json;
      } catch {
        // Not JSON after all: inspect the text as one value (request validation reports the syntax).
        scanText(g, findings, text, pointer);
        return;
      }
    }
    walkJson(g, findings, json, pointer);
    return;
  }
  const text = bytes.toString('utf8');
  if (kind === 'form') scanForm(g, findings, text, pointer);
  else if (kind === 'bytes' && !isUtf8(bytes)) scanBinary(g, findings, text, pointer);
  else scanText(g, findings, text, pointer);
}

/** Each field name and value of a form body. */
function scanForm(g: Guard, findings: InjectionFinding[], text: string, pointer: string): void {
  for (const [name, value] of formPairs(text)) {
    if (findings.length >= MAX_FINDINGS) break;
    const p = `${pointer}/${escapeToken(name)}`;
    const only = g.exclusions?.classesAt('body', p);
    if (only !== undefined && only.size === 0) continue;
    const cls = g.detector.scanKey(name, only) ?? g.detector.scanValue(value, only);
    if (cls !== undefined) findings.push({ pointer: `#/body${p}`, class: cls });
  }
}

/** Scans one string of the body at `pointer`; a string that is JSON is also walked as JSON. */
function scanText(g: Guard, findings: InjectionFinding[], text: string, pointer: string): void {
  const only = g.exclusions?.classesAt('body', pointer);
  if (only === undefined || only.size > 0) {
    const cls = g.detector.scanValue(text, only);
    if (cls !== undefined) {
      findings.push({ pointer: `#/body${pointer}`, class: cls });
      return;
    }
  }
  // An upstream that sniffs (or ignores the media type) reads JSON here: judge its keys and leaves too.
  const json = sniffJson(text);
  if (json !== undefined) walkJson(g, findings, json, pointer);
}

function walkJson(g: Guard, findings: InjectionFinding[], json: unknown, pointer: string): void {
  const left = MAX_FINDINGS - findings.length;
  if (left <= 0) return;
  const { exclusions } = g;
  const classesAt = exclusions && ((p: string) => exclusions.classesAt('body', pointer + p));
  for (const f of scanJson(g.detector, json, classesAt, left)) {
    findings.push({ pointer: `#/body${pointer}${f.pointer}`, class: f.class });
  }
}

/**
 * Bytes that are not UTF-8 (images, archives): a text detector run over compressed data finds "attacks"
 * by chance (measured: one to two per 200 KB PNG with runs of 8 characters), so what an upstream could
 * read as text is judged instead: the JSON such a body holds (read with U+FFFD for bad bytes, as
 * lenient decoders do) and every run of at least `MIN_TEXT_RUN` text characters.
 */
function scanBinary(g: Guard, findings: InjectionFinding[], lenient: string, pointer: string): void {
  const json = sniffJson(lenient);
  if (json !== undefined) {
    walkJson(g, findings, json, pointer);
    return;
  }
  const only = g.exclusions?.classesAt('body', pointer);
  if (only !== undefined && only.size === 0) return;
  for (const run of textRuns(lenient, MIN_TEXT_RUN)) {
    const cls = g.detector.scanValue(run, only);
    if (cls !== undefined) {
      findings.push({ pointer: `#/body${pointer}`, class: cls });
      return;
    }
  }
}

/** A body the guard cannot read: a violation event, and 415 (or 400 for an unreadable multipart body). */
function uninspectable(
  g: Guard,
  ex: Exchange,
  reason: string,
  detail: string,
  headers?: Record<string, string>,
): Problem {
  emitViolation(g.ctx, ex, {
    policy: 'injection',
    action: 'injection-uninspectable',
    reason,
    mode: g.mode,
    pointers: ['#/body'],
  });
  return reason === 'unreadable_body'
    ? problem(problems.invalidRequest, detail, {
        reason,
        extensions: { errors: [{ pointer: '#/body', detail }] },
      })
    : problem(problems.unsupportedMediaType, detail, { reason, headers });
}
