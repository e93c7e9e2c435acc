/** Counting and ordering helpers shared by the reporters. */
import {
  type Finding,
  type FindingOccurrence,
  type FindingsResult,
  SEVERITIES,
  type Severity,
  severityRank,
} from '../finding.ts';

export const TOOL_NAME = 'Portcullis';

/** Findings per severity, every severity present (zero when none). */
export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const out = { info: 0, low: 0, medium: 0, high: 0, critical: 0 } as Record<Severity, number>;
  for (const f of findings) out[f.severity]++;
  return out;
}

/** Severities from the most to the least severe. */
export const SEVERITIES_DESC: readonly Severity[] = [...SEVERITIES].reverse();

/** Every place a finding applies to: its occurrences, or its own location when it has none. */
export function placesOf(f: Finding): FindingOccurrence[] {
  if (f.occurrences && f.occurrences.length > 0) return [...f.occurrences];
  return [
    {
      pointer: f.location.pointer,
      ...(f.location.line !== undefined ? { line: f.location.line } : {}),
      ...(f.operation ? { operation: f.operation } : {}),
    },
  ];
}

/** `GET /users` for an operation, else the label, else the pointer. */
export function placeName(p: FindingOccurrence): string {
  if (p.operation) {
    const op = `${p.operation.method} ${p.operation.path}`;
    return p.label && p.label !== op ? `${op} (${p.label})` : op;
  }
  return p.label ?? (p.pointer === '' ? '(document)' : p.pointer);
}

/**
 * The exit code of `audit` and `scan`: 1 when a finding is at or above `failOn`, else 0. (2, for usage and
 * runtime errors, is the CLI's business.)
 */
export function exitCodeFor(findings: readonly Finding[], failOn: Severity = 'high'): 0 | 1 {
  const min = severityRank(failOn);
  return findings.some((f) => severityRank(f.severity) >= min) ? 1 : 0;
}

/** Parses a `--fail-on` value; undefined when it names no severity. */
export function parseSeverity(value: string): Severity | undefined {
  const v = value.toLowerCase();
  return (SEVERITIES as readonly string[]).includes(v) ? (v as Severity) : undefined;
}

/** A one-line title for the run: `audit of openapi.yaml` or `scan of https://api.example.com`. */
export function runTitle(result: FindingsResult): string {
  const kind = result.kind ?? 'audit';
  const subject = result.target ?? result.specFile;
  return subject ? `${kind} of ${subject}` : kind;
}

/** Notes the text report lists before pointing to the JSON report for the rest. */
export const NOTES_SHOWN = 20;
/** Characters of one note a human report shows (the JSON and JUnit reports keep it whole). */
export const NOTE_WIDTH = 200;

/**
 * The scan's notes as a human report shows them: control characters (a target's text may carry terminal
 * escapes) made spaces, runs of white space one, each cut at `width` characters with an ellipsis; at most
 * `max` of them, with how many more there are.
 */
export function shownNotes(
  notes: readonly string[] | undefined,
  max: number,
  width = NOTE_WIDTH,
): { readonly shown: string[]; readonly more: number } {
  const all = notes ?? [];
  const shown = all.slice(0, max).map((n) => {
    const flat = n.replace(/[\u0000-\u001f\u007f-\u009f\s]+/g, ' ').trim();
    return flat.length > width ? `${flat.slice(0, width - 1)}…` : flat;
  });
  return { shown, more: all.length - shown.length };
}

/** Operations (or rules) one condensed check note names before "and N more". */
const NOTE_PLACES = 3;

/**
 * What the checks noted beside the coverage counts (a cell's notes, and the coverage notes no cell holds), one
 * line per check and text: `API2 · POST /login: reason`, the places it was noted at gathered (the first three
 * named). The JSON report has each note whole, at its cell.
 */
export function checkNoteLines(result: FindingsResult): string[] {
  const groups = new Map<string, { check: string; reason: string; places: string[] }>();
  const add = (check: string, reason: string, place: string | undefined) => {
    const key = `${check}\0${reason}`;
    let g = groups.get(key);
    if (!g) {
      g = { check, reason, places: [] };
      groups.set(key, g);
    }
    if (place !== undefined && !g.places.includes(place)) g.places.push(place);
  };
  for (const cell of result.coverage?.matrix ?? []) {
    for (const n of cell.notes ?? []) add(cell.check, n, cell.operation);
  }
  for (const n of result.coverage?.notes ?? []) add(n.check, n.reason, n.operation ?? n.rule);
  return [...groups.values()].map(({ check, reason, places }) => {
    const named = places.slice(0, NOTE_PLACES).join(', ');
    const more = places.length > NOTE_PLACES ? ` and ${places.length - NOTE_PLACES} more` : '';
    return places.length > 0 ? `${check} · ${named}${more}: ${reason}` : `${check}: ${reason}`;
  });
}
