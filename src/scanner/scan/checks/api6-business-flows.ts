/**
 * API6 Unrestricted Access to Sensitive Business Flows: a business action sent five times in quick succession
 * by one identity, reported when all five succeed and the repetition gains something: money or credit, stock
 * or seats, votes, coupons and rewards, messages sent to others. What it gains is judged from the operation's
 * document (its path, id, summary and fields) and from its answers (a balance or count that moves with every
 * repetition, a new object each time).
 *
 * Not every repeatable POST is such a flow. An action that renews something of the caller's own (refreshes an
 * invite code, regenerates a key, re-sends a confirmation to itself), undoes or reads something (cancel,
 * unlike, validate, preview) gains nothing by its name: it is reported only when its answers show a value
 * growing. A renewal of one's own credential (a token, an API key, a password) is not sent at all: the
 * identity could lose its session. An operation that changes an account (a promotion, a role grant, an
 * e-mail change) is never repeated.
 */
import type { ApiDocument, Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, isSuccess, type ScanContext } from '../context.ts';
import { changesAccount, changesOwnAccount } from '../discover.ts';
import {
  bodySchema,
  creationCollection,
  documentedCodes,
  isAdminOperation,
  isBusinessFlow,
  isExcluded,
  isLoginOperation,
  itemParam,
  planRequest,
  purchases,
  withoutDocumentedCodes,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, sampleValue } from '../schema.ts';
import { selfIds } from '../self.ts';
import { findLoginTarget } from './api2-authentication.ts';
import { refusedIn200 } from './api5-function-authorization.ts';
import { creationSweep } from './injection.ts';
import { registerThrowaway, reuseThrowaway, signup, type Throwaway } from './throwaway.ts';

const REPEATS = 5;

/** Lower-case words of names and prose: `refreshInvite`, `refresh-invite`, `refresh_invite` → refresh, invite. */
export function wordsOf(text: string): string[] {
  const words = text
    .slice(0, 2000)
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((w) => w !== '');
  // Two-word verbs are one word: top-up, cash-out, check-out.
  const out: string[] = [];
  for (const w of words) {
    const prev = out.at(-1);
    if (prev !== undefined && /^(top|cash|check)$/.test(prev) && (w === 'up' || w === 'out'))
      out[out.length - 1] += w;
    else out.push(w);
  }
  return out;
}

/** What a repetition can gain, by the words that name it (each tested against one whole word). */
const GAINS: readonly (readonly [string, RegExp])[] = [
  [
    'money or credit',
    /^(pay|pays|payment|payments|payout|payouts|refund\w*|withdraw\w*|deposit\w*|topup|cashback|cashout|wallets?|balances?|credits?|funds?|tips?|donat\w*|transfer\w*)$/,
  ],
  [
    'a coupon or reward',
    /^(coupons?|vouchers?|promos?|promocodes?|discounts?|gifts?|giftcards?|rewards?|bonus\w*|referr\w*|redeem\w*|redemptions?|loyalty|points|cashback|claim\w*|spins?)$/,
  ],
  [
    'an order or stock',
    /^(orders?|checkouts?|purchas\w*|buy\w*|book|booking\w*|reserv\w*|tickets?|seats?|stock|inventory|bids?|auctions?)$/,
  ],
  ['a vote', /^(votes?|upvotes?|downvotes?|likes?|ratings?|rate|reviews?|polls?|stars?|applaud|kudos)$/],
];

/** Words of a message that reaches someone: it is a gain only when the request names a recipient. */
const MESSAGE =
  /^(invit\w*|messag\w*|notif\w*|sms|texts?|emails?|mails?|shares?|send\w*|broadcast\w*|remind\w*)$/;

/** Request fields that name who receives a message: another person, not the caller. */
const RECIPIENT =
  /^(to|recipients?|invitees?|emails?|e_?mail_?address(es)?|phones?|phone_?numbers?|mobiles?|friends?|contacts?|targets?|target_?user\w*|members?|user_?names?|user_?ids?|addresses)$/i;

/** Verbs that renew something of the caller's own: the old one goes, nothing accrues. */
const RENEWAL =
  /^(refresh\w*|regenerat\w*|regen|rotat\w*|renew\w*|reset\w*|reissu\w*|resend\w*|reroll\w*|recreat\w*|cycle|revok\w*)$/;

/** Verbs that undo: repeating them takes nothing more than the first time, unless each gives something back. */
const UNDO =
  /^(cancel\w*|delete|remove|unlike|unvote|unfollow|unsubscribe|leave|decline|reject|close|archive)$/;

/** Verbs that read or check: repeating them changes nothing. */
const READ =
  /^(validate|verify|check|preview|quote|estimate|calculate|status|view|lookup|search|simulate|select|query|list|find|fetch|get|read|export|report)$/;

/** Verbs of an action that takes something of value: a POST named so is repeated even if the planner missed it. */
const GAIN_VERB =
  /^(claim\w*|redeem\w*|topup|deposit\w*|withdraw\w*|pay|payout|refund\w*|transfer\w*|donat\w*|tip|buy|purchas\w*|reserv\w*|bid|vote|upvote|downvote|like|rate|spin|checkout|cashout|collect|earn)$/;

/**
 * Verbs of an action that moves money out of the caller's account to another (`/transfer.php`, `/wallet/withdraw`,
 * `/donate`): repeated as a given identity, it would drain that identity's real account into someone else's,
 * and nothing here can set it back. An owner moving their own money again is the API's function, no flaw by itself.
 */
const MOVES_OUT =
  /^(transfer\w*|withdraw\w*|payout|cashout|donat\w*|tip|tips|remit\w*|wire|send|sendmoney|payto)$/;

/**
 * A money flow that moves money out of the caller's account: its action is such a verb (`/transfer`, `/withdraw`),
 * or it takes a sum and names where it goes (`POST /payments {to_iban, amount}`, `/pay {recipient, amount}`).
 */
export function movesMoneyOut(spec: ApiDocument, op: Operation): boolean {
  if (actionWords(op).some((w) => MOVES_OUT.test(w))) return true;
  const inputs = flowInputs(spec, op);
  return inputs?.to.some((f) => wordsOf(f).some((w) => TO_WORD.test(w))) === true;
}

/**
 * A POST without path parameters (not a login, an admin function or an account change) that the document
 * names money and that takes a sum and where it goes (`POST /payments {from_iban, to_iban, amount}`).
 */
export function sendsMoneyTo(spec: ApiDocument, op: Operation): boolean {
  if (op.method !== 'POST' || isExcluded(op) || op.extensions['x-portcullis-business-flow'] === false)
    return false;
  // No path parameter, or one that names the account the money leaves (`/accounts/{no}/pay`), not the last.
  const params = (op.path.match(/\{/g) ?? []).length;
  if (params > 1 || (params === 1 && /\}\/?$/.test(op.path))) return false;
  if (isAdminOperation(op) || isLoginOperation(spec, op)) return false;
  if (changesAccount(spec, op) || changesOwnAccount(spec, op)) return false;
  const inputs = flowInputs(spec, op);
  const to = inputs?.to.filter((f) => wordsOf(f).some((w) => TO_WORD.test(w))) ?? [];
  if (to.length === 0) return false;
  // Named money, or a sum sent to an account (`POST /api/transactions {to_account_id, amount}`).
  return (
    judgeFlow(spec, op).gain === 'money or credit' ||
    to.some((f) => wordsOf(f).some((w) => /^(account|wallet|iban|card)$/.test(w)))
  );
}

/** What a renewal must leave alone: the identity's own credentials. */
const CREDENTIAL =
  /^(tokens?|sessions?|keys?|apikeys?|secrets?|passwords?|passwd|pwd|credentials?|otp|pin|jwt)$/;

/** Answer members that count something the caller holds or made: a balance, points, votes, seats. */
const COUNTER =
  /^(balance|credits?|points|score|karma|xp|coins?|funds|amount|total\w*|count|\w+_count|[a-z]+Count|quantity|qty|stock|available|inventory|sold|votes|likes|stars|seats?|tickets|rewards?|bonus|uses|used|redeemed\w*|sent|invites?_sent|orders)$/;

/** Members whose values change by themselves: times, versions, expiries (`expires_in`, `updatedAt`). */
const CLOCKLIKE =
  /(^|_)(at|time|timestamp|ts|date|exp|expires?(_in)?|expiry|iat|nbf|version|rev|revision|seq|nonce|ttl|elapsed|uptime)$/i;
const CAMEL_CLOCK = /[a-z](At|Time|Date|Version)$/;

/** The literal segments after the path's last parameter (the action), else the whole path's. */
function actionWords(op: Operation): string[] {
  const segments = op.path.split('/').filter((s) => s !== '');
  const last = segments.findLastIndex((s) => s.includes('{'));
  const tail = segments.slice(last + 1).join(' ');
  return wordsOf(tail === '' ? op.path.replace(/\{[^}]*\}/g, ' ') : tail);
}

/** Names of the request's inputs: body fields and query parameters. */
function inputNames(spec: ApiDocument, op: Operation): string[] {
  return [
    ...Object.keys(propertiesOf(spec, bodySchema(op))),
    ...op.parameters.filter((p) => p.in === 'query').map((p) => p.name),
  ];
}

/** Names of the members of its 2xx answers, as documented. */
function answerNames(spec: ApiDocument, op: Operation): string[] {
  const out: string[] = [];
  for (const [status, response] of Object.entries(op.responses)) {
    if (!/^2/.test(status)) continue;
    for (const media of Object.values(response.content ?? {})) {
      out.push(...Object.keys(propertiesOf(spec, media.schema)));
    }
  }
  return out;
}

/** A re-send of an invitation: it goes to someone else, and sent again it reaches them again. */
function resendsInvitation(op: Operation): boolean {
  const action = [...actionWords(op), ...(op.hasDeclaredId ? wordsOf(op.id) : [])];
  const words = [...wordsOf(op.path.replace(/\{[^}]*\}/g, ' ')), ...action];
  return action.some((w) => /^resen[dt]/.test(w)) && words.some((w) => /^invit/.test(w));
}

/** The gain of an operation marked `x-portcullis-business-flow: true`: the document's word for it. */
const MARKED = 'marked';

/** How an operation reads as a business flow, from its document alone. */
export interface FlowJudgement {
  /** What repeating it gains, when its document says so (`a coupon or reward`). */
  readonly gain?: string;
  /**
   * `renewal`: it renews something of the caller's own; `credential` when that is a credential (never sent);
   * `read`: it reads or checks; `no-gain`: it undoes, or its document names no gain. All but `flow` are
   * reported only on answers that show a counter moving (`no-gain` also on a new object each time).
   */
  readonly kind: 'flow' | 'renewal' | 'credential' | 'read' | 'no-gain';
}

export function judgeFlow(spec: ApiDocument, op: Operation): FlowJudgement {
  if (op.extensions['x-portcullis-business-flow'] === true) return { kind: 'flow', gain: MARKED };
  const action = [...actionWords(op), ...(op.hasDeclaredId ? wordsOf(op.id) : [])];
  const inputs = inputNames(spec, op);
  const recipient = inputs.some((n) => RECIPIENT.test(n));
  const pathWords = wordsOf(op.path.replace(/\{[^}]*\}/g, ' '));
  if (resendsInvitation(op)) return { kind: 'flow', gain: 'messages sent to others' };
  if (action.some((w) => RENEWAL.test(w)) && !recipient) {
    return { kind: action.some((w) => CREDENTIAL.test(w)) ? 'credential' : 'renewal' };
  }
  if (action.some((w) => READ.test(w))) return { kind: 'read' };
  if (action.some((w) => UNDO.test(w))) return { kind: 'no-gain' };
  const named = [...pathWords, ...action, ...wordsOf(op.summary ?? '')];
  const fields = [...inputs, ...answerNames(spec, op)].flatMap(wordsOf);
  // Its names first (a gift card that credits a balance is a coupon), then its fields.
  for (const said of [named, fields]) {
    for (const [gain, words] of GAINS) if (said.some((w) => words.test(w))) return { kind: 'flow', gain };
  }
  if (recipient && named.some((w) => MESSAGE.test(w)))
    return { kind: 'flow', gain: 'messages sent to others' };
  return { kind: 'no-gain' };
}

/**
 * The operations API6 repeats: the business actions the planner names (`isBusinessFlow`), and POST actions
 * whose own segment or id is a verb that takes something of value (`POST /wallet/top-up`, `/daily/claim`) or
 * re-sends an invitation, and that create no member of a collection. Never a login, an admin function or an account change.
 */
export function isFlowCandidate(spec: ApiDocument, op: Operation): boolean {
  if (isExcluded(op) || op.extensions['x-portcullis-business-flow'] === false) return false;
  if (changesAccount(spec, op) || changesOwnAccount(spec, op) || isLoginOperation(spec, op)) return false;
  if (isBusinessFlow(spec, op)) return true;
  if (op.method !== 'POST' || isAdminOperation(op) || /\{[^}]+\}\/?$/.test(op.path)) return false;
  if (itemParam(spec, op.path) !== undefined || creationCollection(spec, op) !== undefined) return false;
  const action = [...actionWords(op), ...(op.hasDeclaredId ? wordsOf(op.id) : [])];
  if (resendsInvitation(op)) return true;
  if (action.some((w) => READ.test(w) || UNDO.test(w))) return false;
  if (action.some((w) => GAIN_VERB.test(w))) return true;
  // A verb that moves money out (`/wallet/send`, `/funds/remit`) of something named money.
  return action.some((w) => MOVES_OUT.test(w)) && judgeFlow(spec, op).gain === 'money or credit';
}

/** Numbers of an answer by their JSON pointer, a few levels down, arrays by their length. */
function numbersOf(value: unknown, pointer: string, out: Map<string, number>, depth = 0): void {
  if (depth > 3 || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value as Record<string, unknown>).slice(0, 100)) {
    const p = `${pointer}/${key}`;
    if (typeof v === 'number' && Number.isFinite(v)) out.set(p, v);
    else if (Array.isArray(v)) out.set(`${p}#length`, v.length);
    else numbersOf(v, p, out, depth + 1);
  }
}

/**
 * What the answers show the repetition gained: a counter (balance, points, seats) that moved the same way with
 * every answer; with `loose`, also a list that grew or a new object each time (a distinct `id`). Undefined when
 * none.
 */
export function answersGain(answers: readonly ScanResponse[], loose = true): string | undefined {
  const series = answers.map((a) => {
    const out = new Map<string, number>();
    numbersOf(a.json, '', out);
    return out;
  });
  for (const [p] of series[0] ?? []) {
    const name =
      p
        .replace(/#length$/, '')
        .split('/')
        .pop() ?? '';
    if (
      name.length > 64 ||
      CLOCKLIKE.test(name) ||
      CAMEL_CLOCK.test(name) ||
      !(p.endsWith('#length') ? loose : COUNTER.test(name))
    )
      continue;
    const values = series.map((s) => s.get(p));
    if (values.some((v) => v === undefined)) continue;
    const steps = (values as number[]).slice(1).map((v, i) => v - (values[i] as number));
    if (steps.every((d) => d > 0) || steps.every((d) => d < 0)) {
      return `${p.slice(1).replace(/#length$/, ' (items)')} went ${values.join(', ')}`;
    }
  }
  if (!loose) return undefined;
  const ids = answers.map((a) => {
    const body = a.json;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
    const id = (body as Record<string, unknown>).id;
    return typeof id === 'string' || typeof id === 'number' ? String(id) : undefined;
  });
  if (ids.every((id) => id !== undefined) && new Set(ids).size === ids.length) {
    return `each answer named a new object (id ${ids.join(', ')})`;
  }
  return undefined;
}

/** A read of what an action may count, as the planner fills it. */
interface CounterRead {
  readonly path: string;
  readonly operation: Operation;
}

/** Words of a read of the caller's own tallies: its profile, account, wallet, points, stats. */
const OWN_TALLY =
  /^(me|my|self|profile|account|wallet|balance|balances|points|rewards?|stats|statistics|score|credits?|dashboard|summary)$/;

/**
 * The reads that may show what an action counts (at most 4): the object the action acts on (`POST
 * /posts/{id}/upvote` → `GET /posts/{id}`, the same id), and GETs of the caller's own records without path
 * parameters or required query inputs whose path or documented answer names a tally (`/me`, `/wallet`, `{points}`).
 */
function counterReads(ctx: ScanContext, op: Operation, path: string): CounterRead[] {
  const out: CounterRead[] = [];
  const segments = op.path.split('/');
  const at = segments.findLastIndex((seg) => seg.includes('{'));
  const filled = path.split('?')[0].split('/');
  if (at > 0 && at < segments.length - 1 && filled.length === segments.length) {
    const template = segments.slice(0, at + 1).join('/');
    const read = ctx.spec.operations.find(
      (o) => o.method === 'GET' && o.path.replace(/\/$/, '') === template && !isExcluded(o),
    );
    if (read) out.push({ path: filled.slice(0, at + 1).join('/'), operation: read });
  }
  for (const o of ctx.spec.operations) {
    if (out.length >= 4) break;
    if (o.method !== 'GET' || o.path.includes('{') || isExcluded(o) || isAdminOperation(o)) continue;
    if (isLoginOperation(ctx.spec, o) || o.parameters.some((p) => p.required && p.in === 'query')) continue;
    const tally =
      wordsOf(o.path).some((w) => OWN_TALLY.test(w)) || answerNames(ctx.spec, o).some((n) => COUNTER.test(n));
    if (tally) out.push({ path: o.path, operation: o });
  }
  return out;
}

/** GETs without path parameters or required query inputs (not a login, an admin function or excluded), at most 3. */
function plainReads(ctx: ScanContext): CounterRead[] {
  return ctx.spec.operations
    .filter(
      (o) =>
        o.method === 'GET' &&
        !o.path.includes('{') &&
        !isExcluded(o) &&
        !isAdminOperation(o) &&
        !isLoginOperation(ctx.spec, o) &&
        !o.parameters.some((p) => p.required && p.in === 'query'),
    )
    .slice(0, 3)
    .map((o) => ({ path: o.path, operation: o }));
}

/** The counters the reads show (numbers under counter names, list lengths), by `GET path pointer`. */
async function countersOf(
  ctx: ScanContext,
  reads: readonly CounterRead[],
  user: ScanContext['identities'][number],
): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const r of reads) {
    const res = await ctx.send({ method: 'GET', path: r.path, operation: r.operation }, user);
    if (!isSuccess(res) || refusedIn200(res)) continue;
    const numbers = new Map<string, number>();
    numbersOf(res.json, '', numbers);
    for (const [p, n] of numbers) {
      const name =
        p
          .replace(/#length$/, '')
          .split('/')
          .pop() ?? '';
      if (CLOCKLIKE.test(name) || CAMEL_CLOCK.test(name) || !(p.endsWith('#length') || COUNTER.test(name)))
        continue;
      out.set(`GET ${r.path} ${p.slice(1).replace(/#length$/, ' (items)')}`, n);
    }
  }
  return out;
}

/**
 * What the reads show the repetition gained: a counter that stood still between the two reads before the action,
 * moved with the first action, and moved again the same way over the repetitions after it (an API that takes one
 * vote per caller moves it once). Undefined when none.
 */
export function readGain(
  before: ReadonlyMap<string, number>,
  control: ReadonlyMap<string, number>,
  afterOne: ReadonlyMap<string, number>,
  afterAll: ReadonlyMap<string, number>,
  times = REPEATS,
): string | undefined {
  for (const [key, b] of before) {
    const a = afterOne.get(key);
    const z = afterAll.get(key);
    if (control.get(key) !== b || a === undefined || z === undefined) continue;
    const first = a - b;
    const rest = z - a;
    if (first !== 0 && rest !== 0 && Math.sign(first) === Math.sign(rest))
      return `${key} went ${b}, ${a} after one, ${z} after ${times}`;
  }
  return undefined;
}

export const api6: Check = {
  id: 'API6',
  title: 'Unrestricted access to sensitive business flows',
  rules: [SCAN_RULES.businessFlow],
  async run(ctx) {
    const user = ctx.identities[0];
    if (!user) return;
    const outflows: Operation[] = [];
    const inflows: Operation[] = [];
    const codes = documentedCodes(ctx.spec.doc);
    const coupons: { op: Operation; fields: string[] }[] = [];
    /** The scan's own account that repeats purchases (null: none could be had). */
    let buyer: Throwaway | null | undefined;
    // What the repetitions make (a coupon, an invitation each time: review R1-12) is deleted by its maker where the
    // document can, else named as left in place.
    const sweep = creationSweep(ctx, 'the API6 repetitions');
    try {
      for (const op of ctx.spec.operations) {
        // What the last operation's repetitions made goes before the next one's (deleted, or named as left).
        await sweep.flush();
        if (!isFlowCandidate(ctx.spec, op)) continue;
        const judged = judgeFlow(ctx.spec, op);
        if (judged.kind === 'credential') {
          ctx.note?.({
            operation: op,
            rule: SCAN_RULES.businessFlow,
            reason:
              "not repeated: it renews the caller's own credential (a token or key), which gains nothing",
          });
          continue;
        }
        if (judged.gain === 'money or credit' && movesMoneyOut(ctx.spec, op)) {
          // Never as a given identity: between two accounts of the scan's own, after the other flows.
          outflows.push(op);
          continue;
        }
        if (judged.gain === 'money or credit') {
          // Money into the caller's account (a deposit, a top-up, a refund): as an account of the scan's own.
          inflows.push(op);
          continue;
        }
        let req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
        // A purchase (a checkout, a paid order, an accepted quote) is never made as a given identity, a second one not
        // even with --allow-destructive (the runner's guard): it is repeated as an account of the scan's own, reused or
        // registered (`pcb…`), or noted as not tested, saying why.
        let actor = user;
        let as = user.name;
        if (purchases(ctx.spec, op, req)) {
          buyer ??=
            (await reuseThrowaway(ctx, findLoginTarget(ctx))) ??
            (await registerThrowaway(ctx, findLoginTarget(ctx), 'pcb')) ??
            null;
          if (buyer === null) {
            ctx.note?.({
              operation: op,
              rule: SCAN_RULES.businessFlow,
              reason: `not tested: repeating it buys, which the scan never does as a given identity (a second purchase not even with --allow-destructive), and ${signup(ctx) ? "the sign-up gave no account of the scan's own that signs in" : "the document has no sign-up for an account of the scan's own"} to buy as`,
            });
            continue;
          }
          actor = buyer.identity;
          as = `${buyer.name} (an account the scan registered)`;
          req = planRequest(ctx.spec, op, ctx.objects, { owner: buyer.identity.name });
        }
        // The document's coupon or voucher code is never redeemed as a given identity (the runner leaves it out):
        // such a flow is redeemed by an account of the scan's own, twice (ownCoupons).
        const code = withoutDocumentedCodes(req.body, codes).dropped;
        if (code.length > 0) {
          if (coupons.length < 3) coupons.push({ op, fields: code });
          else
            ctx.note?.({
              operation: op,
              rule: SCAN_RULES.businessFlow,
              reason: 'not run: three coupon redemptions were tried already',
            });
          continue;
        }
        // Reads that may count what the action does (its own object, the caller's own records), read twice before
        // it: a number that moves between those two moves by itself and proves nothing.
        const reads = counterReads(ctx, op, req.path);
        const before = await countersOf(ctx, reads, actor);
        const control = before.size > 0 ? await countersOf(ctx, reads, actor) : before;
        let afterOne: Map<string, number> | undefined;
        const answers: ScanResponse[] = [];
        let refused: ScanResponse | undefined;
        // Messages to others (invitations) go out twice, not five times: their name alone proves no flow.
        const times = judged.gain === 'messages sent to others' ? 2 : REPEATS;
        const made = sweep.seen(op, actor, '');
        for (let i = 0; i < times; i++) {
          const res = await ctx.send(req, actor);
          made(req, res, undefined);
          if (!isSuccess(res) || refusedIn200(res)) {
            refused = res;
            break;
          }
          answers.push(res);
          if (i === 0 && before.size > 0) afterOne = await countersOf(ctx, reads, actor);
        }
        const last = answers.at(-1);
        if (answers.length < times || !last) {
          if (actor !== user)
            ctx.note?.({
              operation: op,
              rule: SCAN_RULES.businessFlow,
              reason: `repeated as ${as}: ${answers.length === 0 ? 'its first purchase' : `purchase ${answers.length + 1}`} answered ${refused?.status ?? 'nothing'}${refused && isSuccess(refused) ? ' refusing it' : ''} (a new account may have nothing to pay with)`,
            });
          continue;
        }
        // The gain must show: a counter in the answers, or in the reads (moved by the first action and again by the
        // four after it: an API that counts one per caller moves it once). A name in the path proves no flow.
        const shown =
          answersGain(answers, judged.kind === 'no-gain') ??
          (afterOne
            ? readGain(before, control, afterOne, await countersOf(ctx, reads, actor), times)
            : undefined);
        if (shown === undefined) {
          if (judged.gain !== undefined)
            ctx.note?.({
              operation: op,
              rule: SCAN_RULES.businessFlow,
              reason: `${times} repetitions succeeded, but no count moved with them in its answers${reads.length > 0 ? ` or in ${reads.map((r) => `GET ${r.path}`).join(', ')}` : ''}: its name (${judged.gain}) alone proves no flow`,
            });
          continue;
        }
        const what =
          judged.gain === undefined
            ? ''
            : judged.gain === MARKED
              ? ' (marked x-portcullis-business-flow)'
              : ` (it names ${judged.gain})`;
        ctx.report(SCAN_RULES.businessFlow, {
          operation: op,
          message: `The same ${op.method} ${op.path}${what} succeeded ${times} times in a row for ${as}${shown ? `: ${shown}` : ''}.`,
          evidence: evidenceOf(last, {
            statuses: answers.map((a) => a.status),
            ...(shown ? { gained: shown } : {}),
          }),
        });
      }
    } finally {
      await sweep.flush(undefined, true);
      sweep.report();
    }
    // Payments and transfers made as a collection's creation (`POST /payments {to_iban, amount}`): the same
    // probes between the scan's own accounts.
    const created = ctx.spec.operations.filter(
      (op) => !isFlowCandidate(ctx.spec, op) && sendsMoneyTo(ctx.spec, op),
    );
    // Sending money five times is what an owner may do: no finding by itself (a fixed API that checks amounts
    // and balances allows it too), unless the document marks the flow (`x-portcullis-business-flow: true`).
    const marked = new Set(
      [...outflows, ...created].filter((op) => op.extensions['x-portcullis-business-flow'] !== true),
    );
    await ownMoneyFlows(ctx, [...outflows, ...created], marked, inflows);
    if (coupons.length > 0 && !ctx.signal.aborted) await ownCoupons(ctx, coupons);
  },
};

/**
 * Redemptions of the document's own coupon, voucher or promo code (`POST /promotions/redeem {promo_code: "BAKE5"}`):
 * never in a given identity's name (the code may be a real one, single use per customer), so as an account of the
 * scan's own (reused, else registered `pcc…`), twice. Reads of what it counts (the caller's own tallies, as for any
 * flow) before (twice: the control), after the first and after the second, or the counters of the two answers: one
 * that moved with the first and again the same way with the second (a balance credited twice, a total discounted
 * twice) is `scan/api6-repeatable-business-flow`. A second redemption refused, or nothing moving, is no finding.
 * Without a sign-up (or the admin making accounts) it is noted as not run, saying why.
 */
async function ownCoupons(
  ctx: ScanContext,
  coupons: readonly { op: Operation; fields: readonly string[] }[],
): Promise<void> {
  const t = findLoginTarget(ctx);
  const x = (await reuseThrowaway(ctx, t)) ?? (await registerThrowaway(ctx, t, 'pcc'));
  for (const { op, fields } of coupons) {
    const note = (reason: string) => ctx.note?.({ operation: op, rule: SCAN_RULES.businessFlow, reason });
    const what = `its request carries the document's ${fields.join(', ')}, never redeemed in a given identity's name`;
    if (!x) {
      note(
        `not run: ${what}, and the scan could not make an account of its own to redeem it as (${signup(ctx) ? 'its sign-up or login did not work' : 'no sign-up in the document'})`,
      );
      continue;
    }
    if (ctx.signal.aborted) return;
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: x.name });
    if (req.invented.some((name) => op.parameters.some((p) => p.in === 'path' && p.name === name))) {
      note(`not run: ${what}, and its path names an object the scan's own account ${x.name} does not have`);
      continue;
    }
    // Its own account's records read as it harm no one: without a read named for a tally, any plain GET (at most 3).
    const named = counterReads(ctx, op, req.path);
    const reads = named.length > 0 ? named : plainReads(ctx);
    const before = await countersOf(ctx, reads, x.identity);
    const control = before.size > 0 ? await countersOf(ctx, reads, x.identity) : before;
    const first = await ctx.send(req, x.identity);
    if (!isSuccess(first) || refusedIn200(first)) {
      note(
        `tested as the scan's own account ${x.name}: its first redemption of the document's code was refused (${first ? `status ${first.status}` : 'no answer'}), so the code may not be a live one`,
      );
      continue;
    }
    const afterOne = before.size > 0 ? await countersOf(ctx, reads, x.identity) : before;
    const second = await ctx.send(req, x.identity);
    if (!isSuccess(second) || refusedIn200(second)) continue; // once per account: as it should be
    const shown =
      answersGain([first, second], false) ??
      (before.size > 0
        ? readGain(before, control, afterOne, await countersOf(ctx, reads, x.identity), 2)
        : undefined);
    if (shown === undefined) {
      note(
        `redeemed twice by the scan's own account ${x.name}, but no count moved with it in its answers${reads.length > 0 ? ` or in ${reads.map((r) => `GET ${r.path}`).join(', ')}` : ''}`,
      );
      continue;
    }
    ctx.report(SCAN_RULES.businessFlow, {
      operation: op,
      message: `The same ${op.method} ${op.path} (it names ${judgeFlow(ctx.spec, op).gain ?? 'a coupon or reward'}) redeemed the document's ${fields.join(', ')} twice for the scan's own account ${x.name}: ${shown}.`,
      evidence: evidenceOf(second, { statuses: [first.status, second.status], gained: shown }),
    });
  }
}

/** Request inputs that carry the sum a money flow moves (`amount`, `coins`, `value`). */
const AMOUNT_NAME = /^(amount|amt|sum|value|coins?|credits?|points|funds|money|cash|quantity|qty|total)$/;
/** Words of an input that names where the money goes (`to_account`, `recipient_wallet`, `payee`). */
const TO_WORD =
  /^(to|recipient|receiver|receiving|destination|dest|target|payee|beneficiary|counterparty|creditor)$/;
/** Words of an input that names where the money comes from (`from_account`, `source_wallet`). */
const FROM_WORD = /^(from|source|src|sender|payer|origin|debtor)$/;
/** Words of an input that names an account, when no input says to or from (`{account_number, amount}`). */
const ACCOUNTISH =
  /^(account|accounts|wallet|iban|card|user|username|email|login|handle|member|customer|number)$/;
/** Answer members that hold what an account has (`balance`, `available_balance`, `coins`, `credits`). */
const BALANCE_NAME =
  /^(balance|(available|current|account|wallet|total|cash|credit|ledger|card)_balance|balance_(amount|value|cents)|funds|available_funds|credits?|coins?|points|money|cash|available)$/;
/**
 * Members whose lists hold accounts (summed), where the other lists hold history (`transactions: [{amount,
 * balance_after}]`: never summed, it grows with every move).
 */
const ACCOUNT_LIST = /^(accounts?|wallets?|cards?|balances?|data|items|results|pockets?|purses?)$/;
/** Answer members that name an account the money can be sent to (`iban`, `wallet_no`, `account_number`). */
const HANDLE_NAME =
  /^(iban|account|wallet|card|(account|wallet|card)_?(no|num|number|id|iban|address)|wallet_?address)$/;

/** A member name as lower-case snake words: `walletNo` → `wallet_no`. */
function snake(name: string): string {
  return wordsOf(name).join('_');
}

/** The money an account holds, as its read shows it: the sum of its balance members (a few levels down). */
export function balanceIn(view: unknown, depth = 0): number | undefined {
  if (depth > 3 || view === null || typeof view !== 'object') return undefined;
  const items = Array.isArray(view) ? view.slice(0, 20) : [view];
  let sum: number | undefined;
  for (const item of items) {
    if (item === null || typeof item !== 'object') continue;
    for (const [k, v] of Object.entries(item as Record<string, unknown>).slice(0, 100)) {
      const n =
        typeof v === 'number' && Number.isFinite(v)
          ? v
          : typeof v === 'string' && /^-?\d{1,15}(\.\d{1,6})?$/.test(v)
            ? Number(v)
            : undefined;
      const inner =
        n === undefined && (!Array.isArray(v) || ACCOUNT_LIST.test(snake(k)))
          ? balanceIn(v, depth + 1)
          : undefined;
      const add = n !== undefined && BALANCE_NAME.test(snake(k)) ? n : inner;
      if (add !== undefined) sum = (sum ?? 0) + add;
    }
  }
  return sum;
}

/**
 * The values an account's read shows under account-naming members (`wallet_no`, `iban`, `account_id`), at most 6.
 * Never a bare `id`, `no` or `number` (in a read of one's own record that may be the user's id, and the same
 * number among accounts another person's account), except with `records` (a read whose path names accounts or
 * wallets, `GET /api/accounts`): there the bare id of a record that holds a balance is that account's, last.
 */
export function handlesIn(view: unknown, records = false): string[] {
  const out: string[] = [];
  const late: string[] = [];
  const walk = (value: unknown, depth: number) => {
    if (depth > 3 || value === null || typeof value !== 'object' || out.length >= 6) return;
    const items = Array.isArray(value) ? value.slice(0, 5) : [value];
    for (const item of items) {
      if (item === null || typeof item !== 'object' || Array.isArray(item)) continue;
      const entries = Object.entries(item as Record<string, unknown>).slice(0, 100);
      const holdsBalance = entries.some(
        ([k, v]) => BALANCE_NAME.test(snake(k)) && balanceIn({ [k]: v }) !== undefined,
      );
      for (const [k, v] of entries) {
        if (
          (typeof v === 'string' && v !== '' && v.length <= 80) ||
          (typeof v === 'number' && Number.isInteger(v))
        ) {
          const name = snake(k);
          if (HANDLE_NAME.test(name) && !out.includes(String(v)) && out.length < 6) out.push(String(v));
          else if (records && holdsBalance && /^(id|no|number)$/.test(name) && late.length < 3)
            late.push(String(v));
        } else walk(v, depth + 1);
      }
    }
  };
  walk(view, 0);
  return [...new Set([...out, ...late])];
}

/** How the scan reads its own accounts' money: a GET both accounts are answered with their own balance. */
interface Book {
  readonly op: Operation;
  readonly read: (v: Throwaway) => Promise<number | undefined>;
  /** Each account's values that name it (its wallet, IBAN, account number), none the other shares. */
  readonly handles: Map<Throwaway, string[]>;
}

/**
 * The read that shows an account's balance: a GET without path parameters or required query inputs (not a
 * login, an admin function or an excluded one) answered to both accounts with balance members; at most 6 tried,
 * those whose words name money first. Else a GET of one account by its path (`/accounts/{account_no}`,
 * `/balance/{iban}`), its path words naming money, filled with each account's own value (what its login answer
 * or the reads before showed under account names), at most 4.
 */
async function balanceBook(ctx: ScanContext, x: Throwaway, y: Throwaway): Promise<Book | undefined> {
  const given = new Set<string>();
  for (const who of [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])])
    for (const id of selfIds(who)) given.add(id);
  // A value both show (a bank code, a currency's id) names neither; nor does a given identity's own id.
  const own = (h: readonly string[], other: readonly string[]) =>
    h.filter((v) => !other.includes(v) && !given.has(v));
  // What each account's sign-up and sign-in answered under account names (`account_no`, `iban`).
  const told = (v: Throwaway) => [
    ...new Set([...handlesIn(v.identity.login?.answer), ...handlesIn(v.registration)]),
  ];
  const seen = new Map<Throwaway, string[]>([
    [x, told(x)],
    [y, told(y)],
  ]);
  const usable = (op: Operation) =>
    op.method === 'GET' &&
    !isExcluded(op) &&
    !isAdminOperation(op) &&
    !isLoginOperation(ctx.spec, op) &&
    !op.parameters.some((p) => p.required && p.in === 'query');
  const byMoney = (a: Operation, b: Operation) => Number(moneyWorded(b)) - Number(moneyWorded(a));
  const plain = ctx.spec.operations.filter((op) => usable(op) && !op.path.includes('{')).sort(byMoney);
  const one = ctx.spec.operations.filter(
    (op) =>
      usable(op) &&
      moneyWorded(op) &&
      op.parameters.filter((p) => p.in === 'path').length === 1 &&
      (op.path.match(/\{/g) ?? []).length === 1,
  );
  const tries: { op: Operation; param?: string }[] = [
    ...plain.slice(0, 6).map((op) => ({ op })),
    ...one.slice(0, 4).map((op) => ({ op, param: op.parameters.find((p) => p.in === 'path')?.name })),
  ];
  for (const { op, param } of tries) {
    const mine = (v: Throwaway) => {
      const other = v === x ? y : x;
      return own(seen.get(v) ?? [], seen.get(other) ?? [])[0];
    };
    const reqFor = (v: Throwaway) => {
      if (param === undefined) return planRequest(ctx.spec, op, ctx.objects, { owner: x.name });
      const value = mine(v);
      return value === undefined
        ? undefined
        : planRequest(ctx.spec, op, ctx.objects, { params: { [param]: value } });
    };
    const view = async (v: Throwaway) => {
      const req = reqFor(v);
      const res = req ? await ctx.send(req, v.identity) : undefined;
      return isSuccess(res) && !refusedIn200(res) ? res.json : undefined;
    };
    if (param !== undefined && (mine(x) === undefined || mine(y) === undefined)) continue;
    const vx = await view(x);
    const vy = await view(y);
    // What each read shows under account names may fill a later read's path.
    const records = wordsOf(op.path).some((w) => /^(accounts?|wallets?)$/.test(w));
    for (const [v, view] of [
      [x, vx],
      [y, vy],
    ] as const)
      seen.set(v, [...new Set([...(seen.get(v) ?? []), ...handlesIn(view, records)])].slice(0, 8));
    if (balanceIn(vx) === undefined || balanceIn(vy) === undefined) continue;
    const hx = seen.get(x) ?? [];
    const hy = seen.get(y) ?? [];
    return {
      op,
      read: async (v) => balanceIn(await view(v)),
      handles: new Map([
        [x, own(hx, hy)],
        [y, own(hy, hx)],
      ]),
    };
  }
  return undefined;
}

function moneyWorded(op: Operation): boolean {
  return wordsOf(`${op.path} ${op.hasDeclaredId ? op.id : ''}`).some((w) =>
    /^(balances?|wallets?|accounts?|funds|credits?|coins?|points|money|bank\w*)$/.test(w),
  );
}

/**
 * The values that name account `v` at an input of that name, most likely first (at most 3): only values that
 * are its own beyond doubt (its e-mail and name, both random; ids read back as its own, `checkIds`; the values
 * its own balance read shows under account names), never an id it was merely told (a user id that may be another
 * person's account number).
 */
function valuesFor(field: string, v: Throwaway, handles: readonly string[]): string[] {
  const words = wordsOf(field);
  const has = (re: RegExp) => words.some((w) => re.test(w));
  const personal = has(/^(user|username|login|handle|name|member|customer|nick|nickname|person)$/);
  let out: string[];
  if (has(/^e?mails?$/)) out = [v.email];
  else if (personal && has(/^(id|uid|ids|no|number)$/)) out = [...v.checked];
  else if (personal) out = [v.loginName, v.name];
  else out = [...handles, v.loginName];
  return [...new Set(out)].slice(0, 3);
}

/** An input that names an account or a person (`account_id`, `user`, `iban`, `owner`). */
function namesSomeone(name: string): boolean {
  return wordsOf(name).some(
    (w) =>
      ACCOUNTISH.test(w) ||
      /^(id|ids|uid|owner|holder|payee|payer|recipient|beneficiary|phone|mobile)$/.test(w),
  );
}

/** A money flow's inputs: where the sum goes, where it goes to, where it comes from. */
interface FlowInputs {
  readonly amount: string;
  readonly to: readonly string[];
  readonly from: readonly string[];
  readonly location: 'body' | 'query';
}

export function flowInputs(spec: ApiDocument, op: Operation): FlowInputs | undefined {
  const inBody = bodySchema(op) !== undefined;
  const names = inBody
    ? Object.keys(propertiesOf(spec, bodySchema(op)))
    : op.parameters.filter((p) => p.in === 'query').map((p) => p.name);
  const amount =
    names.find((n) => wordsOf(n).some((w) => w === 'amount' || w === 'amt')) ??
    names.find((n) => AMOUNT_NAME.test(snake(n)));
  if (amount === undefined) return undefined;
  const rest = names.filter((n) => n !== amount);
  const to = rest.filter((n) => wordsOf(n).some((w) => TO_WORD.test(w)));
  const from = rest.filter((n) => !to.includes(n) && wordsOf(n).some((w) => FROM_WORD.test(w)));
  const fallback =
    to.length === 0 && from.length === 0
      ? rest.filter((n) => wordsOf(n).some((w) => ACCOUNTISH.test(w))).slice(0, 1)
      : [];
  return { amount, to: [...to, ...fallback], from, location: inBody ? 'body' : 'query' };
}

const OWN_MONEY_KEYS = {
  negative: 'own-money-negative',
  over: 'own-money-over-balance',
  self: 'own-money-self',
};

/**
 * Money flows that move money out of the caller's account (`POST /transfer`, `/wallet/send`, `/withdraw`) are
 * never run as a given identity. They run between two accounts of the scan's own (registered by it, or made by
 * the admin where only an admin makes accounts: throwaway.ts), judged by reading both balances back: one unit
 * sent five times (each must take money from the sender: a limit stops it), a negative sum (the sender's
 * balance grows), a sum 1000 over the sender's balance (its balance ends below zero), one unit to itself (its
 * balance grows). Each send names only the scan's accounts: their values are registered as the scan's own
 * objects for the runner's guard while these probes run, and taken back after.
 */
async function ownMoneyFlows(
  ctx: ScanContext,
  ops: readonly Operation[],
  /** Flows whose repetition alone is no finding. */
  creations: ReadonlySet<Operation>,
  inflows: readonly Operation[] = [],
): Promise<void> {
  if (ops.length + inflows.length === 0) return;
  const skip = (op: Operation, why: string) =>
    ctx.note?.({
      operation: op,
      rule: SCAN_RULES.businessFlow,
      reason: `not run as a given identity: it ${inflows.includes(op) ? "changes the caller's money" : "moves money out of the caller's account"}, which the scan could not set back; ${why}`,
    });
  const t = findLoginTarget(ctx);
  const x = (await reuseThrowaway(ctx, t)) ?? (await registerThrowaway(ctx, t, 'pcg'));
  const y = x ? await registerThrowaway(ctx, t, 'pcg') : undefined;
  if (!x || !y) {
    for (const op of ops) skip(op, 'the scan could not make two accounts of its own to run it between');
    // Money in needs no second account: repeated as X, judged by its answers.
    for (const op of inflows.slice(0, 4)) {
      if (!x) skip(op, 'the scan could not make an account of its own to run it as');
      else if (!ctx.signal.aborted) await repeatMoneyIn(ctx, op, x, undefined, skip);
    }
    return;
  }
  const book = await balanceBook(ctx, x, y);
  if (!book) {
    for (const op of ops) skip(op, "no read showed the balance of the scan's own accounts");
    // Money in needs no second account: repeated as X, judged by its answers.
    for (const op of inflows.slice(0, 4))
      if (!ctx.signal.aborted) await repeatMoneyIn(ctx, op, x, undefined, skip);
    return;
  }
  const base = book.op.path.replace(/\/+$/, '');
  const claimed: string[] = [];
  const claim = (path: string, id: string, v: Throwaway) => {
    if (ctx.objects.isScanCreated(path)) return;
    const collection = path.slice(0, path.lastIndexOf('/')) || '/';
    ctx.objects.add({ collection, path, id, owner: v.name, body: null, createdBy: book.op });
    claimed.push(path);
  };
  for (const [v, handles] of book.handles)
    for (const h of handles) claim(`${base}/${encodeURIComponent(h)}`, h, v);
  try {
    for (const op of ops.slice(0, 3)) {
      if (ctx.signal.aborted) break;
      await probeMoneyFlow(ctx, op, book, x, y, skip, !creations.has(op), claim);
    }
    for (const op of inflows.slice(0, 4)) {
      if (ctx.signal.aborted) break;
      await repeatMoneyIn(ctx, op, x, book, skip, claim);
    }
  } finally {
    // No later check may take these accounts' values for objects of the scan's own (nor offer them).
    for (const path of claimed) ctx.objects.markDeleted(path);
  }
}

async function probeMoneyFlow(
  ctx: ScanContext,
  op: Operation,
  book: Book,
  x: Throwaway,
  y: Throwaway,
  skip: (op: Operation, why: string) => void,
  repeat: boolean,
  claim: (path: string, id: string, v: Throwaway) => void,
): Promise<void> {
  // A path that names the account the money leaves (`/accounts/{account_no}/transfer`): X's own value there.
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  if (pathParams.length > 1 || (op.path.match(/\{/g) ?? []).length !== pathParams.length)
    return skip(op, 'its path names more than one thing');
  const pathParam = pathParams[0]?.name;
  const pathValue =
    pathParam === undefined ? undefined : valuesFor(pathParam, x, book.handles.get(x) ?? [])[0];
  if (pathParam !== undefined && pathValue === undefined)
    return skip(op, "its path names an account, and no value was read back as the scan's account's own");
  if (pathParam !== undefined && pathValue !== undefined) {
    const segments = op.path.split('/');
    const at = segments.findIndex((seg) => seg.includes(`{${pathParam}}`));
    const object = segments
      .slice(0, at + 1)
      .join('/')
      .replace(`{${pathParam}}`, encodeURIComponent(pathValue));
    claim(object, pathValue, x);
  }
  const fixed = pathParam !== undefined && pathValue !== undefined ? { [pathParam]: pathValue } : {};
  const inputs = flowInputs(ctx.spec, op);
  if (!inputs) return skip(op, 'no input takes the sum');
  const others = op.parameters.filter(
    (p) =>
      p.in === 'query' &&
      (p.required || p.raw.example !== undefined) &&
      ![inputs.amount, ...inputs.to, ...inputs.from].includes(p.name),
  );
  if (others.some((p) => namesSomeone(p.name)))
    return skip(op, 'another of its query inputs names an account, which the scan would have to guess');
  const schema = bodySchema(op);
  const props = propertiesOf(ctx.spec, schema);
  const amountIsText = inputs.location === 'body' && props[inputs.amount]?.type === 'string';
  const forms = Math.max(1, ...inputs.to.map((f) => valuesFor(f, y, book.handles.get(y) ?? []).length));
  const request = (amount: number, to: Throwaway, form: number) => {
    const values: Record<string, unknown> = { [inputs.amount]: amountIsText ? String(amount) : amount };
    // Where it goes and comes from: the accounts' own values, else nothing (never a sampled or documented
    // value: an example may be a real person's account).
    const typed = (f: string, v: string | undefined) =>
      v === undefined ? undefined : props[f]?.type === 'integer' && /^\d+$/.test(v) ? Number(v) : v;
    for (const f of inputs.to) {
      const vs = valuesFor(f, to, book.handles.get(to) ?? []);
      values[f] = typed(f, vs[Math.min(form, vs.length - 1)]);
    }
    // The sender's value of the same kind as the recipient's (both accounts' values come in the same order).
    for (const f of inputs.from) {
      const vs = valuesFor(f, x, book.handles.get(x) ?? []);
      values[f] = typed(f, vs[Math.min(form, vs.length - 1)]);
    }
    if (inputs.location === 'query') {
      const params = Object.fromEntries(
        Object.entries(values)
          .filter(([, v]) => v !== undefined)
          .map(([k, v]) => [k, String(v)]),
      );
      return planRequest(ctx.spec, op, ctx.objects, { params: { ...params, ...fixed } });
    }
    const sample = sampleValue(ctx.spec, schema);
    const body: Record<string, unknown> =
      sample !== null && typeof sample === 'object' && !Array.isArray(sample)
        ? { ...(sample as Record<string, unknown>) }
        : {};
    // Any other input that names an account or a person (`account_id`, `user`) is left out.
    for (const k of Object.keys(body)) if (namesSomeone(k)) delete body[k];
    for (const [k, v] of Object.entries(values)) {
      if (v === undefined) delete body[k];
      else body[k] = v;
    }
    return planRequest(ctx.spec, op, ctx.objects, { body, params: fixed });
  };
  /** Sends as X and reads X's balance before and after (and the recipient's, with `both`). */
  const attempt = async (amount: number, to: Throwaway, form: number, both = false) => {
    const before = await book.read(x);
    const toBefore = both ? await book.read(to) : undefined;
    const res = await ctx.send(request(amount, to, form), x.identity);
    const ok = isSuccess(res) && !refusedIn200(res);
    const after = ok ? await book.read(x) : before;
    const toAfter = both && ok ? await book.read(to) : toBefore;
    return { res, ok, before, after, toBefore, toAfter };
  };
  const where = `${op.method} ${op.path}`;
  const accounts = `${x.name} and ${y.name}, accounts of the scan's own`;
  // One unit, five times: the first that takes money from X and gives it to Y tells which values the API takes.
  let chosen: number | undefined;
  const balances: number[] = [];
  let last: ScanResponse | undefined;
  for (let form = 0; form < Math.min(forms, 3) && chosen === undefined; form++) {
    const a = await attempt(1, y, form, true);
    // Where the money goes is named (`to_iban`): it must reach Y. A withdrawal names no one.
    const toY =
      inputs.to.length === 0 ||
      (a.toBefore !== undefined && a.toAfter !== undefined && a.toAfter > a.toBefore);
    if (a.ok && a.before !== undefined && a.after !== undefined && a.after < a.before && toY) {
      chosen = form;
      balances.push(a.before, a.after);
      last = a.res;
    }
  }
  if (chosen !== undefined && repeat) {
    for (let i = 1; i < REPEATS; i++) {
      const a = await attempt(1, y, chosen);
      if (!a.ok || a.after === undefined || a.after >= (balances.at(-1) ?? a.after)) break;
      balances.push(a.after);
      last = a.res;
    }
    if (repeat && balances.length === REPEATS + 1 && last) {
      ctx.report(SCAN_RULES.businessFlow, {
        operation: op,
        message: `The same ${where} (it names money or credit) succeeded ${REPEATS} times in a row between ${accounts}: the sender's balance went ${balances.join(', ')}.`,
        evidence: evidenceOf(last, {
          gained: `balance went ${balances.join(', ')}`,
          accounts: [x.name, y.name],
        }),
      });
    }
  }
  const tries = chosen !== undefined ? [chosen] : [...Array(Math.min(forms, 3)).keys()];
  // A negative sum: the sender's balance grows, the recipient pays.
  for (const form of tries) {
    const a = await attempt(-7, y, form, true);
    if (!a.ok || a.before === undefined || a.after === undefined || !a.res) continue;
    if (a.after > a.before) {
      const paid =
        a.toBefore !== undefined && a.toAfter !== undefined && a.toAfter < a.toBefore
          ? `the recipient paid (${a.toBefore} → ${a.toAfter})`
          : 'out of nothing';
      ctx.report(SCAN_RULES.businessFlow, {
        operation: op,
        key: OWN_MONEY_KEYS.negative,
        severity: 'high',
        message: `${where} took a negative amount (${inputs.amount} = -7) from ${x.name} to ${y.name}, accounts of the scan's own: the sender's balance went ${a.before} → ${a.after}, ${paid}.`,
        evidence: evidenceOf(a.res, { balances: [a.before, a.after], accounts: [x.name, y.name] }),
      });
      chosen ??= form;
    }
    break;
  }
  // More than the sender holds: its balance ends below zero.
  for (const form of chosen !== undefined ? [chosen] : tries) {
    const now = await book.read(x);
    if (now === undefined) break;
    const sum = Math.max(0, Math.ceil(now)) + 1000;
    const a = await attempt(sum, y, form);
    if (!a.ok || a.before === undefined || a.after === undefined || !a.res) continue;
    if (a.after < a.before && a.after < 0) {
      ctx.report(SCAN_RULES.businessFlow, {
        operation: op,
        key: OWN_MONEY_KEYS.over,
        severity: 'high',
        message: `${where} moved ${sum}, more than the sender's balance of ${a.before}, from ${x.name} to ${y.name}, accounts of the scan's own: the balance went to ${a.after}.`,
        evidence: evidenceOf(a.res, { balances: [a.before, a.after], accounts: [x.name, y.name] }),
      });
    }
    break;
  }
  // To itself: its balance grows.
  if (inputs.to.length > 0) {
    for (const form of chosen !== undefined ? [chosen] : tries) {
      const a = await attempt(1, x, form);
      if (!a.ok || a.before === undefined || a.after === undefined || !a.res) continue;
      if (a.after > a.before) {
        ctx.report(SCAN_RULES.businessFlow, {
          operation: op,
          key: OWN_MONEY_KEYS.self,
          severity: 'high',
          message: `${where} let ${x.name}, an account of the scan's own, send 1 to itself, and its balance went ${a.before} → ${a.after}: money out of nothing.`,
          evidence: evidenceOf(a.res, { balances: [a.before, a.after], accounts: [x.name] }),
        });
      }
      break;
    }
  }
}

/**
 * A flow that brings money into the caller's account (`POST /wallet/top-up {amount}`, `/deposit`, `/refund`),
 * repeated five times as X, an account of the scan's own (never a given identity: its money would change): a
 * finding when all five succeed, as for any flow that names a gain, with X's balance before and after when a read
 * shows it. With a sum input and that read, one more with a negative sum: X's balance falling is a finding too.
 * Inputs that name an account or a person get X's own values (its balance read's, its name, e-mail) or are left
 * out; a path that names an account gets X's own value, else the flow is not run.
 */
async function repeatMoneyIn(
  ctx: ScanContext,
  op: Operation,
  x: Throwaway,
  book: Book | undefined,
  skip: (op: Operation, why: string) => void,
  claim?: (path: string, id: string, v: Throwaway) => void,
): Promise<void> {
  const handles = book?.handles.get(x) ?? [];
  const pathParams = op.parameters.filter((p) => p.in === 'path');
  if (pathParams.length > 1 || (op.path.match(/\{/g) ?? []).length !== pathParams.length)
    return skip(op, 'its path names more than one thing');
  const params: Record<string, string> = {};
  const pathParam = pathParams[0]?.name;
  if (pathParam !== undefined) {
    const value = valuesFor(pathParam, x, handles)[0];
    if (value === undefined || !claim)
      return skip(op, "its path names an account, and no value was read back as the scan's account's own");
    const segments = op.path.split('/');
    const at = segments.findIndex((seg) => seg.includes(`{${pathParam}}`));
    claim(
      segments
        .slice(0, at + 1)
        .join('/')
        .replace(`{${pathParam}}`, encodeURIComponent(value)),
      value,
      x,
    );
    params[pathParam] = value;
  }
  for (const p of op.parameters) {
    if (p.in !== 'query' || !namesSomeone(p.name)) continue;
    const value = valuesFor(p.name, x, handles)[0];
    if (value === undefined && (p.required || p.raw.example !== undefined))
      return skip(
        op,
        `its query input ${p.name} names someone, and the scan has no value of its own account for it`,
      );
    if (value !== undefined) params[p.name] = value;
  }
  const inputs = flowInputs(ctx.spec, op);
  const schema = bodySchema(op);
  const props = propertiesOf(ctx.spec, schema);
  const request = (amount?: number) => {
    const planned = planRequest(ctx.spec, op, ctx.objects, { owner: x.name, params });
    const body = planned.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) return planned;
    const out: Record<string, unknown> = { ...(body as Record<string, unknown>) };
    for (const k of Object.keys(out)) {
      if (inputs && k === inputs.amount) continue;
      if (!namesSomeone(k)) continue;
      const value = valuesFor(k, x, handles)[0];
      if (value === undefined) delete out[k];
      else out[k] = props[k]?.type === 'integer' && /^\d+$/.test(value) ? Number(value) : value;
    }
    if (amount !== undefined && inputs)
      out[inputs.amount] = props[inputs.amount]?.type === 'string' ? String(amount) : amount;
    return planRequest(ctx.spec, op, ctx.objects, { owner: x.name, params, body: out });
  };
  const before = book ? await book.read(x) : undefined;
  const answers: ScanResponse[] = [];
  const req = request();
  for (let i = 0; i < REPEATS; i++) {
    const res = await ctx.send(req, x.identity);
    if (!isSuccess(res) || refusedIn200(res)) break;
    answers.push(res);
  }
  const last = answers.at(-1);
  const after = book && last ? await book.read(x) : undefined;
  const where = `${op.method} ${op.path}`;
  // Which way the flow moves X's balance when it works: up (a top-up), down (a bill paid), or unknown.
  const way = before === undefined || after === undefined || after === before ? 0 : after > before ? 1 : -1;
  // Paying out again and again is what an owner may do: only money in (or an unknown way) repeated is a finding.
  if (answers.length === REPEATS && last && way >= 0) {
    const shown =
      answersGain(answers, false) ?? (way > 0 ? `its balance went ${before} → ${after}` : undefined);
    ctx.report(SCAN_RULES.businessFlow, {
      operation: op,
      message: `The same ${where} (it names money or credit) succeeded ${REPEATS} times in a row for ${x.name}, an account of the scan's own${shown ? `: ${shown}` : ''}.`,
      evidence: evidenceOf(last, {
        statuses: answers.map((a) => a.status),
        ...(shown ? { gained: shown } : {}),
      }),
    });
  }
  // A negative sum: X's balance moves the other way (a top-up that takes money out, a bill paid that pays X).
  if (!book || !inputs || answers.length === 0) return;
  const now = await book.read(x);
  const res = await ctx.send(request(-7), x.identity);
  if (!isSuccess(res) || refusedIn200(res) || now === undefined) return;
  const then = await book.read(x);
  if (then !== undefined && (way < 0 ? then > now : then < now)) {
    ctx.report(SCAN_RULES.businessFlow, {
      operation: op,
      key: OWN_MONEY_KEYS.negative,
      severity: 'high',
      message: `${where} took a negative amount (${inputs.amount} = -7) for ${x.name}, an account of the scan's own: its balance went ${now} → ${then}${way < 0 ? ', paid to it instead of by it' : ''}.`,
      evidence: evidenceOf(res, { balances: [now, then], accounts: [x.name] }),
    });
  }
}

/**
 * Does a request of this operation change someone's money? A write (not GET, HEAD or OPTIONS) that API6 takes for
 * a money flow: it moves money out (`POST /transfer {to_account, amount}`, `/wallet/send`, `/withdraw`), sends a
 * sum to an account (`POST /api/transactions {to_account_id, amount}`), or takes a sum and names money (`POST
 * /api/bill-payments/create {biller_id, amount}`, `/wallet/top-up {amount}`). For the runner and the other
 * checks: such a request sent as a given identity spends or changes that identity's real money, which nothing
 * sets back; API6 runs these only as accounts of the scan's own.
 */
export function changesMoney(spec: ApiDocument, op: Operation): boolean {
  return changesMoneyReason(spec, op) !== undefined;
}

/** Why changesMoney holds, in words for the report (`it takes a sum (amount) for invoices`), or undefined. */
export function changesMoneyReason(spec: ApiDocument, op: Operation): string | undefined {
  if (op.method === 'GET' || op.method === 'HEAD' || op.method === 'OPTIONS' || isExcluded(op))
    return undefined;
  if (op.extensions['x-portcullis-business-flow'] === false) return undefined;
  const inputs = flowInputs(spec, op);
  if (sendsMoneyTo(spec, op))
    return `it sends a sum (${inputs?.amount ?? 'amount'}) to an account (${inputs?.to.join(', ') ?? 'to'})`;
  // A sum to pay, lend or charge (`POST /api/bills/create {biller_id, amount}`, `/loans {amount}`).
  const charged = wordsOf(op.path).find((w) =>
    /^(bills?|invoices?|transactions?|charges?|loans?|fees?)$/.test(w),
  );
  if (inputs !== undefined && charged !== undefined)
    return `it takes a sum (${inputs.amount}) for ${charged}`;
  if (judgeFlow(spec, op).gain !== 'money or credit') return undefined;
  if (inputs !== undefined) return `it takes a sum (${inputs.amount}) and its words name money or credit`;
  if (movesMoneyOut(spec, op)) return 'its words say it moves money out of the account';
  return isFlowCandidate(spec, op) ? 'its words name a flow of money or credit' : undefined;
}
