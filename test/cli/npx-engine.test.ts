/**
 * `npx portcullis` on a machine whose own Node is older than the pinned one prints no EBADENGINE warning.
 * npm runs on the machine's Node and checks each package's `engines` against it (on the first run, when it
 * links the project into its npx cache); Portcullis itself runs on the pinned Node 24 package, so such a
 * warning is both noise and wrong.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { run } from '../kit/process.ts';

const root = path.resolve(import.meta.dirname, '../..');

/** PATH without any node_modules/.bin, so `npm` runs on the machine's own Node as a user's shell would. */
function machinePath(): string {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => !dir.split(path.sep).includes('node_modules'))
    .join(path.delimiter);
}

test('npx portcullis prints no EBADENGINE warning on its first run, under the machine Node', async () => {
  const cache = await mkdtemp(path.join(tmpdir(), 'portcullis-npx-'));
  try {
    const env: NodeJS.ProcessEnv = {};
    // npm's own variables (set when this test runs under npm) would point it at the project's cache.
    for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
    env.PATH = machinePath();
    const machineNode = await run('node', ['--version'], { cwd: root, env });
    // A fresh cache: npm links the project into it, the step that checks `engines`.
    const r = await run('npm', ['exec', '--offline', '--cache', cache, '--', 'portcullis', 'help'], {
      cwd: root,
      env,
    });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Portcullis: /);
    assert.doesNotMatch(r.stderr, /EBADENGINE/, `npm on ${machineNode.stdout.trim()} warned:\n${r.stderr}`);
    assert.equal(r.stderr, '', 'npx prints nothing else either');
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('package.json declares no engines range for npm to check against the Node that runs npm', async () => {
  // The version check lives in bin/portcullis.js, against the Node that actually runs Portcullis.
  const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  assert.equal(pkg.engines, undefined);
  const lock = JSON.parse(await readFile(path.join(root, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, Record<string, unknown>>;
  };
  assert.equal(lock.packages[''].engines, undefined, 'the lockfile agrees with package.json');
  const binText = await readFile(path.join(root, 'bin/portcullis.js'), 'utf8');
  assert.match(binText, /major < 24/);
});
