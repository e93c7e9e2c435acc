import type { RuleInfo } from '../finding.ts';
import type { ScanContext } from './context.ts';

/** One OWASP category's active check. */
export interface Check {
  /** `API1` ... `API10`. */
  readonly id: string;
  readonly title: string;
  readonly rules: readonly RuleInfo[];
  /** Sends requests; reports through `ctx.report`. */
  run(ctx: ScanContext): Promise<void>;
  /** Runs once after every active check, over all the responses the scan saw. */
  passive?(ctx: ScanContext): void;
}
