/**
 * Passive readings of answers the scan already has (no request of their own), for API8:
 *
 * - `runtimeError`: the message of an exception the server did not handle, in a 5xx answer (`division by
 *   zero`, `'NoneType' object has no attribute`, `Cannot read properties of undefined`, Go's `panic:`...).
 *   4xx answers are the client's validation messages and are never read.
 * - `softwareVersions`: product and version pairs in the JSON members of an answer (`"framework": "FastAPI
 *   0.1.2"`, `"python": "3.11.7"`), and on a health/info/status route the API's own version beside a debug
 *   switch that is on or a stage that is not production (`development`, `staging`...). Arrays are not entered: a list's items are the API's resources (packages with versions),
 *   not a banner.
 * - `reflectedSql`: a SQL statement in an answer that holds a value the request sent, verbatim, inside an
 *   opened string literal, with its lone quote still lone: the statement was built by pasting the input
 *   in. An API that escapes would show the quote doubled (`''`) or backslashed, and one that binds
 *   parameters shows a placeholder.
 *
 * - `internalError`: an error text with the server's internals in an answer read as data (a 2xx): frames and error
 *   lines with absolute source paths and line numbers, a database refusal naming its user; with controls (echoes,
 *   the document's own examples, code blocks of a documentation page, only error members of a JSON answer).
 *
 * Every pattern is linear or bounded to short strings; the texts read are the target's answers.
 */
import type { ScanRequest, ScanResponse } from '../client.ts';

/** Exception messages of common runtimes, as their unhandled errors print them. */
const RUNTIME_ERROR =
  /\b(?:(?:integer |float )?division (?:or modulo )?by zero|divide by zero|ZeroDivisionError|'NoneType' object|NoneType object|KeyError|IndexError|AttributeError|UnboundLocalError|TypeError: |ReferenceError|[\w$]+ is not defined|Cannot read propert(?:y|ies) of (?:undefined|null)|[\w$.]+ is not a function|NullPointerException|ArrayIndexOutOfBoundsException|IndexOutOfRangeException|ClassCastException|index out of range|panic: |runtime error: |nil pointer dereference|Object reference not set to an instance|undefined method [`'\w]|unsupported operand type|object has no attribute|Undefined (?:index|variable|offset|array key)|Uncaught (?:Error|TypeError|Exception)|NoMethodError|ActiveRecord::\w+)/;

/** The exception text a 5xx answer carries, or undefined. Never for 4xx answers. */
export function runtimeError(res: Pick<ScanResponse, 'status' | 'text'>): string | undefined {
  if (res.status < 500 || res.status > 599) return undefined;
  const m = RUNTIME_ERROR.exec(res.text.slice(0, 20_000));
  return m ? m[0].trim() : undefined;
}

/** Software a banner names: runtimes, frameworks, servers, databases, operating systems. */
const SOFTWARE =
  'FastAPI|Flask|Django|Starlette|Uvicorn|Gunicorn|Werkzeug|Tornado|aiohttp|CPython|PyPy|Python|Node(?:\\.js|js)?|Express|NestJS|Koa|Fastify|Hapi|Deno|Bun|PHP|Laravel|Symfony|Ruby|Rails|Sinatra|Puma|OpenJDK|Java|JRE|JDK|Spring(?: Boot)?|Tomcat|Jetty|Undertow|Quarkus|Micronaut|Golang|Go|Gin|Echo|Fiber|ASP\\.NET(?: Core)?|\\.NET(?: Core)?|Kestrel|IIS|nginx|Apache|httpd|Caddy|Envoy|Traefik|OpenSSL|SQLite3?|PostgreSQL|Postgres|MySQL|MariaDB|MongoDB|Redis|Elasticsearch|Cassandra|SQL Server|Oracle|SQLAlchemy|Pydantic|Hibernate|Prisma|Sequelize|Mongoose|Ubuntu|Debian|Alpine|CentOS|Red Hat|Windows Server|Linux';
/** `FastAPI 0.142.2`, `nginx/1.25.3`, `Python v3.11`, `SQLite 3.39.2`: a name, then a dotted version. */
const NAMED_VERSION = new RegExp(
  `(?<![\\w.])(${SOFTWARE})[ /:v-]{0,3}v?\\d{1,4}\\.\\d{1,4}(?:\\.\\d{1,6})*`,
  'i',
);
/** A bare version value: `3.11.7`, `v20.1.0`, `1.0.0-beta`. */
const VERSION_VALUE = /^v?\d{1,4}\.\d{1,4}(?:\.\d{1,6}){0,2}(?:[-+.][\w.+-]{1,24})?$/;
/**
 * Member names that say which software the value is the version of: `python_version`, `db_version`, and on a
 * status route `python` or `db` alone (elsewhere `engine: "2.0"` is a car's, `java: "3.50"` a coffee's).
 */
const SOFTWARE_KEY =
  /^(python|py|node|nodejs|php|ruby|java|jvm|jdk|go|golang|dotnet|framework|runtime|language|interpreter|database|db|server|webserver|os|kernel|platform|engine|django|flask|fastapi|express|rails|spring|springboot|laravel|sqlite|postgres|postgresql|mysql|mariadb|mongo|mongodb|redis|nginx|apache|openssl|sqlalchemy|pydantic|uvicorn|gunicorn|werkzeug)(version|ver)?$/;
/** Keys that name a kind of software, not one: their `version` member counts on status routes only. */
const GENERIC_KEY =
  /^(framework|runtime|language|interpreter|database|db|server|webserver|os|kernel|platform|engine)$/;
/** Names that are also ordinary words (`Go 1.5 km`): named in a value, they count on status routes only. */
const AMBIGUOUS_NAME =
  /^(go|gin|echo|fiber|express|bun|koa|java|ruby|oracle|spring|puma|caddy|envoy|hapi|rails|sinatra|alpine)$/i;
/**
 * Routes whose answers describe the deployment: the status word right after prefixes only (`/health`,
 * `/api/v1/status`, `/actuator/info`), not a resource's own status (`/orders/{id}/status`, `/orders/status`).
 */
const STATUS_ROUTE =
  /^(?:\/(?:api|rest|v\d{1,3}|public|internal|management|manage|admin|_|actuator|service|services|app|sys))*\/(?:health|healthz|healthcheck|status|info|version|about|debug|ping|system|sysinfo|actuator|diagnostics|ready|readyz|live|livez)(?:\/[^{}]*)?$/i;
const OWN_VERSION_KEY = /^(?:app|api|build|service|application)?version$/;
const ENVIRONMENT_KEY =
  /^(?:env|environment|stage|debug|debugmode|mode|profile|profiles|deployment|hostname)$/;
/**
 * The API's own version is no banner; beside a debug switch that is on, or a stage that is not production
 * (`development`, `debug`, `test`, `staging`, `local`), it shows a build that should not face clients.
 */
const NOT_PRODUCTION = /^(?:dev|develop|development|debug|test|testing|staging|stage|local|sandbox|qa)$/i;

const keyOf = (k: string) => k.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * Product and version pairs in a JSON answer, as `member "value"` strings (at most 8). `route` is the
 * operation's path, for the version-beside-environment rule of status routes.
 */
export function softwareVersions(json: unknown, route: string): string[] {
  const found: string[] = [];
  const statusRoute = STATUS_ROUTE.test(route);
  // `software`: the member that holds this object names software (`"java": {"version": "17.0.9"}`).
  const walk = (v: unknown, depth: number, software?: string) => {
    if (depth > 4 || v === null || typeof v !== 'object' || Array.isArray(v) || found.length >= 8) return;
    const entries = Object.entries(v as Record<string, unknown>).slice(0, 100);
    for (const [k, child] of entries) {
      if (found.length >= 8) return;
      const key = keyOf(k);
      const soft = SOFTWARE_KEY.exec(key);
      if (typeof child === 'string' && child.length <= 120) {
        const bare = VERSION_VALUE.test(child.trim());
        const named = NAMED_VERSION.exec(child);
        if (
          (named && (statusRoute || !AMBIGUOUS_NAME.test(named[1]))) ||
          (soft && bare && (soft[2] !== undefined || statusRoute)) ||
          (software && bare && /^(?:version|ver|v)$/.test(key))
        )
          found.push(`${software && !soft && !named ? `${software}.` : ''}${k} "${child}"`);
      } else {
        const names = soft && soft[2] === undefined && (statusRoute || !GENERIC_KEY.test(soft[1]));
        walk(child, depth + 1, names ? k : undefined);
      }
    }
    if (statusRoute && found.length === 0) {
      const own = entries.find(
        ([k, c]) => OWN_VERSION_KEY.test(keyOf(k)) && typeof c === 'string' && VERSION_VALUE.test(c.trim()),
      );
      const env = entries.find(
        ([k, c]) =>
          ENVIRONMENT_KEY.test(keyOf(k)) && (c === true || (typeof c === 'string' && NOT_PRODUCTION.test(c))),
      );
      if (own && env) found.push(`${own[0]} "${own[1]}" beside ${env[0]} ${JSON.stringify(env[1])}`);
    }
  };
  walk(json, 0);
  return found;
}

/** Whether a Server header names a version (`nginx/1.25.3`, `Apache/2.4`), not just digits in a name. */
export function serverVersion(server: string): boolean {
  return /\d\.\d|\/\s*v?\d/.test(server);
}

/** A value the request sent that carries a lone quote (a run of odd length), where it came from. */
export interface SentValue {
  readonly in: 'path' | 'query' | 'json' | 'form' | 'body';
  readonly name: string;
  readonly value: string;
}

const loneQuote = (v: string) => (v.match(/'+/g) ?? []).some((run) => run.length % 2 === 1);

function decode(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

/**
 * The sent values with a lone quote, that do not start with a quote and have at least 3 characters:
 * path segments (named from the operation's template), query values, and string members of the body
 * (two levels), at most 20.
 */
export function quotedValues(req: ScanRequest, template?: string): SentValue[] {
  const out: SentValue[] = [];
  const add = (where: SentValue['in'], name: string, value: string) => {
    if (out.length < 20 && value.length >= 3 && value[0] !== "'" && loneQuote(value))
      out.push({ in: where, name, value });
  };
  const [path, query = ''] = req.path.split('?');
  const t = template?.split('/') ?? [];
  for (const [i, seg] of path.split('/').entries()) {
    const name = /^\{([^{}]+)\}$/.exec(t[i] ?? '')?.[1] ?? `segment ${i}`;
    add('path', name, decode(seg));
  }
  for (const [k, v] of new URLSearchParams(query)) add('query', k, v);
  const type = Object.entries(req.headers ?? {}).find(([k]) => k.toLowerCase() === 'content-type')?.[1] ?? '';
  const form = /x-www-form-urlencoded|multipart/i.test(type);
  let body = req.body;
  const raw = req.body;
  if (typeof raw === 'string') {
    if (/x-www-form-urlencoded/i.test(type)) {
      for (const [k, v] of new URLSearchParams(raw)) add('form', k, v);
      return out;
    }
    try {
      body = JSON.parse(raw);
    } catch {
      add('body', 'body', raw);
      return out;
    }
  }
  const walk = (v: unknown, prefix: string, depth: number) => {
    if (depth > 2 || v === null || typeof v !== 'object') return;
    for (const [k, child] of Object.entries(v as Record<string, unknown>).slice(0, 50)) {
      const name = Array.isArray(v) ? prefix : prefix ? `${prefix}.${k}` : k;
      if (typeof child === 'string') add(form ? 'form' : 'json', name, child);
      else walk(child, name, depth + 1);
    }
  };
  walk(body, '', 0);
  return out;
}

/** A statement's head before the value: `SELECT ... FROM`, `UPDATE x SET`, `DELETE FROM`, `INSERT INTO`. */
const SQL_HEAD =
  /\b(?:select\s[^;]{0,300}?\bfrom\s|update\s+[\w."`[\]]{1,64}\s+set\s|delete\s+from\s|insert\s+into\s)/i;
/** Right before the value: a comparison, a list or VALUES, then the opening quote (and `%` of a LIKE). */
const SQL_LITERAL_OPEN = /(?:=|<>|!=|<|>|\blike|\bin\s*\(|\bvalues\s*\(|,|\bthen|\band|\bor)\s*'%?$/i;

/** The answer's strings: a JSON answer's string members (bounded), else its text. */
function answerStrings(res: Pick<ScanResponse, 'json' | 'text'>): string[] {
  if (res.json === undefined) return [res.text.slice(0, 50_000)];
  const out: string[] = [];
  const walk = (v: unknown, depth: number) => {
    if (out.length >= 200 || depth > 6) return;
    if (typeof v === 'string') {
      if (v.length <= 20_000) out.push(v);
    } else if (v !== null && typeof v === 'object') {
      for (const child of Object.values(v as Record<string, unknown>).slice(0, 200)) walk(child, depth + 1);
    }
  };
  walk(res.json, 0);
  return out;
}

/**
 * The first sent value that an answer shows pasted into a SQL statement, with the statement (cut to 300
 * characters around the value), or undefined.
 */
export function reflectedSql(
  sent: readonly SentValue[],
  res: Pick<ScanResponse, 'json' | 'text'>,
): { value: SentValue; statement: string } | undefined {
  if (sent.length === 0) return undefined;
  const strings = answerStrings(res).filter((s) => s.includes("'"));
  for (const value of sent) {
    for (const s of strings) {
      let from = 0;
      for (let n = 0; n < 5; n++) {
        const i = s.indexOf(value.value, from);
        if (i < 0) break;
        from = i + 1;
        // A value ending in its lone quote must not be followed by another (`'abc'''`: escaped, then closed).
        if (value.value.endsWith("'") && s[i + value.value.length] === "'") continue;
        const before = s.slice(Math.max(0, i - 400), i);
        if (!SQL_LITERAL_OPEN.test(before.slice(-40)) || !SQL_HEAD.test(before)) continue;
        const start = Math.max(0, i - 200);
        return { value, statement: s.slice(start, i + value.value.length + 100) };
      }
    }
  }
  return undefined;
}

/** A debug switch that is on: `debug: true`, `DEBUG: "on"`, `app_debug: 1`, `flask_debug`. */
const DEBUG_KEY = /^(?:debug|debugmode|isdebug|appdebug|flaskdebug|djangodebug|debugenabled|enabledebug)$/;
const ON = (v: unknown) => v === true || v === 1 || (typeof v === 'string' && /^(?:true|on|yes|1)$/i.test(v));
/** Stage names beside the usual keys and the frameworks' own (`NODE_ENV`, `FLASK_ENV`, `RAILS_ENV`...). */
const STAGE_KEY =
  /^(?:env|environment|stage|mode|profile|profiles|deployment|nodeenv|flaskenv|appenv|railsenv|djangoenv|aspnetcoreenvironment|activeprofiles|springprofilesactive)$/;
/** Members that name where a backing service lives (`db_host`, `redis_server`, `database_url`, `dsn`). */
const SERVICE_KEY =
  /^(?:\w*(?:database|db|sql|postgres|postgresql|pg|mysql|mariadb|mongo|mongodb|redis|cache|amqp|rabbitmq|broker|kafka|elasticsearch|queue|ldap|smtp)(?:url|uri|dsn|connection|connectionstring|connstr|host|server|address|addr))$|^(?:dsn|connectionstring|connstr)$/;
/** A backing service's address as a value: `postgresql://db:5432/app`, `redis://cache:6379`, `jdbc:mysql://...`. */
const SERVICE_URI =
  /^(?:jdbc:\w+:|(?:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|sqlite|mssql|sqlserver|oracle|ldaps?|cockroachdb)(?:\+\w+)?:\/\/|sqlite:)/i;
/** An ADO.NET connection string: `Server=...;Database=...`. */
const ADO_CONNECTION =
  /\b(?:server|data source|host)=[^;]{1,100};\s*(?:database|initial catalog|user id|uid)=/i;
/** Keys that name where a server-side thing lives: a host, an address, a URL, an upstream. */
const ADDRESS_KEY =
  /(?:host|hostname|hosts|ip|ips|ipaddress|addr|address|server|url|uri|endpoint|upstream|backend|bind|listen)$/;
/** Keys that name the caller's side or a person's record: the client's own address is no internal one. */
const CLIENT_KEY =
  /client|remote|peer|user|login|visitor|caller|forwarded|origin|source|request|your|my|last|real|device|callback|webhook|avatar|image|photo|website|homepage|redirect|return|link/;
const IPV4 = /(?<![\d.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?![\d.])/g;

/** Whether an IPv4 address is private or loopback: 10/8, 172.16/12, 192.168/16, 127/8. */
export function privateIpv4(ip: string): boolean {
  const p = ip.split('.').map(Number);
  if (p.length !== 4 || p.some((n) => !Number.isInteger(n) || n > 255)) return false;
  return (
    p[0] === 10 ||
    p[0] === 127 ||
    (p[0] === 172 && p[1] >= 16 && p[1] <= 31) ||
    (p[0] === 192 && p[1] === 168)
  );
}

/** What the debug-data reading needs beside the answer. */
export interface DebugContext {
  /** The operation's path template. */
  readonly route: string;
  /** Whether a request of the scan carried this value (the caller's own, or the scan's probe, coming back). */
  readonly sent: (value: string) => boolean;
  /** The host the scan talks to: its own address in links is no disclosure. */
  readonly targetHost: string;
}

export type DebugSign = 'debug' | 'stage' | 'service' | 'address' | 'versions';

/**
 * Debug and configuration data in a JSON answer: `strong` are findings alone (the address of a database, cache or
 * queue as a URI, a DSN, a connection string), `weak` only together (see debugFinding): a debug switch that is on,
 * a private address in a host/ip/url member, a backing service's host, a stage that is not production, software
 * versions. Arrays are not entered (a list's items are the API's data); a value a request sent, or the target's
 * own host, never counts.
 */
export function debugData(
  json: unknown,
  c: DebugContext,
): { strong: string[]; strongValues: string[]; weak: Map<DebugSign, string> } {
  const strong: string[] = [];
  // The values behind `strong` (same order), to compare two callers' answers; never put in a message.
  const strongValues: string[] = [];
  const weak = new Map<DebugSign, string>();
  const walk = (v: unknown, depth: number, pointer: string) => {
    if (depth > 5 || v === null || typeof v !== 'object' || Array.isArray(v) || strong.length >= 8) return;
    for (const [k, child] of Object.entries(v as Record<string, unknown>).slice(0, 100)) {
      const key = keyOf(k);
      const p = `${pointer}/${k}`;
      if (child !== null && typeof child === 'object') {
        walk(child, depth + 1, p);
        continue;
      }
      if (DEBUG_KEY.test(key) && ON(child)) weak.set('debug', `${p} ${JSON.stringify(child)}`);
      if (typeof child !== 'string' || child.length > 500) continue;
      const value = child.trim();
      if (STAGE_KEY.test(key) && NOT_PRODUCTION.test(value)) weak.set('stage', `${p} "${value}"`);
      if (value.length < 4 || c.sent(value)) continue;
      if (SERVICE_URI.test(value) || ADO_CONNECTION.test(value)) {
        strong.push(`${p} (a backing service's address)`);
        strongValues.push(value);
        continue;
      }
      if (
        SERVICE_KEY.test(key) &&
        /^[\w.-]+(?::\d{1,5})?$/.test(value) &&
        /[.:]/.test(value) &&
        value !== c.targetHost
      )
        weak.set('service', `${p} "${value}"`);
      if (ADDRESS_KEY.test(key) && !CLIENT_KEY.test(key)) {
        for (const m of value.matchAll(IPV4)) {
          if (m[0] !== c.targetHost && privateIpv4(m[0]) && !c.sent(m[0])) {
            weak.set('address', `${p} "${value.slice(0, 80)}" (a private address)`);
            break;
          }
        }
      }
    }
  };
  walk(json, 0, '');
  const versions = softwareVersions(json, c.route);
  if (versions.length > 0) weak.set('versions', versions.slice(0, 3).join(', '));
  return { strong, strongValues, weak };
}

/**
 * The part of `a` (debugData of one caller's answer) that `b` (another caller's answer at the same URL) shows
 * alike: strong signs with the same pointer and value, weak signs with the same text (pointer and value).
 */
export function sharedDebug(
  a: ReturnType<typeof debugData>,
  b: ReturnType<typeof debugData>,
): { strong: string[]; weak: Map<DebugSign, string> } {
  const strong = a.strong.filter((s, i) =>
    b.strong.some((t, j) => t === s && b.strongValues[j] === a.strongValues[i]),
  );
  const weak = new Map([...a.weak].filter(([kind, text]) => b.weak.get(kind) === text));
  return { strong, weak };
}

/** Routes named after the deployment's settings or internals. */
const CONFIG_ROUTE =
  /(?:^|\/)(?:config|configuration|env|environment|internal|debug|diagnostics?|system|sysinfo|server-?info|runtime)(?:\/|$)/i;

/**
 * A route about the deployment itself, the same for every caller: a status or config/debug/internal route
 * without a path parameter (`/debug/config`, `/api/internal/settings`; not `/routers/{id}/config`, one
 * customer's device).
 */
export function deploymentRoute(route: string): boolean {
  return !route.includes('{') && (STATUS_ROUTE.test(route) || CONFIG_ROUTE.test(route));
}

/** Routes that dump or debug (`/debug/users`, `/internal/dump`, `/v1/internal/backup`): no client's data source. */
const DEBUG_DATA_ROUTE =
  /(?:^|\/)(?:debug|_debug|__debug__|dump|dumps|diagnostics?|backup|backups|internal)(?:[/._-]|$)/i;

/** Whether a route, by a literal segment, is one that dumps or debugs (`/debug`, `/api/v1/internal/backup`). */
export function debugRoute(route: string): boolean {
  return route.split('/').some((seg) => !seg.includes('{') && DEBUG_DATA_ROUTE.test(`/${seg}`));
}

/** Members of a person's record that hold a secret of theirs (`password`, `password_hash`, `pin`, `otp_secret`). */
const RECORD_SECRET =
  /^(?:pass(?:word)?|passwd|pwd|password_?hash|hashed_?password|pass_?hash|hash|salt|pin|otp_?secret|totp_?secret|mfa_?secret|api_?key|secret)$/i;
/** Members that make a record a person's. */
const PERSON_MEMBER = /^(?:user_?name|username|login|e_?mail|email_?address|handle|name|full_?name)$/i;

/**
 * Pointers of secrets in people's records (a record with a user name, e-mail or name beside a password, a hash or
 * a PIN that holds a non-empty string), four levels down and 20 records a list: what a dump of the user table shows.
 */
export function recordSecrets(json: unknown): string[] {
  const out: string[] = [];
  const walk = (v: unknown, depth: number, pointer: string) => {
    if (depth > 4 || v === null || typeof v !== 'object' || out.length >= 10) return;
    if (Array.isArray(v)) {
      for (const item of v.slice(0, 20)) walk(item, depth + 1, `${pointer}/*`);
      return;
    }
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.some((k) => PERSON_MEMBER.test(k)))
      for (const k of keys)
        if (RECORD_SECRET.test(k) && typeof record[k] === 'string' && (record[k] as string).length >= 3) {
          const p = `${pointer}/${k}`;
          if (!out.includes(p)) out.push(p);
        }
    for (const [k, child] of Object.entries(record).slice(0, 50)) walk(child, depth + 1, `${pointer}/${k}`);
  };
  walk(json, 0, '');
  return out;
}

/**
 * Whether the weak signs of `debugData` make a finding: a debug switch, a private address or a backing service's
 * host, with another sign beside it, or alone on a route that describes the deployment (`/debug`, `/config`,
 * `/internal/...`, a status route). A stage or versions without any of those three are left to the version
 * banner reading.
 */
export function debugFinding(weak: ReadonlyMap<DebugSign, string>, route: string): boolean {
  if (!weak.has('debug') && !weak.has('address') && !weak.has('service')) return false;
  return weak.size >= 2 || STATUS_ROUTE.test(route) || CONFIG_ROUTE.test(route);
}

/**
 * Error texts that show the server's internals wherever they appear, 2xx answers included: a frame or an error
 * line with an absolute source path and a line number, or a database's refusal naming its user. Literal words
 * and bounded runs only (linear on any text). Each entry names what it shows.
 */
const INTERNAL_ERROR: readonly [string, RegExp][] = [
  // PHP's display_errors: `Warning: ... in /var/www/x.php on line 12` (tags stripped before reading).
  [
    'a PHP error with its source path',
    /\b(?:Fatal error|Parse error|Warning|Notice|Deprecated|Strict Standards|Uncaught [\w\\]{1,100})\s{0,3}:\s[^\n]{0,600}?\bin (?:\/|[A-Za-z]:\\)[^\s:*?"<>|]{1,300}\.(?:php|phtml|inc)(?: on line \d+|:\d+)/,
  ],
  ['a PHP stack trace', /#\d{1,3} (?:\/|[A-Za-z]:\\)[^\s(]{1,300}\.(?:php|phtml|inc)\(\d+\): /],
  [
    'a Python traceback',
    /Traceback \(most recent call last\)[^\n]{0,10}\n\s{0,8}File "[^"\n]{1,300}", line \d+/,
  ],
  ['a Python stack frame', /\bFile "(?:\/|[A-Za-z]:\\)[^"\n]{1,300}\.py", line \d+, in \w+/],
  [
    'a JavaScript stack trace',
    /\n\s{1,12}at (?:[\w$.<>[\] ]{1,200} \()?(?:\/|[A-Za-z]:\\|file:\/\/|node:)[^)\n]{1,300}:\d+:\d+\)?/,
  ],
  ['a Java stack trace', /\n?\s{0,12}at [\w$.]{1,300}\([\w$]{1,100}\.(?:java|kt|scala):\d+\)/],
  [
    'a .NET stack trace',
    /\bat [\w.`<>]{1,300}\([^)\n]{0,300}\) in (?:\/|[A-Za-z]:\\)[^\n]{1,300}\.cs:line \d+/,
  ],
  ['a Ruby stack trace', /(?:\/|[A-Za-z]:\\)[^\s:]{1,300}\.rb:\d+:in [`'][^'\n]{1,100}'/],
  ['a Go panic', /goroutine \d+ \[running\]:\n/],
  [
    'a database error naming its user',
    /Access denied for user '[^'\n]{1,100}'@'[^'\n]{1,200}'|password authentication failed for user "[^"\n]{1,100}"|Login failed for user '[^'\n]{1,100}'|FATAL: {1,3}role "[^"\n]{1,100}" does not exist/,
  ],
];

/** Members of a JSON answer that carry an error's text: a string under them (or below them) is read. */
const ERROR_KEY =
  /^(?:errors?|exception|exceptions|trace|traces|stack|stack_?trace|traceback|backtrace|detail|details|message|msg|debug|reason|cause|error_?message|error_?description|file)$/i;

/** Block elements of a documentation page whose text is an example (code blocks), removed before reading. */
const CODE_BLOCK = /<(pre|code)\b[^>]{0,200}>[\s\S]{0,20000}?<\/\1>|```[\s\S]{0,20000}?```/gi;
/** A page with headings: a document (HTML or Markdown), not a bare error output. */
const HEADINGS = /<h[1-3]\b|(?:^|\n)#{1,3} \S/i;

/** An HTML answer's text: tags removed, the usual entities decoded (`&lt;`, `&gt;`, `&amp;`, `&quot;`, `&#39;`, `&nbsp;`). */
function plainText(html: string): string {
  return html
    .replace(/<br\s{0,3}\/?>/gi, '\n')
    .replace(/<[^<>]{0,500}>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/&amp;/g, '&');
}

/** What `internalError` found: what it is, and the matched text (a path and a line, a user name: never a secret's value). */
export interface InternalError {
  readonly what: string;
  readonly shown: string;
}

/** The first internal error text in `text`, where `skip` does not rule the matched text out. */
function firstInternal(text: string, skip: (shown: string) => boolean): InternalError | undefined {
  for (const [what, re] of INTERNAL_ERROR) {
    const m = re.exec(text);
    if (!m || skip(m[0])) continue;
    // A PHP error line's own message may hold anything (a password in a connection error): its kind and place only.
    const cut =
      m[0].startsWith('Uncaught') || /^\w[\w ]{0,30}\s{0,3}:/.test(m[0]) ? m[0].lastIndexOf(' in ') : -1;
    const shown =
      what === INTERNAL_ERROR[0][0] && cut > 0 ? `${m[0].split(':')[0]}: ...${m[0].slice(cut)}` : m[0];
    return { what, shown: shown.trim().slice(0, 300) };
  }
  return undefined;
}

/**
 * An error text showing the server's internals in an answer read as data (a 2xx): stack frames and error lines with
 * absolute source paths and line numbers (PHP, Python, JavaScript, Java, .NET, Ruby, Go), a database refusal naming
 * its user; and in a JSON answer's error members (`error`, `trace`, `message`...) also a database error (`sql`) or an
 * absolute source path in `file` beside a numbered `line`.
 * Controls: a text a request of the scan sent (`sent`), or one the API's own document shows (`documented`), is an
 * echo or an example; in a page with headings (a documentation page about errors) the code blocks are examples and
 * are not read; in a JSON answer only error members are read (a stored post that quotes a traceback is data).
 * PHP notices printed before a JSON body are read as text.
 */
export function internalError(
  res: Pick<ScanResponse, 'json' | 'text'>,
  sqlError: RegExp,
  sent: (text: string) => boolean,
  documented: (text: string) => boolean,
): InternalError | undefined {
  const skip = (shown: string) => sent(shown) || documented(shown);
  const raw = res.text.slice(0, 100_000);
  if (res.json === undefined) {
    const page = HEADINGS.test(raw) ? raw.replace(CODE_BLOCK, ' ') : raw;
    return firstInternal(/<[a-z!/]/i.test(page) ? plainText(page) : page, skip);
  }
  // Text before the JSON (PHP's notices and warnings, display_errors on).
  const start = raw.search(/[[{]/);
  if (start > 0) {
    const before = firstInternal(plainText(raw.slice(0, start)), skip);
    if (before) return before;
  }
  let found: InternalError | undefined;
  let seen = 0;
  // The answer's top level is an error's members when it has one (`{"error": ..., "file": ..., "line": ...}`).
  const top =
    !Array.isArray(res.json) &&
    res.json !== null &&
    typeof res.json === 'object' &&
    Object.keys(res.json as object).some((k) => /^(?:errors?|exception|message|trace|stack)$/i.test(k));
  // `inError`: `v` is under an error member, so its strings are read.
  const walk = (v: unknown, depth: number, inError: boolean) => {
    if (found || depth > 6 || seen > 500 || v === null || typeof v !== 'object') return;
    const record = v as Record<string, unknown>;
    for (const [k, child] of Object.entries(record).slice(0, 100)) {
      seen++;
      const here = inError || ERROR_KEY.test(k);
      if (typeof child === 'string') {
        if (!here || child.length > 50_000) continue;
        found = firstInternal(child, skip);
        if (!found) {
          const sql = sqlError.exec(child);
          if (sql && !skip(child)) found = { what: 'a database error', shown: sql[0] };
        }
        if (found) return;
      } else walk(child, depth + 1, here);
    }
    if ((inError || (depth === 0 && top)) && !Array.isArray(v)) {
      // `{"file": "/var/www/app/db.php", "line": 12}`: the place an exception was thrown (when its message and trace
      // said nothing more telling).
      const file = record.file ?? record.File ?? record.filename;
      const line = record.line ?? record.Line ?? record.lineno;
      if (
        typeof file === 'string' &&
        /^(?:\/|[A-Za-z]:\\)[^\s]{1,300}\.(?:php|phtml|inc|py|js|mjs|cjs|ts|java|kt|rb|go|cs)$/.test(file) &&
        (typeof line === 'number' || (typeof line === 'string' && /^\d+$/.test(line))) &&
        !skip(file)
      )
        found = { what: 'a source path and line of an exception', shown: `${file} line ${line}` };
    }
  };
  walk(res.json, 0, false);
  return found;
}

/**
 * Environment-style names of a secret setting (`DB_PASSWORD`, `JWT_SECRET`, `AWS_SECRET_ACCESS_KEY`, `STRIPE_API_KEY`,
 * `SMTP_PASS`): upper case, the secret word last. Not an error code (`PASSWORD_TOO_SHORT`, `INVALID_TOKEN`).
 */
const SECRET_SETTING =
  /^(?:[A-Z][A-Z0-9]{0,20}_){0,4}(?:SECRET|PASSWORD|PASSWD|API_?KEY|ACCESS_KEY|PRIVATE_KEY|SECRET_KEY|SECRET_ACCESS_KEY|CLIENT_SECRET)$|^(?:[A-Z][A-Z0-9]{0,20}_){1,4}(?:PASS|PWD)$/;
/** `NAME=value` or `NAME: value` in a text (an environment dump, a settings line of a trace), name and value. */
const SETTING_LINE = /(?<![\w.])([A-Z][A-Z0-9_]{2,60})\s{0,3}[=:]\s{0,3}["']?([^\s"',;&<>]{4,200})/g;
/**
 * Configuration names of a secret as code prints them (`jwtSecret: '...'` in an inspected object, `db_password=...`):
 * a secret, password or key of a named service or purpose, never a bare `password` or `apiKey` (a form's field in a
 * validation message).
 */
const CONFIG_SETTING =
  /^(?:jwt|app|session|cookie|token|signing|encryption|client|webhook|aws|stripe|github|slack|twilio|sendgrid|mailgun|db|database|mysql|postgres|pg|redis|mongo|smtp|mail|admin|root|ldap)_?(?:secret|secret_?key|secret_?access_?key|password|passwd|pass|pwd|private_?key)$|^(?:secret_?key|private_?key|(?:stripe|github|slack|twilio|sendgrid|mailgun|aws)_?(?:api_?)?key)$/i;
/** `name: value` or `name=value` with a name in code's case (camel or snake), name and value. */
const CODE_SETTING_LINE =
  /(?<![\w.$])([a-z][A-Za-z0-9_]{2,40})\s{0,3}[=:]\s{0,3}["'`]?([^\s"'`,;&<>(){}[\]]{4,200})/g;
/** The password of an ADO.NET connection string (`Server=db;Database=app;User Id=sa;Password=...;`). */
const ADO_PASSWORD = /\b(?:password|pwd)=([^;'"\s]{3,100})/i;
/** A value that stands for no secret: masked, empty, a placeholder, a word of state. */
const NO_SECRET =
  /^(?:\*+|x{3,}|\.{3}|null|none|nil|undefined|true|false|yes|no|on|off|set|unset|empty|required|missing|hidden|redacted|masked|invalid|incorrect|wrong|expired|mismatch|unknown|too_?short|too_?long|not_?found|must|should|is|<[^<>]{0,40}>|\[[^[\]]{0,40}\]|\$\{[^{}]{0,60}\}|%[\w()]{0,40}%?)$/i;
/** An environment variable line (`HOME=/root`), for the dump of a whole environment. */
const ENV_LINE = /(?:^|[\s,;])([A-Z][A-Z0-9_]{1,40})=([^\s,;]{0,300})/g;

/** A secret an error answer shows: what it is, and its value (for the controls only: never put in a message). */
export interface ErrorSecret {
  readonly name: string;
  readonly value: string;
}

/**
 * Secrets in the text of an error answer (a stack trace, a debug page, an error body dumped from a failed request):
 * settings named like secrets in environment style (`DB_PASSWORD=...`, `JWT_SECRET: ...`), the password of an
 * ADO.NET connection string, an AWS access key, a private key. Values that are masked or placeholders do not count.
 * Connection URIs with a password, configuration members and environment dumps in JSON are configSecretMembers'
 * (api8). Linear: one pass of bounded patterns over at most 100,000 characters.
 */
export function errorSecrets(text: string): ErrorSecret[] {
  const found: ErrorSecret[] = [];
  const body = text.slice(0, 100_000);
  for (const m of body.matchAll(SETTING_LINE)) {
    if (found.length >= 8) break;
    const value = m[2].replace(/["']$/, '');
    if (SECRET_SETTING.test(m[1]) && !NO_SECRET.test(value)) found.push({ name: m[1], value });
  }
  for (const m of body.matchAll(CODE_SETTING_LINE)) {
    if (found.length >= 8) break;
    if (CONFIG_SETTING.test(m[1]) && !NO_SECRET.test(m[2])) found.push({ name: m[1], value: m[2] });
  }
  // A whole environment printed (`PATH=/usr/local/bin:/usr/bin HOME=/root ...`, 8 variables or more): whatever its
  // names, it holds every secret the deployment put there.
  const env = [...body.matchAll(ENV_LINE)].slice(0, 200);
  if (
    env.length >= 8 &&
    env.some(([, k, v]) => k === 'PATH' && /[/\\]/.test(v) && /[:;]/.test(v)) &&
    env.some(([, k]) => /^(HOME|PWD|USER|HOSTNAME|SHELL|LANG)$/.test(k))
  )
    found.push({ name: 'the process environment (PATH, HOME...)', value: '' });
  if (ADO_CONNECTION.test(body)) {
    const m = ADO_PASSWORD.exec(body);
    if (m && !NO_SECRET.test(m[1])) found.push({ name: 'the password of a connection string', value: m[1] });
  }
  const aws = /\bAKIA[0-9A-Z]{16}\b/.exec(body);
  if (aws) found.push({ name: 'an AWS access key', value: aws[0] });
  const key = /-----BEGIN [A-Z ]{0,20}PRIVATE KEY-----/.exec(body);
  if (key) found.push({ name: 'a private key', value: key[0] });
  return found;
}

/** errorSecrets over an answer: each string member of a JSON answer (a trace in `stack`), else its text. */
export function errorSecretsOf(res: Pick<ScanResponse, 'json' | 'text'>): ErrorSecret[] {
  if (res.json === undefined) return errorSecrets(res.text);
  const found: ErrorSecret[] = [];
  for (const s of answerStrings(res)) {
    if (found.length >= 8) break;
    if (/[=:]/.test(s)) found.push(...errorSecrets(s));
  }
  return found.slice(0, 8);
}
