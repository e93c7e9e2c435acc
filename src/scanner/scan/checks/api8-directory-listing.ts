/**
 * API8, directory listings: a static folder served with its index of files (nginx's `autoindex`, Apache's
 * `Options +Indexes`, Python's `http.server`, Express's `serve-index` or a hand-written listing page) shows every
 * file put there, the ones nobody links to too (a `config.json`, a database dump, an upload of another user's).
 * The folders tried: the usual static and upload folders at the root, and the folders of the same-origin file paths
 * the API's own answers link to (`"imageUrl": "/public/images/mat.png"` → `/public/images/`, `/public/`).
 */
import { randomBytes } from 'node:crypto';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, isSuccess, type ScanContext } from '../context.ts';
import { SCAN_RULES } from '../rules.ts';
import { undocumentedOperation } from './undocumented-operation.ts';

/** Static and upload folders servers list most often. */
const USUAL_FOLDERS = [
  '/public/',
  '/static/',
  '/uploads/',
  '/files/',
  '/assets/',
  '/media/',
  '/images/',
  '/downloads/',
  '/backup/',
  '/backups/',
  '/logs/',
  '/export/',
];

/** At most this many folders taken from the answers' links, beside the usual ones. */
const MAX_LINKED_FOLDERS = 6;

/**
 * What a listing page says of itself: `Index of /x` (nginx, Apache, lighttpd, Caddy's browse), `Directory listing
 * for /x` (Python's http.server), `listing directory /x` (serve-index), IIS's `[To Parent Directory]`. Read in the
 * answer's first 8 KiB; each expression is linear.
 */
const LISTING = [
  /<title>\s*Index of \//i,
  /<h1>\s*Index of \//i,
  /<title>\s*Directory listing for \//i,
  /<h1>\s*Directory listing for \//i,
  /<title>\s*listing directory \//i,
  /\[To Parent Directory\]/,
];

/** File names in a listing that should never be served: secrets, configuration, dumps, archives, logs, keys. */
const SENSITIVE_FILE =
  /(^|[/"'>\s])(\.env[\w.-]*|[\w.-]*\.(sql|sqlite3?|db|bak|old|backup|dump|zip|tar|t?gz|7z|rar|pem|key|p12|pfx|log|ya?ml|ini|conf|cfg|properties)|[\w.-]*(config|settings|secret|credential|password|passwd)[\w.-]*\.(json|js|txt|xml)|\.git|\.htpasswd|id_rsa)(?=["'<\s/])/i;

/** Is this answer a listing page of files? */
export function isListing(res: ScanResponse): boolean {
  if (!isSuccess(res) || res.json !== undefined) return false;
  const head = res.text.slice(0, 8192);
  return LISTING.some((re) => re.test(head)) && /<a\s[^>]*href=/i.test(head);
}

/** The file names a listing page links to (at most 50): the text of its links, `..` and sorting links aside. */
export function listedFiles(text: string): string[] {
  const out: string[] = [];
  const re = /<a\s[^>]*href="([^"?#]{1,300})"[^>]*>/gi;
  for (let m = re.exec(text); m !== null && out.length < 50; m = re.exec(text)) {
    const href = m[1];
    const name = decodeSafely(href.replace(/\/$/, '').split('/').pop() ?? '');
    if (name === '' || name === '..' || name === '.' || out.includes(name)) continue;
    out.push(href.endsWith('/') ? `${name}/` : name);
  }
  return out;
}

function decodeSafely(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * Folders of the same-origin file paths the scan's answers link to: `/public/images/mat.png` (or the same as a
 * full URL on the target's host) gives `/public/images/` and `/public/`. The target's own base path is left in front.
 */
export function linkedFolders(ctx: ScanContext, max = MAX_LINKED_FOLDERS): string[] {
  const target = new URL(ctx.target);
  const out: string[] = [];
  const add = (path: string) => {
    const segs = path.split('/').filter(Boolean);
    // A file: its last segment has an extension (`mat.png`); the folders above it, deepest last.
    if (segs.length < 2 || !/^[\w-]+\.[a-z0-9]{2,5}$/i.test(segs.at(-1) ?? '')) return;
    for (let i = 1; i < segs.length && out.length < max; i++) {
      const folder = `/${segs.slice(0, i).join('/')}/`;
      if (!out.includes(folder) && !segs.slice(0, i).some((s) => s.includes('.') || s.includes('%')))
        out.push(folder);
    }
  };
  const walk = (v: unknown, depth: number) => {
    if (out.length >= max || depth > 6) return;
    if (typeof v === 'string') {
      if (v.length > 300) return;
      if (/^\/[\w-]/.test(v)) add(v.split(/[?#]/)[0]);
      else if (/^https?:\/\//i.test(v)) {
        try {
          const u = new URL(v);
          if (u.host === target.host) add(u.pathname);
        } catch {
          // not a URL after all
        }
      }
    } else if (Array.isArray(v)) for (const x of v.slice(0, 20)) walk(x, depth + 1);
    else if (v !== null && typeof v === 'object')
      for (const x of Object.values(v as Record<string, unknown>)) walk(x, depth + 1);
  };
  for (const o of ctx.observations) {
    if (out.length >= max) break;
    if (isSuccess(o.response) && o.response.json !== undefined) walk(o.response.json, 0);
  }
  return out;
}

/**
 * Each folder asked once, anonymously (a listing matters when anyone gets it); one that answers a listing page is
 * compared with a made-up folder beside it (a server that answers every path with the same page lists nothing of
 * that folder). Medium; high when the listing names a file that should never be served (`.env`, `config.json`,
 * `backup.sql`, a key, a log). At most 12 + 6 requests, and one more per listing found.
 */
export async function directoryListings(ctx: ScanContext): Promise<void> {
  // Every request path is joined to the target; a target with a path of its own (`http://host/api/v2`) reaches
  // the host's root through dot segments, which the URL parser resolves before the request goes out.
  const base = new URL(ctx.target).pathname.replace(/\/+$/, '');
  const up = '/..'.repeat(base === '' ? 0 : base.split('/').length - 1);
  const folders = [...new Set([...USUAL_FOLDERS, ...linkedFolders(ctx)])];
  for (const folder of folders) {
    if (ctx.signal.aborted) break;
    const res = await ctx.send({ method: 'GET', path: `${up}${folder}` }, null);
    if (res === undefined || !isListing(res)) continue;
    const made = await ctx.send({ method: 'GET', path: `${up}/pcx${randomBytes(6).toString('hex')}/` }, null);
    if (made !== undefined && isListing(made)) return; // every path answers a listing: nothing to tell apart
    const files = listedFiles(res.text);
    const sensitive = files.filter((f) => SENSITIVE_FILE.test(` ${f} `));
    ctx.report(SCAN_RULES.directoryListing, {
      operation: undocumentedOperation(folder),
      key: folder,
      ...(sensitive.length > 0 ? { severity: 'high' as const } : {}),
      message: `GET ${folder} lists its files to anyone (${files.length} entr${files.length === 1 ? 'y' : 'ies'}${files.length > 0 ? `: ${files.slice(0, 6).join(', ')}${files.length > 6 ? ', ...' : ''}` : ''})${sensitive.length > 0 ? `, among them ${sensitive.slice(0, 4).join(', ')}` : ''}.`,
      evidence: evidenceOf(res, {
        files: files.slice(0, 20),
        ...(sensitive.length > 0 ? { sensitive } : {}),
      }),
    });
  }
}
