/**
 * `portcullis audit` side by side with Spectral and its OWASP ruleset on the same specs: the spec fixtures and
 * generated specs of 100, 300 and 1,000 operations. Both run as separate processes on the same Node; the
 * bench prints wall time, CPU time, peak memory (RSS, from GNU time when installed) and the ratio.
 *
 * Spectral is installed with `npx` into the npm cache, never into package.json. If it cannot be installed
 * the bench says so and measures Portcullis alone.
 *
 *   npx node bench/audit.ts [--sizes 100,300,1000] [--runs 3] [--spectral-runs 1] [--spectral-timeout 600]
 *                           [--no-spectral] [--specs real-1.yaml,real-2.json,...]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runAudit } from '../src/scanner/audit/index.ts';
import { generateSpec } from './audit-spec.ts';

interface Measure {
  wallS: number;
  cpuS: number | undefined;
  rssMB: number | undefined;
  results: number | undefined;
  places?: number;
  note?: string;
}

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};

if (args[0] === '--child') {
  // The Portcullis side, as its own process: audit one spec and print what it found.
  const r = await runAudit(args[1]!);
  const places = r.findings.reduce((n, f) => n + (f.occurrences?.length ?? 1), 0);
  process.stdout.write(JSON.stringify({ findings: r.findings.length, places, ms: r.stats.durationMs }));
} else {
  await main();
}

async function main(): Promise<void> {
  const root = join(import.meta.dirname, '..');
  const sizes = (flag('--sizes') ?? '100,300,1000').split(',').map(Number);
  const runs = Number(flag('--runs') ?? 3);
  // Spectral takes minutes on the large specs: one run each by default.
  const spectralRuns = Number(flag('--spectral-runs') ?? 1);
  const spectralTimeoutS = Number(flag('--spectral-timeout') ?? 600);
  const withSpectral = !args.includes('--no-spectral');
  const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : undefined;
  const work = mkdtempSync(join(tmpdir(), 'portcullis-audit-bench-'));

  /** Runs a command under GNU time (when present) and a hard timeout; returns wall, CPU and peak RSS. */
  function measure(
    cmd: string[],
    timeoutS: number,
  ): { m: Omit<Measure, 'results'>; stdout: string; code: number | null } {
    const timeFile = join(work, 'time.txt');
    const wrapped = gnuTime
      ? [gnuTime, '-f', '%e %U %S %M', '-o', timeFile, 'timeout', '-s', 'KILL', String(timeoutS), ...cmd]
      : ['timeout', '-s', 'KILL', String(timeoutS), ...cmd];
    const started = performance.now();
    // Both tools get Node's compile cache (warmed by an untimed run), as an installed CLI would use it.
    const env = { ...process.env, NODE_COMPILE_CACHE: join(work, 'compile-cache') };
    const r = spawnSync(wrapped[0]!, wrapped.slice(1), {
      encoding: 'utf8',
      maxBuffer: 1 << 30,
      cwd: work,
      env,
    });
    const wallS = (performance.now() - started) / 1000;
    let cpuS: number | undefined;
    let rssMB: number | undefined;
    if (gnuTime && existsSync(timeFile)) {
      const last = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ');
      if (last.length === 4) {
        cpuS = Number(last[1]) + Number(last[2]);
        rssMB = Math.round(Number(last[3]) / 1024);
      }
      rmSync(timeFile);
    }
    const killed =
      r.status === 137 || r.signal === 'SIGKILL' || /Command terminated by signal 9/.test(r.stderr);
    return {
      m: { wallS, cpuS, rssMB, ...(killed ? { note: `killed after ${timeoutS} s` } : {}) },
      stdout: r.stdout,
      code: r.status,
    };
  }

  function median(list: Measure[]): Measure {
    const sorted = [...list].sort((a, b) => a.wallS - b.wallS);
    return sorted[Math.floor(sorted.length / 2)]!;
  }

  function runPortcullis(spec: string): Measure {
    const all: Measure[] = [];
    for (let i = 0; i < runs; i++) {
      const { m, stdout } = measure([process.execPath, join(root, 'bench/audit.ts'), '--child', spec], 300);
      const out = stdout ? (JSON.parse(stdout) as { findings: number; places: number }) : undefined;
      all.push({ ...m, results: out?.findings, places: out?.places });
    }
    return median(all);
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

  function runSpectral(spectral: { cli: string; ruleset: string }, spec: string): Measure {
    const all: Measure[] = [];
    for (let i = 0; i < spectralRuns; i++) {
      const { m, stdout } = measure(
        [process.execPath, spectral.cli, 'lint', '-r', spectral.ruleset, '-f', 'json', '-q', spec],
        spectralTimeoutS,
      );
      let results: number | undefined;
      try {
        results = (JSON.parse(stdout) as unknown[]).length;
      } catch {
        results = undefined;
      }
      all.push({ ...m, results });
      if (m.note) break;
    }
    return median(all);
  }

  const specs: { name: string; file: string; ops: string }[] = [];
  for (const f of ['clean-3.0.yaml', 'bad-3.0.yaml', 'bad-3.1.yaml', 'bad-2.0.yaml']) {
    specs.push({ name: f, file: join(root, 'test/fixtures/specs', f), ops: '' });
  }
  // Real specs the user names (`--specs a.yaml,b.json`): the ratio that matters is on these.
  for (const file of (flag('--specs') ?? '').split(',').filter(Boolean)) {
    specs.push({ name: file.split('/').pop()!, file, ops: '' });
  }
  for (const n of sizes) {
    const file = join(work, `generated-${n}-ops.yaml`);
    writeFileSync(file, generateSpec(Math.ceil(n / 5)));
    specs.push({ name: `generated-${n}-ops.yaml`, file, ops: String(Math.ceil(n / 5) * 5) });
  }
  for (const s of specs) {
    if (!s.ops) s.ops = String((await runAudit(s.file)).stats.operations);
  }

  const spectral = withSpectral ? installSpectral() : 'Spectral skipped (--no-spectral)';
  if (typeof spectral === 'string') console.log(spectral);
  console.log(
    `Node ${process.version}; median of ${runs} Portcullis run(s) and ${spectralRuns} Spectral run(s) per spec; peak RSS ${gnuTime ? 'from GNU time' : 'unavailable (no /usr/bin/time)'}; both tools as separate processes with a warm Node compile cache (NODE_COMPILE_CACHE).\n`,
  );

  const fmt = (m: Measure | undefined, what: 'wallS' | 'cpuS'): string => {
    if (!m) return '–';
    const v = m[what];
    return v === undefined ? 'n/a' : `${v.toFixed(2)} s`;
  };
  const rows: string[] = [
    '| spec | ops | size | Portcullis wall | CPU | peak RSS | findings (places) | Spectral wall | CPU | peak RSS | results | wall ratio | CPU ratio |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  console.log(rows.join('\n'));
  let totalP = 0;
  let totalS = 0;
  const wallRatios: number[] = [];
  const cpuRatios: number[] = [];
  for (const s of specs) {
    const p = runPortcullis(s.file);
    const sp = typeof spectral === 'string' ? undefined : runSpectral(spectral, s.file);
    totalP += p.wallS;
    if (sp) totalS += sp.wallS;
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
    if (sp && !sp.note) {
      wallRatios.push(sp.wallS / p.wallS);
      if (sp.cpuS !== undefined && p.cpuS) cpuRatios.push(sp.cpuS / p.cpuS);
    }
    const line = `| ${row.join(' | ')} |`;
    rows.push(line);
    console.log(line);
  }
  if (totalS > 0) {
    console.log(
      `\nTotal wall time: Portcullis ${totalP.toFixed(2)} s, Spectral ${totalS.toFixed(2)} s: ${(totalS / totalP).toFixed(1)}x.`,
    );
    const mid = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
    console.log(
      `Median ratio over ${wallRatios.length} specs: wall ${mid(wallRatios).toFixed(1)}x, CPU ${cpuRatios.length ? mid(cpuRatios).toFixed(1) : '–'}x (issue 18 goal: 10x on the median real spec).`,
    );
  }
  console.log(
    '\n"findings (places)": Portcullis groups findings (one per rule and fix); places counts every location they list. Spectral reports one result per location.',
  );
  rmSync(work, { recursive: true, force: true });
}
