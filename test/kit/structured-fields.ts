/**
 * A strict parser for RFC 9651 Structured Field Lists, used by the tests to prove that every RateLimit header
 * the gateway emits is well-formed. Throws on anything the RFC's parsing algorithm (§4.2) would fail on.
 */

export type BareItem = number | string | boolean | Uint8Array | { token: string } | { date: number };
export interface SfItem {
  value: BareItem;
  params: Map<string, BareItem>;
}
export interface SfInnerList {
  items: SfItem[];
  params: Map<string, BareItem>;
}

class Parser {
  i = 0;
  readonly s: string;
  constructor(s: string) {
    this.s = s;
  }
  fail(what: string): never {
    throw new SyntaxError(`structured field: ${what} at ${this.i} in ${JSON.stringify(this.s)}`);
  }
  peek(): string {
    return this.s[this.i] ?? '';
  }
  skipSp(): void {
    while (this.peek() === ' ') this.i++;
  }
  skipOws(): void {
    while (this.peek() === ' ' || this.peek() === '\t') this.i++;
  }
  list(): Array<SfItem | SfInnerList> {
    const out: Array<SfItem | SfInnerList> = [];
    this.skipSp();
    while (this.i < this.s.length) {
      out.push(this.peek() === '(' ? this.innerList() : this.item());
      this.skipOws();
      if (this.i >= this.s.length) return out;
      if (this.peek() !== ',') this.fail('expected ","');
      this.i++;
      this.skipOws();
      if (this.i >= this.s.length) this.fail('trailing ","');
    }
    return out;
  }
  innerList(): SfInnerList {
    this.i++;
    const items: SfItem[] = [];
    for (;;) {
      this.skipSp();
      if (this.peek() === ')') {
        this.i++;
        return { items, params: this.params() };
      }
      items.push(this.item());
      if (this.peek() !== ' ' && this.peek() !== ')') this.fail('expected SP or ")"');
    }
  }
  item(): SfItem {
    return { value: this.bare(), params: this.params() };
  }
  params(): Map<string, BareItem> {
    const p = new Map<string, BareItem>();
    while (this.peek() === ';') {
      this.i++;
      this.skipSp();
      const k = this.key();
      let v: BareItem = true;
      if (this.peek() === '=') {
        this.i++;
        v = this.bare();
      }
      p.set(k, v);
    }
    return p;
  }
  key(): string {
    const m = /^[a-z*][a-z0-9_\-.*]*/.exec(this.s.slice(this.i));
    if (m === null) this.fail('expected a key');
    this.i += m[0].length;
    return m[0];
  }
  bare(): BareItem {
    const c = this.peek();
    if (c === '-' || (c >= '0' && c <= '9')) return this.number();
    if (c === '"') return this.string();
    if (c === ':') return this.bytes();
    if (c === '?') return this.boolean();
    if (c === '@') {
      this.i++;
      const n = this.number();
      if (!Number.isInteger(n)) this.fail('date must be an integer');
      return { date: n };
    }
    if (c === '*' || /[A-Za-z]/.test(c)) {
      const m = /^[A-Za-z*][A-Za-z0-9!#$%&'*+\-.^_`|~:/]*/.exec(this.s.slice(this.i))!;
      this.i += m[0].length;
      return { token: m[0] };
    }
    return this.fail('unknown item type');
  }
  number(): number {
    const m = /^-?[0-9]+(\.[0-9]+)?/.exec(this.s.slice(this.i));
    if (m === null) this.fail('expected a number');
    const [text, frac] = [m[0], m[1]];
    const intDigits = text.replace('-', '').split('.')[0].length;
    if (frac === undefined && intDigits > 15) this.fail('integer too long');
    if (frac !== undefined && (intDigits > 12 || frac.length - 1 > 3)) this.fail('decimal too long');
    this.i += text.length;
    return Number(text);
  }
  string(): string {
    this.i++;
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === '') this.fail('unterminated string');
      this.i++;
      if (c === '"') return out;
      if (c === '\\') {
        const n = this.peek();
        if (n !== '"' && n !== '\\') this.fail('bad escape');
        out += n;
        this.i++;
      } else if (c < ' ' || c > '~') this.fail('non-printable character in string');
      else out += c;
    }
  }
  bytes(): Uint8Array {
    const end = this.s.indexOf(':', this.i + 1);
    if (end === -1) this.fail('unterminated byte sequence');
    const b64 = this.s.slice(this.i + 1, end);
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) this.fail('bad base64');
    this.i = end + 1;
    return Buffer.from(b64, 'base64');
  }
  boolean(): boolean {
    const v = this.s.slice(this.i, this.i + 2);
    if (v !== '?0' && v !== '?1') this.fail('bad boolean');
    this.i += 2;
    return v === '?1';
  }
}

/** Parses a Structured Field List (all field lines joined with ", " as RFC 9651 §4.2 says). */
export function parseList(value: string | string[]): Array<SfItem | SfInnerList> {
  const text = Array.isArray(value) ? value.join(', ') : value;
  return new Parser(text).list();
}

/** Parses a List whose members must all be Items, as the RateLimit fields require. */
export function parseItemList(value: string | string[]): SfItem[] {
  const list = parseList(value);
  for (const m of list) if ('items' in m) throw new SyntaxError('inner list where an item was expected');
  return list as SfItem[];
}
