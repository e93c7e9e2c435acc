/**
 * What the built-in detectors add on top of the CRS (issue 17: keep them as an extra layer or retire them,
 * decided from measurements). In the gateway, `injection.crs.builtinDetectors` (default on) runs the
 * first-generation detectors on requests the CRS lets through, at 40–70 µs a request. This counts, per
 * request set and paranoia level, the attacks the CRS blocks, those the detectors flag, and those only the
 * detectors flag; and the same for benign requests (false positives the layer adds).
 *
 * The detectors are run here as the policy runs them on a request without an OpenAPI document (no path
 * parameters): query names and values, the headers it reads by default (User-Agent, Referer,
 * X-Forwarded-Host, X-Original-URL, X-Rewrite-URL), cookies, and JSON or form bodies (multipart and XML
 * bodies are not read here: the counts of the layer are a lower bound on those requests).
 *
 * Material: our corpus (test/waf/corpus.ts, written by us) and the requests derived from each rule set
 * (test/waf/rule-derived.ts: values drawn from the rules themselves; near misses count as benign but are
 * not certified harmless). Run: `npx node bench/crs-builtin-overlap.ts` (CRS4_RULES adds CRS 4; BENCH_PLS
 * the levels, default 1,2; the detectors run at paranoia 1, the policy's default).
 */
import { existsSync } from 'node:fs';
import { compileDetector, type Detector } from '../src/policies/injection/engine.ts';
import { scanJson } from '../src/policies/injection/json-walk.ts';
import { loadCoreRuleSet } from '../src/waf/index.ts';
import type { WafRequest } from '../src/waf/types.ts';
import { type CorpusRequest, generateCorpus } from '../test/waf/corpus.ts';
import { deriveRequests } from '../test/waf/rule-derived.ts';

const CRS3 = process.env.CRS_RULES ?? '/usr/share/modsecurity-crs/rules';
const CRS4 = process.env.CRS4_RULES;
const PLS = (process.env.BENCH_PLS ?? '1,2').split(',').map(Number);
const HEADERS = ['user-agent', 'referer', 'x-forwarded-host', 'x-original-url', 'x-rewrite-url'];

function toRequest(req: CorpusRequest): WafRequest {
  const headers: Array<[string, string]> = req.headers.some(([n]) => n.toLowerCase() === 'host')
    ? []
    : [['Host', 'localhost']];
  for (const [n, v] of req.headers) headers.push([n, v]);
  if (req.body !== undefined && !req.headers.some(([n]) => n.toLowerCase() === 'content-length'))
    headers.push(['Content-Length', String(req.body.length)]);
  return {
    method: req.method,
    uri: req.uri,
    protocol: 'HTTP/1.1',
    headers,
    body: req.body,
    remoteAddr: '127.0.0.1',
  };
}

function pairs(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const part of text.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, ' '));
      } catch {
        return s;
      }
    };
    out.push(eq < 0 ? [dec(part), ''] : [dec(part.slice(0, eq)), dec(part.slice(eq + 1))]);
  }
  return out;
}

/** Whether the built-in detectors flag something in the request (as the policy reads it, see above). */
function builtinFlags(d: Detector, req: CorpusRequest): boolean {
  const q = req.uri.indexOf('?');
  if (q >= 0)
    for (const [n, v] of pairs(req.uri.slice(q + 1)))
      if (d.scanKey(n) !== undefined || d.scanValue(v) !== undefined) return true;
  let contentType = '';
  for (const [name, value] of req.headers) {
    const lower = name.toLowerCase();
    if (lower === 'content-type') contentType = value.toLowerCase();
    if (HEADERS.includes(lower) && d.scanValue(value) !== undefined) return true;
    if (lower === 'cookie')
      for (const c of value.split(/;\s*/)) {
        const eq = c.indexOf('=');
        const [n, v] = eq < 0 ? [c, ''] : [c.slice(0, eq), c.slice(eq + 1)];
        if (d.scanKey(n) !== undefined || d.scanValue(v) !== undefined) return true;
      }
  }
  const body = req.body?.toString('utf8');
  if (body === undefined || body === '') return false;
  if (contentType.includes('json')) {
    try {
      return scanJson(d, JSON.parse(body), undefined, 1).length > 0;
    } catch {
      return false;
    }
  }
  if (contentType.startsWith('application/x-www-form-urlencoded'))
    for (const [n, v] of pairs(body))
      if (d.scanKey(n) !== undefined || d.scanValue(v) !== undefined) return true;
  return false;
}

function main(): void {
  const detector = compileDetector({ paranoia: 1 });
  const sets: Array<[string, string]> = [['CRS 3.3', CRS3]];
  if (CRS4 !== undefined && existsSync(CRS4)) sets.push(['CRS 4', CRS4]);
  console.log(
    '| rule set | PL | requests | attacks | blocked by the CRS | flagged by the detectors | flagged only by the detectors | benign | blocked by the CRS | flagged by the detectors | flagged only by the detectors |',
  );
  console.log('| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  const corpus = generateCorpus();
  const families: string[] = [];
  for (const [name, dir] of sets) {
    const derived = [4, 5, 6].flatMap((seed) => deriveRequests(dir, seed));
    for (const pl of PLS) {
      const { ruleSet } = loadCoreRuleSet(dir, { paranoiaLevel: pl });
      for (const [setName, requests] of [
        ['our corpus', corpus],
        ['rule-derived (seeds 4-6)', derived],
      ] as const) {
        const n = { attack: [0, 0, 0, 0], benign: [0, 0, 0, 0] };
        const only = new Map<string, number>();
        for (const req of requests) {
          const blocked = ruleSet.evaluate(toRequest(req)).blocked;
          const flagged = builtinFlags(detector, req);
          const row = n[req.label];
          row[0]++;
          if (blocked) row[1]++;
          if (flagged) row[2]++;
          if (flagged && !blocked) {
            row[3]++;
            const family = `${req.label} ${req.family.split('@')[0].split('.')[0]}`;
            only.set(family, (only.get(family) ?? 0) + 1);
          }
        }
        families.push(
          `${name} PL${pl} ${setName}: ${[...only].map(([f, k]) => `${f} ${k}`).join(', ') || 'none'}`,
        );
        console.log(`| ${name} | ${pl} | ${setName} | ${n.attack.join(' | ')} | ${n.benign.join(' | ')} |`);
      }
    }
  }
  console.log('\nFlagged only by the detectors, by label and family (rule-derived: the rule id):');
  for (const line of families) console.log(`- ${line}`);
}

main();
