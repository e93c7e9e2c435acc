import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../cli/config.ts';
import { ConfigError, formatIssue } from './load.ts';

/** A gateway config with one scheduled scan whose `headers` are `headers` (YAML flow mapping). */
const config = (headers: string) => `version: 1
apis:
  - name: demo
    spec: ./openapi.yaml
    upstream: { url: 'http://127.0.0.1:3000' }
scans:
  - name: nightly
    api: demo
    everyMinutes: 60
    scan:
      target: http://127.0.0.1:3000
      identities: [{ name: alice, bearer: t1 }]
      headers: ${headers}
`;

function issuesOf(text: string): string[] {
  try {
    parseConfig(text, 'gw.yaml', {});
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues.map(formatIssue);
  }
  assert.fail('expected a ConfigError');
}

describe('scans[].scan.headers', () => {
  test('a map of header names to values is taken as given', () => {
    const c = parseConfig(config('{ X-Api-Version: "2", X-Gateway-Key: gk-1 }'), 'gw.yaml', {});
    assert.deepEqual((c as unknown as { scans: { scan?: { headers?: unknown } }[] }).scans[0].scan?.headers, {
      'X-Api-Version': '2',
      'X-Gateway-Key': 'gk-1',
    });
  });

  test('a bad name or value is one issue at its exact path', () => {
    const name =
      "must be a header name (letters, digits and !#$%&'*+-.^_`|~ only), not one the scan sets itself (content-length, transfer-encoding, connection, keep-alive, proxy-connection, upgrade, te, trailer, expect, host, cookie)";
    assert.deepEqual(issuesOf(config('{ "X Mode": a }')), [
      `scans[0].scan.headers["X Mode"]: ${name} (line 13)`,
    ]);
    assert.deepEqual(issuesOf(config('{ Cookie: a=b }')), [
      `scans[0].scan.headers.Cookie: ${name} (line 13)`,
    ]);
    assert.deepEqual(issuesOf(config('{ content-LENGTH: "3" }')), [
      `scans[0].scan.headers.content-LENGTH: ${name} (line 13)`,
    ]);
    assert.deepEqual(issuesOf(config('{ X-Mode: "a\\r\\nX-Admin: 1" }')), [
      'scans[0].scan.headers.X-Mode: must be a header value on one line, not empty (no CR, LF or other control character) (line 13)',
    ]);
    assert.deepEqual(issuesOf(config('{ X-Mode: 2 }')), [
      'scans[0].scan.headers.X-Mode: must be a string (line 13)',
    ]);
  });
});
