/**
 * One keyword automaton (Aho–Corasick) for many phrases at once: the `@pm` operators and the literal
 * prefilters of `@rx` rules are answered in one pass over a value, in time linear in its length
 * (issue 17 item 5). Phrases and input are compared in ASCII lower case, as `@pm` does.
 */

/** A compiled set of phrases. */
export interface KeywordAutomaton {
  /** The index of the first phrase found in `input` (leftmost end), or -1. */
  findFirst(input: string): { index: number; end: number } | undefined;
  /** Marks in `found` (indexed by phrase) every phrase that occurs in `input`. */
  findAll(input: string, found: Uint8Array): void;
  /**
   * Writes to `out` the index of every phrase that occurs in `input` (or, when the automaton was built
   * with groups, of every group such a phrase belongs to), each once, and returns how many: an index is new
   * when `seen[index] !== mark`, and is then stamped with `mark` (the caller picks a fresh mark per call, so
   * `seen` never needs clearing). `out` must hold one cell per phrase (or group).
   */
  collect(input: string, seen: Int32Array, mark: number, out: Int32Array): number;
  readonly size: number;
}

function lowerCode(c: number): number {
  return c >= 0x41 && c <= 0x5a ? c + 32 : c;
}

/**
 * Builds the automaton; characters are byte values (0–255) after ASCII lower-casing. `groups`, when given,
 * lists for each phrase the groups (e.g. rules) it belongs to: `collect` then reports groups, not phrases.
 */
export function compileKeywords(
  phrases: readonly string[],
  groups?: ReadonlyArray<readonly number[]>,
): KeywordAutomaton {
  // Goto function as per-state maps; output lists as arrays of phrase indexes.
  const next: Map<number, number>[] = [new Map()];
  const out: number[][] = [[]];
  const depthOf: number[] = [0];
  phrases.forEach((phrase, index) => {
    let s = 0;
    for (let i = 0; i < phrase.length; i++) {
      const c = lowerCode(phrase.charCodeAt(i) & 0xffff);
      let t = next[s].get(c);
      if (t === undefined) {
        t = next.length;
        next.push(new Map());
        out.push([]);
        depthOf.push(depthOf[s] + 1);
        next[s].set(c, t);
      }
      s = t;
    }
    out[s].push(index);
  });
  // The phrases ending exactly at each state (before the failure links add their suffixes' phrases).
  const own = out.map((o) => o.slice());
  const fail = new Int32Array(next.length);
  // Per state, the nearest state along its failure links that ends a phrase itself (-1: none).
  const dictLink = new Int32Array(next.length).fill(-1);
  const queue: number[] = [];
  for (const t of next[0].values()) queue.push(t);
  for (let qi = 0; qi < queue.length; qi++) {
    const s = queue[qi];
    for (const [c, t] of next[s]) {
      queue.push(t);
      let f = fail[s];
      while (f !== 0 && !next[f].has(c)) f = fail[f];
      const ft = next[f].get(c);
      fail[t] = ft !== undefined && ft !== t ? ft : 0;
      dictLink[t] = own[fail[t]].length > 0 ? fail[t] : dictLink[fail[t]];
      if (out[fail[t]].length > 0) out[t] = out[t].concat(out[fail[t]]);
    }
  }
  const emptyPhrase = phrases.findIndex((p) => p.length === 0);
  // A dense transition table over the byte classes the phrases use (every other byte is one class), with
  // failure links folded in: one array read per input character. Phrases beyond one byte per character
  // keep the map walk.
  const wide = phrases.some((p) => {
    for (let i = 0; i < p.length; i++) if (p.charCodeAt(i) > 0xff) return true;
    return false;
  });
  const classOf = new Uint8Array(256);
  let classes = 1;
  const reported = (o: readonly number[]): Int32Array =>
    groups === undefined ? Int32Array.from(o) : Int32Array.from(new Set(o.flatMap((k) => groups[k])));
  let delta: Int32Array | Uint16Array | undefined;
  let rank: Int32Array | undefined;
  // With the dense table: states numbered from here on report something, those below do not.
  let firstReportingRank = 0;
  if (!wide) {
    for (const p of phrases) {
      for (let i = 0; i < p.length; i++) {
        const c = lowerCode(p.charCodeAt(i));
        if (classOf[c] === 0) classOf[c] = classes++;
      }
    }
    // Upper-case letters read as their lower-case class.
    for (let c = 0x41; c <= 0x5a; c++) classOf[c] = classOf[c + 32];
    if (classes <= 255) {
      // Two bytes a cell when state numbers fit (they do for CRS's phrase lists).
      delta =
        next.length <= 0xffff
          ? new Uint16Array(next.length * classes)
          : new Int32Array(next.length * classes);
      // States renumbered breadth first: the shallow states most input characters visit share few rows.
      // Those that report something (themselves or through a suffix) come after all those that do not, so
      // the walk tells them apart by their number, without reading a table per character (the root, which
      // must stay 0, reports only the empty phrase: then every state is read as reporting).
      const reporting = new Uint8Array(next.length);
      for (let s = 1; s < next.length; s++)
        reporting[s] = dictLink[s] >= 0 || reported(own[s]).length > 0 ? 1 : 0;
      const bfs = [0, ...queue];
      const order =
        emptyPhrase >= 0
          ? bfs
          : [...bfs.filter((s) => reporting[s] === 0), ...bfs.filter((s) => reporting[s] === 1)];
      if (emptyPhrase < 0) firstReportingRank = bfs.filter((s) => reporting[s] === 0).length;
      const ranks = new Int32Array(next.length);
      order.forEach((s, r) => {
        ranks[s] = r;
      });
      // Rows filled breadth first: a state's row starts as its failure state's, which is shallower.
      for (const s of bfs) {
        const row = ranks[s] * classes;
        for (let k = 0; k < classes; k++) delta[row + k] = s === 0 ? 0 : delta[ranks[fail[s]] * classes + k];
        for (const [c, t] of next[s]) delta[row + classOf[c]] = ranks[t];
      }
      rank = ranks;
    }
  }
  const step = (s: number, c: number): number => {
    let st = s;
    for (;;) {
      const t = next[st].get(c);
      if (t !== undefined) return t;
      if (st === 0) return 0;
      st = fail[st];
    }
  };
  // Per state as the walk numbers them (breadth-first rank when the table is dense): what it reports
  // itself, and where its suffixes' reports continue.
  const outputs: Int32Array[] = new Array(next.length);
  const suffixOutputs = new Int32Array(next.length);
  const firstOut = new Int32Array(next.length);
  for (let s = 0; s < next.length; s++) {
    const r = rank === undefined ? s : rank[s];
    outputs[r] = reported(own[s]);
    const d = dictLink[s];
    suffixOutputs[r] = d < 0 ? -1 : rank === undefined ? d : rank[d];
    firstOut[r] = out[s].length > 0 ? out[s][0] : -1;
  }
  // Per state, the first state of its suffix chain (itself included) that reports something, or -1.
  const firstReporting = new Int32Array(next.length);
  for (let r = 0; r < next.length; r++) firstReporting[r] = outputs[r].length > 0 ? r : suffixOutputs[r];
  // The same reports in one array, for the collect loop: state r reports flat[flatStart[r] .. flatStart[r + 1]).
  const flatStart = new Int32Array(next.length + 1);
  for (let r = 0; r < next.length; r++) flatStart[r + 1] = flatStart[r] + outputs[r].length;
  const flat = new Int32Array(flatStart[next.length]);
  for (let r = 0; r < next.length; r++) flat.set(outputs[r], flatStart[r]);
  // Per state, the last collect pass that visited it.
  const visited = new Int32Array(next.length);
  let epoch = 0;
  const emptyOutputs = emptyPhrase >= 0 ? reported([emptyPhrase]) : new Int32Array(0);
  return {
    size: phrases.length,
    findFirst(input) {
      if (emptyPhrase >= 0) return { index: emptyPhrase, end: 0 };
      let s = 0;
      for (let i = 0, end = input.length; i < end; i++) {
        if (delta !== undefined) {
          const c = String.prototype.charCodeAt.call(input, i);
          s = delta[s * classes + (c <= 0xff ? classOf[c] : 0)];
        } else s = step(s, lowerCode(String.prototype.charCodeAt.call(input, i)));
        if (firstOut[s] >= 0) {
          // The longest phrase ending here is the one the state spells.
          return { index: firstOut[s], end: i + 1 };
        }
      }
      return undefined;
    },
    findAll(input, found) {
      if (emptyPhrase >= 0) found[emptyPhrase] = 1;
      let s = 0;
      for (let i = 0, end = input.length; i < end; i++) {
        // The map walk numbers states as they were built.
        s = step(s, lowerCode(String.prototype.charCodeAt.call(input, i)));
        const o = out[s];
        for (let k = 0; k < o.length; k++) found[o[k]] = 1;
      }
    },
    collect(input, seen, mark, found) {
      let count = 0;
      for (let k = 0; k < emptyOutputs.length; k++) {
        const x = emptyOutputs[k];
        if (seen[x] !== mark) {
          seen[x] = mark;
          found[count++] = x;
        }
      }
      const n = input.length;
      // A state's own outputs, then those along its chain of suffix states, are reported on its first visit in
      // this pass; a state met again (directly or as a suffix) was reported with its whole chain already.
      // So a pass costs the input's length plus each distinct output once, however many states share a
      // suffix such as a one-character phrase of many groups. No closure and no array growth: a pass
      // allocates nothing.
      epoch = (epoch + 1) | 0;
      if (epoch === 0) {
        visited.fill(0);
        epoch = 1;
      }
      const ep = epoch;
      // The closure's tables as constants of this call, so the loop keeps them in registers.
      const table = delta;
      const width = classes;
      const reporting = firstReporting;
      const from = firstReportingRank;
      let s = 0;
      for (let i = 0; i < n; i++) {
        const c = String.prototype.charCodeAt.call(input, i);
        // The hot path: one table read per character; a state numbered below `from` reports nothing.
        if (table !== undefined) s = table[s * width + (c <= 0xff ? classOf[c] : 0)];
        else s = step(s, lowerCode(c));
        if (s < from) continue;
        for (let u = reporting[s]; u >= 0 && visited[u] !== ep; u = suffixOutputs[u]) {
          visited[u] = ep;
          const end = flatStart[u + 1];
          for (let k = flatStart[u]; k < end; k++) {
            const x = flat[k];
            if (seen[x] !== mark) {
              seen[x] = mark;
              found[count++] = x;
            }
          }
        }
      }
      return count;
    },
  };
}
