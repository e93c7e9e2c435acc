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
