import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ScanIdentity, ScanOptions } from '../../src/scanner/scan/options.ts';
import { runScan, type ScanResult } from '../../src/scanner/scan/runner.ts';

/** A target API started for one scan: its address and its server, closed after the scan. */
export interface TwinTarget {
  readonly url: string;
  readonly server: Server;
}

export type TwinScans<T extends TwinTarget> = Record<'vulnerable' | 'fixed', { result: ScanResult; api: T }>;

/** Scans `target` with `spec` (a document object, written to a temporary file for the run). */
export async function scanDocument(
  spec: unknown,
  target: string,
  options: Omit<ScanOptions, 'spec' | 'target'>,
): Promise<ScanResult> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-scan-'));
  try {
    const specFile = path.join(dir, 'spec.json');
    await writeFile(specFile, JSON.stringify(spec));
    return await runScan({ ...options, spec: specFile, target });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Scans a vulnerable API and then its fixed twin, each started fresh by `start(fixed)`, with the same
 * document and the same options.
 */
export async function scanTwins<T extends TwinTarget>(
  spec: unknown,
  start: (fixed: boolean) => Promise<T>,
  options: Omit<ScanOptions, 'spec' | 'target'>,
): Promise<TwinScans<T>> {
  const scans = {} as TwinScans<T>;
  for (const kind of ['vulnerable', 'fixed'] as const) {
    const api = await start(kind === 'fixed');
    try {
      scans[kind] = { result: await scanDocument(spec, api.url, options), api };
    } finally {
      api.server.close();
    }
  }
  return scans;
}

/** The distinct `rule operationId` pairs of a scan's findings, sorted. */
export function operationsFound(r: ScanResult): string[] {
  return [...new Set(r.findings.map((f) => `${f.rule.id} ${f.operation?.operationId}`))].sort();
}

/** The first finding of `rule` (its full id, `scan/api8-sql-injection`) on the operation `operationId`. */
export function findingOn(
  r: ScanResult,
  rule: string,
  operationId: string,
): ScanResult['findings'][number] | undefined {
  return r.findings.find((f) => f.rule.id === rule && f.operation?.operationId === operationId);
}

/**
 * Identities that each send one fixed header (a bearer token, an API key), in the order given:
 * `headerIdentities('X-Session', {alice: 's-1', bob: 's-2'})`. `scheme` goes before each value (`Bearer`).
 */
export function headerIdentities(
  header: string,
  values: Record<string, string>,
  scheme?: string,
): ScanIdentity[] {
  return Object.entries(values).map(([name, value]) => ({
    name,
    headers: { [header]: scheme ? `${scheme} ${value}` : value },
  }));
}
