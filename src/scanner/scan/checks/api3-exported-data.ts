/**
 * API3, personal data in an export anyone can download: a CSV file (`GET /api/v1/export/csv`, `/reports/users.csv`)
 * answered to a caller without credentials, whose rows hold several people's e-mail addresses, phone numbers,
 * addresses, birth dates, identity or card numbers, or passwords. The JSON readings of API3 do not see it: the answer
 * is text. Passive, over the answers the scan already has (discovery and API8 call the documented reads anonymously).
 */
import type { Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, isSuccess, type ScanContext } from '../context.ts';
import { SCAN_RULES } from '../rules.ts';

/** Columns that hold a person's data (by their header's name). */
const PERSONAL_COLUMN =
  /e_?-?mail|phone|mobile|\btel\b|address|street|postcode|zip_?code|birth|\bdob\b|\bssn\b|social_?security|national_?id|passport|tax_?id|iban|card_?(number|no)|credit_?card|salary|password|passwd|pass_?hash/i;
/** Columns that hold a credential: the export is critical. */
const PASSWORD_COLUMN = /password|passwd|pass_?hash|secret|api_?key|token/i;
const EMAIL = /^[^\s@",;]{1,64}@[^\s@",;]{1,255}\.[a-z]{2,24}$/i;

/** Rows read of a CSV answer, and columns of a row. */
const MAX_ROWS = 500;
const MAX_COLUMNS = 60;

/**
 * The rows of a CSV text (comma or semicolon separated, the separator read from the first line; quoted cells with
 * doubled quotes), at most MAX_ROWS rows of MAX_COLUMNS cells. Linear in the text.
 */
export function csvRows(text: string): string[][] {
  const firstLine = text.slice(0, text.indexOf('\n') === -1 ? text.length : text.indexOf('\n'));
  const sep = (firstLine.match(/;/g)?.length ?? 0) > (firstLine.match(/,/g)?.length ?? 0) ? ';' : ',';
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length && rows.length < MAX_ROWS; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (c === '"') quoted = false;
      else cell += c;
    } else if (c === '"' && cell === '') quoted = true;
    else if (c === sep) {
      if (row.length < MAX_COLUMNS) row.push(cell);
      cell = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (row.length < MAX_COLUMNS) row.push(cell);
      if (row.some((x) => x.trim() !== '')) rows.push(row);
      row = [];
      cell = '';
    } else cell += c;
  }
  if (rows.length < MAX_ROWS && (cell !== '' || row.length > 0)) {
    if (row.length < MAX_COLUMNS) row.push(cell);
    if (row.some((x) => x.trim() !== '')) rows.push(row);
  }
  return rows;
}

/** Is this answer a CSV file: its media type says so, or its name (`Content-Disposition: ...; filename=x.csv`)? */
export function isCsv(res: ScanResponse): boolean {
  if (res.json !== undefined) return false;
  const type = String(res.headers['content-type'] ?? '').toLowerCase();
  const disposition = String(res.headers['content-disposition'] ?? '').toLowerCase();
  return (
    /\b(text|application)\/(csv|x-csv|comma-separated-values)\b/.test(type) || /\.csv\b/.test(disposition)
  );
}

/**
 * What a CSV export shows of people: the personal columns (by header) holding values in at least two rows, with
 * how many distinct values they hold, and the distinct e-mail addresses anywhere in it. `undefined` when it holds
 * fewer than two people's data.
 */
export function personalExport(
  rows: readonly (readonly string[])[],
): { columns: string[]; people: number; passwords: boolean } | undefined {
  if (rows.length < 3) return undefined; // a header and at least two rows
  const [header, ...data] = rows;
  const columns: string[] = [];
  let people = 0;
  header.forEach((name, i) => {
    if (!PERSONAL_COLUMN.test(name)) return;
    const values = new Set(
      data.map((r) => (r[i] ?? '').trim()).filter((v) => v !== '' && !/^(null|none|n\/a|-)$/i.test(v)),
    );
    if (values.size < 2) return;
    columns.push(name.trim());
    people = Math.max(people, values.size);
  });
  const emails = new Set<string>();
  for (const r of data)
    for (const cell of r) if (EMAIL.test(cell.trim())) emails.add(cell.trim().toLowerCase());
  if (emails.size >= 2 && columns.length === 0) columns.push('e-mail addresses');
  people = Math.max(people, emails.size);
  if (columns.length === 0 || people < 2) return undefined;
  return { columns, people, passwords: columns.some((c) => PASSWORD_COLUMN.test(c)) };
}

/**
 * Reports, once per operation, a CSV answer to an anonymous caller that holds at least two people's personal data
 * (high; critical with a password column). An answer to a given identity is left to the authorization checks: what
 * a member may export is the API's choice.
 */
export function exportedPersonalData(ctx: ScanContext): void {
  privilegedDirectory(ctx);
  const done = new Set<string>();
  for (const { operation: op, response: res, identity } of ctx.observations) {
    if (identity !== undefined || !op || done.has(op.id) || !isSuccess(res) || !isCsv(res)) continue;
    const found = personalExport(csvRows(res.text));
    if (!found) continue;
    done.add(op.id);
    report(ctx, op, res, found);
  }
}

function report(
  ctx: ScanContext,
  op: Operation,
  res: ScanResponse,
  found: NonNullable<ReturnType<typeof personalExport>>,
): void {
  ctx.report(SCAN_RULES.sensitiveData, {
    operation: op,
    key: 'anonymous-export',
    ...(found.passwords ? { severity: 'critical' as const } : {}),
    message: `${op.method} ${op.path} exports ${found.people} people's personal data (${found.columns.slice(0, 5).join(', ')}) as CSV to anyone, without credentials.`,
    evidence: evidenceOf(res, { columns: found.columns, people: found.people }),
  });
}

/** Members that name a person's account in a record. */
const ACCOUNT_MEMBER = /^(user_?name|login|e_?mail|email_?address|handle|nick(name)?)$/i;
/** Members that say what an account may do. */
const PRIVILEGE_MEMBER =
  /^(is_?)?(admin|administrator|superuser|super_?admin|staff|root|moderator)$|^(user_?)?roles?$|^permissions?$|^access_?level$|^group$/i;
const PRIVILEGED_VALUE =
  /^(admin|administrator|superuser|super_?admin|root|staff|moderator|owner|sysadmin)$/i;

/** The records of a list answer: the top array, or an array one member down (`{users: [...]}`); objects only. */
function listedRecords(json: unknown): Record<string, unknown>[] {
  const arrays = Array.isArray(json)
    ? [json]
    : json !== null && typeof json === 'object'
      ? Object.values(json as Record<string, unknown>).filter(Array.isArray)
      : [];
  const list = arrays.find((a) => a.length >= 2) ?? [];
  return list
    .slice(0, 100)
    .filter((r): r is Record<string, unknown> => r !== null && typeof r === 'object' && !Array.isArray(r));
}

/** Whether a privilege member's value grants something: `true`, `admin`, `['user', 'admin']`. */
function grants(value: unknown): boolean {
  if (value === true) return true;
  if (typeof value === 'string') return PRIVILEGED_VALUE.test(value.trim());
  if (Array.isArray(value))
    return value.some((v) => typeof v === 'string' && PRIVILEGED_VALUE.test(v.trim()));
  return false;
}

/**
 * What a list of accounts served to anyone shows of who may do what: at least two records naming an account (user
 * name, login, e-mail, handle) with a privilege member (`admin`, `is_admin`, `role`, `permissions`...), at least one
 * of them granting one. `undefined` otherwise (public author cards, a catalogue).
 */
export function privilegedAccounts(
  json: unknown,
): { accounts: number; privileged: number; members: string[] } | undefined {
  const records = listedRecords(json);
  let accounts = 0;
  let privileged = 0;
  const members = new Set<string>();
  for (const r of records) {
    const keys = Object.keys(r);
    if (!keys.some((k) => ACCOUNT_MEMBER.test(k) && typeof r[k] === 'string' && r[k] !== '')) continue;
    const flags = keys.filter((k) => PRIVILEGE_MEMBER.test(k));
    if (flags.length === 0) continue;
    accounts++;
    for (const k of flags) members.add(k);
    if (flags.some((k) => grants(r[k]))) privileged++;
  }
  if (accounts < 2 || privileged === 0) return undefined;
  return { accounts, privileged, members: [...members] };
}

/**
 * Reports, once per operation, a GET answered 2xx to a caller without credentials that lists accounts with who holds
 * a privilege (`GET /api/users` → `[{username, email, admin: true}, ...]`): a target list for an attacker, declared
 * in the schema or not (medium). An answer to a given identity is left to the authorization checks.
 */
export function privilegedDirectory(ctx: ScanContext): void {
  const done = new Set<string>();
  for (const { operation: op, response: res, identity, request } of ctx.observations) {
    if (identity !== undefined || !op || op.method !== 'GET' || done.has(op.id) || request.method !== 'GET')
      continue;
    if (!isSuccess(res) || res.json === undefined) continue;
    const found = privilegedAccounts(res.json);
    if (!found) continue;
    done.add(op.id);
    ctx.report(SCAN_RULES.sensitiveData, {
      operation: op,
      key: 'anonymous-privileges',
      severity: 'medium',
      message: `${op.method} ${op.path} lists ${found.accounts} accounts with who holds a privilege (${found.members.slice(0, 3).join(', ')}; ${found.privileged} privileged) to anyone, without credentials.`,
      evidence: evidenceOf(res, {
        accounts: found.accounts,
        privileged: found.privileged,
        members: found.members,
      }),
    });
  }
}
