#!/bin/sh
# Instructions per CRS evaluation under callgrind (issue 17 item 5), as docs/injection.md's sessions 9-12 count them:
# bench/crs-engine.ts --count N after BENCH_CRS_WARM warm-up evaluations, callgrind counting only the N
# (--instr-atstart=no, toggled through BENCH_CRS_SYNC), JIT code named through --perf-basic-prof so that
# V8's garbage collector and compilers can be taken out. Prints total, GC+compiler and the rest per evaluation.
# Usage: bench/crs-count.sh [N] [engine script]   (BENCH_CRS_SET=4 with CRS4_RULES, BENCH_CRS_SHAPE, BENCH_CRS_PL as
# bench/crs-engine.ts reads them; the engine script defaults to this checkout's bench/crs-engine.ts).
set -eu
N=${1:-300}
SCRIPT=${2:-bench/crs-engine.ts}
NODE=${NODE:-node_modules/node/bin/node}
DIR=$(mktemp -d /tmp/crs-count.XXXXXX)
export BENCH_CRS_SYNC=$DIR BENCH_CRS_WARM=${BENCH_CRS_WARM:-2500}
valgrind --tool=callgrind --instr-atstart=no --callgrind-out-file="$DIR/out.%p" \
  "$NODE" --perf-basic-prof --no-compact-code-space "$SCRIPT" --count "$N" >"$DIR/log" 2>&1 &
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
callgrind_annotate --threshold=100 "$OUT" 2>/dev/null >"$DIR/annotate"
# JIT addresses named from the perf map; GC (Heap, Scavenger, Mark, Sweep...) and compiler (compiler::, Turbofan,
# Maglev, Sparkplug) functions summed apart.
"$NODE" -e '
const fs = require("node:fs");
const [ann, map, n] = process.argv.slice(1);
// Code moves: the same address names several functions over a run; the last line written for it wins.
const ranges = fs.existsSync(map) ? fs.readFileSync(map, "utf8").split("\n").filter(Boolean).map((l) => {
  const m = /^([0-9a-f]+) ([0-9a-f]+) (.*)$/.exec(l); return m ? [parseInt(m[1], 16), parseInt(m[2], 16), m[3]] : null;
}).filter(Boolean) : [];
function name(addr) { for (let i = ranges.length - 1; i >= 0; i--) { const r = ranges[i];
  if (addr >= r[0] && addr < r[0] + r[1]) return r[2]; } return undefined; }
let total = 0, gc = 0; const by = new Map();
for (const line of fs.readFileSync(ann, "utf8").split("\n")) {
  const m = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line); if (!m) continue;
  const ir = Number(m[1].replace(/,/g, "")); let fn = m[2];
  if (/PROGRAM TOTALS/.test(fn)) { total = ir; continue; }
  const a = /0x([0-9a-f]+)/.exec(fn); if (a && !/\?\?\?:/.test(fn) === false || (a && fn.startsWith("???"))) { const nm = name(parseInt(a[1], 16)); if (nm) fn = nm; }
  if (/Heap|Scaveng|MarkCompact|Marking|Sweep|GCTracer|Evacuat|compiler::|Maglev|maglev|Turbofan|baseline::|Compiler::|Compile|Deoptimiz|Concurrent|Heap::|RememberedSet|SlotSet|memmove|BackgroundThread/.test(fn)) gc += ir;
  by.set(fn, (by.get(fn) ?? 0) + ir);
}
const per = (x) => (x / n / 1e6).toFixed(3) + "M";
console.log(`per evaluation: total ${per(total)}, gc+compiler ${per(gc)}, rest ${per(total - gc)}`);
const top = [...by].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.TOP ?? 25));
for (const [f, ir] of top) console.log(`  ${(ir / n / 1e3).toFixed(1).padStart(8)}K  ${f.slice(0, 110)}`);
' "$DIR/annotate" "/tmp/perf-$PID.map" "$N"
echo "files: $DIR"
