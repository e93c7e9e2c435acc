/**
 * `--help` on every command: usage and options on stdout, exit 0, and nothing run (no stdin read, no port
 * opened, no required flag asked for).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { runCli } from '../kit/process.ts';

/**
 * Runs the CLI with stdin left open (a command that read it would wait): killed after 60 s, so a command
 * that runs instead of printing its help fails the test rather than hanging it.
 */
const cli = (args: string[]) => runCli(args, { stdinOpen: true, killAfterMs: 60_000 });

/**
 * `cli` once per distinct `COMMAND --help`: its output is a constant of the code, and several tests below
 * read the same one (each `--help` is its own Node process, the bulk of this file's time).
 */
const helpOf = (() => {
  const runs = new Map<string, ReturnType<typeof cli>>();
  return (name: string) => {
    let r = runs.get(name);
    if (r === undefined) {
      r = cli([...name.split(' '), '--help']);
      runs.set(name, r);
    }
    return r;
  };
})();

/** The command names `portcullis help` lists: one or two lower-case words (`demo`, `config check`). */
async function listedCommands(): Promise<string[]> {
  const r = await cli(['help']);
  assert.equal(r.code, 0, r.stderr);
  const names: string[] = [];
  for (const line of r.stdout.split('\n')) {
    const m = /^ {2}portcullis ((?:[a-z]+)(?: [a-z]+)?)(?: |$)/.exec(line);
    if (m === null) continue;
    names.push(m[1]);
  }
  return names;
}

describe('portcullis --help', () => {
  test('every command portcullis help lists answers --help with its usage on stdout and exit 0', async () => {
    const names = await listedCommands();
    for (const expected of ['serve', 'config check', 'cert create', 'key create', 'password hash'])
      assert.ok(names.includes(expected), `${expected} is listed: ${names.join(', ')}`);
    for (const expected of ['crs test', 'demo', 'demo attack', 'audit', 'scan'])
      assert.ok(names.includes(expected), `${expected} is listed: ${names.join(', ')}`);
    for (const name of names) {
      const r = await helpOf(name);
      assert.equal(r.code, 0, `${name} --help exits 0: ${r.stderr}`);
      assert.equal(r.stderr, '', `${name} --help writes nothing to stderr`);
      assert.match(
        r.stdout,
        new RegExp(`^Usage: portcullis ${name}\\b`),
        `${name} --help starts with its usage`,
      );
      assert.match(r.stdout, /-h, --help/);
    }
  });

  test('the help of a command names each option it accepts, and -h is the same as --help', async () => {
    const expected: Record<string, string[]> = {
      serve: ['--config', '--workers', '--no-watch'],
      'config check': ['FILE'],
      'cert create': ['--out', '--host', '--days'],
      'key create': ['--consumer'],
      'password hash': ['--log-n', '--block-size', '--parallelism'],
      'crs test': ['--rules', '--paranoia', '--detection-paranoia', '--threshold', '--allowed-methods'],
      demo: ['--port', '--admin-port', 'demo attack'],
    };
    for (const [name, options] of Object.entries(expected)) {
      const long = await helpOf(name);
      const short = await cli([...name.split(' '), '-h']);
      assert.equal(short.code, 0);
      assert.equal(short.stdout, long.stdout, `${name} -h prints what --help prints`);
      const body = long.stdout.split('\n').slice(1).join('\n');
      for (const option of options) assert.ok(body.includes(option), `${name} --help explains ${option}`);
    }
  });

  test('--help wins over missing required flags and never runs the command', async () => {
    // serve would refuse without --config; password hash would wait for stdin; demo would open ports.
    for (const args of [
      ['serve', '--help'],
      ['serve', '--config', '--help'],
      ['password', 'hash', '--help'],
      ['demo', '--port', '1', '--help'],
      ['config', 'check', '--help'],
    ]) {
      const r = await cli(args);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /^Usage: /);
    }
  });

  test('a group name lists its subcommands: on stdout with --help, as an error without', async () => {
    const asked = await cli(['config', '--help']);
    assert.equal(asked.code, 0);
    assert.match(asked.stdout, /portcullis config check FILE/);
    assert.match(asked.stdout, /portcullis config schema/);
    const bare = await cli(['config']);
    assert.equal(bare.code, 2);
    assert.equal(bare.stdout, '');
    assert.match(bare.stderr, /portcullis config check FILE/);
    const wrong = await cli(['config', 'nope', '--help']);
    assert.equal(wrong.code, 2);
    assert.match(wrong.stderr, /unknown command "config nope"/);
  });

  test('portcullis help COMMAND prints the same as COMMAND --help', async () => {
    const a = await cli(['help', 'crs', 'test']);
    const b = await helpOf('crs test');
    assert.equal(a.code, 0);
    assert.equal(a.stdout, b.stdout);
    const unknown = await cli(['help', 'nope']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command "nope"/);
  });

  test('--version, -V and version print the package version and the Node it runs on', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
    for (const flag of ['--version', '-V', 'version']) {
      const r = await cli([flag]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout, `portcullis ${version} (Node ${process.versions.node})\n`);
    }
  });

  test('an argument after -- is not a request for help', async () => {
    // crs test takes a URL; "--" ends the options, so "--help" is that URL (not absolute: a usage error).
    const r = await cli(['crs', 'test', '--rules', '/nonexistent', '--', '--help']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
  });
});
