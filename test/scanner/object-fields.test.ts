import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A card API in an RPC style: cards are created with `POST /cards {label}`, listed with `GET /cards`, and
 * changed through an action, `POST /cards/{id}/set-limit {limit}`; the profile is read with `GET /me` and
 * changed with `PATCH /me {display_name}`. Reads show more fields than any request declares (`spent`,
 * `frozen`, `network`; `loyalty_points`, `locked`), none of them a usual privileged name. `GET /v1/cards`
 * is the old listing, marked `deprecated: true`.
 *
 * Vulnerable: the action and the profile update write every field of the record a body names (the way a
 * handler that builds `UPDATE ... SET` from the body's keys does; the documented `limit`, not a field of the
 * card, fails the action with a 500), the action checks no owner, and the deprecated listing still answers.
 * Fixed twin: only the declared inputs are written, the action is the owner's only, and the deprecated
 * listing answers 410 Gone.
 */
const str = { type: 'string' } as const;
const CARD = {
  type: 'object',
  properties: {
    id: str,
    label: str,
    spend_limit: { type: 'number' },
    spent: { type: 'number' },
    frozen: { type: 'boolean' },
    network: str,
  },
};
const PROFILE = {
  type: 'object',
  properties: {
    username: str,
    display_name: str,
    loyalty_points: { type: 'integer' },
    locked: { type: 'boolean' },
  },
};
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const body = (properties: object) => ({
  required: true,
  ...json({ type: 'object', properties }),
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'cards', version: '2' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'x-user' } } },
  security: [{ key: [] }],
  paths: {
    '/cards': {
      get: {
        operationId: 'listCards',
        responses: { '200': { description: 'my cards', ...json({ type: 'array', items: CARD }) } },
      },
      post: {
        operationId: 'createCard',
        requestBody: body({ label: str }),
        responses: { '201': { description: 'created', ...json(CARD) } },
      },
    },
    '/v1/cards': {
      get: {
        operationId: 'listCardsV1',
        deprecated: true,
        responses: {
          '200': { description: 'my cards (old shape)', ...json({ type: 'array', items: CARD }) },
          '410': { description: 'retired' },
        },
      },
    },
    '/cards/{id}/set-limit': {
      post: {
        operationId: 'setLimit',
        parameters: [{ name: 'id', in: 'path', required: true, schema: str }],
        requestBody: body({ limit: { type: 'number' } }),
        responses: { '200': { description: 'changed', ...json(CARD) } },
      },
    },
    '/me': {
      get: { operationId: 'getMe', responses: { '200': { description: 'my profile', ...json(PROFILE) } } },
      patch: {
        operationId: 'updateMe',
        requestBody: body({ display_name: str }),
        responses: { '200': { description: 'changed', ...json(PROFILE) } },
      },
    },
  },
};

interface Card extends Record<string, unknown> {
  id: string;
  owner: string;
}

async function startCards(fixed: boolean): Promise<{ url: string; server: Server }> {
  const cards = new Map<string, Card>();
  const profiles = new Map<string, Record<string, unknown>>();
  const publicCard = ({ owner: _owner, ...card }: Card) => card;
  return startServer((req, res) => {
    let raw = '';
    req.on('data', (c) => {
      raw += c;
    });
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const user = String(req.headers['x-user'] ?? '');
      const send = (status: number, payload: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(payload));
      };
      if (!['alice', 'bob'].includes(user)) return send(401, { error: 'not signed in' });
      let input: Record<string, unknown> = {};
      try {
        const parsed = raw ? JSON.parse(raw) : {};
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) input = parsed;
      } catch {
        return send(400, { error: 'bad json' });
      }
      const profile = profiles.get(user) ?? {
        username: user,
        display_name: user,
        loyalty_points: 10,
        locked: false,
      };
      profiles.set(user, profile);
      /** Writes the body into a record: the vulnerable one every field it has, the fixed one the declared ones. */
      const write = (record: Record<string, unknown>, declared: Record<string, string>) => {
        for (const [k, v] of Object.entries(input)) {
          if (k in declared) record[declared[k]] = v;
          else if (fixed) continue;
          else if (k in record && k !== 'id' && k !== 'owner' && k !== 'username') record[k] = v;
          else return false;
        }
        return true;
      };
      const mine = [...cards.values()].filter((c) => c.owner === user).map(publicCard);
      if (req.method === 'GET' && url.pathname === '/cards') return send(200, mine);
      if (req.method === 'GET' && url.pathname === '/v1/cards') {
        return fixed ? send(410, { error: 'gone' }) : send(200, mine);
      }
      if (req.method === 'POST' && url.pathname === '/cards') {
        if (typeof input.label !== 'string') return send(422, { error: 'label is required' });
        const card: Card = {
          id: randomUUID(),
          owner: user,
          label: input.label,
          spend_limit: 100,
          spent: 0,
          frozen: false,
          network: 'visa',
        };
        cards.set(card.id, card);
        return send(201, publicCard(card));
      }
      const action = /^\/cards\/([^/]+)\/set-limit$/.exec(url.pathname);
      if (req.method === 'POST' && action) {
        const card = cards.get(action[1]);
        // The vulnerable one checks no owner, and its own update fails on the documented `limit` (its column
        // is `spend_limit`): only the fields the card shows get through.
        if (!card || (fixed && card.owner !== user)) return send(404, { error: 'no such card' });
        if (!write(card, fixed ? { limit: 'spend_limit' } : {}))
          return send(500, { error: 'no column limit' });
        return send(200, publicCard(card));
      }
      if (url.pathname === '/me') {
        if (req.method === 'GET') return send(200, profile);
        if (req.method === 'PATCH') {
          if (!write(profile, { display_name: 'display_name' })) return send(400, { error: 'unknown field' });
          return send(200, profile);
        }
      }
      return send(404, { error: 'not found' });
    });
  });
}

describe('fields an object shows but its requests do not declare, and a deprecated operation', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startCards, {
      identities: [
        { name: 'alice', headers: { 'x-user': 'alice' } },
        { name: 'bob', headers: { 'x-user': 'bob' } },
      ],
      checks: ['API1', 'API3', 'API9'],
      ratePerSecond: 200,
    });
    runs.vulnerable = scans.vulnerable.result;
    runs.fixed = scans.fixed.result;
  });

  test('an action on the identity’s own card stores fields its reads show (spent, frozen, network)', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api3-mass-assignment' && x.operation?.operationId === 'setLimit',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /spent \(undeclared, shown by reads\)/);
    assert.match(f.message, /frozen/);
    // spend_limit is the declared limit under another name: the action's own input, not an extra one.
    assert.doesNotMatch(f.message, /spend_limit/);
  });

  test('another identity changes a card through a field its reads show, when the documented input fails', () => {
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api1-bola-write' && x.operation?.operationId === 'setLimit',
    );
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.match(f.message, /with the field (label|spent|frozen|network)/);
  });

  test('a given identity’s own profile gets none of its money or account state (loyalty_points, locked), and the coverage says so', () => {
    // Review R1-5: a given identity's money-like and account-state members are never written, not even to set
    // them back; without a sign-up there is no account of the scan's own to carry them.
    const f = runs.vulnerable.findings.find(
      (x) => x.rule.id === 'scan/api3-mass-assignment' && x.operation?.operationId === 'updateMe',
    );
    assert.equal(f, undefined, f?.message);
    assert.match(
      JSON.stringify(runs.vulnerable.coverage),
      /loyalty_points, locked, its money or account state/,
    );
  });

  test('a deprecated operation that still answers is reported (API9)', () => {
    const f = runs.vulnerable.findings.find((x) => x.rule.id === 'scan/api9-deprecated-operation-served');
    assert.ok(f, operationsFound(runs.vulnerable).join('\n'));
    assert.equal(f.operation?.operationId, 'listCardsV1');
    assert.equal(f.rule.owasp, 'API9:2023');
  });

  test('finds nothing on the fixed twin', () => {
    assert.deepEqual(operationsFound(runs.fixed), []);
  });
});
