/**
 * Serialisation of the RateLimit-Policy and RateLimit fields of draft-ietf-httpapi-ratelimit-headers-10, both
 * Structured Field Lists (RFC 9651 §3.1) of Items whose value is a String naming the policy.
 */

/** An RFC 9651 §3.3.3 String: printable ASCII, with `"` and `\` escaped. */
export function sfString(s: string): string {
  if (!/^[\x20-\x7e]*$/.test(s)) throw new TypeError('structured field strings are printable ASCII');
  return `"${s.replace(/[\\"]/g, '\\$&')}"`;
}

/** An RFC 9651 §3.3.1 Integer (at most 15 digits). */
export function sfInteger(n: number): string {
  const i = Math.max(-999_999_999_999_999, Math.min(999_999_999_999_999, Math.trunc(n)));
  return String(i);
}

/** An RFC 9651 §3.3.5 Byte Sequence. */
export function sfBytes(b: Buffer): string {
  return `:${b.toString('base64')}:`;
}

/** What one limit advertises in `RateLimit-Policy`. */
export interface PolicyItem {
  readonly name: string;
  /** Quota units (`q`). */
  readonly quota: number;
  /** Window in seconds (`w`); absent for concurrency. */
  readonly windowSeconds?: number;
  /** Quota unit (`qu`) when not the default `requests`. */
  readonly unit?: 'concurrent-requests';
  /** Token-bucket capacity when it differs from `q` (vendor parameter `portcullis-burst`). */
  readonly burst?: number;
}

/** One item of `RateLimit-Policy`, e.g. `"per-user";q=100;w=60`. */
export function policyItem(p: PolicyItem): string {
  let s = `${sfString(p.name)};q=${sfInteger(p.quota)}`;
  if (p.unit !== undefined) s += `;qu=${sfString(p.unit)}`;
  if (p.windowSeconds !== undefined) s += `;w=${sfInteger(p.windowSeconds)}`;
  if (p.burst !== undefined) s += `;portcullis-burst=${sfInteger(p.burst)}`;
  return s;
}

/** One item of `RateLimit`, e.g. `"per-user";r=42;t=17;pk=:...:` (t omitted when undefined). */
export function limitItem(
  name: string,
  remaining: number,
  resetSeconds: number | undefined,
  pk?: Buffer,
): string {
  let s = `${sfString(name)};r=${sfInteger(remaining)}`;
  if (resetSeconds !== undefined) s += `;t=${sfInteger(resetSeconds)}`;
  if (pk !== undefined) s += `;pk=${sfBytes(pk)}`;
  return s;
}

/** Adds list members to a response field that another policy may already have set. */
export function appendListField(
  headers: Record<string, string | string[]>,
  name: string,
  value: string,
): void {
  const prev = headers[name];
  if (prev === undefined) headers[name] = value;
  else headers[name] = `${Array.isArray(prev) ? prev.join(', ') : prev}, ${value}`;
}
