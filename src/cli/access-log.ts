import type { AccessRecord } from '../gateway/gateway.ts';
import type { LineWriter } from './line-writer.ts';

/**
 * The access log: one JSON line per request on stdout, in pino's line format, buffered and written
 * asynchronously by the shared destination. Its records hold known fields only (no headers, bodies or
 * tokens), so the line is built from a fixed template instead of going through pino's generic
 * serializer and redaction (measured: the generic path was about 8% of a pass-through request's CPU).
 *
 * The line is written straight into the destination's chunk, piece by piece: building it as a string
 * first made about 1.4 KB of short-lived strings per request (the pieces, their concatenations and the
 * flat copy the encoder needs), a seventh of everything a pass-through request allocated (issue 18).
 */
export function createAccessLog(destination: LineWriter): (rec: AccessRecord) => void {
  return (rec) => {
    const time = Date.now();
    destination.writeInto(accessLineBound(rec), fillAccessLine, rec, time);
  };
}

/** One access record as a pino-compatible JSON line (`level` 30 = info, `msg` "access"). */
export function formatAccessLine(r: AccessRecord, time: number): string {
  const buf = Buffer.allocUnsafe(accessLineBound(r));
  return buf.toString('utf8', 0, fillAccessLine(buf, 0, r, time));
}

const q = JSON.stringify;

/** Strings JSON writes as they are: printable ASCII without `"` or `\`. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** Bytes a client-controlled string may take as a JSON string: `\u00XX` is 6 bytes for one UTF-16 unit. */
const clientBound = (s: string) => 6 * s.length + 2;

/**
 * Bytes the line may take at most, for `LineWriter.writeInto`: the fixed text, the values the config
 * and the code name (looked up once, below), and a generous bound for what clients control.
 */
function accessLineBound(r: AccessRecord): number {
  let n = 1024 + clientBound(r['http.request.id']) + clientBound(r['url.path']);
  n += clientBound(r['http.request.method']) + clientBound(r['client.address']) + clientBound(r['trace.id']);
  const user = r['user.id'];
  if (user !== undefined) n += clientBound(user);
  n +=
    fieldBytes(r['http.route']) + fieldBytes(r['portcullis.api']) + fieldBytes(r['portcullis.operation_id']);
  n += fieldBytes(r['portcullis.decision']) + fieldBytes(r['portcullis.denied_by']);
  const reported = r['portcullis.reported'];
  if (reported !== undefined) for (const x of reported) n += clientBound(x) + 1;
  const rules = r['portcullis.waf.rule_ids'];
  if (rules !== undefined) n += 24 * rules.length;
  return n;
}

/** A config-named value's bound: the value is at most 4096 UTF-16 units in the cache, or quoted anew. */
const fieldBytes = (s: string | undefined) => (s === undefined ? 0 : 6 * s.length + 64);

const ascii = (s: string) => Buffer.from(s, 'latin1');
const LINE_START = ascii('{"level":30,"time":');
const ID = ascii(',"service":"portcullis","http.request.id":');
const TRACE = ascii(',"trace.id":"');
const METHOD = ascii('","http.request.method":');
const PATH = ascii(',"url.path":');
const STATUS = ascii(',"http.response.status_code":');
const CLIENT = ascii(',"client.address":');
const DURATION = ascii(',"event.duration_ms":');
const REPORTED = ascii(',"portcullis.reported":');
const WAF_RULES = ascii(',"portcullis.waf.rule_ids":');
const WAF_SCORE = ascii(',"portcullis.waf.score":');
const USER = ascii(',"user.id":');
const LINE_END = ascii(',"msg":"access"}\n');

/**
 * `,"key":"value"` for the values the config and the code name (route templates, API names, operation
 * ids, decisions), encoded once. Never client input; bounded all the same (beyond, encoded anew).
 */
function fieldCache(key: string): (value: string) => Buffer {
  const cache = new Map<string, Buffer>();
  const prefix = `,${q(key)}:`;
  return (value) => {
    let b = cache.get(value);
    if (b === undefined) {
      b = Buffer.from(prefix + q(value), 'utf8');
      if (cache.size < 4096) cache.set(value, b);
    }
    return b;
  };
}
const ROUTE = fieldCache('http.route');
const API = fieldCache('portcullis.api');
const OPERATION = fieldCache('portcullis.operation_id');
const DECISION = fieldCache('portcullis.decision');
const DENIED_BY = fieldCache('portcullis.denied_by');

/** Writes `s` as a JSON string: the usual plain value as it is, anything else through `JSON.stringify`. */
function putClientString(buf: Buffer, at: number, s: string): number {
  if (PLAIN.test(s)) {
    buf[at] = 0x22;
    const n = buf.write(s, at + 1, 'latin1');
    buf[at + 1 + n] = 0x22;
    return at + n + 2;
  }
  return at + buf.write(q(s), at, 'utf8');
}

/** Writes a non-negative integer below 2^53 in decimal. */
function putInteger(buf: Buffer, at: number, n: number): number {
  let digits = 1;
  for (let x = n; x >= 10; x = Math.floor(x / 10)) digits++;
  let i = at + digits;
  let x = n;
  do {
    const next = Math.floor(x / 10);
    buf[--i] = 48 + (x - next * 10);
    x = next;
  } while (x > 0);
  return at + digits;
}

/**
 * Writes a number of milliseconds rounded to the microsecond (`Math.round(ms * 1000) / 1000`) as
 * `String(ms)` would: the shortest decimal that reads back as it, which for such a value is its
 * thousandths without trailing zeros. Anything else (negative, huge) goes through `String`.
 */
function putMillis(buf: Buffer, at: number, ms: number): number {
  const micros = Math.round(ms * 1000);
  if (!(micros >= 0 && micros < 1e15) || micros / 1000 !== ms)
    return at + buf.write(String(ms), at, 'latin1');
  const whole = Math.floor(micros / 1000);
  let frac = micros - whole * 1000;
  let end = putInteger(buf, at, whole);
  if (frac === 0) return end;
  buf[end++] = 0x2e; // '.'
  buf[end++] = 48 + Math.floor(frac / 100);
  frac %= 100;
  if (frac === 0) return end;
  buf[end++] = 48 + Math.floor(frac / 10);
  frac %= 10;
  if (frac === 0) return end;
  buf[end++] = 48 + frac;
  return end;
}

/** Writes the line for `r` into `buf` from `at`; returns where it ends. `buf` has `accessLineBound(r)` bytes free. */
function fillAccessLine(buf: Buffer, at: number, r: AccessRecord, time: number): number {
  at += LINE_START.copy(buf, at);
  at = putInteger(buf, at, time);
  at += ID.copy(buf, at);
  at = putClientString(buf, at, r['http.request.id']);
  at += TRACE.copy(buf, at);
  // The trace id is 32 hex digits, from the gateway or checked against the W3C syntax.
  at += buf.write(r['trace.id'], at, 'latin1');
  at += METHOD.copy(buf, at);
  at = putClientString(buf, at, r['http.request.method']);
  at += PATH.copy(buf, at);
  at = putClientString(buf, at, r['url.path']);
  const route = r['http.route'];
  if (route !== undefined) at += ROUTE(route).copy(buf, at);
  at += STATUS.copy(buf, at);
  at = putInteger(buf, at, r['http.response.status_code']);
  at += CLIENT.copy(buf, at);
  at = putClientString(buf, at, r['client.address']);
  at += DURATION.copy(buf, at);
  at = putMillis(buf, at, r['event.duration_ms']);
  const api = r['portcullis.api'];
  if (api !== undefined) at += API(api).copy(buf, at);
  const operation = r['portcullis.operation_id'];
  if (operation !== undefined) at += OPERATION(operation).copy(buf, at);
  at += DECISION(r['portcullis.decision']).copy(buf, at);
  const deniedBy = r['portcullis.denied_by'];
  if (deniedBy !== undefined) at += DENIED_BY(deniedBy).copy(buf, at);
  const reported = r['portcullis.reported'];
  if (reported !== undefined) {
    at += REPORTED.copy(buf, at);
    at += buf.write(q(reported), at, 'utf8');
  }
  const rules = r['portcullis.waf.rule_ids'];
  if (rules !== undefined) {
    at += WAF_RULES.copy(buf, at);
    at += buf.write(q(rules), at, 'latin1');
    at += WAF_SCORE.copy(buf, at);
    at += buf.write(String(r['portcullis.waf.score']), at, 'latin1');
  }
  const user = r['user.id'];
  if (user !== undefined) {
    at += USER.copy(buf, at);
    at = putClientString(buf, at, user);
  }
  at += LINE_END.copy(buf, at);
  return at;
}
