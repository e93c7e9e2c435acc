/**
 * The original spec file as written: its parsed value and a way back from a JSON pointer to a line.
 *
 * The audit reads the ORIGINAL document (never a converted one) so that every finding points at the line a
 * person has to edit, in Swagger 2.0 files as much as in OpenAPI 3.x ones.
 */
import { readFile } from 'node:fs/promises';
import type { Node } from 'yaml';
import { PortcullisError } from '../../core/errors.ts';
import { fastParse, type Json, type JsonMap, type LineIndex, UnsupportedYaml } from './fast-parse.ts';

export type { Json, JsonMap } from './fast-parse.ts';

export class SpecSourceError extends PortcullisError {
  readonly code: 'ERR_SPEC_READ' | 'ERR_SPEC_PARSE' | 'ERR_SPEC_NOT_OPENAPI';
  constructor(code: SpecSourceError['code'], message: string) {
    super(message);
    this.name = 'SpecSourceError';
    this.code = code;
  }
}

export interface SpecSource {
  readonly file: string;
  readonly value: JsonMap;
  /** Which parser read the file: the fast subset parser, or the full `yaml` package as a fallback. */
  readonly parser: 'fast' | 'yaml';
  /** 1-based line of the member a JSON pointer names, or of its nearest existing ancestor. */
  lineOf(pointer: string): number | undefined;
}

/** Escapes one JSON pointer segment (RFC 6901 §3). */
export function escapePointer(segment: string | number): string {
  const s = String(segment);
  if (!s.includes('~') && !s.includes('/')) return s;
  return s.replaceAll('~', '~0').replaceAll('/', '~1');
}

function unescapePointer(segment: string): string {
  if (!segment.includes('~')) return segment;
  return segment.replaceAll('~1', '/').replaceAll('~0', '~');
}

/** Joins a pointer and further segments, escaping them. */
export function pointerJoin(base: string, ...segments: (string | number)[]): string {
  let out = base;
  for (const s of segments) out += '/' + escapePointer(s);
  return out;
}

export function isMapValue(v: unknown): v is JsonMap {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads and parses a YAML or JSON spec file, keeping what is needed to find lines again. */
export async function readSpecSource(file: string): Promise<SpecSource> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new SpecSourceError('ERR_SPEC_READ', `cannot read ${file}: ${(err as Error).message}`);
  }
  return parseSpecSource(file, text);
}

function checkOpenApi(file: string, value: unknown): asserts value is JsonMap {
  if (!isMapValue(value) || (typeof value.openapi !== 'string' && value.swagger !== '2.0')) {
    throw new SpecSourceError(
      'ERR_SPEC_NOT_OPENAPI',
      `${file}: not an OpenAPI 3.x or Swagger 2.0 document (no "openapi" or "swagger: 2.0" member)`,
    );
  }
}

/**
 * Parses spec text (YAML 1.2 or JSON): with the fast subset parser when it can, else with the `yaml` package.
 */
export async function parseSpecSource(file: string, text: string): Promise<SpecSource> {
  let fast: { value: Json; lines: LineIndex };
  try {
    fast = fastParse(text);
  } catch (err) {
    if (!(err instanceof UnsupportedYaml)) throw err;
    return parseWithYaml(await import('yaml'), file, text);
  }
  const { value, lines } = fast;
  checkOpenApi(file, value);
  const lineOf = (pointer: string): number | undefined => {
    let node: Json | undefined = value;
    let line: number | undefined = 1;
    if (pointer === '') return line;
    for (const raw of pointer.slice(1).split('/')) {
      const seg = unescapePointer(raw);
      if (typeof node !== 'object' || node === null) break;
      const idx = lines.get(node);
      if (Array.isArray(node)) {
        const i = Number(seg);
        if (!(i >= 0 && i < node.length)) break;
        line = (idx as number[] | undefined)?.[i] ?? line;
        node = node[i];
      } else {
        if (!Object.hasOwn(node, seg)) break;
        line = (idx as Map<string, number> | undefined)?.get(seg) ?? line;
        node = node[seg];
      }
    }
    return line;
  };
  return { file, value, parser: 'fast', lineOf };
}

function parseWithYaml(yaml: typeof import('yaml'), file: string, text: string): SpecSource {
  const { isAlias, isMap, isPair, isScalar, isSeq, parseDocument } = yaml;
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    throw new SpecSourceError('ERR_SPEC_PARSE', `${file}: ${e.message.split('\n')[0]}`);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 10_000 });
  } catch (err) {
    throw new SpecSourceError('ERR_SPEC_PARSE', `${file}: ${(err as Error).message}`);
  }
  checkOpenApi(file, value);
  let lineStarts: Uint32Array | undefined;
  const lineAt = (offset: number): number => {
    if (!lineStarts) lineStarts = computeLineStarts(text);
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  const lineOf = (pointer: string): number | undefined => {
    let node: Node | null | undefined = doc.contents as Node | null;
    let offset: number | undefined = node?.range?.[0];
    if (pointer === '' || pointer === '/') return offset === undefined ? undefined : lineAt(offset);
    for (const raw of pointer.slice(1).split('/')) {
      const seg = unescapePointer(raw);
      if (node && isAlias(node)) node = node.resolve(doc) as Node | undefined;
      if (node && isMap(node)) {
        const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === seg);
        if (!pair) break;
        const key = pair.key as Node;
        offset = key.range?.[0] ?? offset;
        node = pair.value as Node | null;
      } else if (node && isSeq(node)) {
        const item = node.items[Number(seg)] as Node | undefined;
        if (!item) break;
        offset = item.range?.[0] ?? offset;
        node = item;
      } else break;
    }
    return offset === undefined ? undefined : lineAt(offset);
  };
  return { file, value, parser: 'yaml', lineOf };
}

function computeLineStarts(text: string): Uint32Array {
  let count = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) count++;
  const starts = new Uint32Array(count);
  let n = 1;
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts[n++] = i + 1;
  return starts;
}
