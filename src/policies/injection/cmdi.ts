/**
 * OS command injection: a shell separator (`;`, `|`, `&`, `&&`, `||`, newline, backticks, `$(...)`) followed
 * by the name of a real command. Names that are also English words (`cat`, `sleep`, `find`) only count when
 * what follows looks like shell arguments (`/etc/passwd`, `-la`, `5`), so "dogs; cat food" stays clean.
 * Shell quoting tricks (`c''at`, `w\ho\am\i`, `${IFS}`, `$@`) are undone before the scan.
 */

import type { Paranoia } from './types.ts';

/** Commands whose name alone, right after a separator, is enough. */
const DISTINCT_COMMANDS = new Set([
  'whoami',
  'uname',
  'ifconfig',
  'ipconfig',
  'netstat',
  'wget',
  'curl',
  'nc',
  'ncat',
  'netcat',
  'socat',
  'bash',
  'sh',
  'zsh',
  'ksh',
  'csh',
  'tcsh',
  'dash',
  'powershell',
  'pwsh',
  'cmd',
  'certutil',
  'bitsadmin',
  'nslookup',
  'systeminfo',
  'python',
  'python2',
  'python3',
  'perl',
  'ruby',
  'php',
  'telnet',
  'mkfifo',
  'chmod',
  'chown',
  'useradd',
  'usermod',
  'crontab',
  'base64',
  'xxd',
  'id',
  'ls',
  'pwd',
  'printenv',
  'hostname',
  'tasklist',
  'taskkill',
  'sudo',
  'busybox',
  'nohup',
  'rm',
  'ping',
  'tftp',
  'xterm',
  'awk',
  'gawk',
  'ps',
  'env',
  'lsb_release',
  'getent',
  'wmic',
  'reg',
  'regsvr32',
  'rundll32',
  'mshta',
  'cscript',
  'wscript',
  'vssadmin',
  'schtasks',
  'icacls',
  'sc',
  'nmap',
  'dig',
  'ssh',
  'scp',
  'openssl',
  'uptime',
  'w',
  'lsof',
  'netsh',
  'arp',
  'ver',
  'dir',
  'cat',
  'echo',
  'printf',
]);

/** Functions of scripting languages that run a shell command. */
const CODE_FUNCTIONS = new Set([
  'system',
  'exec',
  'passthru',
  'shell_exec',
  'popen',
  'proc_open',
  'pcntl_exec',
  'eval',
  'assert',
  'os.system',
  'os.popen',
  'subprocess.call',
  'subprocess.popen',
  'runtime.exec',
]);

/** Commands that are also ordinary words: they need shell-looking arguments to count. */
const WORDY_COMMANDS = new Set([
  'head',
  'tail',
  'more',
  'less',
  'type',
  'find',
  'net',
  'kill',
  'sleep',
  'set',
  'time',
  'date',
  'cp',
  'mv',
  'touch',
  'sort',
  'file',
  'grep',
  'sed',
  'tar',
  'who',
  'which',
  'ip',
  'mail',
  'exec',
  'eval',
  'expr',
  'timeout',
  'reboot',
  'shutdown',
  'halt',
  'wc',
  'cut',
  'tr',
  'od',
  'strings',
  'rev',
  'nl',
  'diff',
  'host',
  'whois',
  'route',
  'ftp',
  'git',
  'node',
  'java',
  'finger',
  'last',
  'dd',
  'xargs',
  'start',
  'call',
  'copy',
  'del',
  'move',
  'print',
  'read',
  'export',
  'source',
  'kill',
  'killall',
  'pkill',
  'chgrp',
  'ln',
  'mkdir',
  'rmdir',
  'unzip',
  'zip',
  'gzip',
  'gunzip',
  'install',
  'apt',
  'yum',
  'apk',
  'pip',
  'npm',
  'lynx',
  'links',
  'nice',
  'at',
  'history',
]);

/**
 * Windows administration commands and the sub-commands that make them an action (`net user x /add`,
 * `reg add HKLM\...`, `netsh firewall set ...`): with one of these the command has shell arguments.
 */
const SUBCOMMANDS: ReadonlyMap<string, ReadonlySet<string>> = new Map([
  [
    'net',
    new Set(['user', 'localgroup', 'view', 'share', 'use', 'start', 'stop', 'group', 'accounts', 'session']),
  ],
  ['reg', new Set(['add', 'query', 'delete', 'save', 'export', 'import', 'load', 'copy', 'restore'])],
  ['netsh', new Set(['firewall', 'advfirewall', 'interface', 'wlan', 'http', 'winhttp', 'portproxy', 'int'])],
  ['sc', new Set(['query', 'queryex', 'create', 'config', 'start', 'stop', 'delete', 'qc'])],
  ['wmic', new Set(['process', 'useraccount', 'service', 'os', 'shadowcopy', 'qfe', 'startup', 'nicconfig'])],
]);

/** Words that are so common in prose that even `cat`/`echo`/`dir` after `&` or a newline need arguments. */
const PROSE_COMMON = new Set(['cat', 'echo', 'dir', 'w', 'ver', 'id', 'sc', 'reg', 'env', 'dig', 'sh']);

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 11 || c === 12 || c === 13;
}
function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}
function isWordChar(c: number): boolean {
  return isLetter(c) || (c >= 48 && c <= 57) || c === 95;
}

/**
 * Undoes the shell's quoting games so that command names read plainly: `c''at` → `cat`, `w\ho` → `who`,
 * `$@`/`$1` vanish, `${IFS}`/`$IFS$9` become a space, and brace lists `{cat,/etc/passwd}` become words.
 */
export function unshell(s: string): string {
  if (
    s.indexOf("'") < 0 &&
    s.indexOf('"') < 0 &&
    s.indexOf('\\') < 0 &&
    s.indexOf('$') < 0 &&
    s.indexOf('{') < 0
  ) {
    return s;
  }
  let out = '';
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 39 || c === 34) continue;
    // A backslash escapes the next character (`w\\ho`), except in a drive path (`C:\\`).
    if (c === 92 && s.charCodeAt(i - 1) !== 58) continue;
    if (c === 36) {
      const d = s.charCodeAt(i + 1);
      if (d === 64 || d === 42 || (d >= 48 && d <= 57)) {
        i++;
        continue;
      }
      if (s.startsWith('{IFS}', i + 1) || s.startsWith('{ifs}', i + 1)) {
        out += ' ';
        i += 5;
        continue;
      }
      if (s.startsWith('IFS', i + 1)) {
        out += ' ';
        i += 3;
        continue;
      }
    }
    if (c === 123 && isLetter(s.charCodeAt(i + 1))) {
      // `{cat,/etc/passwd}` runs `cat /etc/passwd`: read the brace as a separator and commas as spaces.
      let j = i + 1;
      while (j < n && j - i < 64 && s.charCodeAt(j) !== 125 && s.charCodeAt(j) !== 32) j++;
      if (s.charCodeAt(j) === 125 && s.slice(i, j).indexOf(',') > 0) {
        out +=
          ';' +
          s
            .slice(i + 1, j)
            .split(',')
            .join(' ');
        i = j;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

/** Whether `s` at `k` holds one of the sub-commands that `word` takes (`net user`, `reg add`). */
function hasSubcommand(s: string, word: string, k: number): boolean {
  const verbs = SUBCOMMANDS.get(word);
  if (verbs === undefined) return false;
  let e = k;
  while (e < s.length && e - k < 16 && isLetter(s.charCodeAt(e))) e++;
  const after = s.charCodeAt(e);
  return (e >= s.length || !isWordChar(after)) && verbs.has(s.slice(k, e).toLowerCase());
}

/** Whether `s` at `k` starts a URL with a scheme (`http://`, `ftp://`), read boundedly. */
function isUrlAt(s: string, k: number): boolean {
  let e = k;
  while (e < s.length && e - k < 12 && isLetter(s.charCodeAt(e))) e++;
  return e > k && s.charCodeAt(e) === 58 && s.charCodeAt(e + 1) === 47 && s.charCodeAt(e + 2) === 47;
}

interface CommandHit {
  readonly name: string;
  readonly distinct: boolean;
  /** Whether the text after the name looks like shell arguments or ends the command. */
  readonly shellArgs: boolean;
  /** Whether the value ends right after the name (no arguments at all). */
  readonly bare?: boolean;
  readonly glob: boolean;
  /** Whether the first argument is an option or a path (`-c`, `/t`, `/etc`). */
  readonly optionArgs?: boolean;
}

/** Reads a command (with an optional directory) at `i` and what follows it. */
function readCommand(s: string, i: number): CommandHit | undefined {
  const n = s.length;
  let j = i;
  while (j < n && j - i < 64 && isSpace(s.charCodeAt(j))) j++;
  const start = j;
  let glob = false;
  while (j < n && j - start < 48) {
    const c = s.charCodeAt(j);
    if (isWordChar(c) || c === 47 || c === 46 || c === 45) j++;
    else if (c === 63 || c === 42) {
      glob = true;
      j++;
    } else break;
  }
  if (j === start) return undefined;
  let word = s.slice(start, j).toLowerCase();
  const hasDir = word.indexOf('/') >= 0;
  if (hasDir) word = word.slice(word.lastIndexOf('/') + 1);
  if (word.endsWith('.exe')) word = word.slice(0, -4);
  if (glob && hasDir && word.length > 0) return { name: word, distinct: true, shellArgs: true, glob };
  if (CODE_FUNCTIONS.has(word) && s.charCodeAt(j) === 40) {
    // `;system('id')`, `|passthru("ls")`: a language's own way to run a command.
    return { name: word, distinct: true, shellArgs: true, glob };
  }
  const distinct = DISTINCT_COMMANDS.has(word);
  if (!distinct && !WORDY_COMMANDS.has(word)) return undefined;
  // What follows the name: end, another separator, or an argument shaped like a path, option or number.
  let k = j;
  while (k < n && k - j < 64 && isSpace(s.charCodeAt(k))) k++;
  // A command name ends at a space or a shell metacharacter; `;base64,` in a data URL is not a command.
  if (k < n && k === j && !endsCommandName(s.charCodeAt(k))) return undefined;
  const shellArgs = k >= n || looksLikeArguments(s, word, distinct, k, k > j);
  const a = s.charCodeAt(k);
  const optionArgs = k > j && (a === 45 || a === 47 || a === 92) && isLetter(s.charCodeAt(k + 1));
  return { name: word, distinct: distinct || hasDir, shellArgs, glob, optionArgs, bare: k >= n };
}

/** A shell metacharacter that ends a command name without a space: `;|&<>` `` ` `` `)` newline `$(`. */
function endsCommandName(c: number): boolean {
  return (
    c === 59 ||
    c === 124 ||
    c === 38 ||
    c === 60 ||
    c === 62 ||
    c === 96 ||
    c === 41 ||
    c === 10 ||
    c === 36 ||
    c === 40
  );
}

/** Whether what starts at `k`, after the command `word`, reads as its arguments or the end of the command. */
function looksLikeArguments(
  s: string,
  word: string,
  distinct: boolean,
  k: number,
  sawSpace: boolean,
): boolean {
  const c = s.charCodeAt(k);
  if (isArgumentStart(s, c, k) || hasSubcommand(s, word, k)) return true;
  // `wget http://…`, `curl https://…`: a URL for a command that fetches or connects.
  if (distinct && isUrlAt(s, k)) return true;
  // `;echo vulnerable` (one word, then the end or a metacharacter), not "; echo chamber effects".
  return sawSpace && isLetter(c) && (word === 'echo' || word === 'eval') && endsAfterOneWord(s, k);
}

/** An argument shaped like a path, option, variable or number, a redirection, a separator, or a comment. */
function isArgumentStart(s: string, c: number, k: number): boolean {
  return (
    c === 47 || // /path
    c === 45 || // -option
    c === 46 || // ./file
    c === 36 || // $VAR
    c === 126 || // ~
    c === 92 || // \path
    c === 37 || // %VAR%
    (c >= 48 && c <= 57) ||
    c === 60 ||
    c === 62 ||
    c === 124 ||
    c === 59 ||
    c === 38 ||
    c === 96 ||
    c === 41 ||
    c === 42 ||
    c === 10 ||
    c === 35 || // `; id #` (the rest of the line commented out)
    // `type C:\x`, `dir c:\`
    (isLetter(c) &&
      s.charCodeAt(k + 1) === 58 &&
      (s.charCodeAt(k + 2) === 92 ||
        s.charCodeAt(k + 2) === 47 ||
        k + 2 >= s.length ||
        isSpace(s.charCodeAt(k + 2))))
  );
}

/** Whether one word at `k` is followed by the end of the value or a shell metacharacter. */
function endsAfterOneWord(s: string, k: number): boolean {
  const n = s.length;
  let w = k;
  while (w < n && w - k < 64 && isWordChar(s.charCodeAt(w))) w++;
  while (w < n && w - k < 80 && isSpace(s.charCodeAt(w))) w++;
  const d = s.charCodeAt(w);
  return (
    w >= n || d === 59 || d === 124 || d === 38 || d === 62 || d === 60 || d === 96 || d === 10 || d === 35
  );
}

/** Whether `s` (already decoded) reads as an OS command injection at paranoia `p`. */
export function detectCmdi(input: string, p: Paranoia): boolean {
  const s = unshell(input);
  if (hasShellMarker(s, input)) return true;
  const n = s.length;
  let first = 0;
  while (first < n && isSpace(s.charCodeAt(first))) first++;
  if (isShellshock(s, first)) return true;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    let strongSeparator: boolean;
    let next = i + 1;
    if (c === 59)
      strongSeparator = true; // ;
    else if (c === 124) {
      // | or ||
      strongSeparator = true;
      if (s.charCodeAt(next) === 124) next++;
    } else if (c === 38) {
      // & or &&; a lone `&` opening the value is no conjunction ("Tom & Jerry") but a separator.
      strongSeparator = s.charCodeAt(next) === 38 || i === first;
      if (s.charCodeAt(next) === 38) next++;
    } else if (c === 10) strongSeparator = false;
    else if (c === 96) {
      // Backticks: markdown uses them for inline code too, so at level 1 only a glued one counts.
      if (p < 2 && !isGluedBacktick(s, i)) continue;
      strongSeparator = true;
    } else if (c === 36 && s.charCodeAt(next) === 40) {
      // $( ... )
      if (s.charCodeAt(next + 1) === 40) continue; // $(( arithmetic ))
      next++;
      strongSeparator = true;
    } else if ((c === 60 || c === 62) && s.charCodeAt(next) === 40) {
      next++;
      strongSeparator = true;
    } else if (i === 0 && p >= 2) {
      // At level 2 the value itself may be a command line (`cat /etc/passwd`).
      strongSeparator = false;
      next = 0;
    } else continue;
    next = skipGroupOpeners(s, next);
    const hit = readCommand(s, next);
    if (hit !== undefined && runsCommand(hit, s, c, i, next, strongSeparator, p)) return true;
  }
  return false;
}

/** Markers of shell use that are an attack anywhere: `/dev/tcp/`, `$IFS`, server-side `<!--#exec`. */
function hasShellMarker(s: string, input: string): boolean {
  return (
    s.indexOf('/dev/tcp/') >= 0 ||
    s.indexOf('/dev/udp/') >= 0 ||
    input.indexOf('$IFS') >= 0 ||
    input.indexOf('{IFS}') >= 0 ||
    // Server-side includes: `<!--#exec cmd="..."-->`.
    input.indexOf('<!--#exec') >= 0
  );
}

/** Shellshock: an environment variable (a header under CGI) that bash imports as a function, `() { :;};`. */
function isShellshock(s: string, first: number): boolean {
  if (s.charCodeAt(first) !== 40 || s.charCodeAt(first + 1) !== 41) return false;
  let b = first + 2;
  while (b < s.length && b - first < 8 && isSpace(s.charCodeAt(b))) b++;
  return s.charCodeAt(b) === 123;
}

/**
 * Backticks: markdown uses them for inline code too ("run `ls -la`"), so at level 1 only a backtick glued
 * to the previous text or opening the value counts.
 */
function isGluedBacktick(s: string, i: number): boolean {
  const prev = i > 0 ? s.charCodeAt(i - 1) : 32;
  const close = s.indexOf('`', i + 1);
  const wholeValue = i === 0 && (close < 0 || s.slice(close + 1).trim() === '');
  return (
    wholeValue || (i > 0 && !(isSpace(prev) || prev === 40 || prev === 10 || prev === 34 || prev === 39))
  );
}

/** Separators may repeat or open a group: `;;id`, `|(id)`, `&&{id}`, `; !id`; the index after them. */
function skipGroupOpeners(s: string, next: number): number {
  const n = s.length;
  const skipLimit = next + 16;
  while (next < n && next < skipLimit) {
    const d = s.charCodeAt(next);
    if (isSpace(d) || d === 40 || d === 123 || d === 33 || d === 59 || d === 38 || d === 124 || d === 10)
      next++;
    else if ((d === 36 || d === 96) && (s.charCodeAt(next + 1) === 40 || d === 96)) next += d === 36 ? 2 : 1;
    else break;
  }
  return next;
}

/**
 * Whether the command read at `next`, after the separator `c` at `i` (strong: `;`, `|`, `&&`, `` ` ``,
 * `$(`), is an injection at paranoia `p`.
 */
function runsCommand(
  hit: CommandHit,
  s: string,
  c: number,
  i: number,
  next: number,
  strongSeparator: boolean,
  p: Paranoia,
): boolean {
  if (hit.glob) return true;
  // A lone `&` opening the value is read as a separator, but a prose word after it (`& more`) needs
  // real arguments; otherwise it is judged like any other `&`.
  const loneAmpersand = c === 38 && s.charCodeAt(i + 1) !== 38;
  if (strongSeparator) {
    if (hit.distinct && !PROSE_COMMON.has(hit.name)) return true;
    if (hit.shellArgs && (!loneAmpersand || !hit.bare)) return true;
    if (!loneAmpersand) return false;
  }
  if (next === 0 && i === 0 && c !== 10) {
    // The value itself as a command line: level 2 takes distinct commands, level 3 any.
    return hit.shellArgs && (hit.distinct || p >= 3) && !PROSE_COMMON.has(hit.name);
  }
  if (hit.shellArgs && (hit.distinct || c === 10 || p >= 2)) return true;
  // `& timeout /t 5`: a known command with an option or path argument.
  if (hit.optionArgs === true) return true;
  if (c === 10 && hit.distinct && !PROSE_COMMON.has(hit.name)) return true;
  return p >= 3 && hit.distinct;
}
