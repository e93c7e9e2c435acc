/**
 * Inputs for comparing src/waf/detect with libmodsecurity's @detectSQLi / @detectXSS (issue 17): benign
 * values of the shapes APIs carry (names, e-mails, sentences with apostrophes, JSON and code fragments,
 * URLs, numbers, search phrases full of SQL words) and attack values written here from templates
 * (injection prefixes × payload bodies × endings; tags × attributes × handlers). All generated from a seed,
 * so a run is reproducible; public payload lists can be added with `loadPayloadFiles`.
 */
import { readFileSync } from 'node:fs';

/** A small seeded generator (mulberry32), so the corpus is the same on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = [
  'Anna',
  "O'Brien",
  'José',
  'Zoë',
  'Mary-Jane',
  'Jean-Luc',
  "D'Angelo",
  'Liam',
  'Noah',
  'Select',
  'Union',
  'Drew',
  'Grant',
  'Case',
  'Price',
  'Max',
  'Sum',
  'Nan',
  'Null',
  'Or',
  'And',
];
const LAST = [
  'Smith',
  "O'Connor",
  'Müller',
  'van der Berg',
  "D'Souza",
  'Order',
  'Union',
  'Drop',
  'Sleep',
  'Where',
  'Like',
  'Char',
  'Null',
  'Between',
  'Jones',
  'García',
];
const WORDS = (
  'the a an of to in is it and or not for with on at by from as be this that select union order group by ' +
  'drop delete update insert into where like between having limit null true false sleep char user ' +
  'table values set join left right inner outer all any exists case when then else end if database ' +
  'version count sum max min avg ascii substring concat replace round date time year month day hour ' +
  "price customer shipping product invoice account report please don't can't won't it's I'm you're " +
  "we'll they've o'clock rock'n'roll 1 2 10 100 3.14 -5 1e3 0x1f 2024 42 7"
).split(' ');
const DOMAINS = ['example.com', 'mail.test', 'corp.example.org', 'ex-ample.net'];
const TLDS = ['com', 'org', 'io', 'dev'];
const CODE = [
  'const x = a && b || c;',
  'if (a == 1) { return b; }',
  'for (let i = 0; i < n; i++) sum += i;',
  'SELECT name FROM users WHERE id = ?',
  'x = y -- decrement',
  'a /* comment */ b',
  'def f(x): return x * 2  # double',
  'echo $HOME && ls -la',
  "print('hello, world')",
  'arr.map((x) => x + 1).filter(Boolean)',
  'a = b; c = d;',
  '<div class="card">Hello</div>',
  '<b>bold</b> and <i>italic</i>',
  "<p>It's <em>fine</em></p>",
  '2 + 2 = 4',
  '1 - 1',
  '5 * (3 + 4)',
  'x >= 10 and y <= 20',
  'price < 100 or price > 500',
  'a || b',
  '@user mention',
  '#hashtag and #another',
  'C:\\Users\\me\\file.txt',
  '/usr/local/bin/node --version',
  '--verbose --dry-run',
  'user@example.com; admin@example.com',
  '$100.00',
  '$5,000',
  '100%',
  '50% off -- today only',
  'key=value&other=thing',
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

/** Benign values, `count` of them, from `seed`. */
export function benignValues(count: number, seed = 1): string[] {
  const r = seededRandom(seed);
  const out: string[] = [];
  const makers: Array<() => string> = [
    () => `${pick(r, FIRST)} ${pick(r, LAST)}`,
    () =>
      `${pick(r, FIRST)
        .toLowerCase()
        .replace(/[^a-z]/g, '')}.${pick(r, LAST)
        .toLowerCase()
        .replace(/[^a-z]/g, '')}@${pick(r, DOMAINS)}`,
    () => {
      const n = 3 + Math.floor(r() * 12);
      const ws = Array.from({ length: n }, () => pick(r, WORDS));
      const s = ws.join(' ');
      return s[0].toUpperCase() + s.slice(1) + pick(r, ['.', '!', '?', '', '...']);
    },
    () => JSON.stringify({ [pick(r, WORDS)]: pick(r, WORDS), n: Math.floor(r() * 1000), ok: r() < 0.5 }),
    () => JSON.stringify([pick(r, WORDS), pick(r, FIRST), Math.floor(r() * 50)]),
    () => `"${pick(r, WORDS)}": "${pick(r, LAST)}"`,
    () => pick(r, CODE),
    () =>
      `https://${pick(r, ['www.', 'api.', ''])}${pick(r, DOMAINS)}/${pick(r, WORDS)}/${Math.floor(r() * 999)}?q=${encodeURIComponent(pick(r, WORDS))}&page=${Math.floor(r() * 9)}`,
    () => String(Math.floor(r() * 1e6)),
    () => (r() * 1000 - 500).toFixed(2),
    () => `${2000 + Math.floor(r() * 30)}-0${1 + Math.floor(r() * 9)}-1${Math.floor(r() * 9)}`,
    () => `${Math.floor(r() * 999)} ${pick(r, LAST)} Street, Apt ${Math.floor(r() * 99)}`,
    () => `+1 (${100 + Math.floor(r() * 899)}) 555-${1000 + Math.floor(r() * 8999)}`,
    () => crypto.randomUUID(),
    () => `${pick(r, WORDS)} ${pick(r, WORDS)} ${pick(r, WORDS)}`,
    () => `${pick(r, WORDS)}'s ${pick(r, WORDS)}`,
    () => `${pick(r, FIRST)} said "${pick(r, WORDS)} ${pick(r, WORDS)}"`,
    () => `${pick(r, WORDS)}-${pick(r, WORDS)}_${Math.floor(r() * 99)}`,
    () => `tag:${pick(r, WORDS)} ${pick(r, ['AND', 'OR', 'NOT'])} tag:${pick(r, WORDS)}`,
    () => `${pick(r, WORDS)}.${pick(r, TLDS)}`,
    () => `Sort by ${pick(r, WORDS)} ${pick(r, ['asc', 'desc'])}`,
    () => `${Math.floor(r() * 10)} ${pick(r, ['or', 'and', 'to', '-', '/'])} ${Math.floor(r() * 10)}`,
    () => `${pick(r, WORDS)} (${pick(r, WORDS)})`,
    () => `I don't think ${pick(r, WORDS)} is ${pick(r, WORDS)}, it's ${pick(r, WORDS)}`,
  ];
  for (let i = 0; i < count; i++) out.push(pick(r, makers)());
  return out;
}

const SQL_PREFIX = [
  '',
  "'",
  '"',
  '1',
  "1'",
  '1"',
  "admin'",
  ')',
  "')",
  '"))',
  '1)',
  "x'",
  '-1',
  "1' ",
  '%',
  "';",
];
const SQL_BODY = [
  ' or 1=1',
  ' or 1=1--',
  ' or 1=1#',
  ' or 1=1/*',
  " or 'a'='a",
  ' or "a"="a',
  ' and 1=2',
  ' and 1=1--',
  ' union select 1,2,3',
  ' union all select null,null--',
  ' union select username,password from users--',
  '; drop table users--',
  ";waitfor delay '0:0:5'--",
  ' and sleep(5)',
  ' and benchmark(1000000,md5(1))',
  ' or pg_sleep(5)--',
  ' and extractvalue(1,concat(0x7e,version()))',
  ' and (select count(*) from information_schema.tables)>0',
  ' order by 3--',
  ' group by 1 having 1=1--',
  ' and ascii(substring(user(),1,1))>64',
  '||(select 1)',
  ' and 1 in (select 1)',
  ' or exists(select 1)',
  ";exec xp_cmdshell 'dir'--",
  " into outfile '/tmp/x'",
  ' and if(1=1,sleep(3),0)',
  ' rlike (select 1)',
  '/**/or/**/1=1',
  ' or true--',
  ' or 1 --',
  ' --',
  '-- -',
  ' #',
  ' limit 1--',
  ' having 1=1',
  ' and updatexml(1,concat(0x7e,user()),1)',
];
const SQL_END = ['', '--', '-- -', '#', '/*', ';', " and '1'='1", ' and "1"="1'];

/** Attack values built from injection templates (a cross product, sampled). */
export function attackValues(count: number, seed = 2): string[] {
  const r = seededRandom(seed);
  const out: string[] = [];
  const tags = [
    'script',
    'img',
    'svg',
    'iframe',
    'body',
    'a',
    'div',
    'input',
    'video',
    'details',
    'object',
    'embed',
    'x',
  ];
  const attrs = [
    'onerror',
    'onload',
    'onclick',
    'onmouseover',
    'href',
    'src',
    'style',
    'formaction',
    'data',
    'on',
    'title',
  ];
  const vals = [
    'alert(1)',
    'javascript:alert(1)',
    'x',
    '"x"',
    'expression(alert(1))',
    'data:text/html,<x>',
    '&#106;avascript:1',
    'vbscript:x',
  ];
  for (let i = 0; i < count; i++) {
    if (r() < 0.55) {
      out.push(pick(r, SQL_PREFIX) + pick(r, SQL_BODY) + (r() < 0.4 ? pick(r, SQL_END) : ''));
    } else {
      const tag = pick(r, tags);
      const sep = pick(r, [' ', '/', '\t', '\n']);
      const q = pick(r, ['', '"', "'", '`']);
      const v = `<${tag}${sep}${pick(r, attrs)}=${q}${pick(r, vals)}${q}>`;
      out.push(pick(r, ['', '">', "'>", '</title>', '-->', 'x ']) + v + (r() < 0.3 ? `</${tag}>` : ''));
    }
  }
  return out;
}

/** Lines of public payload files (one payload per line), empty lines and `#` comments dropped. */
export function loadPayloadFiles(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    for (const line of readFileSync(p, 'latin1').split(/\r?\n/)) {
      if (line.trim() === '' || line.startsWith('# ')) continue;
      out.push(line);
    }
  }
  return out;
}
