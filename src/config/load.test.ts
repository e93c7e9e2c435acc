import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../cli/config.ts';
import { ConfigError, formatIssue } from './load.ts';

const minimal = `version: 1
apis:
  - name: demo
    spec: ./openapi.yaml
    upstream: { url: 'http://127.0.0.1:3000' }
`;

function issuesOf(text: string, env: Record<string, string> = {}): string[] {
  try {
    parseConfig(text, 'gw.yaml', env);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map(formatIssue);
  }
  assert.fail('expected a ConfigError');
}

describe('parseConfig', () => {
  test('fills defaults from the schema', () => {
    const c = parseConfig(minimal, 'gw.yaml', {});
    assert.deepEqual(c.server.listen, [{ host: '127.0.0.1', port: 8080 }]);
    assert.equal(c.apis[0].undeclared, 'deny');
    assert.equal(c.apis[0].upstream.connections, 128);
    assert.equal(c.admin.port, 9090);
    assert.equal(c.state.store, 'memory');
  });

  test('substitutes ${VAR} and ${VAR:-default}, typing a whole-value reference', () => {
    const c = parseConfig(
      `version: 1
server:
  listen: [{ host: 127.0.0.1, port: '\${PORT:-8081}' }]
admin: { token: "\${ADMIN_TOKEN}" }
apis:
  - name: demo
    spec: ./openapi.yaml
    upstream: { url: 'http://\${UP_HOST}:3000' }
`,
      'gw.yaml',
      { ADMIN_TOKEN: 'a-very-long-admin-token', UP_HOST: 'backend' },
    );
    assert.equal(c.server.listen[0].port, 8081);
    assert.equal(c.admin.token, 'a-very-long-admin-token');
    assert.equal(c.apis[0].upstream.url, 'http://backend:3000');
  });

  test('reports every problem at once with exact paths and lines', () => {
    const issues = issuesOf(`version: 2
server:
  listen: [{ host: 127.0.0.1, port: 70000 }]
  trustedProxies: [not-an-ip]
apis:
  - name: demo
    spec: ./openapi.yaml
    upstrem: { url: 'http://127.0.0.1:3000' }
    undeclared: allow
    policies:
      nosuchpolicy: {}
`);
    assert.deepEqual(
      issues.sort(),
      [
        'apis[0].policies.nosuchpolicy: unknown key (line 11)',
        'apis[0].undeclared: must be one of "deny", "report" (line 9)',
        'apis[0].upstrem: unknown key (did you mean upstream?) (line 8)',
        'apis[0].upstream: is required (line 6)',
        'server.trustedProxies[0]: not-an-ip is not an IP address or CIDR',
        'server.listen[0].port: must be <= 65535 (line 3)',
        'version: must be 1 (line 1)',
      ].sort(),
    );
  });

  test('names a missing environment variable at the path that uses it', () => {
    const issues = issuesOf(minimal.replace("'http://127.0.0.1:3000'", "'http://${NOPE}:3000'"));
    assert.deepEqual(issues, ['apis[0].upstream.url: environment variable NOPE is not set']);
  });

  test('refuses plain HTTP on a public address without the explicit opt-in', () => {
    const text = minimal.replace(
      'version: 1\n',
      'version: 1\nserver:\n  listen: [{ host: 0.0.0.0, port: 8080 }]\n',
    );
    assert.match(issuesOf(text)[0], /^server\.listen\[0\]: plain HTTP on non-loopback address 0\.0\.0\.0/);
    const allowed = text.replace('server:\n', 'server:\n  allowInsecurePublicHttp: true\n');
    assert.equal(parseConfig(allowed, 'gw.yaml', {}).server.allowInsecurePublicHttp, true);
  });

  test('reports invalid YAML with its line', () => {
    assert.match(issuesOf('version: 1\napis: [\n')[0], /^\(root\): YAML: .*\(line \d+\)$/);
  });
});
