import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { registerCommand } from '../command-table.ts';
import type { DemoState } from './demo-attack.ts';

const CONFIG = path.join(import.meta.dirname, '../../demo/portcullis.yaml');
const DEMO_STATE = path.resolve('data/demo-state.json');
/** Where Debian's modsecurity-crs package installs the OWASP Core Rule Set. */
const DEBIAN_CRS = '/usr/share/modsecurity-crs/rules';
/** The unicode mapping Debian's ModSecurity module loads (SecUnicodeMapFile), used when present. */
const DEBIAN_UNICODE_MAP = '/etc/nginx/unicode.mapping';

/**
 * The Core Rule Set the demo runs, when it finds one: `PORTCULLIS_CRS_PATH`, else Debian's package. Its
 * version is read from the `ver:'OWASP_CRS/x.y.z'` action of the initialization rules.
 */
function findCoreRuleSet(env: NodeJS.ProcessEnv): { path: string; version: string } | undefined {
  const dir = env.PORTCULLIS_CRS_PATH ?? DEBIAN_CRS;
  const init = path.join(dir, 'REQUEST-901-INITIALIZATION.conf');
  if (!existsSync(init)) return undefined;
  const version =
    /ver:'OWASP_CRS\/(\d+\.\d+\.\d+)/.exec(readFileSync(init, 'latin1'))?.[1] ?? 'unknown version';
  return { path: dir, version };
}

/** `portcullis demo`: the demo shop behind the gateway, everything on 127.0.0.1. */
export async function demo(opts: {
  port: number;
  adminPort: number;
  /** The HTTP/2 (h2c) listener's port; default the gateway's port + 1. */
  http2Port?: number;
  out: (line: string) => void;
}) {
  // Loaded on use, so other commands do not load the demo, the gateway and the policies.
  const { startDemoApi } = await import('../../demo/api.ts');
  const { parseConfig } = await import('../config.ts');
  const { resolvePaths } = await import('../../config/load.ts');
  const { startRuntime } = await import('../runtime.ts');
  const api = await startDemoApi();
  // The identity provider (oidc-provider) is loaded only when the demo runs.
  const { startDemoIdp, demoInstructions } = await import('../../demo/idp.ts');
  const audience = `http://127.0.0.1:${opts.port}`;
  const idp = await startDemoIdp({ audience });
  const env = {
    ...process.env,
    PORTCULLIS_PORT: String(opts.port),
    PORTCULLIS_ADMIN_PORT: String(opts.adminPort),
    PORTCULLIS_H2C_PORT: String(opts.http2Port ?? opts.port + 1),
    DEMO_UPSTREAM: api.url,
    DEMO_ISSUER: idp.issuer,
    DEMO_AUDIENCE: audience,
    DEMO_DATA_DIR: path.resolve('data'),
  };
  const config = resolvePaths(parseConfig(await readFile(CONFIG, 'utf8'), CONFIG, env), path.dirname(CONFIG));
  // The injection policy runs the OWASP Core Rule Set when one is installed (the built-in detectors after it).
  const crs = findCoreRuleSet(process.env);
  if (crs !== undefined) {
    for (const a of config.apis) {
      const injection = a.policies?.injection as Record<string, unknown> | undefined;
      if (injection !== undefined)
        injection.crs = {
          path: crs.path,
          ...(existsSync(DEBIAN_UNICODE_MAP) ? { unicodeMapFile: DEBIAN_UNICODE_MAP } : {}),
          paranoiaLevel: 1,
          allowedMethods: ['GET', 'HEAD', 'POST', 'DELETE', 'OPTIONS'],
        };
    }
  }
  const runtime = await startRuntime({ config });
  const [gw, gwHttp2] = runtime.urls;
  const admin = runtime.adminAddress;
  const state: DemoState = {
    gateway: gw,
    gatewayHttp2: gwHttp2,
    admin: admin ? `http://127.0.0.1:${admin.port}` : undefined,
    adminToken: config.admin.token,
    tokenEndpoint: idp.tokenEndpoint,
    audience,
  };
  await mkdir(env.DEMO_DATA_DIR, { recursive: true });
  await writeFile(DEMO_STATE, `${JSON.stringify(state, null, 2)}\n`);
  const o = opts.out;
  o('');
  o('  Portcullis demo: the demo shop API, protected by its OpenAPI document');
  o('');
  o(`  gateway     ${gw}`);
  o(`  HTTP/2      ${gwHttp2}  (h2c: curl --http2-prior-knowledge ${gwHttp2}/products)`);
  if (admin) o(`  admin       http://127.0.0.1:${admin.port}  (token: ${config.admin.token})`);
  o(`  upstream    ${api.url}  (the unprotected demo API; it trusts the gateway)`);
  o(`  config      ${CONFIG}`);
  o(
    crs === undefined
      ? '  injection   built-in detectors (no OWASP Core Rule Set found: apt-get install modsecurity-crs, or set PORTCULLIS_CRS_PATH)'
      : `  injection   OWASP Core Rule Set ${crs.version} at paranoia level 1 (${crs.path}), then the built-in detectors`,
  );
  o('');
  for (const line of demoInstructions(idp, gw)) o(line);
  o('');
  o('  More to try:');
  o(`    curl -i ${gw}/products                           # public operation: forwarded`);
  o(`    curl -i ${gw}/internal/debug                     # not in the spec: 404, never reaches the API`);
  o(`    curl -i "${gw}/products?q=1'%20OR%201=1--"        # injection guard: 400`);
  o(`    curl -i "${gw}/products?limit=5000"              # schema: limit is at most 50: 400`);
  o(`    for i in $(seq 300); do curl -s -o /dev/null -w '%{http_code} ' ${gw}/products; done   # 429s`);
  if (admin) {
    o(
      `    npx portcullis demo attack --port ${opts.port}   # replay an id walk and a credential-stuffing burst`,
    );
    o('');
    o(`  dashboard   http://127.0.0.1:${admin.port}/  (log in with the admin token)`);
    o(`  metrics     curl -s http://127.0.0.1:${admin.port}/metrics | grep portcullis_`);
  }
  o('');
  o('  Ctrl-C stops it.');
  return {
    runtime,
    async close() {
      await runtime.close();
      await rm(DEMO_STATE, { force: true });
      await idp.close();
      await api.close();
    },
  };
}

registerCommand('demo', {
  usage: 'portcullis demo [--port N] [--http2-port N] [--admin-port N]',
  summary: 'run the bundled demo API behind the gateway (what `npm start` does)',
  help: `Options:
  --port N            the gateway's port on 127.0.0.1 (default 8080)
  --http2-port N      the same gateway over HTTP/2 with prior knowledge, h2c (default the port + 1)
  --admin-port N      the admin listener's port: dashboard, metrics, health (default 9090)

Starts the demo shop API, a local OAuth2/OIDC provider and the gateway, all on 127.0.0.1, then prints
what to try. The OWASP Core Rule Set runs when found (PORTCULLIS_CRS_PATH, or Debian's modsecurity-crs).
Events go to ./data/events.db. Ctrl-C stops it.`,
  async run(args) {
    const { parseArgs } = await import('node:util');
    const { values } = parseArgs({
      args,
      options: {
        port: { type: 'string', default: '8080' },
        'http2-port': { type: 'string' },
        'admin-port': { type: 'string', default: '9090' },
      },
    });
    const running = await demo({
      port: Number(values.port),
      adminPort: Number(values['admin-port']),
      http2Port: values['http2-port'] === undefined ? undefined : Number(values['http2-port']),
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

registerCommand('demo attack', {
  usage: 'portcullis demo attack',
  summary: 'replay an id walk and a credential-stuffing burst against the running demo',
  help: `No options. Reads the running demo's addresses from ./data/demo-state.json (written by
portcullis demo, so run it from the same folder), then prints the alerts and bans it caused.`,
  async run() {
    const { demoAttack } = await import('./demo-attack.ts');
    return demoAttack({ stateFile: DEMO_STATE, out: (l) => process.stdout.write(`${l}\n`) });
  },
});
