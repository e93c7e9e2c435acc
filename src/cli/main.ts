import { parseArgs } from 'node:util';
import { type Command, commands, registerCommand } from './command-table.ts';
import { CliError } from './errors.ts';

/** Writes one line to stdout. */
const out = (line: string) => process.stdout.write(`${line}\n`);

function flags<
  T extends Record<
    string,
    { type: 'string' | 'boolean'; short?: string; default?: string | boolean; multiple?: boolean }
  >,
>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (err) {
    throw new CliError((err as Error).message.split('\n')[0]);
  }
}

function stopOnSignal(close: () => Promise<void>): void {
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) {
      process.exit(130);
    }
    stopping = true;
    process.stderr.write(`\nportcullis: ${signal} received, draining in-flight requests...\n`);
    close().then(
      () => process.exit(0),
      (err) => {
        process.stderr.write(`portcullis: shutdown failed: ${(err as Error).message}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

/** Every command, in the order `portcullis help` lists them. */
const builtIn: Record<string, Command> = {
  serve: {
    usage: 'portcullis serve --config FILE [--workers N] [--no-watch]',
    summary: 'run the gateway (reloads on SIGHUP and when the config file changes)',
    async run(args) {
      const { values } = flags(args, {
        config: { type: 'string', short: 'c' },
        'no-watch': { type: 'boolean' },
        workers: { type: 'string', default: '1' },
      });
      if (!values.config) throw new CliError('serve needs --config FILE');
      const workers = Number(values.workers);
      if (!Number.isInteger(workers) || workers < 1 || workers > 64) {
        throw new CliError('--workers must be an integer from 1 to 64');
      }
      // Each command loads what it runs on use, so `audit` never loads the gateway (and the reverse).
      const { serve, superviseWorkers } = await import('./commands/serve.ts');
      if (workers > 1 && (await superviseWorkers(workers, out))) return 'running';
      const runtime = await serve({
        configFile: values.config,
        env: process.env,
        watch: !values['no-watch'],
        out,
      });
      stopOnSignal(() => runtime.close());
      return 'running';
    },
  },
  'config check': {
    usage: 'portcullis config check FILE',
    summary: 'validate a config file and compile its APIs and policies; exit 1 listing every problem',
    async run(args) {
      const { positionals } = flags(args, {});
      if (positionals.length !== 1) throw new CliError('config check needs exactly one FILE');
      const { configCheck } = await import('./commands/config-check.ts');
      return configCheck({ file: positionals[0], env: process.env, out });
    },
  },
  'config schema': {
    usage: 'portcullis config schema',
    summary: 'print the JSON Schema of the config file (for editors)',
    async run() {
      const { configSchema } = await import('./config.ts');
      out(JSON.stringify(configSchema(), null, 2));
      return 0;
    },
  },
  'cert create': {
    usage: 'portcullis cert create [--out DIR] [--host NAME ...] [--days N]',
    summary: 'make a self-signed certificate and key for trying HTTPS locally',
    async run(args) {
      const { values } = flags(args, {
        out: { type: 'string', default: './certs' },
        host: { type: 'string', multiple: true },
        days: { type: 'string', default: '30' },
      });
      const days = Number(values.days);
      if (!Number.isInteger(days) || days < 1 || days > 366)
        throw new CliError('--days must be an integer from 1 to 366');
      const { createCert } = await import('./commands/cert.ts');
      await createCert({
        outDir: values.out as string,
        hosts: (values.host as string[] | undefined) ?? ['localhost', '127.0.0.1'],
        days,
        out,
      });
      return 0;
    },
  },
};

for (const [name, command] of Object.entries(builtIn)) registerCommand(name, command);

function help(): string {
  // Each command's usage, with its summary on the next line: usages vary too much in length for columns.
  const lines = Object.values(commands).map((c) => `  ${c.usage}\n      ${c.summary}`);
  return `Portcullis: API security gateway, monitor and scanner driven by OpenAPI.\n\nUsage:\n${lines.join('\n')}\n`;
}

/** Entry point: maps errors to one readable line and an exit code. Only this function exits. */
export async function main(argv: string[]): Promise<void> {
  await import('./commands/index.ts');
  const two = argv.slice(0, 2).join(' ');
  const name = commands[two] ? two : argv[0];
  const rest = commands[two] ? argv.slice(2) : argv.slice(1);
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    process.stdout.write(help());
    process.exitCode = name === undefined ? 2 : 0;
    return;
  }
  const command = commands[name];
  if (command === undefined) {
    process.stderr.write(
      `portcullis: unknown command "${argv.slice(0, 2).join(' ')}"; run "portcullis help"\n`,
    );
    process.exitCode = 2;
    return;
  }
  try {
    const code = await command.run(rest);
    if (code !== 'running') process.exitCode = code;
  } catch (err) {
    if (err instanceof CliError) {
      process.stderr.write(`portcullis: ${err.message}\n`);
      process.exitCode = err.exitCode;
      return;
    }
    const e = err as NodeJS.ErrnoException;
    const message = e.message.split('\n')[0];
    const prefix = e.code && !message.startsWith(e.code) ? `${e.code}: ` : '';
    process.stderr.write(`portcullis: ${prefix}${message}\n`);
    process.exitCode = 2;
  }
}
