/**
 * Parses SecLang directives into rules: the variables, operator and actions of each `SecRule`, `SecAction`
 * and `SecMarker`, chains assembled, and the configuration directives the Core Rule Set relies on. What
 * cannot be read is reported by file and line (issue 17: never ignored silently).
 */
import { type Directive, lexSecLang } from './lexer.ts';

/** One target of a rule: `ARGS`, `ARGS:q`, `!ARGS:q`, `&TX:x`, `REQUEST_HEADERS:/^x-/`. */
export interface VariableRef {
  /** Collection or variable name, upper case (`ARGS`, `REQUEST_HEADERS`, `TX`). */
  readonly collection: string;
  /** The member selected by name (as written; collections compare names case-insensitively). */
  readonly key?: string;
  /** The member selected by a regular expression (`ARGS:/^id_/`). */
  readonly keyRegex?: string;
  /** `&VAR`: the number of members instead of their values. */
  readonly count: boolean;
  /** `!VAR:key`: removes members from the rule's targets. */
  readonly exclude: boolean;
}

/** The operator of a rule: `@rx`, `@pm`, `!@eq`... */
export interface OperatorRef {
  /** Name without `@`, as written (`rx`, `pmFromFile`, `detectSQLi`). */
  readonly name: string;
  readonly negated: boolean;
  readonly param: string;
}

/** One action as written: `t:lowercase`, `setvar:'tx.x=+1'`, `chain`. */
export interface ActionRef {
  readonly name: string;
  readonly value?: string;
}

/** A parsed rule. A chain's rules follow the first one in `chained`. */
export interface ParsedRule {
  readonly kind: 'rule' | 'action' | 'marker';
  readonly file: string;
  readonly line: number;
  readonly variables: readonly VariableRef[];
  readonly operator?: OperatorRef;
  readonly actions: readonly ActionRef[];
  /** The marker name of a `SecMarker`. */
  readonly marker?: string;
  /** The rules chained after this one (only on the chain's first rule). */
  chained: ParsedRule[];
}

/** A directive that changes rules loaded before it (`SecRuleUpdateTargetById`, `SecRuleRemoveById`...). */
export interface RuleUpdate {
  readonly kind:
    | 'updateTargetById'
    | 'updateTargetByTag'
    | 'updateTargetByMsg'
    | 'removeById'
    | 'removeByTag'
    | 'removeByMsg'
    | 'updateActionById';
  readonly file: string;
  readonly line: number;
  readonly args: readonly string[];
  /** Where in the rule list it applies: after this many rules. */
  readonly position: number;
}

/** A configuration directive kept for the engine (`SecDefaultAction`, `SecComponentSignature`...). */
export interface ConfigDirective {
  readonly name: string;
  readonly args: readonly string[];
  readonly file: string;
  readonly line: number;
}

/** What one or more files parse into. */
export interface ParsedRules {
  readonly rules: ParsedRule[];
  readonly updates: RuleUpdate[];
  readonly config: ConfigDirective[];
  readonly issues: { file: string; line: number; message: string }[];
}

/** Directives that configure the engine or its logging and have no bearing on request evaluation here. */
const NEUTRAL_DIRECTIVES = new Set(
  [
    'SecComponentSignature',
    'SecRuleEngine',
    'SecRequestBodyAccess',
    'SecResponseBodyAccess',
    'SecRequestBodyLimit',
    'SecRequestBodyNoFilesLimit',
    'SecRequestBodyInMemoryLimit',
    'SecRequestBodyLimitAction',
    'SecRequestBodyJsonDepthLimit',
    'SecArgumentsLimit',
    'SecResponseBodyMimeType',
    'SecResponseBodyLimit',
    'SecResponseBodyLimitAction',
    'SecPcreMatchLimit',
    'SecPcreMatchLimitRecursion',
    'SecTmpDir',
    'SecDataDir',
    'SecAuditEngine',
    'SecAuditLog',
    'SecAuditLogParts',
    'SecAuditLogType',
    'SecAuditLogFormat',
    'SecAuditLogStorageDir',
    'SecAuditLogRelevantStatus',
    'SecDebugLog',
    'SecDebugLogLevel',
    'SecArgumentSeparator',
    'SecCookieFormat',
    'SecUnicodeMapFile',
    'SecStatusEngine',
    'SecCollectionTimeout',
    'SecTmpSaveUploadedFiles',
    'SecUploadDir',
    'SecUploadKeepFiles',
    'SecUploadFileMode',
    'SecUploadFileLimit',
    'SecDefaultAction',
    'SecWebAppId',
    'SecServerSignature',
    'SecHttpBlKey',
    'SecGeoLookupDb',
    'SecXmlExternalEntity',
  ].map((n) => n.toLowerCase()),
);

const UPDATE_DIRECTIVES: Record<string, RuleUpdate['kind']> = {
  secruleupdatetargetbyid: 'updateTargetById',
  secruleupdatetargetbytag: 'updateTargetByTag',
  secruleupdatetargetbymsg: 'updateTargetByMsg',
  secruleremovebyid: 'removeById',
  secruleremovebytag: 'removeByTag',
  secruleremovebymsg: 'removeByMsg',
  secruleupdateactionbyid: 'updateActionById',
};

/** Parses the text of one file. `file` names it in issues and in the rules. */
export function parseSecLang(text: string, file: string, into?: ParsedRules): ParsedRules {
  const out: ParsedRules = into ?? { rules: [], updates: [], config: [], issues: [] };
  const { directives, issues } = lexSecLang(text);
  for (const issue of issues) out.issues.push({ file, ...issue });
  // The rule a `chain` action left open: the next SecRule joins it.
  let chainHead: ParsedRule | undefined;
  for (const d of directives) {
    const name = d.name.toLowerCase();
    try {
      if (name === 'secrule' || name === 'secaction') {
        const rule = name === 'secrule' ? parseRule(d, file) : parseAction(d, file);
        const chains = rule.actions.some((a) => a.name === 'chain');
        if (chainHead) {
          if (rule.kind !== 'rule') throw new Error('a chained rule must be a SecRule');
          chainHead.chained.push(rule);
          if (!chains) chainHead = undefined;
        } else {
          out.rules.push(rule);
          if (chains) chainHead = rule;
        }
      } else if (name === 'secmarker') {
        if (d.args.length !== 1) throw new Error('SecMarker takes one argument');
        out.rules.push({
          kind: 'marker',
          file,
          line: d.line,
          variables: [],
          actions: [],
          marker: d.args[0],
          chained: [],
        });
      } else if (name in UPDATE_DIRECTIVES) {
        out.updates.push({
          kind: UPDATE_DIRECTIVES[name],
          file,
          line: d.line,
          args: d.args,
          position: out.rules.length,
        });
      } else if (NEUTRAL_DIRECTIVES.has(name)) {
        out.config.push({ name: d.name, args: d.args, file, line: d.line });
      } else if (name === 'include' || name === 'includeoptional') {
        out.issues.push({
          file,
          line: d.line,
          message: `${d.name} is not followed: list the files to load instead`,
        });
      } else {
        out.issues.push({ file, line: d.line, message: `unknown directive ${d.name}` });
      }
    } catch (e) {
      out.issues.push({ file, line: d.line, message: `${d.name}: ${(e as Error).message}` });
    }
  }
  if (chainHead)
    out.issues.push({
      file,
      line: chainHead.line,
      message: 'the last rule of the file opens a chain that no rule follows',
    });
  return out;
}

function parseRule(d: Directive, file: string): ParsedRule {
  if (d.args.length < 2 || d.args.length > 3)
    throw new Error(`expected variables, operator and actions, got ${d.args.length} arguments`);
  return {
    kind: 'rule',
    file,
    line: d.line,
    variables: parseVariables(d.args[0]),
    operator: parseOperator(d.args[1]),
    actions: d.args.length === 3 ? parseActions(d.args[2]) : [],
    chained: [],
  };
}

function parseAction(d: Directive, file: string): ParsedRule {
  if (d.args.length !== 1) throw new Error(`expected one argument (the actions), got ${d.args.length}`);
  return { kind: 'action', file, line: d.line, variables: [], actions: parseActions(d.args[0]), chained: [] };
}

/** Reads `ARGS|!ARGS:foo|&TX:x|REQUEST_HEADERS:/^x-/|ARGS:'quoted'`. */
export function parseVariables(spec: string): VariableRef[] {
  const out: VariableRef[] = [];
  let p = 0;
  const n = spec.length;
  while (p < n) {
    while (p < n && (spec[p] === ' ' || spec[p] === '\t')) p++;
    let exclude = false;
    let count = false;
    if (spec[p] === '!') {
      exclude = true;
      p++;
    }
    if (spec[p] === '&') {
      count = true;
      p++;
    }
    const nameStart = p;
    while (p < n && spec[p] !== ':' && spec[p] !== '|') p++;
    const collection = spec.slice(nameStart, p).trim().toUpperCase();
    if (!/^[A-Z_0-9]+$/.test(collection))
      throw new Error(`bad variable name ${JSON.stringify(spec.slice(nameStart, p))}`);
    let key: string | undefined;
    let keyRegex: string | undefined;
    if (spec[p] === ':') {
      p++;
      let quoted = false;
      if (spec[p] === "'") {
        quoted = true;
        p++;
      }
      if (collection === 'XML') {
        // An XPath expression (`XML:/*`, `XML://@*`) runs to the next `|`.
        const start = p;
        while (p < n && spec[p] !== '|' && spec[p] !== "'") p++;
        key = spec.slice(start, p);
        if (quoted) p++;
      } else if (spec[p] === '/') {
        // A regular expression key runs to the next unescaped slash.
        p++;
        let re = '';
        while (p < n && spec[p] !== '/') {
          if (spec[p] === '\\' && p + 1 < n) {
            re += spec[p] + spec[p + 1];
            p += 2;
            continue;
          }
          re += spec[p];
          p++;
        }
        if (p >= n) throw new Error(`unterminated regular expression in ${JSON.stringify(spec)}`);
        p++;
        keyRegex = re;
        if (quoted) {
          if (spec[p] !== "'") throw new Error(`unterminated quote in ${JSON.stringify(spec)}`);
          p++;
        }
      } else if (quoted) {
        const end = spec.indexOf("'", p);
        if (end < 0) throw new Error(`unterminated quote in ${JSON.stringify(spec)}`);
        key = spec.slice(p, end);
        p = end + 1;
      } else {
        const start = p;
        while (p < n && spec[p] !== '|') p++;
        key = spec.slice(start, p).trim();
      }
    }
    while (p < n && (spec[p] === ' ' || spec[p] === '\t')) p++;
    if (p < n && spec[p] !== '|')
      throw new Error(`unexpected ${JSON.stringify(spec[p])} in variables ${JSON.stringify(spec)}`);
    p++;
    out.push({ collection, key, keyRegex, count, exclude });
  }
  if (out.length === 0) throw new Error('no variables');
  return out;
}

/** Reads `@rx pattern`, `!@pm a b`, or a bare pattern (an implicit `@rx`). */
export function parseOperator(spec: string): OperatorRef {
  let s = spec;
  let negated = false;
  if (s.startsWith('!')) {
    negated = true;
    s = s.slice(1);
  }
  if (!s.startsWith('@')) return { name: 'rx', negated, param: s };
  const m = /^@([A-Za-z0-9_]+)(?:\s+|$)/.exec(s);
  if (!m) throw new Error(`bad operator ${JSON.stringify(spec)}`);
  return { name: m[1], negated, param: s.slice(m[0].length) };
}

/** Reads `id:1,phase:2,t:none,msg:'a, b',setvar:'tx.x=+1',chain`. */
export function parseActions(spec: string): ActionRef[] {
  const out: ActionRef[] = [];
  let p = 0;
  const n = spec.length;
  while (p < n) {
    while (p < n && /\s/.test(spec[p])) p++;
    if (p >= n) break;
    const nameStart = p;
    while (p < n && spec[p] !== ':' && spec[p] !== ',') p++;
    const name = spec.slice(nameStart, p).trim();
    let value: string | undefined;
    if (spec[p] === ':') {
      p++;
      while (p < n && (spec[p] === ' ' || spec[p] === '\t')) p++;
      if (spec[p] === "'") {
        p++;
        let v = '';
        let closed = false;
        while (p < n) {
          if (spec[p] === '\\' && spec[p + 1] === "'") {
            v += "'";
            p += 2;
            continue;
          }
          if (spec[p] === "'") {
            closed = true;
            p++;
            break;
          }
          v += spec[p];
          p++;
        }
        if (!closed) throw new Error(`unterminated quote in action ${name}`);
        value = v;
        while (p < n && spec[p] !== ',') p++;
      } else {
        const start = p;
        while (p < n && spec[p] !== ',') p++;
        value = spec.slice(start, p).trim();
      }
    }
    if (spec[p] === ',') p++;
    if (name === '') throw new Error(`empty action in ${JSON.stringify(spec)}`);
    out.push({ name: name.toLowerCase() === 't' ? 't' : name, value });
  }
  return out;
}

/** Parses several files in order into one rule list. */
export function parseSecLangFiles(files: readonly { name: string; text: string }[]): ParsedRules {
  const out: ParsedRules = { rules: [], updates: [], config: [], issues: [] };
  for (const f of files) parseSecLang(f.text, f.name, out);
  return out;
}
