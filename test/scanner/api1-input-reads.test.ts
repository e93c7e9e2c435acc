import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { readText, sendJson } from './small-api.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * An insurance claims desk in the style of a small Sinatra app: a form-encoded `POST /session {login,
 * password}` that sets a `desk_sid` cookie and answers `{"result": {"user_id": 2, "login": "alice"}}`, every
 * answer wrapped in `{"result": ...}`, errors as `{"errors": ["..."]}`. No item routes at all: every object is
 * named outside the path, in the query string or in a POST body:
 *
 * - `GET /claim?claim_id=` (the caller's claims listed at `GET /claims`),
 * - `GET /receipt?ref=RC-88412` (a claim's reference, listed with the caller's claims; not named like an id),
 * - `GET /statement?customer=<login>`,
 * - `POST /policies/view {"policy_no": "PX-8001"}` (the caller's policies listed at `GET /policies`; a POST, so
 *   the scan names only policies it bought itself through `POST /policies`, never the seeded PX-7001 and PX-7002),
 * - `GET /profile?user_id=` (documented with `example: 3`, which is bob),
 * - `POST /vouchers/show {"voucher_code"}` marks a seeded voucher shown (a POST that reads and writes): never
 *   replayed, as the scan made no voucher,
 * - `GET /view-member?id=Mg==` names a member by its id in base64 (documented example: alice's 2),
 * - `GET /notifications?user_id=` ignores its input and shows the caller's own (nothing to find),
 * - `GET /products?product_id=` is a public catalogue (no security): anyone reads any product by design,
 * - `GET /payees/lookup?username=` finds whom to pay by user name, for any member on both twins (by design),
 * - `GET /staff/payouts` is the staff's, and so is `GET /branch/holders?branch_id=9` (everyone in the branch alice
 *   and bob both belong to, with their contact data; the identities are configured with `branch_id: 9`).
 *
 * Vulnerable: every read above answers whatever object it is asked for, and the payouts answer any signed-in
 * user. Fixed twin: claims, statements, policies and profiles only the caller's own (404 or 403 otherwise), the
 * payouts the admin's only.
 *
 * API1 replays each read with the owner's value for its input (its claims and policies from its own lists, its
 * user id from its login answer, its login name) as the other identity, with a made-up value and the attacker's
 * own value as controls. API5 must not report `GET /profile`, though the documented example has alice read
 * bob's profile, which the admin reads alike: what differs is which profile, an object-level flaw.
 */
const form = 'application/x-www-form-urlencoded';
const ok = (description: string) => ({
  description,
  content: { 'application/json': { schema: { type: 'object' } } },
});
const query = (name: string, schema: object, extra: object = {}) => ({
  name,
  in: 'query',
  required: true,
  schema,
  ...extra,
});
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'claims desk', version: '2' },
  components: { securitySchemes: { desk: { type: 'apiKey', in: 'cookie', name: 'desk_sid' } } },
  security: [{ desk: [] }],
  paths: {
    '/session': {
      post: {
        operationId: 'signIn',
        security: [],
        requestBody: {
          content: {
            [form]: {
              schema: {
                type: 'object',
                required: ['login', 'password'],
                properties: { login: { type: 'string' }, password: { type: 'string' } },
              },
            },
          },
        },
        responses: { '200': ok('signed in'), '401': { description: 'wrong login' } },
      },
    },
    '/claims': { get: { operationId: 'myClaims', responses: { '200': ok('your claims') } } },
    '/claim': {
      get: {
        operationId: 'claimDetail',
        parameters: [query('claim_id', { type: 'integer' })],
        responses: { '200': ok('a claim'), '404': { description: 'none' } },
      },
    },
    '/receipt': {
      get: {
        operationId: 'receipt',
        parameters: [query('ref', { type: 'string', maxLength: 12 })],
        responses: { '200': ok("a claim's payout receipt"), '404': { description: 'none' } },
      },
    },
    '/statement': {
      get: {
        operationId: 'statement',
        parameters: [query('customer', { type: 'string', maxLength: 40 })],
        responses: { '200': ok('a statement'), '403': { description: 'not yours' } },
      },
    },
    '/policies': {
      get: { operationId: 'myPolicies', responses: { '200': ok('your policies') } },
      post: {
        operationId: 'buyPolicy',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['product'],
                properties: { product: { type: 'string', maxLength: 30 } },
              },
            },
          },
        },
        responses: { '201': ok('the new policy') },
      },
    },
    '/vouchers': { get: { operationId: 'myVouchers', responses: { '200': ok('your vouchers') } } },
    '/vouchers/show': {
      post: {
        operationId: 'showVoucher',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['voucher_code'],
                properties: { voucher_code: { type: 'string', maxLength: 20 } },
              },
            },
          },
        },
        responses: { '200': ok('a voucher, marked as shown'), '404': { description: 'none' } },
      },
    },
    '/policies/{policy_no}/certificate': {
      get: {
        operationId: 'certificate',
        parameters: [{ name: 'policy_no', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': ok("the holder's certificate"), '404': { description: 'none' } },
      },
    },
    '/policies/view': {
      post: {
        operationId: 'viewPolicy',
        requestBody: {
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['policy_no'],
                properties: { policy_no: { type: 'string', maxLength: 20 } },
              },
            },
          },
        },
        responses: { '200': ok('a policy'), '404': { description: 'none' } },
      },
    },
    '/profile': {
      get: {
        operationId: 'profile',
        parameters: [query('user_id', { type: 'integer' }, { example: 3 })],
        responses: { '200': ok('a profile'), '403': { description: 'not yours' } },
      },
    },
    '/view-member': {
      get: {
        operationId: 'viewMember',
        parameters: [query('id', { type: 'string', maxLength: 24 }, { example: 'Mg==' })],
        responses: { '200': ok('a member, by its id in base64'), '404': { description: 'none' } },
      },
    },
    '/notifications': {
      get: {
        operationId: 'notifications',
        parameters: [query('user_id', { type: 'integer' }, { required: false })],
        responses: { '200': ok('your notifications') },
      },
    },
    '/products': {
      get: {
        operationId: 'product',
        security: [],
        parameters: [query('product_id', { type: 'integer' })],
        responses: { '200': ok('a product'), '404': { description: 'none' } },
      },
    },
    '/branch/holders': {
      get: {
        operationId: 'branchHolders',
        parameters: [query('branch_id', { type: 'integer' }, { example: 9 })],
        responses: { '200': ok("the branch's policy holders"), '403': { description: 'staff' } },
      },
    },
    '/payees/lookup': {
      get: {
        operationId: 'findPayee',
        parameters: [query('username', { type: 'string', maxLength: 40 })],
        responses: { '200': ok('who to pay'), '404': { description: 'nobody' } },
      },
    },
    '/staff/payouts': {
      get: {
        operationId: 'payouts',
        responses: { '200': ok('payouts due'), '403': { description: 'staff' } },
      },
    },
  },
};

interface Person {
  id: number;
  login: string;
  password: string;
  email: string;
  phone: string;
  staff: boolean;
}
const PEOPLE: Person[] = [
  { id: 1, login: 'desk', password: 'Desk-pw-81', email: 'desk@claims.test', phone: '555-0100', staff: true },
  {
    id: 2,
    login: 'alice',
    password: 'Alice-pw-42',
    email: 'alice@mail.test',
    phone: '555-0142',
    staff: false,
  },
  { id: 3, login: 'bob', password: 'Bob-pw-17', email: 'bob@mail.test', phone: '555-0117', staff: false },
];
const CLAIMS = [
  {
    claim_id: 11,
    ref: 'RC-88412',
    holder: 2,
    title: 'burst pipe, kitchen',
    amount: 1840,
    iban: 'DE44 5001 0517 5407 3249 31',
  },
  {
    claim_id: 12,
    ref: 'RC-88431',
    holder: 2,
    title: 'cracked windscreen',
    amount: 390,
    iban: 'DE44 5001 0517 5407 3249 31',
  },
  {
    claim_id: 21,
    ref: 'RC-90077',
    holder: 3,
    title: 'stolen bicycle',
    amount: 720,
    iban: 'FR14 2004 1010 0505 0001 3M02 606',
  },
];
const POLICIES = [
  { policy_no: 'PX-7001', holder: 2, product: 'home', premium: 31.5, beneficiary: 'Carol Example' },
  { policy_no: 'PX-7002', holder: 3, product: 'bicycle', premium: 8.9, beneficiary: 'Dan Example' },
];
const PRODUCTS = [
  { product_id: 1, name: 'home', monthly_from: 19 },
  { product_id: 2, name: 'bicycle', monthly_from: 6 },
];

function startDesk(fixed: boolean) {
  const sessions = new Map<string, Person>();
  const policies = POLICIES.map((p) => ({ ...p }));
  /** Who asked POST /policies/view for which policy, in order. */
  const viewed: { policy_no: string; by: number }[] = [];
  let nextPolicy = 8001;
  // Seeded vouchers (nobody can make one); showing one marks it shown, whoever asks.
  const vouchers = [
    { voucher_code: 'VC-2231', holder: 2, value: 25, shown_to: [] as number[] },
    { voucher_code: 'VC-5517', holder: 3, value: 40, shown_to: [] as number[] },
  ];
  return startServer(async (req, res) => {
    const text = await readText(req);
    const url = new URL(req.url ?? '/', 'http://desk');
    const path = url.pathname;
    const send = (status: number, body: unknown) => sendJson(res, status, body);
    const result = (value: unknown) => send(200, { result: value });
    if (req.method === 'POST' && path === '/session') {
      const f = new URLSearchParams(text);
      const who = PEOPLE.find((p) => p.login === f.get('login') && p.password === f.get('password'));
      if (!who) return send(401, { errors: ['wrong login or password'] });
      const sid = randomBytes(12).toString('hex');
      sessions.set(sid, who);
      res.setHeader('set-cookie', `desk_sid=${sid}; HttpOnly; Path=/`);
      return result({ user_id: who.id, login: who.login });
    }
    if (req.method === 'GET' && path === '/products') {
      const p = PRODUCTS.find((x) => String(x.product_id) === url.searchParams.get('product_id'));
      return p ? result(p) : send(404, { errors: ['no such product'] });
    }
    const sid = /(?:^|;\s*)desk_sid=([0-9a-f]+)/.exec(String(req.headers.cookie ?? ''))?.[1];
    const me = sid === undefined ? undefined : sessions.get(sid);
    if (!me) return send(401, { errors: ['sign in first'] });
    const mine = (holder: number) => !fixed || holder === me.id;
    if (req.method === 'GET' && path === '/claims') return result(CLAIMS.filter((c) => c.holder === me.id));
    if (req.method === 'GET' && path === '/policies')
      return result(
        policies.filter((p) => p.holder === me.id).map(({ policy_no, product }) => ({ policy_no, product })),
      );
    if (req.method === 'GET' && path === '/claim') {
      const c = CLAIMS.find((x) => String(x.claim_id) === url.searchParams.get('claim_id'));
      return c && mine(c.holder) ? result(c) : send(404, { errors: ['no such claim'] });
    }
    if (req.method === 'GET' && path === '/receipt') {
      const c = CLAIMS.find((x) => x.ref === url.searchParams.get('ref'));
      if (!c || !mine(c.holder)) return send(404, { errors: ['no such receipt'] });
      return result({ ref: c.ref, paid: c.amount, to_iban: c.iban });
    }
    if (req.method === 'GET' && path === '/statement') {
      const who = PEOPLE.find((p) => p.login === url.searchParams.get('customer'));
      if (!who) return send(404, { errors: ['no such customer'] });
      if (!mine(who.id)) return send(403, { errors: ['not your statement'] });
      const held = policies.filter((p) => p.holder === who.id);
      return result({
        customer: who.login,
        policies: held.map((p) => p.policy_no),
        due: held.reduce((n, p) => n + p.premium, 0),
      });
    }
    if (req.method === 'POST' && path === '/policies/view') {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { errors: ['a JSON body is required'] });
      }
      const p = policies.find((x) => x.policy_no === body?.policy_no);
      if (p) viewed.push({ policy_no: p.policy_no, by: me.id });
      return p && mine(p.holder) ? result(p) : send(404, { errors: ['no such policy'] });
    }
    if (req.method === 'GET' && path === '/vouchers')
      return result(vouchers.filter((v) => v.holder === me.id).map(({ voucher_code }) => ({ voucher_code })));
    if (req.method === 'POST' && path === '/vouchers/show') {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { errors: ['a JSON body is required'] });
      }
      const v = vouchers.find((x) => x.voucher_code === body?.voucher_code);
      if (!v || !mine(v.holder)) return send(404, { errors: ['no such voucher'] });
      v.shown_to.push(me.id);
      return result({ voucher_code: v.voucher_code, value: v.value });
    }
    if (req.method === 'POST' && path === '/policies') {
      let body: Record<string, unknown> = {};
      try {
        body = JSON.parse(text);
      } catch {
        return send(400, { errors: ['a JSON body is required'] });
      }
      if (typeof body?.product !== 'string') return send(422, { errors: ['product is required'] });
      const p = {
        policy_no: `PX-${nextPolicy++}`,
        holder: me.id,
        product: body.product.slice(0, 30),
        premium: 12,
        beneficiary: 'Erin Example',
      };
      policies.push(p);
      // A creation answers the policy itself, unwrapped.
      res.writeHead(201, { 'content-type': 'application/json' });
      res.end(JSON.stringify(p));
      return;
    }
    const cert = /^\/policies\/([\w-]+)\/certificate$/.exec(path);
    if (req.method === 'GET' && cert) {
      const p = policies.find((x) => x.policy_no === cert[1]);
      return p && p.holder === me.id
        ? result({ policy_no: p.policy_no, insured: me.login })
        : send(404, { errors: ['no such policy'] });
    }
    if (req.method === 'GET' && path === '/profile') {
      const who = PEOPLE.find((p) => String(p.id) === url.searchParams.get('user_id'));
      if (!who) return send(404, { errors: ['no such user'] });
      if (!mine(who.id)) return send(403, { errors: ['not your profile'] });
      const { password: _, staff: __, ...shown } = who;
      return result(shown);
    }
    if (req.method === 'GET' && path === '/branch/holders') {
      // Every holder of the branch with their contact data: the staff's list (alice and bob are both branch 9's).
      if (url.searchParams.get('branch_id') !== '9') return send(404, { errors: ['no such branch'] });
      if (fixed && !me.staff) return send(403, { errors: ['staff only'] });
      return result(
        PEOPLE.filter((p) => !p.staff).map(({ login, email, phone }) => ({ login, email, phone })),
      );
    }
    if (req.method === 'GET' && path === '/payees/lookup') {
      // Finding whom to pay by user name is the feature: any member, on both twins.
      const who = PEOPLE.find((p) => p.login === url.searchParams.get('username'));
      return who
        ? result({ login: who.login, pays_to: `${who.login} (policy holder)` })
        : send(404, { errors: ['nobody'] });
    }
    if (req.method === 'GET' && path === '/view-member') {
      const raw = Buffer.from(url.searchParams.get('id') ?? '', 'base64').toString('utf8');
      const who = PEOPLE.find((p) => String(p.id) === raw);
      if (!who) return send(404, { errors: ['no such member'] });
      if (!mine(who.id)) return send(403, { errors: ['not you'] });
      return result({ login: who.login, email: who.email, phone: who.phone });
    }
    if (req.method === 'GET' && path === '/notifications')
      return result([{ to: me.login, text: `Hello ${me.login}, your documents are ready.` }]);
    if (req.method === 'GET' && path === '/staff/payouts') {
      if (fixed && !me.staff) return send(403, { errors: ['staff only'] });
      return result(CLAIMS.map((c) => ({ claim_id: c.claim_id, amount: c.amount, iban: c.iban })));
    }
    return send(404, { errors: ['no route'] });
  }).then((api) => Object.assign(api, { viewed, vouchers }));
}

const login = (who: Person) => ({
  name: who.login,
  ...(who.staff ? {} : { params: { branch_id: '9' } }),
  login: { path: '/session', body: { login: who.login, password: who.password }, encoding: 'form' as const },
});
const options = {
  identities: [login(PEOPLE[1]), login(PEOPLE[2])],
  admin: login(PEOPLE[0]),
  ratePerSecond: 200,
};

describe('API1 replays reads whose object is named by a query or body input; API5 leaves them to API1', () => {
  const scans = {} as Awaited<ReturnType<typeof scanTwins<Awaited<ReturnType<typeof startDesk>>>>>;
  before(async () => {
    Object.assign(scans, await scanTwins(SPEC, startDesk, options));
  });

  test('vulnerable: the claim, the statement, the policy (body input) and the profile are API1 reads', () => {
    const { result } = scans.vulnerable;
    const found = operationsFound(result);
    for (const op of ['claimDetail', 'receipt', 'statement', 'viewPolicy', 'profile', 'viewMember'])
      assert.ok(found.includes(`scan/api1-bola-read ${op}`), `${op}: ${found.join()}`);
    const claim = result.findings.find((f) => f.operation?.operationId === 'claimDetail');
    assert.match(
      claim?.message ?? '',
      /(alice|bob) read (alice|bob)'s object through GET \/claim naming it by its query input claim_id/,
    );
    const curl = String(claim?.evidence?.curl ?? '');
    assert.match(curl, /claim_id=(11|12|21)/);
    const policy = result.findings.find((f) => f.operation?.operationId === 'viewPolicy');
    // A POST read names only policies the scan bought (PX-8001 and up), never a seeded one.
    assert.match(policy?.message ?? '', /its body input policy_no \(policy_no=PX-80\d\d/);
  });

  test('vulnerable: one finding per flaw, in the right category', () => {
    const found = operationsFound(scans.vulnerable.result);
    // The profile is an object-level flaw: not a function of the admin's.
    assert.ok(!found.includes('scan/api5-bfla profile'), found.join());
    assert.ok(!found.includes('scan/api5-bfla viewMember'), found.join());
    // A function meant for the staff stays API5, and so does a list of everyone in the caller's own branch: the
    // caller's own branch_id gets the others' data too, so it is no question of which object.
    assert.ok(found.includes('scan/api5-bfla payouts'), found.join());
    assert.ok(found.includes('scan/api5-bfla branchHolders'), found.join());
    assert.ok(!found.includes('scan/api1-bola-read branchHolders'), found.join());
    // An input the API ignores (the caller's own notifications) and a public catalogue are nobody's object.
    for (const op of ['notifications', 'product', 'findPayee', 'myClaims', 'myPolicies'])
      assert.ok(
        !found.some((f) => f.endsWith(` ${op}`) && /api1|api5-bfla/.test(f)),
        `${op}: ${found.join()}`,
      );
  });

  test('no seeded policy was asked for by POST by anyone but its holder (a POST may change what it names)', () => {
    for (const { api } of [scans.vulnerable, scans.fixed]) {
      const foreign = api.viewed.filter(
        (v) => (v.policy_no === 'PX-7001' && v.by !== 2) || (v.policy_no === 'PX-7002' && v.by !== 3),
      );
      assert.deepEqual(foreign, []);
      // Seeded vouchers only, so no POST read of them is replayed: none shown to anyone but its holder.
      assert.deepEqual(
        api.vouchers.filter((v) => v.shown_to.some((by) => by !== v.holder)).map((v) => v.voucher_code),
        [],
      );
    }
  });

  test('fixed twin: no API1 and no API5 finding', () => {
    const found = operationsFound(scans.fixed.result);
    assert.deepEqual(
      found.filter((f) => /api1-|api5-bfla/.test(f)),
      [],
      found.join(),
    );
  });
});
