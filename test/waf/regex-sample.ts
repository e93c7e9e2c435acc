/**
 * Strings that match a rule's `@rx` pattern, for the rule-derived differential set (issue 17): the PCRE
 * pattern as CRS writes it is parsed into a small tree (alternations, groups, classes, repeats) and walked
 * with a seeded generator, choosing one branch and a small repeat count at each step. Lookarounds, word
 * boundaries and anchors produce nothing; back references repeat nothing. The caller checks the result
 * against the pattern (`matchesPattern`) and draws again when it fails.
 */

type Node =
  | { readonly k: 'seq'; readonly items: Node[] }
  | { readonly k: 'alt'; readonly branches: Node[] }
  | { readonly k: 'lit'; readonly ch: string }
  | { readonly k: 'set'; readonly negated: boolean; readonly ranges: Array<[number, number]> }
  | { readonly k: 'rep'; readonly node: Node; readonly min: number; readonly max: number }
  | { readonly k: 'empty' };

const DIGIT: Array<[number, number]> = [[0x30, 0x39]];
const WORD: Array<[number, number]> = [
  [0x61, 0x7a],
  [0x41, 0x5a],
  [0x30, 0x39],
  [0x5f, 0x5f],
];
const SPACE: Array<[number, number]> = [
  [0x20, 0x20],
  [0x09, 0x0d],
];
/** Printable ASCII, the pool a negated class or `.` draws from first. */
const PRINTABLE: Array<[number, number]> = [[0x20, 0x7e]];

/** Complement of `ranges` within 0x00–0xff. */
function complement(ranges: ReadonlyArray<[number, number]>): Array<[number, number]> {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Array<[number, number]> = [];
  let next = 0;
  for (const [lo, hi] of sorted) {
    if (lo > next) out.push([next, lo - 1]);
    next = Math.max(next, hi + 1);
  }
  if (next <= 0xff) out.push([next, 0xff]);
  return out;
}

class Parser {
  i = 0;
  readonly src: string;
  constructor(src: string) {
    this.src = src;
  }

  parse(): Node {
    const node = this.alternation();
    if (this.i < this.src.length) throw new Error(`unbalanced ) at ${this.i}`);
    return node;
  }

  private alternation(): Node {
    const branches = [this.sequence()];
    while (this.src[this.i] === '|') {
      this.i++;
      branches.push(this.sequence());
    }
    return branches.length === 1 ? branches[0] : { k: 'alt', branches };
  }

  private sequence(): Node {
    const items: Node[] = [];
    while (this.i < this.src.length && this.src[this.i] !== '|' && this.src[this.i] !== ')') {
      const atom = this.atom();
      items.push(this.quantified(atom));
    }
    return { k: 'seq', items };
  }

  private quantified(atom: Node): Node {
    const s = this.src;
    let min: number;
    let max: number;
    const c = s[this.i];
    if (c === '*' || c === '+' || c === '?') {
      this.i++;
      [min, max] = c === '*' ? [0, Infinity] : c === '+' ? [1, Infinity] : [0, 1];
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(s.slice(this.i));
      if (m === null) return atom;
      this.i += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Infinity : Number(m[3]);
    } else return atom;
    // Lazy and possessive suffixes change how a match is found, not what matches.
    if (s[this.i] === '?' || s[this.i] === '+') this.i++;
    return this.quantified({ k: 'rep', node: atom, min, max });
  }

  private atom(): Node {
    const s = this.src;
    const c = s[this.i++];
    if (c === '(') return this.group();
    if (c === '[') return this.charClass();
    if (c === '.') return { k: 'set', negated: true, ranges: [[0x0a, 0x0a]] };
    if (c === '^' || c === '$') return { k: 'empty' };
    if (c === '\\') return this.escape(false);
    return { k: 'lit', ch: c };
  }

  private group(): Node {
    const s = this.src;
    let lookaround = false;
    if (s[this.i] === '?') {
      const rest = s.slice(this.i + 1);
      const flags = /^[a-zA-Z-]*\)/.exec(rest);
      if (flags !== null) {
        // (?i) and the like: a flag for what follows, matched case-insensitively by the caller.
        this.i += 1 + flags[0].length;
        return { k: 'empty' };
      }
      const head = /^(?::|\||>|=|!|<=|<!|P?<[A-Za-z_]\w*>|'[A-Za-z_]\w*'|[a-zA-Z-]+:)/.exec(rest);
      if (head === null) throw new Error(`unknown group at ${this.i}`);
      lookaround = /^(?:=|!|<=|<!)$/.test(head[0]);
      this.i += 1 + head[0].length;
    }
    const inner = this.alternation();
    if (s[this.i] !== ')') throw new Error(`missing ) at ${this.i}`);
    this.i++;
    return lookaround ? { k: 'empty' } : inner;
  }

  /** One escape after `\`: a set (`\d`), a character, or nothing (`\b`, back references). */
  private escape(inClass: boolean): Node {
    const s = this.src;
    const c = s[this.i++];
    switch (c) {
      case 'd':
        return { k: 'set', negated: false, ranges: DIGIT };
      case 'D':
        return { k: 'set', negated: true, ranges: DIGIT };
      case 'w':
        return { k: 'set', negated: false, ranges: WORD };
      case 'W':
        return { k: 'set', negated: true, ranges: WORD };
      case 's':
        return { k: 'set', negated: false, ranges: SPACE };
      case 'S':
        return { k: 'set', negated: true, ranges: SPACE };
      case 'n':
        return { k: 'lit', ch: '\n' };
      case 'r':
        return { k: 'lit', ch: '\r' };
      case 't':
        return { k: 'lit', ch: '\t' };
      case 'f':
        return { k: 'lit', ch: '\f' };
      case 'v':
        return { k: 'lit', ch: '\v' };
      case 'e':
        return { k: 'lit', ch: '\x1b' };
      case 'a':
        return { k: 'lit', ch: '\x07' };
      case 'x': {
        const m = /^\{([0-9a-fA-F]+)\}|^[0-9a-fA-F]{1,2}/.exec(s.slice(this.i));
        if (m === null) return { k: 'lit', ch: '\0' };
        this.i += m[0].length;
        return { k: 'lit', ch: String.fromCodePoint(Number.parseInt(m[1] ?? m[0], 16)) };
      }
      case '0': {
        const m = /^[0-7]{0,2}/.exec(s.slice(this.i)) as RegExpExecArray;
        this.i += m[0].length;
        return { k: 'lit', ch: String.fromCharCode(Number.parseInt(`0${m[0]}`, 8)) };
      }
      case 'b':
        return inClass ? { k: 'lit', ch: '\b' } : { k: 'empty' };
      case 'B':
      case 'A':
      case 'z':
      case 'Z':
      case 'G':
        return { k: 'empty' };
      default:
        if (/[1-9]/.test(c)) return { k: 'empty' };
        return { k: 'lit', ch: c };
    }
  }

  private charClass(): Node {
    const s = this.src;
    let negated = false;
    if (s[this.i] === '^') {
      negated = true;
      this.i++;
    }
    const ranges: Array<[number, number]> = [];
    let first = true;
    while (this.i < s.length && (s[this.i] !== ']' || first)) {
      first = false;
      const lo = this.classAtom();
      if (lo.k === 'set') {
        ranges.push(...(lo.negated ? complement(lo.ranges) : lo.ranges));
        continue;
      }
      const from = lo.k === 'lit' ? lo.ch.charCodeAt(0) : -1;
      if (from >= 0 && s[this.i] === '-' && s[this.i + 1] !== ']' && this.i + 1 < s.length) {
        this.i++;
        const hi = this.classAtom();
        if (hi.k === 'lit') {
          ranges.push([from, hi.ch.charCodeAt(0)]);
          continue;
        }
        ranges.push([from, from], [0x2d, 0x2d]);
        if (hi.k === 'set') ranges.push(...(hi.negated ? complement(hi.ranges) : hi.ranges));
        continue;
      }
      if (from >= 0) ranges.push([from, from]);
    }
    if (s[this.i] !== ']') throw new Error('missing ]');
    this.i++;
    return { k: 'set', negated, ranges };
  }

  private classAtom(): Node {
    const c = this.src[this.i++];
    if (c === '\\') return this.escape(true);
    return { k: 'lit', ch: c };
  }
}

/** Parses a PCRE pattern as CRS writes it. @throws on syntax this reader does not know. */
function parsePattern(pattern: string): Node {
  return new Parser(pattern).parse();
}

function drawFrom(ranges: ReadonlyArray<[number, number]>, r: () => number): string {
  const size = ranges.reduce((n, [lo, hi]) => n + Math.max(0, hi - lo + 1), 0);
  if (size === 0) return '';
  let k = Math.floor(r() * size);
  for (const [lo, hi] of ranges) {
    const n = hi - lo + 1;
    if (n <= 0) continue;
    if (k < n) return String.fromCharCode(lo + k);
    k -= n;
  }
  return '';
}

function intersect(a: ReadonlyArray<[number, number]>, b: ReadonlyArray<[number, number]>) {
  const out: Array<[number, number]> = [];
  for (const [alo, ahi] of a)
    for (const [blo, bhi] of b) {
      const lo = Math.max(alo, blo);
      const hi = Math.min(ahi, bhi);
      if (lo <= hi) out.push([lo, hi]);
    }
  return out;
}

function generate(node: Node, r: () => number, out: string[]): void {
  switch (node.k) {
    case 'seq':
      for (const item of node.items) generate(item, r, out);
      return;
    case 'alt':
      generate(node.branches[Math.floor(r() * node.branches.length)], r, out);
      return;
    case 'lit':
      out.push(node.ch);
      return;
    case 'empty':
      return;
    case 'set': {
      const allowed = node.negated ? complement(node.ranges) : node.ranges;
      // Printable characters first, so most samples survive headers and cookies.
      const printable = intersect(allowed, PRINTABLE);
      out.push(drawFrom(printable.length > 0 && r() < 0.9 ? printable : allowed, r));
      return;
    }
    case 'rep': {
      const span = Math.min(node.max, node.min + 3) - node.min;
      const n = node.min + Math.floor(r() * (span + 1));
      for (let i = 0; i < n; i++) generate(node.node, r, out);
      return;
    }
  }
}

/**
 * The pattern in JavaScript's dialect, to check a sample: a leading `(?i)` becomes the `i` flag, possessive
 * quantifiers greedy ones, branch-reset groups plain groups, `\z` the end.
 */
function toJs(pattern: string): RegExp | undefined {
  let src = pattern;
  let flags = 's';
  const lead = /^\(\?([a-z]+)\)/.exec(src);
  if (lead !== null) {
    if (lead[1].includes('i')) flags += 'i';
    src = src.slice(lead[0].length);
  }
  src = src
    .replace(/(?<!\\)([*+?}])\+/g, '$1')
    .replaceAll('(?|', '(?:')
    .replaceAll('\\z', '$')
    .replace(/\\x\{([0-9a-fA-F]+)\}/g, (_, h: string) => `\\u{${h}}`);
  try {
    return new RegExp(src, /\\u\{/.test(src) ? `${flags}u` : flags);
  } catch {
    return undefined;
  }
}

/** Whether `value` matches `pattern` (undefined when the pattern has no JavaScript equivalent). */
export function matchesPattern(pattern: string, value: string): boolean | undefined {
  return toJs(pattern)?.test(value);
}

/**
 * Up to `count` distinct samples that match `pattern`, drawn with `r`; fewer when draws keep failing the
 * check (or none when the pattern cannot be read).
 */
export function samplePattern(pattern: string, r: () => number, count: number): string[] {
  let tree: Node;
  try {
    tree = parsePattern(pattern);
  } catch {
    return [];
  }
  const check = toJs(pattern);
  const out = new Set<string>();
  for (let tries = 0; tries < count * 12 && out.size < count; tries++) {
    const parts: string[] = [];
    generate(tree, r, parts);
    const s = parts.join('');
    if (s.length === 0 || s.length > 2000) continue;
    if (check === undefined || check.test(s)) out.add(s);
  }
  return [...out];
}
