import type { Detector, InjectionClass } from './engine.ts';

/** One finding in a JSON document: where (RFC 6901 pointer) and what. */
export interface JsonFinding {
  readonly pointer: string;
  readonly class: InjectionClass;
}

function escapePointer(token: string): string {
  return token.indexOf('~') < 0 && token.indexOf('/') < 0
    ? token
    : token.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * The walk's stacks, kept between calls (a scan is synchronous and the detectors never call back into it):
 * the value, the frame of the container holding it (-1 for the root), and its key (a member name as
 * written, an array index, or null for the root). Each container visited gets a frame (its own container's
 * frame and its key), so that a pointer is only built, from the frames, where one is needed: for a finding,
 * or for `classesAt`. Slots are cleared as they are popped; stacks that grew past `KEEP_STACK` are dropped
 * after the scan.
 */
interface Stacks {
  values: unknown[];
  frames: number[];
  keys: Array<string | number | null>;
  /** One object's key names, in Object.keys order (without its array). */
  names: string[];
  frameParents: number[];
  frameKeys: Array<string | number | null>;
  /** Each frame's pointer once built (a deep body asks for the same prefixes again and again). */
  framePointers: Array<string | undefined>;
}
const KEEP_STACK = 1024;
const newStacks = (): Stacks => ({
  values: [],
  frames: [],
  keys: [],
  names: [],
  frameParents: [],
  frameKeys: [],
  framePointers: [],
});
let spare: Stacks | undefined = newStacks();

/**
 * Scans every key and every string leaf of a parsed JSON value, depth first, iteratively (no recursion, so a
 * deeply nested body cannot overflow the stack). `classesAt` narrows the classes for a pointer (exclusions);
 * returning an empty set skips that value. Stops after `max` findings.
 */
export function scanJson(
  detector: Detector,
  root: unknown,
  classesAt?: (pointer: string) => ReadonlySet<InjectionClass> | undefined,
  max = 8,
): JsonFinding[] {
  const stacks = spare ?? newStacks();
  spare = undefined;
  try {
    return walk(stacks, detector, root, classesAt, max);
  } finally {
    // Slots stay allocated (no array per scan) but hold nothing from this body.
    stacks.values.fill(undefined);
    stacks.keys.fill(null);
    stacks.names.fill('');
    stacks.frameKeys.fill(null);
    stacks.framePointers.fill(undefined);
    if (
      stacks.values.length <= KEEP_STACK &&
      stacks.names.length <= KEEP_STACK &&
      stacks.frameKeys.length <= KEEP_STACK
    )
      spare = stacks;
  }
}

/** The RFC 6901 pointer of the value at `key` in the container of `frame` ('' for the root). */
function pointerOf(stacks: Stacks, frame: number, key: string | number | null): string {
  if (key === null) return '';
  return `${framePointer(stacks, frame)}/${typeof key === 'number' ? key : escapePointer(key)}`;
}

/**
 * The pointer of the container of `frame`, built once per frame and scan: the frames above it without one
 * are collected first, then built top down, each from its parent's (no recursion, however deep the body).
 */
function framePointer(stacks: Stacks, frame: number): string {
  const { frameParents, frameKeys, framePointers } = stacks;
  let f = frame;
  const chain: number[] = [];
  while (f >= 0 && framePointers[f] === undefined && frameKeys[f] !== null) {
    chain.push(f);
    f = frameParents[f];
  }
  let p = f >= 0 ? (framePointers[f] ?? '') : '';
  for (let i = chain.length - 1; i >= 0; i--) {
    const k = frameKeys[chain[i]] as string | number;
    p = `${p}/${typeof k === 'number' ? k : escapePointer(k)}`;
    framePointers[chain[i]] = p;
  }
  return p;
}

function walk(
  stacks: Stacks,
  detector: Detector,
  root: unknown,
  classesAt: ((pointer: string) => ReadonlySet<InjectionClass> | undefined) | undefined,
  max: number,
): JsonFinding[] {
  const findings: JsonFinding[] = [];
  const { values, frames, keys, names, frameParents, frameKeys } = stacks;
  let top = 0;
  let nFrames = 0;
  values[top] = root;
  frames[top] = -1;
  keys[top] = null;
  top++;
  while (top > 0 && findings.length < max) {
    top--;
    const value = values[top];
    values[top] = undefined;
    const frame = frames[top];
    const key = keys[top];
    if (typeof value === 'string') {
      let only: ReadonlySet<InjectionClass> | undefined;
      if (classesAt !== undefined) {
        only = classesAt(pointerOf(stacks, frame, key));
        if (only !== undefined && only.size === 0) continue;
      }
      const cls = detector.scanValue(value, only);
      if (cls !== undefined) findings.push({ pointer: pointerOf(stacks, frame, key), class: cls });
    } else if (value !== null && typeof value === 'object') {
      // This container's frame: where its members' pointers start.
      const here = nFrames++;
      frameParents[here] = frame;
      frameKeys[here] = key;
      if (Array.isArray(value)) {
        for (let i = value.length - 1; i >= 0; i--) {
          values[top] = value[i];
          frames[top] = here;
          keys[top] = i;
          top++;
        }
        continue;
      }
      // Own enumerable keys in Object.keys order, then taken last to first (so that they come off the stack
      // in document order).
      let n = 0;
      for (const name in value as Record<string, unknown>) if (Object.hasOwn(value, name)) names[n++] = name;
      for (let i = n - 1; i >= 0; i--) {
        const name = names[i];
        let only: ReadonlySet<InjectionClass> | undefined;
        if (classesAt !== undefined) only = classesAt(pointerOf(stacks, here, name));
        if (only === undefined || only.size > 0) {
          const cls = detector.scanKey(name, only);
          if (cls !== undefined) {
            findings.push({ pointer: pointerOf(stacks, here, name), class: cls });
            continue;
          }
        }
        values[top] = (value as Record<string, unknown>)[name];
        frames[top] = here;
        keys[top] = name;
        top++;
      }
    }
  }
  return findings;
}
