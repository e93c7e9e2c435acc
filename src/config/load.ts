import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Ajv, type ErrorObject } from 'ajv';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import type { JsonObject } from '../core/api-document.ts';
import type { Config } from '../core/config.ts';
import { PortcullisError } from '../core/errors.ts';
import { parseCidr } from '../shared/ip.ts';

/** One problem in a config file: a path like `apis[0].upstream.url` and what is wrong there. */
export interface ConfigIssue {
  readonly path: string;
  readonly message: string;
  readonly line?: number;
}

/** A config that cannot be used; carries every problem found, not just the first. */
export class ConfigError extends PortcullisError {
  readonly code = 'ERR_CONFIG';
  readonly file: string;
  readonly issues: readonly ConfigIssue[];
  constructor(file: string, issues: readonly ConfigIssue[]) {
    super(`${file}: ${issues.length} problem(s)\n${issues.map(formatIssue).join('\n')}`);
    this.name = 'ConfigError';
    this.file = file;
    this.issues = issues;
  }
}

/** `path: problem (line N)` — the one format every config problem is printed in. */
export function formatIssue(i: ConfigIssue): string {
  return `${i.path || '(root)'}: ${i.message}${i.line ? ` (line ${i.line})` : ''}`;
}

type Env = Readonly<Record<string, string | undefined>>;

/** Turns JSON-pointer-ish tokens into `apis[0].upstream.url`. */
export function toConfigPath(tokens: readonly (string | number)[]): string {
  let out = '';
  for (const t of tokens) {
    if (typeof t === 'number' || /^\d+$/.test(t)) out += `[${t}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(t)) out += out === '' ? t : `.${t}`;
    else out += `[${JSON.stringify(t)}]`;
  }
  return out;
}

const VAR = /\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in every string value; `$${` is a literal `${`. A value that is
 * exactly one reference is re-read as a YAML scalar, so `port: ${PORT:-8080}` gives a number.
 */
function substitute(value: unknown, env: Env, at: (string | number)[], issues: ConfigIssue[]): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    let whole = false;
    const out = value.replace(
      VAR,
      (m, name: string | undefined, dflt: string | undefined, offset: number) => {
        if (m === '$${') return '${';
        whole = offset === 0 && m.length === value.length;
        const v = env[name as string];
        if (v !== undefined && v !== '') return v;
        if (dflt !== undefined) return dflt;
        issues.push({ path: toConfigPath(at), message: `environment variable ${name} is not set` });
        return '';
      },
    );
    if (whole) {
      const scalar = parseDocument(out).toJS() as unknown;
      if (typeof scalar === 'number' || typeof scalar === 'boolean') return scalar;
    }
    return out;
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, env, [...at, i], issues));
  if (value !== null && typeof value === 'object') {
    const out: JsonObject = {};
    for (const [k, v] of Object.entries(value)) out[k] = substitute(v, env, [...at, k], issues);
    return out;
  }
  return value;
}

function lineFinder(root: Node | null, lines: LineCounter) {
  return (tokens: readonly string[]): number | undefined => {
    let node: Node | null | undefined = root;
    let line = node?.range ? lines.linePos(node.range[0]).line : undefined;
    for (const t of tokens) {
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === t);
        if (!pair) break;
        if ((pair.key as Node).range) line = lines.linePos((pair.key as Node).range![0]).line;
        node = pair.value as Node | null;
      } else if (isSeq(node)) {
        node = node.items[Number(t)] as Node | undefined;
        if (node?.range) line = lines.linePos(node.range[0]).line;
      } else break;
    }
    return line;
  };
}

function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestScore = 3;
  for (const c of candidates) {
    const d = editDistance(word.toLowerCase(), c.toLowerCase());
    if (d < bestScore) {
      best = c;
      bestScore = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length];
}

function describe(e: ErrorObject): { tokens: string[]; message: string } {
  const tokens = e.instancePath
    .split('/')
    .slice(1)
    .map((t) => t.replace(/~1/g, '/').replace(/~0/g, '~'));
  // A key refused by `propertyNames` is named in the path.
  if (e.propertyName !== undefined) tokens.push(e.propertyName);
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = p.additionalProperty as string;
      const known = Object.keys((e.parentSchema?.properties as JsonObject | undefined) ?? {});
      const hint = closest(key, known);
      return { tokens: [...tokens, key], message: `unknown key${hint ? ` (did you mean ${hint}?)` : ''}` };
    }
    case 'required':
      return { tokens: [...tokens, p.missingProperty as string], message: 'is required' };
    case 'enum':
      return {
        tokens,
        message: `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`,
      };
    case 'const':
      return { tokens, message: `must be ${JSON.stringify(p.allowedValue)}` };
    case 'type':
      return { tokens, message: `must be ${p.type === 'integer' ? 'an integer' : `a ${p.type}`}` };
    case 'pattern':
      return {
        tokens,
        message: `must be ${(e.parentSchema?.['x-expected'] as string | undefined) ?? `a string matching ${p.pattern}`}`,
      };
    default:
      return { tokens, message: e.message ?? 'is invalid' };
  }
}

/** Reads config files against one schema, compiled on first use. */
export interface ConfigReader {
  /**
   * Parses, substitutes and validates a config text. Returns the config with defaults filled in, or
   * throws a ConfigError listing every problem.
   */
  parseConfig(text: string, file: string, env: Env): Config;
  /** Reads a config file and resolves relative file paths against its folder. */
  loadConfig(file: string, env: Env): Promise<Config>;
}

/** A config reader for the schema `schema()` builds (called once, on first use). */
export function createConfigReader(schema: () => Record<string, unknown>): ConfigReader {
  let compiled: ReturnType<Ajv['compile']> | undefined;
  const validator = () => {
    if (compiled === undefined) {
      const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false, verbose: true });
      compiled = ajv.compile(schema());
    }
    return compiled;
  };
  const parseConfig = (text: string, file: string, env: Env) => parseWith(validator(), text, file, env);
  return {
    parseConfig,
    async loadConfig(file, env) {
      const abs = path.resolve(file);
      let text: string;
      try {
        text = await readFile(abs, 'utf8');
      } catch (err) {
        throw new ConfigError(abs, [
          { path: '', message: `cannot read the file (${(err as NodeJS.ErrnoException).code})` },
        ]);
      }
      return resolvePaths(parseConfig(text, abs, env), path.dirname(abs));
    },
  };
}

function parseWith(validate: ReturnType<Ajv['compile']>, text: string, file: string, env: Env): Config {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  if (doc.errors.length > 0) {
    // Later YAML errors mostly cascade from the first one: report that one.
    const e = doc.errors[0];
    const message = e.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
    throw new ConfigError(file, [{ path: '', message: `YAML: ${message}`, line: e.linePos?.[0].line }]);
  }
  const raw = doc.toJS() as unknown;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ConfigError(file, [{ path: '', message: 'the config must be a YAML mapping' }]);
  }
  const issues: ConfigIssue[] = [];
  const value = substitute(raw, env, [], issues) as JsonObject;
  const lineOf = lineFinder(doc.contents, lines);
  if (!validate(value)) {
    const seen = new Set<string>();
    for (const e of validate.errors ?? []) {
      // `if`/`anyOf` wrappers repeat what their branches already said.
      if (
        e.keyword === 'if' ||
        e.keyword === 'anyOf' ||
        e.keyword === 'oneOf' ||
        e.keyword === 'propertyNames'
      )
        continue;
      const { tokens, message } = describe(e);
      const key = `${tokens.join('/')}|${message}`;
      if (seen.has(key)) continue;
      seen.add(key);
      issues.push({ path: toConfigPath(tokens), message, line: lineOf(tokens) });
    }
  }
  try {
    checkSemantics(value as unknown as Config, issues);
  } catch {
    // The structure is too broken for the semantic checks; the schema errors above say why.
  }
  if (issues.length > 0) throw new ConfigError(file, issues);
  return value as unknown as Config;
}

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Rules JSON Schema cannot say. */
function checkSemantics(c: Config, issues: ConfigIssue[]): void {
  c.server.listen.forEach((l, i) => {
    if (
      !l.tls &&
      !LOOPBACK.test(l.host) &&
      !c.server.allowInsecurePublicHttp &&
      l.redirectToHttps === undefined
    ) {
      issues.push({
        path: `server.listen[${i}]`,
        message: `plain HTTP on non-loopback address ${l.host}: add tls, redirectToHttps, or set server.allowInsecurePublicHttp`,
      });
    }
  });
  const names = new Set<string>();
  c.apis.forEach((a, i) => {
    if (names.has(a.name)) issues.push({ path: `apis[${i}].name`, message: `duplicate API name ${a.name}` });
    names.add(a.name);
  });
  const bases = new Map<string, number>();
  c.apis.forEach((a, i) => {
    for (const h of a.hosts.length ? a.hosts : ['*']) {
      const k = `${h.toLowerCase()} ${a.basePath}`;
      const prev = bases.get(k);
      if (prev !== undefined) {
        issues.push({ path: `apis[${i}].basePath`, message: `same host and basePath as apis[${prev}]` });
      }
      bases.set(k, i);
    }
  });
  if (c.state.store === 'redis' && !c.state.redis?.url) {
    issues.push({ path: 'state.redis.url', message: 'is required when state.store is redis' });
  }
  c.server.trustedProxies.forEach((cidr, i) => {
    if (parseCidr(cidr) === undefined) {
      issues.push({ path: `server.trustedProxies[${i}]`, message: `${cidr} is not an IP address or CIDR` });
    }
  });
}

/** Makes every file path in the config absolute, relative to `dir`. */
export function resolvePaths(config: Config, dir: string): Config {
  const r = (p: string | undefined) => (p === undefined ? undefined : path.resolve(dir, p));
  for (const l of config.server.listen) {
    if (l.tls) {
      l.tls.certFile = r(l.tls.certFile)!;
      l.tls.keyFile = r(l.tls.keyFile)!;
      if (l.tls.clientAuth) {
        l.tls.clientAuth.caFile = r(l.tls.clientAuth.caFile)!;
        if (l.tls.clientAuth.crlFile !== undefined) l.tls.clientAuth.crlFile = r(l.tls.clientAuth.crlFile);
      }
    }
  }
  for (const a of config.apis) {
    a.spec = r(a.spec)!;
    const t = a.upstream.tls;
    if (t) {
      t.caFile = r(t.caFile);
      t.certFile = r(t.certFile);
      t.keyFile = r(t.keyFile);
    }
    // The files an authenticate block names: the CAs of RFC 9440 client certificates, and the private
    // keys of private_key_jwt introspection clients.
    for (const policies of [a.policies, ...Object.values(a.operations).map((o) => o.policies)]) {
      const auth = policies?.authenticate as
        | {
            clientCertHeader?: { caFile?: string };
            schemes?: Record<string, { introspection?: { privateKeyJwt?: { keyFile?: string } } } | null>;
          }
        | undefined;
      // The Core Rule Set folder of the injection policy's CRS mode.
      const crs = (policies?.injection as { crs?: { path?: string; unicodeMapFile?: string } } | undefined)
        ?.crs;
      if (crs?.path !== undefined) crs.path = r(crs.path);
      if (crs?.unicodeMapFile !== undefined) crs.unicodeMapFile = r(crs.unicodeMapFile);
      const cc = auth?.clientCertHeader;
      if (cc?.caFile !== undefined) cc.caFile = r(cc.caFile);
      for (const binding of Object.values(auth?.schemes ?? {})) {
        const pkj = binding?.introspection?.privateKeyJwt;
        if (pkj?.keyFile !== undefined) pkj.keyFile = r(pkj.keyFile);
      }
    }
  }
  config.baseDir = dir;
  return config;
}
