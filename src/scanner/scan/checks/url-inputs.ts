/**
 * Where an operation takes a URL from the client: query parameters, JSON body fields (top level and one level
 * down, `source.url`) and form fields, in every method but DELETE. Each says whether a probe of it may leave the
 * URL on the sender's own account (`ownAccount`): such an input is probed only as an account the scan registered.
 */
import type { ApiDocument, Operation } from '../../../core/api-document.ts';
import { ownProfileWritePath, ownRecordPath } from '../discover.ts';
import {
  bodySchema,
  isAdminOperation,
  isCreationOperation,
  isExcluded,
  isLoginOperation,
  jsonBodySchema,
} from '../planner.ts';
import { propertiesOf, resolveSchema, schemaType } from '../schema.ts';
import { accountParam } from '../self.ts';

const URL_NAME =
  /(url|uri|link|href|callback|webhook|endpoint|redirect|redirect_?to|return_?to|next|feed|avatar|image_?src|src|source|target|dest(ination)?|proxy|fetch|remote|origin_?url|site|domain_?url)$/i;
const URL_FORMAT = new Set(['uri', 'url', 'iri', 'uri-reference', 'iri-reference']);

export interface UrlInput {
  readonly operation: Operation;
  readonly in: 'query' | 'body' | 'form';
  /** Parameter or member name; `a.b` for a member one level down. */
  readonly name: string;
  /**
   * A probe of it may store the URL on the sender's own account (accountWrite): `POST /v2/member/picture
   * {picture_link}`, `POST /users/{id}/avatar`, `POST /settings {homepage}`. Sent only as the scan's own account.
   */
  readonly ownAccount: boolean;
}

/** Path words that name the caller's account or a user's (`/v2/member/picture`, `/user/settings`, `/me`). */
const ACCOUNT_WORD =
  /^(me|my|mine|myself|self|whoami|current|currentuser|profile|myprofile|account|accounts|myaccount|user|users|member|members|settings|preferences|prefs|avatar|gravatar|portrait)$/;
/** URL fields an account keeps about itself (`avatar_url`, `profilePicture`, `homepage`, `website`). */
const PROFILE_FIELD = /avatar|gravatar|portrait|picture|photo|^pic|profile|homepage|home_?page|website|blog/i;
/** Path words that change what the caller holds: a GET with one of them may store its query (`/setAvatar.php`). */
const CHANGE_WORD = /^(update|set|change|edit|save|upload|modify|put)$/;

/**
 * Path words of a fetch done once (`/api/import-user`, `/members/preview-link`, `/feeds/sync`): the URL is a source
 * read, not a link kept on the caller's account, whatever account word stands beside the verb.
 */
const FETCH_WORD =
  /^(import|imports|fetch|sync|load|pull|crawl|scrape|ingest|preview|unfurl|proxy|download|mirror|resolve|ping)$/;

/** A sign-up's path words: it stores the URL on the new account it makes. */
const SIGNUP_WORD = /^(register|registration|signup|join|enrol|enroll)$/;

/**
 * The words of a path's literal segments (`/v2/setAvatar.php` → v2, set, avatar), as written: `/avatars` is a
 * collection of pictures, `/avatar` one account's.
 */
function pathWords(path: string): string[] {
  return path
    .split('?')[0]
    .split('/')
    .filter((s) => s !== '' && !s.includes('{'))
    .flatMap((s) =>
      s
        .replace(/\.[A-Za-z0-9]{1,6}$/, '')
        .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
        .toLowerCase()
        .split(/[^a-z0-9]+/),
    )
    .filter((w) => w !== '');
}

/**
 * The path is the caller's own record or under it (`/me/avatar`, `/profile`), names a user (`/users/{id}/avatar`)
 * or has a word of an account (`/v2/member/picture`, `/user/settings/webhook`): a write there may change an account.
 */
export function accountPath(path: string): boolean {
  return (
    ownRecordPath(path) ||
    ownProfileWritePath(path) ||
    accountParam(path) !== undefined ||
    pathWords(path).some((w) => ACCOUNT_WORD.test(w))
  );
}

/**
 * A request with a URL in `name` may store it on its sender's own account, or on the user its path names: a write
 * under the caller's record (`/me/avatar`, `/profile`), at a path naming a user (`/users/{id}/avatar`), at a path
 * with an account word (`/v2/member/picture`, `/user/settings/webhook`), or of a field an account keeps about itself
 * (`POST /update {avatar_url}`); a GET only when its path also says it changes something (`/setAvatar.php?url=`).
 * A creation of an object in a documented collection (`POST /products {image_url}`) stores it on the scan's own
 * object, and a sign-up on a new account: neither is.
 */
export function accountWrite(spec: ApiDocument, op: Operation, name: string): boolean {
  const words = pathWords(op.path);
  const leaf = name.split('.').at(-1) ?? name;
  const accountish = accountPath(op.path);
  if (words.some((w) => SIGNUP_WORD.test(w))) return false;
  // An admin function (`POST /admin/members/import {roster_url}`) works on others' records, not its sender's own,
  // unless it names the caller's record, a user by the path, or a field an account keeps about itself.
  if (
    isAdminOperation(op) &&
    !ownRecordPath(op.path) &&
    !ownProfileWritePath(op.path) &&
    accountParam(op.path) === undefined &&
    !PROFILE_FIELD.test(leaf)
  )
    return false;
  // A fetch done once (`POST /api/import-user {externalApiUrl}`) at a path that names no user by a parameter and is
  // not the caller's own record: the URL is read, not kept on the account.
  if (
    words.some((w) => FETCH_WORD.test(w)) &&
    !PROFILE_FIELD.test(leaf) &&
    !ownRecordPath(op.path) &&
    !ownProfileWritePath(op.path) &&
    accountParam(op.path) === undefined
  )
    return false;
  if (op.method === 'GET')
    return words.some((w) => CHANGE_WORD.test(w)) && (accountish || PROFILE_FIELD.test(leaf));
  if (isCreationOperation(spec, op) && !ownRecordPath(op.path) && accountParam(op.path) === undefined)
    return false;
  return accountish || PROFILE_FIELD.test(leaf);
}

/** Words of a name that say it holds a URL wherever they stand (`url_to_fetch`, `imageUrlPreview`, `hrefTarget`). */
const URL_WORD = /^(url|uri|href|link|webhook|callback)$/;
/** Last words that make such a name something else (`link_id`, `url_count`, `callback_type`, `link_text`). */
const NOT_URL_WORD = /^(id|ids|count|type|kind|name|text|title|label|status|enabled|method|format)$/;
/** An absolute http(s) URL, as a document's example or default may give one. */
const HTTP_URL = /^https?:\/\/[^\s]+$/i;

function isUrlish(name: string, s: Record<string, unknown>, example?: unknown): boolean {
  if (URL_FORMAT.has(String(s.format))) return true;
  const type = schemaType(s);
  if ((type !== undefined && type !== 'string') || s.enum !== undefined) return false;
  if (URL_NAME.test(name)) return true;
  // The document shows a URL as its value (`"example": "https://cdn.example/a.png"`), whatever the name.
  if ([example, s.example, s.default].some((v) => typeof v === 'string' && HTTP_URL.test(v))) return true;
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  return words.some((w) => URL_WORD.test(w)) && !NOT_URL_WORD.test(words.at(-1) ?? '');
}

/** The URL word (`url`, `uri`, `link`, `href`) of a path's last literal segment (`/upload/from-url` → `url`). */
export function pathUrlWord(path: string): string | undefined {
  const last = path
    .split('?')[0]
    .split('/')
    .filter((seg) => seg !== '' && !seg.includes('{'))
    .at(-1);
  if (last === undefined) return undefined;
  const words = last
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.find((w) => /^(url|uri|link|href)$/.test(w));
}

function formSchema(op: Operation) {
  for (const [type, media] of Object.entries(op.requestBody?.content ?? {})) {
    if (/x-www-form-urlencoded|multipart\/form-data/i.test(type)) return media.schema ?? {};
  }
  return undefined;
}

/**
 * The request may store its inputs on the sender's own account (accountWrite, by its path words or an input an
 * account keeps about itself: `POST /v2/member/picture {picture_link}`, `GET /setAvatar.php?url=`): a probe of it
 * goes only as an account the scan registered, or not at all.
 */
export function storesOnAccount(spec: ApiDocument, op: Operation): boolean {
  const names = [
    '',
    ...Object.keys(propertiesOf(spec, bodySchema(op))),
    ...op.parameters.filter((p) => p.in === 'query').map((p) => p.name),
  ];
  return names.some((name) => accountWrite(spec, op, name));
}

/**
 * The URL inputs of the document. A write to the caller's own record (`POST /api/me/avatar {url}`, `PATCH
 * /profile`) is left out unless `ownRecords` is set (API7 sets it: it probes them as the scan's own account).
 */
export function urlInputs(spec: ApiDocument, options: { readonly ownRecords?: boolean } = {}): UrlInput[] {
  const out: UrlInput[] = [];
  for (const op of spec.operations) {
    if (isExcluded(op) || op.method === 'DELETE' || op.method === 'HEAD' || op.method === 'OPTIONS') continue;
    if (isLoginOperation(spec, op)) continue;
    if (
      op.method !== 'GET' &&
      (ownRecordPath(op.path) || ownProfileWritePath(op.path)) &&
      !options.ownRecords
    )
      continue;
    const push = (where: UrlInput['in'], name: string) =>
      out.push({ operation: op, in: where, name, ownAccount: accountWrite(spec, op, name) });
    for (const p of op.parameters) {
      if (p.in !== 'query') continue;
      if (isUrlish(p.name, resolveSchema(spec, p.schema), p.raw.example)) push('query', p.name);
    }
    // The body's example as a whole (`example: {"fetch_from": "https://..."}`), top level.
    const shown = Object.values(op.requestBody?.content ?? {}).find(
      (m) => m.example !== null && typeof m.example === 'object',
    )?.example as Record<string, unknown> | undefined;
    const body = jsonBodySchema(op);
    if (body !== undefined) {
      for (const [name, s] of Object.entries(propertiesOf(spec, body))) {
        if (isUrlish(name, s, shown?.[name])) push('body', name);
        else if (schemaType(s) === 'object') {
          for (const [sub, ss] of Object.entries(propertiesOf(spec, s))) {
            if (isUrlish(sub, ss)) push('body', `${name}.${sub}`);
          }
        }
      }
      continue;
    }
    // No body documented (NestJS's `@Body() body: {url: string}` gives the document none) at a path whose last
    // segment names a URL (`POST /upload/from-url`, `/images/fetch-url`): the URL word is the likeliest member.
    if (op.requestBody === undefined && op.method !== 'GET') {
      const word = pathUrlWord(op.path);
      if (word !== undefined) push('body', word);
      continue;
    }
    const form = formSchema(op);
    if (form === undefined) continue;
    for (const [name, s] of Object.entries(propertiesOf(spec, form))) {
      if (isUrlish(name, s, shown?.[name])) push('form', name);
    }
  }
  return out;
}
