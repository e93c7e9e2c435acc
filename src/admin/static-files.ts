/**
 * Serves the dashboard's front end (the `web/` folder) from memory: files are read and hashed once when the
 * admin routes are built, so a request is a map lookup. Every answer carries a strict Content Security Policy
 * (scripts and styles from this origin only, no inline code) and is revalidated by ETag.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The `web/` folder next to `src/`. */
export const DEFAULT_WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

/**
 * The dashboard's policy: nothing but this origin, no inline script or style elements, no framing, no plugins.
 * `connect-src 'self'` covers fetch and EventSource to the admin API.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join('; ');

/** Security headers sent with every dashboard answer (files and API alike). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
};

interface StaticFile {
  readonly body: Buffer;
  readonly type: string;
  readonly etag: string;
}

const MAX_FILES = 200;
const MAX_FILE_BYTES = 2 * 1024 * 1024;

function collect(root: string, dir: string, out: Map<string, StaticFile>): void {
  for (const name of readdirSync(dir).sort()) {
    if (name.startsWith('.')) continue;
    const full = path.join(dir, name);
    const st = statSync(full);
    if (st.isDirectory()) {
      collect(root, full, out);
      continue;
    }
    const type = CONTENT_TYPES[path.extname(name).toLowerCase()];
    if (type === undefined || st.size > MAX_FILE_BYTES) continue;
    if (out.size >= MAX_FILES) throw new Error(`more than ${MAX_FILES} files under ${root}`);
    const body = readFileSync(full);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
    out.set('/' + path.relative(root, full).split(path.sep).join('/'), { body, type, etag });
  }
}

export interface StaticSite {
  /** Answers GET/HEAD for a known file; false for anything else. */
  serve(req: IncomingMessage, res: ServerResponse, pathname: string): boolean;
  /** Paths served, for tests. */
  paths(): string[];
}

/** Reads every servable file under `root` into memory. */
export function createStaticSite(root: string = DEFAULT_WEB_ROOT): StaticSite {
  const files = new Map<string, StaticFile>();
  collect(root, root, files);
  return {
    serve(req, res, pathname) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return false;
      const file = files.get(pathname === '/' ? '/index.html' : pathname);
      if (file === undefined) return false;
      const headers: Record<string, string> = {
        ...SECURITY_HEADERS,
        'content-type': file.type,
        etag: file.etag,
        // File names carry no hash, so the browser revalidates every time (a 304 costs one round trip).
        'cache-control': 'no-cache',
      };
      if (req.headers['if-none-match'] === file.etag) {
        res.writeHead(304, headers);
        res.end();
        return true;
      }
      headers['content-length'] = String(file.body.length);
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : file.body);
      return true;
    },
    paths: () => [...files.keys()],
  };
}
