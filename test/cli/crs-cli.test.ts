import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { tempFiles } from '../harness.ts';
import { runCli } from '../kit/process.ts';
import { DEBIAN_CRS_RULES } from '../waf/oracle.ts';

const cli = (args: string[]) => runCli(args);

const UA = ['-H', 'User-Agent: Mozilla/5.0', '-H', 'Accept: application/json'];

describe('portcullis crs test', () => {
  test('prints the rules a SQL injection fires, the score and BLOCKED, and exits 1', async () => {
    const r = await cli([
      'crs',
      'test',
      '--rules',
      DEBIAN_CRS_RULES,
      ...UA,
      "http://api.example.test/users?id=1'%20UNION%20SELECT%20password%20FROM%20users--",
    ]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /^rule set: OWASP CRS 3\.3\.\d+ in /);
    assert.match(r.stdout, /942100 {2}CRITICAL {2}ARGS:id {2}SQL Injection Attack Detected via libinjection/);
    assert.match(r.stdout, /949110/);
    assert.match(r.stdout, /anomaly score \d+ \(threshold 5\): BLOCKED/);
  });

  test('says a benign request is allowed and exits 0', async () => {
    const r = await cli(['crs', 'test', ...UA, 'http://api.example.test/users?page=2&sort=name']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /no rule matched\nanomaly score 0 \(threshold 5\): allowed/);
  });

  test('replays a raw request from a file, body included, as JSON', async () => {
    const dir = await tempFiles({});
    const file = path.join(dir, 'req.http');
    const body = '{"comment":"<script>alert(1)</script>"}';
    await writeFile(
      file,
      `POST /comments HTTP/1.1\r\nHost: api.example.test\r\nUser-Agent: Mozilla/5.0\r\nAccept: */*\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`,
    );
    const r = await cli(['crs', 'test', '--json', '--paranoia', '2', '--request', file]);
    assert.equal(r.code, 1, r.stderr);
    const out = JSON.parse(r.stdout) as {
      blocked: boolean;
      matches: Array<{ id: number; variable: string }>;
    };
    assert.equal(out.blocked, true);
    assert.ok(out.matches.some((m) => m.id === 941100 && m.variable === 'ARGS:json.comment'));
  });

  test('refuses a paranoia level outside 1–4 with a one-line error and exit code 2', async () => {
    const r = await cli(['crs', 'test', '--paranoia', '7', 'http://x.test/']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--paranoia must be an integer from 1 to 4/);
  });
});
