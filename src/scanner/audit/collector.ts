/**
 * Groups rule hits into findings a person can act on: one finding per rule and group key (a schema, a
 * parameter name, "every operation missing a 429"), listing every place it applies to.
 */
import { type Finding, type FindingOccurrence, type Severity, severityRank } from '../finding.ts';
import type { AuditOperation } from './model.ts';
import type { AuditRuleInfo } from './rules.ts';

export interface Hit {
  /** Hits of one rule with the same key become one finding. */
  readonly key: string;
  /** Where the finding is located (the first hit of a group decides). */
  readonly anchor: string;
  /** What the finding is about, e.g. `schema User`; omitted for groups of operations. */
  readonly subject?: string;
  /** Where this hit is. */
  readonly pointer: string;
  /** Names this hit in the message: a property path, an operation, a server URL. */
  readonly label?: string;
  readonly op?: AuditOperation;
  readonly severity?: Severity;
  /** Appended to the message once, in parentheses. */
  readonly note?: string;
  readonly evidence?: Readonly<Record<string, unknown>>;
}

export type Emit = (rule: AuditRuleInfo, hit: Hit) => void;

interface Group {
  rule: AuditRuleInfo;
  first: Hit;
  severity: Severity;
  hits: Hit[];
  seen: Set<string>;
}

/** At most this many places are listed per finding (SARIF allows 1,000 locations per result). */
const MAX_OCCURRENCES = 1000;
/** At most this many labels are spelled out in a message. */
const MAX_LABELS = 8;

export function createCollector(file: string, lineOf: (pointer: string) => number | undefined) {
  const groups = new Map<string, Group>();
  const emit: Emit = (rule, hit) => {
    const id = `${rule.id}\u0000${hit.key}`;
    let g = groups.get(id);
    const severity = hit.severity ?? rule.severity;
    if (!g) {
      g = { rule, first: hit, severity, hits: [], seen: new Set() };
      groups.set(id, g);
    } else if (severityRank(severity) > severityRank(g.severity)) g.severity = severity;
    const dedupe = `${hit.pointer}\u0000${hit.label ?? ''}`;
    if (g.seen.has(dedupe)) return;
    g.seen.add(dedupe);
    g.hits.push(hit);
  };

  const findings = (): Finding[] => {
    const out: Finding[] = [];
    for (const g of groups.values()) {
      const labels = [...new Set(g.hits.map((h) => h.label).filter((l): l is string => l !== undefined))];
      let message = g.first.subject ? `${g.rule.title} in ${g.first.subject}` : g.rule.title;
      if (labels.length > 0) {
        const shown = labels.slice(0, MAX_LABELS).join(', ');
        message += `: ${shown}${labels.length > MAX_LABELS ? ` and ${labels.length - MAX_LABELS} more` : ''}`;
      }
      if (g.first.note) message += ` (${g.first.note})`;
      message += '.';
      const ops = new Set(g.hits.map((h) => h.op).filter((o): o is AuditOperation => o !== undefined));
      const only = ops.size === 1 ? [...ops][0] : undefined;
      const occurrences: FindingOccurrence[] = g.hits.slice(0, MAX_OCCURRENCES).map((h) => ({
        pointer: h.pointer,
        line: lineOf(h.pointer),
        ...(h.op ? { operation: opRef(h.op) } : {}),
        ...(h.label ? { label: h.label } : {}),
      }));
      const evidence: Record<string, unknown> = { ...g.first.evidence, count: g.hits.length };
      out.push({
        rule: g.rule,
        severity: g.severity,
        message,
        location: { file, pointer: g.first.anchor, line: lineOf(g.first.anchor) },
        ...(only ? { operation: opRef(only) } : {}),
        evidence,
        occurrences,
        fingerprint: fingerprint(g.rule.id, g.first.key),
      });
    }
    // Most severe first, then by rule and location, so reports read top-down and diffs stay stable.
    out.sort(
      (a, b) =>
        severityRank(b.severity) - severityRank(a.severity) ||
        // Plain code-unit order: localeCompare would load ICU collation, which costs more than the audit.
        (a.rule.id < b.rule.id ? -1 : a.rule.id > b.rule.id ? 1 : 0) ||
        (a.location.line ?? 0) - (b.location.line ?? 0),
    );
    return out;
  };
  return { emit, findings };
}

function opRef(op: AuditOperation) {
  return { method: op.method, path: op.path, ...(op.id !== op.label ? { operationId: op.id } : {}) };
}

/**
 * A stable fingerprint: the same rule and group key give the same value on every run. Four FNV-1a 32-bit
 * hashes with different offsets make 128 bits; it only has to be stable and spread, not cryptographic.
 */
export function fingerprint(...parts: string[]): string {
  const text = parts.join('\u0000');
  let out = '';
  for (const seed of [0x811c9dc5, 0x01000193, 0x2545f491, 0x9e3779b9]) {
    let h = seed >>> 0;
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193) >>> 0;
    }
    out += h.toString(16).padStart(8, '0');
  }
  return out;
}
