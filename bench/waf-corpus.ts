/**
 * Side-by-side detection and false-positive rates on the labelled injection corpus
 * (test/fixtures/corpus): Portcullis at paranoia 1, 2 and 3 against nginx + ModSecurity v3 + OWASP CRS at
 * paranoia level 1 (blocking, anomaly threshold 5, the Debian packages' defaults otherwise).
 *
 * Run: `npx node bench/waf-corpus.ts` (root to install missing packages; `--no-modsecurity` skips the WAF).
 * Query items are sent as `GET /?q=<value>`; body items as a JSON `POST /`. A 403 from the WAF counts as
 * flagged. Portcullis runs its detector in-process on the same items, as the `injection` policy does.
 */

import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Pool } from 'undici';
import {
  type CorpusItem,
  type CorpusScore,
  isFlagged,
  loadCorpus,
  percent,
  scoreCorpus,
} from '../src/policies/injection/corpus.ts';
import { compileDetector } from '../src/policies/injection/engine.ts';
import { startNginxModSecurity } from '../test/waf/nginx-modsecurity.ts';
import { MODSEC_PACKAGES, modSecurityRules } from './modsecurity.ts';

const CORPUS = join(import.meta.dirname, '../test/fixtures/corpus');
const CONCURRENCY = 16;
/** dpkg-query's own `${field}` syntax, spelt out so it is not mistaken for a template literal. */
const DPKG_STATUS_FORMAT = '-f=$' + '{Status}';

function missingPackages(): string[] {
  return MODSEC_PACKAGES.filter((p) => {
    try {
      const out = execFileSync('dpkg-query', ['-W', DPKG_STATUS_FORMAT, p], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      });
      return !out.includes('install ok installed');
    } catch {
      return true;
    }
  });
}

function ensurePackages(): string[] {
  let missing = missingPackages();
  if (missing.length === 0) return [];
  console.error(`installing ${missing.join(' ')} ...`);
  try {
    execFileSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    execFileSync('apt-get', ['install', '-y', '-qq', ...missing], {
      stdio: 'ignore',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    // Reported below.
  }
  missing = missingPackages();
  return missing;
}

interface Waf {
  readonly url: string;
  stop(): Promise<void>;
}

/** nginx + ModSecurity + CRS PL1 (test/waf/nginx-modsecurity.ts runs the nginx), once it answers. */
async function startModSecurity(): Promise<Waf> {
  const nginx = await startNginxModSecurity({ prefix: 'portcullis-waf-', modSecurity: modSecurityRules });
  const url = `http://127.0.0.1:${nginx.front}`;
  await nginx.ready(async () => {
    const res = await fetch(`${url}/?q=hello`);
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`nginx answered ${res.status}`);
  });
  return { url, stop: () => nginx.stop() };
}

/** Sends every item through the WAF; returns the items it blocked (403). */
async function runThroughWaf(waf: Waf, items: readonly CorpusItem[]): Promise<Set<CorpusItem>> {
  const pool = new Pool(waf.url, { connections: CONCURRENCY, pipelining: 1 });
  const blocked = new Set<CorpusItem>();
  let next = 0;
  let unexpected = 0;
  const worker = async () => {
    while (next < items.length) {
      const item = items[next++];
      const res =
        item.where === 'body'
          ? await pool.request({
              method: 'POST',
              path: '/',
              headers: {
                'content-type': 'application/json',
                accept: 'application/json',
                'user-agent': 'portcullis-bench',
              },
              body: item.input,
            })
          : await pool.request({
              method: 'GET',
              path: `/?q=${encodeURIComponent(item.input)}`,
              headers: { accept: 'application/json', 'user-agent': 'portcullis-bench' },
            });
      await res.body.dump();
      if (res.statusCode === 403) blocked.add(item);
      else if (res.statusCode !== 200) unexpected++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  await pool.close();
  if (unexpected > 0)
    console.error(`note: ${unexpected} WAF answers were neither 200 nor 403 (counted as passed)`);
  return blocked;
}

function cell(s: CorpusScore): string {
  return `${percent(s.detected, s.attacks)} / ${percent(s.falsePositives, s.benign)}`;
}

function total(scores: readonly CorpusScore[]): CorpusScore {
  const t: CorpusScore = { class: 'sqli', attacks: 0, detected: 0, benign: 0, falsePositives: 0 };
  for (const s of scores) {
    t.attacks += s.attacks;
    t.detected += s.detected;
    t.benign += s.benign;
    t.falsePositives += s.falsePositives;
  }
  return t;
}

async function main() {
  const started = performance.now();
  const items = loadCorpus(CORPUS);
  const columns: Array<[string, CorpusScore[]]> = [];
  for (const p of [1, 2, 3] as const) {
    const detector = compileDetector({ paranoia: p });
    columns.push([`Portcullis P${p}`, scoreCorpus(items, (item) => isFlagged(detector, item))]);
  }
  const skipWaf = process.argv.includes('--no-modsecurity');
  let wafNote = '';
  if (!skipWaf) {
    const missing = ensurePackages();
    if (missing.length > 0) {
      wafNote = `ModSecurity column left out: packages not installed: ${missing.join(', ')}`;
    } else {
      const waf = await startModSecurity();
      try {
        const blocked = await runThroughWaf(waf, items);
        columns.push(['ModSecurity CRS 3.3 PL1', scoreCorpus(items, (item) => blocked.has(item))]);
        // `--show=<class>`: list the WAF's misses and false positives for one class.
        const show = process.argv.find((a) => a.startsWith('--show='))?.slice(7);
        for (const item of items) {
          if (item.class !== show || blocked.has(item) === (item.label === 'attack')) continue;
          console.log(`${item.label === 'attack' ? 'WAF MISS' : 'WAF FP  '} ${JSON.stringify(item.input)}`);
        }
      } finally {
        await waf.stop();
      }
    }
  }
  const header = `| class | ${columns.map(([name]) => name).join(' | ')} |`;
  const rule = `| --- | ${columns.map(() => '---:').join(' | ')} |`;
  const rows = columns[0][1].map(
    (s, i) => `| ${s.class} | ${columns.map(([, c]) => cell(c[i])).join(' | ')} |`,
  );
  const all = `| **all** | ${columns.map(([, c]) => cell(total(c))).join(' | ')} |`;
  console.log(`Detection / false-positive rate per class (${items.length} corpus items)\n`);
  console.log([header, rule, ...rows, all].join('\n'));
  if (wafNote !== '') console.log(`\n${wafNote}`);
  console.log(`\n(${((performance.now() - started) / 1000).toFixed(1)} s)`);
}

await main();
