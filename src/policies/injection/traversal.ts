/**
 * Path traversal and local file inclusion: `..` segments (after every decoding and with `\` read as `/`),
 * filter-evasion forms (`....//`, `..;/`), encoded dots that no honest client sends, absolute paths to files
 * an attacker wants (`/etc/passwd`, `C:\Windows\win.ini`) and stream wrappers (`php://filter`, `file://`).
 */

import type { Paranoia } from './types.ts';

/** Files and directories that are targets in themselves (matched on the lower-cased, `/`-separated path). */
const TARGETS = [
  'etc/passwd',
  'etc/shadow',
  'etc/group',
  'etc/hosts',
  'etc/issue',
  'etc/hostname',
  'etc/fstab',
  'etc/crontab',
  'etc/sudoers',
  'etc/ssh/',
  'etc/mysql/',
  'etc/apache2/',
  'etc/httpd/',
  'etc/nginx/',
  'etc/profile',
  'etc/environment',
  'etc/resolv.conf',
  'etc/motd',
  'etc/security/',
  'proc/self/',
  'proc/version',
  'proc/cpuinfo',
  'proc/net/',
  'proc/mounts',
  'proc/1/',
  'var/log/',
  'var/run/secrets',
  'root/.',
  '.ssh/',
  'id_rsa',
  'id_ed25519',
  'authorized_keys',
  '.bash_history',
  '.bashrc',
  '.bash_profile',
  '.cshrc',
  '.forward',
  '.rhosts',
  '.netrc',
  '.mysql_history',
  '.zsh_history',
  '.htaccess',
  '.htpasswd',
  '.env',
  '.git/',
  '.aws/credentials',
  '.docker/config.json',
  '.kube/config',
  'web.config',
  'web-inf/',
  'meta-inf/',
  'boot.ini',
  'win.ini',
  'system.ini',
  'windows/system32',
  'system32/',
  'inetsrv/',
  'logs/access',
  'logs/error',
  'access_log',
  'error_log',
  'windows/repair',
  'windows/panther',
  'winnt/',
  'inetpub/',
  'php.ini',
  'my.cnf',
  'wp-config.php',
  'localsettings.php',
  'applicationhost.config',
  'config/database.yml',
  'appsettings.json',
  'server.xml',
  'tomcat-users.xml',
];

/**
 * System directories whose every file is a target when the value is an absolute path into them
 * (`/etc/inetd.conf`, `/boot/grub/grub.conf`): no application takes such a path from a client.
 */
const SYSTEM_ROOTS = ['/etc/', '/boot/', '/proc/', '/root/', '/var/log/', '/var/mail/', '/var/spool/'];

const WRAPPERS = [
  'php://',
  'phar://',
  'zip://',
  'expect://',
  'glob://',
  'data://',
  'compress.zlib://',
  'jar:file:',
];

/** Percent-encoded dots and slashes as used to slip `../` past filters (checked on the raw value). */
const ENCODED_MARKERS = [
  '%2e%2e',
  '%252e',
  '%c0%ae',
  '%e0%80%ae',
  '%c0%af',
  '%c1%9c',
  '%c1%1c',
  '%u002e',
  '%u2215',
  '%u2216',
  '..%2f',
  '..%5c',
  '..%252f',
  '..%255c',
  '%uff0e',
  '0x2e0x2e',
];

function isAsciiLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

function hasTarget(path: string, from: number): boolean {
  for (const t of TARGETS) {
    const at = path.indexOf(t, from);
    if (at >= 0 && (at === 0 || path.charCodeAt(at - 1) === 47 || t.charCodeAt(0) === 46)) return true;
  }
  return false;
}

/** Whether the value reads as path traversal at paranoia `p`. `raw` is the value before decoding. */
export function detectTraversal(decoded: string, p: Paranoia, raw: string = decoded): boolean {
  const lowerRaw = raw.toLowerCase();
  let path = decoded.toLowerCase();
  if (path.indexOf('\\') >= 0) path = path.split('\\').join('/');
  // Lookalikes some servers fold to ASCII (fullwidth dot, fraction and division slashes).
  if (path.indexOf('\uff0e') >= 0 || path.indexOf('\u2215') >= 0 || path.indexOf('\u2044') >= 0) {
    path = path.split('\uff0e').join('.').split('\u2215').join('/').split('\u2044').join('/');
  }
  let hops = 0;
  let firstHop = -1;
  let evasion = false;
  const n = path.length;
  for (let i = 0; i < n; i++) {
    if (path.charCodeAt(i) !== 46 || path.charCodeAt(i + 1) !== 46) continue;
    const before = i === 0 ? 47 : path.charCodeAt(i - 1);
    let j = i + 2;
    let dots = 2;
    while (j < n && path.charCodeAt(j) === 46) {
      j++;
      dots++;
    }
    const after = j < n ? path.charCodeAt(j) : -1;
    if (dots > 2 && after === 47 && (path.charCodeAt(j + 1) === 47 || path.charCodeAt(j + 1) === 46)) {
      evasion = true; // `....//` and `..././` collapse to `../` once a filter strips `../`
    }
    const segmentStart = before === 47 || before === 61 || before === 58 || before === 32 || i === 0;
    if (dots === 2 && segmentStart && (after === 47 || after === 59 || after === -1)) {
      if (after === 59) evasion = true; // `..;/` (Tomcat path parameters)
      hops++;
      if (firstHop < 0) firstHop = i;
    }
    i = j - 1;
  }
  if (evasion) return true;
  if (hops > 0 && hopsLeaveRoot(path, lowerRaw, hops, firstHop, p)) return true;
  for (const w of WRAPPERS) if (path.indexOf(w) >= 0) return true;
  if (isSensitivePath(path.trimStart(), p)) return true;
  return p >= 2 && hasTarget(path, 0) && (p >= 3 || mentionsTarget(path));
}

/** Whether `hops` `../` segments (the first at `firstHop`) read as a traversal rather than a relative link. */
function hopsLeaveRoot(path: string, lowerRaw: string, hops: number, firstHop: number, p: Paranoia): boolean {
  for (const m of ENCODED_MARKERS) if (lowerRaw.indexOf(m) >= 0) return true;
  if (hasTarget(path, firstHop)) return true;
  if (hops >= 3) return true;
  const leading = path.slice(0, firstHop).trim();
  if (hops >= 2 && (leading === '' || leading.endsWith('/') || leading.endsWith('='))) return true;
  if (p >= 2 && (hops >= 2 || leading === '' || leading.endsWith('='))) return true;
  return p >= 3;
}

/** An absolute path to a sensitive file as the whole value, or behind `file://`, or a drive path. */
function isSensitivePath(trimmed: string, p: Paranoia): boolean {
  if (trimmed.startsWith('file:')) {
    const rest = trimmed.slice(5).replace(/^\/+/, '/');
    // Clients have no business sending `file:` URLs to an API; a local path behind one is a read attempt.
    if (rest.charCodeAt(0) === 47 || p >= 2) return true;
  }
  if (trimmed.charCodeAt(0) === 47) {
    const first = trimmed.indexOf(' ');
    const head = first < 0 ? trimmed : trimmed.slice(0, first);
    if (hasTarget(head, 0)) return true;
    if (first < 0) {
      for (const root of SYSTEM_ROOTS) if (head.startsWith(root) && head.length > root.length) return true;
    }
  } else if (trimmed.charCodeAt(1) === 58 && isAsciiLetter(trimmed.charCodeAt(0))) {
    // A drive path (`c:\apache\logs\access.log`, `c:windows/system32/`); `Program Files` has a space.
    const line = trimmed.indexOf('\n');
    const head = (line < 0 ? trimmed : trimmed.slice(0, line)).slice(2, 260);
    if (hasTarget(head.charCodeAt(0) === 47 ? head.slice(1) : head, 0)) return true;
  }
  return false;
}

/** Anywhere in text, but only as a path (`/etc/passwd`, `c:/windows/win.ini`), not the word `.env`. */
function mentionsTarget(path: string): boolean {
  for (const t of [
    '/etc/passwd',
    '/etc/shadow',
    'win.ini',
    'boot.ini',
    '/proc/self/',
    'web-inf/',
    'id_rsa',
  ]) {
    if (path.indexOf(t) >= 0) return true;
  }
  return false;
}
