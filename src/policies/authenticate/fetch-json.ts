import { request } from 'undici';
import { PortcullisError } from '../../core/errors.ts';

/** A JSON document fetched from an identity provider, with the freshness it was served with. */
export interface FetchedJson {
  readonly status: number;
  readonly body: unknown;
  /** `max-age` of the response's Cache-Control, in seconds, when given. */
  readonly maxAgeSeconds: number | undefined;
}

/** Raised when an identity provider endpoint cannot be reached or answers with something unusable. */
export class IdentityFetchError extends PortcullisError {
  readonly code = 'ERR_IDENTITY_FETCH';
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'IdentityFetchError';
  }
}

export interface FetchOptions {
  readonly method?: 'GET' | 'POST';
  readonly headers?: Record<string, string>;
  readonly body?: string;
  readonly timeoutMs: number;
  /** Responses larger than this are refused (a JWKS or metadata document is a few kB). */
  readonly maxBytes: number;
}

/**
 * Fetches and parses a JSON document with a deadline and a size bound. Only configured URLs are ever
 * fetched: nothing in a token chooses where to go (RFC 8725 §3.10).
 */
export async function fetchJson(url: string, opts: FetchOptions): Promise<FetchedJson> {
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(url, {
      method: opts.method ?? 'GET',
      headers: { accept: 'application/json', ...opts.headers },
      body: opts.body,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      signal: AbortSignal.timeout(opts.timeoutMs),
    });
  } catch (err) {
    throw new IdentityFetchError(`request to ${url} failed`, { cause: err });
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > opts.maxBytes) {
        res.body.destroy();
        throw new IdentityFetchError(`response from ${url} exceeds ${opts.maxBytes} bytes`);
      }
      chunks.push(chunk as Buffer);
    }
  } catch (err) {
    if (err instanceof IdentityFetchError) throw err;
    throw new IdentityFetchError(`reading the response from ${url} failed`, { cause: err });
  }
  let body: unknown;
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new IdentityFetchError(`response from ${url} (status ${res.statusCode}) is not JSON`, {
      cause: err,
    });
  }
  return { status: res.statusCode, body, maxAgeSeconds: maxAge(res.headers['cache-control']) };
}

function maxAge(header: string | string[] | undefined): number | undefined {
  const value = Array.isArray(header) ? header.join(',') : header;
  if (value === undefined) return undefined;
  const m = /(?:^|[,\s])max-age=(\d{1,9})/i.exec(value);
  return m === null ? undefined : Number(m[1]);
}
