/**
 * Loads an OWASP Core Rule Set directory (CRS 3.3.x as Debian's modsecurity-crs installs it, or CRS 4.x as
 * released): every `*.conf` in name order, read as bytes, with the settings crs-setup.conf would give
 * taken from our configuration instead (issue 17 item 1). Every directive, action, operator or pattern
 * that cannot be honoured comes back as an issue naming its file and line.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { PortcullisError } from '../core/errors.ts';
import { compileRules, type EngineOptions } from './engine/compile.ts';
import { readUnicodeMap } from './engine/transforms.ts';
import { parseSecLang } from './seclang/parse.ts';
import type { CompiledRuleSet, CrsSettings, RuleLoadIssue } from './types.ts';

/** What loading a rule directory gives. */
export interface LoadedRuleSet {
  readonly ruleSet: CompiledRuleSet;
  readonly issues: readonly RuleLoadIssue[];
}

/** Thrown when the path holds no rule files. */
export class RuleSetLoadError extends PortcullisError {
  readonly code = 'ERR_WAF_RULESET';
}

const SETUP_FILE = '(crs-setup from configuration)';

/** The CRS version the files declare (`ver:'OWASP_CRS/3.3.4'`), when they do. */
export function detectVersion(texts: readonly string[]): string | undefined {
  // SecComponentSignature names the release; `ver:` actions of bundled exclusion files may be older.
  for (const t of texts) {
    const m = /^\s*SecComponentSignature\s+"?OWASP_CRS\/(\d+\.\d+\.\d+[A-Za-z0-9-]*)/m.exec(t);
    if (m) return m[1];
  }
  const counts = new Map<string, number>();
  for (const t of texts) {
    for (const m of t.matchAll(/OWASP_CRS\/(\d+\.\d+\.\d+[A-Za-z0-9-]*)/g))
      counts.set(m[1], (counts.get(m[1]) ?? 0) + 1);
  }
  return [...counts].sort((x, y) => y[1] - x[1])[0]?.[0];
}

function quoteAction(value: string): string {
  return value.replaceAll("'", "\\'");
}

/** The SecLang that stands for crs-setup.conf, built from settings. */
export function setupRules(version: string | undefined, settings: CrsSettings): string {
  const major = Number(version?.split('.')[0] ?? '3');
  const [a, b, c] = (version ?? '3.3.4').split('.').map((x) => Number.parseInt(x, 10) || 0);
  const setupVersion = major >= 4 ? a * 1000 + b * 10 + c : a * 100 + b * 10 + c;
  const pl = settings.paranoiaLevel ?? 1;
  const detection = Math.max(settings.detectionParanoiaLevel ?? pl, pl);
  const vars: [string, string][] = [['crs_setup_version', String(setupVersion)]];
  if (major >= 4) {
    vars.push(['blocking_paranoia_level', String(pl)], ['detection_paranoia_level', String(detection)]);
  } else {
    vars.push(['paranoia_level', String(pl)], ['executing_paranoia_level', String(detection)]);
  }
  if (settings.inboundAnomalyThreshold !== undefined)
    vars.push(['inbound_anomaly_score_threshold', String(settings.inboundAnomalyThreshold)]);
  if (settings.allowedMethods) vars.push(['allowed_methods', settings.allowedMethods.join(' ')]);
  if (settings.allowedRequestContentTypes) {
    vars.push([
      'allowed_request_content_type',
      settings.allowedRequestContentTypes.map((t) => `|${t.toLowerCase()}|`).join(' '),
    ]);
  }
  for (const [k, v] of Object.entries(settings.tx ?? {})) vars.push([k.toLowerCase(), String(v)]);
  const setvars = vars.map(([k, v]) => `setvar:'tx.${k}=${quoteAction(v)}'`).join(',');
  return [
    'SecDefaultAction "phase:1,log,auditlog,pass"',
    'SecDefaultAction "phase:2,log,auditlog,pass"',
    `SecAction "id:900990,phase:1,nolog,pass,t:none,${setvars.replaceAll('"', '\\"')}"`,
    '',
  ].join('\n');
}

/**
 * Loads the rule files of a CRS `rules/` directory (or one file) and compiles them.
 * @throws RuleSetLoadError when the path has no `.conf` file.
 * @example
 * const { ruleSet, issues } = loadCoreRuleSet('/usr/share/modsecurity-crs/rules', { paranoiaLevel: 1 });
 */
export function loadCoreRuleSet(
  path: string,
  settings: CrsSettings = {},
  options: EngineOptions = {},
): LoadedRuleSet {
  let files: string[];
  try {
    files = statSync(path).isDirectory()
      ? readdirSync(path)
          .filter((f) => f.endsWith('.conf'))
          .sort()
          .map((f) => join(path, f))
      : [path];
  } catch (e) {
    throw new RuleSetLoadError(`cannot read rule set at ${path}: ${(e as Error).message}`);
  }
  if (files.length === 0) throw new RuleSetLoadError(`no .conf rule files in ${path}`);
  // Bytes, as ModSecurity reads them: one character per byte.
  const texts = files.map((f) => readFileSync(f).toString('latin1'));
  const version = detectVersion(texts);
  const parsed = parseSecLang(setupRules(version, settings), SETUP_FILE);
  files.forEach((f, i) => {
    parseSecLang(texts[i], basename(f), parsed);
  });
  const dirOf = new Map(files.map((f) => [basename(f), dirname(f)]));
  const readData = (ruleFile: string, dataFile: string) => {
    const dir = dirOf.get(ruleFile) ?? (statSync(path).isDirectory() ? path : dirname(path));
    return readFileSync(join(dir, dataFile)).toString('latin1');
  };
  const { ruleSet, issues } = compileRules(parsed, readData, options, version);
  return { ruleSet, issues };
}

/**
 * Reads a ModSecurity unicode mapping file (SecUnicodeMapFile) for `EngineOptions.unicodeMap`: Debian's
 * modsecurity.conf uses `/etc/modsecurity/unicode.mapping` (nginx's module ships
 * `/etc/nginx/unicode.mapping`) with code page 20127.
 * @throws RuleSetLoadError naming the file when it cannot be read or lacks the code page.
 */
export function readUnicodeMapFile(path: string, codePage = 20127): Uint8Array {
  try {
    return readUnicodeMap(readFileSync(path, 'latin1'), codePage);
  } catch (e) {
    throw new RuleSetLoadError(`unicode mapping ${path}: ${(e as Error).message}`);
  }
}

/** Compiles SecLang text directly (tests, `portcullis crs test` on a snippet). */
export function compileSecLang(
  text: string,
  options: EngineOptions = {},
  file = 'inline.conf',
): LoadedRuleSet {
  const parsed = parseSecLang(text, file);
  const { ruleSet, issues } = compileRules(
    parsed,
    () => {
      throw new Error('data files are not available for inline rules');
    },
    options,
    detectVersion([text]),
  );
  return { ruleSet, issues };
}
