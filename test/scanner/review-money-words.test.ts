import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApiDocument } from '../../src/openapi/load.ts';
import { movesMoney } from '../../src/scanner/scan/planner.ts';

/**
 * Review finding (session 13, R): planner's movesMoney (what discovery, API3 and the creations use to keep a given
 * identity's money still) misses plural and hyphenated money words: `POST /api/customers/{customerId}/wallet/top-ups
 * {amount, paymentReference}` (Spring-style) is no money flow to it, so discovery and API8 sent top-ups as the
 * given identities (refused there only because the path held another customer's id). API6 itself calls the same
 * route a money-in flow. MONEY_MOVE takes each word in the singular and the plural.
 */
test('a POST to .../wallet/top-ups (and topups, recharges, withdrawals, refunds...) moves money', () => {
  const paths = [
    '/api/customers/{customerId}/wallet/top-ups',
    '/wallet/topups',
    '/cards/{id}/recharges',
    '/accounts/{id}/withdrawals',
    '/orders/{id}/refunds',
    '/payouts',
    '/deposits',
    '/transfers',
    '/wallet/cash-outs',
    '/wallet/add-funds',
  ];
  const doc: Record<string, unknown> = {};
  for (const p of paths)
    doc[p] = {
      post: {
        requestBody: {
          content: {
            'application/json': { schema: { type: 'object', properties: { amount: { type: 'number' } } } },
          },
        },
        responses: { '201': { description: 'ok' } },
      },
    };
  const spec = buildApiDocument('/review.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: doc,
  } as never);
  for (const p of paths) {
    const op = spec.operations.find((o) => o.path === p);
    assert.ok(op, p);
    assert.equal(movesMoney(spec, op), true, p);
  }
});
