/**
 * `JSON.parse` for the bodies the gateway judges, safe from a defect of V8's parser (seen in Node 24.21,
 * absent from Node 20). Once an object shape whose member name holds a backslash has been parsed, a later
 * member name written with escapes can come back as that earlier name: after `{"x":{"a":1,"\\":2}}`, the
 * text `{"x":{"a":1,"\u0062":2}}` parses to `{"x":{"a":1,"\\":2}}`. Any client can set that up with one
 * request, and the gateway would then check a body other than the one the upstream reads: `"\u0024ne"`
 * is the `$ne` operator to MongoDB and a harmless `\\` to the gateway.
 *
 * A text without a backslash cannot be affected and goes to `JSON.parse` alone. A text with one is
 * validated by `JSON.parse` (same errors as before) and then read again by `readValidJson`, whose member
 * names are decoded here, one string at a time.
 */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  return text.indexOf('\\') === -1 ? value : readValidJson(text);
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** A container being filled, with the member name waiting for its value (objects). */
interface Open {
  readonly value: Record<string, unknown> | unknown[];
  readonly array: boolean;
  key: string | undefined;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

/** Sets a member as `JSON.parse` does: an own property, even for `__proto__`. */
function setMember(o: Record<string, unknown>, key: string, v: unknown): void {
  if (key === '__proto__')
    Object.defineProperty(o, key, { value: v, writable: true, enumerable: true, configurable: true });
  else o[key] = v;
}

/**
 * Builds the value of a text already known to be valid JSON. Iterative, so depth costs heap, not stack.
 * Strings without escapes are sliced; a string with escapes is decoded by `JSON.parse` as a lone string,
 * which never goes through the member-name path of the defect.
 */
export function readValidJson(text: string): unknown {
  const stack: Open[] = [];
  let root: unknown;
  let i = 0;
  const n = text.length;

  const place = (v: unknown): void => {
    const top = stack.at(-1);
    if (top === undefined) root = v;
    else if (top.array) (top.value as unknown[]).push(v);
    else {
      setMember(top.value as Record<string, unknown>, top.key!, v);
      top.key = undefined;
    }
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (isSpace(c) || c === 0x2c /* , */ || c === 0x3a /* : */) {
      i++;
      continue;
    }
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      const array = c === 0x5b;
      const value = array ? [] : {};
      place(value);
      stack.push({ value, array, key: undefined });
      i++;
      continue;
    }
    if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
      continue;
    }
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      for (;;) {
        const d = text.charCodeAt(j);
        if (d === QUOTE) break;
        if (d === BACKSLASH) {
          escaped = true;
          j += 2;
        } else j++;
      }
      const s = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
      i = j + 1;
      const top = stack.at(-1);
      if (top !== undefined && !top.array && top.key === undefined) top.key = s;
      else place(s);
      continue;
    }
    // true, false, null or a number: runs to the next delimiter.
    let j = i + 1;
    while (j < n) {
      const d = text.charCodeAt(j);
      if (d === 0x2c || d === 0x7d || d === 0x5d || isSpace(d)) break;
      j++;
    }
    const word = text.slice(i, j);
    place(word === 'true' ? true : word === 'false' ? false : word === 'null' ? null : Number(word));
    i = j;
  }
  return root;
}

/** Sixteen digits in a row: the shortest integer a double may not hold exactly (2^53 has sixteen). */
const LONG_DIGITS = /\d{16}/;
const MAX_NAME_IN_POINTER = 64;

interface Frame {
  readonly array: boolean;
  /** Array: index of the current item. Object: name of the current member (undefined before it is read). */
  at: number | string | undefined;
}

/**
 * The JSON pointer of the first integer literal in a valid JSON text that a double cannot hold exactly
 * (beyond ±(2^53−1)), or `undefined`. `JSON.parse` rounds such a literal: `9007199254740993` and
 * `9007199254740992` read as one number, while an upstream reading int64 or BigInt tells them apart, so
 * two account ids would collapse into one for every rule the gateway applies (issue 13 item 5). Only
 * plain integer literals count; a number written with a fraction or exponent is a double for everyone.
 */
export function unsafeIntegerAt(text: string): string | undefined {
  if (!LONG_DIGITS.test(text)) return undefined;
  const stack: Frame[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      stack.push({ array: c === 0x5b, at: c === 0x5b ? 0 : undefined });
      i++;
      continue;
    }
    if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      i++;
      continue;
    }
    if (c === 0x2c /* , */) {
      const top = stack.at(-1);
      if (top !== undefined) top.at = top.array ? (top.at as number) + 1 : undefined;
      i++;
      continue;
    }
    if (c === QUOTE) {
      let j = i + 1;
      let escaped = false;
      while (text.charCodeAt(j) !== QUOTE) {
        if (text.charCodeAt(j) === BACKSLASH) {
          escaped = true;
          j += 2;
        } else j++;
      }
      const top = stack.at(-1);
      if (top !== undefined && !top.array && top.at === undefined) {
        top.at = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
      }
      i = j + 1;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && /[0-9.eE+-]/.test(text[j])) j++;
      const literal = text.slice(i, j);
      if (/^-?\d{16,}$/.test(literal) && !Number.isSafeInteger(Number(literal))) return pointerOf(stack);
      i = j;
      continue;
    }
    i++; // whitespace, ':', true, false, null
  }
  return undefined;
}

function pointerOf(stack: readonly Frame[]): string {
  let out = '';
  for (const f of stack) {
    const name = String(f.at);
    const cut = name.length > MAX_NAME_IN_POINTER ? `${name.slice(0, MAX_NAME_IN_POINTER)}...` : name;
    out += `/${cut.replaceAll('~', '~0').replaceAll('/', '~1')}`;
  }
  return out;
}
