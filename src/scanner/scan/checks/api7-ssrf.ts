/**
 * API7 Server Side Request Forgery: every URL input (a `format: uri` field or a name like `url`, `callback`,
 * `webhook`, in the query, a JSON body or a form, in every method but DELETE) is pointed at the scanner's
 * loopback canary, spelled several ways (`127.0.0.1`, `localhost`, the decimal `2130706433`) to get past naive
 * block lists. It is sent as the first identity the operation does not refuse (A, B, the admin: A's object may
 * be gone by now). A request reaching the canary proves the fetch. An input that may be stored on the sender's
 * own account (an avatar or profile link: url-inputs.ts accountWrite) goes only as an account the scan registered
 * (throwaway.ts), never as a given identity: the canary's address would stay on that identity's record.
 */
import type { Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import type { ScanRequest, ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { ownProfileWritePath, ownRecordPath } from '../discover.ts';
import {
  captureId,
  isCreationOperation,
  isExcluded,
  jsonBodySchema,
  type PlannedRequest,
  planRequest,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, sampleValue } from '../schema.ts';
import { accountParam } from '../self.ts';
import { findLoginTarget } from './api2-authentication.ts';
import { creationSweep } from './injection.ts';
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

/** Told of each request a URL probe sent, with its answer (a creation's objects are deleted after: `sentBy`). */
export type UrlSent = (as: Identity, req: PlannedRequest, res: ScanResponse | undefined) => void;

/** Sends one request with a URL input set to `url`, as `as` (identity A by default); `sent` hears of it. */
export async function sendWithUrl(
  ctx: ScanContext,
  input: UrlInput,
  url: string,
  as?: Identity | Sender,
  sent?: UrlSent,
) {
  const from: Sender = as === undefined ? { as: ctx.identities[0] } : 'as' in as ? as : { as };
  const user = from.as;
  const req = planWithUrl(ctx, input, url, from);
  const res = await ctx.send(req, user, from.ownProfile ? { ownProfile: true } : undefined);
  sent?.(user, req, res);
  return res;
}

/** The request of `sendWithUrl`. */
function planWithUrl(ctx: ScanContext, input: UrlInput, url: string, from: Sender): PlannedRequest {
  const owner = from.owner ?? from.as.name;
  if (input.in === 'query') {
    return planRequest(ctx.spec, input.operation, ctx.objects, {
      owner,
      params: { ...from.params, [input.name]: url },
    });
  }
  if (input.in === 'form') {
    const schema = Object.entries(input.operation.requestBody?.content ?? {}).find(([t]) =>
      /form/i.test(t),
    )?.[1].schema;
    const base = (sampleValue(ctx.spec, schema) ?? {}) as Record<string, string>;
    // Sent in the operation's own encoding (form-encoded or multipart, files included).
    return planRequest(ctx.spec, input.operation, ctx.objects, {
      owner,
      ...(from.params ? { params: from.params } : {}),
      body: { ...base, [input.name]: url },
    });
  }
  const base = (sampleValue(ctx.spec, jsonBodySchema(input.operation)) ?? {}) as Record<string, unknown>;
  return planRequest(ctx.spec, input.operation, ctx.objects, {
    owner,
    ...(from.params ? { params: from.params } : {}),
    body: setMember(base, input.name, url),
  });
}

/**
 * What a URL probe of a creation (`POST /webhooks {url}`) makes as a given identity or the admin stays in its
 * data: a webhook to the canary's address would receive that identity's real events later. `sentBy` hands each such
 * answer to the injection probes' sweep, which deletes the object by its maker through the document's DELETE of the
 * item once the canary has been waited for (the fetch may come after the answer). Objects of an account of the
 * scan's own are its own.
 */
export function sentBy(
  ctx: ScanContext,
  input: UrlInput,
  sweep: ReturnType<typeof creationSweep>,
): UrlSent | undefined {
  const op = input.operation;
  if (!isCreationOperation(ctx.spec, op)) return undefined;
  return (as, req, res) => {
    if (ctx.identities.includes(as) || as === ctx.admin) sweep.seen(op, as, '')(req, res, undefined);
  };
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
  sent?: UrlSent,
): Promise<{ as: Identity | Sender | undefined; res: ScanResponse | undefined }> {
  if (input.ownAccount) {
    const from = await ownSender(ctx, input);
    if (!from) return { as: undefined, res: undefined };
    return { as: from, res: await sendWithUrl(ctx, input, url(from.as), from, sent) };
  }
  const who = [...ctx.identities, ...(ctx.admin ? [ctx.admin] : [])];
  let last: { as: Identity | Sender | undefined; res: ScanResponse | undefined } = {
    as: who[0],
    res: undefined,
  };
  for (const as of who) {
    const res = await sendWithUrl(ctx, input, url(as), as, sent);
    last = { as, res };
    if (res && !REFUSED.has(res.status)) break;
  }
  return last;
}

/** Inputs that take a picture's address (`logo_url`, `avatarUrl`, `imageLink`): an API may want an image's name. */
const IMAGE_INPUT = /avatar|picture|photo|image|img|logo|icon|thumb|banner|cover|portrait/i;

/**
 * A canary URL for the input at `host`, and the path to wait for (`token`). A picture's input gets a path that
 * ends like an image (`/c/<id>/image.png`): a check of the extension alone lets it through as it would a real one.
 */
function canaryUrl(
  ctx: ScanContext,
  input: UrlInput,
  host: string,
): { host: string; url: string; token: string } {
  const c = ctx.canary.url(host);
  if (!IMAGE_INPUT.test(input.name)) return { host, ...c };
  return { host, url: `${c.url}/image.png`, token: `/c/${c.token}/image.png` };
}

/** A record in an answer that holds every one of `fields` as a member: the answer itself, or one level down. */
function recordWithFields(body: unknown, fields: readonly string[]): Record<string, unknown> | undefined {
  const isRecord = (v: unknown): v is Record<string, unknown> =>
    v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isRecord(body)) return undefined;
  for (const r of [body, ...Object.values(body).filter(isRecord)])
    if (fields.every((f) => Object.hasOwn(r, f))) return r;
  return undefined;
}

/**
 * A read of `as`'s own record that shows every field of the write's body: a GET at the write's path or a shorter
 * one (`/v2/member` for `POST /v2/member/picture`), else a documented read of one's own record (`/me`,
 * `/profile`). At most three reads.
 */
async function readOwnRecord(
  ctx: ScanContext,
  op: Operation,
  fields: readonly string[],
  as: Identity,
): Promise<{ req: ScanRequest; record: Record<string, unknown> } | undefined> {
  const gets = ctx.spec.operations.filter(
    (o) => o.method === 'GET' && !isExcluded(o) && !o.path.includes('{'),
  );
  const segments = op.path.split('/');
  const near = segments
    .map((_, i) => segments.slice(0, segments.length - i).join('/'))
    .filter((p) => p !== '')
    .flatMap((p) => gets.filter((o) => o.path === p));
  const own = gets.filter((o) => ownRecordPath(o.path) || ownProfileWritePath(o.path));
  for (const read of [...new Set([...near, ...own])].slice(0, 3)) {
    const req = planRequest(ctx.spec, read, ctx.objects, { owner: as.name });
    const res = await ctx.send(req, as);
    if (!isSuccess(res)) continue;
    const record = recordWithFields(res.json, fields);
    if (record) return { req, record };
  }
  return undefined;
}

/**
 * A URL input that may be stored on the sender's own account, when the scan has no account of its own: probed
 * as identity A only when a read of A's record shows every field of the body (the body sent is that record with
 * the URL field changed, no sampled value in it), then set back to what the read showed and read again; a value
 * that did not come back is a report warning. Not at all otherwise. One input at a time (its set-back must not
 * race another probe of the same record).
 */
async function probeWithSetBack(ctx: ScanContext, input: UrlInput): Promise<void> {
  const op = input.operation;
  const as = ctx.identities[0];
  const schema =
    input.in === 'form'
      ? Object.entries(op.requestBody?.content ?? {}).find(([t]) => /form/i.test(t))?.[1].schema
      : jsonBodySchema(op);
  const fields = Object.keys(propertiesOf(ctx.spec, schema));
  const skip = (why: string) =>
    ctx.note?.({
      operation: op,
      rule: SCAN_RULES.ssrf,
      reason: `${input.name} not probed: a URL there may be stored on the sender's own account, the scan has no account of its own, and ${why}`,
    });
  if (input.in === 'query' || input.name.includes('.') || op.path.includes('{') || fields.length === 0)
    return skip('it cannot be set back from a read (a query, a nested member or a path parameter)');
  const read = await readOwnRecord(ctx, op, fields, as);
  if (!read) return skip(`no read of ${as.name}'s record shows every field of its body`);
  const base = Object.fromEntries(fields.map((f) => [f, read.record[f]]));
  if (input.in === 'form' && Object.values(base).some((v) => typeof v !== 'string' && typeof v !== 'number'))
    return skip(`${as.name}'s record holds a value a form cannot send back`);
  const send = (value: unknown) =>
    ctx.send(
      planRequest(ctx.spec, op, ctx.objects, { owner: as.name, body: { ...base, [input.name]: value } }),
      as,
      { ownProfile: true },
    );
  const tries: { host: string; url: string; token: string; res?: ScanResponse }[] = [];
  for (const host of HOSTS) {
    const t = canaryUrl(ctx, input, host);
    tries.push({ ...t, res: await send(t.url) });
    if (tries[0].res === undefined || REFUSED.has(tries[0].res.status)) break;
  }
  const hits = await Promise.all(
    tries.map((t, i) => ctx.canary.waitFor(t.token, i < tries.length - 1 ? 200 : WAIT_MS)),
  );
  if (tries.some((t) => t.res !== undefined && !REFUSED.has(t.res.status))) {
    await send(base[input.name]);
    const again = await ctx.send(read.req, as);
    const now = isSuccess(again) ? recordWithFields(again.json, fields) : undefined;
    const left = fields.filter((f) => JSON.stringify(now?.[f]) !== JSON.stringify(base[f]));
    if (left.length > 0)
      ctx.warn?.(
        `API7: ${as.name}'s ${left.join(', ')} could not be set back after the SSRF probe of ${op.method} ${op.path}: reset ${left.length === 1 ? 'it' : 'them'} on the target by hand`,
      );
  }
  report(ctx, input, as, tries, hits);
}

/** An object a URL probe's creation made: who made it, the request and its answer. */
interface Made {
  readonly as: Identity;
  readonly req: PlannedRequest;
  readonly res: ScanResponse;
}

/** Actions that make an object fetch the URL it holds (`POST /webhooks/{id}/ping`, `/integrations/{id}/sync`). */
const TRIGGER =
  /^(ping|test|deliver|redeliver|resend|verify|validate|refresh|sync|import|trigger|fire|send|retry|replay|check|fetch|preview|probe|run)$/i;
/** At most this many actions are sent on one object, and objects of one input. */
const MAX_TRIGGERS = 2;
const MAX_TRIGGERED_OBJECTS = 4;

/**
 * The documented actions of the item a creation makes that say they use what it holds (`POST /v1/webhooks/{id}/ping`
 * beside `POST /v1/webhooks`): sent on each object the URL probes made, by its maker, before the canary is waited
 * for. A URL stored and never used shows nothing; the canary's request after a ping does. The object is registered
 * as the scan's own (an owner no check takes objects from) so the write guard lets the action on it go; the probes'
 * sweep deletes it afterwards.
 */
async function triggerActions(ctx: ScanContext, op: Operation, made: readonly Made[]): Promise<void> {
  const base = op.path.replace(/\/+$/, '');
  const actions = ctx.spec.operations
    .filter((a) => !isExcluded(a) && (a.method === 'POST' || a.method === 'GET' || a.method === 'PUT'))
    .map((a) => ({
      a,
      m: new RegExp(`^${base.replace(/[.*+?^$()|[\]\\]/g, '\\$&')}/\\{([^}/]+)\\}/([A-Za-z_-]+)$`).exec(
        a.path,
      ),
    }))
    .filter((x) => x.m !== null && TRIGGER.test(x.m[2].replace(/[-_]/g, '')))
    .slice(0, MAX_TRIGGERS);
  if (actions.length === 0) return;
  for (const { as, req, res } of made.slice(0, MAX_TRIGGERED_OBJECTS)) {
    const id = captureId(ctx.spec, op, res);
    if (id === undefined || id === '') continue;
    const at = req.path.split('?')[0].replace(/\/+$/, '');
    ctx.objects.add({
      collection: base,
      path: `${at}/${encodeURIComponent(id)}`,
      id,
      owner: `${as.name} (SSRF probe)`,
      body: res.json,
      createdBy: op,
    });
    for (const { a, m } of actions) {
      const planned = planRequest(ctx.spec, a, ctx.objects, { owner: as.name, params: { [m![1]]: id } });
      await ctx.send({ ...planned, path: `${at}/${encodeURIComponent(id)}/${m![2]}` }, as);
    }
  }
}

/** Reports the input when the canary was reached by one of its tries. */
function report(
  ctx: ScanContext,
  input: UrlInput,
  as: Identity,
  tries: readonly { host: string; res?: ScanResponse }[],
  hits: readonly unknown[],
): void {
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
    // Inputs stored on one's own account with no account of the scan's own: read first, set back, one by one.
    const own = inputs.some((i) => i.ownAccount) ? await ownAccount(ctx) : undefined;
    const setBack = own === undefined ? inputs.filter((i) => i.ownAccount) : [];
    // What the probes of a creation make as a given identity or the admin is deleted after the waits (sentBy).
    const sweep = creationSweep(ctx, 'the SSRF probes');
    // All other inputs at once: the waits for the canary overlap (the client still bounds the rate).
    await Promise.all(
      inputs
        .filter((i) => !setBack.includes(i))
        .map(async (input) => {
          const tries: { host: string; url: string; token: string; res?: ScanResponse }[] = [];
          // The objects a creation's probes made (a webhook holding the canary): their own actions go before the wait.
          const made: Made[] = [];
          const sweepIt = sentBy(ctx, input, sweep);
          const sent: UrlSent | undefined = sweepIt
            ? (who, req, res) => {
                sweepIt(who, req, res);
                if (isSuccess(res)) made.push({ as: who, req, res });
              }
            : undefined;
          const first = await reachWithUrl(
            ctx,
            input,
            () => {
              const t = canaryUrl(ctx, input, HOSTS[0]);
              tries.push(t);
              return t.url;
            },
            sent,
          );
          const sender = first.as;
          if (sender === undefined) return;
          const as = 'as' in sender ? sender.as : sender;
          tries[tries.length - 1].res = first.res;
          const others = HOSTS.slice(1).map((host) => canaryUrl(ctx, input, host));
          const responses = await Promise.all(
            others.map((t) => sendWithUrl(ctx, input, t.url, sender, sent)),
          );
          for (const [i, t] of others.entries()) tries.push({ ...t, res: responses[i] });
          await triggerActions(ctx, input.operation, made);
          const hits = await Promise.all(
            tries.map((t, i) => ctx.canary.waitFor(t.token, i < tries.length - 2 ? 200 : WAIT_MS)),
          );
          report(ctx, input, as, tries, hits);
        }),
    );
    await sweep.flush();
    sweep.report();
    for (const input of setBack) {
      if (ctx.signal.aborted) return;
      await probeWithSetBack(ctx, input);
    }
  },
};
