/**
 * `portcullis audit` side by side with Spectral and its OWASP ruleset on the same specs: the spec fixtures,
 * real specs (`--specs`, `--specs-dir`) and generated specs of 100, 300 and 1,000 operations. Each tool runs
 * as the command a user types, one process per run, on the same Node: `bin/portcullis.js audit SPEC -f json`
 * against `spectral lint -r owasp -f json SPEC`. Runs alternate between the tools (P S S P ...), both with a
 * warm Node compile cache (an untimed run first). The bench prints CPU time (user + sys: `perf stat`'s
 * task-clock when perf works, else GNU time), wall time, peak memory (RSS, from GNU time) and the ratios, and
 * the median ratio over the specs. CPU is the figure to trust on a loaded machine.
 *
 * Spectral is installed with `npx` into the npm cache, never into package.json. If it cannot be installed
 * the bench says so and measures Portcullis alone.
 *
 *   node bench/audit.ts [--sizes 100,300,1000] [--runs 3] [--spectral-runs 1] [--spectral-timeout 600]
 *                       [--no-spectral] [--no-fixtures] [--specs real-1.yaml,...] [--specs-dir DIR]
 *                       [--max-spec-kb N]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { generateSpec } from './audit-spec.ts';
import { median } from './support.ts';

interface Measure {
  wallS: number;
  cpuS: number | undefined;
  rssMB: number | undefined;
  results: number | undefined;
  places?: number;
  operations?: number;
  note?: string;
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

const root = join(import.meta.dirname, '..');
const sizes = (flag('--sizes') ?? '100,300,1000').split(',').filter(Boolean).map(Number);
const runs = Number(flag('--runs') ?? 3);
// Spectral takes minutes on the large specs: one run each by default.
const spectralRuns = Number(flag('--spectral-runs') ?? 1);
const spectralTimeoutS = Number(flag('--spectral-timeout') ?? 600);
const maxSpecKB = Number(flag('--max-spec-kb') ?? Number.POSITIVE_INFINITY);
const withSpectral = !args.includes('--no-spectral');
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
const work = mkdtempSync(join(tmpdir(), 'portcullis-audit-bench-'));
const env = { ...process.env, NODE_COMPILE_CACHE: join(work, 'compile-cache') };

/** Whether `perf stat` can count task-clock here (it needs perf_event_paranoid <= 2 or privileges). */
const perf = (() => {
  try {
    const r = spawnSync('perf', ['stat', '-x,', '-e', 'task-clock', '--', 'true'], { encoding: 'utf8' });
    return r.status === 0 && /task-clock/.test(r.stderr) && !/not supported/.test(r.stderr);
  } catch {
    return false;
  }
})();

/** What the measuring wrappers cost by themselves, per run. */
interface Wrapper {
  readonly cpuS: number;
  readonly wallS: number;
}

/**
 * Runs a command under perf (when it works), GNU time (when present) and a hard timeout; returns wall and CPU
 * (each minus the wrappers' own, measured on `true`: about 20 ms of wall that would otherwise count against
 * the faster tool) and peak RSS.
 */
function measure(
  cmd: string[],
  timeoutS: number,
  wrapper: Wrapper = { cpuS: 0, wallS: 0 },
): { m: Omit<Measure, 'results'>; stdout: string; code: number | null } {
  const timeFile = join(work, 'time.txt');
  const perfFile = join(work, 'perf.txt');
  let wrapped = ['timeout', '-s', 'KILL', String(timeoutS), ...cmd];
  if (gnuTime) wrapped = [gnuTime, '-f', '%e %U %S %M', '-o', timeFile, ...wrapped];
  if (perf) wrapped = ['perf', 'stat', '-x,', '-e', 'task-clock', '-o', perfFile, '--', ...wrapped];
  const started = performance.now();
  const r = spawnSync(wrapped[0], wrapped.slice(1), {
    encoding: 'utf8',
    maxBuffer: 1 << 30,
    cwd: work,
    env,
  });
  const wallS = Math.max(0, (performance.now() - started) / 1000 - wrapper.wallS);
  let cpuS: number | undefined;
  let rssMB: number | undefined;
  if (gnuTime && existsSync(timeFile)) {
    const last = readFileSync(timeFile, 'utf8').trim().split('\n').pop()?.split(' ') ?? [];
    if (last.length === 4) {
      cpuS = Number(last[1]) + Number(last[2]);
      rssMB = Math.round(Number(last[3]) / 1024);
    }
    rmSync(timeFile);
  }
  if (perf && existsSync(perfFile)) {
    const line = readFileSync(perfFile, 'utf8')
      .split('\n')
      .find((l) => l.includes('task-clock'));
    const ms = line ? Number(line.split(',')[0]) : Number.NaN;
    if (Number.isFinite(ms)) cpuS = ms / 1000;
    rmSync(perfFile);
  }
  if (cpuS !== undefined) cpuS = Math.max(0, cpuS - wrapper.cpuS);
  const killed =
    r.status === 137 || r.signal === 'SIGKILL' || /Command terminated by signal 9/.test(r.stderr);
  return {
    m: { wallS, cpuS, rssMB, ...(killed ? { note: `killed after ${timeoutS} s` } : {}) },
    stdout: r.stdout,
    code: r.status,
  };
}

/** The run whose CPU time (else wall time) is the median, with the median of both figures. */
function middle(list: Measure[]): Measure {
  const byCpu = [...list].sort((a, b) => (a.cpuS ?? a.wallS) - (b.cpuS ?? b.wallS));
  const m = byCpu[(byCpu.length - 1) >> 1];
  const cpus = list.map((x) => x.cpuS).filter((x): x is number => x !== undefined);
  return {
    ...m,
    wallS: median(list.map((x) => x.wallS)),
    cpuS: cpus.length > 0 ? median(cpus) : undefined,
  };
}

/** Installs Spectral + the OWASP ruleset through npx (npm cache, no package.json change). */
function installSpectral(): { cli: string; ruleset: string } | string {
  try {
    const bin = execFileSync(
      'npx',
      [
        '--yes',
        '-p',
        '@stoplight/spectral-cli',
        '-p',
        '@stoplight/spectral-owasp-ruleset',
        '-c',
        'command -v spectral',
      ],
      { cwd: work, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 300_000 },
    ).trim();
    const cli = realpathSync(bin);
    const modules = dirname(dirname(bin));
    const owasp = join(modules, '@stoplight/spectral-owasp-ruleset/dist/ruleset.mjs');
    if (!existsSync(owasp)) return `OWASP ruleset not found next to ${bin}`;
    const ruleset = join(work, 'owasp-ruleset.mjs');
    writeFileSync(
      ruleset,
      `import owasp from ${JSON.stringify(owasp)};\nexport default { extends: [owasp] };\n`,
    );
    const version = execFileSync(process.execPath, [cli, '--version'], { encoding: 'utf8' }).trim();
    const rulesetVersion = JSON.parse(
      readFileSync(join(modules, '@stoplight/spectral-owasp-ruleset/package.json'), 'utf8'),
    ).version as string;
    console.log(`Spectral ${version} with @stoplight/spectral-owasp-ruleset ${rulesetVersion}`);
    return { cli, ruleset };
  } catch (err) {
    return `Spectral could not be installed: ${(err as Error).message.split('\n')[0]}`;
  }
}

const portcullisCmd = (spec: string) => [
  process.execPath,
  join(root, 'bin/portcullis.js'),
  'audit',
  spec,
  '--format',
  'json',
  '--fail-on',
  'critical',
];
const spectralCmd = (s: { cli: string; ruleset: string }, spec: string) => [
  process.execPath,
  s.cli,
  'lint',
  '-r',
  s.ruleset,
  '-f',
  'json',
  '-q',
  spec,
];

function portcullisRun(spec: string, wrapper: Wrapper): Measure {
  const { m, stdout } = measure(portcullisCmd(spec), 300, wrapper);
  try {
    const out = JSON.parse(stdout) as {
      findings: { occurrences?: unknown[] }[];
      stats: { operations: number };
    };
    const places = out.findings.reduce((n, f) => n + (f.occurrences?.length ?? 1), 0);
    return { ...m, results: out.findings.length, places, operations: out.stats.operations };
  } catch {
    return { ...m, results: undefined, note: m.note ?? 'no JSON report' };
  }
}

function spectralRun(spectral: { cli: string; ruleset: string }, spec: string, wrapper: Wrapper): Measure {
  const { m, stdout } = measure(spectralCmd(spectral, spec), spectralTimeoutS, wrapper);
  let results: number | undefined;
  try {
    results = (JSON.parse(stdout) as unknown[]).length;
  } catch {
    results = undefined;
  }
  return { ...m, results };
}

const specs: { name: string; file: string; ops: string }[] = [];
if (!args.includes('--no-fixtures')) {
  for (const f of ['clean-3.0.yaml', 'bad-3.0.yaml', 'bad-3.1.yaml', 'bad-2.0.yaml']) {
    specs.push({ name: f, file: join(root, 'test/fixtures/specs', f), ops: '' });
  }
}
// Real specs the user names (`--specs a.yaml,b.json` or `--specs-dir DIR`): the ratio that matters is on these.
const real = (flag('--specs') ?? '').split(',').filter(Boolean);
const dir = flag('--specs-dir');
if (dir) {
  for (const f of readdirSync(dir).sort()) if (/\.(ya?ml|json)$/.test(f)) real.push(join(dir, f));
}
for (const file of real) {
  if (statSync(file).size / 1024 > maxSpecKB) continue;
  specs.push({ name: file.split('/').pop() ?? file, file, ops: '' });
}
for (const n of sizes) {
  const file = join(work, `generated-${n}-ops.yaml`);
  writeFileSync(file, generateSpec(Math.ceil(n / 5)));
  specs.push({ name: `generated-${n}-ops.yaml`, file, ops: String(Math.ceil(n / 5) * 5) });
}

const spectral = withSpectral ? installSpectral() : 'Spectral skipped (--no-spectral)';
if (typeof spectral === 'string') console.log(spectral);
// The wrappers' own CPU and wall time (perf, GNU time, timeout), subtracted from every run.
const wrapperRuns = Array.from({ length: 5 }, () => measure(['true'], 10).m);
const wrapper: Wrapper = {
  cpuS: median(wrapperRuns.map((m) => m.cpuS ?? 0).filter((x) => x > 0)),
  wallS: median(wrapperRuns.map((m) => m.wallS)),
};
// Untimed runs: they fill both tools' compile caches.
portcullisRun(specs[0].file, { cpuS: 0, wallS: 0 });
if (typeof spectral !== 'string') spectralRun(spectral, specs[0].file, { cpuS: 0, wallS: 0 });
console.log(
  `Node ${process.version}; median of ${runs} Portcullis run(s) and ${spectralRuns} Spectral run(s) per spec, alternating; CPU = user + sys ${perf ? "from perf stat's task-clock" : gnuTime ? 'from GNU time' : 'unavailable'} (wrappers' own ${(wrapper.cpuS * 1000).toFixed(1)} ms CPU and ${(wrapper.wallS * 1000).toFixed(1)} ms wall subtracted); peak RSS ${gnuTime ? 'from GNU time' : 'unavailable (no /usr/bin/time)'}; both tools as the command a user runs, with a warm Node compile cache.\n`,
);

const fmt = (m: Measure | undefined, what: 'wallS' | 'cpuS'): string => {
  if (!m) return '–';
  const v = m[what];
  return v === undefined ? 'n/a' : `${v.toFixed(2)} s`;
};
console.log(
  '| spec | ops | size | Portcullis wall | CPU | peak RSS | findings (places) | Spectral wall | CPU | peak RSS | results | wall ratio | CPU ratio |',
);
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
let totalP = 0;
let totalS = 0;
let totalPCpu = 0;
let totalSCpu = 0;
const wallRatios: number[] = [];
const cpuRatios: number[] = [];
for (const s of specs) {
  const ps: Measure[] = [];
  const ss: Measure[] = [];
  const rounds = Math.max(runs, typeof spectral === 'string' ? 0 : spectralRuns);
  for (let i = 0; i < rounds; i++) {
    // Alternate which tool goes first, so neither always runs on the other's warm page cache.
    const order = i % 2 === 0 ? ['p', 's'] : ['s', 'p'];
    for (const who of order) {
      if (who === 'p' && i < runs) ps.push(portcullisRun(s.file, wrapper));
      if (who === 's' && typeof spectral !== 'string' && i < spectralRuns) {
        const r = spectralRun(spectral, s.file, wrapper);
        ss.push(r);
        if (r.note) break;
      }
    }
    if (ss.some((r) => r.note)) break;
  }
  const p = middle(ps);
  const sp = ss.length > 0 ? middle(ss) : undefined;
  if (p.operations !== undefined) s.ops ||= String(p.operations);
  totalP += p.wallS;
  totalPCpu += p.cpuS ?? 0;
  if (sp) {
    totalS += sp.wallS;
    totalSCpu += sp.cpuS ?? 0;
  }
  const ratio = (a: number | undefined, b: number | undefined, lowerBound: boolean): string =>
    a === undefined || b === undefined || b === 0 ? '–' : `${lowerBound ? '> ' : ''}${(a / b).toFixed(1)}x`;
  const row = [
    s.name,
    s.ops,
    `${Math.round(statSync(s.file).size / 1024)} KB`,
    fmt(p, 'wallS'),
    fmt(p, 'cpuS'),
    p.rssMB !== undefined ? `${p.rssMB} MB` : 'n/a',
    `${p.results ?? '?'} (${p.places ?? '?'})`,
    sp?.note ? `> ${spectralTimeoutS} s (${sp.note})` : fmt(sp, 'wallS'),
    fmt(sp, 'cpuS'),
    sp?.rssMB !== undefined ? `${sp.rssMB} MB` : sp ? 'n/a' : '–',
    sp ? String(sp.results ?? '?') : '–',
    ratio(sp?.wallS, p.wallS, Boolean(sp?.note)),
    ratio(sp?.cpuS, p.cpuS, Boolean(sp?.note)),
  ];
  // Specs Spectral could not lint (no JSON answer) do not count in the median.
  if (sp && !sp.note && sp.results !== undefined) {
    wallRatios.push(sp.wallS / p.wallS);
    if (sp.cpuS !== undefined && p.cpuS) cpuRatios.push(sp.cpuS / p.cpuS);
  }
  console.log(`| ${row.join(' | ')} |`);
}
if (totalS > 0) {
  console.log(
    `\nTotal: Portcullis ${totalP.toFixed(2)} s wall, ${totalPCpu.toFixed(2)} s CPU; Spectral ${totalS.toFixed(2)} s wall, ${totalSCpu.toFixed(2)} s CPU.`,
  );
  console.log(
    `Median ratio over ${wallRatios.length} specs: wall ${median(wallRatios).toFixed(1)}x, CPU ${cpuRatios.length ? median(cpuRatios).toFixed(1) : '–'}x (issue 18 goal: 10x on the median real spec).`,
  );
}
console.log(
  '\n"findings (places)": Portcullis groups findings (one per rule and fix); places counts every location they list. Spectral reports one result per location.',
);
rmSync(work, { recursive: true, force: true });
