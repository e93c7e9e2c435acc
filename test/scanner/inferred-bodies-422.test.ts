import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { DatabaseSync } from 'node:sqlite';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * A recipe box in the style of a FastAPI app whose served document lists its writes with no request body (the
 * creation) or a body without members (the replacement, FastAPI's `body: dict = Body(...)`): the handlers validate
 * a pydantic model by hand: `POST /api/recipes` and `PUT /api/recipes/{recipe_id}`
 * want `{title: str, portions: int, cuisine: 'thai' | 'greek' | 'mexican', ingredients: [{name: str, grams: int}]
 * (at least one)}` and answer pydantic v2's 422s: `loc: ["body"]` without a body, every missing field at once for
 * `{}`, `int_parsing` for a portion count that is no integer, `enum` with `ctx.expected` for an unknown cuisine,
 * `list_type` and `too_short` for the ingredients, and `["body", "ingredients", 0, "grams"]` below them. No answer schema is documented either.
 * Storage is node:sqlite.
 *
 * Vulnerable: any member reads and rewrites any recipe (no owner check), and the creation pastes the title into
 * its INSERT (a quote answers the database's error). Fixed twin: a recipe is its owner's only (404 for anyone
 * else), and the INSERT is prepared.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'recipe box', version: '2.1.0' },
  components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  security: [{ bearer: [] }],
  paths: {
    '/auth/session': {
      post: {
        operationId: 'openSession',
        security: [],
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                properties: { handle: { type: 'string' }, secret: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': { description: 'a session' } },
      },
    },
    '/api/recipes': {
      get: { operationId: 'listRecipes', responses: { '200': { description: 'my recipes' } } },
      post: { operationId: 'createRecipe', responses: { '201': { description: 'created' } } },
    },
    '/api/recipes/{recipe_id}': {
      parameters: [{ name: 'recipe_id', in: 'path', required: true, schema: { type: 'integer' } }],
      get: { operationId: 'getRecipe', responses: { '200': { description: 'a recipe' } } },
      // FastAPI's `body: dict = Body(...)`: a body with no member declared.
      put: {
        operationId: 'replaceRecipe',
        requestBody: {
          required: true,
          content: { 'application/json': { schema: { type: 'object', title: 'Body' } } },
        },
        responses: { '200': { description: 'replaced' } },
      },
    },
  },
};

const CUISINES = ['thai', 'greek', 'mexican'];

async function jsonOf(req: IncomingMessage): Promise<{ ok: true; value: unknown } | { ok: false }> {
  let text = '';
  for await (const chunk of req) text += chunk;
  try {
    return text === '' ? { ok: false } : { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Pydantic v2's errors for the recipe model, every field at once, or none. */
function validate(v: unknown): Record<string, unknown>[] {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    return [
      { type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary', input: v },
    ];
  const r = v as Record<string, unknown>;
  const out: Record<string, unknown>[] = [];
  const missing = (name: string) => ({
    type: 'missing',
    loc: ['body', name],
    msg: 'Field required',
    input: r,
  });
  if (!('title' in r)) out.push(missing('title'));
  else if (typeof r.title !== 'string')
    out.push({
      type: 'string_type',
      loc: ['body', 'title'],
      msg: 'Input should be a valid string',
      input: r.title,
    });
  if (!('portions' in r)) out.push(missing('portions'));
  else if (!Number.isInteger(typeof r.portions === 'string' ? Number(r.portions) : r.portions))
    out.push({
      type: 'int_parsing',
      loc: ['body', 'portions'],
      msg: 'Input should be a valid integer, unable to parse string as an integer',
      input: r.portions,
    });
  if (!('cuisine' in r)) out.push(missing('cuisine'));
  else if (!CUISINES.includes(String(r.cuisine)))
    out.push({
      type: 'enum',
      loc: ['body', 'cuisine'],
      msg: "Input should be 'thai', 'greek' or 'mexican'",
      input: r.cuisine,
      ctx: { expected: "'thai', 'greek' or 'mexican'" },
    });
  if (!('ingredients' in r)) out.push(missing('ingredients'));
  else if (!Array.isArray(r.ingredients))
    out.push({
      type: 'list_type',
      loc: ['body', 'ingredients'],
      msg: 'Input should be a valid list',
      input: r.ingredients,
    });
  else if (r.ingredients.length === 0)
    out.push({
      type: 'too_short',
      loc: ['body', 'ingredients'],
      msg: 'List should have at least 1 item after validation, not 0',
      input: r.ingredients,
      ctx: { field_type: 'List', min_length: 1, actual_length: 0 },
    });
  else
    for (const [i, item] of (r.ingredients as unknown[]).entries()) {
      const at = ['body', 'ingredients', i];
      if (item === null || typeof item !== 'object') {
        out.push({
          type: 'model_type',
          loc: at,
          msg: 'Input should be a valid dictionary or instance of Ingredient',
          input: item,
        });
        continue;
      }
      const ing = item as Record<string, unknown>;
      if (typeof ing.name !== 'string')
        out.push({ type: 'missing', loc: [...at, 'name'], msg: 'Field required', input: ing });
      if (!('grams' in ing))
        out.push({ type: 'missing', loc: [...at, 'grams'], msg: 'Field required', input: ing });
      else if (!Number.isInteger(ing.grams))
        out.push({
          type: 'int_parsing',
          loc: [...at, 'grams'],
          msg: 'Input should be a valid integer',
          input: ing.grams,
        });
    }
  return out;
}

interface RecipeBox {
  readonly url: string;
  readonly server: import('node:http').Server;
  readonly db: DatabaseSync;
  readonly requests: string[];
}

const MEMBERS: Record<string, string> = { kai: 'kai-secret-5521', noor: 'noor-secret-9034' };

async function startRecipeBox(fixed: boolean): Promise<RecipeBox> {
  const db = new DatabaseSync(':memory:');
  db.exec(
    'CREATE TABLE recipes (id INTEGER PRIMARY KEY AUTOINCREMENT, owner TEXT NOT NULL, title TEXT, portions INTEGER, cuisine TEXT)',
  );
  db.exec("INSERT INTO recipes (owner, title, portions, cuisine) VALUES ('ravi', 'green curry', 2, 'thai')");
  const sessions = new Map<string, string>();
  const requests: string[] = [];
  const server = await startServer(async (req, res) => {
    const send = (status: number, payload: unknown) => {
      res.writeHead(status, {
        'content-type': 'application/json',
        'x-content-type-options': 'nosniff',
        'cache-control': 'no-store',
      });
      res.end(JSON.stringify(payload));
    };
    const url = new URL(req.url ?? '/', 'http://x');
    const body = await jsonOf(req);
    if (url.pathname === '/auth/session' && req.method === 'POST') {
      const v = (body.ok ? body.value : {}) as { handle?: string; secret?: string };
      if (typeof v.handle !== 'string' || MEMBERS[v.handle] !== v.secret)
        return send(401, { detail: 'Incorrect handle or secret' });
      const token = `s-${v.handle}-${sessions.size}-${Math.random().toString(36).slice(2)}`;
      sessions.set(token, v.handle);
      return send(200, { access_token: token, token_type: 'bearer' });
    }
    const who = sessions.get((req.headers.authorization ?? '').replace(/^Bearer /, ''));
    requests.push(`${req.method} ${url.pathname} ${who ?? '-'} ${body.ok ? JSON.stringify(body.value) : ''}`);
    if (who === undefined) return send(401, { detail: 'Not authenticated' });
    const row = (id: string) =>
      /^\d+$/.test(id)
        ? (db.prepare('SELECT * FROM recipes WHERE id = ?').get(Number(id)) as
            | Record<string, unknown>
            | undefined)
        : undefined;
    if (url.pathname === '/api/recipes' && req.method === 'GET') {
      return send(200, db.prepare('SELECT * FROM recipes WHERE owner = ?').all(who));
    }
    if (url.pathname === '/api/recipes' && req.method === 'POST') {
      if (!body.ok)
        return send(422, {
          detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }],
        });
      const errors = validate(body.value);
      if (errors.length > 0) return send(422, { detail: errors });
      const v = body.value as { title: string; portions: number | string; cuisine: string };
      let id: number;
      if (fixed) {
        id = Number(
          db
            .prepare('INSERT INTO recipes (owner, title, portions, cuisine) VALUES (?, ?, ?, ?)')
            .run(who, v.title, Number(v.portions), v.cuisine).lastInsertRowid,
        );
      } else {
        try {
          db.exec(
            `INSERT INTO recipes (owner, title, portions, cuisine) VALUES ('${who}', '${v.title}', ${Number(v.portions)}, '${v.cuisine}')`,
          );
        } catch (e) {
          return send(500, { detail: `sqlite3.OperationalError: ${(e as Error).message}` });
        }
        id = Number((db.prepare('SELECT max(id) AS id FROM recipes').get() as { id: number }).id);
      }
      return send(201, row(String(id)));
    }
    const item = /^\/api\/recipes\/([^/]+)$/.exec(url.pathname);
    if (item) {
      const found = row(item[1]);
      if (!found || (fixed && found.owner !== who)) return send(404, { detail: 'Recipe not found' });
      if (req.method === 'GET') return send(200, found);
      if (req.method === 'PUT') {
        if (!body.ok)
          return send(422, {
            detail: [{ type: 'missing', loc: ['body'], msg: 'Field required', input: null }],
          });
        const errors = validate(body.value);
        if (errors.length > 0) return send(422, { detail: errors });
        const v = body.value as { title: string; portions: number | string; cuisine: string };
        db.prepare('UPDATE recipes SET title = ?, portions = ?, cuisine = ? WHERE id = ?').run(
          v.title,
          Number(v.portions),
          v.cuisine,
          found.id as number,
        );
        return send(200, row(item[1]));
      }
      return send(405, { detail: 'Method Not Allowed' });
    }
    return send(404, { detail: 'Not Found' });
  });
  return { url: server.url, server: server.server, db, requests };
}

const identity = (handle: string) => ({
  name: handle,
  login: { path: '/auth/session', body: { handle, secret: MEMBERS[handle] } },
});

describe('bodies learnt from pydantic 422s when the document declares none', () => {
  const runs = {} as Record<'vulnerable' | 'fixed', { result: ScanResult; api: RecipeBox }>;
  before(async () => {
    const scans = await scanTwins(SPEC, startRecipeBox, {
      identities: [identity('kai'), identity('noor')],
      checks: ['API1', 'API8'],
      ratePerSecond: 300,
    });
    runs.vulnerable = scans.vulnerable;
    runs.fixed = scans.fixed;
  });

  test('recipes are created by both members from the inferred body', () => {
    const { api } = runs.vulnerable;
    const owners = db(api).map((r) => r.owner);
    assert.ok(owners.includes('noor'), JSON.stringify(db(api)));
    assert.ok(owners.filter((o) => o === 'kai').length >= 2, JSON.stringify(db(api)));
  });

  test("another member's recipe is read and rewritten, and the title reaches SQL", () => {
    const found = operationsFound(runs.vulnerable.result);
    for (const want of [
      'scan/api1-bola-read getRecipe',
      'scan/api1-bola-write replaceRecipe',
      'scan/api8-sql-injection createRecipe',
    ])
      assert.ok(found.includes(want), `${want} missing from\n${found.join('\n')}`);
  });

  test('the coverage matrix says the body was inferred', () => {
    const text = JSON.stringify(runs.vulnerable.result.coverage);
    assert.match(
      text,
      /POST \/api\/recipes","status":"[a-z]+".*"ids":"request body not in the document, inferred from the API's error answers: title, portions, cuisine, ingredients"/,
    );
    assert.match(
      text,
      /request body declared without members, inferred from the API.s error answers: title, portions, cuisine, ingredients/,
    );
  });

  test('the fixed twin: no finding', () => {
    const { result } = runs.fixed;
    assert.deepEqual(operationsFound(result), [], result.findings.map((x) => x.message).join('\n'));
  });

  test("the seeded recipe of ravi (no identity's) is untouched", () => {
    for (const kind of ['vulnerable', 'fixed'] as const) {
      const seeded = db(runs[kind].api).find((r) => r.id === 1);
      assert.equal(seeded?.title, 'green curry', kind);
    }
  });
});

function db(api: RecipeBox): Record<string, unknown>[] {
  return api.db.prepare('SELECT * FROM recipes').all() as Record<string, unknown>[];
}
