/**
 * Compiles parsed SecLang rules into an evaluator of the request phases (1 and 2, then the logging
 * phase 5 for the correlation rules), with libmodsecurity's semantics: per-value matching and per-value
 * `setvar`, chains, `skipAfter`/`SecMarker`, `ctl` exclusions, `multiMatch`, `capture`, macro expansion.
 * Everything that depends only on the rules is done here, once; a request runs only what was compiled.
 */

import { hash, randomBytes } from 'node:crypto';
import {
  type ActionRef,
  type ParsedRule,
  type ParsedRules,
  parseVariables,
  type VariableRef,
} from '../seclang/parse.ts';
import type {
  CompiledRuleSet,
  RuleLoadIssue,
  WafExclusions,
  WafMatch,
  WafRequest,
  WafVerdict,
} from '../types.ts';
import { compileKeywords, type KeywordAutomaton } from './aho-corasick.ts';
import { type CompiledOperator, compileOperator, OperatorError, type OperatorResult } from './operators.ts';
import { compileRegex } from './regex.ts';
import {
  type BodyProcessor,
  type Collections,
  type Entry,
  entry,
  type JsonReading,
  readRequestBody,
  readRequestHeaders,
  type ValueMemo,
} from './request.ts';
import {
  ALL_CHARS,
  CHAR,
  charClasses,
  TRANSFORM_TRIGGERS,
  TRANSFORMS,
  type Transform,
  urlDecodeUni,
} from './transforms.ts';

interface Target {
  readonly collection: string;
  readonly key?: string;
  readonly keyLower?: string;
  readonly keyRegex?: { test(s: string): boolean };
  readonly count: boolean;
  /** `ARGS` or `ARGS:foo` as written, for ctl target removal. */
  readonly fullName: string;
  /** The variable name a count reports (`&TX:foo`). */
  readonly countName: string;
  /** For `TX:name`: the variable name its value reports (`TX:name`, lower case as TX keys are). */
  readonly txName: string | undefined;
  /**
   * For `COLLECTION:key` on a collection of the request: the number of that (collection, key) pair, whose
   * entries an evaluation selects once for every rule naming it; -1 otherwise.
   */
  keyId: number;
}

/**
 * Collection names as string literals: the engine compares them and looks them up in the request's
 * collections on every rule, and a literal (an internalized string) compares by pointer.
 */
const COLLECTION_NAMES = [
  'ARGS',
  'ARGS_COMBINED_SIZE',
  'ARGS_GET',
  'ARGS_GET_NAMES',
  'ARGS_NAMES',
  'ARGS_POST',
  'ARGS_POST_NAMES',
  'DURATION',
  'FILES',
  'FILES_COMBINED_SIZE',
  'FILES_NAMES',
  'FILES_SIZES',
  'INBOUND_DATA_ERROR',
  'MULTIPART_PART_HEADERS',
  'MULTIPART_STRICT_ERROR',
  'MULTIPART_UNMATCHED_BOUNDARY',
  'PATH_INFO',
  'QUERY_STRING',
  'REMOTE_ADDR',
  'REMOTE_HOST',
  'REQBODY_ERROR',
  'REQBODY_ERROR_MSG',
  'REQBODY_PROCESSOR',
  'REQBODY_PROCESSOR_ERROR',
  'REQUEST_BASENAME',
  'REQUEST_BODY',
  'REQUEST_BODY_LENGTH',
  'REQUEST_COOKIES',
  'REQUEST_COOKIES_NAMES',
  'REQUEST_FILENAME',
  'REQUEST_HEADERS',
  'REQUEST_HEADERS_NAMES',
  'REQUEST_LINE',
  'REQUEST_METHOD',
  'REQUEST_PROTOCOL',
  'REQUEST_URI',
  'REQUEST_URI_RAW',
  'UNIQUE_ID',
  'URLENCODED_ERROR',
  'XML',
  'TX',
  'MATCHED_VAR',
  'MATCHED_VAR_NAME',
  'MATCHED_VARS',
  'MATCHED_VARS_NAMES',
  'IP',
  'GLOBAL',
  'SESSION',
  'USER',
  'RESOURCE',
];
const CANONICAL_COLLECTIONS = new Map(COLLECTION_NAMES.map((n) => [n, n]));

/** The literal spelling of a collection name when it is a known one. */
function canonicalCollection(name: string): string {
  return CANONICAL_COLLECTIONS.get(name) ?? name;
}

interface Exclusion {
  readonly collection: string;
  readonly keyLower?: string;
  readonly keyRegex?: { test(s: string): boolean };
}

interface SetVar {
  readonly collection: string;
  readonly name: Macro;
  /** The name in lower case when it has no macro. */
  readonly nameLower: string | undefined;
  readonly op: '=' | '+' | '-' | 'unset';
  readonly value: Macro;
}

interface Ctl {
  readonly name: string;
  readonly value: Macro;
}

/** One `%{COLLECTION.key}` reference of a macro. */
interface MacroRef {
  /** Upper case. */
  readonly collection: string;
  readonly key: string | undefined;
}

/** A text with macros, split once at load: literal pieces and references (`parts` undefined: no macro). */
interface Macro {
  readonly text: string;
  readonly parts: ReadonlyArray<string | MacroRef> | undefined;
}

/** Splits `%{tx.a}/%{MATCHED_VAR}` into literals and references, as the per-request expansion reads them. */
export function compileMacro(text: string): Macro {
  if (!text.includes('%{')) return { text, parts: undefined };
  const parts: Array<string | MacroRef> = [];
  const re = /%\{([^}]{1,200})\}/g;
  let last = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    if (m.index > last) parts.push(text.slice(last, m.index));
    const ref = m[1];
    const dot = ref.indexOf('.');
    parts.push({
      collection: (dot < 0 ? ref : ref.slice(0, dot)).toUpperCase(),
      key: dot < 0 ? undefined : ref.slice(dot + 1),
    });
    last = re.lastIndex;
  }
  // A `%{` that is no macro still expands (to itself), as the per-request expansion always did.
  if (last < text.length) parts.push(text.slice(last));
  return { text, parts };
}

/** Collections that change while a phase runs or are not the request's: rules reading them are never skipped. */
const LIVE_COLLECTIONS = new Set([
  'TX',
  'MATCHED_VAR',
  'MATCHED_VAR_NAME',
  'MATCHED_VARS',
  'MATCHED_VARS_NAMES',
  'IP',
  'GLOBAL',
  'SESSION',
  'USER',
  'RESOURCE',
]);

/**
 * @pm operators with at most this many phrases join the shared prefilter automaton: CRS's data files
 * (at most ~2,000 phrases each) all do. One pass of the larger shared table over a value costs less than a
 * pass of each @pmFromFile's own automaton (measured: 1 KB JSON POST at PL1 ~10% faster).
 */
const PM_PREFILTER_MAX = 20_000;

const PERSISTENT_COLLECTIONS = new Set(['IP', 'GLOBAL', 'SESSION', 'USER', 'RESOURCE']);

/** The TX of a program that decided nothing at load. */
const NO_TX: ReadonlyMap<string, string> = new Map();

/** An empty entry list that is never written to. */
const NO_ENTRIES: Entry[] = [];

/** One compiled rule (a chain link). */
interface Rule {
  readonly id: number;
  readonly phase: number;
  readonly file: string;
  readonly line: number;
  readonly targets: Target[];
  readonly exclusions: Exclusion[];
  readonly operator: CompiledOperator | undefined;
  readonly transforms: readonly Transform[];
  /** The transformation chain's id (chains are interned as a tree of prefixes; 0 is no transformation). */
  readonly chainId: number;
  /** The chain ids of every prefix of the chain, no transformation first (what multiMatch tries). */
  readonly chainPrefixes: readonly number[];
  readonly multiMatch: boolean;
  readonly capture: boolean;
  readonly setvars: readonly SetVar[];
  readonly ctls: readonly Ctl[];
  readonly msg?: Macro;
  readonly logdata?: Macro;
  readonly severity?: string;
  readonly tags: readonly string[];
  readonly tagSet: ReadonlySet<string>;
  readonly log: boolean;
  readonly disruptive?: 'deny' | 'drop' | 'redirect' | 'allow' | 'pass' | 'block';
  readonly skipAfter?: string;
  readonly skip: number;
  readonly chained?: Rule;
  /**
   * Whether the next chain link reads MATCHED_VARS or MATCHED_VARS_NAMES: only then are the values this
   * link matched kept as entries (no other rule sees them: each rule starts with none).
   */
  readonly keepMatched: boolean;
  readonly paranoiaLevel?: number;
  /** Index of this rule's literal prefilter (the factors of its @rx, the phrases of its @pm), or -1. */
  prefilter: number;
  /**
   * For a head rule a request may skip when no value of these collections, through the rule's
   * transformations, holds one of its prefilter strings: only rules whose every target is a request
   * collection (never TX, MATCHED_*, counts or persistent collections). A multiMatch rule is asked on
   * the pairs of every prefix of its chain (its operator runs on the value after each).
   */
  skipCollections: readonly string[] | undefined;
  /**
   * For such a rule, its (collection, transformation chain) pairs, numbered at load: an evaluation unites
   * the prefilter answers of each pair's values once, for every rule reading that pair.
   */
  skipPairs: Int32Array | undefined;
  /**
   * For such a rule, the pair of each of its targets (by the target's index): a target none of whose
   * collection's values holds the prefilter is passed over without looking at its values (not for
   * multiMatch rules: their values are asked per prefix of the chain, in matchTargets).
   */
  targetPairs: Int32Array | undefined;
  /** Rule is an attack rule (tag attack-*), skipped on schema-typed arguments. */
  readonly attack: boolean;
  /** The operator's parameter as a macro (its references decide whether the rule depends on the request). */
  readonly opParam: Macro | undefined;
  /**
   * The number of this link's operator among those whose answer depends on the value alone (a parameter
   * without macros): a header, cookie or argument-name value's memo remembers that it did not match (-1:
   * not such a link).
   */
  opMemo: number;
}

/** A rule, with where its skipAfter lands (the index of the next marker of that name, or the end). */
type Step =
  | { kind: 'rule'; rule: Rule; skipTo: number }
  | { kind: 'marker'; name: string }
  /** Where a rule folded at load would have written pending captures into TX (it read TX). */
  | { kind: 'settle' };

/** Whether a rule reads the values the previous chain link matched. */
function readsMatchedVars(rule: Rule): boolean {
  return rule.targets.some((x) => x.collection === 'MATCHED_VARS' || x.collection === 'MATCHED_VARS_NAMES');
}

/** Engine options: the body and argument limits CRS deployments set (modsecurity.conf). */
export interface EngineOptions {
  readonly argumentsLimit?: number;
  readonly jsonDepthLimit?: number;
  /**
   * Inspect JSON and XML bodies (the `ctl:requestBodyProcessor=JSON` and `=XML` rules of
   * modsecurity.conf); default true.
   */
  readonly jsonBodies?: boolean;
  /** Body bytes inspected (SecRequestBodyNoFilesLimit); default 131072. */
  readonly requestBodyLimit?: number;
  /**
   * SecUnicodeMapFile: the best-fit byte of each code point `t:urlDecodeUni` gives for `%uXXXX`
   * (transforms.ts readUnicodeMap); without it, the low byte, as libmodsecurity does without the file.
   */
  readonly unicodeMap?: Uint8Array;
}

const SEVERITIES = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'];

/** Names a key regex has answered for, per regex (TX names repeat on every request). */
const KEY_MEMO_SIZE = 1024;

/** A regex test on variable names, remembering up to KEY_MEMO_SIZE answers (then testing afresh). */
function memoizedTest(re: { test(s: string): boolean }): { test(s: string): boolean } {
  const memo = new Map<string, boolean>();
  return {
    test(s) {
      let r = memo.get(s);
      if (r === undefined) {
        r = re.test(s);
        if (memo.size < KEY_MEMO_SIZE) memo.set(s, r);
      }
      return r;
    },
  };
}

function parseTargets(vars: readonly VariableRef[]): { targets: Target[]; exclusions: Exclusion[] } {
  const targets: Target[] = [];
  const exclusions: Exclusion[] = [];
  for (const v of vars) {
    const keyRegex = v.keyRegex !== undefined ? memoizedTest(compileRegex(`(?i)${v.keyRegex}`)) : undefined;
    const collection = canonicalCollection(v.collection);
    if (v.exclude) exclusions.push({ collection, keyLower: v.key?.toLowerCase(), keyRegex });
    else {
      const fullName =
        v.key !== undefined
          ? `${v.collection}:${v.key}`
          : v.keyRegex !== undefined
            ? `${v.collection}:/${v.keyRegex}/`
            : v.collection;
      targets.push({
        collection,
        key: v.key,
        keyLower: v.key?.toLowerCase(),
        keyRegex,
        count: v.count,
        fullName,
        countName: fullName.startsWith('&') ? fullName : `&${fullName}`,
        txName: collection === 'TX' && v.key !== undefined ? `TX:${v.key.toLowerCase()}` : undefined,
        keyId: -1,
      });
    }
  }
  return { targets, exclusions };
}

function parseSetVar(value: string): SetVar {
  let s = value;
  if (s.startsWith('!')) {
    const [coll, ...rest] = s.slice(1).split('.');
    const name = compileMacro(rest.join('.'));
    return {
      collection: coll.toLowerCase(),
      name,
      nameLower: name.parts === undefined ? name.text.toLowerCase() : undefined,
      op: 'unset',
      value: compileMacro(''),
    };
  }
  const eq = s.indexOf('=');
  let op: SetVar['op'] = '=';
  let val = '1';
  if (eq >= 0) {
    val = s.slice(eq + 1);
    s = s.slice(0, eq);
    if (val.startsWith('+')) {
      op = '+';
      val = val.slice(1);
    } else if (val.startsWith('-')) {
      op = '-';
      val = val.slice(1);
    }
  }
  const dot = s.indexOf('.');
  if (dot < 0) throw new Error(`setvar ${JSON.stringify(value)} names no collection`);
  const name = compileMacro(s.slice(dot + 1));
  return {
    collection: s.slice(0, dot).toLowerCase(),
    name,
    nameLower: name.parts === undefined ? name.text.toLowerCase() : undefined,
    op,
    value: compileMacro(val),
  };
}

/** Compiles a rule list; issues are collected by file and line. */
export function compileRules(
  parsed: ParsedRules,
  readData: (ruleFile: string, dataFile: string) => string,
  options: EngineOptions,
  version: string | undefined,
): { ruleSet: CompiledRuleSet; issues: RuleLoadIssue[] } {
  const issues: RuleLoadIssue[] = [...parsed.issues];
  // Default actions per phase (SecDefaultAction): only the disruptive action matters for `block`.
  const defaultDisruptive = new Map<number, Rule['disruptive']>();
  for (const d of parsed.config) {
    if (d.name.toLowerCase() !== 'secdefaultaction') continue;
    const acts = d.args[0] ?? '';
    const phase = /phase:(\d)/.exec(acts)?.[1];
    const dis = /(^|,)\s*(deny|drop|pass|redirect|allow)\b/.exec(acts)?.[2] as Rule['disruptive'];
    if (phase) defaultDisruptive.set(Number(phase), dis ?? 'pass');
  }

  const updates = parsed.updates;
  const removedIds = new Set<number>();
  const removedTags = new Set<string>();
  const extraTargets = new Map<number, VariableRef[][]>();
  for (const u of updates) {
    try {
      if (u.kind === 'removeById') {
        for (const a of u.args.join(' ').split(/[\s,]+/)) {
          const r = /^(\d+)(?:-(\d+))?$/.exec(a);
          if (!r) continue;
          const to = r[2] ? Number(r[2]) : Number(r[1]);
          for (let id = Number(r[1]); id <= to && id - Number(r[1]) < 100000; id++) removedIds.add(id);
        }
      } else if (u.kind === 'removeByTag') removedTags.add(u.args[0]);
      else if (u.kind === 'updateTargetById') {
        const id = Number(u.args[0]);
        const list = extraTargets.get(id) ?? [];
        list.push(parseVariables(u.args[1]));
        extraTargets.set(id, list);
      } else issues.push({ file: u.file, line: u.line, message: `${u.kind} is not supported` });
    } catch (e) {
      issues.push({ file: u.file, line: u.line, message: (e as Error).message });
    }
  }

  // Transformation chains as a tree of prefixes: chain k applies chainTransform[k] to chainParent[k]'s result.
  const chainParent: number[] = [-1];
  const chainTransform: Transform[] = [(s) => s];
  // Steps that only change ASCII letter case: the prefilter automaton, which folds case, answers alike.
  const chainCaseOnly: boolean[] = [false];
  // The character classes chain k's last step acts on, and those of all its steps: a value holding none of
  // them comes out of the step (of the chain) unchanged.
  const stepTrigger: number[] = [0];
  const chainTrigger: number[] = [0];
  // The classes a value must hold for chain k to change more than its ASCII letter case (`plainClasses`).
  const chainPlain: number[] = [0];
  const chainIds = new Map<string, number>();
  const chainOf = (names: readonly string[], fns: readonly Transform[]): number => {
    let id = 0;
    for (let i = 0; i < names.length; i++) {
      const key = `${id}/${names[i]}`;
      let k = chainIds.get(key);
      if (k === undefined) {
        k = chainParent.length;
        chainParent.push(id);
        chainTransform.push(fns[i]);
        chainCaseOnly.push(names[i] === 'lowercase' || names[i] === 'uppercase');
        const trigger = TRANSFORM_TRIGGERS.get(names[i]) ?? ALL_CHARS;
        stepTrigger.push(trigger);
        chainTrigger.push(chainTrigger[id] | trigger);
        chainPlain.push(plainClasses(names.slice(0, i + 1)));
        chainIds.set(key, k);
      }
      id = k;
    }
    return id;
  };
  const compileOne = (
    p: ParsedRule,
    head: ParsedRule | undefined,
    headId: number,
    headPhase: number,
  ): Rule => {
    let id = headId;
    let phase = headPhase;
    const transforms: Transform[] = [];
    const transformNames: string[] = [];
    let multiMatch = false;
    let capture = false;
    const setvars: SetVar[] = [];
    const ctls: Ctl[] = [];
    const tags: string[] = [];
    let msg: string | undefined;
    let logdata: string | undefined;
    let severity: string | undefined;
    let log = true;
    let disruptive: Rule['disruptive'];
    let skipAfter: string | undefined;
    let skip = 0;
    for (const a of p.actions as ActionRef[]) {
      const v = a.value ?? '';
      switch (a.name.toLowerCase()) {
        case 'id':
          id = Number(v);
          break;
        case 'phase':
          phase = v === 'request' ? 2 : v === 'response' ? 4 : v === 'logging' ? 5 : Number(v);
          break;
        case 't': {
          if (v.toLowerCase() === 'none') {
            transforms.length = 0;
            transformNames.length = 0;
            break;
          }
          const map = options.unicodeMap;
          const t =
            map !== undefined && v.toLowerCase() === 'urldecodeuni'
              ? (s: string) => urlDecodeUni(s, map)
              : TRANSFORMS.get(v.toLowerCase());
          if (!t)
            issues.push({ file: p.file, line: p.line, message: `unknown transformation t:${v} (ignored)` });
          else {
            transforms.push(t);
            transformNames.push(v.toLowerCase());
          }
          break;
        }
        case 'multimatch':
          multiMatch = true;
          break;
        case 'capture':
          capture = true;
          break;
        case 'setvar':
          try {
            setvars.push(parseSetVar(v));
          } catch (e) {
            issues.push({ file: p.file, line: p.line, message: (e as Error).message });
          }
          break;
        case 'ctl': {
          const eq = v.indexOf('=');
          ctls.push({ name: v.slice(0, eq).toLowerCase(), value: compileMacro(v.slice(eq + 1)) });
          break;
        }
        case 'tag':
          tags.push(v);
          break;
        case 'msg':
          msg = v;
          break;
        case 'logdata':
          logdata = v;
          break;
        case 'severity':
          severity = /^\d$/.test(v) ? SEVERITIES[Number(v)] : v.toUpperCase();
          break;
        case 'nolog':
          log = false;
          break;
        case 'log':
          log = true;
          break;
        case 'deny':
        case 'drop':
        case 'redirect':
        case 'allow':
        case 'pass':
        case 'block':
          disruptive = a.name.toLowerCase() as Rule['disruptive'];
          break;
        case 'skipafter':
          skipAfter = v;
          break;
        case 'skip':
          skip = Number(v) || 0;
          break;
        case 'chain':
        case 'ver':
        case 'rev':
        case 'auditlog':
        case 'noauditlog':
        case 'status':
        case 'maturity':
        case 'accuracy':
        case 'initcol':
        case 'expirevar':
        case 'setsid':
        case 'setuid':
        case 'sanitisearg':
        case 'sanitisematched':
          break;
        default:
          issues.push({ file: p.file, line: p.line, message: `unknown action ${a.name} (ignored)` });
      }
    }
    const extra = head === undefined ? (extraTargets.get(id) ?? []) : [];
    const { targets, exclusions } = parseTargets([...p.variables, ...extra.flat()]);
    let operator: CompiledOperator | undefined;
    if (p.operator) {
      try {
        operator = compileOperator(
          p.operator.name,
          p.operator.negated,
          p.operator.param,
          (file) => readData(p.file, file),
          (message) => issues.push({ file: p.file, line: p.line, message: `rule ${id}: ${message}` }),
        );
      } catch (e) {
        if (!(e instanceof OperatorError) && !(e instanceof Error)) throw e;
        issues.push({
          file: p.file,
          line: p.line,
          message: `rule ${id}: ${(e as Error).message}; the rule never matches`,
        });
        operator = { name: 'noMatch', negated: false, run: () => ({ matched: false }) };
      }
    }
    const plTag = tags.find((t) => t.startsWith('paranoia-level/'));
    const chainedParsed = head === undefined ? p.chained : [];
    let chained: Rule | undefined;
    // Chain links are compiled last to first so each knows its successor.
    if (chainedParsed.length > 0) {
      let next: Rule | undefined;
      for (let k = chainedParsed.length - 1; k >= 0; k--) {
        const link = compileOne(chainedParsed[k], p, id, phase);
        next = next ? { ...link, chained: next, keepMatched: readsMatchedVars(next) } : link;
      }
      chained = next;
    }
    const rule: Rule = {
      id,
      phase,
      file: p.file,
      line: p.line,
      targets,
      exclusions,
      operator,
      transforms,
      chainId: chainOf(transformNames, transforms),
      chainPrefixes: transformNames
        .map((_, k) => chainOf(transformNames.slice(0, k), transforms))
        .concat(chainOf(transformNames, transforms)),
      multiMatch,
      capture,
      setvars,
      ctls,
      msg: msg ? compileMacro(msg) : undefined,
      logdata: logdata ? compileMacro(logdata) : undefined,
      severity,
      tags,
      tagSet: new Set(tags),
      log,
      disruptive,
      skipAfter,
      skip,
      chained,
      keepMatched: chained !== undefined && readsMatchedVars(chained),
      paranoiaLevel: plTag ? Number(plTag.slice('paranoia-level/'.length)) : undefined,
      prefilter: -1,
      skipCollections: undefined,
      skipPairs: undefined,
      targetPairs: undefined,
      attack: tags.some((t) => t.startsWith('attack-')),
      opParam: p.operator ? compileMacro(p.operator.param) : undefined,
      opMemo: -1,
    };
    return rule;
  };

  const phases = new Map<number, Step[]>([
    [1, []],
    [2, []],
    [5, []],
  ]);
  let ruleCount = 0;
  for (const p of parsed.rules) {
    if (p.kind === 'marker') {
      for (const list of phases.values()) list.push({ kind: 'marker', name: p.marker ?? '' });
      continue;
    }
    const rule = compileOne(p, undefined, 0, 2);
    if (removedIds.has(rule.id) || rule.tags.some((t) => removedTags.has(t))) continue;
    ruleCount++;
    phases.get(rule.phase)?.push({ kind: 'rule', rule, skipTo: -1 });
  }

  // skipAfter resolved once: the first marker of that name after the rule, or the end of the phase.
  for (const steps of phases.values()) {
    steps.forEach((step, i) => {
      if (step.kind !== 'rule' || !step.rule.skipAfter) return;
      const name = step.rule.skipAfter;
      const at = steps.findIndex((m, k) => k > i && m.kind === 'marker' && m.name === name);
      step.skipTo = at < 0 ? steps.length : at;
    });
  }

  // One automaton over the literal factors of every @rx and the phrases of every @pm: one pass over a value
  // tells which rules can match it at all.
  const factorList: string[] = [];
  const factorIndex = new Map<string, number>();
  const factorRules: number[][] = [];
  let prefilters = 0;
  // The strings of each prefilter (one of them is in every value its operator can match).
  const prefilterStrings: Array<readonly string[]> = [];
  const withPrefilter = (r: Rule) => {
    const op = r.operator;
    if (!op || op.negated) return;
    const strings =
      op.regex?.factors ?? (op.phrases && op.phrases.length <= PM_PREFILTER_MAX ? op.phrases : undefined);
    if (!strings || strings.length === 0) return;
    r.prefilter = prefilters++;
    prefilterStrings.push(strings);
    for (const f of strings) {
      const lower = f.replace(/[A-Z]/g, (c) => c.toLowerCase());
      let k = factorIndex.get(lower);
      if (k === undefined) {
        k = factorList.length;
        factorList.push(lower);
        factorIndex.set(lower, k);
        factorRules.push([]);
      }
      const list = factorRules[k];
      if (list[list.length - 1] !== r.prefilter) list.push(r.prefilter);
    }
  };
  // The (collection, chain) pairs skippable rules read.
  const pairIds = new Map<string, number>();
  const pairColl: string[] = [];
  const pairChain: number[] = [];
  const pairOf = (coll: string, chainId: number) => {
    const name = `${coll}/${chainId}`;
    let k = pairIds.get(name);
    if (k === undefined) {
      k = pairColl.length;
      pairIds.set(name, k);
      pairColl.push(coll);
      pairChain.push(chainId);
    }
    return k;
  };
  for (const steps of phases.values()) {
    for (const step of steps) {
      if (step.kind !== 'rule') continue;
      for (let link: Rule | undefined = step.rule; link; link = link.chained) withPrefilter(link);
      const r = step.rule;
      if (
        r.prefilter < 0 ||
        r.targets.length === 0 ||
        r.targets.some((x) => x.count || LIVE_COLLECTIONS.has(x.collection))
      )
        continue;
      r.skipCollections = [...new Set(r.targets.map((x) => x.collection))];
      if (r.multiMatch) {
        // The operator runs on the value after each prefix of the chain (the untransformed value first): it
        // can match only if one of those holds a prefilter string, so the rule is asked on the pairs of
        // every prefix. Most of them are other rules' pairs too (gathered once per request for all).
        const chains = [...new Set(r.chainPrefixes)];
        r.skipPairs = Int32Array.from(
          r.skipCollections.flatMap((coll) => chains.map((c) => pairOf(coll, c))),
        );
        continue;
      }
      r.skipPairs = Int32Array.from(r.skipCollections, (coll) => pairOf(coll, r.chainId));
      r.targetPairs = Int32Array.from(r.targets, (x) => pairOf(x.collection, r.chainId));
    }
  }
  // Each pair's collection through no transformation (a pair of its own, made when no rule reads it so), and the
  // collection's number: a pair whose chain changes no value of its collection but for letter case is gathered
  // as that one (`gatherPair`).
  const readPairs = pairColl.length;
  for (let k = 0; k < readPairs; k++) pairOf(pairColl[k], 0);
  const pairBase = Int32Array.from(pairColl, (coll) => pairOf(coll, 0));
  const collIds = new Map<string, number>();
  const pairCollId = Int32Array.from(pairColl, (coll) => {
    let c = collIds.get(coll);
    if (c === undefined) {
      c = collIds.size;
      collIds.set(coll, c);
    }
    return c;
  });
  // `COLLECTION:key` targets on request collections, numbered by (collection, key).
  const keyIds = new Map<string, number>();
  for (const steps of phases.values()) {
    for (const step of steps) {
      if (step.kind !== 'rule') continue;
      for (let link: Rule | undefined = step.rule; link; link = link.chained) {
        for (const x of link.targets) {
          if (x.keyLower === undefined || LIVE_COLLECTIONS.has(x.collection)) continue;
          const name = `${x.collection}:${x.keyLower}`;
          let k = keyIds.get(name);
          if (k === undefined) {
            k = keyIds.size;
            keyIds.set(name, k);
          }
          x.keyId = k;
        }
      }
    }
  }
  // Operators whose answer depends on the value alone, numbered for the memo of header, cookie and name values.
  let opMemos = 0;
  for (const steps of phases.values()) {
    for (const step of steps) {
      if (step.kind !== 'rule') continue;
      for (let link: Rule | undefined = step.rule; link; link = link.chained)
        if (link.operator !== undefined && link.opParam?.parts === undefined && link.opMemo < 0)
          link.opMemo = opMemos++;
    }
  }
  // The prefilters of links that read REQUEST_BODY, with those of their strings that hold a character a JSON
  // body has between its tokens (see `verbatimBodyHits`).
  const bodyGlue: BodyGlue[] = [];
  for (const steps of phases.values()) {
    for (const step of steps) {
      if (step.kind !== 'rule') continue;
      for (let link: Rule | undefined = step.rule; link; link = link.chained) {
        const p = link.prefilter;
        if (p < 0 || bodyGlue.some((g) => g.prefilter === p)) continue;
        if (!link.targets.some((x) => x.collection === 'REQUEST_BODY')) continue;
        const lower = prefilterStrings[p].map((f) => f.replace(/[A-Z]/g, (c) => c.toLowerCase()));
        const glue = (f: string) => /["{}[\]:,]/.test(f) || /^[ \t\n\r]+$/.test(f);
        bodyGlue.push({
          prefilter: p,
          glue: lower.filter(glue),
          spaced: lower.filter((f) => !glue(f) && /[ \t\n\r]/.test(f)),
        });
      }
    }
  }
  // The automaton reports rules (prefilters), not factors: one step less per value.
  const automaton = factorList.length > 0 ? compileKeywords(factorList, factorRules) : undefined;

  const engine = new Engine({
    phases,
    defaultDisruptive,
    options,
    automaton,
    prefilters,
    keyTargets: keyIds.size,
    opMemos,
    pairColl,
    pairChain: Int32Array.from(pairChain),
    pairBase,
    pairCollId,
    collections: collIds.size,
    chainParent: Int32Array.from(chainParent),
    chainTransform,
    chainCaseOnly: Uint8Array.from(chainCaseOnly, (x) => (x ? 1 : 0)),
    stepTrigger: Int32Array.from(stepTrigger),
    chainTrigger: Int32Array.from(chainTrigger),
    chainPlain: Int32Array.from(chainPlain),
    bodyGlue,
  });
  const files = [...new Set(parsed.rules.map((r) => r.file))];
  return {
    ruleSet: {
      version,
      ruleCount,
      files,
      foldedIds: engine.folded,
      valueMemoSize: () => engine.memoSize,
      evaluate: (request, exclusions) => engine.evaluate(request, exclusions),
    },
    issues,
  };
}

/** Whether two strings are the same but for the case of ASCII letters. */
function sameFoldingCase(a: string, b: string): boolean {
  if (a === b) return true;
  const n = a.length;
  if (b.length !== n) return false;
  for (let i = 0; i < n; i++) {
    const x = String.prototype.charCodeAt.call(a, i);
    const y = String.prototype.charCodeAt.call(b, i);
    if (x !== y && ((x | 0x20) !== (y | 0x20) || (x | 0x20) < 0x61 || (x | 0x20) > 0x7a)) return false;
  }
  return true;
}

/**
 * The character classes a value must hold for a transformation chain (SecLang names, lower case) to change it
 * more than in the case of its ASCII letters: a value holding none of them comes out of the chain the same but
 * for letter case, so that its prefilter answer through the chain is its own (the automaton folds ASCII case).
 * Per step: nothing for `lowercase` and `uppercase`; for `cmdLine`, what it acts on but upper-case letters
 * (without `\ " ' ^ , ;` and white space it only lowers them); every other step's whole trigger. A step after
 * one that may have changed letter case sees other letters than the value's: when it acts on letters, a value
 * with letters is not plain.
 */
export function plainClasses(names: readonly string[]): number {
  let plain = 0;
  let cases = false;
  for (const name of names) {
    const trigger = TRANSFORM_TRIGGERS.get(name) ?? ALL_CHARS;
    const own =
      name === 'lowercase' || name === 'uppercase' ? 0 : name === 'cmdline' ? trigger & ~CHAR.upper : trigger;
    if (cases && (own & (CHAR.upper | CHAR.lower)) !== 0) plain |= CHAR.upper | CHAR.lower;
    plain |= own;
    cases ||= own !== trigger;
  }
  return plain;
}

/** The classes of what a JSON body holds besides its tokens: punctuation, white space, the letters of `null`. */
const JSON_GLUE_CLASSES = charClasses('{}[]:,"null \t\n\r');

/** Thrown when a ctl removes a folded rule: the evaluation starts again with the whole program. */
const RESTART_UNFOLDED = new Error('a ctl removed a rule folded at load');

/** Whether a removed target (`ctl:ruleRemoveTargetById=id;TX:x`) may be one of TX. */
function readsTx(target: string | undefined): boolean {
  return (target ?? '').trim().toLowerCase().replace(/^&/, '').startsWith('tx');
}

/** Rows of the hit table one evaluation may fill; past them, values count as holding every string. */
const MAX_HIT_ROWS = 8192;
/** Hit-table rows that are always there: nothing found, everything found. */
const NO_HITS = 0;
const ALL_HITS = 1;

/** Everything the engine needs, compiled once. */
interface EngineParts {
  readonly phases: Map<number, Step[]>;
  readonly defaultDisruptive: Map<number, Rule['disruptive']>;
  readonly options: EngineOptions;
  readonly automaton: KeywordAutomaton | undefined;
  readonly prefilters: number;
  readonly keyTargets: number;
  readonly opMemos: number;
  readonly pairColl: readonly string[];
  readonly pairChain: Int32Array;
  readonly pairBase: Int32Array;
  readonly pairCollId: Int32Array;
  readonly collections: number;
  readonly chainParent: Int32Array;
  readonly chainTransform: readonly Transform[];
  readonly chainCaseOnly: Uint8Array;
  readonly stepTrigger: Int32Array;
  readonly chainTrigger: Int32Array;
  readonly chainPlain: Int32Array;
  readonly bodyGlue: readonly BodyGlue[];
}

/**
 * A prefilter of a link that reads REQUEST_BODY, and its strings (lower case) that hold a character a JSON
 * body has between tokens: a quote or one of `{}[]:,`, or nothing but white space (`glue`, looked for in
 * every such body); else some white space (`spaced`, looked for when white space separates tokens).
 */
interface BodyGlue {
  readonly prefilter: number;
  readonly glue: readonly string[];
  readonly spaced: readonly string[];
}

/**
 * Bounds of the cross-request memo of header and cookie values (keyed by client input): values, their
 * length, and the bytes all memos hold (values, operator cells, prefilter lists). Past them the oldest values
 * are forgotten; a longer value is not memoized. Names' memos are held by their lists (NAME_LIST_BYTES).
 */
const VALUE_MEMO_ENTRIES = 2048;
const VALUE_MEMO_MAX_VALUE = 8192;
const VALUE_MEMO_BYTES = 4 * 1024 * 1024;
/**
 * Values one request may memoize (the first ones): so that a request cannot evict memos its own entries
 * still use, nor flush the memo, and many distinct headers cost no more bookkeeping than 64 do.
 */
const VALUE_MEMO_PER_REQUEST = 64;
/**
 * Memos are found by a salted SHA-256 of the value, never by the value itself: header values hold bearer
 * tokens, API keys and session cookies, which must not outlive their request in the process's memory. The
 * salt is per process, so a digest cannot be looked up elsewhere.
 */
const VALUE_MEMO_SALT = randomBytes(24).toString('base64');
/**
 * Request headers whose values carry no credential, key or session (the browser's and HTTP's own): their
 * memos are found by the value itself, without the ~1 us salted digest each other value costs (~10 us per
 * request over the usual headers). Referer is not one (a URL may carry a token in its query), nor any
 * header an API may define (X-API-Key...), nor Authorization, Cookie, Proxy-Authorization.
 */
const PLAIN_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'user-agent',
  'accept',
  'accept-encoding',
  'accept-language',
  'accept-charset',
  'content-type',
  'content-length',
  'connection',
  'cache-control',
  'pragma',
  'origin',
  'te',
  'upgrade-insecure-requests',
  'sec-fetch-dest',
  'sec-fetch-mode',
  'sec-fetch-site',
  'sec-fetch-user',
  'sec-ch-ua',
  'sec-ch-ua-mobile',
  'sec-ch-ua-platform',
  'dnt',
]);

/** The collections whose values are memoized across requests one by one: they repeat in real traffic. */
const MEMO_COLLECTIONS = ['REQUEST_HEADERS', 'REQUEST_COOKIES'];
/**
 * The collections of names memoized across requests by their list (see `attachNameMemos`): a client sends
 * the same header and cookie names, an API's requests the same argument names, again and again.
 */
const NAME_COLLECTIONS = ['REQUEST_HEADERS_NAMES', 'REQUEST_COOKIES_NAMES', 'ARGS_NAMES'];

/**
 * What the engine keeps across requests about one list of names (see `attachNameMemos`): per transformation
 * chain, the prefilters some name of the list holds through it (undefined: not known yet). A pair of a name
 * collection (ARGS_NAMES through a chain) then reads one row per list instead of one per name: it only asks
 * whether some name holds a prefilter.
 */
interface NameListMemo {
  readonly union: Array<Int32Array | undefined>;
  /** The memo of each name of the list, by its place (found with the list: no digest or look-up per name). */
  readonly names: readonly ValueMemo[];
  bytes: number;
  readonly key: string;
}

/** The entries `from`..`to` of a name collection in one evaluation, memoized by one list. */
interface NameListPart {
  readonly memo: NameListMemo;
  readonly from: number;
  readonly to: number;
}

/**
 * Bounds of the memo of name lists: lists, and the bytes they hold (their unions and their names' memos; the
 * names' memos were counted in VALUE_MEMO_BYTES before they moved into their lists, whose bound took 4 MB of it).
 */
const NAME_LIST_ENTRIES = 512;
const NAME_LIST_BYTES = 6 * 1024 * 1024;

/** Characters of transformed values a request may keep memoized (beyond, they are recomputed). */
const TRANSFORM_MEMO_CHARS = 4_000_000;

/** The skippable rules of a phase's steps, packed (see `Engine.packed`). */
interface PackedSteps {
  /** Per step: the rule's prefilter when a request may skip it on its pairs, else -1. */
  readonly prefilter: Int32Array;
  /** Per step: its pairs are `pairs[pairsFrom[i] .. pairsFrom[i + 1])`. */
  readonly pairsFrom: Int32Array;
  readonly pairs: Int32Array;
}

function packSteps(steps: readonly Step[]): PackedSteps {
  const prefilter = new Int32Array(steps.length).fill(-1);
  const pairsFrom = new Int32Array(steps.length + 1);
  const list: number[] = [];
  steps.forEach((step, i) => {
    pairsFrom[i] = list.length;
    const pairs = step.kind === 'rule' ? step.rule.skipPairs : undefined;
    if (step.kind === 'rule' && pairs !== undefined) {
      prefilter[i] = step.rule.prefilter;
      list.push(...pairs);
    }
  });
  pairsFrom[steps.length] = list.length;
  return { prefilter, pairsFrom, pairs: Int32Array.from(list) };
}

/** A copy of a map, made without the [key, value] pair `new Map(map)` allocates per member. */
/**
 * TX of one evaluation, written over the TX decided at load (~150 variables) instead of a copy of it: reads
 * fall through to the load-time map, writes and deletions stay here. It reads, and walks in the same order,
 * as a Map copied from the load-time one and changed by the same writes would: a load-time name keeps its
 * place (a write changes its value there), a name set anew, or deleted and set again, comes last.
 */
class TxStore {
  private readonly base: ReadonlyMap<string, string>;
  /** Values written by this evaluation: new names in the order they were set, and load-time names' new values. */
  private readonly own = new Map<string, string>();
  /** Load-time names deleted by this evaluation (set again, they live in `own` only, in its order). */
  private gone: Set<string> | undefined;

  /**
   * Per TX name pattern, the load-time names it matches, in the load-time map's order: found once per
   * pattern (the patterns are the rules'), so that a walk over TX by a pattern tests only this evaluation's
   * own names (CRS's `&TX:/WEB_ATTACK/` in phase 5 tested ~150 load-time names per request).
   */
  private readonly baseMatches: Map<object, readonly string[]>;

  constructor(base: ReadonlyMap<string, string>, baseMatches: Map<object, readonly string[]>) {
    this.base = base;
    this.baseMatches = baseMatches;
  }

  get(key: string): string | undefined {
    const v = this.own.get(key);
    if (v !== undefined) return v;
    if (this.gone?.has(key)) return undefined;
    return this.base.get(key);
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  set(key: string, value: string): void {
    this.own.set(key, value);
  }

  delete(key: string): void {
    this.own.delete(key);
    if (this.base.has(key)) {
      this.gone ??= new Set();
      this.gone.add(key);
    }
  }

  /** The variables whose name `re` matches, in Map order (as forEach filtered by `re`). */
  forEachMatching(re: { test(s: string): boolean }, fn: (value: string, key: string) => void): void {
    const base = this.base;
    let names = this.baseMatches.get(re);
    if (names === undefined) {
      const list: string[] = [];
      base.forEach((_, key) => {
        if (re.test(key)) list.push(key);
      });
      names = list;
      this.baseMatches.set(re, names);
    }
    const own = this.own;
    const gone = this.gone;
    for (let i = 0; i < names.length; i++) {
      const key = names[i];
      if (gone?.has(key)) continue;
      fn(own.get(key) ?? (base.get(key) as string), key);
    }
    own.forEach((value, key) => {
      if (base.has(key) && !gone?.has(key)) return;
      if (re.test(key)) fn(value, key);
    });
  }

  /** Every variable in Map order (see the class). */
  forEach(fn: (value: string, key: string) => void): void {
    const own = this.own;
    const gone = this.gone;
    this.base.forEach((value, key) => {
      if (gone?.has(key)) return;
      fn(own.get(key) ?? value, key);
    });
    const base = this.base;
    own.forEach((value, key) => {
      if (base.has(key) && !gone?.has(key)) return;
      fn(value, key);
    });
  }
}

/** Exclusions' removed targets in lower case, by rule id or tag (a new map: ctls of the request add to it). */
function lowerTargets<K>(byKey: ReadonlyMap<K, readonly string[]> | undefined): Map<K, string[]> {
  const out = new Map<K, string[]>();
  if (byKey !== undefined)
    for (const [k, v] of byKey)
      out.set(
        k,
        v.map((s) => s.toLowerCase()),
      );
  return out;
}

/** The per-request state of one evaluation. */
interface Transaction {
  readonly request: WafRequest;
  /** The program this evaluation runs: the one folded at load, or the whole one (see `foldConfigOnly`). */
  readonly phases: Map<number, Step[]>;
  readonly c: Collections;
  readonly tx: TxStore;
  readonly other: Map<string, Map<string, string>>;
  readonly removedIds: Set<number>;
  readonly removedTags: Set<string>;
  readonly removedTargetsById: Map<number, string[]>;
  readonly removedTargetsByTag: Map<string, string[]>;
  bodyProcessor: BodyProcessor;
  matchedVar: string;
  matchedVarName: string;
  matchedVars: Entry[];
  /** Captures of the last match not yet written into TX.0–TX.9. */
  pendingCaptures: (() => readonly string[]) | undefined;
  readonly matches: WafMatch[];
  readonly matchedIds: Set<number>;
  disrupted: boolean;
  allowed: boolean;
  /** Characters of transformed values memoized on entries so far. */
  memoChars: number;
  /** Macro expansion bound to this transaction, handed to operators. */
  readonly expander: (s: string) => string;
}

class Engine {
  /** Every rule as loaded. */
  private readonly phases: Map<number, Step[]>;
  /**
   * The program with the rules whose outcome only depends on the configuration taken out (see
   * `foldConfigOnly`), the TX collection those rules leave, and the ids and tags of the rules taken out.
   */
  private foldedPhases: Map<number, Step[]> | undefined;
  private initialTx = new Map<string, string>();
  /** TX name patterns' matches among the names of `initialTx`, and of no names (see TxStore). */
  private readonly initialTxMatches = new Map<object, readonly string[]>();
  private readonly noTxMatches = new Map<object, readonly string[]>();
  private readonly foldedIds = new Set<number>();
  /** The ids of the rules decided at load (none when nothing was). */
  get folded(): ReadonlySet<number> {
    return this.foldedIds;
  }
  private readonly foldedTags = new Set<string>();
  /** Whether a set of exclusions removes a folded rule or a TX target of one (then the whole program runs). */
  private readonly touchCache = new WeakMap<WafExclusions, boolean>();
  private readonly defaultDisruptive: Map<number, Rule['disruptive']>;
  private readonly options: Required<Omit<EngineOptions, 'unicodeMap'>>;
  private readonly automaton: KeywordAutomaton | undefined;
  private readonly prefilters: number;
  private readonly chainParent: Int32Array;
  private readonly chainTransform: readonly Transform[];
  private readonly chainCaseOnly: Uint8Array;
  private readonly stepTrigger: Int32Array;
  private readonly chainTrigger: Int32Array;
  /**
   * Per chain, the character classes a value must hold for the chain to change more than its ASCII letter case
   * (`plainClasses`): a value holding none of them has, through the chain, the untransformed value's prefilter
   * answer (the automaton folds ASCII case), which `hitsOf` then gives without transforming or walking the chain.
   */
  private readonly chainPlain: Int32Array;
  /**
   * The prefilter answers of the current evaluation, one row of `rowWords` 32-bit words per scanned value
   * (bit p set: the value holds one of prefilter p's strings); rows are handed out afresh by each
   * evaluation. Bits, not bytes: an evaluation's rows then fit in a few cache lines.
   */
  private hitRows: Int32Array;
  private readonly rowWords: number;
  private hitRowCount = 2;
  /** Scratch of one automaton pass (evaluation is synchronous, one at a time). */
  private readonly seen: Int32Array;
  private mark = 0;
  private readonly found: Int32Array;
  /**
   * Memo of the current evaluation, one row of cells (one per transformation chain) per entry slot: the
   * prefilter answer (hit-table row + 1, 0 unknown) and the transformed value of each (entry, chain).
   */
  private pfTable: Int32Array;
  private tvTable: Array<string | undefined>;
  private slots = 0;
  /** The cells of those tables this evaluation wrote (each at most twice: once per table). */
  private usedCells = new Int32Array(1024);
  private usedCount = 0;
  /** Macros met only at run time (operator parameters), split once. */
  private readonly macros = new Map<string, Macro>();
  /**
   * The entries of each `COLLECTION:key` target (by keyId) selected in this evaluation, valid while their
   * stamp is the current `keyEpoch` (a new epoch per evaluation, and once the body has added values).
   */
  private readonly keyEntries: Array<Entry[] | undefined>;
  private readonly keyStamp: Int32Array;
  private keyEpoch = 0;
  /**
   * The distinct hit-table rows of the values of each (collection, chain) pair, gathered once per
   * `keyEpoch` (`pairStamp[pair]` is that epoch once they were): `pairRows[pairFrom[pair] .. pairTo[pair])`,
   * or `pairTo[pair] === -1` when some value's row is ALL_HITS. A skippable rule then reads its prefilter's
   * cell in those rows only: a pair's rows are read by the few rules that ask, instead of marking every
   * prefilter of every row for rules that never will.
   */
  private readonly pairColl: readonly string[];
  private readonly pairChain: Int32Array;
  /** Per pair, the pair of its collection through no transformation (itself for those), and its collection's number. */
  private readonly pairBase: Int32Array;
  private readonly pairCollId: Int32Array;
  /**
   * Per collection of the pairs, the union of its values' character classes, known while `collStamp` is the
   * current `keyEpoch`.
   */
  private readonly collStamp: Int32Array;
  private readonly collClasses: Int32Array;
  private readonly pairStamp: Int32Array;
  private readonly pairFrom: Int32Array;
  private readonly pairTo: Int32Array;
  private pairRows = new Int32Array(1024);
  private pairRowCount = 0;
  /** Header, cookie and argument-name values' memos, oldest first (see ValueMemo), and the bytes they hold. */
  private readonly valueMemos = new Map<string, ValueMemo>();
  private valueMemoBytes = 0;
  /** Lists of names' memos, oldest first (see NameListMemo), and the bytes they hold. */
  private readonly listMemos = new Map<string, NameListMemo>();
  private listMemoBytes = 0;
  /** Names whose memos the lists hold. */
  private listMemoNames = 0;
  /**
   * Per name collection, the lists its entries were memoized by in this evaluation, in order (the query's
   * argument names, then the body's): when they cover the whole collection, a pair of it is gathered from
   * the lists' unions.
   */
  private readonly nameLists = new Map<string, NameListPart[]>();
  private readonly opMemos: number;
  private readonly bodyGlue: readonly BodyGlue[];
  /**
   * Per program (the whole one, the folded one), per phase: the skippable rules' prefilters and
   * (collection, chain) pairs packed in typed arrays by step, so that deciding to skip a rule touches a few
   * contiguous cells and never the rule's own objects (scattered over the heap, they miss the caches
   * after the rest of a gateway request has run).
   */
  private readonly packed = new Map<Step[], PackedSteps>();

  constructor(parts: EngineParts) {
    this.phases = parts.phases;
    this.defaultDisruptive = parts.defaultDisruptive;
    const options = parts.options;
    this.options = {
      argumentsLimit: options.argumentsLimit ?? 1000,
      jsonDepthLimit: options.jsonDepthLimit ?? 512,
      jsonBodies: options.jsonBodies ?? true,
      requestBodyLimit: options.requestBodyLimit ?? 131072,
    };
    this.automaton = parts.automaton;
    this.prefilters = parts.prefilters;
    this.chainParent = parts.chainParent;
    this.chainTransform = parts.chainTransform;
    this.chainCaseOnly = parts.chainCaseOnly;
    this.stepTrigger = parts.stepTrigger;
    this.chainTrigger = parts.chainTrigger;
    this.chainPlain = parts.chainPlain;
    this.rowWords = (parts.prefilters + 31) >>> 5;
    this.hitRows = new Int32Array(64 * this.rowWords);
    this.hitRows.fill(-1, ALL_HITS * this.rowWords, (ALL_HITS + 1) * this.rowWords);
    this.seen = new Int32Array(parts.prefilters);
    this.keyEntries = new Array<Entry[] | undefined>(parts.keyTargets).fill(undefined);
    this.keyStamp = new Int32Array(parts.keyTargets);
    this.opMemos = parts.opMemos;
    this.bodyGlue = parts.bodyGlue;
    this.pairColl = parts.pairColl;
    this.pairChain = parts.pairChain;
    this.pairBase = parts.pairBase;
    this.pairCollId = parts.pairCollId;
    this.collStamp = new Int32Array(parts.collections);
    this.collClasses = new Int32Array(parts.collections);
    this.pairStamp = new Int32Array(parts.pairColl.length);
    this.pairFrom = new Int32Array(parts.pairColl.length);
    this.pairTo = new Int32Array(parts.pairColl.length);
    this.found = new Int32Array(parts.prefilters);
    this.pfTable = new Int32Array(64 * parts.chainParent.length);
    this.tvTable = new Array<string | undefined>(64 * parts.chainParent.length).fill(undefined);
    this.foldConfigOnly();
    for (const program of [this.phases, this.foldedPhases])
      for (const steps of program?.values() ?? []) this.packed.set(steps, packSteps(steps));
  }

  evaluate(request: WafRequest, exclusions?: WafExclusions): WafVerdict {
    const folded = this.foldedPhases !== undefined && !this.touchesFolded(exclusions);
    if (!folded) return this.evaluateWith(request, exclusions, false);
    try {
      return this.evaluateWith(request, exclusions, true);
    } catch (e) {
      // A ctl removed a rule the folded program decided at load: the whole program decides this request.
      if (e === RESTART_UNFOLDED) return this.evaluateWith(request, exclusions, false);
      throw e;
    }
  }

  private evaluateWith(
    request: WafRequest,
    exclusions: WafExclusions | undefined,
    folded: boolean,
  ): WafVerdict {
    const limited =
      request.body && request.body.length > this.options.requestBodyLimit
        ? { ...request, body: request.body.subarray(0, this.options.requestBodyLimit) }
        : request;
    const { collections, bodyProcessor } = readRequestHeaders(limited, this.options);
    this.nameLists.clear();
    let memoized = 0;
    for (const name of MEMO_COLLECTIONS) {
      const entries = collections.get(name);
      if (entries === undefined) continue;
      const headers = name === 'REQUEST_HEADERS';
      for (const e of entries) {
        if (memoized++ >= VALUE_MEMO_PER_REQUEST) continue;
        if (headers && e.lkey === undefined) e.lkey = e.key.toLowerCase();
        this.attachMemo(e, headers && PLAIN_HEADERS.has(e.lkey as string));
      }
    }
    for (const name of NAME_COLLECTIONS) memoized = this.attachNameMemos(collections, name, memoized);
    this.hitRowCount = 2;
    this.nextKeyEpoch();
    const t: Transaction = {
      request: limited,
      phases: folded ? (this.foldedPhases as Map<number, Step[]>) : this.phases,
      c: collections,
      tx: folded ? new TxStore(this.initialTx, this.initialTxMatches) : new TxStore(NO_TX, this.noTxMatches),
      other: new Map(),
      // Without exclusions, empty collections made without iterating anything (most requests).
      removedIds: exclusions?.removeIds === undefined ? new Set() : new Set(exclusions.removeIds),
      removedTags: exclusions?.removeTags === undefined ? new Set() : new Set(exclusions.removeTags),
      removedTargetsById: lowerTargets(exclusions?.removeTargets),
      removedTargetsByTag: lowerTargets(exclusions?.removeTargetsByTag),
      bodyProcessor,
      matchedVar: '',
      matchedVarName: '',
      matchedVars: NO_ENTRIES,
      pendingCaptures: undefined,
      matches: [],
      matchedIds: new Set(),
      disrupted: false,
      allowed: false,
      memoChars: 0,
      expander: (s) => this.expand(s, t),
    };
    if (this.options.jsonBodies && !t.bodyProcessor) {
      const ct =
        collections
          .get('REQUEST_HEADERS')
          ?.find((e) => e.key.toLowerCase() === 'content-type')
          ?.value.toLowerCase() ?? '';
      if (ct.startsWith('application/json') || /^application\/[a-z0-9.+-]*\+json/.test(ct))
        t.bodyProcessor = 'JSON';
      // modsecurity.conf's rule 200000: XML bodies go to the XML processor.
      else if (/^(?:application(?:\/soap\+|\/)|text\/)xml/.test(ct)) t.bodyProcessor = 'XML';
    }
    try {
      this.runPhase(1, t);
      if (!t.disrupted && !t.allowed) {
        const reading = readRequestBody(t.c, limited, t.bodyProcessor, this.options);
        // Before anything reads the names' answers (the body's below): a name answered before its memo is
        // attached is scanned afresh, and its answer is then never taken from the memo.
        this.attachNameMemos(t.c, 'ARGS_NAMES', memoized);
        // A JSON body verbatim in its arguments: its prefilter answer from theirs, before any rule asks.
        const body = t.c.get('REQUEST_BODY')?.[0];
        if (reading?.verbatim === true && body !== undefined) {
          if (this.bodyGlue.length > 0) body.pf0 = this.verbatimBodyHits(body, reading, t);
          // Its character classes from theirs too, without a pass over it.
          if (body.classes < 0) body.classes = this.verbatimBodyClasses(t);
        }
        // The body added values: `COLLECTION:key` selections are made afresh.
        this.nextKeyEpoch();
        this.runPhase(2, t);
      }
      this.runPhase(5, t);
    } finally {
      this.clearSlots();
      // Nothing of a request stays referenced after it.
      this.keyEntries.fill(undefined);
    }
    const score =
      Number(
        t.tx.get('blocking_inbound_anomaly_score') ??
          t.tx.get('anomaly_score') ??
          t.tx.get('inbound_anomaly_score') ??
          0,
      ) || 0;
    return { anomalyScore: score, blocked: t.disrupted, matches: t.matches };
  }

  /**
   * Whether some value a skippable rule reads, through its transformations, holds one of its prefilter
   * strings (each value's transformations and automaton pass are memoized for the whole request). When
   * none does, the rule cannot match: its operator needs one of those strings.
   */
  private mayMatch(p: number, pairs: Int32Array, from: number, end: number, t: Transaction): boolean {
    for (let j = from; j < end; j++) if (this.pairHolds(pairs[j], p, t)) return true;
    return false;
  }

  /** Whether some value of a (collection, chain) pair, through its chain, holds a string of prefilter `p`. */
  private pairHolds(pair: number, p: number, t: Transaction): boolean {
    if (this.pairStamp[pair] !== this.keyEpoch) this.gatherPair(pair, t);
    const to = this.pairTo[pair];
    if (to < 0) return true;
    const width = this.rowWords;
    const word = p >>> 5;
    const bit = 1 << (p & 31);
    // Read after gatherPair: finding rows may have grown the tables.
    const rows = this.pairRows;
    const hits = this.hitRows;
    for (let k = this.pairFrom[pair]; k < to; k++)
      if ((hits[rows[k] * width + word] & bit) !== 0) return true;
    return false;
  }

  /** Lists the distinct hit-table rows of the values of the pair's collection through its chain. */
  private gatherPair(pair: number, t: Transaction): void {
    this.pairStamp[pair] = this.keyEpoch;
    const from = this.pairRowCount;
    this.pairFrom[pair] = from;
    this.pairTo[pair] = from;
    const entries = t.c.get(this.pairColl[pair]);
    if (entries === undefined) return;
    const chainId = this.pairChain[pair];
    // No value of the collection holds a class on which the chain does more than change letter case: each
    // value's answer through the chain is its untransformed one (`hitsOf`), so the pair's rows are those of the
    // collection through no transformation, gathered once for all such chains.
    const base = this.pairBase[pair];
    if (base !== pair && (this.classesOfCollection(pair, entries) & this.chainPlain[chainId]) === 0) {
      if (this.pairStamp[base] !== this.keyEpoch) this.gatherPair(base, t);
      this.pairFrom[pair] = this.pairFrom[base];
      this.pairTo[pair] = this.pairTo[base];
      return;
    }
    const parts = this.nameLists.get(this.pairColl[pair]);
    if (parts !== undefined && this.gatherLists(pair, parts, entries, chainId, t)) return;
    for (let i = 0; i < entries.length; i++) {
      const row = this.hitsOf(entries[i], chainId, t);
      if (row === NO_HITS) continue;
      if (row === ALL_HITS) {
        this.pairRowCount = from;
        this.pairTo[pair] = -1;
        return;
      }
      // Each value's scan has a row of its own: the rows of a pair are distinct.
      if (this.pairRowCount === this.pairRows.length) {
        const grown = new Int32Array(this.pairRows.length * 2);
        grown.set(this.pairRows);
        this.pairRows = grown;
      }
      this.pairRows[this.pairRowCount++] = row;
    }
    this.pairTo[pair] = this.pairRowCount;
  }

  /** The union of the character classes of a pair's collection's values (`entries`), once per `keyEpoch`. */
  private classesOfCollection(pair: number, entries: readonly Entry[]): number {
    const k = this.pairCollId[pair];
    if (this.collStamp[k] === this.keyEpoch) return this.collClasses[k];
    let classes = 0;
    for (let i = 0; i < entries.length; i++) classes |= this.classesOf(entries[i]);
    this.collStamp[k] = this.keyEpoch;
    this.collClasses[k] = classes;
    return classes;
  }

  /**
   * Gathers a pair of a name collection from the unions of the lists that memoized all its entries: one row
   * per list (the prefilters some name of it holds through the chain), made from the list's memo or, the first
   * time, from its names' rows. False when the lists do not cover the collection, or a name's answer is
   * not its own (past the table's rows): then the pair is gathered name by name.
   */
  private gatherLists(
    pair: number,
    parts: readonly NameListPart[],
    entries: readonly Entry[],
    chainId: number,
    t: Transaction,
  ): boolean {
    let at = 0;
    for (const part of parts) {
      if (part.from !== at) return false;
      at = part.to;
    }
    if (at !== entries.length) return false;
    for (const part of parts) {
      if (part.memo.union[chainId] !== undefined) continue;
      const union = this.unionOf(entries, part.from, part.to, chainId, t);
      if (union === undefined) return false;
      part.memo.union[chainId] = union;
      part.memo.bytes += 4 * union.length;
      // A list forgotten while its request runs is no longer counted (nor uncounted again).
      if (this.listMemos.get(part.memo.key) === part.memo) this.listMemoBytes += 4 * union.length;
    }
    const from = this.pairRowCount;
    for (const part of parts) {
      const union = part.memo.union[chainId] as Int32Array;
      const row = this.rowOf(union, union.length);
      if (row === NO_HITS) continue;
      if (row === ALL_HITS) {
        this.pairRowCount = from;
        this.pairTo[pair] = -1;
        return true;
      }
      if (this.pairRowCount === this.pairRows.length) {
        const grown = new Int32Array(this.pairRows.length * 2);
        grown.set(this.pairRows);
        this.pairRows = grown;
      }
      this.pairRows[this.pairRowCount++] = row;
    }
    this.pairTo[pair] = this.pairRowCount;
    return true;
  }

  /**
   * The prefilters some entry of `entries[from..to)` holds through a chain, from their rows; undefined when
   * a row is ALL_HITS (not the entry's own answer).
   */
  private unionOf(
    entries: readonly Entry[],
    from: number,
    to: number,
    chainId: number,
    t: Transaction,
  ): Int32Array | undefined {
    const width = this.rowWords;
    const union = new Int32Array(width);
    for (let i = from; i < to; i++) {
      const row = this.hitsOf(entries[i], chainId, t);
      if (row === ALL_HITS) return undefined;
      if (row === NO_HITS) continue;
      // Read after hitsOf: finding rows may have grown the table.
      const rows = this.hitRows;
      for (let w = 0; w < width; w++) union[w] |= rows[row * width + w];
    }
    let n = 0;
    for (let p = 0; p < this.prefilters; p++) if ((union[p >>> 5] & (1 << (p & 31))) !== 0) n++;
    const list = new Int32Array(n);
    n = 0;
    for (let p = 0; p < this.prefilters; p++) if ((union[p >>> 5] & (1 << (p & 31))) !== 0) list[n++] = p;
    return list;
  }

  /**
   * Decides at load what only depends on the configuration (issue 17): the setup rules (SecAction setting
   * TX defaults, `&TX:x "@eq 0"` defaults), paranoia-level skips and any rule reading nothing but TX keys
   * no request-dependent rule writes. Phases 1 and 2 are walked once as a request would run them, against
   * the TX those rules build; a rule is taken out of the program when its outcome is the same for every
   * request: every link reads only such TX keys (and constants), it captures nothing, and when it matches
   * it logs nothing, runs no ctl and stops nothing. Its TX writes go into the collection each evaluation
   * starts from (only while no kept rule before it may stop the phase, read or write those keys), and its
   * skipAfter is taken at load: the rules it jumps over are left out. Rules inside the reach of a kept
   * rule's skipAfter or skip are kept (they may or may not run). A request whose exclusions remove a
   * folded rule (or a TX target of one) runs the whole program; so does one where a ctl of a rule removes
   * one while it runs (CRS 4's 905100 removes every OWASP_CRS rule): it starts again, unfolded.
   */
  private foldConfigOnly(): void {
    const all = this.phases;
    // TX as the folded rules leave it; keys kept rules may write (by name, or by a pattern for macro names);
    // keys kept rules read.
    const state = new Map<string, string>();
    const dynKeys = new Set<string>();
    const dynPatterns: RegExp[] = [];
    const readKeys = new Set<string>();
    let readsAllTx = false;
    // A kept rule may stop the phase (deny, allow, ctl:ruleEngine=Off): TX writes after it are not hoisted.
    let mayStop = false;
    // A kept rule captures: its captures may be pending when a folded rule would have read TX.
    let mayPending = false;
    const isDyn = (k: string) =>
      (k.length === 1 && k >= '0' && k <= '9') || dynKeys.has(k) || dynPatterns.some((re) => re.test(k));
    const staticMacro = (m: Macro | undefined) =>
      m?.parts === undefined ||
      m.parts.every(
        (p) =>
          typeof p === 'string' ||
          p.collection === 'RULE' ||
          (p.collection === 'TX' && p.key !== undefined && !isDyn(p.key.toLowerCase())),
      );
    const decidableLink = (link: Rule): boolean => {
      if (link.capture || link.exclusions.length > 0 || !staticMacro(link.opParam)) return false;
      for (const x of link.targets)
        if (x.collection !== 'TX' || x.keyLower === undefined || x.keyRegex || isDyn(x.keyLower))
          return false;
      for (const sv of link.setvars)
        if (sv.collection !== 'tx' || sv.nameLower === undefined || !staticMacro(sv.value)) return false;
      return true;
    };
    const decidable = (rule: Rule): boolean => {
      for (let link: Rule | undefined = rule; link; link = link.chained)
        if (!decidableLink(link)) return false;
      return true;
    };
    const noteReads = (m: Macro | undefined) => {
      for (const p of m?.parts ?? [])
        if (typeof p !== 'string' && p.collection === 'TX' && p.key) readKeys.add(p.key.toLowerCase());
    };
    const keep = (rule: Rule) => {
      for (let link: Rule | undefined = rule; link; link = link.chained) {
        for (const sv of link.setvars) {
          if (sv.collection !== 'tx') continue;
          if (sv.nameLower !== undefined) dynKeys.add(sv.nameLower);
          else {
            const parts = sv.name.parts ?? [sv.name.text];
            const src = parts
              .map((p) =>
                typeof p === 'string' ? p.toLowerCase().replace(/[\\^$.*+?()[\]{}|/]/g, '\\$&') : '.*',
              )
              .join('');
            dynPatterns.push(new RegExp(`^${src}$`, 's'));
          }
          noteReads(sv.name);
          noteReads(sv.value);
        }
        for (const x of link.targets) {
          if (x.collection !== 'TX') continue;
          if (x.keyLower !== undefined && !x.keyRegex) readKeys.add(x.keyLower);
          else readsAllTx = true;
        }
        noteReads(link.opParam);
        noteReads(link.msg);
        noteReads(link.logdata);
        for (const c of link.ctls) {
          noteReads(c.value);
          if (c.name === 'ruleengine') mayStop = true;
        }
        if (link.capture) mayPending = true;
      }
      let d = rule.disruptive;
      if (d === 'block') d = this.defaultDisruptive.get(rule.phase) ?? 'pass';
      if (d !== undefined && d !== 'pass') mayStop = true;
    };
    const request: WafRequest = {
      method: 'GET',
      uri: '/',
      protocol: 'HTTP/1.1',
      headers: [],
      remoteAddr: '',
    };
    const folded = new Map<number, Step[]>();
    for (const phase of [1, 2]) {
      const steps = all.get(phase) ?? [];
      const out: Step[] = [];
      // Up to this step, rules may or may not run (a kept rule's skipAfter or skip reaches here).
      let uncertainUntil = -1;
      let i = 0;
      while (i < steps.length) {
        const step = steps[i];
        if (step.kind !== 'rule') {
          out.push(step);
          i++;
          continue;
        }
        const rule = step.rule;
        let settled = false;
        const t: Transaction = {
          request,
          phases: all,
          c: new Map(),
          tx: new TxStore(new Map(state), new Map()),
          other: new Map(),
          removedIds: new Set(),
          removedTags: new Set(),
          removedTargetsById: new Map(),
          removedTargetsByTag: new Map(),
          bodyProcessor: undefined,
          matchedVar: '',
          matchedVarName: '',
          matchedVars: NO_ENTRIES,
          pendingCaptures: () => {
            settled = true;
            return [];
          },
          matches: [],
          matchedIds: new Set(),
          disrupted: false,
          allowed: false,
          memoChars: 0,
          expander: (s) => this.expand(s, t),
        };
        const certain = i >= uncertainUntil;
        let fold = certain && decidable(rule);
        let matched = false;
        // A chain whose first link reads only such TX keys and does not match at load never matches, whatever
        // its other links read (CRS 3.3's 910000: `TX:DO_REPUT_BLOCK @eq 1`, then the IP collection): it does
        // nothing, and its skipAfter never leaves the rules after it uncertain.
        if (
          certain &&
          !fold &&
          rule.chained !== undefined &&
          rule.operator !== undefined &&
          decidableLink(rule)
        ) {
          const headMatches = this.matchTargets(rule, rule, t);
          this.clearSlots();
          if (!headMatches) {
            this.foldedIds.add(rule.id);
            for (const tag of rule.tags) this.foldedTags.add(tag);
            if (settled && mayPending) out.push({ kind: 'settle' });
            i++;
            continue;
          }
        }
        if (fold) {
          matched = this.evaluateRule(rule, rule, t);
          this.clearSlots();
          if (t.matches.length > 0 || t.disrupted || t.allowed || t.other.size > 0) fold = false;
          if (matched && (rule.skip > 0 || rule.ctls.length > 0)) fold = false;
          for (let link = rule.chained; matched && link; link = link.chained)
            if (link.ctls.length > 0) fold = false;
          // TX writes are hoisted into the starting collection: only if no kept rule before could tell.
          const changed: string[] = [];
          t.tx.forEach((v, k) => {
            if (state.get(k) !== v) changed.push(k);
          });
          for (const k of state.keys()) if (!t.tx.has(k)) changed.push(k);
          // A write of the value TX already holds is one too: a kept rule may have changed it in between.
          for (let link: Rule | undefined = rule; link; link = link.chained)
            for (const sv of link.setvars) if (sv.nameLower !== undefined) changed.push(sv.nameLower);
          if (
            changed.length > 0 &&
            (mayStop || readsAllTx || changed.some((k) => readKeys.has(k) || isDyn(k)))
          )
            fold = false;
        }
        if (!fold) {
          keep(rule);
          out.push(step);
          if (rule.skipAfter) uncertainUntil = Math.max(uncertainUntil, step.skipTo);
          if (rule.skip > 0) uncertainUntil = steps.length;
          i++;
          continue;
        }
        this.foldedIds.add(rule.id);
        for (const tag of rule.tags) this.foldedTags.add(tag);
        if (settled && mayPending) out.push({ kind: 'settle' });
        // The evaluation's TX reads a copy of `state`: `state` can be refilled from it.
        state.clear();
        t.tx.forEach((v, k) => {
          state.set(k, v);
        });
        i = matched && rule.skipAfter ? step.skipTo : i + 1;
      }
      // skipAfter of the kept rules, resolved again in the shorter program.
      const program: Step[] = out.map((step) => (step.kind === 'rule' ? { ...step } : step));
      program.forEach((step, k) => {
        if (step.kind !== 'rule' || !step.rule.skipAfter) return;
        const name = step.rule.skipAfter;
        const at = program.findIndex((m, j) => j > k && m.kind === 'marker' && m.name === name);
        step.skipTo = at < 0 ? program.length : at;
      });
      folded.set(phase, program);
    }
    if (this.foldedIds.size === 0) return;
    folded.set(5, all.get(5) ?? []);
    this.foldedPhases = folded;
    this.initialTx = state;
  }

  private touchesFolded(exclusions: WafExclusions | undefined): boolean {
    if (exclusions === undefined) return false;
    let touches = this.touchCache.get(exclusions);
    if (touches !== undefined) return touches;
    touches = false;
    for (const id of exclusions.removeIds ?? []) touches ||= this.foldedIds.has(id);
    for (const tag of exclusions.removeTags ?? []) touches ||= this.foldedTags.has(tag);
    for (const id of exclusions.removeTargets?.keys() ?? []) touches ||= this.foldedIds.has(id);
    for (const tag of exclusions.removeTargetsByTag?.keys() ?? []) touches ||= this.foldedTags.has(tag);
    this.touchCache.set(exclusions, touches);
    return touches;
  }

  private runPhase(phase: number, t: Transaction): void {
    const steps = t.phases.get(phase) ?? [];
    const packed = this.packed.get(steps) ?? packSteps(steps);
    const prefilterOf = packed.prefilter;
    const pairsFrom = packed.pairsFrom;
    const pairs = packed.pairs;
    let skipCount = 0;
    for (let i = 0; i < steps.length; i++) {
      const p = prefilterOf[i];
      // A skippable rule none of whose values holds a string its operator needs cannot match: decided from
      // the packed cells alone (skipCount first: a rule `skip` jumps over is not asked).
      if (p >= 0 && skipCount === 0 && !this.mayMatch(p, pairs, pairsFrom[i], pairsFrom[i + 1], t)) continue;
      const step = steps[i];
      if (step.kind !== 'rule') {
        if (step.kind === 'settle') this.settleCaptures(t);
        continue;
      }
      if (skipCount > 0) {
        skipCount--;
        continue;
      }
      const rule = step.rule;
      if (t.removedIds.size > 0 && t.removedIds.has(rule.id)) continue;
      if (t.removedTags.size > 0 && rule.tags.some((tag) => t.removedTags.has(tag))) continue;
      t.matchedVars = NO_ENTRIES;
      t.matchedVar = '';
      t.matchedVarName = '';
      if (!this.evaluateRule(rule, rule, t)) continue;
      // Jumps to the marker (the loop then steps past it).
      if (rule.skipAfter) i = step.skipTo;
      if (rule.skip > 0) skipCount = rule.skip;
      if (t.disrupted || t.allowed) {
        if (phase !== 5) return;
      }
    }
  }

  /** Evaluates one chain link; on a full chain match runs the head's after-match actions. */
  private evaluateRule(rule: Rule, head: Rule, t: Transaction): boolean {
    let matched = false;
    if (!rule.operator) {
      // SecAction: unconditional.
      this.runSetvars(rule, t);
      matched = true;
    } else {
      matched = this.matchTargets(rule, head, t);
    }
    if (!matched) return false;
    if (rule.chained) {
      if (!this.evaluateRule(rule.chained, head, t)) return false;
    }
    if (rule === head) this.afterFullMatch(rule, t);
    return true;
  }

  private afterFullMatch(rule: Rule, t: Transaction): void {
    for (const ctl of rule.ctls) this.runCtl(ctl, t);
    let link: Rule | undefined = rule.chained;
    while (link) {
      for (const ctl of link.ctls) this.runCtl(ctl, t);
      link = link.chained;
    }
    if (rule.log && !t.matchedIds.has(rule.id)) {
      t.matchedIds.add(rule.id);
      this.settleCaptures(t);
      const data = rule.logdata ? this.expandMacro(rule.logdata, t) : undefined;
      // TX.0 is this rule's capture only when a link of its chain captures: otherwise it is whatever an
      // earlier rule left there.
      let captures = false;
      for (let link: Rule | undefined = rule; link; link = link.chained) captures ||= link.capture;
      const captured = captures ? t.tx.get('0') : undefined;
      t.matches.push({
        id: rule.id,
        msg: rule.msg ? this.expandMacro(rule.msg, t) : undefined,
        variable: t.matchedVarName || undefined,
        data: (captured ?? data ?? t.matchedVar)?.slice(0, 200),
        severity: rule.severity,
        tags: rule.tags,
        paranoiaLevel: rule.paranoiaLevel,
      });
    }
    let d = rule.disruptive;
    if (d === 'block') d = this.defaultDisruptive.get(rule.phase) ?? 'pass';
    if (d === 'deny' || d === 'drop' || d === 'redirect') t.disrupted = true;
    else if (d === 'allow') t.allowed = true;
  }

  private runCtl(ctl: Ctl, t: Transaction): void {
    const value = this.expandMacro(ctl.value, t);
    const folded = t.phases !== this.phases;
    switch (ctl.name) {
      case 'ruleremovebyid':
        for (const part of value.split(/[\s,]+/)) {
          const r = /^(\d+)(?:-(\d+))?$/.exec(part);
          if (!r) continue;
          const from = Number(r[1]);
          const to = r[2] ? Number(r[2]) : from;
          for (let id = from; id <= to && id - from < 100000; id++) {
            if (folded && this.foldedIds.has(id)) throw RESTART_UNFOLDED;
            t.removedIds.add(id);
          }
        }
        break;
      case 'ruleremovebytag':
        if (folded && this.foldedTags.has(value)) throw RESTART_UNFOLDED;
        t.removedTags.add(value);
        break;
      case 'ruleremovetargetbyid': {
        const [id, target] = value.split(';');
        if (folded && this.foldedIds.has(Number(id)) && readsTx(target)) throw RESTART_UNFOLDED;
        const list = t.removedTargetsById.get(Number(id)) ?? [];
        list.push((target ?? '').toLowerCase());
        t.removedTargetsById.set(Number(id), list);
        break;
      }
      case 'ruleremovetargetbytag': {
        const [tag, target] = value.split(';');
        if (folded && this.foldedTags.has(tag) && readsTx(target)) throw RESTART_UNFOLDED;
        const list = t.removedTargetsByTag.get(tag) ?? [];
        list.push((target ?? '').toLowerCase());
        t.removedTargetsByTag.set(tag, list);
        break;
      }
      case 'requestbodyprocessor':
        t.bodyProcessor = value.toUpperCase() as BodyProcessor;
        break;
      case 'ruleengine':
        if (value.toLowerCase() === 'off') t.allowed = true;
        break;
      default:
        // auditEngine, auditLogParts, forceRequestBodyVariable and the like change logging only.
        break;
    }
  }

  /**
   * The variable names (lower case) `ctl:ruleRemoveTargetById/ByTag` removed from this rule, or undefined
   * when none apply to it: asked once per rule, so that a removal for some tag (CRS 4 removes
   * REQUEST_FILENAME from its xss-perf-disable rules on most requests) costs the other rules nothing.
   */
  private removedTargetsOf(head: Rule, t: Transaction): readonly string[] | undefined {
    const byId = t.removedTargetsById.get(head.id);
    let names: string[] | undefined = byId === undefined ? undefined : [...byId];
    for (const [tag, list] of t.removedTargetsByTag) {
      if (head.tagSet.has(tag)) {
        names ??= [];
        names.push(...list);
      }
    }
    return names;
  }

  /** The values of one target (after exclusions). */
  private resolve(target: Target, rule: Rule, t: Transaction): Entry[] {
    const coll = target.collection;
    let entries: Entry[];
    if (coll === 'TX') {
      this.settleCaptures(t);
      if (target.keyLower !== undefined) {
        const v = t.tx.get(target.keyLower);
        entries = v === undefined ? NO_ENTRIES : [entry(target.keyLower, v)];
        return rule.exclusions.length === 0 ? entries : this.exclude(entries, coll, rule);
      }
      entries = [];
      const re = target.keyRegex;
      const tx = t.tx;
      // A pattern over the names: the names alone are walked (no [key, value] pair made per TX variable).
      const list = entries;
      const add = (value: string, key: string) => {
        list.push(entry(key, value));
      };
      if (re === undefined) tx.forEach(add);
      else tx.forEachMatching(re, add);
      return rule.exclusions.length === 0 ? entries : this.exclude(entries, coll, rule);
    } else if (coll === 'MATCHED_VAR') entries = [entry('', t.matchedVar)];
    else if (coll === 'MATCHED_VAR_NAME') entries = [entry('', t.matchedVarName)];
    // Never written to: a link that matches gets a new array.
    else if (coll === 'MATCHED_VARS') entries = t.matchedVars;
    else if (coll === 'MATCHED_VARS_NAMES') entries = t.matchedVars.map((e) => entry(e.key, e.key));
    else if (PERSISTENT_COLLECTIONS.has(coll)) {
      const stored = t.other.get(coll.toLowerCase());
      entries = stored === undefined || stored.size === 0 ? NO_ENTRIES : [];
      if (stored !== undefined) for (const [key, value] of stored) entries.push(entry(key, value));
    } else entries = t.c.get(coll) ?? NO_ENTRIES;
    if (target.keyLower !== undefined) {
      const id = target.keyId;
      const known = id >= 0 && this.keyStamp[id] === this.keyEpoch ? this.keyEntries[id] : undefined;
      if (known !== undefined) entries = known;
      else {
        const lk = target.keyLower;
        const all = entries;
        entries = [];
        for (let i = 0; i < all.length; i++) {
          const e = all[i];
          if (e.lkey === undefined) e.lkey = e.key.toLowerCase();
          if (e.lkey === lk) entries.push(e);
        }
        if (entries.length === 0) entries = NO_ENTRIES;
        if (id >= 0) {
          this.keyStamp[id] = this.keyEpoch;
          this.keyEntries[id] = entries;
        }
      }
    } else if (target.keyRegex) {
      const re = target.keyRegex;
      entries = entries.filter((e) => re.test(e.key));
    }
    return rule.exclusions.length === 0 ? entries : this.exclude(entries, coll, rule);
  }

  private nextKeyEpoch(): void {
    this.keyEpoch = (this.keyEpoch + 1) | 0;
    if (this.keyEpoch === 0) {
      this.keyStamp.fill(0);
      this.pairStamp.fill(0);
      this.collStamp.fill(0);
      this.keyEpoch = 1;
    }
  }

  private exclude(entries: Entry[], coll: string, rule: Rule): Entry[] {
    if (entries.length === 0) return entries;
    let applies = false;
    for (const x of rule.exclusions) if (x.collection === coll) applies = true;
    if (!applies) return entries;
    return entries.filter(
      (e) =>
        !rule.exclusions.some(
          (x) =>
            x.collection === coll &&
            (x.keyLower === undefined && !x.keyRegex
              ? true
              : x.keyLower !== undefined
                ? e.key.toLowerCase() === x.keyLower
                : (x.keyRegex?.test(e.key) ?? false)),
        ),
    );
  }

  /** An entry's value through transformation chain `chainId`, memoized on the entry per chain prefix. */
  private transformedEntry(e: Entry, chainId: number, t: Transaction): string {
    if (chainId === 0) return e.value;
    const classes = this.classesOf(e);
    // No step of the chain acts on a character of the value: it comes out as it went in.
    if ((classes & this.chainTrigger[chainId]) === 0) return e.value;
    const cell = this.slotOf(e) * this.chainParent.length + chainId;
    const known = this.tvTable[cell];
    if (known !== undefined) return known;
    const before = this.transformedEntry(e, this.chainParent[chainId], t);
    const v =
      before === e.value && (classes & this.stepTrigger[chainId]) === 0
        ? before
        : this.chainTransform[chainId](before);
    if (v !== before) {
      if (t.memoChars + v.length > TRANSFORM_MEMO_CHARS) return v;
      t.memoChars += v.length;
    }
    this.tvTable[cell] = v;
    this.noteCell(cell);
    return v;
  }

  /** Remembers a memo cell this evaluation wrote, for clearSlots. */
  private noteCell(cell: number): void {
    if (this.usedCount === this.usedCells.length) {
      const grown = new Int32Array(this.usedCells.length * 2);
      grown.set(this.usedCells);
      this.usedCells = grown;
    }
    this.usedCells[this.usedCount++] = cell;
  }

  /**
   * An entry's row in the evaluation's memo tables (one cell per transformation chain), given on first
   * need: entries are made afresh by each request, and the tables are cleared when an evaluation ends.
   */
  private slotOf(e: Entry): number {
    let slot = e.slot;
    if (slot < 0) {
      slot = this.slots++;
      e.slot = slot;
      const need = this.slots * this.chainParent.length;
      if (need > this.pfTable.length) {
        const size = Math.max(need, this.pfTable.length * 2);
        const pf = new Int32Array(size);
        pf.set(this.pfTable);
        this.pfTable = pf;
        const tv = new Array<string | undefined>(size).fill(undefined);
        for (let k = 0; k < this.tvTable.length; k++) tv[k] = this.tvTable[k];
        this.tvTable = tv;
      }
    }
    return slot;
  }

  /** Clears the memo cells the evaluation used (nothing of a request stays referenced after it). */
  private clearSlots(): void {
    // The cells written, not every cell of the rows used: an evaluation fills a small part of its rows.
    const cells = this.usedCells;
    const pf = this.pfTable;
    const tv = this.tvTable;
    for (let k = 0; k < this.usedCount; k++) {
      const cell = cells[k];
      pf[cell] = 0;
      tv[cell] = undefined;
    }
    this.usedCount = 0;
    this.slots = 0;
    // The hit rows back to zeros: the rows an evaluation added are one run of the table.
    this.hitRows.fill(0, (ALL_HITS + 1) * this.rowWords, this.hitRowCount * this.rowWords);
    this.hitRowCount = ALL_HITS + 1;
    this.pairRowCount = 0;
  }

  /** A value (not a request entry: nothing to memoize on) through transformation chain `chainId`. */
  private applyChain(value: string, chainId: number): string {
    if (chainId === 0) return value;
    return this.chainTransform[chainId](this.applyChain(value, this.chainParent[chainId]));
  }

  /** Which prefilters a value can satisfy (one automaton pass): a row of the hit table. */
  private hitsOfValue(value: string): number {
    const automaton = this.automaton;
    if (!automaton) return NO_HITS;
    const found = this.found;
    this.mark = (this.mark + 1) | 0;
    if (this.mark === 0) {
      this.seen.fill(0);
      this.mark = 1;
    }
    const count = automaton.collect(value, this.seen, this.mark, found);
    return this.rowOf(found, count);
  }

  /** A new hit-table row holding the first `count` prefilters of `found` (NO_HITS for none). */
  private rowOf(found: Int32Array, count: number): number {
    if (count === 0) return NO_HITS;
    const width = this.rowWords;
    if (this.hitRowCount >= MAX_HIT_ROWS) return ALL_HITS;
    if ((this.hitRowCount + 1) * width > this.hitRows.length) {
      const grown = new Int32Array(Math.min(this.hitRows.length * 2, MAX_HIT_ROWS * width));
      grown.set(this.hitRows);
      this.hitRows = grown;
    }
    const row = this.hitRowCount++;
    const base = row * width;
    const rows = this.hitRows;
    // The row is all zeros: clearSlots resets the cells an evaluation set.
    for (let i = 0; i < count; i++) {
      const p = found[i];
      rows[base + (p >>> 5)] |= 1 << (p & 31);
    }
    return row;
  }

  /** The character classes of an entry's value, computed once. */
  private classesOf(e: Entry): number {
    let classes = e.classes;
    if (classes < 0) {
      classes = charClasses(e.value);
      e.classes = classes;
    }
    return classes;
  }

  /** Whether an entry, through chain `chainId`, holds one of the strings of prefilter `p`. */
  private holds(e: Entry, chainId: number, p: number, t: Transaction): boolean {
    // The row first: finding it may grow the table.
    const row = this.hitsOf(e, chainId, t);
    return (this.hitRows[row * this.rowWords + (p >>> 5)] & (1 << (p & 31))) !== 0;
  }

  private hitsOf(e: Entry, chainId: number, t: Transaction): number {
    // The value goes through the chain unchanged but for the case of its ASCII letters (no step acts on its
    // characters otherwise): the untransformed value's answer, kept apart from the per-chain memo, which most
    // values then never need.
    if (chainId === 0 || (this.classesOf(e) & this.chainPlain[chainId]) === 0) {
      let hits0 = e.pf0;
      if (hits0 < 0) {
        hits0 = e.memo !== undefined ? this.memoHits(e, e.memo, 0, t) : this.hitsOfValue(e.value);
        e.pf0 = hits0;
      }
      return hits0;
    }
    const cell = this.slotOf(e) * this.chainParent.length + chainId;
    // Stored as row + 1: 0 is "not known yet".
    let hits = this.pfTable[cell] - 1;
    if (hits < 0) {
      hits = e.memo !== undefined ? this.memoHits(e, e.memo, chainId, t) : this.chainHits(e, chainId, t);
      this.pfTable[cell] = hits + 1;
      this.noteCell(cell);
    }
    return hits;
  }

  /**
   * The prefilter answer of a JSON body whose text is verbatim in its arguments (`JsonReading`), without a
   * pass over it: a string that occurs in the body lies inside one token, so it occurs in an argument's value
   * or name too, or it holds a character between tokens (a quote, `{}[]:,`, white space), and only the
   * strings of REQUEST_BODY rules that hold one are looked for in the body (natively). The answer may hold
   * more prefilters than a pass would find (names hold `json.`, ARGS the query's arguments too), never fewer:
   * a rule is then asked, never skipped wrongly.
   */
  private verbatimBodyHits(body: Entry, reading: JsonReading, t: Transaction): number {
    const args = t.c.get('ARGS') ?? NO_ENTRIES;
    const names = t.c.get('ARGS_NAMES') ?? NO_ENTRIES;
    // The arguments' own answers first: finding them may grow the table.
    for (let i = 0; i < args.length; i++) if (this.hitsOf(args[i], 0, t) === ALL_HITS) return ALL_HITS;
    for (let i = 0; i < names.length; i++) if (this.hitsOf(names[i], 0, t) === ALL_HITS) return ALL_HITS;
    const nullRow = reading.hasNull ? this.hitsOfValue('null') : NO_HITS;
    if (nullRow === ALL_HITS || this.hitRowCount >= MAX_HIT_ROWS) return ALL_HITS;
    const width = this.rowWords;
    if ((this.hitRowCount + 1) * width > this.hitRows.length) {
      const grown = new Int32Array(Math.min(this.hitRows.length * 2, MAX_HIT_ROWS * width));
      grown.set(this.hitRows);
      this.hitRows = grown;
    }
    const row = this.hitRowCount++;
    const base = row * width;
    const rows = this.hitRows;
    const unite = (from: number) => {
      if (from === NO_HITS) return;
      const at = from * width;
      for (let w = 0; w < width; w++) rows[base + w] |= rows[at + w];
    };
    for (let i = 0; i < args.length; i++) unite(args[i].pf0);
    for (let i = 0; i < names.length; i++) unite(names[i].pf0);
    unite(nullRow);
    let lower: string | undefined;
    for (const g of this.bodyGlue) {
      const p = g.prefilter;
      const word = base + (p >>> 5);
      const bit = 1 << (p & 31);
      if ((rows[word] & bit) !== 0) continue;
      lower ??= body.value.toLowerCase();
      let found = false;
      for (let k = 0; !found && k < g.glue.length; k++) found = lower.includes(g.glue[k]);
      if (reading.spaced)
        for (let k = 0; !found && k < g.spaced.length; k++) found = lower.includes(g.spaced[k]);
      if (found) rows[word] |= bit;
    }
    return row;
  }

  /**
   * The character classes of a JSON body whose text is verbatim in its arguments (`JsonReading`), from theirs: its
   * characters are those of its tokens (each an argument's value or part of a name), of `null`, of the
   * punctuation between tokens and of JSON's white space. A union that may hold more classes than the body
   * (names hold `json.`, ARGS the query's arguments too), never fewer: a transformation is then tried, never
   * passed over wrongly.
   */
  private verbatimBodyClasses(t: Transaction): number {
    let classes = JSON_GLUE_CLASSES;
    const args = t.c.get('ARGS') ?? NO_ENTRIES;
    const names = t.c.get('ARGS_NAMES') ?? NO_ENTRIES;
    for (let i = 0; i < args.length; i++) classes |= this.classesOf(args[i]);
    for (let i = 0; i < names.length; i++) classes |= this.classesOf(names[i]);
    return classes;
  }

  /** The hit row of an entry through a chain that may change it (hitsOf, without the memo). */
  private chainHits(e: Entry, chainId: number, t: Transaction): number {
    const parent = this.chainParent[chainId];
    // A change of letter case, or a transformation that changed nothing, leaves the shorter chain's answer
    // (the automaton folds ASCII case). `t:cmdLine` of a value without its punctuation only lowers it.
    if (this.chainCaseOnly[chainId] === 1) return this.hitsOf(e, parent, t);
    const value = this.transformedEntry(e, chainId, t);
    if (sameFoldingCase(value, this.transformedEntry(e, parent, t))) return this.hitsOf(e, parent, t);
    // Another chain made the same text of this value last: its answer (rows live as long as the evaluation,
    // and so does the entry).
    if (e.scanned === value) return e.scannedRow;
    const row = this.hitsOfValue(value);
    e.scanned = value;
    e.scannedRow = row;
    return row;
  }

  /**
   * The hit row of a memoized value through a chain: from the prefilters the memo lists for it, or found
   * (then listed in the memo) as for any value.
   */
  private memoHits(e: Entry, memo: ValueMemo, chainId: number, t: Transaction): number {
    const list = memo.hits[chainId];
    if (list !== undefined) return this.rowOf(list, list.length);
    const row = chainId === 0 ? this.hitsOfValue(e.value) : this.chainHits(e, chainId, t);
    // Past the evaluation's rows (ALL_HITS) the answer is not the value's own: not kept.
    if (row === ALL_HITS) return row;
    const width = this.prefilters;
    const rows = this.hitRows;
    const base = row * this.rowWords;
    const has = (p: number) => (rows[base + (p >>> 5)] & (1 << (p & 31))) !== 0;
    let n = 0;
    if (row !== NO_HITS) for (let p = 0; p < width; p++) if (has(p)) n++;
    const kept = new Int32Array(n);
    if (row !== NO_HITS) {
      n = 0;
      for (let p = 0; p < width; p++) if (has(p)) kept[n++] = p;
    }
    memo.hits[chainId] = kept;
    const grown = 16 + 4 * kept.length;
    memo.bytes += grown;
    // A memo forgotten while its request runs is no longer counted (nor uncounted again).
    const owner = memo.owner;
    if (owner !== undefined) {
      owner.bytes += grown;
      if (this.listMemos.get(owner.key) === owner) this.listMemoBytes += grown;
    } else if (this.valueMemos.get(memo.key) === memo) this.valueMemoBytes += grown;
    return row;
  }

  /**
   * Gives the names of a collection not memoized yet (argument names: the query's in phase 1, the body's
   * after it is read) the memos of their values, within the request's budget of memoized values; returns the
   * values memoized so far. A client sends the same header names, an API's requests the same member names (its
   * schema), again and again, so names are remembered as a list: one digest of the list (the collection, then
   * each name with its length) finds the list's memo, which holds the memo of each name by its place: no
   * digest, key or look-up per name (a key and a look-up per name, and moving each to the newest end of the
   * values' map, cost ~0.5 us a name). A list seen for the first time makes a memo per name.
   */
  private attachNameMemos(c: Collections, collection: string, memoized: number): number {
    const names = c.get(collection);
    if (names === undefined) return memoized;
    let from = 0;
    while (from < names.length && names[from].memo !== undefined) from++;
    const to = Math.min(names.length, from + Math.max(0, VALUE_MEMO_PER_REQUEST - memoized));
    if (to <= from) return memoized;
    let list = `${collection}\n`;
    for (let i = from; i < to; i++) {
      const name = names[i].value;
      if (name.length > VALUE_MEMO_MAX_VALUE) return memoized;
      list += `${name.length}:${name}`;
    }
    const key = hash('sha256', VALUE_MEMO_SALT + list, 'base64');
    const lists = this.listMemos;
    let memo = lists.get(key);
    if (memo !== undefined) {
      lists.delete(key);
      lists.set(key, memo);
    } else {
      const made: ValueMemo[] = [];
      memo = {
        union: new Array<Int32Array | undefined>(this.chainParent.length).fill(undefined),
        names: made,
        bytes: 64 + 2 * key.length + 8 * this.chainParent.length,
        key,
      };
      for (let i = from; i < to; i++) {
        const m = this.newValueMemo(names[i].value, '', memo);
        made.push(m);
        memo.bytes += m.bytes;
      }
      lists.set(key, memo);
      this.listMemoBytes += memo.bytes;
      this.listMemoNames += made.length;
      while (lists.size > 1 && (lists.size > NAME_LIST_ENTRIES || this.listMemoBytes > NAME_LIST_BYTES)) {
        const [oldest, old] = lists.entries().next().value as [string, NameListMemo];
        lists.delete(oldest);
        this.listMemoBytes -= old.bytes;
        this.listMemoNames -= old.names.length;
      }
    }
    const held = memo.names;
    for (let i = from; i < to; i++) {
      const m = held[i - from];
      names[i].memo = m;
      names[i].classes = m.classes;
    }
    let parts = this.nameLists.get(collection);
    if (parts === undefined) {
      parts = [];
      this.nameLists.set(collection, parts);
    }
    parts.push({ memo, from, to });
    return memoized + (to - from);
  }

  /**
   * Gives a header or cookie entry the memo of its value (made on first sight, the oldest forgotten past
   * the bounds); a value seen lately moves to the newest end. `plain`: the value of a header that never
   * carries a credential (PLAIN_HEADERS), found by the value itself (after a line feed, which no digest
   * holds) instead of a digest of it.
   */
  private attachMemo(e: Entry, plain: boolean): void {
    const value = e.value;
    if (value.length > VALUE_MEMO_MAX_VALUE) return;
    const memos = this.valueMemos;
    const key = plain ? `\n${value}` : hash('sha256', VALUE_MEMO_SALT + value, 'base64');
    let memo = memos.get(key);
    if (memo !== undefined) {
      memos.delete(key);
      memos.set(key, memo);
    } else {
      memo = this.newValueMemo(value, key, undefined);
      memos.set(key, memo);
      this.valueMemoBytes += memo.bytes;
      // Never the memo just made: the map is never emptied by its own bound.
      while (memos.size > 1 && (memos.size > VALUE_MEMO_ENTRIES || this.valueMemoBytes > VALUE_MEMO_BYTES)) {
        const [oldest, old] = memos.entries().next().value as [string, ValueMemo];
        memos.delete(oldest);
        this.valueMemoBytes -= old.bytes;
      }
    }
    e.memo = memo;
    e.classes = memo.classes;
  }

  /** A memo of one value (`key`: its digest, '' for a name held by its list's memo). */
  private newValueMemo(value: string, key: string, owner: NameListMemo | undefined): ValueMemo {
    return {
      classes: charClasses(value),
      hits: new Array<Int32Array | undefined>(this.chainParent.length).fill(undefined),
      noMatch: new Uint8Array(this.opMemos),
      bytes: 64 + 2 * key.length + this.opMemos + 8 * this.chainParent.length,
      key,
      owner,
    };
  }

  /** Memoized values (names held by lists included) and the bytes all memos hold (for tests of the bounds). */
  get memoSize(): { values: number; bytes: number } {
    return {
      values: this.valueMemos.size + this.listMemoNames,
      bytes: this.valueMemoBytes + this.listMemoBytes,
    };
  }

  /** The variable name of an entry of collection `coll` (`ARGS:q`, `REQUEST_URI`). */
  private nameOf(coll: string, e: Entry): string {
    if (e.nameOf === coll && e.name !== undefined) return e.name;
    const name =
      e.key === '' && coll !== 'TX' && coll !== 'ARGS' && coll !== 'ARGS_NAMES' ? coll : `${coll}:${e.key}`;
    e.name = name;
    e.nameOf = coll;
    return name;
  }

  private matchTargets(rule: Rule, head: Rule, t: Transaction): boolean {
    const op = rule.operator;
    if (!op) return false;
    let any = false;
    let newMatched: Entry[] | undefined;
    const wantCaptures = rule.capture;
    const skipTyped = head.attack && t.request.typedArgs !== undefined;
    const removed =
      t.removedTargetsById.size > 0 || t.removedTargetsByTag.size > 0
        ? this.removedTargetsOf(head, t)
        : undefined;
    const removals = removed !== undefined;
    const prefilter = !op.negated && rule.prefilter >= 0 && this.automaton !== undefined;
    const targets = rule.targets;
    const targetPairs = prefilter ? rule.targetPairs : undefined;
    for (let ti = 0; ti < targets.length; ti++) {
      const target = targets[ti];
      if (removed?.includes(target.fullName.toLowerCase())) continue;
      // No value of the target's collection holds the prefilter through the chain: none of the target's
      // values would pass `holds` below (the rule runs because another target's collection has one).
      if (targetPairs !== undefined && !this.pairHolds(targetPairs[ti], rule.prefilter, t)) continue;
      const txName = target.txName;
      if (txName !== undefined && !removals && !rule.multiMatch && rule.exclusions.length === 0) {
        // `TX:name` (most of CRS's bookkeeping rules): its one value, without building entries.
        this.settleCaptures(t);
        const v = t.tx.get(target.keyLower as string);
        let value: string;
        let name: string;
        if (target.count) {
          value = v === undefined ? '0' : '1';
          name = target.countName;
        } else {
          if (v === undefined) continue;
          value = this.applyChain(v, rule.chainId);
          name = txName;
        }
        const r = op.run(value, t.expander, wantCaptures);
        if (r.matched === op.negated) continue;
        any = true;
        newMatched ??= rule.keepMatched ? [] : NO_ENTRIES;
        this.onValueMatch(rule, name, value, r, t, newMatched);
        continue;
      }
      const entries = this.resolve(target, rule, t);
      const coll = target.collection;
      if (target.count) {
        const name = target.countName;
        const r = op.run(String(entries.length), t.expander, wantCaptures);
        if (r.matched !== op.negated) {
          any = true;
          newMatched ??= rule.keepMatched ? [] : NO_ENTRIES;
          this.onValueMatch(rule, name, String(entries.length), r, t, newMatched);
        }
        continue;
      }
      const matchedVars = coll === 'MATCHED_VARS';
      const typed =
        skipTyped && (coll === 'ARGS' || coll === 'ARGS_GET' || coll === 'ARGS_POST')
          ? t.request.typedArgs
          : undefined;
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        if (!matchedVars && removed?.includes(this.nameOf(coll, e).toLowerCase())) continue;
        if (typed?.has(e.key)) continue;
        if (rule.multiMatch && (this.classesOf(e) & this.chainTrigger[rule.chainId]) !== 0) {
          // The value after each step of the chain that changed it, the untransformed value first (when no
          // step can change the value, that is the value alone: the single-value path below).
          const prefixes = rule.chainPrefixes;
          let previous: string | undefined;
          for (let k = 0; k < prefixes.length; k++) {
            const value = this.transformedEntry(e, prefixes[k], t);
            if (k > 0 && value === previous) continue;
            previous = value;
            if (prefilter && !this.holds(e, prefixes[k], rule.prefilter, t)) continue;
            const r = op.run(value, t.expander, wantCaptures);
            if (r.matched === op.negated) continue;
            any = true;
            newMatched ??= rule.keepMatched ? [] : NO_ENTRIES;
            this.onValueMatch(rule, matchedVars ? e.key : this.nameOf(coll, e), value, r, t, newMatched);
          }
          continue;
        }
        if (prefilter && !this.holds(e, rule.chainId, rule.prefilter, t)) continue;
        // A header, cookie or argument-name value this operator did not match on an earlier request.
        const memo = e.memo;
        const opMemo = rule.opMemo;
        if (memo !== undefined && opMemo >= 0 && memo.noMatch[opMemo] === 1) continue;
        const value = this.transformedEntry(e, rule.chainId, t);
        const r = op.run(value, t.expander, wantCaptures);
        if (r.matched === op.negated) {
          if (memo !== undefined && opMemo >= 0) memo.noMatch[opMemo] = 1;
          continue;
        }
        any = true;
        newMatched ??= rule.keepMatched ? [] : NO_ENTRIES;
        this.onValueMatch(rule, matchedVars ? e.key : this.nameOf(coll, e), value, r, t, newMatched);
      }
    }
    if (any && newMatched) t.matchedVars = newMatched;
    return any;
  }

  private onValueMatch(
    rule: Rule,
    name: string,
    value: string,
    r: OperatorResult,
    t: Transaction,
    newMatched: Entry[],
  ): void {
    if (rule.capture && r.captures) {
      t.pendingCaptures = undefined;
      this.writeCaptures(r.captures, t);
    } else if (rule.capture && r.lazyCaptures) t.pendingCaptures = r.lazyCaptures;
    t.matchedVar = value;
    t.matchedVarName = name;
    if (rule.keepMatched) newMatched.push(entry(name, value));
    this.runSetvars(rule, t);
  }

  private writeCaptures(captures: readonly string[], t: Transaction): void {
    for (let g = 0; g < 10 && g < captures.length; g++) t.tx.set(String(g), captures[g]);
  }

  /** Writes pending captures into TX before anything reads TX. */
  private settleCaptures(t: Transaction): void {
    const pending = t.pendingCaptures;
    if (!pending) return;
    t.pendingCaptures = undefined;
    this.writeCaptures(pending(), t);
  }

  private runSetvars(rule: Rule, t: Transaction): void {
    for (const sv of rule.setvars) {
      const name = sv.nameLower ?? this.expandMacro(sv.name, t).toLowerCase();
      const store = sv.collection === 'tx' ? t.tx : this.otherCollection(sv.collection, t);
      if (sv.op === 'unset') {
        store.delete(name);
        continue;
      }
      const value = this.expandMacro(sv.value, t);
      if (sv.op === '=') store.set(name, value);
      else {
        const cur = Number.parseInt(store.get(name) ?? '0', 10) || 0;
        const delta = Number.parseInt(value, 10) || 0;
        store.set(name, String(sv.op === '+' ? cur + delta : cur - delta));
      }
    }
  }

  private otherCollection(name: string, t: Transaction): Map<string, string> {
    let m = t.other.get(name);
    if (!m) {
      m = new Map();
      t.other.set(name, m);
    }
    return m;
  }

  /** Macro expansion of a text only known at run time (an operator's parameter). */
  private expand(s: string, t: Transaction): string {
    if (!s.includes('%{')) return s;
    let macro = this.macros.get(s);
    if (macro === undefined) {
      macro = compileMacro(s);
      if (this.macros.size < 4096) this.macros.set(s, macro);
    }
    return this.expandMacro(macro, t);
  }

  /** Macro expansion: `%{tx.name}`, `%{MATCHED_VAR}`, `%{REQUEST_HEADERS.host}`... */
  private expandMacro(macro: Macro, t: Transaction): string {
    const parts = macro.parts;
    if (parts === undefined) return macro.text;
    this.settleCaptures(t);
    let out = '';
    for (let i = 0; i < parts.length; i++) {
      const part = parts[i];
      out += typeof part === 'string' ? part : this.macroValue(part, t);
    }
    return out;
  }

  private macroValue(ref: MacroRef, t: Transaction): string {
    const coll = ref.collection;
    const key = ref.key;
    if (coll === 'TX') return key === undefined ? '' : (t.tx.get(key.toLowerCase()) ?? '');
    if (coll === 'MATCHED_VAR') return t.matchedVar;
    if (coll === 'MATCHED_VAR_NAME') return t.matchedVarName;
    if (coll === 'RULE') return '';
    if (PERSISTENT_COLLECTIONS.has(coll))
      return key === undefined ? '' : (t.other.get(coll.toLowerCase())?.get(key.toLowerCase()) ?? '');
    const entries = t.c.get(coll);
    if (!entries) return '';
    if (key === undefined) return entries[0]?.value ?? '';
    const lk = key.toLowerCase();
    return entries.find((e) => e.key.toLowerCase() === lk)?.value ?? '';
  }
}
