import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Detector, InjectionClass } from './engine.ts';
import { scanJson } from './json-walk.ts';
import { INJECTION_CLASSES } from './types.ts';

/** One labelled corpus line (see test/fixtures/corpus/generate.ts). */
export interface CorpusItem {
  readonly class: InjectionClass;
  readonly label: 'attack' | 'benign';
  readonly input: string;
  readonly where: 'query' | 'body';
}

/** Per-class detection and false-positive counts. */
export interface CorpusScore {
  readonly class: InjectionClass;
  attacks: number;
  detected: number;
  benign: number;
  falsePositives: number;
}

/** Reads every `<class>.jsonl` file of the corpus directory. */
export function loadCorpus(dir: string): CorpusItem[] {
  const items: CorpusItem[] = [];
  for (const cls of INJECTION_CLASSES) {
    const text = readFileSync(join(dir, `${cls}.jsonl`), 'utf8');
    for (const line of text.split('\n')) if (line.trim() !== '') items.push(JSON.parse(line) as CorpusItem);
  }
  return items;
}

/** Whether the detector flags an item the way the gateway would: query values as they are, bodies walked. */
export function isFlagged(detector: Detector, item: CorpusItem): boolean {
  if (item.where === 'body') {
    let doc: unknown;
    try {
      doc = JSON.parse(item.input);
    } catch {
      return detector.scanValue(item.input) !== undefined;
    }
    return scanJson(detector, doc, undefined, 1).length > 0;
  }
  return detector.scanValue(item.input) !== undefined;
}

/** Scores a corpus: an attack counts as detected, and a benign input as a false positive, when flagged. */
export function scoreCorpus(
  items: readonly CorpusItem[],
  flagged: (item: CorpusItem) => boolean,
): CorpusScore[] {
  const scores = new Map<InjectionClass, CorpusScore>();
  for (const cls of INJECTION_CLASSES)
    scores.set(cls, { class: cls, attacks: 0, detected: 0, benign: 0, falsePositives: 0 });
  for (const item of items) {
    const s = scores.get(item.class)!;
    const hit = flagged(item);
    if (item.label === 'attack') {
      s.attacks++;
      if (hit) s.detected++;
    } else {
      s.benign++;
      if (hit) s.falsePositives++;
    }
  }
  return [...scores.values()];
}

export function percent(n: number, d: number): string {
  return d === 0 ? '-' : `${((100 * n) / d).toFixed(1)}%`;
}
