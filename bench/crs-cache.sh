#!/bin/sh
# Cache misses per CRS evaluation under callgrind's cache simulation (issue 17, session 14): in the gateway the
# rest of a request evicts the engine's code and data between two evaluations, and what an evaluation then reads
# back from beyond L2 costs more than its instructions (docs/injection.md, session 14). bench/crs-engine.ts
# --count N runs with a sweep over BENCH_CRS_SWEEP_MB (default 8) of other memory before each evaluation;
# callgrind counts only the N evaluations (as bench/crs-count.sh), with a 2 MB L2 (this machine's, per core).
# Prints per evaluation, the sweep's own counts taken out: instructions, L1 and LL misses on the code and the data
# side, and Ir + 10 x L1 + 100 x LL misses as a rough cost; then the functions with the most LL misses, JIT code
# named through --perf-basic-prof.
# Usage: bench/crs-cache.sh [N] [engine script]   (NODEFLAGS adds Node flags; BENCH_CRS_SET, CRS4_RULES,
# BENCH_CRS_SHAPE (default 4, the HTTP bench's request) and BENCH_CRS_PL as bench/crs-engine.ts reads them).
set -eu
N=${1:-60}
SCRIPT=${2:-bench/crs-engine.ts}
NODE=${NODE:-node_modules/node/bin/node}
DIR=$(mktemp -d /tmp/crs-cache.XXXXXX)
export BENCH_CRS_SYNC=$DIR BENCH_CRS_WARM=${BENCH_CRS_WARM:-1500} BENCH_CRS_SWEEP_MB=${BENCH_CRS_SWEEP_MB:-8}
export BENCH_CRS_SHAPE=${BENCH_CRS_SHAPE:-4}
# shellcheck disable=SC2086
valgrind --tool=callgrind --cache-sim=yes --LL=2097152,16,64 --instr-atstart=no \
  --callgrind-out-file="$DIR/out.%p" \
  "$NODE" --perf-basic-prof --no-compact-code-space ${NODEFLAGS:-} "$SCRIPT" --count "$N" >"$DIR/log" 2>&1 &
VG=$!
while [ ! -e "$DIR/ready" ]; do sleep 1; done
callgrind_control -i on "$VG" >/dev/null
touch "$DIR/go"
while [ ! -e "$DIR/done" ]; do sleep 1; done
callgrind_control -i off "$VG" >/dev/null
touch "$DIR/exit"
wait "$VG"
OUT=$(ls "$DIR"/out.* | head -1)
PID=${OUT##*.}
callgrind_annotate --threshold=100 --show=Ir,I1mr,ILmr,D1mr,DLmr,D1mw,DLmw --sort=DLmr "$OUT" 2>/dev/null \
  >"$DIR/annotate"
"$NODE" -e '
const fs = require("node:fs");
const [ann, map, n] = process.argv.slice(1);
const ranges = fs.existsSync(map) ? fs.readFileSync(map, "utf8").split("\n").filter(Boolean).map((l) => {
  const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(l); return m ? [parseInt(m[1], 16), parseInt(m[2], 16), m[3]] : null;
}).filter(Boolean) : [];
// Code moves: the same address names several functions over a run; the last line written for it wins.
function name(addr) { for (let i = ranges.length - 1; i >= 0; i--) { const r = ranges[i];
  if (addr >= r[0] && addr < r[0] + r[1]) return r[2]; } return undefined; }
const row = /^\s*([\d,]+) \([^)]*\)\s+([\d,]+) \([^)]*\)\s+([\d,]+) \([^)]*\)\s+([\d,]+) \([^)]*\)\s+([\d,]+) \([^)]*\)\s+([\d,.]+)(?: \([^)]*\))?\s+([\d,.]+)(?: \([^)]*\))?\s+(.*)$/;
let total = [0, 0, 0, 0, 0, 0, 0];
const sweep = [0, 0, 0, 0, 0, 0, 0];
const by = new Map();
for (const line of fs.readFileSync(ann, "utf8").split("\n")) {
  const m = row.exec(line); if (!m) continue;
  const v = [1, 2, 3, 4, 5, 6, 7].map((i) => Number(m[i].replace(/,/g, "")) || 0);
  let fn = m[8];
  if (/PROGRAM TOTALS/.test(fn)) { total = v; continue; }
  const a = /0x([0-9a-f]+)/.exec(fn); if (a && fn.startsWith("???")) { const nm = name(parseInt(a[1], 16)); if (nm) fn = nm; }
  if (/sweepMemory/.test(fn)) { for (let i = 0; i < 7; i++) sweep[i] += v[i]; continue; }
  const o = by.get(fn) ?? [0, 0]; o[0] += v[2]; o[1] += v[4] + v[6]; by.set(fn, o);
}
const [ir, i1, il, d1r, dlr, d1w, dlw] = total.map((x, i) => (x - sweep[i]) / n);
console.log(`per evaluation: ${(ir / 1e6).toFixed(3)}M instructions; L1 misses code ${i1.toFixed(0)}, data read ` +
  `${d1r.toFixed(0)}, write ${d1w.toFixed(0)}; LL misses code ${il.toFixed(0)}, data read ${dlr.toFixed(0)}, ` +
  `write ${dlw.toFixed(0)}; Ir + 10 x L1 + 100 x LL ${((ir + 10 * (i1 + d1r + d1w) + 100 * (il + dlr + dlw)) / 1e6).toFixed(3)}M`);
console.log("LL misses per evaluation (code, data), functions over the annotator threshold:");
const top = [...by].sort((x, y) => y[1][0] + y[1][1] - x[1][0] - x[1][1]).slice(0, Number(process.env.TOP ?? 25));
for (const [f, [c, d]] of top) console.log(`  ${(c / n).toFixed(0).padStart(6)} ${(d / n).toFixed(0).padStart(6)}  ${f.slice(0, 110)}`);
' "$DIR/annotate" "/tmp/perf-$PID.map" "$N"
echo "files: $DIR"
