import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from '../errors.ts';

/** Where a running demo says where it is (written by `portcullis demo`, read by `demo attack`). */
export interface DemoState {
  readonly gateway: string;
  /** The same gateway over HTTP/2 with prior knowledge (h2c). */
  readonly gatewayHttp2?: string;
  readonly admin: string | undefined;
  readonly adminToken: string | undefined;
  readonly tokenEndpoint: string;
  readonly audience: string;
}

async function token(state: DemoState, user: string, scope: string): Promise<string> {
  const res = await fetch(state.tokenEndpoint, {
    method: 'POST',
    headers: {
      authorization: `Basic ${Buffer.from(`${user}:${user}-secret`).toString('base64')}`,
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', scope, resource: state.audience }),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new CliError(`the demo identity provider gave no token for ${user}`);
  return body.access_token;
}

async function adminGet(state: DemoState, path: string): Promise<unknown> {
  if (!state.admin || !state.adminToken) return undefined;
  const res = await fetch(`${state.admin}${path}`, {
    headers: { authorization: `Bearer ${state.adminToken}` },
  });
  return res.ok ? res.json() : undefined;
}

/**
 * `portcullis demo attack`: replays two attacks against the running demo so the detectors, bans and
 * alerts can be watched: an object-id walk by an authenticated user, then a credential-stuffing burst.
 */
export async function demoAttack(opts: { stateFile: string; out: (line: string) => void }): Promise<number> {
  let state: DemoState;
  try {
    state = JSON.parse(await readFile(opts.stateFile, 'utf8')) as DemoState;
  } catch {
    throw new CliError(`no running demo found (${opts.stateFile}); start it first with npm start`);
  }
  const o = opts.out;
  const tally = new Map<number, number>();
  const hit = async (path: string, headers: Record<string, string>) => {
    const res = await fetch(`${state.gateway}${path}`, { headers });
    await res.arrayBuffer();
    tally.set(res.status, (tally.get(res.status) ?? 0) + 1);
    return res.status;
  };
  const summary = () =>
    [...tally]
      .sort(([a], [b]) => a - b)
      .map(([s, n]) => `${n}x ${s}`)
      .join(', ');

  o('1. Object-id walk (API1, BOLA): bob walks other accounts and sequential order ids with his own token');
  const bob = await token(state, 'bob', 'shop:read shop:write');
  for (let i = 1; i <= 30; i++) {
    await hit(`/accounts/customer-${i}`, { authorization: `Bearer ${bob}` });
    await hit(`/accounts/bob/orders/${i}`, { authorization: `Bearer ${bob}` });
  }
  o(`   ${summary()}`);
  tally.clear();

  o('2. Credential stuffing (API2): a burst of forged and stolen-looking tokens from one address');
  for (let i = 0; i < 40; i++) {
    const fake = `eyJhbGciOiJSUzI1NiJ9.${Buffer.from(JSON.stringify({ sub: `user${i}` })).toString('base64url')}.c2lnbmF0dXJl`;
    await hit('/accounts/alice', { authorization: `Bearer ${fake}` });
  }
  o(`   ${summary()}`);

  await sleep(1500); // the detectors see events as they are emitted; give the sink a moment to store them
  const alerts = (await adminGet(state, '/api/alerts')) as
    | { alerts?: Array<Record<string, unknown>> }
    | undefined;
  const bans = (await adminGet(state, '/api/bans')) as { bans?: Array<Record<string, unknown>> } | undefined;
  o('');
  o('What the watch loop did:');
  for (const a of alerts?.alerts ?? []) {
    o(
      `   alert  ${String(a['rule.name'] ?? a['event.action'] ?? 'alert')}: ${String(a.message ?? a['event.reason'] ?? '')}`,
    );
  }
  for (const b of bans?.bans ?? []) {
    o(
      `   ban    ${String(b.kind)} ${String(b.value)} until ${String(b.expiresAt)} (${String(b.reason ?? b.source ?? '')})`,
    );
  }
  if (!alerts?.alerts?.length && !bans?.bans?.length)
    o('   (nothing yet: the detectors may need a few more seconds; open the dashboard)');
  o('');
  if (state.admin) {
    o(`Open ${state.admin}/ to see them live, and unban 127.0.0.1 there (or:`);
    o(
      `   curl -X DELETE -H "Authorization: Bearer ${state.adminToken}" ${state.admin}/api/bans/ip/127.0.0.1 )`,
    );
  }
  return 0;
}
