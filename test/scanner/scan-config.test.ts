/** The `scans` config section accepts login identities as docs/scan.md shows them, and names bad paths. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../src/cli/config.ts';
import { ConfigError, formatIssue } from '../../src/config/load.ts';

const config = (identity: string) => `version: 1
apis:
  - name: shop
    spec: ./openapi.yaml
    upstream: { url: 'http://127.0.0.1:3000' }
scans:
  - name: staging
    api: shop
    everyMinutes: 60
    scan:
      target: https://staging.example.com
      identities:
        - ${identity}
`;

test('a scheduled scan identity may log in with an OAuth2 password grant or a token pointer', () => {
  const c = parseConfig(
    config(
      "{ name: alice, login: { path: /token, grantType: password, body: { username: alice, password: '${PW}' } } }",
    ),
    'gw.yaml',
    { PW: 'pw-a' },
  );
  const scans = c.scans as unknown as { scan: { identities: { login: { body: { password: string } } }[] } }[];
  assert.equal(scans[0].scan.identities[0].login.body.password, 'pw-a');
  parseConfig(
    config(
      '{ name: bob, login: { path: /login, body: { u: bob }, tokenPointer: /auth/auth_token, encoding: form } }',
    ),
    'gw.yaml',
    {},
  );
});

test('a login identity with an unknown option is refused at its exact config path', () => {
  try {
    parseConfig(config('{ name: bob, login: { path: /login, body: {}, tokenPath: /t } }'), 'gw.yaml', {});
    assert.fail('expected a ConfigError');
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.ok(
      err.issues
        .map(formatIssue)
        .some(
          (i) =>
            i.includes('scans[0].scan.identities[0].login') || i.includes('/scans/0/scan/identities/0/login'),
        ),
      err.issues.map(formatIssue).join('\n'),
    );
  }
});
