/**
 * Server-side template injection: template delimiters (`{{ }}`, `${ }`, `#{ }`, `*{ }`, `<%= %>`, `{% %}`,
 * `@( )`, FreeMarker and Velocity directives, Smarty tags) around something other than a plain variable
 * name: arithmetic probes (`{{7*7}}`), dunder walks (`__class__`), calls, indexing, the template engine's own
 * objects (`config`, `self`, `_self`, `request`), Java class access (`T(java.lang.Runtime)`) and lookups such
 * as `${jndi:ldap://...}`. `Hello {{name}}`, `${HOME}` and `<%= user.name %>` pass.
 */

import type { Paranoia } from './types.ts';

const ENGINE_OBJECTS = new Set([
  'config',
  'self',
  '_self',
  'request',
  'lipsum',
  'cycler',
  'joiner',
  'namespace',
  'settings',
  'constructor',
  'range',
  'url_for',
  'get_flashed_messages',
  'session',
  'app',
  'process',
  'global',
  'globalthis',
  'require',
  'env',
  'this',
  'dump',
  'application',
  'context',
  'facescontext',
  'pageContext',
  'runtime',
  'system',
  'class',
  'object',
  'smarty',
  'product',
]);

const LOOKUPS = [
  'jndi:',
  'env:',
  'sys:',
  'lower:',
  'upper:',
  'date:',
  'ctx:',
  'java:',
  'main:',
  'bundle:',
  'base64:',
  'docker:',
  'k8s:',
  'spring:',
  'log4j:',
  'marker:',
  'map:',
  'sd:',
  'web:',
  'script:',
  'dns:',
  'url:',
  'file:',
  '::-',
];

const MARKERS = [
  '__class__',
  '__mro__',
  '__subclasses__',
  '__globals__',
  '__builtins__',
  '__init__',
  '__import__',
  '__base__',
  '.getclass(',
  '.forname(',
  'java.lang.runtime',
  'java.lang.processbuilder',
  'freemarker.template.utility',
  '?new(',
  'getruntime(',
  '.exec(',
  'popen(',
  'subprocess',
  'child_process',
  'registerundefinedfiltercallback',
];

/** Markers that mean template or expression injection even outside delimiters (object graph walks). */
const OUTSIDE_MARKERS = [
  '__class__',
  '__mro__',
  '__subclasses__',
  '__globals__',
  '__builtins__',
  '.getclass().forname(',
  'freemarker.template.utility',
  'registerundefinedfiltercallback',
  '$class.inspect(',
  '.getruntime().exec(',
];

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Whether the text inside template delimiters is an expression worth refusing (not a plain name). */
function isExpression(body: string, p: Paranoia): boolean {
  const b = body.trim().toLowerCase();
  if (b.length === 0) return false;
  for (const m of MARKERS) if (b.indexOf(m) >= 0) return true;
  for (const l of LOOKUPS)
    if (b.startsWith(l) || b.startsWith('${' + l) || b.indexOf('${' + l) >= 0) return true;
  if (b.indexOf('__') >= 0 || b.indexOf('(') >= 0 || b.indexOf('[') >= 0 || b.indexOf('`') >= 0) return true;
  // Arithmetic on numbers: `7*7`, `7*'7'`, `1+1`.
  for (let i = 0; i < b.length; i++) {
    const c = b.charCodeAt(i);
    if (c === 42 || c === 43 || c === 45 || c === 47 || c === 37) {
      let l = i - 1;
      while (l >= 0 && (b.charCodeAt(l) === 32 || b.charCodeAt(l) === 39 || b.charCodeAt(l) === 34)) l--;
      let r = i + 1;
      while (r < b.length && (b.charCodeAt(r) === 32 || b.charCodeAt(r) === 39 || b.charCodeAt(r) === 34))
        r++;
      if (l >= 0 && isDigit(b.charCodeAt(l)) && isDigit(b.charCodeAt(r))) return true;
      if (p >= 2 && l >= 0 && r < b.length) return true;
    }
  }
  let j = 0;
  while (j < b.length && /[a-z0-9_$@#]/.test(b[j])) j++;
  const head = b.slice(0, j).replace(/^[#@$]/, '');
  if (ENGINE_OBJECTS.has(head)) return true;
  if (walksToSecret(b)) return true;
  if (b.startsWith('#with') && (b.indexOf('"') >= 0 || b.indexOf("'") >= 0)) return true;
  if (p >= 2 && (b.indexOf("'") >= 0 || b.indexOf('"') >= 0 || b.indexOf('|') >= 0)) return true;
  if (p >= 3 && b.indexOf('.') >= 0) return true;
  return false;
}

/** Members that hold secrets: reaching one through a dotted walk reads them (`messages.storages.0.signer.key`). */
const SECRET_MEMBERS = new Set([
  'signer',
  'secret_key',
  'secret',
  'password',
  'passwd',
  'settings',
  'environ',
  'config',
]);

/** Whether a (lower-cased) expression walks a dotted path through a member in `SECRET_MEMBERS`. */
function walksToSecret(b: string): boolean {
  if (b.indexOf('.') < 0) return false;
  let start = 0;
  let dotted = false;
  for (let i = 0; i <= b.length && i < 512; i++) {
    const c = i < b.length ? b.charCodeAt(i) : 32;
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95) continue;
    if (i > start && dotted && SECRET_MEMBERS.has(b.slice(start, i))) return true;
    // Only names after a dot count: `{{ password }}` is a placeholder, `{{ e.user.password }}` a walk.
    dotted = c === 46;
    start = i + 1;
  }
  return false;
}

/** An engine object used as an object (`config.items()`, `self._TemplateReference__context`). */
function usesEngineObject(body: string): boolean {
  let start = 0;
  for (let i = 0; i < body.length && i < 512; i++) {
    const c = body.charCodeAt(i);
    if ((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 95) continue;
    if (i > start && (c === 46 || c === 40 || c === 91) && ENGINE_OBJECTS.has(body.slice(start, i))) {
      const before = start > 0 ? body.charCodeAt(start - 1) : 32;
      if (before !== 46) return true;
    }
    start = i + 1;
  }
  return false;
}

const BLOCK_MARKERS = ['import', 'popen', 'system(', 'eval(', 'exec(', 'os.', '__', 'include', 'debug'];

/** A `{% ... %}` statement block that imports, executes or walks dunders (a plain `{% if x %}` passes). */
function isStatementBlock(body: string, p: Paranoia): boolean {
  for (const m of BLOCK_MARKERS) if (body.indexOf(m) >= 0) return true;
  if (usesEngineObject(body)) return true;
  return p >= 2 && isExpression(body, p);
}

/** Finds `open ... close` pairs (bodies up to 512 chars) and tests each body; linear in the input. */
function scanDelimited(
  s: string,
  open: string,
  close: string,
  p: Paranoia,
  test: (body: string, p: Paranoia) => boolean = isExpression,
): boolean {
  let from = 0;
  let end = -1;
  for (;;) {
    const at = s.indexOf(open, from);
    if (at < 0) return false;
    // The closing delimiter is found once for every opener before it, so the scan stays linear.
    if (end < at + open.length) end = s.indexOf(close, at + open.length);
    if (end < 0 && p < 2) return false;
    const bodyEnd = end < 0 || end - at > 512 ? Math.min(s.length, at + 512) : end;
    if (test(s.slice(at + open.length, bodyEnd), p)) return true;
    // Openers inside a body already tested belong to it; continue after it.
    from = Math.max(at + open.length, end < 0 || end - at > 512 ? bodyEnd : end);
  }
}

/** Whether `s` (already decoded) reads as template injection at paranoia `p`. */
export function detectSsti(input: string, p: Paranoia): boolean {
  const s = input;
  const lower = s.toLowerCase();
  for (const m of OUTSIDE_MARKERS) if (lower.indexOf(m) >= 0) return true;
  if (lower.indexOf('${jndi:') >= 0 || lower.indexOf('${${') >= 0) return true;
  if (s.indexOf('{{') >= 0 && scanDelimited(s, '{{', '}}', p)) return true;
  if (s.indexOf('{%') >= 0 && scanDelimited(lower, '{%', '%}', p, isStatementBlock)) return true;
  if (s.indexOf('[%') >= 0 && scanDelimited(s, '[%', '%]', p)) return true;
  // FreeMarker's square-bracket interpolation syntax: `[=7*7]`.
  if (s.indexOf('[=') >= 0 && scanDelimited(s, '[=', ']', p)) return true;
  for (const open of ['${', '#{', '*{', '@{', '~{']) {
    if (s.indexOf(open) >= 0 && scanDelimited(s, open, '}', p)) return true;
  }
  if (s.indexOf('<%') >= 0 && scanDelimited(s, '<%', '%>', p)) return true;
  if (lower.indexOf('@(') >= 0 && scanDelimited(s, '@(', ')', p)) return true;
  if (lower.indexOf('<#assign') >= 0 || lower.indexOf('<#include') >= 0 || lower.indexOf('[#assign') >= 0)
    return true;
  if (lower.indexOf('#set(') >= 0 || lower.indexOf('#set (') >= 0 || lower.indexOf('#foreach(') >= 0)
    return true;
  if (lower.indexOf('{php}') >= 0 || lower.indexOf('{system(') >= 0 || lower.indexOf('{$smarty.') >= 0)
    return true;
  if (lower.indexOf('{if ') >= 0 && lower.indexOf('(', lower.indexOf('{if ')) >= 0) return true;
  if (p >= 2 && (lower.indexOf('$class.') >= 0 || (lower.indexOf('{{') >= 0 && lower.indexOf('}}') >= 0))) {
    return scanDelimited(s, '{{', '}}', p) || lower.indexOf('$class.') >= 0;
  }
  return false;
}
