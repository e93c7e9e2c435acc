import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runScan } from '../../src/scanner/scan/index.ts';
import { SCAN_TARGETS } from '../fixtures/scan-targets/index.ts';

/**
 * The injection probes change only what the scan created. The helpdesk's `POST /admin/users/{user_id}/deactivate/`
 * is open to any user, and its listing gives out every user id (the scan's admin's too): probing `user_id` with
 * the ids the identities harvested deactivated the admin, after which every probe it sent (the command injection
 * of `POST /tickets/{id}/convert/`, reached only by the admin once API1 deleted the others' tickets) was refused.
 */
test('the injection probes deactivate no account and find the command injection behind the admin', async () => {
  const target = SCAN_TARGETS.find((t) => t.name === 'django-helpdesk');
  assert.ok(target);
  const api = await target.start({ fixed: false });
  try {
    const result = await runScan({
      spec: api.specFile,
      target: api.url,
      timeDelayMs: 300,
      identities: [target.identity('alice'), target.identity('bob')],
      admin: target.identity('admin'),
      checks: ['API1', 'API8'],
    });
    const deactivated = api.received
      .filter((r) => r.method === 'POST' && /^\/api\/v2\/admin\/users\/\d+\/deactivate\/$/.test(r.path))
      .map((r) => r.path);
    assert.deepEqual(deactivated, []);
    const found = result.findings.find((f) => f.rule.id === 'scan/api8-command-injection');
    assert.equal(found?.operation?.path, '/api/v2/tickets/{id}/convert/');
  } finally {
    await api.close();
  }
});
