#!/usr/bin/env node
// Portcullis CLI. Runs the TypeScript sources directly (Node >= 24 strips types natively).
const [major] = process.versions.node.split('.').map(Number);
if (major < 24) {
  process.stderr.write(
    `portcullis: needs Node.js 24 or newer (this is ${process.version}); run it through npm/npx so the pinned Node is used\n`,
  );
  process.exit(2);
}

/**
 * V8 heap settings `serve` starts Node with (docs/limits.md, "Resident memory"): a young generation of
 * 2 x 16 MB instead of Node 24's 2 x 64 MB, and a full collection once the old generation is 1.5 times
 * what was live after the last one. A gateway that has seen 100 000 client addresses stays near 225 MB
 * resident instead of about 400 MB; young collections come four times as often but each is shorter
 * (bench/gc.ts: 1.6 against 0.42 per 1000 pass-through requests, median pause 0.9 ms against 1.6 ms).
 * 1.3 instead of 1.5 ended no lower (222 against 225 MB) and ran three times as many full collections.
 */
const DEFAULT_HEAP_FLAGS = '--max-semi-space-size=16 --heap-growing-percent=50';

/**
 * Returns the flags to restart `serve` with: PORTCULLIS_NODE_FLAGS (the defaults above when it is not
 * set; set and empty: Node's own defaults), less any flag already given on the command line or in
 * NODE_OPTIONS (a flag the user gives wins).
 */
function heapFlags() {
  const wanted = (process.env.PORTCULLIS_NODE_FLAGS ?? DEFAULT_HEAP_FLAGS).split(/\s+/).filter(Boolean);
  const given = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)].map((f) =>
    f.split('=')[0].replaceAll('_', '-'),
  );
  return wanted.filter((f) => !given.includes(f.split('=')[0].replaceAll('_', '-')));
}

// V8 reads these sizes when the process starts, so `serve` replaces itself (execve: same pid, same
// stdio) with a Node started with them, once. Cluster workers inherit them from the primary's
// execArgv. Where execve does not exist (Windows), Node's defaults stay.
if (
  process.argv[2] === 'serve' &&
  process.env.PORTCULLIS_HEAP_FLAGS_APPLIED === undefined &&
  process.env.NODE_UNIQUE_ID === undefined &&
  typeof process.execve === 'function'
) {
  const flags = heapFlags();
  if (flags.length > 0) {
    process.execve(
      process.execPath,
      [process.execPath, ...flags, ...process.execArgv, ...process.argv.slice(1)],
      {
        ...process.env,
        PORTCULLIS_HEAP_FLAGS_APPLIED: flags.join(' '),
      },
    );
  }
}

/**
 * Node's compile cache keeps our modules type-stripped and compiled between runs: without it every run
 * loads the TypeScript stripper and strips each module again (`portcullis help` 145 against 50 ms of CPU,
 * Node alone 25). The cache is code this process will run, so it lives in the user's own cache directory
 * ($XDG_CACHE_HOME or ~/.cache), not in Node's default, a directory under the shared /tmp that another
 * local user could create first. NODE_COMPILE_CACHE, when set, wins (Node has enabled it already), and
 * NODE_DISABLE_COMPILE_CACHE=1 turns it off. A directory that cannot be created or written only means no
 * cache: Node reports it in the status and runs the modules uncached.
 */
const { enableCompileCache } = await import('node:module');
if (enableCompileCache !== undefined && process.env.NODE_COMPILE_CACHE === undefined) {
  const { homedir } = await import('node:os');
  const home = process.env.XDG_CACHE_HOME || (homedir() && `${homedir()}/.cache`);
  if (home?.startsWith('/')) {
    try {
      enableCompileCache(`${home}/portcullis/node-compile-cache`);
    } catch {
      // No cache: slower start, same behaviour.
    }
  }
}
const { main } = await import('../src/cli/main.ts');
await main(process.argv.slice(2));
