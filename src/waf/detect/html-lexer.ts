/**
 * A small HTML5 tokenizer for `@detectXSS` (issue 17): it follows the states of the WHATWG tokenizer that
 * matter for finding markup in a value — text, tags, attribute names and values, comments, doctype,
 * CDATA — plus the old-browser quirks libinjection honours (NULs ignored in names, backtick-quoted values,
 * `<% %>` comments). It can start inside an attribute value, so a value that breaks out of one is read
 * the way the browser would read it. Code of ours; each state moves forward, so the work is linear.
 */

export type HtmlTokenType =
  | 'text'
  | 'tagOpen'
  | 'tagNameClose'
  | 'tagClose'
  | 'selfClose'
  | 'attrName'
  | 'attrValue'
  | 'comment'
  | 'doctype';

/** Where reading starts: in text, or inside an attribute value (unquoted or quoted). */
export type HtmlContext = 'text' | 'unquoted' | "'" | '"' | '`';

type State =
  | 'eof'
  | 'data'
  | 'tagOpen'
  | 'endTagOpen'
  | 'tagName'
  | 'tagNameClose'
  | 'beforeAttrName'
  | 'attrName'
  | 'afterAttrName'
  | 'beforeAttrValue'
  | 'valueQuoted'
  | 'valueUnquoted'
  | 'afterValueQuoted'
  | 'selfClosingStart'
  | 'bogusComment'
  | 'percentComment'
  | 'markupDeclaration'
  | 'comment'
  | 'cdata'
  | 'doctype';

/** HTML white space (and vertical tab, which old IE took as one). */
function isWhite(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r';
}

function isAsciiLetter(c: string): boolean {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

export class HtmlLexer {
  private readonly s: string;
  private pos = 0;
  private state: State;
  private quote = '"';
  /** Inside `</...`: the name ends a closing tag. */
  private closing = false;
  type: HtmlTokenType = 'text';
  start = 0;
  length = 0;

  constructor(s: string, context: HtmlContext) {
    this.s = s;
    switch (context) {
      case 'text':
        this.state = 'data';
        break;
      case 'unquoted':
        this.state = 'beforeAttrName';
        break;
      default:
        this.state = 'valueQuoted';
        this.quote = context;
    }
  }

  /** The current token's text. */
  get value(): string {
    return this.s.slice(this.start, this.start + this.length);
  }

  private emit(type: HtmlTokenType, start: number, length: number): boolean {
    this.type = type;
    this.start = start;
    this.length = length;
    return true;
  }

  /** Advances to the next token; false at the end of the input. */
  next(): boolean {
    const s = this.s;
    for (;;) {
      switch (this.state) {
        case 'eof':
          return false;
        case 'data': {
          const lt = s.indexOf('<', this.pos);
          if (lt === -1) {
            this.state = 'eof';
            if (s.length - this.pos === 0) return false;
            return this.emit('text', this.pos, s.length - this.pos);
          }
          const start = this.pos;
          this.pos = lt + 1;
          this.state = 'tagOpen';
          if (lt - start === 0) continue;
          return this.emit('text', start, lt - start);
        }
        case 'tagOpen': {
          if (this.pos >= s.length) return false;
          const c = s[this.pos];
          if (c === '!') {
            this.pos++;
            this.state = 'markupDeclaration';
          } else if (c === '/') {
            this.pos++;
            this.closing = true;
            this.state = 'endTagOpen';
          } else if (c === '?') {
            this.pos++;
            this.state = 'bogusComment';
          } else if (c === '%') {
            // `<% ... %>`: not HTML5, but old IE and Safari read it as a comment.
            this.pos++;
            this.state = 'percentComment';
          } else if (isAsciiLetter(c) || c === '\u0000') {
            this.state = 'tagName';
          } else {
            // A `<` that opens nothing is text.
            if (this.pos === 0) {
              this.state = 'data';
              continue;
            }
            this.state = 'data';
            return this.emit('text', this.pos - 1, 1);
          }
          continue;
        }
        case 'endTagOpen': {
          if (this.pos >= s.length) return false;
          const c = s[this.pos];
          if (c === '>') {
            this.state = 'data';
          } else if (isAsciiLetter(c)) {
            this.state = 'tagName';
          } else {
            this.closing = false;
            this.state = 'bogusComment';
          }
          continue;
        }
        case 'tagName': {
          let p = this.pos;
          while (p < s.length) {
            const c = s[p];
            // NULs inside a tag name are skipped over (old browsers ignored them).
            if (c !== '\u0000' && (isWhite(c) || c === '/' || c === '>')) break;
            p++;
          }
          const start = this.pos;
          if (p >= s.length) {
            this.state = 'eof';
            return this.emit('tagOpen', start, s.length - start);
          }
          const c = s[p];
          if (isWhite(c)) {
            this.pos = p + 1;
            this.state = 'beforeAttrName';
            return this.emit('tagOpen', start, p - start);
          }
          if (c === '/') {
            this.pos = p + 1;
            this.state = 'selfClosingStart';
            return this.emit('tagOpen', start, p - start);
          }
          // '>'
          if (this.closing) {
            this.pos = p + 1;
            this.closing = false;
            this.state = 'data';
            return this.emit('tagClose', start, p - start);
          }
          this.pos = p;
          this.state = 'tagNameClose';
          return this.emit('tagOpen', start, p - start);
        }
        case 'tagNameClose': {
          this.closing = false;
          const start = this.pos;
          this.pos++;
          this.state = this.pos < s.length ? 'data' : 'eof';
          return this.emit('tagNameClose', start, 1);
        }
        case 'beforeAttrName': {
          const c = this.skipWhite();
          if (c === undefined) return false;
          if (c === '/') {
            this.pos++;
            // `/` not followed by `>` is ignored: read on for the next attribute.
            if (this.pos < s.length && s[this.pos] !== '>') continue;
            this.state = 'selfClosingStart';
            continue;
          }
          if (c === '>') {
            this.state = 'data';
            const start = this.pos;
            this.pos++;
            return this.emit('tagNameClose', start, 1);
          }
          this.state = 'attrName';
          continue;
        }
        case 'attrName': {
          // The first character belongs to the name whatever it is (even `=`).
          let p = this.pos + 1;
          while (p < s.length) {
            const c = s[p];
            if (isWhite(c) || c === '/' || c === '=' || c === '>') break;
            p++;
          }
          const start = this.pos;
          if (p >= s.length) {
            this.state = 'eof';
            this.pos = s.length;
            return this.emit('attrName', start, s.length - start);
          }
          const c = s[p];
          if (c === '>') {
            this.pos = p;
            this.state = 'tagNameClose';
          } else {
            this.pos = p + 1;
            this.state = isWhite(c) ? 'afterAttrName' : c === '/' ? 'selfClosingStart' : 'beforeAttrValue';
          }
          return this.emit('attrName', start, p - start);
        }
        case 'afterAttrName': {
          const c = this.skipWhite();
          if (c === undefined) return false;
          if (c === '/') {
            this.pos++;
            this.state = 'selfClosingStart';
          } else if (c === '=') {
            this.pos++;
            this.state = 'beforeAttrValue';
          } else if (c === '>') {
            this.state = 'tagNameClose';
          } else {
            this.state = 'attrName';
          }
          continue;
        }
        case 'beforeAttrValue': {
          const c = this.skipWhite();
          if (c === undefined) {
            this.state = 'eof';
            return false;
          }
          if (c === '"' || c === "'" || c === '`') {
            this.quote = c;
            this.state = 'valueQuoted';
          } else {
            this.state = 'valueUnquoted';
          }
          continue;
        }
        case 'valueQuoted': {
          // Skip the opening quote, unless reading started inside the value (then there is none).
          if (this.pos > 0) this.pos++;
          const start = this.pos;
          const close = s.indexOf(this.quote, start);
          if (close === -1) {
            this.state = 'eof';
            return this.emit('attrValue', start, s.length - start);
          }
          this.pos = close + 1;
          this.state = 'afterValueQuoted';
          return this.emit('attrValue', start, close - start);
        }
        case 'valueUnquoted': {
          let p = this.pos;
          while (p < s.length && !isWhite(s[p]) && s[p] !== '>') p++;
          const start = this.pos;
          if (p >= s.length) {
            this.state = 'eof';
            return this.emit('attrValue', start, s.length - start);
          }
          if (s[p] === '>') {
            this.pos = p;
            this.state = 'tagNameClose';
          } else {
            this.pos = p + 1;
            this.state = 'beforeAttrName';
          }
          return this.emit('attrValue', start, p - start);
        }
        case 'afterValueQuoted': {
          if (this.pos >= s.length) return false;
          const c = s[this.pos];
          if (isWhite(c)) {
            this.pos++;
            this.state = 'beforeAttrName';
          } else if (c === '/') {
            this.pos++;
            this.state = 'selfClosingStart';
          } else if (c === '>') {
            const start = this.pos;
            this.pos++;
            this.state = 'data';
            return this.emit('tagNameClose', start, 1);
          } else {
            this.state = 'beforeAttrName';
          }
          continue;
        }
        case 'selfClosingStart': {
          if (this.pos >= s.length) return false;
          if (s[this.pos] === '>') {
            const start = this.pos - 1;
            this.pos++;
            this.state = 'data';
            return this.emit('selfClose', start, 2);
          }
          this.state = 'beforeAttrName';
          continue;
        }
        case 'bogusComment': {
          const start = this.pos;
          const gt = s.indexOf('>', start);
          if (gt === -1) {
            this.pos = s.length;
            this.state = 'eof';
            return this.emit('comment', start, s.length - start);
          }
          this.pos = gt + 1;
          this.state = 'data';
          return this.emit('comment', start, gt - start);
        }
        case 'percentComment': {
          const start = this.pos;
          const end = s.indexOf('%>', start);
          if (end === -1) {
            this.pos = s.length;
            this.state = 'eof';
            return this.emit('comment', start, s.length - start);
          }
          this.pos = end + 2;
          this.state = 'data';
          return this.emit('comment', start, end - start);
        }
        case 'markupDeclaration': {
          const rest = s.length - this.pos;
          if (rest >= 7 && s.slice(this.pos, this.pos + 7).toUpperCase() === 'DOCTYPE') {
            this.state = 'doctype';
          } else if (rest >= 7 && s.startsWith('[CDATA[', this.pos)) {
            this.pos += 7;
            this.state = 'cdata';
          } else if (rest >= 2 && s[this.pos] === '-' && s[this.pos + 1] === '-') {
            this.pos += 2;
            this.state = 'comment';
          } else {
            this.state = 'bogusComment';
          }
          continue;
        }
        case 'comment':
          return this.readComment();
        case 'cdata': {
          const start = this.pos;
          const end = s.indexOf(']]>', start);
          if (end === -1) {
            this.state = 'eof';
            return this.emit('text', start, s.length - start);
          }
          this.pos = end + 3;
          this.state = 'data';
          return this.emit('text', start, end - start);
        }
        case 'doctype': {
          const start = this.pos;
          const gt = s.indexOf('>', start);
          if (gt === -1) {
            this.state = 'eof';
            return this.emit('doctype', start, s.length - start);
          }
          this.pos = gt + 1;
          this.state = 'data';
          return this.emit('doctype', start, gt - start);
        }
      }
    }
  }

  /** `<!-- ... -->`, also closed by `--!>`; NULs between the dashes are ignored. */
  private readComment(): boolean {
    const s = this.s;
    const start = this.pos;
    let from = start;
    for (;;) {
      const dash = s.indexOf('-', from);
      // Fewer than three characters left: the comment runs to the end.
      if (dash === -1 || dash > s.length - 3) break;
      let p = dash + 1;
      while (p < s.length && s[p] === '\u0000') p++;
      if (p === s.length) break;
      if (s[p] !== '-' && s[p] !== '!') {
        from = dash + 1;
        continue;
      }
      p++;
      if (p === s.length) break;
      if (s[p] !== '>') {
        from = dash + 1;
        continue;
      }
      this.pos = p + 1;
      this.state = 'data';
      return this.emit('comment', start, dash - start);
    }
    this.state = 'eof';
    return this.emit('comment', start, s.length - start);
  }

  /** Skips white space and NULs (IE skipped those too); returns the next character, if any. */
  private skipWhite(): string | undefined {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\v' || c === '\f' || c === '\r' || c === '\u0000') {
        this.pos++;
      } else {
        return c;
      }
    }
    return undefined;
  }
}
