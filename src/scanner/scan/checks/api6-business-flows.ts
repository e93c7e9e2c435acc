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
import { evidenceOf, isSuccess } from '../context.ts';
import { changesAccount, changesOwnAccount } from '../discover.ts';
import {
  bodySchema,
  creationCollection,
  isAdminOperation,
  isBusinessFlow,
  isExcluded,
  isLoginOperation,
  itemParam,
  planRequest,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf } from '../schema.ts';
import { refusedIn200 } from './api5-function-authorization.ts';

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
  return action.some((w) => GAIN_VERB.test(w)) && !action.some((w) => READ.test(w) || UNDO.test(w));
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

export const api6: Check = {
  id: 'API6',
  title: 'Unrestricted access to sensitive business flows',
  rules: [SCAN_RULES.businessFlow],
  async run(ctx) {
    const user = ctx.identities[0];
    if (!user) return;
    for (const op of ctx.spec.operations) {
      if (!isFlowCandidate(ctx.spec, op)) continue;
      const judged = judgeFlow(ctx.spec, op);
      if (judged.kind === 'credential') {
        ctx.note?.({
          operation: op,
          rule: SCAN_RULES.businessFlow,
          reason: "not repeated: it renews the caller's own credential (a token or key), which gains nothing",
        });
        continue;
      }
      if (judged.gain === 'money or credit' && actionWords(op).some((w) => MOVES_OUT.test(w))) {
        ctx.note?.({
          operation: op,
          rule: SCAN_RULES.businessFlow,
          reason: `not repeated: it moves money out of ${user.name}'s account, a given identity's, which the scan could not set back`,
        });
        continue;
      }
      const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
      const answers: ScanResponse[] = [];
      for (let i = 0; i < REPEATS; i++) {
        const res = await ctx.send(req, user);
        if (!isSuccess(res) || refusedIn200(res)) break;
        answers.push(res);
      }
      const last = answers.at(-1);
      if (answers.length < REPEATS || !last) continue;
      const shown = answersGain(answers, judged.kind === 'no-gain');
      if (judged.gain === undefined && shown === undefined) continue;
      const what =
        judged.gain === undefined
          ? ''
          : judged.gain === MARKED
            ? ' (marked x-portcullis-business-flow)'
            : ` (it names ${judged.gain})`;
      ctx.report(SCAN_RULES.businessFlow, {
        operation: op,
        message: `The same ${op.method} ${op.path}${what} succeeded ${REPEATS} times in a row for ${user.name}${shown ? `: ${shown}` : ''}.`,
        evidence: evidenceOf(last, {
          statuses: answers.map((a) => a.status),
          ...(shown ? { gained: shown } : {}),
        }),
      });
    }
  },
};
