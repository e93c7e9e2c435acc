const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const BASE64URL = /^[A-Za-z0-9_-]*$/;
/** Fatal: a malformed UTF-8 sequence is an error, not U+FFFD. A BOM is kept, so JSON.parse refuses it. */
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * True when `segment` is the one base64url spelling of its bytes (RFC 7515 §2, RFC 4648 §3.5): alphabet
 * characters only, no padding, no impossible length, and zero bits after the last byte. Any other spelling
 * decodes to the same bytes, so it would let one token be written many ways (and be read differently by
 * another parser).
 */
export function isCanonicalBase64url(segment: string): boolean {
  if (!BASE64URL.test(segment)) return false;
  const rest = segment.length % 4;
  if (rest === 1) return false;
  if (rest === 0) return true;
  const last = ALPHABET.indexOf(segment[segment.length - 1]);
  // Two characters carry one byte (4 spare bits); three carry two bytes (2 spare bits).
  return (last & (rest === 2 ? 0x0f : 0x03)) === 0;
}

/**
 * Decodes a JOSE header or JWT claims segment: canonical base64url of UTF-8 JSON holding one object
 * (RFC 7515 §5.2, RFC 7519 §7.2). Undefined when the bytes are not valid UTF-8 or when a `\u` escape
 * leaves a lone surrogate in a name or a string (RFC 8259 §8.2: such text cannot be compared or
 * forwarded as the issuer meant it).
 */
export function decodeJsonSegment(segment: string): Record<string, unknown> | undefined {
  if (!isCanonicalBase64url(segment)) return undefined;
  let value: unknown;
  let text: string;
  try {
    text = UTF8.decode(Buffer.from(segment, 'base64url'));
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined;
  // Valid UTF-8 decodes to well-formed text; only an escape can make a lone surrogate.
  if (text.includes('\\u') && !isWellFormedJson(value)) return undefined;
  return value as Record<string, unknown>;
}

/** Every member name and string in `value` is well-formed UTF-16 (walked without recursion). */
function isWellFormedJson(value: unknown): boolean {
  const pending: unknown[] = [value];
  while (pending.length > 0) {
    const v = pending.pop();
    if (typeof v === 'string') {
      if (!v.isWellFormed()) return false;
    } else if (Array.isArray(v)) {
      for (const item of v) pending.push(item);
    } else if (v !== null && typeof v === 'object') {
      for (const [name, item] of Object.entries(v)) {
        if (!name.isWellFormed()) return false;
        pending.push(item);
      }
    }
  }
  return true;
}
