/**
 * A string that a schema's `pattern` accepts, for the common shapes of API patterns: literals, classes
 * (`[a-z]`, `\d`, `\w`), groups, top-level and grouped alternation (the first branch is taken), anchors and
 * the quantifiers `? * + {n} {n,} {n,m}` (the least count that is not zero, so the value is never empty where
 * the pattern allows more). Anything else (look-arounds, back-references, Unicode properties) gives
 * `undefined`, and the caller falls back to its own value.
 *
 * The pattern comes from the API document, never from a response; the walk is one pass over it.
 */

const MAX_PATTERN = 500;
const MAX_REPEAT = 64;

interface Cursor {
  readonly src: string;
  i: number;
}

class Unsupported extends Error {}

function classFirst(c: Cursor): string {
  // c.src[c.i] is just past '['.
  let negated = false;
  if (c.src[c.i] === '^') {
    negated = true;
    c.i++;
  }
  const members: string[] = [];
  while (c.i < c.src.length && c.src[c.i] !== ']') {
    const ch = c.src[c.i++];
    if (ch === '\\') {
      const e = c.src[c.i++];
      const cls = escapeChar(e);
      if (cls === undefined) throw new Unsupported();
      members.push(cls);
      continue;
    }
    if (c.src[c.i] === '-' && c.src[c.i + 1] !== ']' && c.i + 1 < c.src.length) {
      c.i += 2; // a range: its first character stands for it
    }
    members.push(ch);
  }
  if (c.src[c.i] !== ']') throw new Unsupported();
  c.i++;
  if (negated) {
    // A character outside the class: try a few plain ones.
    for (const candidate of ['a', 'x', '0', '1', 'Z']) {
      if (!members.some((m) => m === candidate)) return candidate;
    }
    throw new Unsupported();
  }
  if (members.length === 0) throw new Unsupported();
  return members[0];
}

/** One character an escape stands for (`\d` → `1`), or undefined when it is not a character escape. */
function escapeChar(e: string | undefined): string | undefined {
  switch (e) {
    case 'd':
      return '1';
    case 'w':
      return 'a';
    case 's':
      return ' ';
    case 'D':
    case 'W':
    case 'S':
      return e === 'D' ? 'a' : e === 'W' ? '-' : 'a';
    case 'n':
      return '\n';
    case 't':
      return '\t';
    case undefined:
      return undefined;
    default:
      return /[a-zA-Z0-9]/.test(e) ? undefined : e; // an escaped punctuation mark is itself
  }
}

function atom(c: Cursor): string {
  const ch = c.src[c.i++];
  switch (ch) {
    case '(': {
      if (c.src[c.i] === '?') {
        if (c.src[c.i + 1] === ':') c.i += 2;
        else throw new Unsupported(); // look-arounds and named groups
      }
      const inner = alternation(c);
      if (c.src[c.i] !== ')') throw new Unsupported();
      c.i++;
      return inner;
    }
    case '[':
      return classFirst(c);
    case '\\': {
      const e = c.src[c.i++];
      const out = escapeChar(e);
      if (out === undefined) throw new Unsupported();
      return out;
    }
    case '.':
      return 'a';
    case '^':
    case '$':
      return '';
    default:
      if (ch === undefined || ch === ')' || ch === '|' || '*+?{'.includes(ch)) throw new Unsupported();
      return ch;
  }
}

function quantified(c: Cursor, unit: string): string {
  const q = c.src[c.i];
  let count = 1;
  if (q === '?') {
    c.i++;
    count = 1;
  } else if (q === '*' || q === '+') {
    c.i++;
    count = 1;
  } else if (q === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(c.src.slice(c.i, c.i + 12));
    if (!m) return unit;
    c.i += m[0].length;
    const min = Number(m[1]);
    count = min === 0 ? (m[2] !== undefined && m[3] === '0' ? 0 : 1) : min;
    if (count > MAX_REPEAT) throw new Unsupported();
  } else return unit;
  if (c.src[c.i] === '?' || c.src[c.i] === '+') c.i++; // lazy or possessive: the same count
  return unit.repeat(count);
}

function sequence(c: Cursor): string {
  let out = '';
  while (c.i < c.src.length && c.src[c.i] !== '|' && c.src[c.i] !== ')') {
    out += quantified(c, atom(c));
  }
  return out;
}

function alternation(c: Cursor): string {
  const first = sequence(c);
  while (c.src[c.i] === '|') {
    c.i++;
    sequence(c); // parsed for its extent; the first branch is the value
  }
  return first;
}

/** A value the pattern matches, or undefined when the pattern uses what this walk does not know. */
export function sampleForPattern(pattern: string): string | undefined {
  if (pattern.length > MAX_PATTERN) return undefined;
  const c: Cursor = { src: pattern, i: 0 };
  try {
    const out = alternation(c);
    if (c.i !== pattern.length) return undefined;
    return out;
  } catch (err) {
    if (err instanceof Unsupported) return undefined;
    throw err;
  }
}
