/**
 * A fast parser for the subset of YAML that OpenAPI documents are written in (block maps and sequences,
 * flow collections, plain, quoted and block scalars, comments), recording the line of every key and item.
 *
 * It is several times faster than a full YAML parser on large specs, which is what keeps `audit` fast. It
 * refuses anything outside the subset (anchors, aliases, tags, complex keys, several documents, tabs in
 * indentation...) by throwing `UnsupportedYaml`; the caller then falls back to the full `yaml` package. Scalars
 * resolve as in the YAML 1.2 core schema, like the `yaml` package's default.
 */
/** A JSON value as the spec readers produce it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonMap = { [key: string]: Json };

export class UnsupportedYaml extends Error {
  constructor(line: number, what: string) {
    super(`line ${line}: ${what}`);
    this.name = 'UnsupportedYaml';
  }
}

/** Lines (1-based) of each key of a map or item of a sequence. */
export type LineIndex = WeakMap<object, Map<string, number> | number[]>;

export interface FastParseResult {
  readonly value: Json;
  readonly lines: LineIndex;
}

interface Line {
  /** 1-based line number. */
  readonly no: number;
  readonly indent: number;
  /** Content after the indentation, comments removed, trailing spaces trimmed. */
  readonly text: string;
  /** The raw line (for block scalars, which keep `#` and spacing). */
  readonly raw: string;
}

const NULLS = new Set(['', '~', 'null', 'Null', 'NULL']);
const INT = /^[-+]?[0-9]+$/;
const FLOAT = /^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$/;

/** Resolves a plain scalar as the YAML 1.2 core schema does. */
export function resolvePlain(s: string): Json {
  if (NULLS.has(s)) return null;
  switch (s) {
    case 'true':
    case 'True':
    case 'TRUE':
      return true;
    case 'false':
    case 'False':
    case 'FALSE':
      return false;
    case '.inf':
    case '.Inf':
    case '.INF':
    case '+.inf':
    case '+.Inf':
    case '+.INF':
      return Number.POSITIVE_INFINITY;
    case '-.inf':
    case '-.Inf':
    case '-.INF':
      return Number.NEGATIVE_INFINITY;
    case '.nan':
    case '.NaN':
    case '.NAN':
      return Number.NaN;
  }
  const c = s.charCodeAt(0);
  // Only strings starting with a digit, sign or dot can be numbers.
  if ((c >= 48 && c <= 57) || c === 45 || c === 43 || c === 46) {
    if (INT.test(s)) return Number(s);
    if (FLOAT.test(s)) return Number(s);
    if (/^0o[0-7]+$/.test(s)) return Number.parseInt(s.slice(2), 8);
    if (/^0x[0-9a-fA-F]+$/.test(s)) return Number.parseInt(s.slice(2), 16);
  }
  return s;
}

const ESCAPES: Record<string, string> = {
  '0': '\0',
  a: '\x07',
  b: '\b',
  t: '\t',
  '\t': '\t',
  n: '\n',
  v: '\v',
  f: '\f',
  r: '\r',
  e: '\x1b',
  ' ': ' ',
  '"': '"',
  '/': '/',
  '\\': '\\',
  N: '\x85',
  _: '\xa0',
  L: '\u2028',
  P: '\u2029',
};

/** Parses spec text; throws UnsupportedYaml when the document leaves the supported subset. */
export function fastParse(text: string): FastParseResult {
  const fail = (no: number, what: string): never => {
    throw new UnsupportedYaml(no, what);
  };
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  // Splitting on a string is cheaper than on a regular expression; most files have no CR.
  const rawLines = body.includes('\r') ? body.split(/\r?\n/) : body.split('\n');
  const lines = splitLines(rawLines);
  const index: LineIndex = new WeakMap();
  let pos = 0;

  /** Parses the block value starting at lines[pos], whose content starts at column `col`. */
  const parseBlock = (col: number, first: string, no: number): Json => {
    if (first.startsWith('- ') || first === '-') return parseSeq(col, first, no);
    if (mapKey(first, no) !== undefined) return parseMap(col, first, no);
    pos++;
    return parseInlineValue(first, no, col - 1);
  };

  const parseSeq = (col: number, first: string, firstNo: number): Json[] => {
    const out: Json[] = [];
    const itemLines: number[] = [];
    index.set(out, itemLines);
    let text = first;
    let no = firstNo;
    for (;;) {
      itemLines.push(no);
      const rest = text === '-' ? '' : text.slice(2);
      const lead = rest.length - rest.trimStart().length;
      const body = rest.trimStart();
      if (body === '') {
        pos++;
        out.push(parseNested(col));
      } else if (body.startsWith('- ') || body === '-' || mapKey(body, no) !== undefined) {
        // A compact nested collection (`- key: value`, `- - item`) continues on lines indented to its column.
        out.push(parseBlock(col + 2 + lead, body, no));
      } else if (body[0] === '|' || body[0] === '>') {
        pos++;
        out.push(parseBlockScalar(body, col, no));
      } else {
        pos++;
        out.push(parseInlineValue(body, no, col));
      }
      const next = lines[pos];
      if (!next || next.indent !== col || !(next.text.startsWith('- ') || next.text === '-')) {
        if (next && next.indent > col) fail(next.no, 'unexpected indentation');
        return out;
      }
      text = next.text;
      no = next.no;
    }
  };

  const parseMap = (col: number, first: string, firstNo: number): JsonMap => {
    const out: JsonMap = {};
    const keyLines = new Map<string, number>();
    index.set(out, keyLines);
    let text = first;
    let no = firstNo;
    for (;;) {
      const k = mapKey(text, no);
      if (k === undefined) fail(no, 'expected a mapping key');
      const [key, rest] = k!;
      keyLines.set(key, no);
      pos++;
      let value: Json;
      if (rest === '') {
        const next = lines[pos];
        // `key:` followed by a sequence at the same indentation is allowed for sequences.
        if (next && next.indent === col && (next.text.startsWith('- ') || next.text === '-')) {
          value = parseSeq(col, next.text, next.no);
        } else value = parseNested(col);
      } else if (rest[0] === '|' || rest[0] === '>') value = parseBlockScalar(rest, col, no);
      else value = parseInlineValue(rest, no, col);
      if (key === '__proto__') fail(no, '__proto__ key');
      out[key] = value;
      const next = lines[pos];
      if (!next || next.indent < col) return out;
      if (next.indent > col) fail(next.no, 'unexpected indentation');
      text = next.text;
      no = next.no;
    }
  };

  /** The value of `key:` with nothing after the colon: a deeper block, or null. */
  const parseNested = (col: number): Json => {
    const next = lines[pos];
    if (!next || next.indent <= col) return null;
    return parseBlock(next.indent, next.text, next.no);
  };

  /** A value written after `key: ` or `- `: flow collection, quoted or plain scalar (maybe multi-line). */
  const parseInlineValue = (s: string, no: number, col: number): Json => {
    const c = s[0]!;
    if (c === '&' || c === '*' || c === '!' || c === '%' || c === '@' || c === '`' || c === '?') {
      fail(no, `unsupported indicator ${c}`);
    }
    if (c === '{' || c === '[') {
      // Flow collections may span lines: gather until brackets balance.
      const parts = [s];
      const balance = createFlowBalance();
      balance.feed(s);
      while (!balance.closed()) {
        const next = lines[pos];
        // Continuation lines are deeper than the key; only the closing bracket may come back left.
        if (!next || (next.indent <= col && next.text[0] !== ']' && next.text[0] !== '}')) {
          fail(no, 'unterminated flow collection');
        }
        parts.push(next!.text);
        balance.feed(next!.text);
        pos++;
      }
      return parseFlow(parts.join('\n'), no, index);
    }
    if (c === '"' || c === "'") {
      const [v, end] = c === '"' ? readDouble(s, 0, no) : readSingle(s, 0, no);
      if (s.slice(end).trim() !== '') fail(no, 'text after a quoted scalar');
      return v;
    }
    // Plain scalar, possibly continued on deeper lines (folded with spaces).
    let v = s;
    while (pos < lines.length && lines[pos]!.indent > col && !lines[pos]!.text.startsWith('#')) {
      const cont = lines[pos]!;
      if (cont.blankBefore) fail(cont.no, 'multi-line plain scalar with blank lines');
      if (mapKey(cont.text, cont.no) !== undefined) fail(cont.no, 'mapping inside a plain scalar');
      v += ` ${cont.text}`;
      pos++;
    }
    if (v.includes(': ') || v.endsWith(':') || v.includes(' #')) fail(no, 'ambiguous plain scalar');
    return resolvePlain(v);
  };

  /** `|` and `>` block scalars, with chomping indicators; explicit indentation indicators are refused. */
  const parseBlockScalar = (header: string, col: number, no: number): string => {
    const m = /^([|>])([-+]?)$/.exec(header);
    if (!m) fail(no, 'unsupported block scalar header');
    const folded = m![1] === '>';
    const chomp = m![2];
    // Block scalars keep blank lines and `#`: read the raw lines after the header.
    const body: string[] = [];
    let blockIndent = -1;
    let lastContent = no;
    for (let i = no; i < rawLines.length; i++) {
      const r = rawLines[i]!;
      if (r.trim() === '') {
        // Spaces beyond the block's indentation are content; shorter blank lines are empty lines.
        if (blockIndent >= 0 && r.length > blockIndent) {
          body.push(r.slice(blockIndent));
          lastContent = i + 1;
        } else body.push('');
        continue;
      }
      const ind = r.length - r.trimStart().length;
      if (blockIndent < 0) {
        if (ind <= col) break;
        if (/^ *\t/.test(r)) fail(i + 1, 'tab in block scalar indentation');
        blockIndent = ind;
      } else if (ind < blockIndent) break;
      body.push(r.slice(blockIndent));
      lastContent = i + 1;
    }
    while (pos < lines.length && lines[pos]!.no <= lastContent) pos++;
    let trailingBlank = 0;
    while (body.length > 0 && body[body.length - 1] === '') {
      body.pop();
      trailingBlank++;
    }
    if (body.length === 0) return chomp === '+' ? '\n'.repeat(trailingBlank) : '';
    let value = body[0]!;
    for (let i = 1; i < body.length; i++) {
      const line = body[i]!;
      const prev = body[i - 1]!;
      if (!folded) value += `\n${line}`;
      else if (line === '') value += '\n';
      else if (
        line.startsWith(' ') ||
        line.startsWith('\t') ||
        prev.startsWith(' ') ||
        prev.startsWith('\t')
      ) {
        // More-indented lines keep their line breaks when folding.
        value += `\n${line}`;
      } else if (prev === '') value += line;
      else value += ` ${line}`;
    }
    if (
      folded &&
      body.some((l, i) => l === '' && i > 0 && body[i - 1] !== '' && /^[ \t]/.test(body[i - 1]!))
    ) {
      fail(no, 'folded scalar mixing indented lines and blank lines');
    }
    if (chomp === '-') return value;
    if (chomp === '+') return `${value}\n${'\n'.repeat(trailingBlank)}`;
    return `${value}\n`;
  };

  if (lines.length === 0) return { value: null, lines: index };
  const start = lines[0]!;
  if (start.indent !== 0) fail(start.no, 'indented document');
  const value = parseBlock(0, start.text, start.no);
  if (pos < lines.length) fail(lines[pos]!.no, 'content after the document');
  return { value, lines: index };

  function splitLines(raw: string[]): (Line & { blankBefore?: boolean })[] {
    const out: (Line & { blankBefore?: boolean })[] = [];
    let blank = false;
    let inBlockScalarAbove = -1;
    for (let i = 0; i < raw.length; i++) {
      const line = raw[i]!;
      const content = line.trimStart();
      const indent = line.length - content.length;
      if (inBlockScalarAbove >= 0) {
        // Lines of a block scalar are read raw later; here they are skipped.
        if (content === '' || indent > inBlockScalarAbove) continue;
        inBlockScalarAbove = -1;
      }
      if (content === '' || content.startsWith('#')) {
        blank = true;
        continue;
      }
      if (/^[ ]*\t/.test(line)) fail(i + 1, 'tab in indentation');
      if (i === 0 || out.length === 0) {
        if (content.startsWith('%')) fail(i + 1, 'directive');
        if (content === '---') continue;
      }
      if (content === '---' || content === '...' || content.startsWith('--- '))
        fail(i + 1, 'several documents');
      const no = i + 1;
      let logical = content;
      let scan = scanLine(logical);
      // A quoted scalar that goes on over the next lines: fold them into this one (YAML 1.2 §7.3).
      while (scan.openQuote !== '') {
        let empties = 0;
        while (i + 1 < raw.length && raw[i + 1]!.trim() === '') {
          empties++;
          i++;
        }
        if (++i >= raw.length) fail(no, 'unterminated quoted scalar');
        const next = raw[i]!;
        const nextContent = next.replace(/^[ \t]+/, '');
        if (next.length - nextContent.length <= indent || nextContent.startsWith('#'))
          fail(i + 1, 'quoted scalar continued at or left of its key');
        if (scan.escapedBreak) {
          // `\` at the end of a double-quoted line: the break and the next line's indentation vanish.
          if (empties > 0) fail(i + 1, 'escaped line break before blank lines');
          logical = `${logical.slice(0, -1)}${nextContent}`;
        } else {
          // A break between two lines folds to a space, and each blank line between them to a newline.
          const kept = logical.replace(/[ \t]+$/, '');
          if (scan.openQuote === '"' && kept.endsWith('\\'))
            fail(no, 'escaped white space before a line break');
          logical = `${kept}${empties > 0 ? '\n'.repeat(empties) : ' '}${nextContent}`;
        }
        scan = scanLine(logical);
      }
      const stripped = stripComment(logical, scan);
      out.push({ no, indent, text: stripped, raw: line, blankBefore: blank && out.length > 0 });
      blank = false;
      // A block scalar header: the deeper lines that follow belong to it.
      if (
        BLOCK_HEADER_END.test(stripped) &&
        (/(?:^|:\s|^-\s)\s*[|>][-+]?$/.test(stripped) || /^-\s+[|>][-+]?$/.test(stripped))
      ) {
        inBlockScalarAbove = ownerColumn(indent, stripped);
      }
    }
    return out;
  }
}

/**
 * The column a block scalar's content must be deeper than: the key's column for `- key: |` (a compact map in a
 * sequence), the dash's column for `- |`.
 */
function ownerColumn(indent: number, text: string): number {
  let col = indent;
  let t = text;
  while (t.startsWith('- ')) {
    const after = t.slice(1);
    const rest = after.trimStart();
    if (rest[0] === '|' || rest[0] === '>') break;
    col += 1 + (after.length - rest.length);
    t = rest;
  }
  return col;
}

interface LineScan {
  /** Where a trailing comment starts, or -1. */
  readonly commentAt: number;
  /** The quote the line ends inside (`'` or `"`), or '' when every quote is closed. */
  readonly openQuote: string;
  /** The line ends inside a double-quoted scalar with an unescaped `\\` (an escaped line break). */
  readonly escapedBreak: boolean;
}

/** What `scanLine` finds on a line without quotes or `#`: nothing. */
const PLAIN_LINE: LineScan = { commentAt: -1, openQuote: '', escapedBreak: false };
/** The characters `scanLine` looks for; most lines of a spec have none. */
const QUOTE_OR_HASH = /['"#]/;
/** How a block scalar header line ends (`|`, `>`, `|-`, `>+`...): a cheap test before the full ones. */
const BLOCK_HEADER_END = /[|>][-+]?$/;

/** Finds, outside quotes, where a trailing comment (` #...`) starts, and whether a quote is left open. */
function scanLine(s: string): LineScan {
  if (!QUOTE_OR_HASH.test(s)) return PLAIN_LINE;
  let quote = '';
  // The last character outside quotes that is not white space: a quote opens a scalar only where a value
  // can start (line start, after `:`, `-`, `[`, `{` or `,`); elsewhere it is part of a plain scalar.
  let last = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (quote) {
      if (quote === '"' && c === '\\') {
        if (i === s.length - 1) return { commentAt: -1, openQuote: quote, escapedBreak: true };
        i++;
      } else if (c === quote) {
        if (quote === "'" && s[i + 1] === "'") i++;
        else quote = '';
      }
    } else if ((c === '"' || c === "'") && (i === 0 || /[\s[{,:]/.test(s[i - 1]!)) && opensValue(last)) {
      quote = c;
    } else if (c === '#' && (i === 0 || s[i - 1] === ' ' || s[i - 1] === '\t'))
      return { commentAt: i, openQuote: '', escapedBreak: false };
    if (c !== ' ' && c !== '\t') last = c;
  }
  return { commentAt: -1, openQuote: quote, escapedBreak: false };
}

function opensValue(last: string): boolean {
  return last === '' || last === ':' || last === '-' || last === '[' || last === '{' || last === ',';
}

/** Removes a trailing comment (` #...`) outside quotes. */
function stripComment(s: string, scan: LineScan): string {
  return scan.commentAt >= 0 ? s.slice(0, scan.commentAt).trimEnd() : s.trimEnd();
}

/** Splits `key: rest` (or `key:`); undefined when the text is not a mapping entry. */
function mapKey(s: string, no: number): [string, string] | undefined {
  const c = s[0];
  if (c === '"' || c === "'") {
    const [k, end] = c === '"' ? readDouble(s, 0, no) : readSingle(s, 0, no);
    if (s[end] !== ':' || (end + 1 < s.length && s[end + 1] !== ' ')) return undefined;
    return [k, s.slice(end + 1).trim()];
  }
  if (c === '{' || c === '[' || (c === '-' && (s[1] === ' ' || s.length === 1))) return undefined;
  let i = s.indexOf(': ');
  if (i < 0) {
    if (!s.endsWith(':')) return undefined;
    i = s.length - 1;
  }
  const key = s.slice(0, i);
  if (c === '?' || c === '&' || c === '*' || c === '!' || key.startsWith('<<')) {
    throw new UnsupportedYaml(no, 'complex key, anchor, alias, tag or merge key');
  }
  if (key.includes(' #') || key === '') throw new UnsupportedYaml(no, 'unusual key');
  const resolved = resolvePlain(key.trimEnd());
  if (resolved === null || typeof resolved === 'number') {
    // `null` and numeric keys become strings differently across parsers; keep exact text only for integers.
    if (typeof resolved === 'number' && INT.test(key) && String(resolved) === key)
      return [key, s.slice(i + 1).trim()];
    throw new UnsupportedYaml(no, 'null or non-integer numeric key');
  }
  return [String(resolved), s.slice(i + 1).trim()];
}

function readDouble(s: string, start: number, no: number): [string, number] {
  let out = '';
  for (let i = start + 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === '"') return [out, i + 1];
    if (c === '\\') {
      const e = s[++i]!;
      if (e === 'x' || e === 'u' || e === 'U') {
        const len = e === 'x' ? 2 : e === 'u' ? 4 : 8;
        const hex = s.slice(i + 1, i + 1 + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) throw new UnsupportedYaml(no, 'bad escape');
        out += String.fromCodePoint(Number.parseInt(hex, 16));
        i += len;
      } else if (e in ESCAPES) out += ESCAPES[e];
      else throw new UnsupportedYaml(no, 'bad escape');
    } else out += c;
  }
  throw new UnsupportedYaml(no, 'unterminated double-quoted scalar');
}

function readSingle(s: string, start: number, no: number): [string, number] {
  let out = '';
  for (let i = start + 1; i < s.length; i++) {
    const c = s[i]!;
    if (c === "'") {
      if (s[i + 1] === "'") {
        out += "'";
        i++;
      } else return [out, i + 1];
    } else out += c;
  }
  throw new UnsupportedYaml(no, 'unterminated single-quoted scalar');
}

/** Tracks bracket depth across the lines of a flow collection, outside quotes. */
function createFlowBalance() {
  let depth = 0;
  let quote = '';
  return {
    feed(s: string): void {
      for (let i = 0; i < s.length; i++) {
        const c = s[i]!;
        if (quote) {
          if (quote === '"' && c === '\\') i++;
          else if (c === quote) quote = '';
        } else if (c === '"' || c === "'") quote = c;
        else if (c === '{' || c === '[') depth++;
        else if (c === '}' || c === ']') depth--;
      }
    },
    closed: (): boolean => depth <= 0 && quote === '',
  };
}

/** Parses a flow collection (`{...}` or `[...]`), which may hold newlines (counted for line numbers). */
function parseFlow(src: string, firstNo: number, index: LineIndex): Json {
  return new FlowParser(src, firstNo, index).parse();
}

/** One flow collection; a class rather than closures, since specs hold thousands of small `{ ... }`. */
class FlowParser {
  private i = 0;
  private readonly src: string;
  private readonly firstNo: number;
  private readonly index: LineIndex;
  private breaks: number[] | undefined;

  constructor(src: string, firstNo: number, index: LineIndex) {
    this.src = src;
    this.firstNo = firstNo;
    this.index = index;
  }

  parse(): Json {
    const result = this.value();
    this.ws();
    if (this.i < this.src.length) this.fail('text after the collection');
    return result;
  }

  private lineAt(at: number): number {
    if (this.breaks === undefined) {
      this.breaks = [];
      for (let j = this.src.indexOf('\n'); j >= 0; j = this.src.indexOf('\n', j + 1)) this.breaks.push(j);
    }
    const breaks = this.breaks;
    let lo = 0;
    let hi = breaks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (breaks[mid]! < at) lo = mid + 1;
      else hi = mid;
    }
    return this.firstNo + lo;
  }

  private fail(what: string): never {
    throw new UnsupportedYaml(this.lineAt(this.i), `flow collection: ${what}`);
  }

  private ws(): void {
    const src = this.src;
    let i = this.i;
    for (let c = src.charCodeAt(i); c === 32 || c === 10 || c === 9 || c === 13; c = src.charCodeAt(++i));
    this.i = i;
  }

  private scalar(inMapKey: boolean): Json {
    this.ws();
    const src = this.src;
    const c = src[this.i];
    if (c === '"' || c === "'") {
      const [v, end] =
        c === '"'
          ? readDouble(src, this.i, this.lineAt(this.i))
          : readSingle(src, this.i, this.lineAt(this.i));
      this.i = end;
      return v;
    }
    if (
      c === '&' ||
      c === '*' ||
      c === '!' ||
      c === '?' ||
      c === '|' ||
      c === '>' ||
      c === '%' ||
      c === '@'
    ) {
      this.fail(`indicator ${c}`);
    }
    const startAt = this.i;
    let i = this.i;
    for (; i < src.length; i++) {
      const ch = src.charCodeAt(i);
      // , ] } newline end the scalar; so does ': ' (or ':' before , } newline).
      if (ch === 44 || ch === 93 || ch === 125 || ch === 10) break;
      if (ch === 58) {
        const n = src.charCodeAt(i + 1);
        if (n === 32 || n === 44 || n === 125 || n === 10) break;
      }
      if (ch === 35 && src.charCodeAt(i - 1) === 32) {
        this.i = i;
        this.fail('comment');
      }
      if (ch === 91 || ch === 123) {
        this.i = i;
        this.fail('bracket in plain scalar');
      }
    }
    this.i = i;
    const text = src.slice(startAt, i).trim();
    if (inMapKey) {
      const r = resolvePlain(text);
      if (r === null || (typeof r === 'number' && !(INT.test(text) && String(r) === text)))
        this.fail('unusual key');
      return String(r);
    }
    return resolvePlain(text);
  }

  private value(): Json {
    this.ws();
    const c = this.src.charCodeAt(this.i);
    if (c === 123) return this.map();
    if (c === 91) return this.seq();
    return this.scalar(false);
  }

  private map(): JsonMap {
    const out: JsonMap = {};
    const keyLines = new Map<string, number>();
    this.index.set(out, keyLines);
    const src = this.src;
    this.i++;
    for (;;) {
      this.ws();
      if (src.charCodeAt(this.i) === 125) {
        this.i++;
        return out;
      }
      const at = this.i;
      const key = this.scalar(true) as string;
      this.ws();
      if (src.charCodeAt(this.i) !== 58) this.fail('key without value');
      this.i++;
      const v = this.value();
      if (key === '__proto__') this.fail('__proto__ key');
      out[key] = v;
      keyLines.set(key, this.lineAt(at));
      this.ws();
      const c = src.charCodeAt(this.i);
      if (c === 44) this.i++;
      else if (c !== 125) this.fail('expected , or }');
    }
  }

  private seq(): Json[] {
    const out: Json[] = [];
    const itemLines: number[] = [];
    this.index.set(out, itemLines);
    const src = this.src;
    this.i++;
    for (;;) {
      this.ws();
      if (src.charCodeAt(this.i) === 93) {
        this.i++;
        return out;
      }
      itemLines.push(this.lineAt(this.i));
      const v = this.value();
      this.ws();
      const c = src.charCodeAt(this.i);
      if (c === 58) this.fail('single-pair mapping in a sequence');
      out.push(v);
      if (c === 44) this.i++;
      else if (c !== 93) this.fail('expected , or ]');
    }
  }
}
