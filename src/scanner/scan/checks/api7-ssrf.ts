/**
 * API7 Server Side Request Forgery: every URL input (a `format: uri` field or a name like `url`, `callback`,
 * `webhook`, in the query, a JSON body or a form, in every method but DELETE) is pointed at the scanner's
 * loopback canary, spelled several ways (`127.0.0.1`, `localhost`, the decimal `2130706433`) to get past naive
 * block lists. It is sent as the first identity the operation does not refuse (A, B, the admin: A's object may
 * be gone by now). A request reaching the canary proves the fetch. An input that may be stored on the sender's
 * own account (an avatar or profile link: url-inputs.ts accountWrite) goes only as an account the scan registered
 * (throwaway.ts), never as a given identity: the canary's address would stay on that identity's record.
 */
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, type ScanContext } from '../context.ts';
import { ownProfileWritePath } from '../discover.ts';
import { jsonBodySchema, planRequest } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { sampleValue } from '../schema.ts';
import { accountParam } from '../self.ts';
import { findLoginTarget } from './api2-authentication.ts';
import {
  checkIds,
  claimAccountPath,
  registerThrowaway,
  reuseThrowaway,
  type Throwaway,
} from './throwaway.ts';
import { type UrlInput, urlInputs } from './url-inputs.ts';

const HOSTS = ['127.0.0.1', 'localhost', '2130706433'];
const WAIT_MS = 1500;

const REFUSED = new Set([401, 403, 404]);

function setMember(body: Record<string, unknown>, name: string, value: unknown): Record<string, unknown> {
  const dot = name.indexOf('.');
  if (dot < 0) return { ...body, [name]: value };
  const head = name.slice(0, dot);
  const inner = (body[head] ?? {}) as Record<string, unknown>;
  return { ...body, [head]: { ...inner, [name.slice(dot + 1)]: value } };
}

/** Where a URL probe goes from: who sends it, and the path values that name its account. */
interface Sender {
  readonly as: Identity;
  /** Whose objects fill the path (the identity's name unless another is given). */
  readonly owner?: string;
  readonly params?: Readonly<Record<string, string>>;
  /** An own-profile write (`PATCH /profile`) by the scan's own account: the runner lets it through. */
  readonly ownProfile?: boolean;
}

/** Sends one request with a URL input set to `url`, as `as` (identity A by default). */
export async function sendWithUrl(ctx: ScanContext, input: UrlInput, url: string, as?: Identity | Sender) {
  const from: Sender = as === undefined ? { as: ctx.identities[0] } : 'as' in as ? as : { as };
  const user = from.as;
  const owner = from.owner ?? user.name;
  const options = from.ownProfile ? { ownProfile: true } : undefined;
  if (input.in === 'query') {
    return ctx.send(
      planRequest(ctx.spec, input.operation, ctx.objects, {
        owner,
        params: { ...from.params, [input.name]: url },
      }),
      user,
      options,
    );
  }
  if (input.in === 'form') {
    const schema = Object.entries(input.operation.requestBody?.content ?? {}).find(([t]) =>
      /form/i.test(t),
    )?.[1].schema;
    const base = (sampleValue(ctx.spec, schema) ?? {}) as Record<string, string>;
    // Sent in the operation's own encoding (form-encoded or multipart, files included).
    const req = planRequest(ctx.spec, input.operation, ctx.objects, {
      owner,
      ...(from.params ? { params: from.params } : {}),
      body: { ...base, [input.name]: url },
    });
    return ctx.send(req, user, options);
  }
  const base = (sampleValue(ctx.spec, jsonBodySchema(input.operation)) ?? {}) as Record<string, unknown>;
  return ctx.send(
    planRequest(ctx.spec, input.operation, ctx.objects, {
      owner,
      ...(from.params ? { params: from.params } : {}),
      body: setMember(base, input.name, url),
    }),
    user,
    options,
  );
}

/** The scan's own account of each check (a check's context), registered or reused once. */
const ownAccounts = new WeakMap<ScanContext, Promise<Throwaway | undefined>>();

function ownAccount(ctx: ScanContext): Promise<Throwaway | undefined> {
  let account = ownAccounts.get(ctx);
  if (account === undefined) {
    account = (async () => {
      const login = findLoginTarget(ctx);
      const t = (await reuseThrowaway(ctx, login)) ?? (await registerThrowaway(ctx, login, 'pcs'));
      // Its ids read back as its own, once, when a URL input sits under a path naming a user by id.
      if (
        t &&
        urlInputs(ctx.spec, { ownRecords: true }).some((i) => {
          const param = i.ownAccount ? accountParam(i.operation.path) : undefined;
          return param !== undefined && !/name|login|mail/i.test(param);
        })
      )
        await checkIds(ctx, t);
      return t;
    })();
    ownAccounts.set(ctx, account);
  }
  return account;
}

/** The value that names the scan's account in a path parameter: its e-mail, its name, else an id read back as its. */
function accountValue(t: Throwaway, param: string): string | undefined {
  if (/mail/i.test(param)) return t.email;
  if (/name|login/i.test(param)) return t.name;
  return [...t.checked][0];
}

/**
 * The scan's own account as the sender of a URL input that may be stored on the sender's account (`ownAccount`):
 * a given identity's avatar or profile link would keep the canary's address, with nothing to set it back. Its
 * own account named in the path when the path names a user (`/users/{id}/avatar`). Undefined, and noted, when the
 * scan has no account of its own (no sign-up it can use) or cannot name it in the path.
 */
async function ownSender(ctx: ScanContext, input: UrlInput): Promise<Sender | undefined> {
  const t = await ownAccount(ctx);
  const op = input.operation;
  const param = accountParam(op.path);
  const value = t && param !== undefined ? accountValue(t, param) : undefined;
  if (!t || (param !== undefined && value === undefined)) {
    ctx.note?.({
      operation: op,
      reason: `${input.name} not probed: a URL there may be stored on the sender's own account, and the scan has ${t ? 'no id read back as its own account to name it by' : 'no account of its own (a sign-up and login it can use)'}; it is never sent as a given identity`,
    });
    return undefined;
  }
  if (param !== undefined && value !== undefined) {
    const params = { [param]: value };
    const req = planRequest(ctx.spec, op, ctx.objects, { params });
    claimAccountPath(ctx, op, req, t, param, value);
    return { as: t.identity, owner: t.name, params };
  }
  return { as: t.identity, owner: t.name, ownProfile: ownProfileWritePath(op.path) };
}

/**
 * The first identity the operation does not refuse (401, 403, 404) with a canary URL, and its answer. An input
 * that may be stored on the sender's own account goes as the scan's own account only (`as` undefined when there is
 * none).
 */
export async function reachWithUrl(
  ctx: ScanContext,
  input: UrlInput,
  url: (as: Identity) => string,
): Promise<{ as: Identity | Sender | undefined; res: ScanResponse | undefined }> {
  if (input.ownAccount) {
    const from = await ownSender(ctx, input);
    if (!from) return { as: undefined, res: undefined };
    return { as: from, res: await sendWithUrl(ctx, input, url(from.as), from) };
  }
  const who = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  let last: { as: Identity | Sender | undefined; res: ScanResponse | undefined } = {
    as: who[0],
    res: undefined,
  };
  for (const as of who) {
    const res = await sendWithUrl(ctx, input, url(as), as);
    last = { as, res };
    if (res && !REFUSED.has(res.status)) break;
  }
  return last;
}

export const api7: Check = {
  id: 'API7',
  title: 'Server side request forgery',
  rules: [SCAN_RULES.ssrf],
  async run(ctx) {
    if (!ctx.identities[0]) return;
    const inputs = urlInputs(ctx.spec, { ownRecords: true });
    if (inputs.length === 0)
      ctx.note?.({
        rule: SCAN_RULES.ssrf,
        reason: 'no URL input (format uri, or a name like url, callback, webhook) in the document',
      });
    // All inputs at once: the waits for the canary overlap (the client still bounds the rate).
    await Promise.all(
      inputs.map(async (input) => {
        const tries: { host: string; url: string; token: string; res?: ScanResponse }[] = [];
        const first = await reachWithUrl(ctx, input, () => {
          const t = { host: HOSTS[0], ...ctx.canary.url(HOSTS[0]) };
          tries.push(t);
          return t.url;
        });
        const sender = first.as;
        if (sender === undefined) return;
        const as = 'as' in sender ? sender.as : sender;
        tries[tries.length - 1].res = first.res;
        const others = HOSTS.slice(1).map((host) => ({ host, ...ctx.canary.url(host) }));
        const responses = await Promise.all(others.map((t) => sendWithUrl(ctx, input, t.url, sender)));
        for (const [i, t] of others.entries()) tries.push({ ...t, res: responses[i] });
        const hits = await Promise.all(
          tries.map((t, i) => ctx.canary.waitFor(t.token, i < tries.length - 2 ? 200 : WAIT_MS)),
        );
        const reached = tries.filter((_, i) => hits[i] !== undefined);
        if (reached.length === 0) return;
        const res = reached[0].res;
        ctx.report(SCAN_RULES.ssrf, {
          operation: input.operation,
          key: input.name,
          message: `${input.operation.method} ${input.operation.path} fetched the canary through ${input.in} field ${input.name} (${[...new Set(reached.map((r) => r.host))].join(', ')}) as ${as.name}.`,
          evidence: {
            ...(res ? evidenceOf(res) : {}),
            field: input.name,
            reachedVia: [...new Set(reached.map((r) => r.host))],
            as: as.name,
          },
        });
      }),
    );
  },
};
