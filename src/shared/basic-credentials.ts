/** Reading `Authorization: Basic` (RFC 7617): the Basic scheme verifies it, the access record names its user. */

/** The two halves of `Authorization: Basic`, NFC-normalised. */
export interface BasicCredentials {
  readonly userId: string;
  readonly password: string;
}

/** Longest base64 credential read; longer values are malformed (no user-id and password need 3 kB). */
const MAX_TOKEN_CHARS = 4096;
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** RFC 7617 §2: "The user-id and password MUST NOT contain any control characters" (Unicode Cc). */
export const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses `Authorization: Basic <base64(user-id ":" password)>` strictly (RFC 7617 §2): the scheme name is
 * case-insensitive, the token is canonical padded base64, its bytes valid UTF-8, the user-id non-empty.
 * Undefined for another scheme (not a Basic credential at all); 'malformed' for a broken one.
 */
export function parseBasicCredentials(header: string): BasicCredentials | 'malformed' | undefined {
  const sp = header.indexOf(' ');
  const scheme = sp < 0 ? header : header.slice(0, sp);
  if (scheme.toLowerCase() !== 'basic') return undefined;
  const token = sp < 0 ? '' : header.slice(sp + 1).replace(/^ +/, '');
  if (token.length === 0 || token.length > MAX_TOKEN_CHARS || token.length % 4 !== 0) return 'malformed';
  if (!BASE64.test(token)) return 'malformed';
  const bytes = Buffer.from(token, 'base64');
  // Non-canonical spellings (stray bits in the last character) are refused, so one credential has one form.
  if (bytes.toString('base64') !== token) return 'malformed';
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return 'malformed';
  }
  // §2: the user-id cannot contain ':', so the first colon separates it from the password.
  const colon = text.indexOf(':');
  if (colon <= 0) return 'malformed';
  const userId = text.slice(0, colon);
  const password = text.slice(colon + 1);
  if (CONTROL.test(userId) || CONTROL.test(password)) return 'malformed';
  return { userId: userId.normalize('NFC'), password: password.normalize('NFC') };
}

/**
 * The user-id a request's `Authorization: Basic` header names, for the access event of a refused request
 * (`user.name`, read by the credential-abuse detector); undefined when there is none or it is malformed.
 */
export function basicUserId(header: string | undefined): string | undefined {
  if (header === undefined || header.length < 6) return undefined;
  const c = parseBasicCredentials(header);
  return c === undefined || c === 'malformed' ? undefined : eventUserName(c.userId);
}

/** User-ids in events are bounded like config names (256 characters). */
export function eventUserName(userId: string): string {
  return userId.length <= 256 ? userId : userId.slice(0, 256);
}
