/**
 * LDAP filter injection: text that closes the application's filter and opens another (`*)(uid=*))(|(uid=*`,
 * `admin)(&)`, `*)(|(objectClass=*)`), filter combinators with an assertion (`(|(cn=*)`), or a closing run
 * that leaves more `)` than `(` after a wildcard (`admin*))`).
 */

import type { Paranoia } from './types.ts';

const WELL_KNOWN_ATTRIBUTES = new Set([
  'objectclass',
  'uid',
  'cn',
  'sn',
  'ou',
  'dc',
  'mail',
  'userpassword',
  'samaccountname',
  'memberof',
  'givenname',
  'displayname',
  'description',
  'password',
  'userprincipalname',
  'objectcategory',
  'member',
  'telephonenumber',
  'homedirectory',
  'loginshell',
  'uidnumber',
  'gidnumber',
  'accountstatus',
  'pwdlastset',
  'useraccountcontrol',
  'name',
  'user',
  'username',
]);

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}
function isAttrStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}
function isAttrChar(c: number): boolean {
  return isAttrStart(c) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 59 || c === 95;
}

/** At `i`, after `(`: a combinator (`|`, `&`, `!`) or an assertion `attr=`, `attr~=`, `attr>=`, `attr<=`. */
function filterAt(s: string, i: number, p: Paranoia, wellKnownOnly: boolean): boolean {
  const n = s.length;
  let j = i;
  // Bounded lookahead keeps the whole scan linear on inputs such as 100 KB of `(`.
  while (j < n && j - i < 16 && (isSpace(s.charCodeAt(j)) || s.charCodeAt(j) === 40)) j++;
  const c = s.charCodeAt(j);
  if (c === 124 || c === 38 || c === 33) {
    // `(|(`, `(&)` (the absolute true filter), `(!(`
    let k = j + 1;
    while (k < n && k - j < 16 && isSpace(s.charCodeAt(k))) k++;
    const d = s.charCodeAt(k);
    if (d === 40 || d === 41 || (k >= n && (!wellKnownOnly || p >= 2))) return true;
    // `)((|userpassword=*)`: a combinator glued to an assertion on a well-known attribute.
    return isAttrStart(d) && filterAt(s, k, p, true);
  }
  if (!isAttrStart(c)) return false;
  const start = j;
  while (j < n && j - start < 64 && isAttrChar(s.charCodeAt(j))) j++;
  const attr = s.slice(start, j).toLowerCase();
  while (j < n && j - start < 80 && isSpace(s.charCodeAt(j))) j++;
  let op = s.charCodeAt(j);
  if (op === 126 || op === 62 || op === 60) op = s.charCodeAt(j + 1) === 61 ? 61 : 0;
  if (op !== 61) return false;
  return !wellKnownOnly || WELL_KNOWN_ATTRIBUTES.has(attr) || p >= 2;
}

/** Whether `s` (already decoded) reads as LDAP filter injection at paranoia `p`. */
export function detectLdap(s: string, p: Paranoia): boolean {
  const n = s.length;
  let open = 0;
  let close = 0;
  let starClose = false;
  let nextClose = -1;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 40) {
      open++;
      const prev = i > 0 ? s.charCodeAt(i - 1) : 0;
      // `)(`: the application's filter closed and a new one opened.
      let b = i - 1;
      while (b >= 0 && i - b < 8 && isSpace(s.charCodeAt(b))) b--;
      if (b >= 0 && s.charCodeAt(b) === 41 && filterAt(s, i + 1, p, false)) return true;
      // `(|(x=`, `(&(x=` at the start of a nested filter.
      const next = s.charCodeAt(i + 1);
      if (
        (next === 124 || next === 38 || next === 33) &&
        s.charCodeAt(i + 2) === 40 &&
        filterAt(s, i + 3, p, true)
      ) {
        return true;
      }
      if (p >= 2 && prev !== 41 && filterAt(s, i + 1, p, true)) {
        // `(uid=*)` style assertion with a wildcard inside.
        if (nextClose < i) nextClose = s.indexOf(')', i);
        if (nextClose < 0) nextClose = n;
        if (nextClose < n && nextClose - i < 128 && s.slice(i, nextClose).indexOf('*') >= 0) return true;
      }
    } else if (c === 41) {
      close++;
      if (i > 0 && s.charCodeAt(i - 1) === 42) {
        let k = i + 1;
        while (k < n && k - i < 16 && isSpace(s.charCodeAt(k))) k++;
        if (k >= n || s.charCodeAt(k) === 41 || s.charCodeAt(k) === 40) starClose = true;
      }
    }
  }
  if (starClose && close > open) return true;
  if (
    p >= 3 &&
    (s.indexOf(')(') >= 0 || (s.indexOf('*') >= 0 && (s.indexOf('(') >= 0 || s.indexOf(')') >= 0)))
  ) {
    return true;
  }
  return false;
}
