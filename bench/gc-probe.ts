/**
 * Loaded into a measured Node process with `--import` (bench/run.ts, the "Allocation and garbage
 * collection per request" section): each SIGUSR2 closes a window and writes what V8's collector saw in it
 * to $BENCH_GC_FILE as JSON: bytes allocated, bytes promoted out of the young generation (what survived
 * young collections), and the collections with their pauses. The bench divides by the requests the
 * window served. v8.GCProfiler records every collection's heap statistics before and after it.
 */
import { renameSync, writeFileSync } from 'node:fs';
import v8 from 'node:v8';

export interface GcWindow {
  seq: number;
  /** Bytes allocated on the JS heap in the window. */
  allocated: number;
  /** Bytes the young-generation collections moved to the old generation. */
  promoted: number;
  scavenges: number;
  /** Main-thread pause of each young collection, µs. */
  scavengePausesUs: number[];
  /** Other collections (mark-sweep-compact, incremental marking steps, weak callbacks). */
  otherCollections: number;
  otherPausesUs: number;
  /** Used heap at the end of the window. */
  usedHeap: number;
}

interface SpaceStats {
  spaceName: string;
  spaceUsedSize: number;
}
interface GcEntry {
  gcType: string;
  cost: number;
  beforeGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: SpaceStats[] };
  afterGC: { heapStatistics: { usedHeapSize: number }; heapSpaceStatistics: SpaceStats[] };
}

const file = process.env.BENCH_GC_FILE;
if (file) {
  let seq = 0;
  let profiler = new v8.GCProfiler();
  let usedAtStart = v8.getHeapStatistics().used_heap_size;
  profiler.start();
  const oldSpaces = (s: SpaceStats[]) =>
    s.reduce((n, x) => (x.spaceName.startsWith('new_') ? n : n + x.spaceUsedSize), 0);
  process.on('SIGUSR2', () => {
    const data = profiler.stop() as unknown as { statistics: GcEntry[] };
    const usedNow = v8.getHeapStatistics().used_heap_size;
    let allocated = 0;
    let promoted = 0;
    let previous = usedAtStart;
    const scavengePausesUs: number[] = [];
    let otherCollections = 0;
    let otherPausesUs = 0;
    for (const gc of data.statistics) {
      allocated += Math.max(0, gc.beforeGC.heapStatistics.usedHeapSize - previous);
      previous = gc.afterGC.heapStatistics.usedHeapSize;
      if (gc.gcType === 'Scavenge' || gc.gcType === 'MinorMarkSweep') {
        scavengePausesUs.push(gc.cost);
        promoted += Math.max(
          0,
          oldSpaces(gc.afterGC.heapSpaceStatistics) - oldSpaces(gc.beforeGC.heapSpaceStatistics),
        );
      } else {
        otherCollections++;
        otherPausesUs += gc.cost;
      }
    }
    allocated += Math.max(0, usedNow - previous);
    const window: GcWindow = {
      seq: ++seq,
      allocated,
      promoted,
      scavenges: scavengePausesUs.length,
      scavengePausesUs,
      otherCollections,
      otherPausesUs,
      usedHeap: usedNow,
    };
    // Written aside and renamed, so the bench never reads half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(window));
    renameSync(`${file}.tmp`, file);
    profiler = new v8.GCProfiler();
    usedAtStart = v8.getHeapStatistics().used_heap_size;
    profiler.start();
  });
}
