import { ConfigError, formatIssue } from '../../config/load.ts';
import { GatewayBuildError } from '../../gateway/gateway.ts';
import { checkCompiles } from '../compile-check.ts';
import { loadConfig } from '../config.ts';

export interface ConfigCheckOptions {
  readonly file: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly out: (line: string) => void;
}

/**
 * `portcullis config check FILE`: validates the config offline, and compiles every API's spec and
 * policies as `serve` would. Returns the exit code: 0 when usable, 1 with every problem printed.
 */
export async function configCheck(opts: ConfigCheckOptions): Promise<number> {
  try {
    const config = await loadConfig(opts.file, opts.env);
    await checkCompiles(config);
    opts.out(`${opts.file}: OK (${config.apis.length} API${config.apis.length === 1 ? '' : 's'})`);
    return 0;
  } catch (err) {
    if (err instanceof ConfigError) {
      for (const i of err.issues) opts.out(formatIssue(i));
      return 1;
    }
    if (err instanceof GatewayBuildError) {
      for (const i of err.issues) opts.out(i);
      return 1;
    }
    throw err;
  }
}
