/**
 * Discovery and the authorization checks (API1, API3, API5) against the scan targets of other styles, each
 * with its fixed twin: a Flask-like API whose create answers only a message, a FastAPI-like one with numeric
 * foreign keys and a role enum, and a MongoDB-like one with 24-hex ids, nested cards and a registration under
 * /auth. Only the checks under test run, so each scan takes a few seconds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runScan, type ScanResult } from '../../src/scanner/scan/index.ts';
import { SCAN_TARGETS } from '../fixtures/scan-targets/index.ts';

async function scanTarget(name: string, fixed: boolean, checks: string[]): Promise<ScanResult> {
  const target = SCAN_TARGETS.find((t) => t.name === name)!;
  const api = await target.start({ fixed });
  try {
    return await runScan({
      spec: api.specFile,
      target: api.url,
      // The time-based injection probes ask for 300 ms instead of 1 s (controls unchanged), to shorten the test.
      timeDelayMs: 300,
      identities: [target.identity('alice'), target.identity('bob')],
      admin: target.identity('admin'),
      checks,
      ratePerSecond: 100,
    });
  } finally {
    await api.close();
  }
}

function found(result: ScanResult): string[] {
  return result.findings
    .filter((f) => /^scan\/api(1|3|5)-/.test(f.rule.id))
    .map((f) => `${f.rule.id} ${f.operation?.method} ${f.operation?.path}`)
    .filter((v, i, all) => all.indexOf(v) === i)
    .sort();
}

describe('discovery feeds the authorization checks on APIs of other styles', () => {
  test('finds a book created without an id through the list, a loan made by POST /loans/create, then BOLA on them (Flask-like)', async () => {
    const bad = await scanTarget('flask-bookshelf', false, ['API1']);
    assert.ok(bad.stats.objectsCreated >= 4, `objects created: ${bad.stats.objectsCreated}`);
    assert.deepEqual(found(bad), [
      'scan/api1-bola-delete DELETE /api/v2/books/{book_id}',
      'scan/api1-bola-read GET /api/v2/books/{book_id}',
      // The member number comes only in each login answer; the route declares no login (`v{version}` too).
      'scan/api1-bola-read GET /api/v{version}/members/{member_no}/card',
      'scan/api1-bola-write POST /api/v2/loans/{loan_id}/renew',
      'scan/api1-bola-write PUT /api/v2/books/{book_id}',
    ]);
    const good = await scanTarget('flask-bookshelf', true, ['API1']);
    assert.ok(good.stats.objectsCreated >= 2);
    assert.deepEqual(found(good), []);
  });

  test('confirms mass assignment at registration by logging in as the new user (Flask-like)', async () => {
    const bad = await scanTarget('flask-bookshelf', false, ['API3']);
    assert.ok(
      found(bad).includes('scan/api3-mass-assignment POST /api/v2/users/register'),
      String(found(bad)),
    );
    const good = await scanTarget('flask-bookshelf', true, ['API3']);
    assert.deepEqual(
      found(good).filter((f) => f.includes('mass-assignment')),
      [],
    );
  });

  test('replays pets across identities, an owner_id in the body and a role change (FastAPI-like)', async () => {
    const bad = await scanTarget('fastapi-petclinic', false, ['API1', 'API5']);
    const list = found(bad);
    for (const expected of [
      'scan/api1-bola-read GET /v3/pets/{pet_id}',
      'scan/api1-bola-write PUT /v3/pets/{pet_id}',
      'scan/api1-bola-delete DELETE /v3/pets/{pet_id}',
      'scan/api1-bola-write POST /v3/pets/',
      'scan/api5-bfla GET /v3/users/',
      'scan/api5-bfla PATCH /v3/users/{user_id}/role',
    ]) {
      assert.ok(list.includes(expected), `${expected} missing from ${list.join(', ')}`);
    }
    const good = await scanTarget('fastapi-petclinic', true, ['API1', 'API5']);
    assert.deepEqual(found(good), []);
  });

  test('deletes a user the scan registered as an ordinary identity, and lists all users (MongoDB-like)', async () => {
    const bad = await scanTarget('express-kanban', false, ['API1', 'API3', 'API5']);
    const list = found(bad);
    for (const expected of [
      'scan/api1-bola-read GET /api/boards/{boardId}',
      'scan/api1-bola-write PATCH /api/boards/{boardId}',
      'scan/api1-bola-delete DELETE /api/boards/{boardId}/cards/{cardId}',
      'scan/api3-mass-assignment POST /api/auth/register',
      'scan/api5-bfla GET /api/users',
      'scan/api5-bfla DELETE /api/users/{userId}',
    ]) {
      assert.ok(list.includes(expected), `${expected} missing from ${list.join(', ')}`);
    }
    const good = await scanTarget('express-kanban', true, ['API1', 'API3', 'API5']);
    assert.deepEqual(found(good), []);
  });
});
