/**
 * `@detectXSS` (issue 17): reads the input as HTML from five starting points — in text, and inside an
 * unquoted, single-, double- or backtick-quoted attribute value — and reports cross-site scripting as soon
 * as one reading meets markup that runs script: a tag that loads or runs code, an event-handler or
 * style attribute, a URL attribute whose value is a script/data URL, a doctype, or comment forms old
 * browsers executed. This is libinjection's decision (the library ModSecurity's operator runs), in our code.
 */
import { toByteString } from './bytes.ts';
import { type HtmlContext, HtmlLexer } from './html-lexer.ts';

const CONTEXTS: readonly HtmlContext[] = ['text', 'unquoted', "'", '"', '`'];

/**
 * Tags that load or run code, or change how the rest of the page is read: scripts and styles, plugins
 * (applet, embed, object), frames, base/link/meta (redirects, stylesheets), IE and Opera oddities
 * (comment, handler, import, isindex, listener, vmlframe, xml, xss, noscript).
 */
const DANGEROUS_TAGS = new Set([
  'APPLET',
  'BASE',
  'COMMENT',
  'EMBED',
  'FRAME',
  'FRAMESET',
  'HANDLER',
  'IFRAME',
  'IMPORT',
  'ISINDEX',
  'LINK',
  'LISTENER',
  'META',
  'NOSCRIPT',
  'OBJECT',
  'SCRIPT',
  'STYLE',
  'VMLFRAME',
  'XML',
  'XSS',
]);

/** What an attribute's value can do. */
type AttributeRisk = 'none' | 'always' | 'url' | 'style' | 'names-attribute';

/**
 * Attributes by risk: URL-valued ones run script with a `javascript:` (or data/view-source/vbscript) URL,
 * style-like ones run CSS expressions, IE data binding runs always, and SVG's attributeName can name an
 * event handler to animate.
 */
const ATTRIBUTES: ReadonlyMap<string, AttributeRisk> = new Map<string, AttributeRisk>([
  ['ACTION', 'url'],
  ['ATTRIBUTENAME', 'names-attribute'],
  ['BY', 'url'],
  ['BACKGROUND', 'url'],
  ['DATAFORMATAS', 'always'],
  ['DATASRC', 'always'],
  ['DYNSRC', 'url'],
  ['FILTER', 'style'],
  ['FORMACTION', 'url'],
  ['FOLDER', 'url'],
  ['FROM', 'url'],
  ['HANDLER', 'url'],
  ['HREF', 'url'],
  ['LOWSRC', 'url'],
  ['POSTER', 'url'],
  ['SRC', 'url'],
  ['STYLE', 'style'],
  ['TO', 'url'],
  ['VALUES', 'url'],
  ['XLINK:HREF', 'url'],
]);

/** URL schemes that run script or render attacker content (checked as prefixes: JAVA covers javascript:). */
const DANGEROUS_SCHEMES = ['DATA', 'VIEW-SOURCE', 'JAVA', 'VBSCRIPT'];

/** Tells whether `input` reads as cross-site scripting, the way libinjection's `libinjection_xss` decides. */
export function detectXSS(input: string): boolean {
  // Every reading that can answer true needs a `<` (a tag, comment or doctype in text) or an `=` (an
  // attribute's value after its name, in the attribute contexts): a value with neither is no XSS. The
  // UTF-8 bytes of characters above 0xFF are all ≥ 0x80, so the original string tells.
  if (input.indexOf('<') < 0 && input.indexOf('=') < 0) return false;
  return readsAsXssInSomeContext(input);
}

/** The readings alone, without the quick answer of detectXSS (exported for its test). */
export function readsAsXssInSomeContext(input: string): boolean {
  const s = toByteString(input);
  for (const context of CONTEXTS) if (readsAsXss(s, context)) return true;
  return false;
}

function readsAsXss(s: string, context: HtmlContext): boolean {
  const lexer = new HtmlLexer(s, context);
  let risk: AttributeRisk = 'none';
  while (lexer.next()) {
    const type = lexer.type;
    if (type !== 'attrValue') risk = 'none';
    switch (type) {
      case 'doctype':
        return true;
      case 'tagOpen':
        // Names shorter than three characters are never dangerous: skip the copy.
        if (lexer.length >= 3 && isDangerousTag(lexer.value)) return true;
        break;
      case 'attrName':
        risk = lexer.length >= 2 ? attributeRisk(lexer.value) : 'none';
        break;
      case 'attrValue': {
        const value = lexer.value;
        if (risk === 'always' || risk === 'style') return true;
        if (risk === 'url' && hasDangerousScheme(value)) return true;
        if (risk === 'names-attribute' && attributeRisk(value) !== 'none') return true;
        risk = 'none';
        break;
      }
      case 'comment':
        if (isDangerousComment(lexer.value)) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

/** Upper-cases ASCII letters and drops NULs (browsers of old ignored NULs inside names). */
function normalizeName(s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0) continue;
    out += c >= 0x61 && c <= 0x7a ? String.fromCharCode(c - 0x20) : s[i];
  }
  return out;
}

function isDangerousTag(name: string): boolean {
  if (name.length < 3) return false;
  if (DANGEROUS_TAGS.has(normalizeName(name))) return true;
  // Anything SVG (script, animation, foreignObject) and XSL(T) (runs its own script) is dangerous.
  const head = name.slice(0, 3).toUpperCase();
  return head === 'SVG' || head === 'XSL';
}

function attributeRisk(name: string): AttributeRisk {
  if (name.length < 2) return 'none';
  if (name.length >= 5) {
    // Event handlers (on*), and namespace declarations, which let any tag become an SVG/XLink one.
    if ((name[0] === 'o' || name[0] === 'O') && (name[1] === 'n' || name[1] === 'N')) return 'always';
    const head = normalizeName(name.slice(0, 5));
    if (head === 'XMLNS' || head === 'XLINK') return 'always';
  }
  return ATTRIBUTES.get(normalizeName(name)) ?? 'none';
}

/**
 * Whether an attribute value starts with a dangerous URL scheme once character references are decoded and
 * leading white space, control and non-ASCII bytes are skipped (browsers skip those too).
 */
function hasDangerousScheme(value: string): boolean {
  let i = 0;
  while (i < value.length) {
    const c = value.charCodeAt(i);
    if (c > 32 && c < 127) break;
    i++;
  }
  const rest = value.slice(i);
  for (const scheme of DANGEROUS_SCHEMES) if (decodedStartsWith(rest, scheme)) return true;
  return false;
}

/** Compares the start of `s`, with numeric character references decoded, to an upper-case `prefix`. */
function decodedStartsWith(s: string, prefix: string): boolean {
  let i = 0;
  let matched = 0;
  let first = true;
  while (i < s.length) {
    if (matched === prefix.length) return true;
    const [code, used] = decodeCharAt(s, i);
    i += used;
    // Leading white space and control characters are ignored; NULs and line feeds everywhere.
    if (first && code <= 32) continue;
    first = false;
    if (code === 0 || code === 10) continue;
    let c = code;
    if (c >= 0x61 && c <= 0x7a) c -= 0x20;
    if ((c & 0xff) !== prefix.charCodeAt(matched)) return false;
    matched++;
  }
  return matched === prefix.length;
}

/**
 * The character at `i` with numeric character references (`&#106;`, `&#x6A;`, the `;` optional) decoded:
 * [code, characters used]. Named references are left alone (`&` stays `&`).
 */
function decodeCharAt(s: string, i: number): [number, number] {
  const c = s.charCodeAt(i);
  if (c !== 0x26 || i + 1 >= s.length) return [c, 1];
  if (s[i + 1] !== '#') return [0x26, 1];
  const hex = s[i + 2] === 'x' || s[i + 2] === 'X';
  const radix = hex ? 16 : 10;
  let j = hex ? i + 3 : i + 2;
  const firstDigit = digitValue(s[j], radix);
  if (firstDigit < 0) return [0x26, 1];
  let value = firstDigit;
  j++;
  while (j < s.length) {
    if (s[j] === ';') return [value, j + 1 - i];
    const d = digitValue(s[j], radix);
    if (d < 0) return [value, j - i];
    value = value * radix + d;
    // Beyond any code point: not a reference.
    if (value > 0x1000ff) return [0x26, 1];
    j++;
  }
  return [value, j - i];
}

function digitValue(c: string | undefined, radix: number): number {
  if (c === undefined) return -1;
  if (c >= '0' && c <= '9') return c.charCodeAt(0) - 48;
  if (radix === 16) {
    if (c >= 'a' && c <= 'f') return c.charCodeAt(0) - 87;
    if (c >= 'A' && c <= 'F') return c.charCodeAt(0) - 55;
  }
  return -1;
}

/**
 * Comments that old browsers executed: IE's backtick-terminated tags and conditional comments
 * (`<!--[if`), `<?xml`/`<?import` processing instructions, and XML entity declarations.
 */
function isDangerousComment(text: string): boolean {
  if (text.includes('`')) return true;
  if (text.length > 3) {
    const head = text.slice(0, 3).toUpperCase();
    if (head === '[IF' || head === 'XML') return true;
  }
  if (text.length > 5) {
    const head = normalizeName(text.slice(0, 6));
    if (head === 'IMPORT' || head === 'ENTITY') return true;
  }
  return false;
}
