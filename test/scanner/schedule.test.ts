import assert from 'node:assert/strict';
import { test } from 'node:test';
import { echoHandler, op, openapi, startGateway, startServer } from '../harness.ts';

test('a scheduled audit of a served API turns its findings into vulnerability events', async () => {
  const upstream = await startServer(echoHandler);
  const spec = openapi({
    '/users/{id}': {
      get: op('getUser', {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'integer' } }],
      }),
    },
  });
  const gw = await startGateway({
    specs: { 'api.yaml': spec },
    config: {
      apis: [{ name: 'users', spec: 'api.yaml', upstream: { url: upstream.url } }],
      scans: [{ name: 'nightly', api: 'users', everyMinutes: 1440, initialDelaySeconds: 3600 }],
    },
  });
  try {
    const [audit] = await gw.runtime.scans.runNow('nightly');
    assert.ok(audit.findings.length > 0);
    const events = gw.events.filter((e) => e['event.category'] === 'vulnerability');
    assert.equal(events.length, audit.findings.length);
    const numericIds = events.find((e) => e['rule.id'] === 'audit/numeric-ids');
    assert.ok(numericIds, 'the integer path id is reported');
    assert.equal(numericIds['rule.category'], 'API1:2023');
    assert.equal(numericIds['portcullis.api'], 'users');
    assert.equal(numericIds['portcullis.scan.job'], 'nightly');
    await assert.rejects(gw.runtime.scans.runNow('nope'), /no scan job named nope/);
  } finally {
    await gw.close();
    await upstream.close();
  }
});
