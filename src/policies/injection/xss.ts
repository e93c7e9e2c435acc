/**
 * Cross-site scripting: markup that runs script. Each `<tag ...>` is read once (name and attribute names,
 * bounded in length): `<script>` with content or a source, event handlers (`onerror=`), script URLs in URL
 * attributes (`href=javascript:`), frames and objects pointing somewhere, `srcdoc`. Outside markup: an
 * attribute breakout (`" onmouseover="...`), a `javascript:` URL as the value, and a string breakout into
 * a script call (`';alert(1)//`). Harmless markup (`<b>`, `<p>`, `1<2`, `List<String>`) passes.
 */

import type { Paranoia } from './types.ts';

const URL_ATTRIBUTES = new Set([
  'href',
  'src',
  'action',
  'formaction',
  'data',
  'xlink:href',
  'background',
  'poster',
  'lowsrc',
  'dynsrc',
  'code',
  'codebase',
  'srcset',
  'to',
  'from',
  'values',
  'by',
  'content',
  'style',
  'ping',
  'cite',
  'longdesc',
  'manifest',
  'icon',
  'xmlns',
]);

/** Elements that load or run something as soon as they carry an attribute. */
const ACTIVE_ELEMENTS = new Set([
  'iframe',
  'frame',
  'frameset',
  'object',
  'embed',
  'applet',
  'base',
  'portal',
]);
const ALWAYS_SUSPECT = new Set([
  'script',
  'iframe',
  'object',
  'embed',
  'applet',
  'frameset',
  'svg',
  'math',
  'xss',
]);

const EVENT_PREFIXES = [
  'onload',
  'onerror',
  'onclick',
  'ondblclick',
  'onmouse',
  'onkey',
  'onfocus',
  'onblur',
  'onchange',
  'oninput',
  'onsubmit',
  'onreset',
  'onselect',
  'onscroll',
  'onwheel',
  'onresize',
  'onpointer',
  'ontouch',
  'ondrag',
  'ondrop',
  'onanimation',
  'ontransition',
  'ontoggle',
  'onbegin',
  'onend',
  'onrepeat',
  'onstart',
  'onfinish',
  'onbefore',
  'onafter',
  'onhashchange',
  'onpageshow',
  'onpagehide',
  'onpopstate',
  'onmessage',
  'ononline',
  'onoffline',
  'onstorage',
  'onunload',
  'oncontextmenu',
  'oncopy',
  'oncut',
  'onpaste',
  'onplay',
  'onpause',
  'onended',
  'onvolumechange',
  'oncanplay',
  'ontimeupdate',
  'onseek',
  'onshow',
  'oninvalid',
  'onsearch',
  'onauxclick',
  'onreadystatechange',
  'onbounce',
  'onformdata',
  'onslotchange',
  'onwebkit',
  'onmoz',
  'onafterscriptexecute',
  'onbeforescriptexecute',
  'onactivate',
  'ondeactivate',
  'onfilterchange',
  'onpropertychange',
  'onsecuritypolicyviolation',
  'onloadstart',
  'onprogress',
  'onsuspend',
  'onwaiting',
  'onemptied',
  'onstalled',
  'onratechange',
  'ondurationchange',
  'oncuechange',
  'onclose',
  'oncancel',
  'onsubmit',
  'onunhandledrejection',
  'onbeforeinput',
  'onbeforetoggle',
  'onscrollend',
  'oncontentvisibilityautostatechange',
];

function isEventName(name: string, p: Paranoia): boolean {
  if (name.length < 5 || name.charCodeAt(0) !== 111 || name.charCodeAt(1) !== 110) return false;
  for (const e of EVENT_PREFIXES) if (name.startsWith(e)) return true;
  return p >= 2;
}

/**
 * Whether an attribute named like an event handler (`on` and three or more letters, known or not:
 * `onorientationchange`) is given code at `from` (just after its `=`): a name, optionally dotted, called
 * with `(` or a backtick (`alert(1)`, `top.x\`1\``). Browsers add handlers faster than any list.
 */
function isHandlerWithCode(name: string, s: string, from: number): boolean {
  if (name.length < 5 || name.charCodeAt(0) !== 111 || name.charCodeAt(1) !== 110) return false;
  for (let i = 2; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 97 || c > 122) return false;
  }
  let i = from;
  const n = s.length;
  while (
    i < n &&
    i - from < 8 &&
    (isSpace(s.charCodeAt(i)) || s.charCodeAt(i) === 34 || s.charCodeAt(i) === 39)
  )
    i++;
  const start = i;
  while (i < n && i - start < 64) {
    const c = s.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95 || c === 36 || c === 46) i++;
    else break;
  }
  return i > start && (s.charCodeAt(i) === 40 || s.charCodeAt(i) === 96);
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 12 || c === 13;
}
function isNameChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 58 || c === 95;
}

/**
 * Whether a URL-ish value (after quotes and spaces) starts with a scheme that runs script. Browsers ignore
 * tabs, newlines and leading control characters inside the scheme (`java\tscript:`), so those are skipped.
 */
function scriptScheme(s: string, from: number, p: Paranoia): boolean {
  let i = from;
  const n = s.length;
  while (
    i < n &&
    (s.charCodeAt(i) <= 32 || s.charCodeAt(i) === 34 || s.charCodeAt(i) === 39 || s.charCodeAt(i) === 96)
  ) {
    i++;
  }
  let scheme = '';
  while (i < n && scheme.length < 16) {
    const c = s.charCodeAt(i);
    if (c === 9 || c === 10 || c === 13) {
      i++;
      continue;
    }
    if (c === 58) break;
    if (!((c >= 97 && c <= 122) || c === 45 || c === 43 || c === 46)) return false;
    scheme += s[i];
    i++;
  }
  if (s.charCodeAt(i) !== 58) return false;
  if (scheme === 'javascript' || scheme === 'vbscript' || scheme === 'livescript' || scheme === 'mocha') {
    return looksLikeCode(s, i + 1, p);
  }
  if (scheme === 'data') {
    const rest = s.slice(i + 1, i + 40).replace(/\s/g, '');
    return (
      rest.startsWith('text/html') ||
      rest.startsWith('image/svg') ||
      rest.startsWith('application/x') ||
      rest.startsWith('text/javascript') ||
      rest.startsWith('application/javascript') ||
      (p >= 2 && rest.startsWith(','))
    );
  }
  return false;
}

/** After `javascript:`, code starts: a call, a comment trick, an expression, an escape. Not "The Good Parts". */
function looksLikeCode(s: string, from: number, p: Paranoia): boolean {
  let i = from;
  const n = s.length;
  while (i < n && s.charCodeAt(i) <= 32) i++;
  if (i >= n) return p >= 2;
  const c = s.charCodeAt(i);
  if (
    c === 47 ||
    c === 40 ||
    c === 91 ||
    c === 123 ||
    c === 33 ||
    c === 34 ||
    c === 39 ||
    c === 96 ||
    c === 37 ||
    c === 92 ||
    c === 45 ||
    c === 43 ||
    c === 126 ||
    c === 59
  ) {
    return true;
  }
  let j = i;
  while (j < n && j - i < 64) {
    const d = s.charCodeAt(j);
    if ((d >= 97 && d <= 122) || (d >= 48 && d <= 57) || d === 95 || d === 36 || d === 46) j++;
    else break;
  }
  if (j === i) return p >= 2;
  const d = s.charCodeAt(j);
  return d === 40 || d === 96 || d === 61 || d === 91 || d === 59 || j >= n || (p >= 2 && d !== 32);
}

/** Reads one tag at `lt` (`s[lt] === '<'`); returns whether it runs script and where the tag ends. */
function scanTag(s: string, lt: number, p: Paranoia): { hit: boolean; end: number } {
  const n = s.length;
  let i = lt + 1;
  if (s.charCodeAt(i) === 47) i++;
  const nameStart = i;
  while (i < n && isNameChar(s.charCodeAt(i)) && i - nameStart < 32) i++;
  const name = s.slice(nameStart, i);
  if (name.length === 0 || !(s.charCodeAt(nameStart) >= 97 && s.charCodeAt(nameStart) <= 122)) {
    return { hit: false, end: lt };
  }
  const closing = s.charCodeAt(lt + 1) === 47;
  const limit = Math.min(n, i + 4096);
  let attributes = 0;
  let end = limit;
  let hit = false;
  while (i < limit) {
    const c = s.charCodeAt(i);
    if (c === 62) {
      end = i;
      break;
    }
    if (c === 60) {
      end = i - 1;
      break;
    }
    if (isSpace(c) || c === 47 || c === 34 || c === 39 || c === 96) {
      i++;
      continue;
    }
    // An attribute: name, optional `= value`.
    const aStart = i;
    while (i < limit && isNameChar(s.charCodeAt(i))) i++;
    const attr = s.slice(aStart, i);
    if (attr.length === 0) {
      i++;
      continue;
    }
    attributes++;
    let k = i;
    while (k < limit && isSpace(s.charCodeAt(k))) k++;
    const hasValue = s.charCodeAt(k) === 61;
    if (isEventName(attr, p) && (hasValue || p >= 2)) hit = true;
    if (hasValue) {
      if (isHandlerWithCode(attr, s, k + 1) || isScriptValue(s, name, attr, k + 1, limit, p)) hit = true;
      i = skipValue(s, k + 1, limit);
    }
    if (hit) break;
  }
  if (closing) return { hit: false, end };
  return { hit: hit || isScriptElement(s, name, end, attributes, p), end };
}

/** Whether the value at `k` of attribute `attr` of element `name` runs script (URL scheme, CSS, srcdoc, refresh). */
function isScriptValue(
  s: string,
  name: string,
  attr: string,
  k: number,
  limit: number,
  p: Paranoia,
): boolean {
  if (URL_ATTRIBUTES.has(attr) && scriptScheme(s, k, p)) return true;
  if (attr === 'srcdoc') return true;
  if (attr === 'style' || attr === 'content') {
    const v = s.slice(k, Math.min(limit, k + 256));
    if (isScriptCss(v)) return true;
    if (attr === 'content' && name === 'meta' && v.indexOf('url=') >= 0 && p >= 2) return true;
  }
  return attr === 'http-equiv' && s.slice(k, k + 12).indexOf('refresh') >= 0;
}

/** CSS that runs script: `expression(`, `javascript:`, `-moz-binding`, `behavior:`. */
function isScriptCss(css: string): boolean {
  return (
    css.indexOf('expression(') >= 0 ||
    css.indexOf('javascript:') >= 0 ||
    css.indexOf('-moz-binding') >= 0 ||
    css.indexOf('behavior:') >= 0
  );
}

/** Skips an attribute value at `k`: quoted to its closing quote, unquoted to the next space or `>`. */
function skipValue(s: string, k: number, limit: number): number {
  while (k < limit && isSpace(s.charCodeAt(k))) k++;
  const q = s.charCodeAt(k);
  if (q === 34 || q === 39 || q === 96) {
    const close = s.indexOf(String.fromCharCode(q), k + 1);
    return close < 0 || close > limit ? limit : close + 1;
  }
  while (k < limit && !isSpace(s.charCodeAt(k)) && s.charCodeAt(k) !== 62) k++;
  return k;
}

/** Whether an opening tag whose attributes ran no script still makes script: by its element and content. */
function isScriptElement(s: string, name: string, end: number, attributes: number, p: Paranoia): boolean {
  if (name === 'script') {
    // `<script>` named in prose passes at level 1; with a source, content or a closing tag it is script.
    const after = s.slice(end + 1, end + 1 + 256);
    if (
      attributes > 0 ||
      p >= 2 ||
      (end < s.length &&
        (after.indexOf('</script') >= 0 ||
          after.indexOf('(') >= 0 ||
          after.indexOf('`') >= 0 ||
          after.indexOf('=') >= 0 ||
          /^\s*[\w$.[\]]+\s*$/.test(after)))
    )
      return true;
  }
  if (name === 'style' && isScriptCss(s.slice(end + 1, end + 1 + 512))) return true;
  if (ACTIVE_ELEMENTS.has(name) && (attributes > 0 || p >= 2)) return true;
  if (p >= 2 && ALWAYS_SUSPECT.has(name)) return true;
  return (
    p >= 3 && (name === 'style' || name === 'link' || name === 'meta' || name === 'form' || attributes > 0)
  );
}

const SINKS = [
  'alert(',
  'alert`',
  'prompt(',
  'prompt`',
  'confirm(',
  'confirm`',
  'eval(',
  'document.cookie',
  'document.domain',
  'document.write',
  'document.location',
  'window.location',
  'location.href',
  'location=',
  'string.fromcharcode(',
  'atob(',
  'fetch(',
  'import(',
  'settimeout(',
  'setinterval(',
  'function(',
  '.constructor(',
  'top[',
  'self[',
  'window[',
  'globalthis[',
  'print(',
];

/** Whether `s` (already decoded) reads as cross-site scripting at paranoia `p`. */
export function detectXss(input: string, p: Paranoia): boolean {
  const s = input.toLowerCase();
  const n = s.length;
  // A script URL as the whole value (a redirect target, an avatar URL).
  if (scriptScheme(s, 0, p)) return true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 60) {
      const { hit, end } = scanTag(s, i, p);
      if (hit) return true;
      if (end > i) i = end;
    } else if (c === 34 || c === 39 || c === 96) {
      if (breaksOutOfAttribute(s, i, p) || breaksOutOfString(s, i)) return true;
    } else if (c === 61 && p >= 1 && isScriptAttributeValue(s, i, p)) return true;
  }
  if (p >= 2) {
    for (const sink of SINKS)
      if (s.indexOf(sink) >= 0 && sink !== 'print(' && sink !== 'function(') return true;
    if (s.indexOf('javascript:') >= 0 || s.indexOf('vbscript:') >= 0) return true;
  }
  return false;
}

/**
 * Attribute breakout at the quote `i`: `" onfocus=...`, `' autofocus onfocus='...`, `"onmouseover=...`; the
 * first name may follow the quote directly (the browser ends the value at the quote), later ones need a gap.
 */
function breaksOutOfAttribute(s: string, i: number, p: Paranoia): boolean {
  let j = i + 1;
  const limit = Math.min(s.length, i + 128);
  let sawGap = true;
  while (j < limit) {
    const d = s.charCodeAt(j);
    if (isSpace(d) || d === 47) {
      sawGap = true;
      j++;
      continue;
    }
    if (!sawGap) return false;
    const aStart = j;
    while (j < limit && isNameChar(s.charCodeAt(j))) j++;
    if (j === aStart) return false;
    const attr = s.slice(aStart, j);
    let k = j;
    while (k < limit && isSpace(s.charCodeAt(k))) k++;
    if (s.charCodeAt(k) === 61) {
      // Directly after the quote, only with code as the value: `"onclick=handler"` is documentation.
      if ((aStart > i + 1 && isEventName(attr, 1)) || isHandlerWithCode(attr, s, k + 1)) return true;
      return URL_ATTRIBUTES.has(attr) && scriptScheme(s, k + 1, p);
    }
    sawGap = false;
  }
  return false;
}

/** String breakout into script at the quote `i`: `';alert(1)//`, `"-alert(1)-"`, `\";alert(1);//`. */
function breaksOutOfString(s: string, i: number): boolean {
  const n = s.length;
  let k = i + 1;
  while (
    k < n &&
    k - i < 8 &&
    (isSpace(s.charCodeAt(k)) || s.charCodeAt(k) === 41 || s.charCodeAt(k) === 125)
  )
    k++;
  const op = s.charCodeAt(k);
  if (
    !(
      op === 59 ||
      op === 43 ||
      op === 45 ||
      op === 42 ||
      op === 124 ||
      op === 38 ||
      op === 44 ||
      op === 63 ||
      op === 58
    )
  )
    return false;
  let m = k + 1;
  while (
    m < n &&
    m - k < 8 &&
    (isSpace(s.charCodeAt(m)) || s.charCodeAt(m) === 38 || s.charCodeAt(m) === 124)
  )
    m++;
  for (const sink of SINKS) if (s.startsWith(sink, m)) return true;
  return false;
}

/** `href=javascript:...` without a tag at the `=` at `i` (attribute injection into an unquoted attribute). */
function isScriptAttributeValue(s: string, i: number, p: Paranoia): boolean {
  if (s.charCodeAt(i + 1) === 61 || !scriptScheme(s, i + 1, p) || i === 0 || !isNameChar(s.charCodeAt(i - 1)))
    return false;
  let a = i - 1;
  while (a > 0 && isNameChar(s.charCodeAt(a - 1)) && i - a < 16) a--;
  return URL_ATTRIBUTES.has(s.slice(a, i)) || p >= 2;
}
