import { PortcullisError } from '../core/errors.ts';
/** A CLI failure with a readable one-line message and an exit code; only main.ts turns it into an exit. */
export class CliError extends PortcullisError {
  readonly code = 'ERR_CLI';
  readonly exitCode: number;
  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'CliError';
    this.exitCode = exitCode;
  }
}
