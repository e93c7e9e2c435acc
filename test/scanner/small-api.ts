/**
 * What the small target APIs of the scanner tests write again and again: a JSON answer with given headers,
 * the request body read whole (as text, or as JSON that is undefined when it does not parse), and a Python
 * target started as a child process. Each API keeps its own routes, status codes and error bodies.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import path from 'node:path';

/** The content type alone. */
export const JSON_TYPE: Readonly<OutgoingHttpHeaders> = Object.freeze({ 'content-type': 'application/json' });

/** The content type and the two headers a careful API sends with every answer: no sniffing, no caching. */
export const GUARDED_JSON: Readonly<OutgoingHttpHeaders> = Object.freeze({
  'content-type': 'application/json',
  'x-content-type-options': 'nosniff',
  'cache-control': 'no-store',
});

/** Answers `status` with `body` as JSON and `headers` (the content type alone unless given). */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Readonly<OutgoingHttpHeaders> = JSON_TYPE,
): void {
  res.writeHead(status, headers);
  res.end(JSON.stringify(body));
}

/** The request body as text, each chunk decoded as it comes (`text += chunk`). */
export async function readText(req: IncomingMessage): Promise<string> {
  let text = '';
  for await (const chunk of req) text += chunk;
  return text;
}

/** The request body parsed as JSON; undefined when it does not parse (an empty body included). */
export async function readJson(req: IncomingMessage): Promise<Record<string, unknown> | undefined> {
  const text = await readText(req);
  try {
    return JSON.parse(text) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/**
 * Starts `python3 <script> vulnerable|fixed` (a file beside this one) and waits for the `PORT n` line it
 * prints once it listens; rejects when it exits first, with what it printed.
 */
export async function startPythonApi(
  script: string,
  fixed: boolean,
): Promise<{ url: string; child: ChildProcess }> {
  const child = spawn('python3', [path.join(import.meta.dirname, script), fixed ? 'fixed' : 'vulnerable'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout!.setEncoding('utf8');
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      out += chunk;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', () => reject(new Error(`${script} did not start: ${out}`)));
  });
  return { url: `http://127.0.0.1:${port}`, child };
}
