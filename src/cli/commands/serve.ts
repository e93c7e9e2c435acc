import { watch } from 'node:fs';
import path from 'node:path';
import { ConfigError, formatIssue, loadConfig } from '../../config/load.ts';
import { GatewayBuildError } from '../../gateway/gateway.ts';
import { CliError } from '../errors.ts';
import { type Runtime, startRuntime } from '../runtime.ts';

export interface ServeOptions {
  readonly configFile: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reload when the config file changes (SIGHUP always reloads). */
  readonly watch: boolean;
  readonly out: (line: string) => void;
}

function describeError(err: unknown): string {
  if (err instanceof ConfigError) return err.issues.map(formatIssue).join('; ');
  if (err instanceof GatewayBuildError) return err.issues.join('; ');
  return (err as Error).message;
}

/** `portcullis serve --config FILE`: runs the gateway until SIGINT/SIGTERM, reloading on SIGHUP. */
export async function serve(opts: ServeOptions): Promise<Runtime> {
  let runtime: Runtime;
  try {
    const config = await loadConfig(opts.configFile, opts.env);
    runtime = await startRuntime({ config });
  } catch (err) {
    if (err instanceof ConfigError || err instanceof GatewayBuildError) {
      throw new CliError(`${opts.configFile}: ${describeError(err)}`, 1);
    }
    throw err;
  }
  const { logger } = runtime;
  let reloading: Promise<void> = Promise.resolve();
  const reload = (why: string) => {
    reloading = reloading.then(async () => {
      try {
        const next = await loadConfig(opts.configFile, opts.env);
        await runtime.reload(next);
        logger.info({ why }, 'reload applied');
      } catch (err) {
        logger.error(
          { why, problems: describeError(err) },
          'reload refused; the previous config keeps serving',
        );
      }
    });
  };
  process.on('SIGHUP', () => reload('SIGHUP'));
  if (opts.watch) {
    // Watch the folder: editors and Kubernetes replace files by rename.
    let timer: NodeJS.Timeout | undefined;
    const base = path.basename(opts.configFile);
    watch(path.dirname(path.resolve(opts.configFile)), { persistent: false }, (_event, name) => {
      if (name !== null && name !== base && !name.startsWith('..')) return;
      clearTimeout(timer);
      timer = setTimeout(() => reload('file change'), 200);
    });
  }
  for (const url of runtime.urls) opts.out(`portcullis: gateway listening on ${url}`);
  if (runtime.adminAddress)
    opts.out(`portcullis: admin on http://${runtime.adminAddress.address}:${runtime.adminAddress.port}`);
  return runtime;
}
