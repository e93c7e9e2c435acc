import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  parsePasswordHash,
  passwordBytes,
  verifyPassword,
} from '../../src/policies/authenticate/password-hash.ts';
import { runCli } from '../kit/process.ts';

/** Runs the CLI with `input` on stdin (a pipe, not a terminal). */
const cli = (args: string[], input: string) => runCli(args, { input });

describe('portcullis password hash', () => {
  test('hashes the password read from stdin, printing only the hash on stdout', async () => {
    const r = await cli(['password', 'hash', '--log-n', '14', '--parallelism', '1'], 'tr0ub4dor & 3\n');
    assert.equal(r.code, 0, r.stderr);
    const line = r.stdout.trim();
    assert.match(line, /^scrypt\$16384\$8\$1\$[A-Za-z0-9_-]+\$[A-Za-z0-9_-]+$/);
    assert.equal(r.stdout.split('\n').length, 2, 'one line');
    const stored = parsePasswordHash(line);
    assert.equal(
      await verifyPassword(passwordBytes('tr0ub4dor & 3'), stored),
      true,
      'the newline is not part of it',
    );
    assert.match(r.stderr, /passwordHashes: \['scrypt\$/);
    assert.equal(r.stderr.includes('tr0ub4dor'), false);
  });

  test('refuses a password given on the command line, an empty one and a cost below the bounds', async () => {
    const argv = await cli(['password', 'hash', 'secret-on-argv'], 'x');
    assert.equal(argv.code, 2);
    assert.equal(argv.stdout, '');
    const empty = await cli(['password', 'hash'], '');
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no password on stdin/);
    const weak = await cli(['password', 'hash', '--log-n', '10'], 'x');
    assert.equal(weak.code, 2);
    assert.match(weak.stderr, /N must be a power of two from 16384/);
  });
});
