/**
 * Compiles parsed SecLang rules into an evaluator of the request phases (1 and 2, then the logging
 * phase 5 for the correlation rules), with libmodsecurity's semantics: per-value matching and per-value
 * `setvar`, chains, `skipAfter`/`SecMarker`, `ctl` exclusions, `multiMatch`, `capture`, macro expansion.
 * Everything that depends only on the rules is done here, once; a request runs only what was compiled.
 */

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
  readRequestBody,
  readRequestHeaders,
} from './request.ts';
import { TRANSFORMS, type Transform } from './transforms.ts';

interface Target {
  readonly collection: string;
  readonly key?: string;
  readonly keyLower?: string;
  readonly keyRegex?: { test(s: string): boolean };
  readonly count: boolean;
  /** `ARGS` or `ARGS:foo` as written, for ctl target removal. */
  readonly fullName: string;
}

interface Exclusion {
  readonly collection: string;
  readonly keyLower?: string;
  readonly keyRegex?: { test(s: string): boolean };
}

interface SetVar {
  readonly collection: string;
  readonly name: string;
  readonly op: '=' | '+' | '-' | 'unset';
  readonly value: string;
}

interface Ctl {
  readonly name: string;
  readonly value: string;
}

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
  readonly transformKey: string;
  readonly multiMatch: boolean;
  readonly capture: boolean;
  readonly setvars: readonly SetVar[];
  readonly ctls: readonly Ctl[];
  readonly msg?: string;
  readonly logdata?: string;
  readonly severity?: string;
  readonly tags: readonly string[];
  readonly tagSet: ReadonlySet<string>;
  readonly log: boolean;
  readonly disruptive?: 'deny' | 'drop' | 'redirect' | 'allow' | 'pass' | 'block';
  readonly skipAfter?: string;
  readonly skip: number;
  readonly chained?: Rule;
  readonly paranoiaLevel?: number;
  /** Index into the prefilter bit set of this rule's @rx factors, or -1. */
  prefilter: number;
  /** Rule is an attack rule (tag attack-*), skipped on schema-typed arguments. */
  readonly attack: boolean;
}

type Step = { kind: 'rule'; rule: Rule } | { kind: 'marker'; name: string };

/** Engine options: the body and argument limits CRS deployments set (modsecurity.conf). */
export interface EngineOptions {
  readonly argumentsLimit?: number;
  readonly jsonDepthLimit?: number;
  /** Inspect JSON bodies (the `ctl:requestBodyProcessor=JSON` rule of modsecurity.conf); default true. */
  readonly jsonBodies?: boolean;
  /** Body bytes inspected (SecRequestBodyNoFilesLimit); default 131072. */
  readonly requestBodyLimit?: number;
}

const SEVERITIES = ['EMERGENCY', 'ALERT', 'CRITICAL', 'ERROR', 'WARNING', 'NOTICE', 'INFO', 'DEBUG'];

function parseTargets(vars: readonly VariableRef[]): { targets: Target[]; exclusions: Exclusion[] } {
  const targets: Target[] = [];
  const exclusions: Exclusion[] = [];
  for (const v of vars) {
    const keyRegex = v.keyRegex !== undefined ? compileRegex(`(?i)${v.keyRegex}`) : undefined;
    if (v.exclude) exclusions.push({ collection: v.collection, keyLower: v.key?.toLowerCase(), keyRegex });
    else {
      const fullName =
        v.key !== undefined
          ? `${v.collection}:${v.key}`
          : v.keyRegex !== undefined
            ? `${v.collection}:/${v.keyRegex}/`
            : v.collection;
      targets.push({
        collection: v.collection,
        key: v.key,
        keyLower: v.key?.toLowerCase(),
        keyRegex,
        count: v.count,
        fullName,
      });
    }
  }
  return { targets, exclusions };
}

function parseSetVar(value: string): SetVar {
  let s = value;
  if (s.startsWith('!')) {
    const [coll, ...rest] = s.slice(1).split('.');
    return { collection: coll.toLowerCase(), name: rest.join('.'), op: 'unset', value: '' };
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
  return { collection: s.slice(0, dot).toLowerCase(), name: s.slice(dot + 1), op, value: val };
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

  const regexRules: Rule[] = [];
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
          const t = TRANSFORMS.get(v.toLowerCase());
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
          ctls.push({ name: v.slice(0, eq).toLowerCase(), value: v.slice(eq + 1) });
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
        next = next ? { ...link, chained: next } : link;
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
      transformKey: transformNames.join(','),
      multiMatch,
      capture,
      setvars,
      ctls,
      msg,
      logdata,
      severity,
      tags,
      tagSet: new Set(tags),
      log,
      disruptive,
      skipAfter,
      skip,
      chained,
      paranoiaLevel: plTag ? Number(plTag.slice('paranoia-level/'.length)) : undefined,
      prefilter: -1,
      attack: tags.some((t) => t.startsWith('attack-')),
    };
    if (operator?.regex?.factors && !operator.negated) regexRules.push(rule);
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
    phases.get(rule.phase)?.push({ kind: 'rule', rule });
  }

  // One automaton over the literal factors of every @rx: a value's pass marks the factors it holds.
  const factorList: string[] = [];
  const factorIndex = new Map<string, number>();
  const ruleFactors: number[][] = [];
  for (const r of regexRules) {
    const ids: number[] = [];
    for (const f of r.operator?.regex?.factors ?? []) {
      let k = factorIndex.get(f);
      if (k === undefined) {
        k = factorList.length;
        factorList.push(f);
        factorIndex.set(f, k);
      }
      ids.push(k);
    }
    r.prefilter = ruleFactors.length;
    ruleFactors.push(ids);
  }
  const automaton = factorList.length > 0 ? compileKeywords(factorList) : undefined;

  const engine = new Engine(phases, defaultDisruptive, options, automaton, factorList.length, ruleFactors);
  const files = [...new Set(parsed.rules.map((r) => r.file))];
  return {
    ruleSet: {
      version,
      ruleCount,
      files,
      evaluate: (request, exclusions) => engine.evaluate(request, exclusions),
    },
    issues,
  };
}

/** The per-request state of one evaluation. */
interface Transaction {
  readonly request: WafRequest;
  readonly c: Collections;
  readonly tx: Map<string, string>;
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
  /** Prefilter results per transformed value. */
  readonly factorCache: Map<string, Uint8Array>;
  readonly transformCache: Map<string, string>;
}

class Engine {
  private readonly phases: Map<number, Step[]>;
  private readonly defaultDisruptive: Map<number, Rule['disruptive']>;
  private readonly options: Required<EngineOptions>;
  private readonly automaton: KeywordAutomaton | undefined;
  private readonly factorCount: number;
  private readonly ruleFactors: number[][];

  constructor(
    phases: Map<number, Step[]>,
    defaultDisruptive: Map<number, Rule['disruptive']>,
    options: EngineOptions,
    automaton: KeywordAutomaton | undefined,
    factorCount: number,
    ruleFactors: number[][],
  ) {
    this.phases = phases;
    this.defaultDisruptive = defaultDisruptive;
    this.options = {
      argumentsLimit: options.argumentsLimit ?? 1000,
      jsonDepthLimit: options.jsonDepthLimit ?? 512,
      jsonBodies: options.jsonBodies ?? true,
      requestBodyLimit: options.requestBodyLimit ?? 131072,
    };
    this.automaton = automaton;
    this.factorCount = factorCount;
    this.ruleFactors = ruleFactors;
  }

  evaluate(request: WafRequest, exclusions?: WafExclusions): WafVerdict {
    const limited =
      request.body && request.body.length > this.options.requestBodyLimit
        ? { ...request, body: request.body.subarray(0, this.options.requestBodyLimit) }
        : request;
    const { collections, bodyProcessor } = readRequestHeaders(limited, this.options);
    const t: Transaction = {
      request: limited,
      c: collections,
      tx: new Map(),
      other: new Map(),
      removedIds: new Set(exclusions?.removeIds ?? []),
      removedTags: new Set(exclusions?.removeTags ?? []),
      removedTargetsById: new Map(
        [...(exclusions?.removeTargets ?? new Map<number, readonly string[]>())].map(([k, v]) => [
          k,
          v.map((s) => s.toLowerCase()),
        ]),
      ),
      removedTargetsByTag: new Map(
        [...(exclusions?.removeTargetsByTag ?? new Map<string, readonly string[]>())].map(([k, v]) => [
          k,
          v.map((s) => s.toLowerCase()),
        ]),
      ),
      bodyProcessor,
      matchedVar: '',
      matchedVarName: '',
      matchedVars: [],
      pendingCaptures: undefined,
      matches: [],
      matchedIds: new Set(),
      disrupted: false,
      allowed: false,
      factorCache: new Map(),
      transformCache: new Map(),
    };
    if (this.options.jsonBodies && !t.bodyProcessor) {
      const ct =
        collections
          .get('REQUEST_HEADERS')
          ?.find((e) => e.key.toLowerCase() === 'content-type')
          ?.value.toLowerCase() ?? '';
      if (ct.startsWith('application/json') || /^application\/[a-z0-9.+-]*\+json/.test(ct))
        t.bodyProcessor = 'JSON';
    }
    this.runPhase(1, t);
    if (!t.disrupted && !t.allowed) {
      readRequestBody(t.c, limited, t.bodyProcessor, this.options);
      this.runPhase(2, t);
    }
    this.runPhase(5, t);
    const score =
      Number(
        t.tx.get('blocking_inbound_anomaly_score') ??
          t.tx.get('anomaly_score') ??
          t.tx.get('inbound_anomaly_score') ??
          0,
      ) || 0;
    return { anomalyScore: score, blocked: t.disrupted, matches: t.matches };
  }

  private runPhase(phase: number, t: Transaction): void {
    const steps = this.phases.get(phase) ?? [];
    let skipTo: string | undefined;
    let skipCount = 0;
    for (const step of steps) {
      if (step.kind === 'marker') {
        if (skipTo !== undefined && step.name === skipTo) skipTo = undefined;
        continue;
      }
      if (skipTo !== undefined) continue;
      if (skipCount > 0) {
        skipCount--;
        continue;
      }
      const rule = step.rule;
      if (t.removedIds.has(rule.id)) continue;
      if (t.removedTags.size > 0 && rule.tags.some((tag) => t.removedTags.has(tag))) continue;
      t.matchedVars = [];
      t.matchedVar = '';
      t.matchedVarName = '';
      if (!this.evaluateRule(rule, rule, t)) continue;
      if (rule.skipAfter) skipTo = rule.skipAfter;
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
      const data = rule.logdata ? this.expand(rule.logdata, t) : undefined;
      t.matches.push({
        id: rule.id,
        msg: rule.msg ? this.expand(rule.msg, t) : undefined,
        variable: t.matchedVarName || undefined,
        data: (t.tx.get('0') ?? data ?? t.matchedVar)?.slice(0, 200),
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
    const value = this.expand(ctl.value, t);
    switch (ctl.name) {
      case 'ruleremovebyid':
        for (const part of value.split(/[\s,]+/)) {
          const r = /^(\d+)(?:-(\d+))?$/.exec(part);
          if (!r) continue;
          const from = Number(r[1]);
          const to = r[2] ? Number(r[2]) : from;
          for (let id = from; id <= to && id - from < 100000; id++) t.removedIds.add(id);
        }
        break;
      case 'ruleremovebytag':
        t.removedTags.add(value);
        break;
      case 'ruleremovetargetbyid': {
        const [id, target] = value.split(';');
        const list = t.removedTargetsById.get(Number(id)) ?? [];
        list.push((target ?? '').toLowerCase());
        t.removedTargetsById.set(Number(id), list);
        break;
      }
      case 'ruleremovetargetbytag': {
        const [tag, target] = value.split(';');
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

  private isTargetRemoved(rule: Rule, head: Rule, name: string, t: Transaction): boolean {
    const byId = t.removedTargetsById.get(head.id);
    if (byId === undefined && t.removedTargetsByTag.size === 0) return false;
    const lname = name.toLowerCase();
    if (byId?.includes(lname)) return true;
    if (t.removedTargetsByTag.size > 0) {
      for (const [tag, list] of t.removedTargetsByTag) {
        if (head.tagSet.has(tag) && list.includes(lname)) return true;
      }
    }
    void rule;
    return false;
  }

  /** The values of one target (after exclusions), as [name, value] pairs. */
  private resolve(target: Target, rule: Rule, t: Transaction): Entry[] {
    const coll = target.collection;
    let entries: Entry[];
    if (coll === 'TX') {
      this.settleCaptures(t);
      if (target.keyLower !== undefined) {
        const v = t.tx.get(target.keyLower);
        entries = v === undefined ? [] : [{ key: target.keyLower, value: v }];
        return rule.exclusions.length === 0 ? entries : this.exclude(entries, coll, rule);
      }
      entries = [...t.tx].map(([key, value]) => ({ key, value }));
    } else if (coll === 'MATCHED_VAR') entries = [{ key: '', value: t.matchedVar }];
    else if (coll === 'MATCHED_VAR_NAME') entries = [{ key: '', value: t.matchedVarName }];
    else if (coll === 'MATCHED_VARS') entries = t.matchedVars.slice();
    else if (coll === 'MATCHED_VARS_NAMES')
      entries = t.matchedVars.map((e) => ({ key: e.key, value: e.key }));
    else if (
      coll === 'IP' ||
      coll === 'GLOBAL' ||
      coll === 'SESSION' ||
      coll === 'USER' ||
      coll === 'RESOURCE'
    ) {
      entries = [...(t.other.get(coll.toLowerCase()) ?? new Map())].map(([key, value]) => ({ key, value }));
    } else entries = t.c.get(coll) ?? [];
    if (target.keyLower !== undefined)
      entries = entries.filter((e) => e.key.toLowerCase() === target.keyLower);
    else if (target.keyRegex) {
      const re = target.keyRegex;
      entries = entries.filter((e) => re.test(e.key));
    }
    return rule.exclusions.length === 0 ? entries : this.exclude(entries, coll, rule);
  }

  private exclude(entries: Entry[], coll: string, rule: Rule): Entry[] {
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

  private transformed(value: string, rule: Rule, t: Transaction): string {
    if (rule.transforms.length === 0) return value;
    // Values repeat across rules with the same transformation chain; cache by chain and value.
    if (value.length > 256) {
      let v = value;
      for (const tr of rule.transforms) v = tr(v);
      return v;
    }
    const key = `${rule.transformKey}\u0000${value}`;
    let v = t.transformCache.get(key);
    if (v === undefined) {
      v = value;
      for (const tr of rule.transforms) v = tr(v);
      t.transformCache.set(key, v);
    }
    return v;
  }

  private prefilterPasses(rule: Rule, value: string, t: Transaction): boolean {
    if (rule.prefilter < 0 || !this.automaton) return true;
    let bits = t.factorCache.get(value);
    if (!bits) {
      bits = new Uint8Array(this.factorCount);
      this.automaton.findAll(value, bits);
      if (t.factorCache.size < 4096) t.factorCache.set(value, bits);
    }
    for (const k of this.ruleFactors[rule.prefilter]) if (bits[k]) return true;
    return false;
  }

  private matchTargets(rule: Rule, head: Rule, t: Transaction): boolean {
    const op = rule.operator;
    if (!op) return false;
    let any = false;
    const newMatched: Entry[] = [];
    const wantCaptures = rule.capture;
    const skipTyped = head.attack && t.request.typedArgs !== undefined;
    for (const target of rule.targets) {
      if (this.isTargetRemoved(rule, head, target.fullName, t)) continue;
      const entries = this.resolve(target, rule, t);
      if (target.count) {
        const name = target.fullName.startsWith('&') ? target.fullName : `&${target.fullName}`;
        const r = op.run(String(entries.length), (s) => this.expand(s, t), wantCaptures);
        if (r.matched !== op.negated) {
          any = true;
          this.onValueMatch(rule, name, String(entries.length), r, t, newMatched);
        }
        continue;
      }
      for (const e of entries) {
        const name =
          e.key === '' && !['TX', 'ARGS', 'ARGS_NAMES'].includes(target.collection)
            ? target.collection
            : `${target.collection}:${e.key}`;
        if (target.collection !== 'MATCHED_VARS' && this.isTargetRemoved(rule, head, name, t)) continue;
        if (
          skipTyped &&
          (target.collection === 'ARGS' ||
            target.collection === 'ARGS_GET' ||
            target.collection === 'ARGS_POST') &&
          t.request.typedArgs?.has(e.key)
        )
          continue;
        const displayName = target.collection === 'MATCHED_VARS' ? e.key : name;
        const values: string[] = [];
        if (rule.multiMatch) {
          let v = e.value;
          values.push(v);
          for (const tr of rule.transforms) {
            const nv = tr(v);
            if (nv !== v) values.push(nv);
            v = nv;
          }
        } else values.push(this.transformed(e.value, rule, t));
        for (const v of values) {
          if (!op.negated && !this.prefilterPasses(rule, v, t)) continue;
          const r = op.run(v, (s) => this.expand(s, t), wantCaptures);
          if (r.matched === op.negated) continue;
          any = true;
          this.onValueMatch(rule, displayName, v, r, t, newMatched);
        }
      }
    }
    if (any) t.matchedVars = newMatched;
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
    newMatched.push({ key: name, value });
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
      const name = this.expand(sv.name, t).toLowerCase();
      const store = sv.collection === 'tx' ? t.tx : this.otherCollection(sv.collection, t);
      if (sv.op === 'unset') {
        store.delete(name);
        continue;
      }
      const value = this.expand(sv.value, t);
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

  /** Macro expansion: `%{tx.name}`, `%{MATCHED_VAR}`, `%{REQUEST_HEADERS.host}`... */
  private expand(s: string, t: Transaction): string {
    if (!s.includes('%{')) return s;
    this.settleCaptures(t);
    return s.replace(/%\{([^}]{1,200})\}/g, (_m, ref: string) => {
      const dot = ref.indexOf('.');
      const coll = (dot < 0 ? ref : ref.slice(0, dot)).toUpperCase();
      const key = dot < 0 ? undefined : ref.slice(dot + 1);
      if (coll === 'TX') return key === undefined ? '' : (t.tx.get(key.toLowerCase()) ?? '');
      if (coll === 'MATCHED_VAR') return t.matchedVar;
      if (coll === 'MATCHED_VAR_NAME') return t.matchedVarName;
      if (coll === 'RULE') return '';
      if (['IP', 'GLOBAL', 'SESSION', 'USER', 'RESOURCE'].includes(coll))
        return key === undefined ? '' : (t.other.get(coll.toLowerCase())?.get(key.toLowerCase()) ?? '');
      const entries = t.c.get(coll);
      if (!entries) return '';
      if (key === undefined) return entries[0]?.value ?? '';
      const lk = key.toLowerCase();
      return entries.find((e) => e.key.toLowerCase() === lk)?.value ?? '';
    });
  }
}
