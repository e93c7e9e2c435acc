import { parseArgs } from 'node:util';
import {
  asksForHelp,
  type Command,
  commandHelp,
  commands,
  registerCommand,
  subcommandsOf,
} from './command-table.ts';
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
    help: `Options:
  -c, --config FILE   the config file (YAML or JSON); \${VAR} and \${VAR:-default} are read from the environment
  --workers N         worker processes sharing the listeners, 1 to 64 (default 1); the admin port merges their metrics
  --no-watch          do not reload when the config file changes (SIGHUP still reloads)

Health: GET /healthz (alive) and GET /readyz (config compiled, listeners open, not draining) on the admin port.
SIGINT or SIGTERM drains in-flight requests (server.shutdownTimeoutMs), then exits 0.`,
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
    help: `Arguments:
  FILE                the config file to check; its specs and referenced files are loaded too

Each problem is printed as "config.path: message (line N)". Exit codes: 0 valid, 1 problems found,
2 usage error. Environment variables referenced as \${VAR} must be set, as for serve.`,
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
    help: `No options. The same schema is shipped as schema/portcullis.schema.json; point your editor's YAML
support at it (# yaml-language-server: $schema=...) for completion and checking as you type.`,
    async run() {
      const { configSchema } = await import('./config.ts');
      out(JSON.stringify(configSchema(), null, 2));
      return 0;
    },
  },
  'cert create': {
    usage: 'portcullis cert create [--out DIR] [--host NAME ...] [--days N]',
    summary: 'make a self-signed certificate and key for trying HTTPS locally',
    help: `Options:
  --out DIR           where to write cert.pem and key.pem (default ./certs)
  --host NAME         a DNS name or IP address the certificate is valid for; repeat for several
                      (default localhost and 127.0.0.1)
  --days N            validity in days, 1 to 366 (default 30)

For local testing only: clients must be told to trust it. Use a certificate from your CA in production.`,
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
  return `Portcullis: API security gateway, monitor and scanner driven by OpenAPI.\n\nUsage:\n${lines.join('\n')}\n\nRun "portcullis COMMAND --help" for a command's options, "portcullis --version" for the version.\n`;
}

function unknownCommand(text: string): void {
  process.stderr.write(`portcullis: unknown command "${text}"; run "portcullis help"\n`);
  process.exitCode = 2;
}

/** Entry point: maps errors to one readable line and an exit code. Only this function exits. */
export async function main(argv: string[]): Promise<void> {
  if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V' || argv[0] === 'version')) {
    const { packageVersion } = await import('../shared/package-version.ts');
    process.stdout.write(`portcullis ${packageVersion() ?? 'unknown'} (Node ${process.versions.node})\n`);
    return;
  }
  // Only the module of the command asked for loads; a built-in command needs none, and the listings (help,
  // an unknown command) need them all.
  const { loadCommandModule, loadAllCommandModules } = await import('./commands/index.ts');
  const word = argv[0];
  const builtInWord = word !== undefined && Object.keys(builtIn).some((n) => n.split(' ')[0] === word);
  if (word === undefined || (!builtInWord && !(await loadCommandModule(word)))) await loadAllCommandModules();
  const two = argv.slice(0, 2).join(' ');
  const name = commands[two] ? two : argv[0];
  const rest = commands[two] ? argv.slice(2) : argv.slice(1);
  if (name === undefined || name === '--help' || name === '-h') {
    process.stdout.write(help());
    process.exitCode = name === undefined ? 2 : 0;
    return;
  }
  if (name === 'help') {
    // `portcullis help` lists every command; `portcullis help config check` is `config check --help`.
    const topic = argv.slice(1).join(' ');
    if (topic === '') process.stdout.write(help());
    else if (commands[topic] !== undefined || subcommandsOf(topic).length > 0)
      process.stdout.write(commandHelp(topic));
    else return unknownCommand(topic);
    process.exitCode = 0;
    return;
  }
  const command = commands[name];
  if (command === undefined) {
    // A group name alone (`portcullis config`) lists its subcommands: on stdout for --help, else as an error.
    if (subcommandsOf(name).length > 0 && (rest.length === 0 || rest[0] === '--help' || rest[0] === '-h')) {
      const asked = rest.length > 0;
      (asked ? process.stdout : process.stderr).write(commandHelp(name));
      process.exitCode = asked ? 0 : 2;
      return;
    }
    return unknownCommand(argv.slice(0, 2).join(' '));
  }
  // `--help` or `-h` on any command prints its usage and options, before it parses or runs anything.
  if (asksForHelp(rest)) {
    process.stdout.write(commandHelp(name));
    process.exitCode = 0;
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
