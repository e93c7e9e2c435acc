import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * Review finding (session 15, R1 R1): a read whose last word is also a verb of operations. A recruiting API (X-Api-Key
 * identities, seeded candidates, no creation route): `GET /candidates/{candidateId}/resume` answers the candidate's
 * CV (phone, salary). The vulnerable twin shows any candidate's CV to any recruiter; the fixed twin only the
 * recruiter's own. At d8182f5 a plain scan found the vulnerable read; since 8d57a81 put `resume` among the verbs of
 * change, the GET is held back with every id the API gave out ("not sent: its path acts on 71") and the flaw is
 * missed. A GET named by a noun that is also a verb (resume, power, sleep) is a read unless something says it acts.
 */
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'hr', version: '1' },
  components: { securitySchemes: { key: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } } },
  security: [{ key: [] }],
  paths: {
    '/candidates': {
      get: { operationId: 'listCandidates', responses: { '200': { description: 'own candidates' } } },
    },
    '/candidates/{candidateId}/resume': {
      parameters: [{ name: 'candidateId', in: 'path', required: true, schema: { type: 'integer' } }],
      get: {
        operationId: 'getResume',
        description: "The candidate's CV.",
        responses: { '200': { description: 'the CV' } },
      },
    },
  },
};
const KEYS: Record<string, number> = {
  'hk-alice-91c3d7e2aa40': 1,
  'hk-bob-4f8e2b6c0d19': 2,
  'hk-root-7a6b5c4d3e2f': 3,
};
const CANDIDATES = [
  { id: 71, recruiter: 1, name: 'Dana Lee', cv: 'Dana Lee, 10 years of Go, phone 555-0147, expects 140k' },
  { id: 72, recruiter: 2, name: 'Sam Roe', cv: 'Sam Roe, designer, phone 555-0199, expects 90k' },
];

async function startHr(fixed: boolean) {
  return startServer((req, res) => {
    req.resume();
    const me = KEYS[String(req.headers['x-api-key'] ?? '')];
    const path = (req.url ?? '/').split('?')[0];
    if (me === undefined) return sendJson(res, 401, { error: 'key required' });
    if (req.method === 'GET' && path === '/candidates')
      return sendJson(
        res,
        200,
        CANDIDATES.filter((c) => c.recruiter === me).map(({ id, name }) => ({ id, name })),
      );
    const m = /^\/candidates\/(\d+)\/resume$/.exec(path);
    const c = m ? CANDIDATES.find((x) => x.id === Number(m[1])) : undefined;
    if (req.method !== 'GET' || !c || (fixed && c.recruiter !== me))
      return sendJson(res, 404, { error: 'no such candidate' });
    return sendJson(res, 200, { candidate_id: c.id, resume_text: c.cv });
  });
}

const identity = (name: string, key: string) => ({ name, headers: { 'X-Api-Key': key } });

describe("review: a CV read at /candidates/{id}/resume is a read, and another recruiter's CV is found", () => {
  test('vulnerable: getResume found; fixed: no API1 finding', async () => {
    const scans = await scanTwins(SPEC, startHr, {
      identities: [identity('alice', 'hk-alice-91c3d7e2aa40'), identity('bob', 'hk-bob-4f8e2b6c0d19')],
      admin: identity('root', 'hk-root-7a6b5c4d3e2f'),
      ratePerSecond: 200,
    });
    assert.ok(operationsFound(scans.vulnerable.result).includes('scan/api1-bola-read getResume'));
    assert.deepEqual(
      operationsFound(scans.fixed.result).filter((x) => x.startsWith('scan/api1')),
      [],
    );
  });
});
