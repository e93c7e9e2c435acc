import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { GUARDED_JSON, readJson, sendJson } from './small-api.ts';
import { scanTwins, type TwinScans, type TwinTarget } from './twins.ts';

/**
 * The caller's own personal data read where the own-data rule did not look (a third-party NestJS shop measured in
 * session 14 had three API3 "personal data outside the schema" findings on the caller's own data): its own record
 * read by its id under another collection than `/users` (`GET /students/{id}/card`, no e-mail in it), the nested
 * `student` member of a lesson the caller booked itself, and a lesson list of its own. Nothing of it was sent by
 * the scan: alice's and bob's phone and home address are seeded. And what the request itself carried, echoed: a
 * phone in the query echoed under `criteria` (API1's replay fills it with the other student's phone).
 *
 * Style: a music school on node:http, no response schema anywhere (descriptions only), `{ok, result}` envelopes,
 * HS256 JWT with `sid` (student id) and `mail`, `POST /sessions {mail, secret}` login, snake_case members. The fixed
 * twin lists the caller's own lessons only; the vulnerable one lists every student's (bob's phone to alice), which
 * stays reported.
 */
const say = (description: string) => ({ description });
const json = (properties: Record<string, unknown>, required: string[]) => ({
  required: true,
  content: { 'application/json': { schema: { type: 'object', properties, required } } },
});
const bearer = [{ jwt: [] }];
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'music school', version: '2.1' },
  components: { securitySchemes: { jwt: { type: 'http', scheme: 'bearer' } } },
  paths: {
    '/sessions': {
      post: {
        operationId: 'openSession',
        requestBody: json({ mail: { type: 'string' }, secret: { type: 'string' } }, ['mail', 'secret']),
        responses: { '201': say('a session'), '401': say('refused') },
      },
    },
    '/students/{student_id}/card': {
      get: {
        operationId: 'studentCard',
        security: bearer,
        parameters: [{ name: 'student_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': say('the card'), '403': say('not yours') },
      },
    },
    '/lessons/search': {
      get: {
        operationId: 'searchLessons',
        security: bearer,
        parameters: [{ name: 'phone', in: 'query', required: true, schema: { type: 'string' } }],
        responses: { '200': say('your lessons booked with that phone') },
      },
    },
    '/lessons': {
      get: { operationId: 'listLessons', security: bearer, responses: { '200': say('lessons') } },
      post: {
        operationId: 'bookLesson',
        security: bearer,
        requestBody: json(
          {
            instrument: { type: 'string', example: 'cello' },
            weekday: { type: 'string', example: 'tuesday' },
          },
          ['instrument'],
        ),
        responses: { '201': say('booked') },
      },
    },
    '/lessons/{lesson_id}': {
      get: {
        operationId: 'getLesson',
        security: bearer,
        parameters: [{ name: 'lesson_id', in: 'path', required: true, schema: { type: 'integer' } }],
        responses: { '200': say('a lesson'), '404': say('none') },
      },
    },
  },
};

interface Student {
  id: number;
  mail: string;
  secret: string;
  nickname: string;
  phone: string;
  home_address: string;
}
interface Lesson {
  id: number;
  student_id: number;
  instrument: string;
  weekday: string;
}

const GIVEN: readonly Student[] = [
  {
    id: 11,
    mail: 'ines@school.test',
    secret: 'ines-secret-77',
    nickname: 'ines',
    phone: '+351 21 000 1111',
    home_address: 'Rua Alta 4, Lisboa',
  },
  {
    id: 12,
    mail: 'tomas@school.test',
    secret: 'tomas-secret-77',
    nickname: 'tomas',
    phone: '+351 22 000 2222',
    home_address: 'Rua Baixa 9, Porto',
  },
  {
    id: 13,
    mail: 'head@school.test',
    secret: 'head-secret-77',
    nickname: 'head',
    phone: '+351 23 000 3333',
    home_address: 'Largo 1, Braga',
  },
];

type School = TwinTarget & { lessons: Lesson[] };

function startSchool(fixed: boolean): Promise<School> {
  const key = randomBytes(32);
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
  const sign = (claims: Record<string, unknown>) => {
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64(claims)}`;
    return `${head}.${createHmac('sha256', key).update(head).digest('base64url')}`;
  };
  const verify = (token: string): Student | undefined => {
    const [h, c, s] = token.split('.');
    if (!h || !c || !s || JSON.parse(Buffer.from(h, 'base64url').toString()).alg !== 'HS256')
      return undefined;
    if (createHmac('sha256', key).update(`${h}.${c}`).digest('base64url') !== s) return undefined;
    const claims = JSON.parse(Buffer.from(c, 'base64url').toString()) as { sid?: number };
    return GIVEN.find((g) => g.id === claims.sid);
  };
  const lessons: Lesson[] = [
    { id: 1, student_id: 11, instrument: 'piano', weekday: 'monday' },
    { id: 2, student_id: 12, instrument: 'violin', weekday: 'friday' },
  ];
  const card = (s: Student) => ({
    student_id: s.id,
    nickname: s.nickname,
    phone: s.phone,
    home_address: s.home_address,
  });
  const shown = (l: Lesson) => {
    const s = GIVEN.find((g) => g.id === l.student_id)!;
    return { ...l, student: { nickname: s.nickname, phone: s.phone, home_address: s.home_address } };
  };
  return startServer(async (req, res) => {
    const b = (await readJson(req)) ?? {};
    const url = new URL(req.url ?? '/', 'http://x');
    const send = (status: number, payload: unknown) => sendJson(res, status, payload, GUARDED_JSON);
    const fail = (status: number, reason: string) => send(status, { ok: false, reason });
    if (req.method === 'POST' && url.pathname === '/sessions') {
      const s = GIVEN.find((g) => g.mail === b.mail && g.secret === b.secret);
      if (!s) return fail(401, 'wrong mail or secret');
      return send(201, { ok: true, result: { token: sign({ sid: s.id, mail: s.mail }), student_id: s.id } });
    }
    let me: Student | undefined;
    try {
      me = verify((req.headers.authorization ?? '').replace(/^Bearer /i, ''));
    } catch {
      me = undefined;
    }
    if (!me) return fail(401, 'sign in first');
    const cardAt = /^\/students\/(\d+)\/card$/.exec(url.pathname);
    if (req.method === 'GET' && cardAt) {
      const s = GIVEN.find((g) => g.id === Number(cardAt[1]));
      if (!s) return fail(404, 'no such student');
      if (s.id !== me.id) return fail(403, 'not your card');
      return send(200, { ok: true, result: card(s) });
    }
    if (req.method === 'GET' && url.pathname === '/lessons/search') {
      const phone = url.searchParams.get('phone') ?? '';
      const found = me.phone === phone ? lessons.filter((l) => l.student_id === me.id) : [];
      return send(200, { ok: true, criteria: { phone }, result: found.map((l) => l.id) });
    }
    if (req.method === 'GET' && url.pathname === '/lessons') {
      const mine = fixed ? lessons.filter((l) => l.student_id === me.id) : lessons;
      return send(200, { ok: true, result: mine.map(shown) });
    }
    if (req.method === 'POST' && url.pathname === '/lessons') {
      if (typeof b.instrument !== 'string' || lessons.length > 300)
        return fail(400, 'instrument is required');
      const l: Lesson = {
        id: lessons.length + 1,
        student_id: me.id,
        instrument: b.instrument,
        weekday: String(b.weekday ?? 'monday'),
      };
      lessons.push(l);
      return send(201, { ok: true, result: shown(l) });
    }
    const lessonAt = /^\/lessons\/(\d+)$/.exec(url.pathname);
    if (req.method === 'GET' && lessonAt) {
      const l = lessons.find((x) => x.id === Number(lessonAt[1]));
      if (!l || l.student_id !== me.id) return fail(404, 'no such lesson');
      return send(200, { ok: true, result: shown(l) });
    }
    return fail(404, 'no route');
  }).then((api) => Object.assign(api, { lessons }));
}

const sensitive = (r: ScanResult) =>
  r.findings.filter((f) => f.rule.id === 'scan/api3-sensitive-data-exposure').map((f) => f.message);

describe("the caller's own personal data read by its id elsewhere, or nested in its own objects", () => {
  let runs: TwinScans<School>;
  before(async () => {
    const login = (s: Student) => ({
      name: s.nickname,
      login: { path: '/sessions', body: { mail: s.mail, secret: s.secret } },
    });
    runs = await scanTwins(SPEC, startSchool, {
      identities: [login(GIVEN[0]), login(GIVEN[1])],
      admin: login(GIVEN[2]),
      checks: ['API1', 'API3'],
      ratePerSecond: 200,
    });
  });

  test('fixed: no finding at all', () => {
    assert.deepEqual(
      runs.fixed.result.findings.map((f) => `${f.rule.id}: ${f.message}`),
      [],
    );
  });

  test("vulnerable: the other student's phone in the lesson list is still reported, nothing else", () => {
    const found = sensitive(runs.vulnerable.result);
    assert.ok(
      found.some((m) => m.startsWith('GET /lessons returned') && m.includes('/student/phone')),
      JSON.stringify(found),
    );
    assert.ok(!found.some((m) => /card|lesson_id/.test(m)), JSON.stringify(found));
  });

  test('the seeded lessons are unchanged on both twins', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        runs[kind].api.lessons.slice(0, 2).map((l) => `${l.student_id} ${l.instrument} ${l.weekday}`),
        ['11 piano monday', '12 violin friday'],
      );
  });
});
