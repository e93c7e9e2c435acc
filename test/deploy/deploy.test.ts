/**
 * The deployment files (Dockerfile, .dockerignore, deploy/kubernetes) agree with what Portcullis serves.
 * No Docker engine or cluster runs here: the image's file layout is rebuilt from the Dockerfile's COPY lines
 * and .dockerignore, and `portcullis serve` runs from it with the ConfigMap's config, as a real process.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseAllDocuments } from 'yaml';
import { configSchema, parseConfig } from '../../src/cli/config.ts';
import { httpRequest, startServer, type TestServer } from '../harness.ts';

const root = path.resolve(import.meta.dirname, '../..');
const base = path.join(root, 'deploy/kubernetes/base');

interface Instruction {
  readonly keyword: string;
  readonly args: string;
}

/** The Dockerfile's instructions (continuation lines joined, comments dropped), split into its stages. */
async function dockerfile(): Promise<Instruction[][]> {
  const text = await readFile(path.join(root, 'Dockerfile'), 'utf8');
  const stages: Instruction[][] = [[]];
  let pending = '';
  for (const raw of text.split('\n')) {
    if (/^\s*#/.test(raw)) continue;
    const line = pending + raw;
    if (line.endsWith('\\')) {
      pending = `${line.slice(0, -1)} `;
      continue;
    }
    pending = '';
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (m === null) continue;
    const keyword = m[1].toUpperCase();
    if (keyword === 'FROM') stages.push([]);
    stages[stages.length - 1].push({ keyword, args: m[2].trim() });
  }
  return stages.filter((s) => s.length > 0);
}

const all = (stage: Instruction[], keyword: string) => stage.filter((i) => i.keyword === keyword);
const one = (stage: Instruction[], keyword: string) => {
  const found = all(stage, keyword);
  assert.ok(found.length > 0, `the stage has a ${keyword}`);
  return found[found.length - 1];
};

/** Whether .dockerignore leaves a path (relative to the context) out of the build context. */
function dockerIgnored(patterns: readonly string[], rel: string): boolean {
  // As Docker does: the last pattern matching the path or one of its parent folders decides.
  const parts = rel.split('/');
  let ignored = false;
  for (const raw of patterns) {
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    for (let i = 1; i <= parts.length; i++) {
      if (path.matchesGlob(parts.slice(0, i).join('/'), pattern)) {
        ignored = !negated;
        break;
      }
    }
  }
  return ignored;
}

async function dockerignorePatterns(): Promise<string[]> {
  const text = await readFile(path.join(root, '.dockerignore'), 'utf8');
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

/** Copies `rel` from the repository to `dest` as the builder would: files .dockerignore excludes are left out. */
async function copyContext(patterns: readonly string[], rel: string, dest: string): Promise<number> {
  if (dockerIgnored(patterns, rel)) return 0;
  const from = path.join(root, rel);
  if (!(await stat(from)).isDirectory()) {
    await mkdir(path.dirname(dest), { recursive: true });
    await cp(from, dest);
    return 1;
  }
  let copied = 0;
  for (const entry of await readdir(from))
    copied += await copyContext(patterns, `${rel}/${entry}`, path.join(dest, entry));
  return copied;
}

/** The parts of the manifests this test reads. */
interface Probe {
  readonly httpGet: { readonly path: string; readonly port: string | number };
}
interface VolumeMount {
  readonly name: string;
  readonly mountPath: string;
  readonly readOnly?: boolean;
}
interface Volume {
  readonly name: string;
  readonly configMap?: { readonly name: string };
  readonly emptyDir?: object;
  readonly persistentVolumeClaim?: object;
}
interface Container {
  readonly args: string[];
  readonly ports: ReadonlyArray<{ readonly name: string; readonly containerPort: number }>;
  readonly livenessProbe: Probe;
  readonly readinessProbe: Probe;
  readonly startupProbe: Probe;
  readonly resources: Record<'requests' | 'limits', Record<string, string>>;
  readonly securityContext: {
    readonly readOnlyRootFilesystem?: boolean;
    readonly allowPrivilegeEscalation?: boolean;
    readonly capabilities: { readonly drop: string[] };
  };
  readonly volumeMounts: VolumeMount[];
  readonly env?: ReadonlyArray<{ readonly name: string }>;
}
interface Deployment {
  readonly kind: string;
  readonly spec: {
    readonly selector: { readonly matchLabels: Record<string, string> };
    readonly template: {
      readonly metadata: { readonly annotations: Record<string, string> };
      readonly spec: {
        readonly automountServiceAccountToken?: boolean;
        readonly securityContext: { runAsNonRoot?: boolean; runAsUser?: number; runAsGroup?: number };
        readonly containers: Container[];
        readonly volumes: Volume[];
      };
    };
  };
}
interface Service {
  readonly kind: string;
  readonly spec: {
    readonly selector: Record<string, string>;
    readonly ports: ReadonlyArray<{ readonly targetPort: string | number }>;
  };
}
interface Kustomization {
  readonly kind: string;
  readonly configMapGenerator: ReadonlyArray<{ readonly name: string; readonly files: string[] }>;
}

async function manifests(): Promise<{
  deployment: Deployment;
  service: Service;
  kustomization: Kustomization;
}> {
  const read = async (f: string) =>
    parseAllDocuments(await readFile(path.join(base, f), 'utf8')).map((d) => {
      assert.deepEqual(d.errors, [], `${f} parses`);
      return d.toJS() as unknown;
    });
  const [deployment] = (await read('deployment.yaml')) as Deployment[];
  const [service] = (await read('service.yaml')) as Service[];
  const [kustomization] = (await read('kustomization.yaml')) as Kustomization[];
  assert.equal(deployment.kind, 'Deployment');
  assert.equal(service.kind, 'Service');
  assert.equal(kustomization.kind, 'Kustomization');
  return { deployment, service, kustomization };
}

/** The ConfigMap's portcullis.yaml read as serve reads it, with only the variables it has no default for. */
async function configMapConfig(env: Record<string, string> = {}) {
  const file = path.join(base, 'config/portcullis.yaml');
  return parseConfig(await readFile(file, 'utf8'), file, {
    PORTCULLIS_ADMIN_TOKEN: 'a-test-admin-token-0123456789',
    UPSTREAM_URL: 'http://127.0.0.1:1',
    ...env,
  });
}

/** A free port on 127.0.0.1 (listened on and closed). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

/** The exec-form JSON array of CMD, ENTRYPOINT or HEALTHCHECK ... CMD. */
function execForm(args: string): string[] {
  const json = args.slice(args.indexOf('['));
  const parsed = JSON.parse(json) as unknown;
  assert.ok(Array.isArray(parsed), `exec form: ${args}`);
  return parsed as string[];
}

describe('deployment files', () => {
  test('the Deployment runs the image as its non-root user on a read-only root filesystem, SQLite on a writable volume', async () => {
    const stages = await dockerfile();
    const runtime = stages[stages.length - 1];
    const { deployment, kustomization } = await manifests();
    const pod = deployment.spec.template.spec;
    const [container] = pod.containers;
    // The image's user is the pod's.
    const [uid, gid] = one(runtime, 'USER').args.split(':').map(Number);
    assert.ok(uid > 0, 'the image does not run as root');
    assert.equal(pod.securityContext.runAsNonRoot, true);
    assert.equal(pod.securityContext.runAsUser, uid);
    assert.equal(pod.securityContext.runAsGroup, gid);
    assert.equal(container.securityContext.readOnlyRootFilesystem, true);
    assert.equal(container.securityContext.allowPrivilegeEscalation, false);
    assert.deepEqual(container.securityContext.capabilities.drop, ['ALL']);
    assert.equal(pod.automountServiceAccountToken, false);
    // Requests and limits for both resources.
    for (const kind of ['requests', 'limits'] as const)
      for (const r of ['cpu', 'memory']) assert.ok(container.resources[kind][r], `resources.${kind}.${r}`);
    // The container runs what the image's CMD runs.
    assert.deepEqual(container.args, execForm(one(runtime, 'CMD').args));
    assert.deepEqual(execForm(one(runtime, 'CMD').args).slice(0, 1), ['serve']);
    // The config comes from the ConfigMap the kustomization generates, read-only, where CMD reads it.
    const mounts = new Map<string, VolumeMount>(container.volumeMounts.map((m) => [m.mountPath, m]));
    const volumes = new Map<string, Volume>(pod.volumes.map((v) => [v.name, v]));
    const configFile = container.args[container.args.indexOf('--config') + 1];
    const configMount = mounts.get(path.posix.dirname(configFile));
    assert.ok(configMount, `a volume is mounted at ${path.posix.dirname(configFile)}`);
    assert.equal(configMount.readOnly, true);
    const generated = kustomization.configMapGenerator.find(
      (g) => g.name === volumes.get(configMount.name)?.configMap?.name,
    );
    assert.ok(generated, 'the config volume is the generated ConfigMap');
    assert.ok(generated.files.map((f: string) => path.basename(f)).includes(path.posix.basename(configFile)));
    for (const f of generated.files) assert.ok(existsSync(path.join(base, f)), `${f} exists`);
    // The SQLite file of the config (without PORTCULLIS_DATA_DIR) is on a writable volume, which is the
    // image's VOLUME and working folder; /tmp is writable too (Node's compile cache).
    const config = await configMapConfig();
    const sqlitePath = (config.monitor as { events: { sqlite: { path: string } } }).events.sqlite.path;
    const dataDir = path.posix.dirname(sqlitePath);
    const dataMount = mounts.get(dataDir);
    assert.ok(dataMount, `a volume is mounted at ${dataDir}`);
    assert.notEqual(dataMount.readOnly, true);
    assert.ok(
      volumes.get(dataMount.name)?.emptyDir !== undefined ||
        volumes.get(dataMount.name)?.persistentVolumeClaim,
    );
    assert.ok(mounts.get('/tmp'), '/tmp is writable');
    assert.equal(one(runtime, 'WORKDIR').args, dataDir);
    assert.ok(execForm(one(runtime, 'VOLUME').args).includes(dataDir));
  });

  test('the probes, the Service, EXPOSE and HEALTHCHECK use the ports of the config defaults', async () => {
    const stages = await dockerfile();
    const runtime = stages[stages.length - 1];
    const { deployment, service } = await manifests();
    const schema = configSchema() as {
      properties: {
        server: { properties: { listen: { default: Array<{ port: number }> } } };
        admin: { properties: { port: { default: number } } };
      };
    };
    const gatewayDefault: number = schema.properties.server.properties.listen.default[0].port;
    const adminDefault: number = schema.properties.admin.properties.port.default;
    assert.equal(gatewayDefault, 8080);
    assert.equal(adminDefault, 9090);
    // The ConfigMap's config keeps the defaults when no PORTCULLIS_* variable is set.
    const config = await configMapConfig();
    assert.equal(config.server.listen[0].port, gatewayDefault);
    assert.equal(config.admin.port, adminDefault);
    // Deployment: named ports, probes on the admin port, at the paths the admin server answers.
    const [container] = deployment.spec.template.spec.containers;
    const ports = new Map<string, number>(container.ports.map((p) => [p.name, p.containerPort]));
    assert.equal(ports.get('http'), gatewayDefault);
    assert.equal(ports.get('admin'), adminDefault);
    const portOf = (probe: Probe) =>
      typeof probe.httpGet.port === 'string' ? ports.get(probe.httpGet.port) : probe.httpGet.port;
    assert.equal(container.livenessProbe.httpGet.path, '/healthz');
    assert.equal(container.readinessProbe.httpGet.path, '/readyz');
    assert.equal(container.startupProbe.httpGet.path, '/healthz');
    for (const probe of [container.livenessProbe, container.readinessProbe, container.startupProbe])
      assert.equal(portOf(probe), adminDefault);
    assert.equal(deployment.spec.template.metadata.annotations['prometheus.io/port'], String(adminDefault));
    // Service: the gateway's port only, never the admin port.
    const targets = service.spec.ports.map((p) =>
      typeof p.targetPort === 'string' ? ports.get(p.targetPort) : p.targetPort,
    );
    assert.deepEqual(targets, [gatewayDefault]);
    assert.deepEqual(service.spec.selector, deployment.spec.selector.matchLabels);
    // Dockerfile: both ports exposed; the health check asks /healthz on the admin port by default.
    const exposed = all(runtime, 'EXPOSE').flatMap((i) =>
      i.args.split(/\s+/).map((p) => Number(p.split('/')[0])),
    );
    assert.deepEqual(exposed.sort(), [gatewayDefault, adminDefault].sort());
    const env = one(runtime, 'ENV').args;
    assert.match(env, new RegExp(`PORTCULLIS_ADMIN_PORT=${adminDefault}\\b`));
    const healthcheck = one(runtime, 'HEALTHCHECK').args;
    assert.match(healthcheck, /\/healthz/);
    assert.match(healthcheck, new RegExp(`PORTCULLIS_ADMIN_PORT\\|\\|${adminDefault}\\b`));
    // The base image's Node is the pinned one.
    const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
    const arg = all(stages[0], 'ARG').find((i) => i.args.startsWith('NODE_VERSION='));
    assert.equal(arg?.args, `NODE_VERSION=${pkg.devDependencies.node}`);
  });

  test("the scale-out overlay's config is the base's with Redis state and PostgreSQL events, from the Secret's variables", async () => {
    const file = path.join(root, 'deploy/kubernetes/scale-out/portcullis.yaml');
    const env = {
      PORTCULLIS_ADMIN_TOKEN: 'a-test-admin-token-0123456789',
      UPSTREAM_URL: 'http://127.0.0.1:1',
      REDIS_URL: 'redis://127.0.0.1:6379',
      DATABASE_URL: 'postgres://127.0.0.1:5432/test',
    };
    const scaled = parseConfig(await readFile(file, 'utf8'), file, env) as Record<string, unknown>;
    const single = (await configMapConfig(env)) as Record<string, unknown>;
    const state = scaled.state as { store: string; redis: { url: string } };
    const events = (scaled.monitor as { events: { store: string; postgres: { url: string } } }).events;
    assert.equal(state.store, 'redis');
    assert.equal(state.redis.url, env.REDIS_URL);
    assert.equal(events.store, 'postgres');
    assert.equal(events.postgres.url, env.DATABASE_URL);
    for (const key of Object.keys(single).filter((k) => k !== 'state' && k !== 'monitor'))
      assert.deepEqual(scaled[key], single[key], `${key} is the base's`);
    // The variables it needs are the ones the overlay's Deployment patch brings from the Secret.
    const [patch] = parseAllDocuments(
      await readFile(path.join(root, 'deploy/kubernetes/scale-out/deployment-patch.yaml'), 'utf8'),
    ).map((d) => d.toJS() as Deployment);
    const names = patch.spec.template.spec.containers[0].env?.map((e) => e.name);
    assert.deepEqual(names?.sort(), ['DATABASE_URL', 'REDIS_URL']);
  });

  describe('the image layout serving the ConfigMap config', () => {
    let dir: string;
    let upstream: TestServer;
    let child: ChildProcess;
    let stdout = '';
    let adminPort: number;
    let gatewayPort: number;
    let runtimeEnv: Record<string, string>;
    let healthcheck: string[];
    const podIp = '10.244.1.7';

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'portcullis-image-'));
      const stages = await dockerfile();
      const runtime = stages[stages.length - 1];
      const patterns = await dockerignorePatterns();
      // The runtime stage's COPY lines from the build context, into the image's WORKDIR at that point.
      const app = path.join(dir, 'opt/portcullis');
      let copied = 0;
      let workdir = '/';
      for (const i of runtime) {
        if (i.keyword === 'WORKDIR') workdir = i.args;
        if (i.keyword !== 'COPY' || i.args.startsWith('--from')) continue;
        const words = i.args.split(/\s+/);
        const target = path.posix.resolve(workdir, words[words.length - 1]);
        for (const src of words.slice(0, -1)) {
          // Several sources go into the target folder; one source becomes the target.
          const dest = words.length > 2 ? path.posix.join(target, src) : target;
          copied += await copyContext(patterns, src, path.join(dir, dest));
        }
      }
      assert.ok(copied > 100, `copied ${copied} files`);
      assert.equal(existsSync(path.join(app, 'src/cli/main.test.ts')), false);
      // The deps stage's node_modules: the project's own (npm ci --omit=dev is not run here).
      await symlink(path.join(root, 'node_modules'), path.join(app, 'node_modules'), 'dir');
      await cp(path.join(base, 'config'), path.join(dir, 'etc/portcullis'), { recursive: true });
      await mkdir(path.join(dir, 'var/lib/portcullis'), { recursive: true });
      upstream = await startServer((req, res) => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(req.url?.startsWith('/items?') ? '[{"id":1,"name":"one"}]' : '{"id":1,"name":"one"}');
      });
      adminPort = await freePort();
      gatewayPort = await freePort();
      // ENV of the image, then what the Deployment sets (POD_IP from the downward API, the token from a
      // Secret), then the test's own: loopback instead of 0.0.0.0, free ports, a temporary data folder.
      const imageEnv = Object.fromEntries(
        one(runtime, 'ENV')
          .args.split(/\s+/)
          .map((kv) => kv.split('=') as [string, string]),
      );
      runtimeEnv = {
        ...imageEnv,
        POD_IP: podIp,
        PORTCULLIS_ADMIN_TOKEN: 'a-test-admin-token-0123456789',
        UPSTREAM_URL: upstream.url,
        PORTCULLIS_BIND: '127.0.0.1',
        PORTCULLIS_PORT: String(gatewayPort),
        PORTCULLIS_ADMIN_PORT: String(adminPort),
        PORTCULLIS_DATA_DIR: path.join(dir, 'var/lib/portcullis'),
      };
      const entrypoint = execForm(one(runtime, 'ENTRYPOINT').args);
      const cmd = execForm(one(runtime, 'CMD').args).map((a) =>
        a.startsWith('/etc/') ? path.join(dir, a) : a,
      );
      assert.equal(entrypoint[0], 'node');
      child = spawn(process.execPath, [path.join(dir, entrypoint[1]), ...cmd], {
        cwd: path.join(dir, 'var/lib/portcullis'),
        env: { PATH: process.env.PATH, ...runtimeEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stderr = '';
      child.stderr?.on('data', (c: Buffer) => {
        stderr += c;
      });
      await new Promise<void>((resolve, reject) => {
        child.stdout?.on('data', (c: Buffer) => {
          stdout += c;
          if (stdout.includes('portcullis: admin on')) resolve();
        });
        child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
      });
      healthcheck = execForm(one(runtime, 'HEALTHCHECK').args);
    });

    after(async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await upstream?.close();
      await rm(dir, { recursive: true, force: true });
    });

    test('the liveness and readiness probes get 200 from the admin port, addressed by the pod IP as the kubelet does', async () => {
      const admin = `http://127.0.0.1:${adminPort}`;
      const host = `${podIp}:${adminPort}`;
      const live = await httpRequest(admin, { path: '/healthz', headers: { host } });
      assert.equal(live.status, 200);
      assert.deepEqual(JSON.parse(live.body), { status: 'ok' });
      const ready = await httpRequest(admin, { path: '/readyz', headers: { host } });
      assert.equal(ready.status, 200);
      assert.deepEqual(JSON.parse(ready.body), { status: 'ready' });
      const metrics = await httpRequest(admin, { path: '/metrics', headers: { host } });
      assert.equal(metrics.status, 200);
      // Any other Host is still refused (DNS rebinding protection stays on).
      const other = await httpRequest(admin, {
        path: '/healthz',
        headers: { host: `attacker.example:${adminPort}` },
      });
      assert.equal(other.status, 421);
    });

    test("the Dockerfile's HEALTHCHECK command exits 0 against the running admin server, and 1 against a closed port", async () => {
      assert.equal(healthcheck[0], 'node');
      const run = (port: number) =>
        new Promise<number | null>((resolve, reject) => {
          const c = spawn(process.execPath, healthcheck.slice(1), {
            env: { ...runtimeEnv, PORTCULLIS_ADMIN_PORT: String(port) },
            stdio: 'ignore',
          });
          c.once('error', reject);
          c.once('exit', resolve);
        });
      assert.equal(await run(adminPort), 0);
      assert.equal(await run(await freePort()), 1);
    });

    test('the gateway serves the example API, refuses what it does not declare, and writes events to the data volume', async () => {
      const gw = `http://127.0.0.1:${gatewayPort}`;
      const items = await httpRequest(gw, { path: '/items?limit=5' });
      assert.equal(items.status, 200, items.body);
      assert.deepEqual(JSON.parse(items.body), [{ id: 1, name: 'one' }]);
      const undeclared = await httpRequest(gw, { path: '/admin' });
      assert.equal(undeclared.status, 404);
      const invalid = await httpRequest(gw, { path: '/items?limit=5000' });
      assert.equal(invalid.status, 400);
      assert.ok(
        existsSync(path.join(dir, 'var/lib/portcullis/events.db')),
        'the SQLite store is on the data volume',
      );
    });
  });
});
