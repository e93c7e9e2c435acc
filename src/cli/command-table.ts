/**
 * The CLI's one table of commands: main.ts adds the built-in ones, the modules under commands/ add theirs
 * with `registerCommand`, and `portcullis help` lists them in that order.
 */
export interface Command {
  readonly usage: string;
  readonly summary: string;
  /**
   * What `portcullis <command> --help` prints under the usage and summary: the options, one a line, and
   * any notes. Plain text, already indented; main.ts adds the usage, the summary and the subcommands.
   */
  readonly help?: string;
  /** Runs the command; resolves to an exit code, or to 'running' for long-lived commands. */
  run(args: string[]): Promise<number | 'running'>;
}

export const commands: Record<string, Command> = {};

/** Adds a command to the table. */
export function registerCommand(name: string, command: Command): void {
  commands[name] = command;
}

/**
 * Whether the arguments ask for help: `--help` or `-h` anywhere before a `--` terminator. Checked before a
 * command runs, so help never reads stdin, opens a port or needs a required flag.
 */
export function asksForHelp(args: readonly string[]): boolean {
  for (const a of args) {
    if (a === '--') return false;
    if (a === '--help' || a === '-h') return true;
  }
  return false;
}

/** The commands under a group name (`config` → `config check`, `config schema`), in table order. */
export function subcommandsOf(group: string): string[] {
  return Object.keys(commands).filter((name) => name.startsWith(`${group} `));
}

/** `portcullis <name> --help`: the usage, the summary, the command's own help text and its subcommands. */
export function commandHelp(name: string): string {
  const command = commands[name];
  const parts: string[] = [];
  if (command !== undefined) {
    parts.push(`Usage: ${command.usage}`, '', `${capitalise(command.summary)}.`);
    if (command.help !== undefined && command.help.trim() !== '') parts.push('', command.help.trimEnd());
    parts.push('', '  -h, --help    print this help and exit');
  }
  const subs = subcommandsOf(name);
  if (subs.length > 0) {
    if (parts.length > 0) parts.push('');
    parts.push(command === undefined ? `portcullis ${name}: one of` : 'Subcommands:');
    for (const sub of subs) parts.push(`  ${commands[sub].usage}`, `      ${commands[sub].summary}`);
    parts.push('', `Run "portcullis ${subs[0]} --help" for one command's options.`);
  }
  return `${parts.join('\n')}\n`;
}

function capitalise(text: string): string {
  const t = text.replace(/\.$/, '');
  return t.charAt(0).toUpperCase() + t.slice(1);
}
