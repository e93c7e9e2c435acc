/**
 * The CLI's one table of commands: main.ts adds the built-in ones, the modules under commands/ add theirs
 * with `registerCommand`, and `portcullis help` lists them in that order.
 */
export interface Command {
  readonly usage: string;
  readonly summary: string;
  /** Runs the command; resolves to an exit code, or to 'running' for long-lived commands. */
  run(args: string[]): Promise<number | 'running'>;
}

export const commands: Record<string, Command> = {};

/** Adds a command to the table. */
export function registerCommand(name: string, command: Command): void {
  commands[name] = command;
}
