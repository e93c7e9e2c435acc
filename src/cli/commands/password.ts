import {
  DEFAULT_SCRYPT,
  hashPassword,
  PasswordHashError,
  type ScryptParams,
} from '../../policies/authenticate/password-hash.ts';
import { registerCommand } from '../command-table.ts';
import { CliError } from '../errors.ts';

/** Longest password read; a longer stdin is almost certainly the wrong file. */
const MAX_PASSWORD_BYTES = 1024;

/**
 * Reads the password from stdin: the whole input when piped (one trailing newline removed), or one typed
 * line without echo on a terminal. Never from argv, where other users could read it in the process list.
 */
async function readPassword(): Promise<string> {
  const stdin = process.stdin;
  if (stdin.isTTY !== true) {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stdin) {
      size += (chunk as Buffer).length;
      if (size > MAX_PASSWORD_BYTES)
        throw new CliError(`the password is longer than ${MAX_PASSWORD_BYTES} bytes`);
      chunks.push(chunk as Buffer);
    }
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const first = await promptHidden('Password: ');
  const again = await promptHidden('Again: ');
  if (first !== again) throw new CliError('the two passwords differ');
  return first;
}

function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let typed = '';
    const done = (err?: Error) => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
      if (err === undefined) resolve(typed);
      else reject(err);
    };
    const onData = (chunk: Buffer) => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new CliError('cancelled', 130));
        if (ch === '\u007f' || ch === '\b') typed = [...typed].slice(0, -1).join('');
        else typed += ch;
        if (typed.length > MAX_PASSWORD_BYTES) return done(new CliError('the password is too long'));
      }
    };
    stdin.on('data', onData);
  });
}

registerCommand('password hash', {
  usage: 'portcullis password hash [--log-n N] < FILE',
  summary: 'hash a password (read from stdin) for an HTTP Basic consumer; prints the scrypt hash',
  help: `Options:
  --log-n N           scrypt cost as a power of two, 14 to 20 (default 15: N = 32768)
  --block-size N      scrypt block size r, 8 to 32 (default 8)
  --parallelism N     scrypt parallelism p, 1 to 16 (default 3)

The password is read from stdin (the whole input when piped, one trailing newline removed), or typed
twice without echo on a terminal; never from the command line, where other users could read it.
The hash alone goes to stdout, how to use it to stderr.`,
  async run(args) {
    const { parseArgs } = await import('node:util');
    let params: ScryptParams = DEFAULT_SCRYPT;
    try {
      const { values } = parseArgs({
        args,
        options: {
          'log-n': { type: 'string' },
          'block-size': { type: 'string' },
          parallelism: { type: 'string' },
        },
        strict: true,
      });
      const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
      params = {
        N: 2 ** num(values['log-n'], Math.log2(DEFAULT_SCRYPT.N)),
        r: num(values['block-size'], DEFAULT_SCRYPT.r),
        p: num(values.parallelism, DEFAULT_SCRYPT.p),
      };
    } catch (err) {
      throw new CliError((err as Error).message.split('\n')[0]);
    }
    const password = await readPassword();
    if (password === '') throw new CliError('no password on stdin');
    if (/[\u0000-\u001f\u007f-\u009f]/.test(password)) {
      // RFC 7617 §2: such a password could never be sent in a Basic credential.
      throw new CliError('the password contains control characters');
    }
    let hash: string;
    try {
      hash = await hashPassword(password, params);
    } catch (err) {
      if (err instanceof PasswordHashError) throw new CliError(err.message);
      throw err;
    }
    // The hash alone on stdout (for scripts); how to use it on stderr.
    process.stdout.write(`${hash}\n`);
    const note = (l: string) => process.stderr.write(`${l}\n`);
    note('');
    note('Add it to the consumer in your config (several hashes per consumer allow rotation):');
    note('');
    note('  policies:');
    note('    authenticate:');
    note('      schemes:');
    note('        <your http basic scheme>:');
    note('          basic:');
    note('            consumers:');
    note('              - name: <user-id>');
    note(`                passwordHashes: ['${hash}']`);
    return 0;
  },
});
