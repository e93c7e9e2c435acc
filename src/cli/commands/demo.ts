import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseConfig, resolvePaths } from '../../config/load.ts';
import { startDemoApi } from '../../demo/api.ts';
import { registerCommand } from '../main.ts';
import { startRuntime } from '../runtime.ts';

const CONFIG = path.join(import.meta.dirname, '../../demo/portcullis.yaml');

/** `portcullis demo`: the demo shop behind the gateway, everything on 127.0.0.1. */
export async function demo(opts: { port: number; adminPort: number; out: (line: string) => void }) {
  const api = await startDemoApi();
  const env = {
    ...process.env,
    PORTCULLIS_PORT: String(opts.port),
    PORTCULLIS_ADMIN_PORT: String(opts.adminPort),
    DEMO_UPSTREAM: api.url,
    DEMO_DATA_DIR: path.resolve('data'),
  };
  const config = resolvePaths(parseConfig(await readFile(CONFIG, 'utf8'), CONFIG, env), path.dirname(CONFIG));
  const runtime = await startRuntime({ config });
  const gw = runtime.urls[0];
  const admin = runtime.adminAddress;
  const o = opts.out;
  o('');
  o('  Portcullis demo: the demo shop API, protected by its OpenAPI document');
  o('');
  o(`  gateway     ${gw}`);
  if (admin) o(`  admin       http://127.0.0.1:${admin.port}  (token: ${config.admin.token})`);
  o(`  upstream    ${api.url}  (the unprotected demo API; it trusts the gateway)`);
  o(`  config      ${CONFIG}`);
  o('');
  o('  Try:');
  o(`    curl -i ${gw}/products                 # public operation: forwarded`);
  o(`    curl -i ${gw}/internal/debug           # not in the spec: 404 problem, never reaches the API`);
  o(`    curl -i -X DELETE ${gw}/products       # wrong method: 405 problem with Allow`);
  if (admin) o(`    curl -s http://127.0.0.1:${admin.port}/metrics | grep portcullis_http`);
  o('');
  o('  Ctrl-C stops it.');
  return {
    runtime,
    async close() {
      await runtime.close();
      await api.close();
    },
  };
}

registerCommand('demo', {
  usage: 'portcullis demo [--port N] [--admin-port N]',
  summary: 'run the bundled demo API behind the gateway (what `npm start` does)',
  async run(args) {
    const { parseArgs } = await import('node:util');
    const { values } = parseArgs({
      args,
      options: {
        port: { type: 'string', default: '8080' },
        'admin-port': { type: 'string', default: '9090' },
      },
    });
    const running = await demo({
      port: Number(values.port),
      adminPort: Number(values['admin-port']),
      out: (l) => process.stdout.write(`${l}\n`),
    });
    let stopping = false;
    const stop = () => {
      if (stopping) process.exit(130);
      stopping = true;
      process.stdout.write('\nstopping...\n');
      running.close().then(() => process.exit(0));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return 'running';
  },
});
