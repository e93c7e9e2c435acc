/**
 * The XML request body as libmodsecurity's XML processor hands it to the rules (issue 17): CRS reads it
 * through two XPath targets only, `XML:/*` (the text content of the root element: every text and CDATA
 * node under it, in document order, entities decoded) and `XML://@*` (every attribute value). This is a
 * small non-validating reader in one left-to-right pass (linear time, depth bounded like libxml2's 256):
 * elements, attributes, text, CDATA, comments, processing instructions and a DOCTYPE (skipped; its
 * entities are not expanded). A document that is not well-formed (unclosed or mismatched tags, text
 * outside the root, bad references, invalid UTF-8) is read up to its first error and marked so: like
 * libmodsecurity, which runs the XPath targets on the partial tree libxml2 built before it stopped (measured
 * against libmodsecurity 3.0.9). Without a root element there is nothing (undefined).
 * Input and output are byte strings (latin1): the text keeps the document's UTF-8 bytes.
 */

/** What the rules see of a well-formed document. */
export interface XmlContent {
  /** `XML:/*`: the root element's text content. */
  readonly text: string;
  /** `XML://@*`: attribute values in document order. */
  readonly attributes: readonly string[];
  /** False when the document has an error: the rest is what came before it. */
  readonly wellFormed: boolean;
}

/** libxml2's default nesting limit (without XML_PARSE_HUGE). */
const MAX_DEPTH = 256;

const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

const NAME_START = /[A-Za-z_:\u0080-\u00ff]/;
const NAME_CHAR = /[A-Za-z0-9_:.\-\u0080-\u00ff]/;
const SPACE = /[ \t\r\n]/;

function utf8Bytes(codePoint: number): string {
  return Buffer.from(String.fromCodePoint(codePoint), 'utf8').toString('latin1');
}

/** The length of the longest prefix of the byte string that is valid UTF-8. */
function validUtf8Prefix(bytes: string): number {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = String.prototype.charCodeAt.call(bytes, i);
    if (b < 0x80) {
      i++;
      continue;
    }
    const len = b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (len === 0 || i + len > n) return i;
    const b1 = String.prototype.charCodeAt.call(bytes, i + 1);
    // The second byte's range excludes overlong forms, surrogates and code points above U+10FFFF.
    const lo = b === 0xe0 ? 0xa0 : b === 0xf0 ? 0x90 : 0x80;
    const hi = b === 0xed ? 0x9f : b === 0xf4 ? 0x8f : 0xbf;
    if (b1 < lo || b1 > hi) return i;
    for (let k = 2; k < len; k++) {
      const bk = String.prototype.charCodeAt.call(bytes, i + k);
      if (bk < 0x80 || bk > 0xbf) return i;
    }
    i += len;
  }
  return n;
}

/** The declared encoding of an XML declaration, lower case, or undefined. */
function declaredEncoding(doc: string): string | undefined {
  const m = /^<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(doc.slice(0, 200));
  return m?.[1].toLowerCase();
}

/**
 * Reads an XML document given as bytes.
 * @example readXml('<a x="1">hi<b>there</b></a>') // { text: 'hithere', attributes: ['1'] }
 */
export function readXml(bytes: string): XmlContent | undefined {
  let doc = bytes.startsWith('\xef\xbb\xbf') ? bytes.slice(3) : bytes;
  const encoding = declaredEncoding(doc);
  if (encoding === 'iso-8859-1' || encoding === 'latin1' || encoding === 'latin-1') {
    // libxml2 converts to UTF-8 before the rules see anything.
    doc = Buffer.from(doc, 'utf8').toString('latin1');
  }
  // Bytes past the first invalid UTF-8 sequence are never read: the parse stops there.
  const valid = validUtf8Prefix(doc);
  const truncated = valid < doc.length;
  // End-of-line handling: CR LF and a lone CR read as LF.
  doc = doc.slice(0, valid).replace(/\r\n?/g, '\n');
  const n = doc.length;
  let i = 0;
  let text = '';
  const attributes: string[] = [];
  const open: string[] = [];
  let rootSeen = false;
  let hasDoctype = false;
  /** The tree as built up to an error: nothing without a root element. */
  const fail = (): XmlContent | undefined => (rootSeen ? { text, attributes, wellFormed: false } : undefined);

  /** Decodes the reference at `i` (just after `&`); undefined when malformed. */
  const reference = (): string | undefined => {
    const end = doc.indexOf(';', i);
    if (end < 0 || end - i > 32) return undefined;
    const ref = doc.slice(i, end);
    i = end + 1;
    if (ref.startsWith('#')) {
      const cp = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      const digits = ref[1] === 'x' ? /^#x[0-9A-Fa-f]+$/ : /^#[0-9]+$/;
      if (!digits.test(ref) || !(cp >= 1 && cp <= 0x10ffff) || (cp >= 0xd800 && cp <= 0xdfff))
        return undefined;
      return utf8Bytes(cp);
    }
    const known = PREDEFINED[ref];
    if (known !== undefined) return known;
    // An entity of a DOCTYPE we do not expand reads as nothing; without a DOCTYPE it is an error.
    return hasDoctype && /^[A-Za-z_:][A-Za-z0-9_:.-]*$/.test(ref) ? '' : undefined;
  };

  const readName = (): string | undefined => {
    if (i >= n || !NAME_START.test(doc[i])) return undefined;
    const start = i++;
    while (i < n && NAME_CHAR.test(doc[i])) i++;
    return doc.slice(start, i);
  };

  const skipSpace = () => {
    while (i < n && SPACE.test(doc[i])) i++;
  };

  while (i < n) {
    const c = doc[i];
    if (c !== '<') {
      if (open.length === 0) {
        // Outside the root only white space may stand.
        if (!SPACE.test(c)) return fail();
        i++;
        continue;
      }
      if (c === '&') {
        i++;
        const decoded = reference();
        if (decoded === undefined) return fail();
        text += decoded;
        continue;
      }
      const next = doc.indexOf('<', i);
      const end = next < 0 ? n : next;
      let chunk = doc.slice(i, end);
      const amp = chunk.indexOf('&');
      if (amp >= 0) chunk = chunk.slice(0, amp);
      if (chunk.includes(']]>')) return fail();
      text += chunk;
      i += chunk.length;
      continue;
    }
    if (doc.startsWith('<!--', i)) {
      const end = doc.indexOf('-->', i + 4);
      if (end < 0) return fail();
      i = end + 3;
      continue;
    }
    if (doc.startsWith('<?', i)) {
      const end = doc.indexOf('?>', i + 2);
      if (end < 0) return fail();
      i = end + 2;
      continue;
    }
    if (doc.startsWith('<![CDATA[', i)) {
      if (open.length === 0) return fail();
      const end = doc.indexOf(']]>', i + 9);
      if (end < 0) return fail();
      text += doc.slice(i + 9, end);
      i = end + 3;
      continue;
    }
    if (doc.startsWith('<!DOCTYPE', i)) {
      if (rootSeen || hasDoctype) return fail();
      hasDoctype = true;
      const bracket = doc.indexOf('[', i);
      const close = doc.indexOf('>', i);
      if (close < 0) return fail();
      if (bracket >= 0 && bracket < close) {
        const end = doc.indexOf(']', bracket);
        const gt = end < 0 ? -1 : doc.indexOf('>', end);
        if (gt < 0) return fail();
        i = gt + 1;
      } else i = close + 1;
      continue;
    }
    if (doc[i + 1] === '/') {
      i += 2;
      const name = readName();
      skipSpace();
      if (name === undefined || doc[i] !== '>' || open[open.length - 1] !== name) return fail();
      open.pop();
      i++;
      continue;
    }
    // A start tag.
    i++;
    if (open.length === 0 && rootSeen) return fail();
    if (open.length > 0 && !rootSeen) return fail();
    const name = readName();
    if (name === undefined) return fail();
    const seen = new Set<string>();
    // Attributes count once their start tag is complete (libxml2 builds the element then).
    const values: string[] = [];
    for (;;) {
      const before = i;
      skipSpace();
      if (doc[i] === '>' || doc.startsWith('/>', i)) break;
      if (i === before) return fail();
      const attr = readName();
      if (attr === undefined || seen.has(attr)) return fail();
      seen.add(attr);
      skipSpace();
      if (doc[i] !== '=') return fail();
      i++;
      skipSpace();
      const quote = doc[i];
      if (quote !== '"' && quote !== "'") return fail();
      i++;
      let value = '';
      for (;;) {
        if (i >= n) return fail();
        const ch = doc[i];
        if (ch === quote) break;
        if (ch === '<') return fail();
        if (ch === '&') {
          i++;
          const decoded = reference();
          if (decoded === undefined) return fail();
          value += decoded;
          continue;
        }
        // Attribute-value normalisation: white space characters become spaces.
        value += ch === '\t' || ch === '\n' || ch === '\r' ? ' ' : ch;
        i++;
      }
      i++;
      values.push(value);
    }
    if (i >= n) return fail();
    attributes.push(...values);
    rootSeen = true;
    if (doc[i] === '/') {
      i += 2;
      continue;
    }
    i++;
    open.push(name);
    if (open.length > MAX_DEPTH) return fail();
  }
  if (!rootSeen) return undefined;
  return { text, attributes, wellFormed: open.length === 0 && !truncated };
}
