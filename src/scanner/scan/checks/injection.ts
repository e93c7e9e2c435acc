/**
 * Injection in every location an operation takes a string from the client: path, query, header and cookie
 * parameters, JSON body fields (top level and one level down) and form fields. Each input is probed as the
 * first identity (A, B, the admin, then anonymous) whose unaltered request gets a 2xx: the baseline comes
 * first, and every judgement has a control.
 *
 * - Error-based: a quote raises a database (or server-side JavaScript) error that the baseline and a doubled
 *   quote (the control) do not.
 * - Boolean-based, when a quote and a doubled quote answer differently: two different tautologies
 *   (`' OR '1'='1`, `' OR 'b'='b`; `' || '1'=='1` for `$where`) answer alike and unlike a contradiction, which
 *   answers like a value that matches nothing. Echoes of the payload are removed first. Only in reads and logins
 *   (`readsOnly`, `mayWiden`): in a write (`UPDATE ... WHERE name='<input>'`) a tautology changes every row, so a
 *   write gets `v' AND 'b'='b` / `v' AND 'b'='c` instead, which can only narrow what the plain value reaches. The
 *   same holds for SQL fragments (`where=1=1`), comment-terminated and stacked SQL sleeps and operator objects.
 * - Command, output-based: `;echo pcx$((6*7))z` and `$(echo ...)`: only a shell turns it into `pcx42z`.
 * - Time-based (command `sleep 1`, SQL `SLEEP(1)`/`pg_sleep(1)`/`WAITFOR`; the delay is `timeDelayMs`, 1 s by
 *   default): slower than the slower of two baselines by 80% of the delay, twice, with the same payload
 *   asking for 0 s in between answering faster (the control). Only on inputs whose name or operation suggests a sink, to bound time,
 *   after every input had its other probes, and not where the plain request itself takes over 300 ms.
 * - Quote differential, when nothing above proved it: a quote answers 5xx while two quotes and the plain value
 *   answer 2xx, twice: SQL injection at medium severity (a hidden error page, a result the answer never shows).
 * - NoSQL: `{"$ne": ...}` in a JSON string field (or `name[$ne]=` in a query) must not widen the answer
 *   compared with the same value as a plain string and with `{"$eq": ...}` (the control).
 * - Template, output-based, on inputs the answer shows (the sampled value, else a marker of the scan's own):
 *   `{{7331*1709}}`, `${...}`, `<%= ... %>`, `#{...}` between markers: only a template engine computes the product.
 * - Path traversal, on inputs whose name or path suggests a file: `../` up to the root, then `etc/passwd` (or
 *   `windows/win.ini`): the file's own lines must come back, absent from the baseline. Every other query or
 *   path input of a GET, and every input whose plain request failed, gets the first of them (one request).
 * - An input no identity reaches with a 2xx (the plain request fails: a command that errors, a template that
 *   needs a value) still gets the probes that prove themselves (command, template and file output), as A.
 * - A write that names an object by its path (`POST /tickets/{id}/convert/`) is probed on an object the scan
 *   created that still reads back, as the identity that created it; none left of that kind (API1 deleted them),
 *   on a fresh one made through the documented creation (see liveObject). Never on what the API gave out. Its
 *   path value too (`3'`, `3+0`, numeric sleeps joined with AND): the runner lets such a probe of the scan's own
 *   object through.
 * - A DELETE's path and query inputs are probed on made-up values only (deletePoints): error- and time-based, the
 *   command canaries; never a tautology, a condition, an operator object or a traversal.
 * - A value that is base64 of a number, a name or a JSON object (`MTI=`) is probed in the text it holds, each probe
 *   sent encoded the same way (codecOf).
 * - A login the document lists without a body gets the fields of the identities' own login (undocumentedLogin); a
 *   login whose every failure is a 5xx keeps that answer as its baseline. A login's user input is the one named so,
 *   else the one field beside its password or PIN (`{card_no, pin}`). Every login input, fast enough, gets SQL sleeps
 *   that run once and match nobody (onceSleeps), for the logins that answer every failure alike.
 * - The credential itself (credentialProbes): an identity's bearer token, API-key header, session or token cookie and
 *   Basic user name, replaced by made-up values of the scan's own on a read it reaches and a made-up credential does
 *   not: error-, boolean- (a Basic user name: one tautology, as a login) and time-based, and the quote differential.
 * - A write refused to the owner of the scan's object it names goes as the admin on that same object (a fresh one is
 *   created as the first identity the creation does not refuse, the admin included); an account change refused to
 *   the scan's own account goes as the admin, naming that account only; an own-record write at an account item
 *   route (`PUT /members/{member_id}`) goes as the scan's own account once its read there shows that account.
 *
 * Scheduling, within a budget in time and in requests (`requestBudget`): every operation's plain request
 * first; then a first round for every input (the quote pair, one command canary, the reflection marker, one
 * template where reflected, one traversal), ordinary operations first, slow ones (plain request over 300 ms)
 * after them, logins and sign-ups (these anonymously) last with the quote pair and the canary only; then the
 * second round in the same order; then the time-based probes and the operator objects. So a slow login or a
 * crashing target costs the late inputs their costly probes, not their telling ones. An operation with an input
 * that got less than both rounds is noted `incomplete` with which inputs got what: the coverage shows it skipped
 * with why, never tested. Password changes and resets and account changes (e-mail, role) are probed only on an
 * account of the scan's own (`pci<random>`, registered through the sign-up), as that account, naming it and no
 * other, and only with probes that cannot reach other rows (see `Job.safe`); never as a given identity: sent
 * so they change its account.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import type { JsonObject, Operation } from '../../../core/api-document.ts';
import type { RuleInfo, Severity } from '../../finding.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { curlFor } from '../curl.ts';
import {
  accessListPath,
  accountFlow,
  changesAccount,
  changesOwnAccount,
  createdId,
  holdsRecord,
  itemsOf,
  ownProfileWritePath,
  ownRecordWrite as ownRecordPostWrite,
  passwordName,
  personMember,
  setsPassword,
  UPDATE_VERB,
  withOwnAccount,
} from '../discover.ts';
import { entityOfPath, singular } from '../harvest.ts';
import { signedIn } from '../login.ts';
import { stillScanMade } from '../objects.ts';
import type { LoginFlow } from '../options.ts';
import {
  bodySchema,
  captureId,
  creationCollection,
  isCreationOperation,
  isExcluded,
  isLoginOperation,
  isUuid,
  jsonBodySchema,
  listedValue,
  loginByWords,
  madeUpUuid,
  memberParam,
  type PlannedRequest,
  pathActs,
  pathValues,
  planRequest,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import {
  propertiesOf,
  recordFields,
  recordProperties,
  resolveSchema,
  sampleValue,
  schemaEnvelope,
  schemaType,
  withFields,
} from '../schema.ts';
import { accountParam } from '../self.ts';
import { similarity } from '../similarity.ts';
import { documentedLogins, findLoginTarget, unknownUser } from './api2-authentication.ts';
import { refusedIn200 } from './api5-function-authorization.ts';
import { itemDelete, storedXss, storedXssUpdates } from './stored-xss.ts';
import {
  checkIds,
  claimAccountPath,
  signup as documentedSignup,
  freshPassword,
  MAIL_FIELD,
  namesOnly,
  noteLeftAccount,
  PASSWORD,
  passwordRequest,
  recordWith,
  registerThrowaway,
  retireThrowaway,
  reuseThrowaway,
  type Throwaway,
} from './throwaway.ts';
import { urlInputs } from './url-inputs.ts';

const PAGE_PARAM = /^(limit|offset|page|page_?size|per_?page|size|count|cursor)$/i;
/** Sort inputs: a column name is the value that works (`ORDER BY id`), a random string breaks the baseline. */
const SORT_PARAM = /^(sort(_?by)?|order(ing|_?by)?|sort_?field|column)$/i;
/** Names and paths that suggest a sink worth the slower time-based probes. */
const LIKELY_SINK =
  /search|query|^q$|filter|find|lookup|name|title|host|domain|ip|addr|file|path|dir|cmd|command|exec|ping|export|report|convert|template|format|where|sql|term|keyword/i;
/**
 * A database's error, or its only trace: the driver's or the database's own words, and the PHP warnings a script prints
 * when its query failed and it used the result anyway (`mysqli_fetch_assoc() expects parameter 1 to be mysqli_result,
 * bool given`). Literal words and one bounded class: linear on any text.
 */
export const SQL_ERROR =
  /SQLITE_ERROR|ERR_SQLITE|unrecognized token|near \\?"[^"\n]{0,200}": syntax error|SQL syntax|syntax error at or near|unterminated quoted string at or near|quoted string not properly terminated|ORA-\d{5}|SQLSTATE|PG::|pg_query|psycopg2?\.|sqlalchemy\.exc|mysql_fetch|MySqlException|SqlException|ODBC|JDBC|Microsoft OLE DB|Unclosed quotation mark|sqlite3\.OperationalError|mysqli?_(?:fetch_[a-z]{1,10}|num_rows|result|query|affected_rows)\(|not a valid MySQL(?: result)? resource|SQLiteException|Incorrect syntax near|ER_PARSE_ERROR|QueryFailedError|SequelizeDatabaseError|Syntax error in string in query expression|DB2 SQL error|Unable to prepare statement/i;
export const NOSQL_ERROR = /MongoError|MongoServerError|CastError|BSONError|unknown operator|\$where|E11000/;
/** A MongoDB error, or a JavaScript syntax error from code the server evaluates (`$where`, `eval`). */
const JS_ERROR =
  /MongoError|MongoServerError|BSONError|SyntaxError: (missing|unexpected|unterminated|invalid or unexpected)/i;
const CMD_OUTPUT = 'pcx42z';
/** Template expressions between markers, one per syntax family; only an engine computes 7331*1709. */
const TEMPLATE_PAYLOADS = [
  'pcx{{7331*1709}}z',
  'pcx${7331*1709}z',
  'pcx<%= 7331*1709 %>z',
  'pcx#{7331*1709}z',
];
const TEMPLATE_OUTPUT = 'pcx12528679z';
/** Inputs that name a file to read or serve. */
const FILE_INPUT =
  /file|path|pic(ture)?|image|img|photo|avatar|icon|doc(ument)?|download|attach|template|page|include|resource|asset|load|read|folder|dir$|^dir|log$|report/i;
const TRAVERSAL_PAYLOADS = [
  `${'../'.repeat(10)}etc/passwd`,
  `${'....//'.repeat(10)}etc/passwd`,
  '/etc/passwd',
  `${'..\\'.repeat(10)}windows\\win.ini`,
];
/** Lines of the files the traversal asks for: `/etc/passwd`'s root entry, `win.ini`'s sections. */
const FILE_CONTENT = /\broot:[^:\s]*:0:0:|^\[(fonts|extensions|mci extensions)\]\s*$/im;
/** A parameter that names a column (`sort`, or "the column" in its description): a real column name works. */
const COLUMN_DESCRIPTION = /\b(column|field name|attribute name|property name|sort key)\b/i;
/**
 * Inputs an API may paste into SQL as a fragment rather than a quoted value: a condition (`?where=`,
 * `sql_where`, `filter`, `q`) or an ordering (`order_by`, `sort`). Named so, or a free string whose description
 * says SQL, a WHERE clause or an ORDER BY.
 */
const CONDITION_NAME =
  /^(sql_?)?(where|where_?clause|filters?|conditions?|clause|criteria|predicate|query|q|having)$|(^|_)where(_|$)|(^|_)sql(_|$)/i;
/**
 * Condition names that say outright that the value is SQL: their plain value is a condition, `1=1` (holds) in a
 * read, `1=2` (holds nowhere) in anything else: `UPDATE users ... WHERE (1=1)` would change every row.
 */
const SQL_CONDITION_NAME = /(^|_)(where|sql|clause|predicate|criteria|having)(_|$)|^conditions?$/i;
const CONDITION_PROSE =
  /\bSQL\b|\bWHERE\b|\bwhere[- ]clause\b|\b(filter|query|search) (expression|condition|clause)\b/;
/** The last literal segment of a POST that only reads: a search or a query (`POST /orders/search`). */
const READ_SEGMENT = /^_?(search|query|lookup|find|filter)(es|s)?$/i;
/** A summary or description that opens by saying the operation searches. */
const READ_PROSE = /^\s*(searches|search|finds|find|looks? up|queries|query)\b/i;
/** Words of change in a search's prose: "Finds the matching orders and cancels them" is a write. */
const CHANGE_PROSE =
  /\b(cancel|delete|remove|purge|update|deactivat|disabl|ban|void|refund|archiv|close|set|change|modif|creat|insert|writ|sav|send|mark)\w*/i;

/**
 * An operation whose requests change nothing: a GET or HEAD whose path does not act, or a POST whose path ends in
 * a search or query segment (no path parameter after it) or whose summary says it searches, and whose summary has
 * no word of change. Only these get conditions that hold (`1=1`, `' OR '1'='1`), comment-terminated SQL, stacked statements
 * and operator objects (`{"$ne": ...}`): in a write, each of them widens what the write changes to every row.
 * Anything unsure is a write.
 */
export function readsOnly(op: Operation): boolean {
  if (pathActs(op.path)) return false;
  if (op.method === 'GET' || op.method === 'HEAD') return true;
  if (op.method !== 'POST') return false;
  if (CHANGE_PROSE.test(op.summary ?? '')) return false;
  const last = op.path.split('?')[0].split('/').filter(Boolean).pop() ?? '';
  return READ_SEGMENT.test(last) || READ_PROSE.test(op.summary ?? '');
}

const ORDER_NAME = /^(sort(_?by)?|order(ing|_?by)?|sort_?(field|order|column)|order_?column|group_?by)$/i;
const ORDER_PROSE = /\bORDER BY\b|\border(ing)? (clause|expression)\b|\bcolumns? to (sort|order) by\b/i;
/** Database errors about an ordering term that names no column: `ORDER BY 999`. */
const ORDER_ERROR =
  /ORDER BY (term|position|clause)|in 'order clause'|not in select list|term out of range|ORDER BY.{0,40}(out of range|invalid|unknown)/i;

const CONCURRENCY = 3;
/** A plain request slower than this gets no time-based probes (a login hashing a password). */
const SLOW_BASELINE_MS = 300;
/** Time the injection probes may use when the caller gives none (API8 gives what is left of its 20 s). */
const BUDGET_MS = 18_000;

export type InputLocation = 'path' | 'query' | 'header' | 'cookie' | 'json' | 'form';

export interface InjectionPoint {
  readonly op: Operation;
  readonly in: InputLocation;
  /** Parameter name, or body member (`a.b` one level down). */
  readonly name: string;
  readonly value: string;
  readonly likely: boolean;
  /**
   * Pasted into SQL as a fragment (see CONDITION_NAME): a condition, an ordering, or an ordering's direction
   * (`direction=desc`: `ORDER BY price <direction>`).
   */
  readonly fragment?: 'condition' | 'order' | 'direction' | 'column';
  /** A body field of a login the document gives no body for (see undocumentedLogin), and how it is encoded. */
  readonly undocumented?: 'json' | 'form';
}

/** Inputs named for the direction of an ordering (`dir`, `direction`, `sort_order`, `sortDir`). */
const DIRECTION_NAME = /^((sort|order)_?)?(dir|direction)$|^(sort|order)_?order$/i;
/** Inputs that name the column a lookup compares (`?column=name&value=`, `search_by`): `WHERE <column> = ?`. */
const COLUMN_NAME =
  /^(column|col|search_?(by|field|column|in)|filter_?(by|field|column)|lookup_?(by|field))$/i;
/** An object that holds an ordering's members (`sort: {field, direction}`). */
const ORDERING_OBJECT = /^(sort(_?by)?|order(_?by|ing)?)$/i;
/** The member of an ordering object that names the column (`sort.field`, `orderBy.column`). */
const ORDERING_MEMBER = /^(field|column|key|by|name|property|attribute|prop|col)$/i;
/** The values of an ordering's direction. */
const DIRECTION_VALUE = /^(asc|desc)(ending)?$/i;

/**
 * Whether an input's name or description says it is pasted into SQL as a condition, an ordering or an ordering's
 * direction (a direction by its name, or an ordering input whose value is `asc` or `desc`: `order=desc`).
 */
export function fragmentKind(
  name: string,
  description: string,
  value?: unknown,
): 'condition' | 'order' | 'direction' | 'column' | undefined {
  const parts = name.split('.');
  const leaf = parts.pop() ?? name;
  // A member of an ordering object (`sort: {field, direction}`, `orderBy: {column, dir}`).
  const inOrdering = parts.length > 0 && ORDERING_OBJECT.test(parts[parts.length - 1]);
  if (
    DIRECTION_NAME.test(leaf) ||
    (inOrdering && /^(dir|direction|order|sort)$/i.test(leaf)) ||
    ((ORDER_NAME.test(leaf) || inOrdering) && DIRECTION_VALUE.test(String(value ?? '')))
  )
    return 'direction';
  if (ORDER_NAME.test(leaf) || ORDER_PROSE.test(description)) return 'order';
  if (inOrdering && ORDERING_MEMBER.test(leaf)) return 'order';
  if (CONDITION_NAME.test(leaf) || CONDITION_PROSE.test(description)) return 'condition';
  if (COLUMN_NAME.test(leaf)) return 'column';
  return undefined;
}

/** A skipped or probed input, for the coverage matrix. */
export interface PointOutcome {
  readonly point: InjectionPoint;
  /** `partial`: the first round only (the budget ran out before its second). */
  readonly status: 'tested' | 'partial' | 'skipped' | 'finding';
  readonly reason?: string;
}

/**
 * A string the client may set. Enums count: a document that lists the allowed values does not prove the API
 * checks them (`format: [pdf, html]` pasted into a shell command). So do formats (`email`, `password`, `uuid`,
 * `date`): they are advisory, and a login that pastes its `format: email` input into SQL answers a quote with a
 * database error; a server that checks the format refuses the probes, and the quote pair's control shows it. Only
 * a file (`binary`) is no string input.
 */
function stringInput(s: JsonObject): boolean {
  const type = schemaType(s);
  if (type !== undefined && type !== 'string') return false;
  if (s.const !== undefined) return false;
  return s.format !== 'binary';
}

function formSchema(op: Operation) {
  for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
    if (/x-www-form-urlencoded|multipart\/form-data/i.test(type)) return media.schema ?? {};
  }
  return undefined;
}

/**
 * Every string input of every operation (not DELETE: its baseline would delete the object; see deletePoints), a
 * read's number inputs, and the fields of a login listed without a body (undocumentedLogin).
 */
/** A list member naming the values an input may take: `allowed_actions`, `availableCommands`, `tool_options`. */
const CHOICES_NAME =
  /^(?:(?:available|allowed|supported|valid|permitted|enabled|known)[_-]?([a-z][a-z0-9]*?)|([a-z][a-z0-9]*?)[_-]?(?:list|options|choices))$/i;
/** A message that lists them: `allowed tasks: df, free`, `valid actions are uptime, date`, `supported modes: a | b`. */
const CHOICES_PROSE =
  /\b(?:available|allowed|supported|valid|permitted|known)\s+([a-z]{2,20})\s*(?:are|is)?\s*:?\s+\[?((?:['"`]?[\w.:/-]{1,40}['"`]?\s*(?:,|\||\bor\b)\s*){1,49}['"`]?[\w.:/-]{1,40}['"`]?)/i;
/** A listed value an input may take: a short word, not free text. */
const CHOICE_VALUE = /^[\w.:/-]{1,40}$/;
/** Members of a listed object that name it (`{name: "ping", summary: ...}`). */
const CHOICE_KEY = ['name', 'id', 'key', 'value', 'code', 'command', 'action', 'slug'];
/** Kinds of input whose listed values are taken: what runs or is run on (never a role, plan or status). */
const CHOICE_NOUN =
  /^(command|action|tool|task|operation|job|check|test|utility|script|program|diagnostic|report|probe|function|service|host|format|mode|filter|exporter|converter)$/;
/** A listed value that grants something: never put in a request by this. */
const CHOICE_PRIVILEGED = /admin|super|root|owner|staff|manager/i;
/** Short forms an input goes by for a listed noun. */
const CHOICE_ALIAS: Readonly<Record<string, string>> = { cmd: 'command', op: 'operation', act: 'action' };

/**
 * The values the API itself lists for a kind of input, by the input's singular name: a member of an answer the scan
 * got (three levels down, 400 answers at most) named `allowed_actions`, `availableCommands`, `supportedTools`,
 * `command_list`..., holding 1 to 50 short strings, or objects named by a `name`/`id`/`key`... member. An input
 * whose handler refuses anything else (`unknown action`) is reached only with one of them: the probes then follow a
 * listed value (`uptime;echo ...`), as a caller would send it.
 */
export function listedChoices(observations: readonly { readonly response: { readonly json: unknown } }[]) {
  const out = new Map<string, string[]>();
  const keep = (word: string, values: readonly unknown[]) => {
    const noun = singular(word);
    if (!CHOICE_NOUN.test(noun) || out.has(noun)) return;
    if (!values.every((c) => typeof c === 'string' && CHOICE_VALUE.test(c))) return;
    const usable = (values as string[]).filter((c) => !CHOICE_PRIVILEGED.test(c));
    if (usable.length > 0) out.set(noun, usable);
  };
  const walk = (v: unknown, depth: number) => {
    // A refusal's message that names them: `unknown task; allowed tasks: df, free`.
    if (typeof v === 'string') {
      const m = CHOICES_PROSE.exec(v.slice(0, 500));
      if (m)
        keep(
          m[1],
          m[2]
            .split(/\s*[,|]\s*|\s+or\s+/)
            .map((c) => c.replace(/^['"`]|['"`]$/g, ''))
            .slice(0, 50),
        );
      return;
    }
    if (v === null || typeof v !== 'object' || depth > 3 || out.size >= 50) return;
    if (Array.isArray(v)) {
      for (const x of v.slice(0, 20)) walk(x, depth + 1);
      return;
    }
    for (const [k, x] of Object.entries(v as Record<string, unknown>).slice(0, 100)) {
      const m = CHOICES_NAME.exec(k);
      if (m && Array.isArray(x) && x.length > 0 && x.length <= 50) {
        const values = x.map((item) =>
          typeof item === 'string'
            ? item
            : item !== null && typeof item === 'object'
              ? CHOICE_KEY.map((n) => (item as Record<string, unknown>)[n]).find((n) => typeof n === 'string')
              : undefined,
        );
        keep(m[1] ?? m[2], values);
        continue;
      }
      walk(x, depth + 1);
    }
  };
  for (const o of observations.slice(0, 400)) walk(o.response.json, 0);
  return out;
}

/** The listed values (listedChoices) an input named `name` (its last member) takes, if any. */
function choicesFor(choices: ReadonlyMap<string, string[]>, name: string): string[] | undefined {
  const leaf = (name.split('.').pop() ?? name).toLowerCase().replace(/[_-]/g, '');
  const noun = CHOICE_ALIAS[leaf] ?? singular(leaf);
  return choices.get(noun) ?? choices.get(noun.replace(/(name|type)$/, ''));
}

export function injectionPoints(ctx: ScanContext): InjectionPoint[] {
  const urls = new Set(urlInputs(ctx.spec).map((u) => `${u.operation.id}\0${u.name}`));
  // (A context made for a unit test may carry no observations.)
  const choices = listedChoices(ctx.observations ?? []);
  const out: InjectionPoint[] = [];
  for (const op of ctx.spec.operations) {
    if (isExcluded(op) || op.method === 'DELETE' || op.method === 'HEAD' || op.method === 'OPTIONS') continue;
    const opLikely = LIKELY_SINK.test(op.path);
    const add = (
      where: InputLocation,
      name: string,
      value: unknown,
      description = '',
      example = false,
      guessed?: { readonly encoding: 'json' | 'form' },
    ) => {
      if (urls.has(`${op.id}\0${name}`) || PAGE_PARAM.test(name.split('.').pop() ?? name)) return;
      // A value the API lists for this kind of input (listedChoices), unless it has one of them already.
      const listed = example ? undefined : choicesFor(choices, name);
      if (listed && !listed.includes(String(value))) value = listed[0];
      const fragment = fragmentKind(name, description, value);
      out.push({
        op,
        in: where,
        name,
        value:
          fragment === 'direction'
            ? DIRECTION_VALUE.test(String(value ?? ''))
              ? String(value)
              : 'asc'
            : SORT_PARAM.test(name) ||
                COLUMN_DESCRIPTION.test(description) ||
                // A member of an ordering object with a made-up sample (`sort.field`): a column that exists.
                (fragment === 'order' &&
                  !example &&
                  name.includes('.') &&
                  (typeof value !== 'string' || /^(string|portcullis-[0-9a-f]+|pc[0-9a-f]+)$/.test(value)))
              ? 'id'
              : // A condition the name says is SQL is one unless documented (a made-up word names no column):
                // one that holds in a read, one that holds nowhere in a write.
                fragment === 'condition' && !example && SQL_CONDITION_NAME.test(name.split('.').pop() ?? name)
                ? neutralCondition(op)
                : typeof value === 'string'
                  ? value
                  : typeof value === 'number' && where !== 'path'
                    ? String(value)
                    : `pc${randomUUID().slice(0, 6)}`,
        likely: opLikely || LIKELY_SINK.test(name),
        ...(fragment !== undefined ? { fragment } : {}),
        ...(guessed !== undefined ? { undocumented: guessed.encoding } : {}),
      });
    };
    for (const p of op.parameters) {
      const s = resolveSchema(ctx.spec, p.schema);
      const type = schemaType(s);
      // Path parameters are probed even when typed integer: many APIs pass them to a query as text; so are a
      // read's number query inputs (`GET /readings?sensor_id=3`), where the probes change nothing.
      const numberInRead = p.in === 'query' && (type === 'integer' || type === 'number') && readsOnly(op);
      if (
        !stringInput(s) &&
        !(p.in === 'path' && (type === 'integer' || type === undefined)) &&
        !numberInRead
      )
        continue;
      if (p.in !== 'path' && p.in !== 'query' && p.in !== 'header' && p.in !== 'cookie') continue;
      const example =
        p.raw.example ?? (s.example as unknown) ?? (Array.isArray(s.examples) ? s.examples[0] : undefined);
      add(
        p.in,
        p.name,
        example ?? sampleValue(ctx.spec, p.schema, p.name),
        typeof p.raw.description === 'string' ? p.raw.description : String(s.description ?? ''),
        typeof example === 'string',
      );
    }
    const json = jsonBodySchema(op);
    const form = json === undefined ? formSchema(op) : undefined;
    const body = json ?? form;
    if (body === undefined) {
      // A login the document lists without its body: the fields its logins send (see undocumentedLogin).
      const guessed = undocumentedLogin(ctx, op);
      for (const name of guessed?.fields ?? []) add(guessed!.encoding, name, undefined, '', false, guessed);
      continue;
    }
    // The values each input starts from: the JSON body the planner builds for the first identity (values the API
    // gave out beat the document's placeholders: `book_id: "string"` names no book), else a sample.
    const first = ctx.identities[0];
    const planned =
      json !== undefined
        ? planRequest(ctx.spec, op, ctx.objects, first ? { owner: first.name } : {}).body
        : undefined;
    const sample = (
      planned !== null && typeof planned === 'object' && !Array.isArray(planned)
        ? planned
        : sampleValue(ctx.spec, body)
    ) as Record<string, unknown> | null;
    if (sample === null || typeof sample !== 'object') continue;
    // The body's string inputs, nested objects' members named by their path (`data.attributes.email`).
    const members = (
      props: Record<string, JsonObject>,
      values: Record<string, unknown> | undefined,
      prefix: string,
      depth: number,
    ): void => {
      // A JSON:API resource object: its `attributes` take the probes; its `type` and `id` name the resource
      // kind and the object (an unknown type is refused before any query), not an input of interest.
      const resource = json && props.attributes !== undefined && schemaType(props.attributes) === 'object';
      for (const [name, s] of Object.entries(props)) {
        if (s.readOnly === true || (resource && (name === 'type' || name === 'id'))) continue;
        if (json && schemaType(s) === 'object') {
          if (depth < MAX_NESTED)
            members(
              propertiesOf(ctx.spec, s),
              values?.[name] as Record<string, unknown> | undefined,
              `${prefix}${name}.`,
              depth + 1,
            );
          continue;
        }
        // A search's number fields too (`POST /orders/search {"customer_id": 3}`): a read, the probes change nothing.
        const numberInRead = ['integer', 'number'].includes(String(schemaType(s))) && readsOnly(op);
        if (stringInput(s) || (depth === 0 && numberInRead))
          add(
            json ? 'json' : 'form',
            `${prefix}${name}`,
            values?.[name],
            String(s.description ?? ''),
            s.example !== undefined,
          );
      }
    };
    members(propertiesOf(ctx.spec, body), sample, '', 0);
  }
  return out;
}

/** How deep the injection points of a JSON body go: `data.attributes.email` is two objects down. */
const MAX_NESTED = 3;

/**
 * How an input's values are encoded when they are base64 of something (`MTI=` is "12", `eyJpZCI6MTJ9` is
 * `{"id":12}`): the probes go in the decoded text and are sent encoded the same way, as the API decodes its input
 * before it uses it (a probe in clear text decodes to garbage).
 */
export interface Codec {
  readonly name: 'base64' | 'base64url' | 'base64 JSON';
  /** The text the value holds (for JSON, the member the probes go into). */
  readonly decoded: string;
  encode(text: string): string;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const BASE64URL = /^[A-Za-z0-9_-]{4,}$/;
/** Decoded text that reads as a value: a number, a name, an e-mail, `kind:id` (no spaces, nothing binary). */
const VALUE_TEXT = /^[\w.@:+=~/-]{1,200}$/;
/** A JSON member that names the object (`id`, `user_id`, `accountId`). */
const ID_MEMBER = /(^|_)id$|[a-z]Id$|^uuid$/i;

/**
 * The encoding of a value that is base64 (or base64url) of printable text, re-encoding to the very same value:
 * a number, a name or `kind:id` (base64), or a JSON object, whose id member (else its only scalar member) takes
 * the probes. Undefined for anything else: an ordinary word or hex id decodes to bytes that are not text.
 */
export function codecOf(value: string): Codec | undefined {
  if (value.length < 4 || value.length > 4096) return undefined;
  const url = !BASE64.test(value);
  if (url && (!BASE64URL.test(value) || value.length % 4 === 1)) return undefined;
  const text = Buffer.from(value, url ? 'base64url' : 'base64').toString('latin1');
  if (!/^[\x20-\x7e]+$/.test(text)) return undefined;
  const enc = (t: string) => Buffer.from(t, 'utf8').toString(url ? 'base64url' : 'base64');
  if (enc(text) !== value) return undefined;
  const name = url ? ('base64url' as const) : ('base64' as const);
  if (text.startsWith('{')) {
    let obj: unknown;
    try {
      obj = JSON.parse(text);
    } catch {
      return undefined;
    }
    if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return undefined;
    const scalars = Object.entries(obj as Record<string, unknown>).filter(
      ([, v]) => typeof v === 'string' || typeof v === 'number',
    );
    const member =
      scalars.find(([k]) => ID_MEMBER.test(k)) ?? (scalars.length === 1 ? scalars[0] : undefined);
    if (member === undefined) return undefined;
    return {
      name: 'base64 JSON',
      decoded: String(member[1]),
      encode: (t) => enc(JSON.stringify({ ...(obj as Record<string, unknown>), [member[0]]: t })),
    };
  }
  // A number, else text of four characters or more: three random letters decode to text too often.
  return /^\d{1,18}$/.test(text) || (text.length >= 4 && VALUE_TEXT.test(text))
    ? { name, decoded: text, encode: enc }
    : undefined;
}

/** A value of the shape of `seen` (a number, base64 of one) that names nothing: the runner knows it as made up. */
export function madeUpLike(seen: string | undefined, integer: boolean, schema?: JsonObject): string {
  // A uuid input (its value or its schema says so): a made-up uuid, which a uuid column takes and the runner
  // knows as made up (`pcd<hex>` is refused before any query by a uuid-typed route or column).
  if (schema?.format === 'uuid' || isUuid(seen)) return madeUpUuid();
  const codec = seen !== undefined ? codecOf(seen) : undefined;
  if (codec) return codec.encode(madeUpLike(codec.decoded, /^\d+$/.test(codec.decoded)));
  if (integer || (seen !== undefined && /^\d{1,18}$/.test(seen))) return '987654321';
  return `pcd${randomBytes(4).toString('hex')}`;
}

/**
 * The path and query inputs of DELETE operations, each with a made-up value of the shape of those the API gave
 * out (see madeUpLike): their probes name nothing, so they delete nothing (see the erase probes in Job).
 */
function deletePoints(ctx: ScanContext, madeUp: Map<string, Record<string, string>>): InjectionPoint[] {
  const out: InjectionPoint[] = [];
  const first = ctx.identities[0];
  for (const op of ctx.spec.operations) {
    if (op.method !== 'DELETE' || isExcluded(op)) continue;
    const fixed = madeUpParams(ctx, op, first);
    madeUp.set(op.id, fixed);
    const opLikely = LIKELY_SINK.test(op.path);
    for (const p of op.parameters) {
      if (p.in !== 'path' && p.in !== 'query') continue;
      const s = resolveSchema(ctx.spec, p.schema);
      const type = schemaType(s);
      if (!stringInput(s) && !(p.in === 'path' && (type === 'integer' || type === undefined))) continue;
      if (p.in === 'path' && listedValue(ctx.spec, p.schema) !== undefined) continue;
      if (PAGE_PARAM.test(p.name)) continue;
      out.push({
        op,
        in: p.in,
        name: p.name,
        value: fixed[p.name] ?? `pcd${randomBytes(4).toString('hex')}`,
        likely: opLikely || LIKELY_SINK.test(p.name),
      });
    }
  }
  return out;
}

/**
 * Made-up values for a DELETE's path parameters (not those the document lists: a version) and its required
 * string query inputs, of the shape of the values the planner would give `as` (harvested from the API's answers).
 */
function madeUpParams(ctx: ScanContext, op: Operation, as: Identity | undefined): Record<string, string> {
  const req = planRequest(ctx.spec, op, ctx.objects, as ? { owner: as.name } : {});
  const seen = new Map(pathValues(op.path, req.path).map(({ name, value }) => [name, value]));
  for (const [k, v] of new URLSearchParams(req.path.split('?')[1] ?? '')) seen.set(k, v);
  const out: Record<string, string> = {};
  for (const p of op.parameters) {
    if (p.in !== 'path' && !(p.in === 'query' && p.required)) continue;
    if (listedValue(ctx.spec, p.schema) !== undefined) continue;
    const s = resolveSchema(ctx.spec, p.schema);
    const type = schemaType(s);
    if (p.in === 'query' && !stringInput(s)) continue;
    out[p.name] = madeUpLike(seen.get(p.name), type === 'integer' || type === 'number', s);
  }
  return out;
}

/** A probe of one input: the planned request with the input set to `value` (a string or, in JSON, any value). */
interface Prober {
  readonly point: InjectionPoint;
  readonly as: Identity | null;
  /** The input's values are encoded (base64): every string probe is sent encoded so. */
  readonly codec?: Codec;
  send(value: unknown): Promise<ScanResponse | undefined>;
}

/** The prober that sends each string probe encoded as the input's values are (see Codec). */
function encodedProber(inner: Prober, codec: Codec): Prober {
  return {
    point: inner.point,
    as: inner.as,
    codec,
    send: (value) => inner.send(typeof value === 'string' ? codec.encode(value) : value),
  };
}

/**
 * An operation that sets a password (discover.ts's setsPassword), its body's record read too: a JSON:API sign-up
 * or change keeps its password at `data.attributes.password`, which setsPassword (top-level members) misses.
 */
function setsAPassword(spec: ScanContext['spec'], op: Operation): boolean {
  // A login its words name (`{username, password}`, "login using creds"): its password is checked, not set.
  if (loginByWords(spec, op)) return false;
  if (setsPassword(spec, op)) return true;
  if (isLoginOperation(spec, op) || /log_?in|sign_?in/i.test(op.path)) return false;
  return Object.keys(recordProperties(spec, bodySchema(op))).some((k) => passwordName(k));
}

/** The member a JSON input's dotted name (`data.attributes.email`) names in a body. */
function memberAt(body: Readonly<Record<string, unknown>> | undefined, name: string): unknown {
  let cur: unknown = body;
  for (const key of name.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function setMember(body: Record<string, unknown>, name: string, value: unknown): Record<string, unknown> {
  const dot = name.indexOf('.');
  if (dot < 0) return { ...body, [name]: value };
  const head = name.slice(0, dot);
  const held = body[head];
  const inner =
    held !== null && typeof held === 'object' && !Array.isArray(held)
      ? (held as Record<string, unknown>)
      : {};
  return { ...body, [head]: setMember(inner, name.slice(dot + 1), value) };
}

/**
 * Path and required query parameters that name a column (`/search/{filter}/{query}` with "the column"):
 * `id`, so the other inputs' probes reach the query instead of failing on an unknown column; required SQL
 * conditions: `1=1` in a read, `1=2` in a write (see neutralCondition).
 */
function columnParams(op: Operation, except: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of op.parameters) {
    if (p.name === except || !(p.in === 'path' || (p.in === 'query' && p.required))) continue;
    const description = typeof p.raw.description === 'string' ? p.raw.description : '';
    if (SORT_PARAM.test(p.name) || COLUMN_DESCRIPTION.test(description)) out[p.name] = 'id';
    // A required SQL condition beside the probed input (`?where=` with `?order_by=`).
    else if (p.in === 'query' && SQL_CONDITION_NAME.test(p.name) && p.raw.example === undefined)
      out[p.name] = neutralCondition(op);
  }
  return out;
}

/** The plain value of a SQL condition: one that holds in a read, one that holds nowhere in a write. */
function neutralCondition(op: Operation): string {
  return readsOnly(op) ? '1=1' : '1=2';
}

function makeProber(
  ctx: ScanContext,
  point: InjectionPoint,
  as: Identity | null,
  base?: Readonly<Record<string, unknown>>,
  fixed?: Readonly<Record<string, string>>,
  /** Values that must never go out (a given identity's user name at a login): a request holding one is not sent. */
  never: readonly string[] = [],
  /** How the runner is to take the requests (`ownProfile`: a given identity's own profile, see ownProfiles). */
  options?: Parameters<ScanContext['send']>[2],
  /** Told of every request sent and its answer (the creations a probe made, see CreationSweep). */
  seen?: (req: PlannedRequest, res: ScanResponse | undefined, value: unknown) => void,
): Prober {
  const { op } = point;
  // Fixed values (the scan's own account in an account change's path and query) go with every probe.
  const { [point.name]: _probed, ...others } = fixed ?? {};
  const columns = { ...columnParams(op, point.name), ...others };
  const owner = as?.name;
  const json = jsonBodySchema(op);
  const form = json === undefined ? formSchema(op) : undefined;
  // One body sample for all probes of this input, so answers differ only by the probe: a JSON body as the
  // planner builds it (values harvested from the API's answers beat the document's placeholders), else sampled.
  const planned =
    json !== undefined
      ? planRequest(ctx.spec, op, ctx.objects, owner !== undefined ? { owner } : {}).body
      : undefined;
  const sampled =
    planned !== null && typeof planned === 'object' && !Array.isArray(planned)
      ? (planned as Record<string, unknown>)
      : (json ?? form) !== undefined
        ? (sampleValue(ctx.spec, json ?? form) as Record<string, unknown>)
        : undefined;
  const fresh = as === null && signUp(ctx, op) ? freshNames(ctx, op) : undefined;
  // Fresh names go where the body keeps its record's fields (its envelope: `data.attributes`, `user`).
  const envelope = json !== undefined ? schemaEnvelope(ctx.spec, json) : [];
  const first = neutralOrdering(
    base !== undefined || fresh !== undefined
      ? { ...withFields(sampled ?? {}, envelope, fresh ?? {}), ...base }
      : sampled,
    point.name,
  );
  // A creation: its name and e-mail members other than the probed input are fresh in every request, so a unique
  // one never collides with what the plain request or an earlier probe created. Not an account's creation (a
  // sign-up, anything that sets a password): each probe it took would leave an account behind.
  const creation =
    base === undefined &&
    first !== undefined &&
    fresh === undefined &&
    isCreationOperation(ctx.spec, op) &&
    !setsAPassword(ctx.spec, op);
  return {
    point,
    as,
    send(value) {
      const sample = creation ? renamed(first!, point.name) : first;
      const opts = { ...(owner !== undefined ? { owner } : {}), params: columns };
      let req: ReturnType<typeof planRequest>;
      if (point.in === 'json' || point.in === 'form') {
        // A form field goes out in the operation's own encoding (form-encoded or multipart, files included).
        const body = setMember(sample ?? {}, point.name, value);
        req = planRequest(ctx.spec, op, ctx.objects, { ...opts, body });
        // A login the document gives no body: form-encoded as its logins are (JSON otherwise, the default).
        if (point.undocumented === 'form')
          req = { ...req, headers: { ...req.headers, 'content-type': 'application/x-www-form-urlencoded' } };
      } else if (point.in === 'cookie') {
        req = planRequest(ctx.spec, op, ctx.objects, { ...opts, ...(sample ? { body: sample } : {}) });
        const jar = as ? [...as.session.cookies].map(([k, v]) => `${k}=${v}`) : [];
        const cookie = [...jar, `${point.name}=${encodeURIComponent(String(value))}`].join('; ');
        req = { ...req, headers: { ...req.headers, cookie } };
      } else if (point.in === 'query' && typeof value === 'object' && value !== null) {
        // `name[$ne]=x`: how query parsers (qs) build operator objects.
        req = planRequest(ctx.spec, op, ctx.objects, { ...opts, ...(sample ? { body: sample } : {}) });
        const [op0, v0] = Object.entries(value as Record<string, unknown>)[0];
        const [path, qs = ''] = req.path.split('?');
        const params = new URLSearchParams(qs);
        params.delete(point.name);
        params.set(`${point.name}[${op0}]`, String(v0));
        req = { ...req, path: `${path}?${params}` };
      } else {
        req = planRequest(ctx.spec, op, ctx.objects, {
          ...opts,
          params: { ...columns, [point.name]: String(value) },
          ...(sample ? { body: sample } : {}),
          allQuery: false,
        });
      }
      if (never.length > 0) {
        let path = req.path;
        try {
          path = decodeURIComponent(req.path.replace(/\+/g, ' '));
        } catch {}
        const text = `${path} ${typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? '')}`;
        const lower = text.toLowerCase();
        if (never.some((n) => lower.includes(n.toLowerCase()))) return Promise.resolve(undefined);
      }
      const sending = options ? ctx.send(req, as, options) : ctx.send(req, as);
      if (!seen) return sending;
      const sent = req;
      return sending.then((res) => {
        seen(sent, res, value);
        return res;
      });
    },
  };
}

/**
 * A body whose ordering members hold values that work (`sort: {field: 'id', direction: 'asc'}`) in place of made-up
 * samples (`portcullis-…`), which break `ORDER BY` for every other input's probes; `except` (the probed input) and
 * documented values are kept.
 */
function neutralOrdering(
  body: Record<string, unknown> | undefined,
  except: string,
): Record<string, unknown> | undefined {
  if (body === undefined) return undefined;
  let out = body;
  const walk = (v: Record<string, unknown>, prefix: string, depth: number) => {
    for (const [k, x] of Object.entries(v)) {
      const name = `${prefix}${k}`;
      if (x !== null && typeof x === 'object' && !Array.isArray(x)) {
        if (depth < MAX_NESTED) walk(x as Record<string, unknown>, `${name}.`, depth + 1);
        continue;
      }
      if (name === except || typeof x !== 'string' || !/^(string|portcullis-[0-9a-f]+|pc[0-9a-f]+)$/.test(x))
        continue;
      const kind = fragmentKind(name, '', x);
      if (kind === 'direction') out = setMember(out, name, 'asc');
      else if (kind === 'order') out = setMember(out, name, 'id');
    }
  };
  walk(body, '', 0);
  return out;
}

/** The body with its name and e-mail members (not `except`) given fresh names of the probes' own (`pcj<hex>`). */
function renamed(body: Record<string, unknown>, except: string, prefix = ''): Record<string, unknown> {
  const out = { ...body };
  for (const [k, v] of Object.entries(body)) {
    const name = `${prefix}${k}`;
    if (name === except) continue;
    // The record inside an envelope (`{"article": {"title": …}}`) is renamed as well.
    if (v !== null && typeof v === 'object' && !Array.isArray(v) && prefix.split('.').length < 3) {
      out[k] = renamed(v as Record<string, unknown>, except, `${name}.`);
      continue;
    }
    if (typeof v !== 'string' || !(NAME_FIELD.test(k) || TITLE_FIELD.test(k))) continue;
    const tag = randomBytes(4).toString('hex');
    out[k] = /mail/i.test(k) ? `pcj${tag}@example.com` : `pcj${tag}`;
  }
  return out;
}

/**
 * A creation's title-like members: an API that derives the item's path from one (a slug of the title) and does not
 * make it unique answers several probe creations at one path, or refuses the taken title and stores it anyway; a
 * fresh one in every probe request gives each its own path (Conduit, review R2 SAFETY-1).
 */
const TITLE_FIELD = /^(title|name|label|subject|headline|slug)$/i;

/** A fresh variant of a value for a creation's repeated probe (a unique one would collide with the first). */
function freshVariant(v: string): string {
  if (/^\d+$/.test(v)) return v;
  const tag = randomBytes(3).toString('hex');
  const at = v.indexOf('@');
  return at > 0 ? `${v.slice(0, at)}${tag}${v.slice(at)}` : `${v}${tag}`;
}

/** The answer as text with echoes of the probe and volatile values removed, for comparisons. */
function normalised(res: ScanResponse, echoes: readonly string[]): string {
  let text = res.text;
  for (const e of echoes) {
    if (e.length < 3) continue;
    for (const form of new Set([e, JSON.stringify(e).slice(1, -1), encodeURIComponent(e)])) {
      text = text.split(form).join('{probe}');
    }
  }
  text = text
    .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, '{uuid}')
    .replace(/\b[0-9a-f]{24}\b/gi, '{oid}')
    .replace(/pcj[0-9a-f]{8}/g, '{fresh}')
    .replace(/\d{4}-\d\d-\d\dT[\d:.]+(Z|[+-]\d\d:?\d\d)?/g, '{time}')
    .replace(/"(duration|took|elapsed|time|timestamp)(_?ms)?"\s*:\s*[\d.]+/gi, '"$1":0');
  return `${res.status} ${text}`;
}

/**
 * Slower than the baselines by 80% of the delay asked for, twice, with the same payload asking for no delay
 * (the control) in between answering below that: an input that is slow whatever it holds is not a sleep.
 */
export async function delayed(
  p: { send(value: string): Promise<ScanResponse | undefined> },
  payload: string,
  control: string,
  baselineMs: number,
  delayMs: number,
): Promise<ScanResponse | undefined> {
  const threshold = baselineMs + delayMs * 0.8;
  const first = await p.send(payload);
  if (!first || first.durationMs < threshold) return undefined;
  const quick = await p.send(control);
  if (!quick || quick.durationMs >= threshold) return undefined;
  const second = await p.send(payload);
  return second && second.durationMs >= threshold ? second : undefined;
}

type Report = (
  rule: RuleInfo,
  how: string,
  res: ScanResponse,
  payload: unknown,
  extra?: object,
  severity?: Severity,
) => true;

/**
 * How to replay a finding whose request stored a record (`POST /boats {name: "x''", reg_no: "..."}`): sent again, it
 * stores another, and an API that keeps a member unique refuses the same values (a 409 or 500 duplicate, not the
 * evidence). The curl line says so, naming the members to give fresh values.
 */
function creationReplay(point: InjectionPoint, res: ScanResponse): Record<string, unknown> {
  if (point.op.method !== 'POST') return {};
  const text = res.sent.body ?? '';
  let members: [string, unknown][] = [];
  if (point.in === 'json') {
    try {
      const body: unknown = JSON.parse(text);
      if (body !== null && typeof body === 'object' && !Array.isArray(body)) members = Object.entries(body);
    } catch {
      // Cut at 4 KiB, or no JSON: no member named.
    }
  } else if (point.in === 'form') members = [...new URLSearchParams(text)];
  const others = members
    .filter(([k, v]) => k !== point.name && (typeof v === 'string' || typeof v === 'number'))
    .map(([k]) => k)
    .slice(0, 8);
  const fresh = [...others, point.name].join(', ');
  return {
    curl: `${curlFor(res.sent)} # stored a record: to replay, give ${fresh} fresh values (keep the two quotes)`,
    reproduce: `this request stored a record; sent again it stores another: where the API keeps a value unique, give ${fresh} fresh values (keep the two quotes) or the answer is a duplicate refusal, not the evidence`,
  };
}

function reporter(ctx: ScanContext, p: Prober, blind = false): Report {
  const { point } = p;
  const where = `${point.in} ${point.in === 'json' || point.in === 'form' ? 'field' : 'parameter'} ${point.name}`;
  const how = `${blind ? '; its plain request failed' : ''}${p.codec ? `; the probes went ${p.codec.name}-encoded, as the API's own values are` : ''}`;
  return (rule, what, res, payload, extra = {}, severity) => {
    const encoded =
      p.codec && typeof payload === 'string' ? { encoding: p.codec.name, sent: p.codec.encode(payload) } : {};
    ctx.report(rule, {
      operation: point.op,
      ...(severity !== undefined ? { severity } : {}),
      key: `${point.in}:${point.name}`,
      message: `${point.op.method} ${point.op.path}: ${where} is injectable (${what}${how})${p.as ? ` as ${p.as.name}` : ' without credentials'}.`,
      evidence: evidenceOf(res, { location: point.in, parameter: point.name, payload, ...encoded, ...extra }),
    });
    return true;
  };
}

/**
 * The echo canaries: `$((6*7))`, which only a shell turns into 42. In a DELETE, `$((0x2a))` (the same 42, written
 * in hex): the runner lets no `*` through in a DELETE (a wildcard could widen what it names).
 */
const commandPayloads = (v: string, erase = false): string[] =>
  erase
    ? [`${v};echo pcx$((0x2a))z;`, `${v}$(echo pcx$((0x2a))z)`, `${v}|echo pcx$((0x2a))z`]
    : [`${v};echo pcx$((6*7))z;`, `${v}$(echo pcx$((6*7))z)`, `${v}|echo pcx$((6*7))z`];

/**
 * One input's probes, in two rounds: the first holds the cheapest, most telling ones (the quote pair, one command
 * canary, the reflection marker, one traversal), and every input has it before any input gets the second.
 */
interface Job {
  readonly point: InjectionPoint;
  /** Its place in the rounds: 0 an ordinary operation, 1 a slow one (plain request over 300 ms),
   * 2 a login, sign-up or password operation (slow by design, probed by API2): the first round is its quote pair
   * and one command canary. */
  tier: number;
  p?: Prober;
  /** The plain request's answer; absent when no identity got a 2xx (only the probes that prove themselves). */
  baseline?: ScanResponse;
  /** Rounds done: 0 none, 1 the first, 2 both. */
  stage: 0 | 1 | 2;
  found: boolean;
  /** Its probes ended early: the target did not answer one of them (a blind input's hang). */
  stopped: boolean;
  /** Its second round ended early: the budget ran out. */
  cut?: boolean;
  q?: ScanResponse;
  qq?: ScanResponse;
  quoteMatters: boolean;
  reflected?: boolean;
  /** Traversal and template probes sent so far. */
  traversals: number;
  templates: number;
  /**
   * An account change probed on the scan's own account. It gets the quote pair and its differential, the
   * command, template, traversal and reflection probes, the command sleeps; not the tautologies (`' OR '1'='1`
   * in an UPDATE's WHERE changes every account), the SQL fragments, the comment-terminated SQL sleeps (a comment
   * in a SET clause drops the WHERE) nor the operator objects (`{"$ne": ...}` as an update's filter matches
   * everyone). A lone quote leaves the statement unterminated and a doubled one names no other account.
   */
  safe?: boolean;
  /**
   * A login, probed with a user nobody has (see LoginPlan): its baseline is a refusal. It gets the quote pair, the
   * login bypass (one tautology, see loginBypass) instead of the boolean probes, and the quote differential
   * against the refusal; operator objects only in its password.
   */
  login?: LoginPlan;
  /**
   * A DELETE, probed on made-up values only (see deletePoints): the quote pair and its differential (two quotes,
   * or `v+0` for a number, answering like the plain value), the command canaries, the reflection marker and
   * templates, the time-based probes (command and SQL sleeps: on a value that names nothing they delete nothing).
   * Never a tautology, a condition, an operator object or a traversal (a DELETE may remove the file it names).
   */
  erase?: boolean;
  /** A path value of an object the scan owns (a live object, or a DELETE's made-up id): time-based probes too. */
  ownPath?: boolean;
  /** A lone single or double quote broke it alike (5xx), two quotes did not: a shell, maybe; time-based too. */
  shellish?: boolean;
  /** Its probes would make more objects in a given identity's data than the clean-up takes back (SWEEP_REASON). */
  held?: boolean;
}

/** A probe whose answer proves itself; 'stop' when a blind input's probe got no answer (it would hang again). */
async function proof(
  job: Job,
  report: Report,
  rule: RuleInfo,
  what: string,
  payload: string,
  proves: (text: string) => boolean,
): Promise<'found' | 'no' | 'stop'> {
  const res = await job.p!.send(payload);
  if (res && proves(res.text)) {
    report(rule, what, res, payload);
    return 'found';
  }
  if (!res && job.baseline === undefined) {
    job.stopped = true;
    return 'stop';
  }
  return 'no';
}

function commandProof(job: Job, report: Report, i: number) {
  const base = job.baseline?.text ?? '';
  return proof(
    job,
    report,
    SCAN_RULES.commandInjection,
    'an injected echo ran in a shell: its computed output came back',
    commandPayloads(job.p!.point.value, job.erase)[i],
    (t) => t.includes(CMD_OUTPUT) && !base.includes(CMD_OUTPUT),
  );
}

/**
 * Templates render what they are given: only an input the answer shows (reflected) is worth the four syntaxes.
 * A long sampled value the answer repeats is reflected; otherwise (a short default such as `world` that may be
 * there by chance, an enum the answer maps, a plain request that failed) one request with a marker of our own
 * says whether the input comes back, in any answer (a template that fails without a value still echoes).
 * False when a blind input's marker got no answer.
 */
async function markerProbe(job: Job): Promise<boolean> {
  if (job.reflected !== undefined) return true;
  const v = job.p!.point.value;
  if (v.length >= 6 && (job.baseline?.text ?? '').includes(v)) {
    job.reflected = true;
    return true;
  }
  const mark = `pcr${randomUUID().slice(0, 6)}`;
  const res = await job.p!.send(mark);
  if (!res && job.baseline === undefined) {
    job.stopped = true;
    return false;
  }
  job.reflected = res?.text.includes(mark) === true;
  return true;
}

/**
 * Traversal probes the input gets: four on a file-like name or path; one on any other input a read takes in its
 * path or query (a date that names a cached file, a language, a theme) or whose plain request failed (its answer
 * proves itself, one request); none otherwise.
 */
function traversalCount(job: Job): number {
  const { point } = job.p!;
  if (job.erase) return 0;
  if (FILE_INPUT.test(point.name) || FILE_INPUT.test(point.op.path)) return TRAVERSAL_PAYLOADS.length;
  const readInput = point.op.method === 'GET' && (point.in === 'query' || point.in === 'path');
  return readInput || job.baseline === undefined ? 1 : 0;
}

/** Template expressions on a reflected input, the first syntax (`{{...}}`) in the first round. */
async function templateProofs(job: Job, report: Report, upTo: number): Promise<'found' | 'no' | 'stop'> {
  const base = job.baseline?.text ?? '';
  const v = job.p!.point.value;
  for (; job.reflected === true && job.templates < upTo; ) {
    const payload = `${v}${TEMPLATE_PAYLOADS[job.templates++]}`;
    const r = await proof(
      job,
      report,
      SCAN_RULES.templateInjection,
      'a template expression came back evaluated',
      payload,
      (t) => t.includes(TEMPLATE_OUTPUT) && !base.includes(TEMPLATE_OUTPUT),
    );
    if (r !== 'no') return r;
  }
  return 'no';
}

async function traversalProofs(job: Job, report: Report, upTo: number): Promise<'found' | 'no' | 'stop'> {
  const base = job.baseline?.text ?? '';
  for (; job.traversals < Math.min(upTo, traversalCount(job)); ) {
    const payload = TRAVERSAL_PAYLOADS[job.traversals++];
    const r = await proof(
      job,
      report,
      SCAN_RULES.pathTraversal,
      'a path up to the root returned a system file',
      payload,
      (t) => FILE_CONTENT.test(t) && !FILE_CONTENT.test(base),
    );
    if (r !== 'no') return r;
  }
  return 'no';
}

/**
 * The first round: the quote and its escaped form (error-based SQL and JavaScript at once, and whether the quote
 * matters for the boolean probes of the second round), one command canary, the reflection marker, one template
 * expression where the input is reflected, and one traversal.
 * A login, sign-up or password operation gets the quote pair and the canary only. True when something was found.
 */
async function firstRound(ctx: ScanContext, job: Job): Promise<boolean> {
  const p = job.p!;
  const v = p.point.value;
  const { baseline } = job;
  const report = reporter(ctx, p, baseline === undefined);
  if (baseline !== undefined) {
    // A quote and its escaped form (the control): a parser that breaks on one and not the other is injectable.
    const q = await p.send(`${v}'`);
    const qq = await p.send(`${v}''`);
    job.q = q;
    job.qq = qq;
    if (q && qq) {
      const dbError = SQL_ERROR.test(q.text) && !SQL_ERROR.test(qq.text) && !SQL_ERROR.test(baseline.text);
      job.quoteMatters = normalised(q, [`${v}'`]) !== normalised(qq, [`${v}''`]);
      // A plain value that already fails (a login that crashes on a user nobody has, a DELETE of a made-up id that
      // errs): the quote matters only where two quotes answer like the plain value and the quote does not.
      if ((job.login || job.erase) && baseline.status >= 500)
        job.quoteMatters = alikeAnswers(qq, `${v}''`, baseline, v) && !alikeAnswers(q, `${v}'`, baseline, v);
      // A login: whether a tautology signs in beats the error, and goes with it in one finding.
      const bypass = job.login && (dbError || job.quoteMatters) ? await loginBypass(job) : undefined;
      if (bypass) {
        // Also what it means for authentication (API2): a user name nobody has, a password nobody has, let in.
        const { op } = p.point;
        ctx.report(SCAN_RULES.anyCredentialsAccepted, {
          operation: op,
          key: `sql:${p.point.name}`,
          message: `${op.method} ${op.path} lets a caller in without any account's password (authentication bypass through SQL injection): a user name nobody has followed by ${bypass.payload.slice(v.length)} in ${p.point.name}, with a password nobody has, signed in, while ${bypass.control} was refused.`,
          evidence: evidenceOf(bypass.res, {
            location: p.point.in,
            parameter: p.point.name,
            payload: bypass.payload,
            controlStatus: bypass.controlStatus,
            via: 'sql-injection',
          }),
        });
        return report(
          SCAN_RULES.sqlInjection,
          `login bypass: ${bypass.payload} with a password nobody has signed in (a credential came back), while ${bypass.control} and the made-up user alone were refused${dbError ? '; a quote raised a database error, two quotes did not' : ''}`,
          bypass.res,
          bypass.payload,
          { controlStatus: bypass.controlStatus, baselineStatus: baseline.status },
        );
      }
      if (dbError)
        return report(
          SCAN_RULES.sqlInjection,
          'a quote raised a database error, two quotes did not',
          q,
          `${v}'`,
        );
      // A number pasted in unquoted (`WHERE id = 5`): two quotes break it too; `5+0` is the same number to SQL,
      // where a typed route or a bound parameter refuses it as it refuses the quote.
      if (
        /^\d{1,12}$/.test(v) &&
        SQL_ERROR.test(q.text) &&
        SQL_ERROR.test(qq.text) &&
        !SQL_ERROR.test(baseline.text)
      ) {
        const plus = await p.send(`${v}+0`);
        if (plus && plus.status < 500 && !SQL_ERROR.test(plus.text))
          return report(
            SCAN_RULES.sqlInjection,
            `a quote raised a database error, ${v}+0 (the same number to SQL) did not`,
            q,
            `${v}'`,
            { controlPayload: `${v}+0`, controlStatus: plus.status },
          );
      }
      const stored = isSuccess(qq) && !job.login ? await storedSingle(ctx, job, q, qq) : undefined;
      if (stored)
        return report(
          SCAN_RULES.sqlInjection,
          `two quotes were stored as one (${stored === qq ? 'its answer' : 'the list read after it'} holds ${JSON.stringify(`${v}'`)}): the value went into an SQL string literal, where '' is an escaped quote`,
          stored,
          `${v}''`,
          creationReplay(p.point, stored),
        );
      if (JS_ERROR.test(q.text) && !JS_ERROR.test(qq.text) && !JS_ERROR.test(baseline.text))
        return report(
          SCAN_RULES.nosqlInjection,
          'a quote broke a server-side JavaScript ($where) or MongoDB query, two quotes did not',
          q,
          `${v}'`,
        );
    }
  }
  // Fragment probes carry their own controls: they need no baseline (a made-up condition fails the plain request).
  if (job.tier < 2 && !job.safe && !job.erase && (await fragmentProofs(job, reporter(ctx, p))) === 'found')
    return true;
  const cmd = await commandProof(job, report, 0);
  if (cmd !== 'no' || job.tier >= 2) return cmd === 'found';
  if (!(await markerProbe(job))) return false;
  const tpl = await templateProofs(job, report, 1);
  if (tpl !== 'no') return tpl === 'found';
  return (await traversalProofs(job, report, 1)) === 'found';
}

/** Whether a JSON value holds the string `s` (as a member's whole value), three levels down at most. */
function holdsString(v: unknown, s: string, depth = 0): boolean {
  if (typeof v === 'string') return v === s;
  if (v === null || typeof v !== 'object' || depth > 3) return false;
  const items = Array.isArray(v) ? v.slice(0, 200) : Object.values(v as Record<string, unknown>);
  return items.some((x) => holdsString(x, s, depth + 1));
}

/**
 * A write that stored two quotes as one: a value pasted into an SQL string literal (`VALUES ('v''')` stores `v'`),
 * where a bound parameter stores `v''` as sent. Read in the answer to the doubled quote, else (a creation) in the
 * documented list at the same path, read once as the same identity. The answer that shows it, or undefined.
 */
async function storedSingle(
  ctx: ScanContext,
  job: Job,
  q: ScanResponse,
  qq: ScanResponse,
): Promise<ScanResponse | undefined> {
  const p = job.p!;
  const { op } = p.point;
  if (readsOnly(op) || job.erase || p.point.in === 'header' || p.point.in === 'cookie') return undefined;
  const v = p.point.value;
  const one = `${v}'`;
  const two = `${v}''`;
  const shows = (r: ScanResponse | undefined) =>
    r !== undefined && holdsString(r.json, one) && !holdsString(r.json, two);
  if (shows(qq)) return qq;
  // In the list, `v'` must be the doubled quote's: the lone quote stored nothing (it broke the request).
  if (holdsString(qq.json, two) || isSuccess(q) || !isCreationOperation(ctx.spec, op)) return undefined;
  const list = ctx.spec.operations.find(
    (o) => o.method === 'GET' && !isExcluded(o) && o.path.replace(/\/$/, '') === op.path.replace(/\/$/, ''),
  );
  if (list === undefined) return undefined;
  const req = planRequest(ctx.spec, list, ctx.objects, p.as ? { owner: p.as.name } : {});
  if (req.invented.length > 0) return undefined;
  const res = await ctx.send(req, p.as);
  return isSuccess(res) && shows(res) ? res : undefined;
}

/**
 * A login that pastes its input into SQL lets a tautology in: `<user>' OR '1'='1'-- -` (the comment drops the
 * password's test) with a password nobody has signs in, while `<user>' OR '1'='2'-- -` and the made-up user alone
 * (the baseline) are refused. One tautology only, and only where the quote pair showed the input reaches a parser:
 * a login that reads the account by its name in SQL and then tests the password itself counts a failed login
 * against the account the tautology selected first. The control goes first: a login that lets in any name
 * (one that creates the account it is asked for) lets it in too.
 */
async function loginBypass(
  job: Job,
): Promise<{ res: ScanResponse; payload: string; control: string; controlStatus: number } | undefined> {
  const p = job.p!;
  const lp = job.login!;
  const v = p.point.value;
  if (!job.baseline || signsIn(lp.flow, job.baseline)) return undefined;
  const control = `${v}' OR '1'='2'-- -`;
  const rc = await p.send(control);
  if (!rc || signsIn(lp.flow, rc)) return undefined;
  const payload = `${v}' OR '1'='1'-- -`;
  const res = await p.send(payload);
  if (!res || !signsIn(lp.flow, res)) return undefined;
  return { res, payload, control, controlStatus: rc.status };
}

/** Alike: the same answer once the probes' echoes are removed, or JSON of one status that is 90% the same. */
function alikeAnswers(
  a: ScanResponse,
  pa: string,
  b: ScanResponse,
  pb: string,
  others: string[] = [],
): boolean {
  return (
    normalised(a, [pa, ...others]) === normalised(b, [pb, ...others]) ||
    (a.status === b.status &&
      a.json !== undefined &&
      b.json !== undefined &&
      similarity(a.json, b.json) >= 0.9)
  );
}

/** Answers to two probes that should mean the same: alike (see alikeAnswers), or lists of one length and status. */
function sameAnswer(a: ScanResponse, pa: string, b: ScanResponse, pb: string): boolean {
  return (
    alikeAnswers(a, pa, b, pb) ||
    (a.status === b.status &&
      Array.isArray(a.json) &&
      Array.isArray(b.json) &&
      a.json.length === b.json.length)
  );
}

/**
 * A condition pasted into SQL (`WHERE ${where}`). Only a read (readsOnly) gets conditions that hold: two
 * tautologies answer alike and unlike two contradictions, which answer alike. One of each pair is arithmetic
 * (`3-1=2`, `3-1=3`): only an engine that evaluates the text tells those apart, a search for the literal text
 * answers both alike. Sent tautology, contradiction, tautology, contradiction, so a list that only grows or only
 * shrinks meanwhile cannot pass the list form (both tautologies longer lists than both contradictions). That proves
 * an evaluator, not SQL (a sandboxed filter language computes `3-1=2` too): the same two conditions with an SQL
 * comment inside (`3-1=/**\/2`, `3-1=/**\/3`) must answer as without it. Then, in reads and writes alike,
 * error-based with conditions that hold nowhere (see conditionErrorProof).
 */
async function conditionProof(job: Job, report: Report): Promise<'found' | 'no'> {
  const p = job.p!;
  if (!readsOnly(p.point.op)) return conditionErrorProof(job, report);
  const [t1, f1, t2, f2] = ['1=1', '1=2', '3-1=2', '3-1=3'];
  const rt1 = await p.send(t1);
  if (rt1 && isSuccess(rt1)) {
    const rf1 = await p.send(f1);
    const rt2 = await p.send(t2);
    const rf2 = await p.send(f2);
    if (rf1 && rt2 && rf2 && isSuccess(rt2)) {
      const n = [rt1, rt2, rf1, rf2].map((r) => (Array.isArray(r.json) ? r.json.length : -1));
      const longer =
        [rt2, rf1, rf2].every((r) => r.status === rt1.status) &&
        n.every((x) => x >= 0) &&
        Math.min(n[0], n[1]) > Math.max(n[2], n[3]);
      if (
        longer ||
        (alikeAnswers(rt1, t1, rt2, t2) && alikeAnswers(rf1, f1, rf2, f2) && !alikeAnswers(rt1, t1, rf1, f1))
      ) {
        const [c1, c2] = ['3-1=/**/2', '3-1=/**/3'];
        const rc1 = await p.send(c1);
        const rc2 = await p.send(c2);
        if (rc1 && rc2 && sameAnswer(rc1, c1, rt2, t2) && sameAnswer(rc2, c2, rf2, f2)) {
          report(
            SCAN_RULES.sqlInjection,
            `SQL fragment, boolean-based: the conditions ${t1} and ${t2} answered alike and unlike ${f1} and ${f2}, which answered alike, and an SQL comment inside them (${c1}, ${c2}) changed nothing`,
            rt1,
            t1,
            {
              contradictionStatus: rf1.status,
              tautologyLength: rt1.text.length,
              contradictionLength: rf1.text.length,
            },
          );
          return 'found';
        }
      }
    }
  }
  return conditionErrorProof(job, report);
}

/**
 * Error-based, with comparisons that hold nowhere, so a write they reach changes nothing: two different literals
 * compared with their last quote left off (`'pcxA'='pcyB`) raise a database error where the same comparison closed
 * does not; or, where errors are hidden, the unclosed one fails (5xx) twice while the closed one and the same with
 * an SQL comment inside (`'pcxA'=/**\/'pcyB'`) answer 2xx alike: a quoting and a comment that only SQL reads so.
 */
async function conditionErrorProof(job: Job, report: Report): Promise<'found' | 'no'> {
  const p = job.p!;
  const a = `pcx${randomUUID().slice(0, 6)}`;
  const b = `pcy${randomUUID().slice(0, 6)}`;
  const open = `'${a}'='${b}`;
  const closed = `'${a}'='${b}'`;
  const commented = `'${a}'=/**/'${b}'`;
  const ro = await p.send(open);
  if (!ro) return 'no';
  if (SQL_ERROR.test(ro.text)) {
    const rc = await p.send(closed);
    if (rc && !SQL_ERROR.test(rc.text) && rc.status < 500) {
      report(
        SCAN_RULES.sqlInjection,
        'SQL fragment, error-based: a comparison with its last quote left off raised a database error, the same comparison closed did not',
        ro,
        open,
      );
      return 'found';
    }
    return 'no';
  }
  if (ro.status < 500) return 'no';
  const rc = await p.send(closed);
  if (!rc || !isSuccess(rc) || SQL_ERROR.test(rc.text)) return 'no';
  const rm = await p.send(commented);
  if (!rm || !sameAnswer(rm, commented, rc, closed)) return 'no';
  const again = await p.send(open);
  if (!again || again.status < 500) return 'no';
  report(
    SCAN_RULES.sqlInjection,
    `SQL fragment, error-based: a comparison of two literals that holds nowhere answered 2xx, alike with an SQL comment inside (${commented}), and failed twice (${again.status}) with its last quote left off`,
    again,
    open,
    { closedStatus: rc.status, openStatus: again.status },
  );
  return 'found';
}

/**
 * An ordering pasted into SQL (`ORDER BY ${sort}`): a bare number is a column position there. `1` answers 2xx
 * while `999` (no such column) raises a database error about the ordering term, or fails (5xx) twice while
 * `999+0` (an expression, not a position: SQL sorts by it without complaint) answers 2xx. An API that checks the
 * value against its columns refuses all three; one that ignores what it does not know answers all three alike;
 * one that reads the value as a number fails on `999+0` too. Where the API hides the failure (a 200 with an empty
 * list, or the list unsorted), `999` answers a shorter list twice while `1` and `999+0` answer the same longer one,
 * or the ordering by a boolean CASE decides (orderCaseProof).
 */
async function orderProof(job: Job, report: Report): Promise<'found' | 'no'> {
  const p = job.p!;
  const first = await p.send('1');
  if (!first || !isSuccess(first) || SQL_ERROR.test(first.text) || ORDER_ERROR.test(first.text))
    return orderCaseProof(job, report);
  const far = await p.send('999');
  if (!far) return 'no';
  // The error may come in a 200 (`{"error": "1st ORDER BY term out of range"}`).
  if (SQL_ERROR.test(far.text) || ORDER_ERROR.test(far.text)) {
    report(
      SCAN_RULES.sqlInjection,
      'SQL fragment, ordering: ORDER BY 1 answered, ORDER BY 999 (no such column) raised a database error',
      far,
      '999',
      { firstStatus: first.status, farStatus: far.status },
    );
    return 'found';
  }
  if (far.status < 500) {
    // A failure swallowed into a 200: fewer items (none) for the position that does not exist, twice, the expression
    // sorting like the position that does.
    const n = (r: ScanResponse | undefined) => (r && isSuccess(r) ? itemsOf(r.json).length : -1);
    if (n(far) >= 0 && n(far) < n(first)) {
      const expr = await p.send('999+0');
      const again = expr && n(expr) === n(first) ? await p.send('999') : undefined;
      if (again && n(again) >= 0 && n(again) < n(first)) {
        report(
          SCAN_RULES.sqlInjection,
          `SQL fragment, ordering: 1 and 999+0 (an expression) answered ${n(first)} items, 999 (a column position that does not exist) ${n(again)}, twice: a database failure answered as a shorter list`,
          again,
          '999',
          { firstItems: n(first), farItems: n(again), expressionStatus: expr!.status },
        );
        return 'found';
      }
    }
    return orderCaseProof(job, report);
  }
  const expr = await p.send('999+0');
  if (!expr || !isSuccess(expr)) return orderCaseProof(job, report);
  const again = await p.send('999');
  if (!again || again.status < 500) return orderCaseProof(job, report);
  report(
    SCAN_RULES.sqlInjection,
    'SQL fragment, ordering: 1 and 999+0 (an expression) sorted the answer, 999 (a column position that does not exist) failed twice',
    again,
    '999',
    { firstStatus: first.status, farStatus: again.status, expressionStatus: expr.status },
  );
  return 'found';
}

/** The items of a list answer as texts, in the order they came; undefined for no list, a failure or one item. */
function orderOf(res: ScanResponse | undefined): string[] | undefined {
  if (!res || !isSuccess(res)) return undefined;
  const items = itemsOf(res.json);
  return items.length >= 2 ? items.map((i) => JSON.stringify(i)) : undefined;
}

const sameItems = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
const sameOrder = (a: readonly string[], b: readonly string[]) => a.join('\n') === b.join('\n');

/**
 * The members of a list's items that could order it otherwise than it came: scalar members every item has, whose
 * values sorted differ from the order of the list (a column the plain ordering already follows proves nothing).
 * Strings first (a title or a name: most unlike an id), at most two.
 */
function orderingMembers(items: readonly unknown[], plain: string): string[] {
  const objects = items.filter(
    (i): i is Record<string, unknown> => i !== null && typeof i === 'object' && !Array.isArray(i),
  );
  if (objects.length !== items.length || objects.length < 3) return [];
  const keys = Object.keys(objects[0]).filter(
    (k) =>
      k !== plain &&
      /^[A-Za-z_][A-Za-z0-9_]{0,40}$/.test(k) &&
      objects.every((o) => typeof o[k] === 'string' || typeof o[k] === 'number'),
  );
  const unsorted = (k: string) => {
    const values = objects.map((o) => o[k] as string | number);
    const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    return new Set(values).size > 1 && values.some((v, i) => v !== sorted[i]);
  };
  return keys
    .filter(unsorted)
    .sort((a, b) => Number(typeof objects[0][b] === 'string') - Number(typeof objects[0][a] === 'string'))
    .slice(0, 2);
}

/**
 * An ordering that hides its failures (a 200 with an empty or unsorted list) is proved by what it orders by: a
 * member of the items as a column (`title`) orders the list one way; `(CASE WHEN 1=1 THEN title END)` must order
 * it the same way and `(CASE WHEN 1=2 THEN title END)` (a constant: no order) another, and the same pair with
 * arithmetic conditions (`3-1=2`, `3-1=3`) must order it as they did. Only SQL evaluates the condition inside the
 * ordering: an API that checks the value against its columns refuses both or ignores both (one order for both),
 * and a sort in code by the named member finds no such member in either.
 */
async function orderCaseProof(job: Job, report: Report): Promise<'found' | 'no'> {
  const p = job.p!;
  const plain = p.point.value;
  const base = job.baseline && isSuccess(job.baseline) ? job.baseline : await p.send(plain);
  if (!base || !orderOf(base)) return 'no';
  for (const column of orderingMembers(itemsOf(base.json), plain)) {
    const byColumn = orderOf(await p.send(column));
    if (!byColumn) continue;
    const when = (c: string) => `(CASE WHEN ${c} THEN ${column} END)`;
    const rt = await p.send(when('1=1'));
    const t = orderOf(rt);
    if (!rt || !t || !sameItems(t, byColumn) || !sameOrder(t, byColumn)) continue;
    const f = orderOf(await p.send(when('1=2')));
    if (!f || !sameItems(f, byColumn) || sameOrder(f, byColumn)) continue;
    const t2 = orderOf(await p.send(when('3-1=2')));
    const f2 = orderOf(await p.send(when('3-1=3')));
    if (!t2 || !f2 || !sameOrder(t2, byColumn) || !sameOrder(f2, f)) continue;
    report(
      SCAN_RULES.sqlInjection,
      `SQL fragment, ordering by a condition: ${when('1=1')} and ${when('3-1=2')} ordered the ${t.length} items as ${column} did, ${when('1=2')} and ${when('3-1=3')} ordered them otherwise`,
      rt,
      when('1=1'),
      { column, items: t.length },
    );
    return 'found';
  }
  return 'no';
}

/**
 * An ordering's direction pasted into SQL (`ORDER BY price ${direction}`): `asc LIMIT 1` and `asc LIMIT 2` answer the
 * first one and the first two items of the `asc` list (with `-- -` after them where the statement goes on: a
 * page's own LIMIT). Only SQL reads a LIMIT there: an API that checks the value against `asc`/`desc` refuses or
 * ignores both alike, and one that keeps only the value's letters (`asclimit`) matches neither.
 */
async function directionProof(job: Job, report: Report): Promise<'found' | 'no'> {
  const p = job.p!;
  const plain = DIRECTION_VALUE.test(p.point.value) ? p.point.value : 'asc';
  const full = orderOf(await p.send(plain));
  if (!full || full.length < 3) return 'no';
  for (const end of ['', '-- -']) {
    const one = `${plain} LIMIT 1${end}`;
    const r1 = await p.send(one);
    const l1 = r1 && isSuccess(r1) ? itemsOf(r1.json) : undefined;
    if (l1?.length !== 1 || JSON.stringify(l1[0]) !== full[0]) continue;
    const two = `${plain} LIMIT 2${end}`;
    const l2 = orderOf(await p.send(two));
    if (l2?.length !== 2 || !sameOrder(l2, full.slice(0, 2))) continue;
    report(
      SCAN_RULES.sqlInjection,
      `SQL fragment, ordering direction: ${one} and ${two} answered the first one and the first two of the ${full.length} items ${plain} ordered: a LIMIT only SQL reads`,
      r1!,
      one,
      { items: full.length },
    );
    return 'found';
  }
  return 'no';
}

/**
 * A column name pasted into a condition (`WHERE ${column} = ?`, `LIKE ?`): the column followed by a condition
 * that holds for every row or for none (`1=1 OR id`, `1=2 OR id`: `WHERE 1=1 OR id = ?`), judged as a condition
 * is (conditionProof: two tautologies alike and unlike two contradictions, then the same with an SQL comment inside):
 * an API that checks the column against its list refuses all of them alike.
 */
function columnProof(job: Job, report: Report): Promise<'found' | 'no'> {
  const p = job.p!;
  const column = /^[A-Za-z_][\w]{0,40}$/.test(p.point.value) ? p.point.value : 'id';
  const wrap = (v: unknown) => (typeof v === 'string' ? `${v} OR ${column}` : v);
  const wrapped: Prober = { ...p, send: (v) => p.send(wrap(v)) };
  const said: Report = (rule, how, res, payload, extra, severity) =>
    report(
      rule,
      `${how.replace(/^SQL fragment/, `SQL fragment (a column name followed by OR ${column})`)}`,
      res,
      wrap(payload),
      extra,
      severity,
    );
  return conditionProof({ ...job, p: wrapped }, said);
}

/** The fragment probes of an input its name or description says is pasted into SQL (none on others). */
function fragmentProofs(job: Job, report: Report): Promise<'found' | 'no'> {
  const kind = job.p!.point.fragment;
  if (kind === 'condition') return conditionProof(job, report);
  if (kind === 'order') return orderProof(job, report);
  if (kind === 'direction') return directionProof(job, report);
  if (kind === 'column') return columnProof(job, report);
  return Promise.resolve('no');
}

/**
 * Whether an operation may get the probes that widen a condition (tautologies, comment-terminated and stacked SQL,
 * operator objects): a read (readsOnly), or a login, whose statement reads one account.
 */
function mayWiden(ctx: ScanContext, op: Operation): boolean {
  if (readsOnly(op)) return true;
  const ids = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  return (
    isLoginOperation(ctx.spec, op) ||
    loginByWords(ctx.spec, op) ||
    ids.some((as) => as.login?.path === op.path && op.method === (as.login.flow.method ?? 'POST'))
  );
}

/** Scans whose target went silent on an operator object. */
const objectsKill = new WeakSet<ScanContext>();

/**
 * NoSQL operator objects in a JSON field or query parameter, until one goes unanswered: an API that dies on an
 * object where it wants a string (an unhandled rejection) gets no more of them. They run after every string
 * probe of every input, so a target they bring down has been probed for the rest first.
 */
async function probeObjects(ctx: ScanContext, p: Prober, baseline: ScanResponse): Promise<boolean> {
  if (objectsKill.has(ctx)) return false;
  const report = reporter(ctx, p);
  const none = `zq${randomUUID().slice(0, 6)}`;
  const ne = await p.send({ $ne: none });
  if (ne === undefined) objectsKill.add(ctx);
  if (ne && NOSQL_ERROR.test(ne.text) && !NOSQL_ERROR.test(baseline.text))
    return report(SCAN_RULES.nosqlInjection, 'an operator object raised a MongoDB error', ne, { $ne: none });
  if (!ne || !isSuccess(ne)) return false;
  const plain = await p.send(none);
  const eq = await p.send({ $eq: none });
  if (!plain || !eq) return false;
  const n = (r: ScanResponse) => normalised(r, [none]);
  if (n(eq) === n(plain) && n(ne) !== n(plain) && ne.text.length > plain.text.length)
    return report(
      SCAN_RULES.nosqlInjection,
      '{"$ne": ...} widened the answer while {"$eq": ...} answered like the plain value',
      ne,
      { $ne: none },
    );
  return false;
}
/**
 * The second round: the other command syntaxes, the template expressions where the input is reflected, the other
 * traversals of a file-like input, then (with a 2xx baseline) the boolean probes where the quote mattered and the
 * quote differential on its own. True when something was found.
 */
async function secondRound(ctx: ScanContext, job: Job, over: () => boolean): Promise<boolean> {
  const p = job.p!;
  const v = p.point.value;
  const { baseline } = job;
  const report = reporter(ctx, p, baseline === undefined);
  for (const i of [1, 2]) {
    const r = await commandProof(job, report, i);
    if (r !== 'no') return r === 'found';
  }
  if (!(await markerProbe(job))) return false;
  const tpl = await templateProofs(job, report, TEMPLATE_PAYLOADS.length);
  if (tpl !== 'no') return tpl === 'found';
  const t = await traversalProofs(job, report, TRAVERSAL_PAYLOADS.length);
  if (t !== 'no' || baseline === undefined) return t === 'found';
  const { q, qq } = job;
  if (await numericProof(job, report)) return true;
  // Boolean-based, against a value that matches nothing, in SQL and in server-side JavaScript.
  // The budget is looked at again before the costly parts: a slow input's second round ends there (partial).
  if (over()) {
    job.cut = true;
    return false;
  }
  // Tautologies only where they widen nothing that changes (see readsOnly): `' OR '1'='1` in an UPDATE's WHERE
  // changes every row.
  if (job.quoteMatters && !job.safe && !job.login && mayWiden(ctx, p.point.op)) {
    // The third: SQL whose quote is followed by more than the closing quote (`LIKE '%<input>%'`), where the
    // tautology must end the statement with a comment (`-- -`: MySQL wants the space, the others take the rest).
    for (const [dialect, rule, op, eq, end] of [
      ['SQL', SCAN_RULES.sqlInjection, 'OR', '=', ''],
      ['server-side JavaScript', SCAN_RULES.nosqlInjection, '||', '==', ''],
      ['SQL (comment-terminated)', SCAN_RULES.sqlInjection, 'OR', '=', "'-- -"],
    ] as const) {
      if (over()) {
        job.cut = true;
        return false;
      }
      const none = `zq${randomUUID().slice(0, 6)}`;
      const close = (t: string) => (end === '' ? t : `${t}${end}`);
      const t1 = close(`${none}' ${op} '1'${eq}'1`);
      const t2 = close(`${none}' ${op} 'b'${eq}'b`);
      const f1 = close(`${none}' ${op} '1'${eq}'2`);
      const rt1 = await p.send(t1);
      if (!rt1 || !isSuccess(rt1)) continue;
      const rf = await p.send(f1);
      const rt2 = await p.send(t2);
      const plain = await p.send(none);
      if (!rf || !rt2 || !plain) continue;
      // Alike: see alikeAnswers (a list the scan's own creations grow between two requests is 90% the same).
      const alike = (a: ScanResponse, pa: string, b: ScanResponse, pb: string) =>
        alikeAnswers(a, pa, b, pb, [none]);
      // Or lists: both tautologies longer than both the contradiction and the no-match value. The order of the
      // requests (tautology, contradiction, tautology, no match) keeps a list that only grows or only shrinks
      // meanwhile (other clients, the scan's own creations) from passing.
      const n = [rt1, rt2, rf, plain].map((r) => (Array.isArray(r.json) ? r.json.length : -1));
      const longer =
        [rt2, rf, plain].every((r) => r.status === rt1.status) &&
        n.every((x) => x >= 0) &&
        Math.min(n[0], n[1]) > Math.max(n[2], n[3]);
      if (longer || (alike(rt1, t1, rt2, t2) && alike(rf, f1, plain, none) && !alike(rt1, t1, rf, f1))) {
        return report(
          rule,
          `${dialect} boolean-based: two tautologies answered alike and unlike a contradiction, which answered like no match`,
          rt1,
          t1,
          {
            contradictionStatus: rf.status,
            tautologyLength: rt1.text.length,
            contradictionLength: rf.text.length,
          },
        );
      }
    }
  } else if (job.quoteMatters && !job.safe && !job.login && !job.erase && isSuccess(baseline)) {
    // A write: conditions joined with AND to the plain value, which can only narrow what it reaches (`v' AND
    // 'b'='b` reaches what `v` does, `v' AND 'b'='c` nothing). Both that hold answer like the plain value, the
    // one that fails unlike it.
    const t1 = `${v}' AND 'b'='b`;
    const f1 = `${v}' AND 'b'='c`;
    const t2 = `${v}' AND '1'='1`;
    const rt1 = await p.send(t1);
    const rf = rt1 && isSuccess(rt1) ? await p.send(f1) : undefined;
    const rt2 = rf ? await p.send(t2) : undefined;
    if (
      rt1 &&
      rf &&
      rt2 &&
      alikeAnswers(rt1, t1, baseline, v) &&
      alikeAnswers(rt2, t2, baseline, v) &&
      !alikeAnswers(rf, f1, baseline, v)
    )
      return report(
        SCAN_RULES.sqlInjection,
        'SQL boolean-based: two conditions that hold, joined with AND, answered like the plain value and one that fails did not',
        rt1,
        t1,
        {
          contradictionStatus: rf.status,
          tautologyLength: rt1.text.length,
          contradictionLength: rf.text.length,
        },
      );
  }
  // The quote differential on its own: a quote breaks the request (5xx) where two quotes and the plain value
  // answer 2xx, and again when asked once more (not a passing fault). No database text and no boolean proof (a
  // hidden error page, a query whose result the answer does not show), so it is reported at lower severity.
  // At a login the plain value is a made-up user, refused: two quotes must be refused alike.
  // In a DELETE the plain value is made up, so its answer is a refusal (404) too.
  const refusal = job.login !== undefined || job.erase === true;
  const fine = (r: ScanResponse | undefined): r is ScanResponse =>
    r !== undefined && (refusal ? r.status < 500 && r.status === baseline.status : isSuccess(r));
  // The control: two quotes; for a number pasted in unquoted (two quotes break it too), `v+0`.
  let control = `${v}''`;
  let controlRes = qq;
  if (q && qq && q.status >= 500 && !fine(qq) && fine(baseline) && /^\d{1,12}$/.test(v)) {
    control = `${v}+0`;
    controlRes = await p.send(control);
  }
  if (q && controlRes && q.status >= 500 && fine(controlRes) && fine(baseline)) {
    // A shell breaks on a lone double quote as on a single one; an SQL string literal in single quotes does not.
    // Both breaking is no SQL evidence: the input gets the command sleeps instead (shellish). (A number pasted in
    // unquoted breaks on both in SQL too, but two quotes broke it there, and they are no shell's error.)
    if (control === `${v}''`) {
      const dq = await p.send(`${v}"`);
      if (dq === undefined || dq.status >= 500) {
        job.shellish = true;
        return false;
      }
    }
    // A creation's repeat goes with a fresh value: the first control stored one, which a unique input refuses again.
    const creates = isCreationOperation(ctx.spec, p.point.op) || signUp(ctx, p.point.op);
    const v2 = creates ? freshVariant(v) : v;
    if (v2 !== v) control = control.replace(v, v2);
    const q2 = await p.send(`${v2}'`);
    const c2 = await p.send(control);
    if (q2 && q2.status >= 500 && fine(c2))
      return report(
        SCAN_RULES.sqlInjection,
        job.login
          ? `likely: a quote broke the login twice (5xx) while ${control} and the plain value (a made-up user) were refused alike (${baseline.status}); no database error text or bypass`
          : job.erase
            ? `likely: a quote broke the DELETE of a made-up id twice (5xx) while ${control} and the plain made-up value were answered alike (${baseline.status}); no database error text`
            : `likely: a quote broke the request twice (5xx) while ${control} and the plain value answered 2xx; no database error text or boolean proof`,
        q2,
        `${v2}'`,
        {
          quoteStatus: q2.status,
          doubledQuoteStatus: c2.status,
          controlPayload: control,
          confidence: 'medium',
        },
        'medium',
      );
  }
  return false;
}

/**
 * A number pasted into SQL unquoted (`WHERE id = ${id}`), in a read's path, query or body (a search's): `v AND 1=1` and
 * `v/**\/AND/**\/2=2` answer like `v` while `v AND 1=2` does not (a route that reads a number, `parseInt` or
 * a typed parameter, answers the three alike: all `v`, or all refused); or `v OR 1=1` answers a longer list than
 * `v` while `v OR 1=2` answers like it. Uppercase `AND`, `OR` and the comment are SQL's. Reads only (readsOnly):
 * `OR 1=1` in a write reaches every row.
 */
async function numericProof(job: Job, report: Report): Promise<boolean> {
  const p = job.p!;
  const { point } = p;
  const v = point.value;
  const { baseline } = job;
  if (!baseline || !isSuccess(baseline) || !/^\d{1,12}$/.test(v) || job.safe) return false;
  if (point.in === 'header' || point.in === 'cookie' || !readsOnly(point.op)) return false;
  const t1 = `${v} AND 1=1`;
  const f1 = `${v} AND 1=2`;
  const t2 = `${v}/**/AND/**/2=2`;
  const rt1 = await p.send(t1);
  if (!rt1) return false;
  if (isSuccess(rt1) && alikeAnswers(rt1, t1, baseline, v)) {
    const rf = await p.send(f1);
    const rt2 = rf && !alikeAnswers(rf, f1, baseline, v) ? await p.send(t2) : undefined;
    if (rf && rt2 && alikeAnswers(rt2, t2, baseline, v))
      return report(
        SCAN_RULES.sqlInjection,
        `SQL numeric boolean-based: ${t1} and ${t2} answered like ${v}, ${f1} did not`,
        rt1,
        t1,
        {
          contradictionStatus: rf.status,
          tautologyLength: rt1.text.length,
          contradictionLength: rf.text.length,
        },
      );
  }
  if (!Array.isArray(baseline.json)) return false;
  const o1 = `${v} OR 1=1`;
  const of = `${v} OR 1=2`;
  const ro = await p.send(o1);
  if (!ro || !isSuccess(ro) || !Array.isArray(ro.json) || ro.json.length <= baseline.json.length)
    return false;
  const rof = await p.send(of);
  if (!rof || !alikeAnswers(rof, of, baseline, v)) return false;
  return report(
    SCAN_RULES.sqlInjection,
    `SQL numeric boolean-based: ${o1} answered a longer list (${ro.json.length} items) than ${v} (${baseline.json.length}), ${of} answered like ${v}`,
    ro,
    o1,
    { listLength: ro.json.length, baselineLength: baseline.json.length },
  );
}

/**
 * Time-based probes (command first, then SQL), after every input's other probes: they cost a delay per
 * request. Returns true when something was found.
 */
async function probeTimed(
  ctx: ScanContext,
  p: Prober,
  baseline: ScanResponse,
  safe = false,
): Promise<boolean> {
  const v = p.point.value;
  const report = reporter(ctx, p);
  const baseline2 = await p.send(v);
  const baselineMs = Math.max(baseline.durationMs, baseline2?.durationMs ?? 0);
  const delayMs = ctx.timeDelayMs;
  const s = String(delayMs / 1000);
  const shell = (t: string): string[] => [`${v};sleep ${t};`, `${v}$(sleep ${t})`, `${v}|sleep ${t}`];
  const zero = shell('0');
  for (const [i, payload] of shell(s).entries()) {
    const res = await delayed(p, payload, zero[i], baselineMs, delayMs);
    if (res)
      return report(
        SCAN_RULES.commandInjection,
        `time-based: sleep ${s} delayed the answer twice, sleep 0 did not`,
        res,
        payload,
        {
          baselineMs: Math.round(baselineMs),
          ms: Math.round(res.durationMs),
        },
      );
  }
  // A number pasted in unquoted (`WHERE id = 5`): a sleep joined with AND narrows what the statement reaches (the
  // same row, or none), so it goes in writes too (PostgreSQL, then MySQL).
  if (/^\d{1,12}$/.test(v)) {
    const numeric = (t: string): string[] => [
      `${v} AND 1=(SELECT 1 FROM PG_SLEEP(${t}))`,
      `${v} AND SLEEP(${t})=0`,
    ];
    const numericZero = numeric('0');
    for (const [i, payload] of numeric(s).entries()) {
      const res = await delayed(p, payload, numericZero[i], baselineMs, delayMs);
      if (res)
        return report(
          SCAN_RULES.sqlInjection,
          'time-based: a database sleep joined with AND to the number delayed the answer twice, a sleep of 0 did not',
          res,
          payload,
          { baselineMs: Math.round(baselineMs), ms: Math.round(res.durationMs) },
        );
    }
  }
  // Their comment ends the statement early, and the stacked ones end it: in an UPDATE's SET either drops the WHERE
  // that names one row. Reads and logins only (`safe` otherwise).
  if (safe) return false;
  // Last, the sleeps that run once whatever the rows (onceSleeps): no comment and no stacked statement, for a
  // PostgreSQL driver that prepares every statement (one statement only) and a MySQL lookup that matches no row.
  const sql = (t: string): string[] => [
    `${v}' AND SLEEP(${t})-- `,
    `${v}';SELECT pg_sleep(${t})-- `,
    `${v}';WAITFOR DELAY '0:0:${t}'-- `,
    ...onceSleeps(v, t),
  ];
  const sqlZero = sql('0');
  for (const [i, payload] of sql(s).entries()) {
    const res = await delayed(p, payload, sqlZero[i], baselineMs, delayMs);
    if (res)
      return report(
        SCAN_RULES.sqlInjection,
        'time-based: a database sleep delayed the answer twice, a sleep of 0 did not',
        res,
        payload,
        {
          baselineMs: Math.round(baselineMs),
          ms: Math.round(res.durationMs),
        },
      );
  }
  return false;
}

/**
 * SQL sleeps that run once, whatever the table holds, ORed to a quoted value that matches nothing and closed by the
 * statement's own quote: `WHERE card = '<v>' OR 1=(SELECT 0 FROM PG_SLEEP(t)) OR 'a'='b' AND pin = '...'` selects
 * no row (PostgreSQL runs the uncorrelated subquery once; MySQL materialises the derived table `(SELECT SLEEP(t))`
 * once). No comment, no stacked statement: what follows the input in the statement stays, so a login probed so
 * names nobody and counts no failed login against anyone.
 */
const onceSleeps = (v: string, t: string): string[] => [
  `${v}' OR 1=(SELECT 0 FROM PG_SLEEP(${t})) OR 'a'='b`,
  `${v}' OR (SELECT 0 FROM (SELECT SLEEP(${t}))a) OR 'a'='b`,
];

/**
 * A login's time-based probes (see onceSleeps): where every failure answers alike (the same 5xx for a wrong password,
 * a user nobody has and a database error; a tautology no way in), only a delay tells. Slower than the slower of two
 * plain requests by 80% of the delay, twice, its sleep of 0 (the control) in between not.
 */
async function loginTimed(ctx: ScanContext, p: Prober, baseline: ScanResponse): Promise<boolean> {
  const v = p.point.value;
  const again = await p.send(v);
  if (again === undefined) return false;
  const baselineMs = Math.max(baseline.durationMs, again.durationMs);
  const s = String(ctx.timeDelayMs / 1000);
  const zero = onceSleeps(v, '0');
  for (const [i, payload] of onceSleeps(v, s).entries()) {
    const res = await delayed(p, payload, zero[i], baselineMs, ctx.timeDelayMs);
    if (res)
      return reporter(ctx, p)(
        SCAN_RULES.sqlInjection,
        `time-based: a database sleep ORed to the lookup of a user nobody has delayed the login's answer twice (${res.status}), a sleep of 0 did not`,
        res,
        payload,
        {
          baselineMs: Math.round(baselineMs),
          ms: Math.round(res.durationMs),
          baselineStatus: baseline.status,
        },
      );
  }
  return false;
}

/**
 * The identity's login fields (not its password) that the operation's body also has: its own user name. Never in an
 * account flow (discover.ts accountFlow, by path, summary or declared id): `POST /auth/forgot-password {email}` with alice's
 * e-mail mails her a reset code for each probe.
 */
function ownFields(
  ctx: ScanContext,
  op: Operation,
  as: Identity | null,
): Record<string, unknown> | undefined {
  const body = jsonBodySchema(op) ?? formSchema(op);
  if (!as?.login || body === undefined) return undefined;
  if (accountFlow(op)) return undefined;
  const props = propertiesOf(ctx.spec, body);
  // A write never names the identity where that changes someone's access (review R1-S3: `POST /orgs/1/members
  // {"username": "alice", "role": "viewer"}` upserted alice, the org's owner, to a viewer): not in a list of who has
  // access, and not as a person in a parent the scan did not make.
  const write = !readsOnly(op);
  if (write && accessListPath(op.path)) return undefined;
  const foreignParent = write && op.path.includes('{') && !inScanObject(ctx, op, as);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(as.login.body)) {
    if (foreignParent && personMember(k)) continue;
    if (k in props && !/pass|secret|pin|otp|code/i.test(k)) out[k] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** Whether the path `as` would send `op` to lies below an object the scan created (its parent or itself). */
function inScanObject(ctx: ScanContext, op: Operation, as: Identity): boolean {
  const segs = planRequest(ctx.spec, op, ctx.objects, { owner: as.name }).path.split('?')[0].split('/');
  for (let i = segs.length; i > 1; i--)
    if (ctx.objects.isScanCreated(segs.slice(0, i).join('/'))) return true;
  return false;
}

/**
 * The path and query values the planner gives this identity (its objects, its harvested values). Only for a
 * read, or for a change to an object the scan created: harvested values name what others own, and a POST below
 * one (`/admin/users/{user_id}/deactivate/` with a user id a list gave out) changes it, like a PATCH the safety
 * rule keeps to the scan's objects. Probing one such input deactivated the scan's own admin mid-scan, and every
 * probe it sent after that was refused as unauthenticated.
 */
/** Values of its own a read's id input is tried with when its sampled and planned values got no 2xx. */
const MAX_OWN_READ_VALUES = 3;

/**
 * For a GET's query or path input, as a given identity: the values the API gave out under the input's name that this
 * identity saw (harvested), the ones only it saw first; not the value already tried. A read only: these name
 * objects the scan did not create.
 */
function ownReadValues(
  ctx: ScanContext,
  point: InjectionPoint,
  as: Identity | null,
  tried: string | undefined,
): string[] {
  if (as === null || point.op.method !== 'GET' || (point.in !== 'query' && point.in !== 'path')) return [];
  const param = point.op.parameters.find((p) => p.in === point.in && p.name === point.name);
  const wanted = {
    name: point.name,
    context: entityOfPath(point.op.path.split('?')[0]),
    ...(param?.schema ? { schema: resolveSchema(ctx.spec, param.schema) } : {}),
  };
  return ctx.objects.harvest
    .candidates(wanted, as.name, 1)
    .map((c) => String(c.value))
    .filter((v) => v !== tried && v !== point.value)
    .slice(0, MAX_OWN_READ_VALUES);
}

function plannedValues(
  ctx: ScanContext,
  op: Operation,
  as: Identity | null,
): Record<string, string> | undefined {
  const req = planRequest(ctx.spec, op, ctx.objects, as ? { owner: as.name } : {});
  if (req.invented.length > 0) return undefined;
  const path = req.path.split('?')[0];
  if (
    op.method !== 'GET' &&
    !ctx.allowDestructive &&
    op.path.includes('{') &&
    !ctx.objects.isScanCreated(path)
  )
    return undefined;
  const out: Record<string, string> = {};
  for (const { name, value } of pathValues(op.path, req.path)) out[name] = value;
  for (const [name, value] of new URLSearchParams(req.path.split('?')[1] ?? '')) out[name] = value;
  return out;
}

/**
 * The object a write names by its path: the collection before its last parameter that is no listed value, and
 * the item route up to that parameter (`POST /tickets/{id}/convert/` → `/tickets`, `/tickets/{id}`). Not for a
 * read: a read may name what the API gave out.
 */
function namedObject(ctx: ScanContext, op: Operation): { collection: string; item: string } | undefined {
  if (op.method === 'GET' || !op.path.includes('{')) return undefined;
  const segs = op.path.split('/');
  for (let i = segs.length - 1; i > 0; i--) {
    const m = /^\{([^{}]+)\}$/.exec(segs[i]);
    if (!m) continue;
    const param = op.parameters.find((p) => p.in === 'path' && p.name === m[1]);
    if (listedValue(ctx.spec, param?.schema) !== undefined) continue;
    return { collection: segs.slice(0, i).join('/'), item: segs.slice(0, i + 1).join('/') };
  }
  return undefined;
}

/** An object of the scan's own a write's probes go to, the identity that owns it, and its path values. */
interface LiveObject {
  readonly as: Identity;
  readonly params: Readonly<Record<string, string>>;
}

/**
 * An object the scan created, still there, for a write that names one by its path, and its owner: the probes go to
 * it as that identity. A check before this one may have deleted some (API1's delete replays): each is read back
 * first (a 2xx with a record from the item route's GET, when the document has one), the given identities' in their
 * order. None left of that kind: a fresh one is made as the first identity through the documented creation, with
 * the body discovery sends (never one that sets a password). Without it, the probes would name what the API gave
 * out (a given identity's own ticket), which the runner's write guard refuses.
 */
async function liveObject(
  ctx: ScanContext,
  op: Operation,
  who: readonly (Identity | null)[],
  alive: Map<string, Promise<boolean>>,
  made: Map<string, Promise<LiveObject | undefined>>,
  /** The scan's own account, which makes a fresh object first; and who is told of what a given identity made. */
  fresh: { readonly maker?: Identity; readonly made?: MadeBy } = {},
): Promise<LiveObject | undefined> {
  const named = namedObject(ctx, op);
  if (named === undefined) return undefined;
  const { collection, item } = named;
  const read = ctx.spec.operations.find(
    (o) => o.method === 'GET' && !isExcluded(o) && o.path.replace(/\/$/, '') === item,
  );
  const people = who.filter((as): as is Identity => as !== null);
  for (const as of people) {
    for (const o of ctx.objects.of(as.name)) {
      if (o.collection !== collection) continue;
      const params: Record<string, string> = {};
      for (const { name, value } of pathValues(item, o.path)) params[name] = value;
      let there = alive.get(o.path);
      if (there === undefined) {
        there = read
          ? ctx
              .send(planRequest(ctx.spec, read, ctx.objects, { owner: as.name, params }), as)
              .then(holdsRecord)
          : Promise.resolve(true);
        alive.set(o.path, there);
      }
      if (await there) return { as, params };
    }
  }
  if (people.length === 0 || ctx.signal.aborted) return undefined;
  let made1 = made.get(collection);
  if (made1 === undefined) {
    made1 = createOwn(ctx, collection, item, [...(fresh.maker ? [fresh.maker] : []), ...people], fresh.made);
    made.set(collection, made1);
  }
  return made1;
}

/** Told of a creation's request and answer as `as` (the sweep's `seen`, see creationSweep). */
type MadeBy = (
  op: Operation,
  as: Identity,
) => ((req: PlannedRequest, res: ScanResponse | undefined, value: unknown) => void) | undefined;

/**
 * A new object in the collection, created through the documented creation (see liveObject) as the first of
 * `people` it does not refuse outright (401/403): where only the admin creates (`POST /parts`, the workshop's), the
 * admin's own object, which its writes (`PUT /parts/{part_no}`) are then probed on. Never a given object.
 */
async function createOwn(
  ctx: ScanContext,
  collection: string,
  item: string,
  people: readonly Identity[],
  madeBy?: MadeBy,
): Promise<LiveObject | undefined> {
  const op = ctx.spec.operations.find(
    (o) =>
      isCreationOperation(ctx.spec, o) &&
      creationCollection(ctx.spec, o) === collection &&
      !setsAPassword(ctx.spec, o) &&
      !changesAccount(ctx.spec, o),
  );
  if (op === undefined) return undefined;
  // Not as the admin where nothing can take the object back (creators).
  for (const as of creators(ctx, op, people)) {
    const made = await createAs(ctx, op, collection, item, as, madeBy?.(op, as));
    if (made !== 'refused') return made;
  }
  return undefined;
}

async function createAs(
  ctx: ScanContext,
  op: Operation,
  collection: string,
  item: string,
  as: Identity,
  seen?: (req: PlannedRequest, res: ScanResponse | undefined, value: unknown) => void,
): Promise<LiveObject | undefined | 'refused'> {
  const req = withOwnAccount(ctx.spec, op, planRequest(ctx.spec, op, ctx.objects, { owner: as.name }));
  if (req.invented.length > 0) return undefined;
  const res = await ctx.send(req, as);
  // Deleted again at the end, once every write probed on it is done (the sweep's final flush).
  seen?.(req, res, undefined);
  if (
    res !== undefined &&
    (res.status === 401 || res.status === 403 || (res.status < 300 && refusedIn200(res)))
  )
    return 'refused';
  if (!isSuccess(res)) return undefined;
  const id = createdId(res, memberParam(ctx.spec, collection), entityOfPath(collection));
  if (id === undefined || id === '') return undefined;
  // `/cards/create` creates in `/cards`: the concrete collection drops the verb (as discovery does).
  const depth = collection.split('/').length;
  const at = req.path.split('?')[0].replace(/\/$/, '').split('/').slice(0, depth).join('/');
  const path = `${at}/${encodeURIComponent(id)}`;
  ctx.objects.add({ collection, path, id, owner: as.name, body: res.json, createdBy: op });
  const params: Record<string, string> = {};
  for (const { name, value } of pathValues(item, path)) params[name] = value;
  return { as, params };
}

/** An object a probe of a creation made in a given identity's (or the admin's) data, to delete. */
interface ProbeObject {
  readonly op: Operation;
  readonly as: Identity;
  readonly res: ScanResponse;
  /** The creation's concrete path (`/users/4/notes`). */
  readonly path: string;
  /** The value the probe sent in its input, when it was no plain value (it finds the object in a list). */
  readonly probe?: string;
  /** The input whose probes made it (`<operation id> <input>`): its job's objects are deleted when it is done. */
  readonly key: string;
  /** An object the probes of other operations write to (liveObject's): deleted only by the final flush. */
  readonly last?: true;
}

/** How many objects of a creation made as one identity were deleted, and why the others were not. */
interface SweepTally {
  readonly op: Operation;
  readonly as: Identity;
  made: number;
  deleted: number;
  /** Objects no answer counted that a read after a DELETE found at the same path, and deleted as well. */
  extra: number;
  /** Objects deleted with no read of the item in the document to confirm it (the DELETE's 2xx trusted). */
  unread: number;
  /**
   * Objects whose path, read after their DELETE, showed a record the scan did not make (the API gave their id to
   * another's new record): deleted, and that record is not deleted again.
   */
  reissued: number;
  readonly left: Set<string>;
  /** The paths of those left whose id the answer (or the list) gave: the report names them. */
  readonly leftAt: string[];
}

/** An answer that says a POST made something: `201 Created`, or a `Location` of the new object. */
export function madeOne(res: ScanResponse): boolean {
  return res.status === 201 || (isSuccess(res) && res.headers.location !== undefined);
}

/**
 * A POST's answer names what it made: a `Location`, or an id member in its record (top level or one level down).
 * A 201 of a message alone (`{"message": "Test email sent"}`) made nothing a clean-up could find (review R2-R2).
 */
function namesMade(res: ScanResponse): boolean {
  if (res.headers.location !== undefined) return true;
  const ids = (v: unknown): boolean =>
    v !== null &&
    typeof v === 'object' &&
    !Array.isArray(v) &&
    Object.entries(v as Record<string, unknown>).some(
      ([k, x]) => ID_MEMBER.test(k) && (typeof x === 'number' || (typeof x === 'string' && x !== '')),
    );
  const body = res.json;
  if (ids(body)) return true;
  return (
    body !== null &&
    typeof body === 'object' &&
    !Array.isArray(body) &&
    Object.values(body as Record<string, unknown>).some(ids)
  );
}

/** How many paths of objects left a warning names (the count says the rest). */
const MAX_NAMED_LEFT = 8;

/**
 * Whether what a creation makes as a given identity or the admin can be taken back: the document has a DELETE of
 * its item (`DELETE /promotions/{id}` beside `POST /promotions`). Not a creation: true.
 */
export function undoable(ctx: ScanContext, op: Operation): boolean {
  return !isCreationOperation(ctx.spec, op) || deletable(ctx, op);
}

/** Whether the document has a DELETE of what a POST makes (its collection's item), whatever else it is. */
function deletable(ctx: ScanContext, op: Operation): boolean {
  const collection = creationCollection(ctx.spec, op);
  return collection !== undefined && itemDelete(ctx.spec, collection) !== undefined;
}

/**
 * Who may send a probe that makes an object: the admin not where nothing can take it back (`undoable`). What the
 * admin makes is often the whole API's (a promotion every customer redeems, a product everyone sees), not a
 * corner of its own data; a given identity's stays in its own data, deleted where it can be, named where not.
 */
export function creators<T extends Identity | null | undefined>(
  ctx: ScanContext,
  op: Operation,
  who: readonly T[],
): T[] {
  return undoable(ctx, op)
    ? [...who]
    : who.filter((as) => as === null || as === undefined || as !== ctx.admin);
}

/** Objects the probes may make in given identities' data: past this, creations as a given identity get no probes. */
const MAX_SWEEP_OBJECTS = 400;
/** Deletes the sweep may send (a round's in-flight creations come on top of MAX_SWEEP_OBJECTS). */
const MAX_SWEEP_DELETES = 450;
/** Time kept, at the end of the check's share, for the sweep of what the last probes made. */
const SWEEP_RESERVE_MS = 1500;
/** DELETEs again of one path whose read still answers after a 2xx DELETE (objects no answer counted). */
const MAX_SWEEP_REDELETES = 8;
const SWEEP_REASON = `not sent: its probes would make objects in a given identity's data, and the ${MAX_SWEEP_OBJECTS} the clean-up takes back are made (safety rule)`;

/**
 * The objects the injection probes of a creation make in a given identity's or the admin's data (`POST /notes` with
 * `x' OR '1'='1` as its title, as alice) are the scan's own and must not stay there: after each round, each is
 * deleted by its maker through the document's DELETE of the item (`DELETE /notes/{id}`), named by the id in the
 * creation's answer (or its `Location`), else found in the collection's list by the probe value it holds (never by a
 * plain value: a value the API gave out may name a given object). What could not be deleted is counted, and said
 * in the coverage and as a warning (`report`). `probes` names whose objects they are (the XXE check's too).
 */
export function creationSweep(ctx: ScanContext, probes = 'the injection probes') {
  const pending: ProbeObject[] = [];
  const tallies = new Map<string, SweepTally>();
  let deletes = 0;
  let madeInAll = 0;
  const tally = (op: Operation, as: Identity) => {
    const key = `${op.id}\0${as.name}`;
    let t = tallies.get(key);
    if (!t) {
      t = { op, as, made: 0, deleted: 0, extra: 0, unread: 0, reissued: 0, left: new Set(), leftAt: [] };
      tallies.set(key, t);
    }
    return t;
  };
  const seen =
    (op: Operation, as: Identity, plain: string, input = '', last = false) =>
    (req: PlannedRequest, res: ScanResponse | undefined, value: unknown): void => {
      if (!res || !isSuccess(res) || refusedIn200(res)) return;
      if (!isCreationOperation(ctx.spec, op) && !(madeOne(res) && namesMade(res))) return;
      tally(op, as).made++;
      madeInAll++;
      pending.push({
        op,
        as,
        res,
        key: `${op.id} ${input}`,
        path: req.path.split('?')[0],
        ...(typeof value === 'string' && value !== plain && value.length >= 3 ? { probe: value } : {}),
        ...(last ? { last: true as const } : {}),
      });
    };
  /**
   * After a 2xx DELETE of `path`: undefined when a read of the item (the document's GET at the DELETE's route)
   * says it is gone (or there is no such read to ask), else why it stays. A read that still answers 2xx is
   * followed by another DELETE, at most MAX_SWEEP_REDELETES times; each that a read shows took one away counts
   * as an object no answer had counted (`extra`).
   */
  const stillThere = async (
    path: string,
    item: Operation,
    t: SweepTally,
    made: unknown,
  ): Promise<string | undefined> => {
    const reader = ctx.spec.operations.find(
      (r) =>
        r.method === 'GET' && !isExcluded(r) && r.path.replace(/\/+$/, '') === item.path.replace(/\/+$/, ''),
    );
    if (!reader) {
      t.unread++;
      return undefined;
    }
    const as = t.as;
    for (let again = 0; ; again++) {
      if (ctx.signal.aborted || deletes >= MAX_SWEEP_DELETES)
        return 'a read after its DELETE found it still there and no time was left to delete it again';
      const read = await ctx.send({ method: 'GET', path, operation: reader }, as);
      if (!read || !isSuccess(read) || refusedIn200(read)) return undefined;
      // Another's record that took the id (a table without AUTOINCREMENT, review R1): the scan's own is gone.
      if (!stillScanMade(read.json, made)) {
        t.reissued++;
        return undefined;
      }
      if (again >= MAX_SWEEP_REDELETES)
        return `its path still answered ${read.status} after ${again + 1} DELETEs`;
      deletes++;
      const res = await ctx.send({ method: 'DELETE', path, operation: item }, as);
      if (!res || res.status < 200 || res.status >= 300)
        return `a read after its DELETE found it still there; the next DELETE answered ${res?.status ?? 'nothing'}`;
      t.extra++;
    }
  };
  /**
   * Deletes what the probes made: the objects of one input (`key`), or all those still there; the objects other
   * operations' probes write to (`last`) only when `final`.
   */
  const flush = async (key?: string, final = false): Promise<void> => {
    const batch: ProbeObject[] = [];
    for (let i = pending.length - 1; i >= 0; i--) {
      if (key !== undefined && pending[i].key !== key) continue;
      if (pending[i].last && !final) continue;
      batch.unshift(pending[i]);
      pending.splice(i, 1);
    }
    const lists = new Map<string, Promise<unknown[]>>();
    // Paths a read after the DELETE found gone (no object of this batch is left there): another of the batch's
    // objects at one of them is gone as well (a slug of a title the API does not make unique).
    const cleared = new Set<string>();
    for (const o of batch) {
      const t = tally(o.op, o.as);
      const collection = creationCollection(ctx.spec, o.op);
      if (collection === undefined) {
        // No route of the item in the document: named by where the answer says it is, else by its id.
        const id = captureId(ctx.spec, o.op, o.res);
        const at = o.res.headers.location?.split('?')[0];
        t.left.add('the document has no route of the item to delete it by');
        const name = at
          ? at.slice(0, 120)
          : id !== undefined && id !== ''
            ? `id ${id.slice(0, 60)}`
            : undefined;
        if (name !== undefined && t.leftAt.length < MAX_NAMED_LEFT) t.leftAt.push(name);
        continue;
      }
      const base = collection.replace(/\/+$/, '');
      const item = itemDelete(ctx.spec, collection);
      // `/notes/create` creates in `/notes`: the concrete collection drops the verb (as createAs does).
      const depth = base.split('/').length;
      const at = o.path.replace(/\/$/, '').split('/').slice(0, depth).join('/');
      const param = memberParam(ctx.spec, collection);
      const entity = entityOfPath(collection);
      let id = createdId(o.res, param, entity) ?? captureId(ctx.spec, o.op, o.res);
      const leave = (why: string) => {
        t.left.add(why);
        if (id === undefined || id === '') return;
        const named = `${at}/${encodeURIComponent(id)}`;
        // Two answers that gave one id (a target that reads its new row back racily, review R1-H1): named once, and
        // said, so the count and the names do not disagree silently.
        if (t.leftAt.includes(named)) t.left.add(`two of its answers gave the same id, ${id}`);
        else if (t.leftAt.length < MAX_NAMED_LEFT) t.leftAt.push(named);
      };
      if (!item) {
        leave('the document has no DELETE of the item');
        continue;
      }
      if (deletes >= MAX_SWEEP_DELETES || ctx.signal.aborted) {
        leave('no time was left to delete it');
        continue;
      }
      if ((id === undefined || id === '') && o.probe !== undefined) {
        const read = ctx.spec.operations.find(
          (r) => r.method === 'GET' && !isExcluded(r) && r.path.replace(/\/+$/, '') === base,
        );
        if (read) {
          const key = `${o.as.name} ${at}`;
          let list = lists.get(key);
          if (!list) {
            const path = read.path.endsWith('/') ? `${at}/` : at;
            list = ctx
              .send({ method: 'GET', path, operation: read }, o.as)
              .then((r) => (r && isSuccess(r) ? itemsOf(r.json) : []));
            lists.set(key, list);
          }
          const probe = o.probe;
          const hit = (await list).find((i) => holdsString(i, probe));
          if (hit !== undefined) id = createdId({ ...o.res, json: hit }, param, entity);
        }
      }
      if (id === undefined || id === '') {
        t.left.add('its id was in neither the answer nor the list');
        continue;
      }
      const path = `${at}/${encodeURIComponent(id)}${item.path.endsWith('/') ? '/' : ''}`;
      // Registered as the scan's own (the runner lets a DELETE go only to those), under an owner no check takes
      // objects from: a probe's object is no object to probe further.
      ctx.objects.add({
        collection,
        path: path.replace(/\/$/, ''),
        id,
        owner: `${o.as.name} (injection probe)`,
        body: o.res.json,
        createdBy: o.op,
      });
      if (cleared.has(`${o.as.name} ${path}`)) {
        t.deleted++;
        continue;
      }
      deletes++;
      const res = await ctx.send({ method: 'DELETE', path, operation: item }, o.as);
      const status = res?.status;
      if (status === undefined || status < 200 || status >= 300) {
        leave(`its DELETE answered ${status ?? 'nothing'}`);
        continue;
      }
      // One 2xx DELETE is not trusted where the item can be read: several creations may answer one path (a slug
      // of a title the API does not make unique, a taken title refused yet stored) and a DELETE removes one of
      // them. Read again: while the path still answers, delete again (bounded), and say what stays.
      const still = await stillThere(path, item, t, o.res.json);
      if (still === undefined) {
        t.deleted++;
        cleared.add(`${o.as.name} ${path}`);
        ctx.objects.markDeleted(path);
      } else leave(still);
    }
  };
  /** The coverage notes and warnings: what the probes made in given identities' data, and what stays. */
  const report = (): void => {
    for (const t of tallies.values()) {
      const left = t.made - t.deleted;
      const extra =
        t.extra > 0
          ? ` (and ${t.extra} more no answer counted, found at the same path${t.extra === 1 ? '' : 's'} by reading ${t.extra === 1 ? 'it' : 'them'} back)`
          : '';
      const reissued =
        t.reissued > 0
          ? ` (${t.reissued} of them: a read after the DELETE showed a record the scan did not make, its id given to another, not deleted again)`
          : '';
      const what = `${probes} of ${t.op.method} ${t.op.path} created ${t.made} object${t.made === 1 ? '' : 's'}${extra}${reissued} as ${t.as.name}`;
      if (left === 0) {
        ctx.note?.({
          operation: t.op,
          reason: `${what}, all deleted after the probes (each read back as gone)`,
        });
        continue;
      }
      const why = [...t.left].join('; ');
      // Each object left named by its path where its id is known, so it can be found and removed.
      const ids = t.leftAt.every((x) => x.startsWith('id '));
      const named =
        t.leftAt.length === 0
          ? ''
          : `: ${ids ? `id${t.leftAt.length === 1 ? '' : 's'} ${t.leftAt.map((x) => x.slice(3)).join(', ')}` : t.leftAt.join(', ')}${left > t.leftAt.length ? ` and ${left - t.leftAt.length} more` : ''}`;
      ctx.note?.({ operation: t.op, reason: `${what}: ${left} left in its data (${why})${named}` });
      ctx.warn?.(`${what}: ${left} left in its data (${why})${named}; remove them on the target by hand`);
    }
  };
  /** The probes made as many objects in given identities' data as the clean-up takes back: no more creations. */
  const full = (): boolean => madeInAll >= MAX_SWEEP_OBJECTS;
  return { seen, flush, report, full };
}

/** Names of inputs that search, filter or order: what a query is built from. */
const SEARCH_NAME =
  /^(q|query|search|search_?term|term|keyword|keywords|filter|filters|find|lookup|where|name|title|username|user_?name)$|search|filter|sort|order_?by|keyword/i;

/**
 * How promising an input is for the probes, when the budget cannot reach them all: 3 an SQL fragment (a condition,
 * an ordering) or a search, filter or name input; 2 an input of a read (a path id, a query parameter: a lookup,
 * and its probes change nothing); 1 any other (a write's field); 0 a creation's field sent as a given identity (each
 * probe makes an object there that must be deleted again: twice the requests).
 */
export function inputPromise(point: InjectionPoint, createsAsGiven: boolean): number {
  const leaf = point.name.split('.').pop() ?? point.name;
  if (point.fragment !== undefined || SEARCH_NAME.test(leaf)) return createsAsGiven ? 1 : 3;
  if (createsAsGiven) return 0;
  if (readsOnly(point.op) && point.in !== 'header' && point.in !== 'cookie') return 2;
  return 1;
}

/**
 * Requests the injection probes may send: 30 per input (both rounds and the time-based pass of a typical input
 * take 15 to 30), at least 150, at most 1500. At the default 20 requests per second the time budget (the caller's:
 * what API8 has left of its 20 s, within the check's share of the scan) ends the probes long before; a faster rate
 * lets a large document's inputs use the time they have (500 ended a 156-input document's probes in 6 of 20 s).
 * Whichever runs out first ends the probes; the first round of every input comes before any second round, so what
 * is cut is the costly part.
 */
export function requestBudget(inputs: number): number {
  return Math.min(1500, Math.max(150, 30 * inputs));
}

/** A fixed request budget instead of `requestBudget`: set by tests that need the budget to run out. */
export const injectionLimits: { maxRequests?: number } = {};

/** Paths of logins, sign-ups and password changes. */
const AUTH_PATH = /log-?in|sign-?(in|up)|register|token|passw|auth|session|reset|forgot/i;
const PASSWORD_NAME = /pass(word)?$|passw|^pwd$/i;

/**
 * A login, sign-up or password operation: an identity's login, or one that takes a password on a path that
 * names no object (`POST /users`, `/auth/register`) or names such a flow. Slow by design (a password hash per
 * request) and probed by API2: its inputs get the fewest probes, last.
 */
function authOperation(ctx: ScanContext, op: Operation, who: readonly (Identity | null)[]): boolean {
  if (
    who.some((as) => as?.login && as.login.path === op.path && op.method === (as.login.flow.method ?? 'POST'))
  )
    return true;
  const body = jsonBodySchema(op) ?? formSchema(op);
  const fields = body !== undefined ? Object.entries(propertiesOf(ctx.spec, body)) : [];
  const password =
    fields.some(([k, s]) => PASSWORD_NAME.test(k) || s.format === 'password') ||
    op.parameters.some((p) => (p.in === 'query' || p.in === 'path') && PASSWORD_NAME.test(p.name));
  return password && (AUTH_PATH.test(op.path) || !op.path.includes('{'));
}

/**
 * Paths of sign-ups: a new account of the probe's own, sent anonymously. A creation in a users collection
 * (`POST /users`, `POST /v1/user/` with a password) is a sign-up too.
 */
const SIGN_UP_PATH = /sign-?_?up|regist|enrol|join|(^|\/)(users?|accounts?|members?|customers?)\/?$/i;

/**
 * An operation the probes never send: it sets a password (a change, a reset) or changes an account (its e-mail,
 * its role). As a given identity it changes that identity's account; anonymously, a payload in the name it
 * takes (`' OR '1'='1`) may change every account. A sign-up is probed, anonymously only.
 */
function changesAnAccount(ctx: ScanContext, op: Operation, logins: ReadonlyMap<string, LoginPlan>): boolean {
  // A DELETE is probed on made-up values only (see deletePoints), never on an account.
  if (signUp(ctx, op) || logins.has(op.id) || op.method === 'DELETE') return false;
  // A given identity's own login (`POST /v2/auth/token {username, password}`) is probed as before.
  const ids = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  if (ids.some((as) => as.login?.path === op.path && op.method === (as.login.flow.method ?? 'POST')))
    return false;
  return setsAPassword(ctx.spec, op) || changesAccount(ctx.spec, op) || changesOwnAccount(ctx.spec, op);
}

/** The name fields of a sign-up, filled with names of the probes' own. */
const NAME_FIELD = /^(user_?name|login|handle|nick_?(name)?|e-?mail|email_?address)$/i;

/**
 * Names of the probes' own for a sign-up's name fields: a documented example may be a given identity's name,
 * and a careless sign-up that sets the password of a name that exists would take that identity's account.
 */
function freshNames(ctx: ScanContext, op: Operation): Record<string, string> {
  const tag = randomUUID().slice(0, 8);
  const out: Record<string, string> = {};
  // The record's names (`data.attributes.email` of a JSON:API sign-up), placed back there by makeProber.
  for (const k of Object.keys(recordProperties(ctx.spec, jsonBodySchema(op) ?? formSchema(op)))) {
    if (NAME_FIELD.test(k)) out[k] = /mail/i.test(k) ? `pcj${tag}@example.com` : `pcj${tag}`;
  }
  return out;
}

/** A login's user input (`email`, `username`, `login`): what names the account that signs in. */
const LOGIN_USER = /user|e_?mail|login|name|account|phone|mobile|handle|nick/i;
/** A login's secret named other than a password: a PIN or a pass code (`{card_no, pin}`). */
const LOGIN_PIN = /^(pin|pin_?code|pass_?code)$/i;
/** Login fields that name no account and hold no secret of its own (`grant_type`, `client_id`, `remember_me`). */
const LOGIN_OTHER = /client|grant|scope|remember|captcha|csrf|xsrf|redirect|next|return/i;

/**
 * A login's password and user fields among `keys`: the password (or PIN), and the user input named so (LOGIN_USER),
 * else the one other field beside the password (`{card_no, pin}`, `{member_no, password}`).
 */
function loginFields(keys: readonly string[]): { readonly user?: string; readonly password?: string } {
  const password = keys.find((k) => (PASSWORD.test(k) || LOGIN_PIN.test(k)) && !/grant|client/i.test(k));
  const named = keys.find((k) => k !== password && LOGIN_USER.test(k) && !/client|grant|scope/i.test(k));
  const others = keys.filter((k) => k !== password && !LOGIN_OTHER.test(k));
  const user = named ?? (password !== undefined && others.length === 1 ? others[0] : undefined);
  return { ...(user !== undefined ? { user } : {}), ...(password !== undefined ? { password } : {}) };
}

/**
 * A login probed with a user nobody has and a password of the scan's own, never a given identity's name: a probe
 * that fails is then no failed login for anyone (an API that locks an account after a few would lock alice).
 */
interface LoginPlan {
  /** How a sign-in shows (the identity's own flow, or one read from the document), with these fields. */
  readonly flow: LoginFlow;
  /** The fields every probe starts from: the made-up user, the scan's password, the flow's other fields. */
  readonly body?: Readonly<Record<string, unknown>>;
  /** The same, for a login that takes its fields in the query string. */
  readonly params?: Readonly<Record<string, string>>;
  readonly userField: string;
  readonly passwordField?: string;
  /** The given identities' user names and e-mails: a request that holds one is not sent (see makeProber). */
  readonly never: readonly string[];
}

/** Path words of a login, and of the flows beside it that are no login (as discovery and API2 read them). */
const LOGIN_WORD = /(^|[/_-])(log_?in|sign_?in|auth(enticate)?|token|session)s?($|[/_.-])/i;
const NOT_LOGIN_WORD =
  /regist|sign_?up|join|forgot|reset|recover|change|update|verify|logout|refresh|invite/i;
/** A user name field a sign-up's body may name the account by. */
const SIGNUP_NAME = /^(user_?name|login|e-?mail|email_?address)$/i;

/**
 * The body fields of a login the document lists with no body at all (a served document of handlers that read the
 * body themselves): `POST` or `PUT`, no path parameter, no query input, and either the login the identities use
 * or a path that says login (`/login`, `/auth/token`; not a sign-up, reset or logout beside it). The fields are
 * those the identities' own login sends, in its encoding (form or JSON); else those an earlier answer taught
 * the scan (a learned body with a password); else a user input named as the sign-up names its account
 * (`email`), or `username`, and `password`, as JSON. Undefined for any other operation.
 */
export function undocumentedLogin(
  ctx: ScanContext,
  op: Operation,
): { readonly fields: readonly string[]; readonly encoding: 'json' | 'form' } | undefined {
  if ((op.method !== 'POST' && op.method !== 'PUT') || op.requestBody !== undefined) return undefined;
  if (op.path.includes('{') || isExcluded(op) || op.parameters.some((p) => p.in === 'query'))
    return undefined;
  const flows = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])].flatMap((as) =>
    as.login && as.login.flow.encoding !== 'query' ? [as.login] : [],
  );
  const here = flows.find((l) => l.path.split('?')[0] === op.path && op.method === (l.flow.method ?? 'POST'));
  if (!here && (!LOGIN_WORD.test(op.path) || NOT_LOGIN_WORD.test(op.path))) return undefined;
  const encodingOf = (l: (typeof flows)[number]) =>
    l.flow.encoding === 'form' || l.flow.grantType === 'password' ? ('form' as const) : ('json' as const);
  const fieldsOf = (keys: readonly string[]) => {
    const { user, password } = loginFields(keys);
    return password !== undefined && user !== undefined ? [user, password] : undefined;
  };
  if (here) {
    const fields = fieldsOf(Object.keys(here.body));
    return fields ? { fields, encoding: encodingOf(here) } : undefined;
  }
  const learned = fieldsOf(Object.keys(ctx.objects.learnedBody(op) ?? {}));
  if (learned) return { fields: learned, encoding: 'json' };
  for (const l of flows) {
    const fields = fieldsOf(Object.keys(l.body));
    if (fields) return { fields, encoding: encodingOf(l) };
  }
  const named = documentedSignup(ctx)?.fields.find((k) => SIGNUP_NAME.test(k));
  return { fields: [named ?? 'username', 'password'], encoding: 'json' };
}

/** An identity's own login operation, a documented login, or a POST the planner takes for one; no sign-up. */
function loginOperation(ctx: ScanContext, op: Operation, documented: ReadonlySet<Operation>): boolean {
  if (op.method !== 'POST' && op.method !== 'PUT') return false;
  if (signUp(ctx, op)) return false;
  const ids = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  if (ids.some((as) => as.login?.path === op.path && op.method === (as.login.flow.method ?? 'POST')))
    return true;
  return (
    documented.has(op) ||
    isLoginOperation(ctx.spec, op) ||
    loginByWords(ctx.spec, op) ||
    undocumentedLogin(ctx, op) !== undefined
  );
}

/** The given identities' login values that name them (user names, e-mails; not passwords), lower case. */
function givenNames(ctx: ScanContext): string[] {
  const out = new Set<string>();
  for (const as of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])]) {
    const body = as.login?.body ?? {};
    const { user } = loginFields(Object.keys(body));
    for (const [k, v] of Object.entries(body)) {
      // Only the fields that name the account (`grant_type: password` names nobody, and every body has that word).
      if (typeof v !== 'string' || v.length < 3 || PASSWORD.test(k) || LOGIN_PIN.test(k)) continue;
      if (k === user || (LOGIN_USER.test(k) && !/client|grant|scope/i.test(k))) out.add(v.toLowerCase());
    }
  }
  return [...out];
}

/**
 * The login plan of a login operation: its user input filled with a user nobody has, well-formed for that input
 * (unknownUser: an e-mail for an e-mail input, within its pattern and length), its password input with a password
 * of the scan's own, and any other naming input with another made-up name. Undefined when no user input is found.
 */
function loginPlan(ctx: ScanContext, op: Operation): LoginPlan | undefined {
  const ids = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  const own = ids.find((as) => as.login?.path === op.path && op.method === (as.login.flow.method ?? 'POST'));
  const json = jsonBodySchema(op);
  const form = json === undefined ? formSchema(op) : undefined;
  const schema = json ?? form;
  // A login the document gives no body: the fields and encoding its logins use (undocumentedLogin).
  const guessed = schema === undefined ? undocumentedLogin(ctx, op) : undefined;
  const query = schema === undefined && guessed === undefined;
  const fields = new Set(
    guessed
      ? guessed.fields
      : query
        ? op.parameters.filter((p) => p.in === 'query').map((p) => p.name)
        : Object.keys(recordProperties(ctx.spec, schema)),
  );
  // The fields its logins send, out of their envelope (`data.attributes` of a JSON:API login).
  for (const k of Object.keys(own?.login?.body ?? {})) fields.add(k);
  const { user: userField, password: passwordField } = loginFields([...fields]);
  if (userField === undefined) return undefined;
  const never = givenNames(ctx);
  const values: Record<string, unknown> = {};
  // The flow's other fields (`grant_type`, `client_id`, a tenant), unless they name someone.
  for (const [k, v] of Object.entries(own?.login?.body ?? {})) {
    if (k === userField || k === passwordField || LOGIN_USER.test(k)) continue;
    if (typeof v === 'string' && never.includes(v.toLowerCase())) continue;
    values[k] = v;
  }
  const flow: LoginFlow = own?.login?.flow ?? {
    path: op.path,
    method: op.method as 'POST' | 'PUT',
    body: {},
    ...(form || guessed?.encoding === 'form'
      ? { encoding: 'form' as const }
      : query
        ? { encoding: 'query' as const }
        : {}),
  };
  const target = { flow, op, userField, passwordField: passwordField ?? '' };
  const known = own?.login?.body[userField];
  for (const k of fields) {
    if (k === userField) values[k] = unknownUser(ctx, target, known);
    else if (k === passwordField) values[k] = freshPassword();
    else if (LOGIN_USER.test(k) && !/client|grant|scope/i.test(k))
      values[k] = unknownUser(ctx, { ...target, userField: k });
  }
  const strings = Object.fromEntries(
    Object.entries(values).filter(([, v]) => typeof v === 'string') as [string, string][],
  );
  // A JSON body with a record envelope (`{"data": {"type": "sessions", "attributes": {...}}}`): the values go
  // inside it, the members around them (the resource type) as the document or the logins give them.
  const envelope = json !== undefined ? schemaEnvelope(ctx.spec, json) : [];
  const around = own?.login?.flow.body ?? (envelope.length > 0 ? sampleValue(ctx.spec, json) : {});
  const body =
    envelope.length > 0 && around !== null && typeof around === 'object' && !Array.isArray(around)
      ? // The record replaced whole: nothing of a given identity's own fields stays in it.
        withFields(around as Record<string, unknown>, envelope.slice(0, -1), {
          [envelope[envelope.length - 1]]: values,
        })
      : values;
  return {
    flow: { ...flow, body },
    ...(query ? { params: strings } : { body }),
    userField,
    ...(passwordField !== undefined ? { passwordField } : {}),
    never,
  };
}

/** A login answer that signed someone in: a credential came back, and no refusal. */
function signsIn(flow: LoginFlow, res: ScanResponse | undefined): boolean {
  return res !== undefined && res.status < 400 && !refusedIn200(res) && signedIn(flow, res);
}

function signUp(ctx: ScanContext, op: Operation): boolean {
  return (
    op.method === 'POST' &&
    !op.path.includes('{') &&
    SIGN_UP_PATH.test(op.path) &&
    setsAPassword(ctx.spec, op)
  );
}

async function pool<T>(
  items: readonly T[],
  fn: (item: T) => Promise<void>,
  width = CONCURRENCY,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]);
    }),
  );
}

const BUDGET_REASON = 'budget of the injection probes used up';
const ADMIN_MAKES_REASON =
  'not sent as the admin: what it makes there could not be deleted (the document has no DELETE of it; safety rule)';
const ACCOUNT_REASON = 'not sent: it sets a password or changes an account (safety rule)';
const NO_ACCOUNT_REASON = `${ACCOUNT_REASON}, and the scan has no account of its own (a sign-up and a login) to probe it on`;
const NAMES_OTHERS_REASON = `${ACCOUNT_REASON}, and its request would name an account other than the scan's own`;

/** An account change's request on the scan's own account: its path and query values and its body. */
interface AccountPlan {
  readonly params: Readonly<Record<string, string>>;
  readonly body?: Readonly<Record<string, unknown>>;
  /** Optional query inputs that would name another account (`?userId=`): left out of every request, not probed. */
  readonly leaveOut?: readonly string[];
}

/**
 * The request that names V and no one else (its name, e-mail or checked id in the path, body and query; its
 * current password where one is asked, and as the new one), or undefined: another account named, an id of V's
 * not checked, or a PUT/PATCH to a path that is not V's.
 */
function accountPlan(ctx: ScanContext, op: Operation, v: Throwaway): AccountPlan | undefined {
  const param = accountParam(op.path);
  let value: string | undefined;
  if (param !== undefined) {
    value = MAIL_FIELD.test(param) ? v.email : /name|login/i.test(param) ? v.name : [...v.checked][0];
    if (value === undefined) return undefined;
  }
  const req = passwordRequest(ctx, op, v, v.password, {
    old: v.password,
    ...(param !== undefined && value !== undefined ? { param, value } : {}),
  });
  if (!namesOnly(op, req, v, param)) return undefined;
  claimAccountPath(ctx, op, req, v, param, value);
  const bare = req.path.split('?')[0];
  if (
    (op.method === 'PUT' || op.method === 'PATCH') &&
    !ctx.allowDestructive &&
    !ctx.objects.isScanCreated(bare)
  )
    return undefined;
  const params: Record<string, string> = {};
  for (const { name, value: x } of pathValues(op.path, req.path)) params[name] = x;
  for (const [k, x] of new URLSearchParams(req.path.split('?')[1] ?? '')) params[k] = x;
  const body =
    req.body !== null && typeof req.body === 'object' && !Array.isArray(req.body)
      ? (req.body as Record<string, unknown>)
      : undefined;
  return { params, ...(body ? { body } : {}) };
}

/** Body members that name an object or a person other than by display (`user_id`, `owner`, `accountId`). */
const NAMES_ONE = /(^|_)(id|uuid|ids)$|[a-z](Id|Uuid)$|^(user|account|member|customer|target|owner)$/i;

/**
 * A write to the sender's own profile (`POST /profile`, `PATCH /me {display_name, bio}`), sent as an account of the
 * scan's own: its session names the record, and its body names no one (no id, no user or account member).
 * Undefined otherwise. A PUT or PATCH there goes with `ownProfile` (the runner lets an account the scan registered
 * write its own profile path).
 */
function profilePlan(ctx: ScanContext, op: Operation): AccountPlan | undefined {
  if (ownRecordWrite(ctx, op) !== 'profile') return undefined;
  const fields = Object.keys(propertiesOf(ctx.spec, jsonBodySchema(op) ?? formSchema(op)));
  if (fields.some((k) => NAMES_ONE.test(k))) return undefined;
  // An optional query input that names an account (`PATCH /me?userId=`, "admins may update another user's
  // profile") is left out, and its own probes are not sent (review R1-11: without the scan's own account, the
  // probes went to alice's profile). Only one the planner would send (required, or with an example) rules it out.
  const naming = op.parameters.filter((p) => p.in === 'query' && NAMES_ONE.test(p.name));
  if (naming.some((p) => p.required || p.raw.example !== undefined || p.raw.examples !== undefined))
    return undefined;
  return { params: {}, ...(naming.length > 0 ? { leaveOut: naming.map((p) => p.name) } : {}) };
}

/**
 * The plan of a PUT or PATCH of an account item route (`PUT /members/{member_id} {nickname}`) on V's own record: a
 * checked id of V's whose read at the same route (the documented GET) shows V's name, and a body and query that name
 * no one (no id, user or account member, as profilePlan asks). The path is then recorded as the scan's own, so the
 * runner lets V's writes through there and no one else's (claimAccountPath records ids under a users collection
 * only; here the record itself was read back). Its probes are the safe ones (Job.safe), as any account change's.
 * Undefined otherwise.
 */
async function ownItemPlan(ctx: ScanContext, op: Operation, v: Throwaway): Promise<AccountPlan | undefined> {
  if ((op.method !== 'PUT' && op.method !== 'PATCH') || ownRecordWrite(ctx, op) !== 'account')
    return undefined;
  const param = accountParam(op.path);
  if (param === undefined || /name|login|mail/i.test(param)) return undefined;
  if (
    op.parameters.some(
      (p) => (p.in === 'path' && p.name !== param) || (p.in === 'query' && NAMES_ONE.test(p.name)),
    )
  )
    return undefined;
  const fields = Object.keys(propertiesOf(ctx.spec, jsonBodySchema(op) ?? formSchema(op)));
  if (fields.some((k) => NAMES_ONE.test(k) || PASSWORD.test(k))) return undefined;
  const read = ctx.spec.operations.find((o) => o.method === 'GET' && !isExcluded(o) && o.path === op.path);
  if (read === undefined) return undefined;
  const shows = (res: ScanResponse | undefined) =>
    isSuccess(res) && !refusedIn200(res) && res.text.includes(v.name);
  for (const id of [...v.checked].slice(0, 2)) {
    const req = planRequest(ctx.spec, read, ctx.objects, { params: { [param]: id } });
    const res = await ctx.send(req, v.identity);
    // The admin's route (`/admin/members/{member_id}`, refused to V): the admin's read of it shows V's own name.
    const refused = res !== undefined && (res.status === 401 || res.status === 403);
    if (!shows(res) && !(refused && ctx.admin && shows(await ctx.send(req, ctx.admin)))) continue;
    const bare = req.path.split('?')[0];
    if (!ctx.objects.isScanCreated(bare))
      ctx.objects.add({
        collection: bare.slice(0, bare.lastIndexOf('/')),
        path: bare,
        id,
        owner: v.name,
        body: null,
        createdBy: op,
      });
    return { params: { [param]: id } };
  }
  return undefined;
}

/**
 * Ids the sign-up's answer gave the scan's own account under any id-like member (`member_id`, `customerId`, `uuid`),
 * beside those the account already knows (`id`, `user_id`...): candidates only, each read back as the account's own
 * by checkIds before a request names it.
 */
function registrationIds(ctx: ScanContext, v: Throwaway): string[] {
  const out = new Set<string>();
  const at = v.signup.path.replace(/\/$/, '');
  for (let i = ctx.observations.length - 1; i >= 0 && out.size < 3; i--) {
    const o = ctx.observations[i];
    if (o.request.method !== 'POST') continue;
    if (o.operation !== v.signup && o.request.path.split('?')[0].replace(/\/$/, '') !== at) continue;
    const rec = recordWith(o.response.json, v.name) ?? recordWith(o.response.json, v.email);
    for (const [k, x] of Object.entries(rec ?? {}))
      if (ID_MEMBER.test(k) && (typeof x === 'string' || typeof x === 'number') && String(x) !== '')
        out.add(String(x));
  }
  return [...out];
}

/**
 * The scan's own account for the account changes (registered only when the document has one) and each change's
 * plan on it; the points that have none, with why.
 */
async function accountPlans(
  ctx: ScanContext,
  points: readonly InjectionPoint[],
): Promise<{ v?: Throwaway; plans: Map<string, AccountPlan>; withheld: PointOutcome[] }> {
  const plans = new Map<string, AccountPlan>();
  if (points.length === 0) return { plans, withheld: [] };
  const v = await registerThrowaway(ctx, findLoginTarget(ctx), 'pci');
  if (v) {
    const ops = [...new Set(points.map((p) => p.op))];
    // An id in a path is V's only once read back as V's (a token's `account_id` may be a tenant every user shares).
    if (
      ops.some(
        (op) => accountParam(op.path) !== undefined && !/name|login|mail/i.test(accountParam(op.path)!),
      )
    )
      await checkIds(ctx, { ...v, ids: [...new Set([...v.ids, ...registrationIds(ctx, v)])] });
    for (const op of ops) {
      let plan = accountPlan(ctx, op, v) ?? profilePlan(ctx, op);
      // A PUT or PATCH of an account item route (`/members/{member_id}`) whose body names no one: V's own record
      // once read there as V (see ownItemPlan).
      if (plan === undefined) plan = await ownItemPlan(ctx, op, v);
      if (plan) plans.set(op.id, plan);
    }
  }
  const withheld = points
    .filter((point) => !plans.has(point.op.id))
    .map(
      (point): PointOutcome => ({
        point,
        status: 'skipped',
        reason: v ? NAMES_OTHERS_REASON : NO_ACCOUNT_REASON,
      }),
    );
  return { ...(v ? { v } : {}), plans, withheld };
}

/**
 * A write to the sender's own record: a PUT, PATCH or POST at an own-profile path (ownProfileWritePath), or at an
 * account item route (`/users/{id}`, which only an account of the scan's own may fill). Its probes would store
 * their payloads on whoever sends them.
 */
function ownRecordWrite(ctx: ScanContext, op: Operation): 'profile' | 'account' | undefined {
  if (op.method !== 'PUT' && op.method !== 'PATCH' && op.method !== 'POST') return undefined;
  // A POST to a part of the caller's own record (`/me/avatar`, `/account/bio`) stores its payloads there too.
  if (ownRecordPostWrite(ctx.spec, op)) return 'profile';
  if (!op.path.includes('{')) return ownProfileWritePath(op.path) ? 'profile' : undefined;
  const param = accountParam(op.path);
  return param !== undefined && op.path.replace(/\/$/, '').endsWith(`{${param}}`) ? 'account' : undefined;
}

const SIGN_IN_FIELD_REASON =
  "not sent: a field a given identity signs in with or its account's own detail (e-mail, name, phone, role, password) on its own record; probed only on an account of the scan's own (safety rule)";
/** Names of an account's own details and of what signs it in (`email`, `new_email`, `userName`, `phone_number`, `role`). */
const ACCOUNT_DETAIL =
  /e-?mail|user_?name|login|handle|phone|mobile|pass(word)?|passwd|pwd|role|is_?admin|^admin$/i;

/**
 * Whether a body or query input of a write to `mine.as`'s own profile is a field that identity signs in with or an
 * account detail: by its name, by the name of a field of the identity's login, or by holding the identity's own
 * login value (`{name, contact: "alice@clinic.test"}` where alice signs in with that e-mail).
 */
function signInField(mine: OwnProfile, point: InjectionPoint): boolean {
  if (point.in !== 'json' && point.in !== 'form' && point.in !== 'query') return false;
  const leaf = point.name.split('.').pop() ?? point.name;
  if (ACCOUNT_DETAIL.test(leaf)) return true;
  const loose = (k: string) => k.toLowerCase().replace(/[_-]/g, '');
  const login = Object.entries(mine.as.login?.body ?? {});
  if (login.some(([k]) => loose(k) === loose(leaf))) return true;
  const held = mine.before[leaf] ?? mine.base[leaf];
  return (
    typeof held === 'string' &&
    held.length > 0 &&
    login.some(([, v]) => typeof v === 'string' && v.toLowerCase() === held.toLowerCase())
  );
}

/** A given identity's own profile the probes of a write go to: read before the first probe, set back after. */
interface OwnProfile {
  readonly as: Identity;
  /** The documented read of the record (`GET /me`; for `POST /profile/update`, `GET /profile`). */
  readonly read: PlannedRequest;
  /** The record before any probe. */
  readonly before: Readonly<Record<string, unknown>>;
  /** The body every probe starts from: the record's own values of the fields the write declares. */
  readonly base: Readonly<Record<string, unknown>>;
  /** The fields the write declares: what its probes may have stored. */
  readonly fields: readonly string[];
}

/** The record a read shows, when it shows one (an object with two members or more). */
function recordOf(res: ScanResponse | undefined): Record<string, unknown> | undefined {
  if (!isSuccess(res) || refusedIn200(res!)) return undefined;
  const v = res!.json;
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return Object.keys(v).length >= 2 ? (v as Record<string, unknown>) : undefined;
}

/**
 * Reads `as`'s own profile before any probe of the write `op` (an own-profile path): the documented GET at the same
 * path (for `/profile/update`, at `/profile` too). Undefined when none shows a record: the probes are then not
 * sent, as nothing they stored could be set back.
 */
async function readOwnProfile(
  ctx: ScanContext,
  op: Operation,
  as: Identity,
): Promise<OwnProfile | undefined> {
  const bare = op.path.replace(/\/$/, '');
  const paths = [bare, ...(UPDATE_VERB.test(bare) ? [bare.replace(UPDATE_VERB, '')] : [])];
  const reads = paths.flatMap((p) =>
    ctx.spec.operations.filter(
      (o) => o.method === 'GET' && !isExcluded(o) && o.path.replace(/\/$/, '') === p,
    ),
  );
  const declared = Object.keys(propertiesOf(ctx.spec, jsonBodySchema(op) ?? formSchema(op)));
  for (const o of reads.slice(0, 2)) {
    const read = planRequest(ctx.spec, o, ctx.objects, { owner: as.name });
    if (read.invented.length > 0) continue;
    const before = recordOf(await ctx.send(read, as));
    if (!before) continue;
    const base: Record<string, unknown> = {};
    for (const k of declared) {
      const v = before[k];
      if (k in before && v !== null && typeof v !== 'object' && !PASSWORD.test(k)) base[k] = v;
    }
    return { as, read, before, base, fields: declared };
  }
  return undefined;
}

/** The same value, as JSON or as text. */
function sameValue(a: unknown, b: unknown): boolean {
  if (JSON.stringify(a) === JSON.stringify(b)) return true;
  return (
    a !== null && b !== null && typeof a !== 'object' && typeof b !== 'object' && String(a) === String(b)
  );
}

/**
 * After the probes: the fields of the profile the write declares that its read showed before and shows otherwise
 * now are written back as they were (a PUT with every field the record held), as the same identity, and read again.
 * A field that stays changed is noted on the operation and in the report's notes, by name. Never counted against
 * the probes' budget.
 */
async function setBackProfile(ctx: ScanContext, op: Operation, p: OwnProfile): Promise<void> {
  const after = recordOf(await ctx.send(p.read, p.as));
  const changed = p.fields.filter((k) => k in p.before && !sameValue(after?.[k], p.before[k]));
  if (changed.length === 0 && after !== undefined) return;
  let kept = after === undefined ? [...p.fields.filter((k) => k in p.before)] : changed;
  if (changed.length > 0) {
    const body =
      op.method === 'PUT' ? { ...p.base } : Object.fromEntries(changed.map((k) => [k, p.before[k]]));
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: p.as.name, body });
    const res = await ctx.send(req, p.as, { restore: true });
    const again = isSuccess(res) ? recordOf(await ctx.send(p.read, p.as)) : undefined;
    kept = changed.filter((k) => again === undefined || !sameValue(again[k], p.before[k]));
  }
  if (kept.length === 0) return;
  // The value it had, short (a secret-looking field's value never goes into the report).
  const was = (k: string) =>
    PASSWORD.test(k)
      ? 'its former value'
      : `'${String(JSON.stringify(p.before[k])).replace(/^"|"$/g, '').slice(0, 80)}'`;
  const what = kept.map((k) => `${k} was ${was(k)}`).join(', ');
  ctx.note?.({
    operation: op,
    reason: `${p.as.name}'s own profile could not be set back after the injection probes: ${what}`,
  });
  // Loud: a given identity's record may hold the probes' payloads from now on.
  ctx.warn?.(
    `${kept.map((k) => `${p.as.name}'s ${k} could not be set back to ${was(k)}`).join('; ')} after the injection probes of ${op.method} ${op.path}: reset it on the target by hand`,
  );
}

/** Session headers that are no credential of an identity's own. */
const NOT_CREDENTIAL = /^(cookie|content-type|accept|accept-language|user-agent|host|origin|referer)$/i;
/** A header that carries a key or token by its name (`X-API-Key`, `X-Auth-Token`, `Api-Key`, `X-Session`). */
const CREDENTIAL_HEADER = /key|token|auth|session|secret|credential|jwt|apikey/i;

/** A cookie that carries a session or a token by its name (`sid`, `session_id`, `auth_token`, `PHPSESSID`). */
const CREDENTIAL_COOKIE = /sess|sid$|^sid|token|auth|jwt|key/i;

/**
 * Where an identity's credential goes: a header, and the scheme word before its value (`Bearer`, or none); or a
 * cookie of its jar (`header` is then `cookie`).
 */
interface CredentialSlot {
  readonly header: string;
  readonly scheme: string;
  readonly cookie?: string;
  /** HTTP Basic: the probes go in the user name, beside a password of the scan's own, base64-encoded. */
  readonly basic?: true;
}

/**
 * The headers that carry `as`'s credential: `Authorization` with a scheme other than Basic (its value alone is the
 * token: `Bearer <t>`, `Token <t>`), and headers named like a key or token; and the cookies of its jar named like a
 * session or a token (a session id the API looks up in its own table).
 */
export function credentialSlots(as: Identity): CredentialSlot[] {
  const out: CredentialSlot[] = [];
  for (const [name, value] of as.session.cookies)
    if (CREDENTIAL_COOKIE.test(name) && value !== '')
      out.push({ header: 'cookie', scheme: '', cookie: name });
  for (const [name, value] of Object.entries(as.session.headers)) {
    if (NOT_CREDENTIAL.test(name) || typeof value !== 'string' || value === '') continue;
    if (name.toLowerCase() === 'authorization') {
      const m = /^(\S+) +\S/.exec(value);
      if (m && /^basic$/i.test(m[1])) out.push({ header: name, scheme: m[1], basic: true });
      else if (m) out.push({ header: name, scheme: m[1] });
      else if (!m) out.push({ header: name, scheme: '' });
    } else if (CREDENTIAL_HEADER.test(name)) out.push({ header: name, scheme: '' });
  }
  return out;
}

/** A read for the credential probes: a GET that only reads, with no path value the planner had to make up. */
function credentialReads(ctx: ScanContext, as: Identity): { op: Operation; req: PlannedRequest }[] {
  const out: { op: Operation; req: PlannedRequest; rank: number }[] = [];
  for (const op of ctx.spec.operations) {
    if (op.method !== 'GET' || isExcluded(op) || !readsOnly(op) || AUTH_PATH.test(op.path)) continue;
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: as.name });
    if (req.invented.length > 0) continue;
    const rank = (op.path.match(/\{/g)?.length ?? 0) * 10 + op.parameters.filter((p) => p.required).length;
    out.push({ op, req, rank });
  }
  return out.sort((a, b) => a.rank - b.rank).slice(0, 4);
}

/**
 * The credential itself as an input: an API that looks its bearer token or API key up with string-built SQL
 * (`SELECT ... FROM sessions WHERE token = '<header>'`). On a read the first identity reaches with its credential and
 * a made-up one does not (the refusal, the baseline), the header is sent with made-up values of the scan's own,
 * never the identity's (a finding's curl line shows what was sent), anonymously otherwise:
 * - error-based: `<made-up>'` raises a database error that `<made-up>''` and the made-up value do not;
 * - boolean-based: `<made-up>' OR '1'='1` and `<made-up>' OR 'b'='b` are let in (2xx) while `<made-up>' OR '1'='2`
 *   is refused like the made-up value (a read: the tautology reads as whichever account the lookup finds first);
 * - time-based: a sleep run once inside the lookup (`OR 1=(SELECT 0 FROM PG_SLEEP(t))`, MySQL's `(SELECT 0 FROM
 *   (SELECT SLEEP(t))a)`, both ORed to a lookup that matches nothing), slower twice than the refusal, its sleep of 0
 *   (the control) in between not;
 * - the quote differential: `<made-up>'` answers 5xx twice while `<made-up>''` is refused like the made-up value and
 *   a lone double quote does not break it (medium).
 * One credential header per name (the first identity's, else the admin's or B's), one read each.
 */
async function credentialProbes(ctx: ScanContext): Promise<boolean> {
  const ids = [
    ...ctx.identities.slice(0, 1),
    ...(ctx.admin ? [ctx.admin] : []),
    ...ctx.identities.slice(1, 2),
  ];
  const done = new Set<string>();
  let found = false;
  for (const as of ids) {
    for (const slot of credentialSlots(as)) {
      const key = slot.cookie ? `cookie:${slot.cookie}` : slot.header.toLowerCase();
      if (done.has(key) || ctx.signal.aborted) continue;
      done.add(key);
      if (await probeCredential(ctx, as, slot)) found = true;
    }
  }
  return found;
}

async function probeCredential(ctx: ScanContext, as: Identity, slot: CredentialSlot): Promise<boolean> {
  const made = `pct${randomBytes(6).toString('hex')}`;
  const what = slot.cookie
    ? `the ${slot.cookie} cookie`
    : slot.basic
      ? `the user name of HTTP Basic credentials in the ${slot.header} header`
      : `${slot.scheme ? `the ${slot.scheme} token in the` : 'the key in the'} ${slot.header} header`;
  // A Basic user name goes with a password of the scan's own: the user names nobody, so no probe is a failed login
  // for a given identity.
  const secret = `pcpw${randomBytes(6).toString('hex')}`;
  const sentValue = (v: unknown) =>
    slot.basic ? Buffer.from(`${String(v)}:${secret}`, 'utf8').toString('base64') : String(v);
  const where = slot.cookie ?? slot.header;
  for (const { op, req } of credentialReads(ctx, as)) {
    const mine = await ctx.send(req, as);
    if (!isSuccess(mine)) continue;
    const p: Prober = {
      point: { op, in: slot.cookie ? 'cookie' : 'header', name: where, value: made, likely: true },
      as: null,
      send: (value) =>
        ctx.send(
          {
            ...req,
            headers: {
              ...req.headers,
              ...(slot.cookie
                ? { cookie: `${slot.cookie}=${encodeURIComponent(String(value))}` }
                : { [slot.header]: slot.scheme ? `${slot.scheme} ${sentValue(value)}` : sentValue(value) }),
            },
          },
          null,
        ),
    };
    const refusal = await p.send(made);
    // A read that answers a made-up credential (an open one) tells nothing about the lookup.
    if (refusal === undefined || (isSuccess(refusal) as boolean)) continue;
    const report = (
      how: string,
      res: ScanResponse,
      payload: string,
      extra: object = {},
      severity?: Severity,
    ) => {
      ctx.report(SCAN_RULES.sqlInjection, {
        operation: op,
        ...(severity !== undefined ? { severity } : {}),
        key: `credential:${slot.cookie ? `cookie:${slot.cookie}` : slot.header.toLowerCase()}`,
        message: `${op.method} ${op.path}: ${what} is injectable (${how}): the API pastes it into the SQL that looks the credential up.`,
        evidence: evidenceOf(res, {
          location: slot.cookie ? 'cookie' : 'header',
          parameter: where,
          payload,
          refusalStatus: refusal.status,
          ...extra,
        }),
      });
      return true;
    };
    const q = await p.send(`${made}'`);
    const qq = await p.send(`${made}''`);
    if (q === undefined || qq === undefined) return false;
    if (SQL_ERROR.test(q.text) && !SQL_ERROR.test(qq.text) && !SQL_ERROR.test(refusal.text))
      return report('a quote raised a database error, two quotes did not', q, `${made}'`);
    const none = `zq${randomBytes(4).toString('hex')}`;
    // HTTP Basic is a login: one comment-terminated tautology, only where the quote pair showed a parser, its
    // contradiction first (a tautology that selects an account whose password is then checked is one failed login).
    if (slot.basic && normalised(q, [`${made}'`]) !== normalised(qq, [`${made}''`])) {
      const f1 = `${none}' OR '1'='2'-- -`;
      const rf = await p.send(f1);
      const t1 = `${none}' OR '1'='1'-- -`;
      const rt1 =
        rf && rf.status === refusal.status && !(isSuccess(rf) as boolean) ? await p.send(t1) : undefined;
      if (isSuccess(rt1))
        return report(
          `login bypass: ${t1} as the user name with a password nobody has was let in, ${f1} and a made-up user were refused`,
          rt1,
          t1,
          { contradictionStatus: rf!.status },
        );
    }
    for (const end of slot.basic ? [] : ['', "'-- -"]) {
      const t1 = end ? `${none}' OR '1'='1${end}` : `${none}' OR '1'='1`;
      const t2 = end ? `${none}' OR 'b'='b${end}` : `${none}' OR 'b'='b`;
      const f1 = end ? `${none}' OR '1'='2${end}` : `${none}' OR '1'='2`;
      const rt1 = await p.send(t1);
      if (!isSuccess(rt1)) continue;
      const rf = await p.send(f1);
      const rt2 =
        rf && rf.status === refusal.status && !(isSuccess(rf) as boolean) ? await p.send(t2) : undefined;
      if (isSuccess(rt2))
        return report(
          'boolean-based: two tautologies in place of the credential were let in, a contradiction was refused like a made-up credential',
          rt1,
          t1,
          { contradictionStatus: rf!.status },
        );
    }
    // Time-based: the lookup's sleep runs once, ORed to a condition that matches no row.
    if (refusal.durationMs <= SLOW_BASELINE_MS) {
      const again = await p.send(made);
      const baselineMs = Math.max(refusal.durationMs, again?.durationMs ?? 0);
      const s = String(ctx.timeDelayMs / 1000);
      const zero = onceSleeps(made, '0');
      for (const [i, payload] of onceSleeps(made, s).entries()) {
        const res = await delayed(p, payload, zero[i], baselineMs, ctx.timeDelayMs);
        if (res)
          return report(
            'time-based: a database sleep in place of the credential delayed the refusal twice, a sleep of 0 did not',
            res,
            payload,
            { baselineMs: Math.round(baselineMs), ms: Math.round(res.durationMs) },
          );
      }
    }
    // The quote differential on its own (a hidden error page): medium. Only where a made-up credential is refused
    // below 5xx: a verifier that crashes on any malformed token (a made-up one too) tells nothing.
    if (
      q.status >= 500 &&
      refusal.status < 500 &&
      qq.status === refusal.status &&
      alikeAnswers(qq, `${made}''`, refusal, made)
    ) {
      const dq = await p.send(`${made}"`);
      const q2 = dq && dq.status < 500 ? await p.send(`${made}'`) : undefined;
      if (q2 && q2.status >= 500)
        return report(
          `likely: a quote broke the credential's lookup twice (5xx) while two quotes and a made-up credential were refused alike (${refusal.status}); no database error text or bypass`,
          q2,
          `${made}'`,
          { quoteStatus: q2.status, doubledQuoteStatus: qq.status, confidence: 'medium' },
          'medium',
        );
    }
    return false;
  }
  return false;
}

const NO_PROFILE_READ =
  "not sent: a write to the identity's own profile that no documented read shows (what its probes stored could not be set back)";

/**
 * Runs the injection probes over every input; returns what was tested and skipped, for the coverage. An operation
 * with an input that got fewer than its first round, or only that, is noted as not fully tested (`incomplete`):
 * the coverage shows it skipped with why, whatever else the check sent there.
 */
export async function injection(ctx: ScanContext, budgetMs = BUDGET_MS): Promise<PointOutcome[]> {
  // DELETEs are probed on made-up values only, and only those that name what they delete by a path value the scan
  // can make up: one named by the session or the query alone (`DELETE /me?reason=`) would delete it.
  const madeUp = new Map<string, Record<string, string>>();
  const erasing = deletePoints(ctx, madeUp);
  const namesByPath = (op: Operation) =>
    op.parameters.some((p) => p.in === 'path' && listedValue(ctx.spec, p.schema) === undefined);
  const unerasable = erasing.filter((point) => !namesByPath(point.op));
  const all = [...injectionPoints(ctx), ...erasing.filter((point) => namesByPath(point.op))];
  // Logins go out with a user nobody has (loginPlan), never a given identity's name; one without a user input found
  // is not probed.
  const documented = new Set(documentedLogins(ctx).flatMap((t) => (t.op ? [t.op] : [])));
  const logins = new Map<string, LoginPlan>();
  const unplanned = new Set<string>();
  for (const op of new Set(all.map((point) => point.op))) {
    if (!loginOperation(ctx, op, documented)) continue;
    const plan = loginPlan(ctx, op);
    if (plan) logins.set(op.id, plan);
    else unplanned.add(op.id);
  }
  // Writes to the sender's own record (`PATCH /me`, `POST /profile`, `PUT /users/{id}`): their probes store their
  // payloads on whoever sends them. With a sign-up, on an account of the scan's own (as account changes are).
  const ownWrite = (op: Operation) =>
    !unplanned.has(op.id) &&
    !logins.has(op.id) &&
    !signUp(ctx, op) &&
    !changesAnAccount(ctx, op, logins) &&
    ownRecordWrite(ctx, op) !== undefined;
  const withSignup = documentedSignup(ctx) !== undefined;
  // Account changes go to an account of the scan's own, or nowhere.
  const accounts = await accountPlans(
    ctx,
    all.filter((point) => changesAnAccount(ctx, point.op, logins) || (withSignup && ownWrite(point.op))),
  );
  const { plans, v: own } = accounts;
  const leftOut = (point: InjectionPoint) =>
    point.in === 'query' && plans.get(point.op.id)?.leaveOut?.includes(point.name) === true;
  // Else, an own-profile write goes to the first identity's own profile, read before and set back after every
  // probe; one that no documented read shows is not sent. An account item route stays the write guard's.
  const profiles = new Map<string, OwnProfile>();
  const unreadable = new Set<string>();
  const first = ctx.identities[0];
  for (const op of new Set(all.map((point) => point.op))) {
    if (!ownWrite(op) || plans.has(op.id) || ownRecordWrite(ctx, op) !== 'profile') continue;
    const p = first ? await readOwnProfile(ctx, op, first) : undefined;
    if (p) profiles.set(op.id, p);
    else unreadable.add(op.id);
  }
  // Creations (`POST /notes`): their probes leave objects named by payloads in the data of whoever sends them. With
  // a sign-up they go as an account of the scan's own first; what a probe made, as that account, a given identity
  // or the admin, is deleted after each round (creationSweep).
  const mayMake = (op: Operation) =>
    op.method === 'POST' &&
    !signUp(ctx, op) &&
    !setsAPassword(ctx.spec, op) &&
    !logins.has(op.id) &&
    !unplanned.has(op.id) &&
    !plans.has(op.id) &&
    !profiles.has(op.id) &&
    !changesAnAccount(ctx, op, logins);
  const sweepable = (op: Operation) => isCreationOperation(ctx.spec, op) && mayMake(op);
  const creationOps = new Set(all.filter((point) => sweepable(point.op)).map((point) => point.op.id));
  // Any other POST may make an object too (`POST /feedback` with no item route, `POST /admin/coupons`): the
  // sweep counts those whose answer says so (a 201 or a Location), to delete or name them.
  const madeOps = new Set(all.filter((point) => mayMake(point.op)).map((point) => point.op.id));
  const maker =
    creationOps.size > 0 && withSignup
      ? (own ?? (await reuseThrowaway(ctx)) ?? (await registerThrowaway(ctx, findLoginTarget(ctx), 'pci')))
      : undefined;
  const sweep = creationSweep(ctx);
  // On a given identity's own profile, the fields it signs in with (its login e-mail or name, a password) and its
  // account's own details (e-mail, phone, role) are not probed: a probe stored there, even for a moment, locks it
  // out or mails a stranger. Only an account of the scan's own (plans) takes those.
  const signIn = all.filter((point) => {
    const mine = profiles.get(point.op.id);
    return mine !== undefined && signInField(mine, point);
  });
  const withheldAccounts = [
    ...signIn.map(
      (point): PointOutcome => ({
        point,
        status: 'skipped',
        reason: SIGN_IN_FIELD_REASON,
      }),
    ),
    ...unerasable.map(
      (point): PointOutcome => ({
        point,
        status: 'skipped',
        reason:
          'not sent: a DELETE with no path value to make up deletes what its session or query names (safety rule)',
      }),
    ),
    ...all.filter(leftOut).map(
      (point): PointOutcome => ({
        point,
        status: 'skipped',
        reason:
          "not sent: an optional query input that names an account, left out of the scan's own account's requests (its values would name another; safety rule)",
      }),
    ),
    ...accounts.withheld.filter(
      (o) => !ownWrite(o.point.op) || ownRecordWrite(ctx, o.point.op) === 'account',
    ),
    ...all
      .filter((point) => unreadable.has(point.op.id))
      .map((point): PointOutcome => ({ point, status: 'skipped', reason: NO_PROFILE_READ })),
    ...all
      .filter((point) => unplanned.has(point.op.id))
      .map(
        (point): PointOutcome => ({
          point,
          status: 'skipped',
          reason: 'not sent: a login whose user input was not found (its probes would name no made-up user)',
        }),
      ),
  ];
  const points = all
    .filter((point) => !unplanned.has(point.op.id) && !unreadable.has(point.op.id) && !signIn.includes(point))
    .filter((point) => !changesAnAccount(ctx, point.op, logins) || plans.has(point.op.id))
    .filter((point) => !leftOut(point))
    .map((point) =>
      signUp(ctx, point.op) && point.in !== 'path' && NAME_FIELD.test(point.name)
        ? { ...point, value: freshNames(ctx, point.op)[point.name] ?? point.value }
        : point,
    );
  const maxRequests = injectionLimits.maxRequests ?? requestBudget(points.length);
  let sent = 0;
  // Every request of the probes counts against the budget.
  const counted: ScanContext = Object.create(ctx, {
    send: {
      // The check's time running out mid-probe ends the probes, not the coverage notes below.
      value: async (...args: Parameters<ScanContext['send']>) => {
        sent++;
        try {
          return await ctx.send(...args);
        } catch (err) {
          if (ctx.signal.aborted) return undefined;
          throw err;
        }
      },
    },
  });
  // A prober; an account change's carries its plan (the scan's own account named in its path, query and body).
  // A write's path values pinned to a live object of the scan's own (see liveObject) go with every probe.
  const probe = (
    point: InjectionPoint,
    as: Identity | null,
    base?: Readonly<Record<string, unknown>>,
    pinned?: Readonly<Record<string, string>>,
  ) => {
    // A login: anonymously, from its made-up user and the scan's password, whatever identity asked.
    const lp = logins.get(point.op.id);
    if (lp) return makeProber(counted, point, null, lp.body, lp.params, lp.never);
    // A given identity's own profile: as that identity, from what its record holds (set back after the probes).
    const mine = profiles.get(point.op.id);
    if (mine) {
      // Told to the runner whatever the method: a POST of the own record (`POST /profile.php`) is held back too
      // unless the sender reads it first and sets it back, as these probes do.
      return makeProber(counted, point, mine.as, { ...mine.base, ...base }, undefined, [], {
        ownProfile: true,
      });
    }
    const plan = plans.get(point.op.id);
    // The scan's own account's PUT or PATCH of its own profile (profilePlan) is one the runner must be told of.
    const ownPut =
      plan && point.op.method !== 'POST' && ownRecordWrite(ctx, point.op) === 'profile'
        ? { ownProfile: true }
        : undefined;
    return plan
      ? makeProber(counted, point, as, { ...plan.body, ...base }, plan.params, [], ownPut)
      : makeProber(
          counted,
          point,
          as,
          base,
          pinned,
          [],
          undefined,
          // The scan's own account's too (review R2-S1): an account the clean-up cannot delete keeps what it made,
          // and a public creation (an article in everyone's feed) stays in view of every caller.
          as !== null && madeOps.has(point.op.id)
            ? sweep.seen(point.op, as, point.value, point.name)
            : undefined,
        );
  };
  const started = performance.now();
  // The check's share of the scan's time (the runner's `deadline`, where it gives one) bounds the budget too, less
  // what the sweep of the probes' objects needs before the check is stopped.
  const shareEnds = ctx.deadline;
  if (shareEnds !== undefined)
    budgetMs = Math.max(0, Math.min(budgetMs, shareEnds - started - SWEEP_RESERVE_MS));
  const deadline = started + budgetMs;
  const over = () => performance.now() > deadline || sent >= maxRequests || ctx.signal.aborted;
  // The first round may run past the time budget, by up to 8 s, to give every input 250 ms (five requests at
  // 20 per second): API8 gives the probes what is left of its 20 s, and its check times out at 30 s.
  const firstDeadline = Math.min(
    started + Math.max(budgetMs, Math.min(budgetMs + 8000, 250 * points.length)),
    shareEnds !== undefined ? shareEnds - SWEEP_RESERVE_MS : Number.POSITIVE_INFINITY,
  );
  const overFirst = () => performance.now() > firstDeadline || sent >= maxRequests || ctx.signal.aborted;
  const who: (Identity | null)[] = [
    ...ctx.identities.slice(0, 1),
    ...(ctx.admin ? [ctx.admin] : []),
    ...ctx.identities.slice(1, 2),
    null,
  ];
  // The identity that reaches an operation, found once per operation.
  interface Reach {
    readonly as: Identity | null;
    readonly baseline: ScanResponse;
    /** Path and query values of the identity's own planned request, when only those got the 2xx. */
    readonly planned?: Readonly<Record<string, string>>;
    /** The identity's own login fields, when the operation is its login (a sampled user never logs in). */
    readonly body?: Readonly<Record<string, unknown>>;
    /** The input whose plain request got the baseline: its own baseline, not sent again. */
    readonly by?: InjectionPoint;
    /** Path values of the live object of the scan's own a write's probes go to (see liveObject). */
    readonly pinned?: Readonly<Record<string, string>>;
  }
  const reach = new Map<string, Promise<Reach | undefined>>();
  // Operations not probed as the admin: what it would make there could not be deleted (creators, madeOne).
  const adminWithheld = new Set<string>();
  // Objects read back (by path), and fresh ones made (by collection), once each in this run.
  const alive = new Map<string, Promise<boolean>>();
  const made = new Map<string, Promise<LiveObject | undefined>>();
  const lives = new Map<string, Promise<LiveObject | undefined>>();
  const liveFor = (op: Operation) => {
    let found = lives.get(op.id);
    if (!found) {
      found =
        signUp(ctx, op) || op.method === 'DELETE'
          ? Promise.resolve(undefined)
          : liveObject(counted, op, who, alive, made, {
              ...(maker ? { maker: maker.identity } : {}),
              made: (o, as) =>
                as === maker?.identity ? undefined : sweep.seen(o, as, '', 'live object', true),
            });
      lives.set(op.id, found);
    }
    return found;
  };
  // A change to an object the scan did not create is never sent (the safety rule): no answer, but no hang either.
  const withheldFor = (op: Operation, as: Identity | null) =>
    !ctx.allowDestructive &&
    (op.method === 'PUT' || op.method === 'PATCH') &&
    !ctx.objects.isScanCreated(
      planRequest(ctx.spec, op, ctx.objects, as ? { owner: as.name } : {}).path.split('?')[0],
    );
  const reaching = (point: InjectionPoint) => {
    let found = reach.get(point.op.id);
    if (!found) {
      found = (async () => {
        // A DELETE: made-up values (they name nothing), as the first identity not refused outright; any answer
        // but 401/403 is the baseline (a 404 for the id nobody has).
        const fixed = madeUp.get(point.op.id);
        if (point.op.method === 'DELETE') {
          if (fixed === undefined) return undefined;
          for (const as of who) {
            const res = await probe(point, as, undefined, fixed).send(fixed[point.name] ?? point.value);
            if (res === undefined) return undefined;
            if (res.status === 401 || res.status === 403) continue;
            return { as, baseline: res, planned: fixed, pinned: fixed, by: point };
          }
          return undefined;
        }
        // An account change: as the scan's own account, with its own values, and no one else.
        const plan = plans.get(point.op.id);
        if (plan && own) {
          const mine = plan.params[point.name] ?? memberAt(plan.body, point.name);
          const value = typeof mine === 'string' ? mine : point.value;
          const res = await probe(point, own.identity).send(value);
          const refused = res?.status === 401 || res?.status === 403;
          if (isSuccess(res))
            return {
              as: own.identity,
              baseline: res,
              planned: plan.params,
              ...(plan.body ? { body: plan.body } : {}),
            };
          // The admin's change of an account (refused to the account itself): as the admin, naming the scan's own
          // account and no one else (the same plan), with the same safe probes.
          if (!refused || !ctx.admin) return undefined;
          const theirs = await probe(point, ctx.admin).send(value);
          if (!isSuccess(theirs)) return undefined;
          return {
            as: ctx.admin,
            baseline: theirs,
            planned: plan.params,
            ...(plan.body ? { body: plan.body } : {}),
          };
        }
        // A login: its plain request names a user nobody has, so its answer is a refusal; any answer but a 5xx is
        // the baseline the probes are compared with.
        const lp = logins.get(point.op.id);
        if (lp) {
          const mine = lp.params?.[point.name] ?? memberAt(lp.body, point.name);
          const res = await probe(point, null).send(typeof mine === 'string' ? mine : point.value);
          // A 5xx is a baseline too: a login that fails on any user nobody has (a crash on the missing row, a
          // database error on every wrong login) is compared three ways (see firstRound) and by its bypass.
          if (!res) return undefined;
          // A login that creates the account it is asked for (the clean-up cannot delete it): named in the notes.
          if (signsIn(lp.flow, res))
            noteLeftAccount(
              ctx,
              String(recordFields(lp.body)[lp.userField] ?? lp.params?.[lp.userField]),
              `${point.op.method} ${point.op.path} signed it in`,
            );
          return {
            as: null,
            baseline: res,
            ...(lp.params ? { planned: lp.params } : {}),
            ...(lp.body ? { body: lp.body } : {}),
          };
        }
        // A given identity's own profile: its own values, as that identity only.
        const mine = profiles.get(point.op.id);
        if (mine) {
          const held = mine.base[point.name];
          const res = await probe(point, mine.as).send(typeof held === 'string' ? held : point.value);
          return isSuccess(res) ? { as: mine.as, baseline: res, body: mine.base } : undefined;
        }
        // A write that names an object by its path: a live one of the scan's own, as its owner, first.
        const live = await liveFor(point.op);
        if (live) {
          const mine = point.in === 'path' ? live.params[point.name] : undefined;
          const res = await probe(point, live.as, undefined, live.params).send(mine ?? point.value);
          const ownerRefused = res?.status === 401 || res?.status === 403;
          if (isSuccess(res))
            return { as: live.as, baseline: res, planned: live.params, pinned: live.params, by: point };
          const fields = ownFields(ctx, point.op, live.as);
          if (fields && res !== undefined) {
            const named = fields[point.name];
            const again = await probe(point, live.as, fields, live.params).send(
              typeof named === 'string' ? named : (mine ?? point.value),
            );
            if (isSuccess(again))
              return {
                as: live.as,
                baseline: again,
                planned: live.params,
                pinned: live.params,
                body: fields,
              };
          }
          // Refused to its owner (`PATCH /repairs/{id}`, the workshop's): the admin's write, on the same object of
          // the scan's own (never one the API gave out).
          const admin = ctx.admin;
          if (admin && admin !== live.as && ownerRefused) {
            const theirs = await probe(point, admin, undefined, live.params).send(mine ?? point.value);
            if (isSuccess(theirs))
              return { as: admin, baseline: theirs, planned: live.params, pinned: live.params, by: point };
          }
        }
        // A creation nothing deletes: not as the admin (creators).
        const order = signUp(ctx, point.op)
          ? [null]
          : creators(ctx, point.op, maker && creationOps.has(point.op.id) ? [maker.identity, ...who] : who);
        if (ctx.admin && !signUp(ctx, point.op) && !undoable(ctx, point.op)) adminWithheld.add(point.op.id);
        for (const as of order) {
          const p = probe(point, as);
          const res = await p.send(point.value);
          // The admin's POST made something the document gives no way to delete (`POST /admin/coupons` answering
          // 201): that one is named in the report (the sweep), and no probe goes after it as the admin.
          if (
            as !== null &&
            as === ctx.admin &&
            res !== undefined &&
            madeOps.has(point.op.id) &&
            !creationOps.has(point.op.id) &&
            !deletable(ctx, point.op) &&
            madeOne(res)
          ) {
            adminWithheld.add(point.op.id);
            continue;
          }
          if (isSuccess(res)) return { as, baseline: res, by: point };
          // Not sent (the safety rule keeps changes to the scan's objects): another identity may own one.
          if (res === undefined && withheldFor(point.op, as)) continue;
          // No answer at all (a hang, a crash): another identity would wait as long for nothing.
          if (res === undefined) return undefined;
          // A sampled user name names nobody (`forgot-password` → 404): the identity's own does.
          const mine = ownFields(ctx, point.op, as);
          if (mine) {
            const named = mine[point.name];
            const again = await probe(point, as, mine).send(typeof named === 'string' ? named : point.value);
            if (isSuccess(again)) return { as, baseline: again, body: mine };
          }
          // The sampled value names nothing (`/accounts/{number}` → 404): the identity's own values do.
          const values = plannedValues(ctx, point.op, as);
          const pp = values?.[point.name] !== undefined ? probe(point, as) : undefined;
          const again = pp ? await pp.send(values![point.name]) : undefined;
          if (isSuccess(again)) return { as, baseline: again, planned: values };
          // A read whose sampled or planned value names no object of the caller's (`/account.php?id=1` refused):
          // the values the API gave this identity under that name (its own account 5001), a few, its own first.
          if (again === undefined && pp !== undefined) continue;
          for (const value of ownReadValues(ctx, point, as, values?.[point.name])) {
            const third = await probe(point, as).send(value);
            if (third === undefined) break;
            if (isSuccess(third))
              return { as, baseline: third, planned: { ...(values ?? {}), [point.name]: value } };
          }
        }
        return undefined;
      })();
      reach.set(point.op.id, found);
    }
    return found;
  };
  const jobs: Job[] = points.map((point) => ({
    point,
    tier: logins.has(point.op.id) || authOperation(ctx, point.op, who) ? 2 : 0,
    stage: 0,
    found: false,
    stopped: false,
    quoteMatters: false,
    traversals: 0,
    templates: 0,
    ...(plans.has(point.op.id) || profiles.has(point.op.id) ? { safe: true } : {}),
    ...(logins.has(point.op.id) ? { login: logins.get(point.op.id) } : {}),
    ...(point.op.method === 'DELETE' ? { erase: true } : {}),
  }));
  // Every operation's plain request first (one per operation, logins last): it tells which are slow.
  // Each operation is reached through its first likely input (a user name the identity's own fields replace
  // reaches `forgot-password` where an enum path value sampled as text does not).
  const firstOfOp = new Map<string, Job>();
  const likelyFirst = jobs
    .map((job, i) => ({ job, i }))
    .sort((a, b) => Number(b.job.point.likely) - Number(a.job.point.likely) || a.i - b.i);
  for (const { job } of likelyFirst) if (!firstOfOp.has(job.point.op.id)) firstOfOp.set(job.point.op.id, job);
  await pool(
    [...firstOfOp.values()].sort((a, b) => a.tier - b.tier),
    async (job) => {
      if (!overFirst()) await reaching(job.point);
    },
  );
  for (const job of jobs) {
    const r = reach.has(job.point.op.id) ? await reaching(job.point) : undefined;
    // An operation whose plain request got no answer stays in place: its first round ends at the first probe that
    // gets none, and a handler that hangs on a plain value may answer a command canary (`x;echo ...;`).
    if (r && r.baseline.durationMs > SLOW_BASELINE_MS) job.tier = Math.max(job.tier, 1);
  }
  // The credential itself (a bearer token or API key looked up with string-built SQL): a few requests, before the
  // rounds spend the budget.
  if (!overFirst()) await credentialProbes(counted);
  // Ordinary operations first, then slow ones, then logins; within each, by promise (inputPromise), every
  // operation's most promising input before any operation's second (a large document's budget reaches more
  // operations), likely sinks first, then the document.
  const promise = (point: InjectionPoint) =>
    inputPromise(point, creationOps.has(point.op.id) && maker === undefined);
  const rank = new Map<Job, number>();
  const byOperation = new Map<string, Job[]>();
  for (const job of jobs)
    byOperation.set(job.point.op.id, [...(byOperation.get(job.point.op.id) ?? []), job]);
  for (const list of byOperation.values()) {
    const ranked = list
      .map((job, i) => ({ job, i }))
      .sort((a, b) => promise(b.job.point) - promise(a.job.point) || a.i - b.i);
    for (const [k, { job }] of ranked.entries()) rank.set(job, k);
  }
  const order = jobs
    .map((job, i) => ({ job, i }))
    .sort(
      (a, b) =>
        a.job.tier - b.job.tier ||
        promise(b.job.point) - promise(a.job.point) ||
        rank.get(a.job)! - rank.get(b.job)! ||
        Number(b.job.point.likely) - Number(a.job.point.likely) ||
        a.i - b.i,
    )
    .map((x) => x.job);
  // A job whose probes create as a given identity stops once the clean-up has as many objects to take back as it
  // may (the sweep's bound): held, and said so in the coverage.
  const sweepKey = (job: Job) => `${job.point.op.id} ${job.point.name}`;
  const held = (job: Job): boolean => {
    const as = job.p?.as;
    if (
      !job.held &&
      creationOps.has(job.point.op.id) &&
      as !== undefined &&
      as !== null &&
      as !== maker?.identity &&
      sweep.full()
    )
      job.held = true;
    return job.held === true;
  };

  await pool(order, async (job) => {
    if (overFirst() || !reach.has(job.point.op.id)) return;
    const { point } = job;
    const r = await reaching(point);
    if (!r) {
      // The probes that prove themselves need no baseline: a failing command or template still runs. An account
      // change is still sent only as the scan's own account.
      const plan = plans.get(point.op.id);
      const live = plan ? undefined : await liveFor(point.op);
      const pinned = live?.params[point.name];
      const erased = job.erase ? madeUp.get(point.op.id) : undefined;
      const at =
        plan?.params[point.name] !== undefined
          ? { ...point, value: plan.params[point.name] }
          : point.in === 'path' && pinned !== undefined
            ? { ...point, value: pinned }
            : point;
      const codec = job.login ? undefined : codecOf(at.value);
      const plain = codec ? { ...at, value: codec.decoded } : at;
      const inner = live
        ? probe(plain, live.as, undefined, live.params)
        : erased
          ? probe(plain, who[0], undefined, erased)
          : probe(
              plain,
              plan && own
                ? own.identity
                : signUp(ctx, point.op)
                  ? null
                  : creationOps.has(point.op.id) && maker
                    ? maker.identity
                    : who[0],
            );
      job.p = codec ? encodedProber(inner, codec) : inner;
      // (A given identity's own profile: probe() sends as that identity, from its record's values.)
    } else {
      const own =
        (point.in === 'path' || point.in === 'query') && r.planned?.[point.name]
          ? r.planned[point.name]
          : typeof r.body?.[point.name] === 'string'
            ? (r.body[point.name] as string)
            : undefined;
      const at = own !== undefined ? { ...point, value: own } : point;
      // Base64 of a value (`MTI=`): the probes go in the text it holds, sent encoded the same way.
      const codec = job.login ? undefined : codecOf(at.value);
      const plain = codec ? { ...at, value: codec.decoded } : at;
      const inner = probe(plain, r.as, r.body, r.pinned);
      job.p = codec ? encodedProber(inner, codec) : inner;
      if (held(job)) return;
      if (point.in === 'path' && r.pinned?.[point.name] !== undefined) job.ownPath = true;
      // A fresh baseline for this input (the reaching one may have used another input's request); the input
      // that reached the operation with its own plain request has it already.
      job.baseline =
        r.by === point && own === undefined ? r.baseline : ((await job.p.send(plain.value)) ?? r.baseline);
    }
    if (held(job)) return;
    job.found = await firstRound(counted, job);
    job.stage = 1;
    await sweep.flush(sweepKey(job));
  });
  await sweep.flush();
  // Stored XSS through the creations (storedXss): as the scan's own account first; what it made as a given identity
  // or the admin is swept as the probes' objects are.
  if (!overFirst()) {
    const tried = await storedXss(
      counted,
      ctx.spec.operations.filter((op) => creationOps.has(op.id)),
      [...(maker ? [maker.identity] : []), ...who.filter((as): as is Identity => as !== null)],
      (op, as) => sweep.seen(op, as, ''),
      overFirst,
    );
    const updated = overFirst()
      ? 0
      : await storedXssUpdates(
          counted,
          who.filter((as): as is Identity => as !== null),
          overFirst,
        );
    if (tried + updated === 0)
      ctx.note?.({
        rule: SCAN_RULES.storedXss,
        reason: 'no creation with a free-text JSON member to store a script in',
      });
    await sweep.flush();
  } else ctx.note?.({ rule: SCAN_RULES.storedXss, reason: `not tested: ${BUDGET_REASON}` });
  await pool(order, async (job) => {
    if (over() || job.stage < 1 || job.found || job.stopped || held(job)) return;
    job.found = await secondRound(counted, job, over);
    if (!job.stopped && !job.cut) job.stage = 2;
    await sweep.flush(sweepKey(job));
  });
  await sweep.flush();
  // Time-based probes only once every input had its cheaper ones, and not where the plain request is itself
  // slow (a login hashing a password): there a delay costs most and proves least. One input at a time: a server
  // with one database connection makes every other request wait behind a sleep, which would pass for a delay of
  // its own.
  await pool(
    order,
    async (job) => {
      const { baseline } = job;
      if (over() || job.stage < 2 || job.found || held(job)) return;
      // A login's fields, when nothing else told (a login whose every failure answers alike): the sleeps that run
      // once and match nobody, whatever the field's name.
      if (job.login && baseline !== undefined && baseline.durationMs <= SLOW_BASELINE_MS) {
        job.found = await loginTimed(counted, job.p!, baseline);
        return;
      }
      if (!(job.point.likely || job.ownPath || job.shellish)) return;
      if (job.tier > 0) return;
      if (baseline === undefined || baseline.durationMs > SLOW_BASELINE_MS) return;
      // A DELETE of a made-up value gets the SQL sleeps too: what they end early names nothing.
      job.found = await probeTimed(
        counted,
        job.p!,
        baseline,
        job.safe || (!job.erase && !mayWiden(ctx, job.point.op)),
      );
    },
    1,
  );
  // Operator objects last (see probeObjects), within the same budget.
  await pool(order, async (job) => {
    const { baseline, point } = job;
    if (
      over() ||
      objectsKill.has(ctx) ||
      job.stage < 2 ||
      job.found ||
      baseline === undefined ||
      job.safe ||
      held(job)
    )
      return;
    if (job.erase || job.p?.codec) return;
    // `{"$ne": ...}` as an update's filter matches every document: reads and logins only. At a login, only in the
    // password: `{"$ne": ...}` as the user matches the first account, and a login that checks the password itself
    // counts a failed login against it.
    if (!mayWiden(ctx, point.op)) return;
    if (job.login && point.name.split('.').pop() !== job.login.passwordField) return;
    if (point.in !== 'json' && point.in !== 'query') return;
    job.found = await probeObjects(counted, job.p!, baseline);
  });
  // The time-based probes and the operator objects made theirs too; and a clean-up the budget cut short is said.
  await sweep.flush(undefined, true);
  sweep.report();

  // What the probes stored on a given identity's own profile is set back, whatever the budget left.
  for (const [id, p] of profiles) {
    const op = points.find((point) => point.op.id === id)?.op;
    if (op) await setBackProfile(ctx, op, p);
  }
  // (An own-profile write planned on the scan's own account is sent as that account, see profilePlan.)
  const withheld = (op: Operation) =>
    !profiles.has(op.id) && !plans.has(op.id) && who.every((as) => withheldFor(op, as));
  const WITHHELD = 'not sent: a change to an object the scan did not create (safety rule)';
  // A write whose objects only the admin makes, where nothing deletes one (createOwn): said so.
  const withheldWhy = (op: Operation) => {
    const named = namedObject(ctx, op);
    const creation =
      named &&
      ctx.spec.operations.find(
        (o) => isCreationOperation(ctx.spec, o) && creationCollection(ctx.spec, o) === named.collection,
      );
    return ctx.admin && creation && !undoable(ctx, creation)
      ? `${WITHHELD}; the admin makes none to probe it on where the document has no DELETE of it`
      : WITHHELD;
  };
  const outcomes: PointOutcome[] = jobs.map((job): PointOutcome => {
    const { point } = job;
    if (job.found) return { point, status: 'finding' };
    if (job.held) return { point, status: job.stage >= 1 ? 'partial' : 'skipped', reason: SWEEP_REASON };
    if (job.stopped)
      return {
        point,
        status: 'skipped',
        reason: withheld(point.op)
          ? withheldWhy(point.op)
          : 'no identity got a 2xx baseline and the target did not answer its probes',
      };
    if (job.stage === 2)
      return job.baseline
        ? { point, status: 'tested' }
        : {
            point,
            status: 'skipped',
            reason: adminWithheld.has(point.op.id)
              ? `no identity got a 2xx baseline; ${ADMIN_MAKES_REASON}`
              : 'no identity got a 2xx baseline',
          };
    if (job.stage === 1) return { point, status: 'partial', reason: `first round only: ${BUDGET_REASON}` };
    return { point, status: 'skipped', reason: `time ${BUDGET_REASON}` };
  });
  // The coverage: an operation with an input cut short is not "tested", whatever else the check sent there.
  const spent = `${sent} requests in ${((performance.now() - started) / 1000).toFixed(1)} s of ${maxRequests} and ${(budgetMs / 1000).toFixed(1)} s`;
  const byOp = new Map<Operation, Job[]>();
  for (const job of jobs) byOp.set(job.point.op, [...(byOp.get(job.point.op) ?? []), job]);
  for (const [op, list] of byOp) {
    if (list.some((j) => j.found) || (list.every((j) => j.stopped) && withheld(op))) continue;
    const cut = list.filter((j) => j.stopped || j.stage < 2);
    if (cut.length === 0) continue;
    const none = cut.every((j) => j.stage === 0);
    const what = cut
      .map(
        (j) =>
          `${j.point.name} ${j.stopped ? 'unanswered' : j.stage === 0 ? 'none' : 'first round only'}${j.held ? ' (held)' : ''}`,
      )
      .join(', ');
    const why = [
      ...(cut.some((j) => !j.stopped && !j.held) ? [`${BUDGET_REASON} (${spent})`] : []),
      ...(cut.some((j) => j.held) ? [`held: ${SWEEP_REASON}`] : []),
      ...(cut.every((j) => j.stopped) ? ['the target did not answer its probes'] : []),
    ].join('; ');
    ctx.note?.({
      operation: op,
      reason: `injection ${none ? 'not probed' : 'partly probed'}: ${what}; ${why}`,
      incomplete: true,
    });
  }
  // The probes may have changed its password or e-mail: no later check signs in as it.
  if (own) retireThrowaway(ctx, own);
  return [...outcomes, ...withheldAccounts];
}
