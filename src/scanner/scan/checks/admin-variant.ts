/**
 * API5: the admin recognised by its login name, compared without regard to case. With a sign-up and an admin
 * that logs in by a user name (`admin`), the scan registers the name with its first letter's case flipped
 * (`Admin`) and a strong random password of its own, logs in as that account and replays the admin-only reads
 * (GETs the admin gets and the first ordinary identity is refused): the admin's content back is a finding when
 * the scan's own `pcn<hex>` account, registered through the same sign-up, is refused the same read (or gets
 * other content): a sign-up that grants those reads to every new account is no admin-name flaw.
 *
 * Safety: only reads are replayed, as an account the scan registered. Before the admin's name is touched, the
 * sign-up is tried on the scan's own names: `pcn<hex>`, then `PCN<hex>` with another password; when the first
 * account no longer logs in with its own password afterwards, the sign-up overwrites accounts whose names
 * differ in case, and the admin's variant is never registered (a coverage note on the sign-up says why).
 * Bounded: at most 4 reads are compared, 3 sign-ups and 3 logins are sent.
 *
 * It imports nothing from the other checks (they import the API5 check): the sign-up operation and the
 * "refused in a 200" judgement come from the caller.
 */
import { randomBytes } from 'node:crypto';
import type { Operation } from '../../../core/api-document.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, type Identity, isSuccess, type ScanContext } from '../context.ts';
import { loginRequest, sessionIdentity, signedIn } from '../login.ts';
import { bodySchema, isExcluded, isLoginOperation, planRequest } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, sampleValue } from '../schema.ts';
import { similarity } from '../similarity.ts';

const PASSWORD = /pass(word)?|passwd|pwd/i;
const NAME_FIELD = /^(user_?name|login|handle|name)$/i;
const MAIL_FIELD = /mail/i;
const REPEAT = /confirm|repeat|again|^re_?pass|2$/i;
const MAX_READS = 4;
const SAME_CONTENT = 0.9;

export interface VariantDeps {
  /** The sign-up operation (a POST with a user name and a password). */
  readonly signup: Operation | undefined;
  /** A 2xx that refuses all the same (`{"status": "fail"}`). */
  readonly refused: (res: ScanResponse) => boolean;
}

/** `admin` → `Admin`, `Admin` → `admin`: the first letter's case flipped; undefined without a letter. */
export function caseVariant(name: string): string | undefined {
  const i = name.search(/[a-z]/i);
  if (i < 0) return undefined;
  const c = name[i];
  const flipped = c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase();
  return `${name.slice(0, i)}${flipped}${name.slice(i + 1)}`;
}

const freshPassword = () => `Pc-${randomBytes(12).toString('base64url')}-7v`;

interface Read {
  readonly op: Operation;
  readonly req: ReturnType<typeof planRequest>;
  readonly admin: ScanResponse;
  readonly refusedStatus: number;
}

/** GETs the admin gets and the first ordinary identity is refused, privileged-looking first (at most 4). */
async function adminOnlyReads(ctx: ScanContext, admin: Identity, deps: VariantDeps): Promise<Read[]> {
  const user = ctx.identities[0];
  const out: Read[] = [];
  const ops = ctx.spec.operations.filter(
    (op) => op.method === 'GET' && !isExcluded(op) && !isLoginOperation(ctx.spec, op),
  );
  ops.sort((a, b) => Number(/admin/i.test(b.path)) - Number(/admin/i.test(a.path)));
  let tried = 0;
  for (const op of ops) {
    if (out.length >= 2 || tried >= MAX_READS) break;
    const req = planRequest(ctx.spec, op, ctx.objects, { owner: admin.name });
    if (req.invented.length > 0) continue;
    tried++;
    const mine = await ctx.send(req, user);
    if (!mine || (isSuccess(mine) && !deps.refused(mine))) continue;
    if (mine.status !== 401 && mine.status !== 403 && !(isSuccess(mine) && deps.refused(mine))) continue;
    const theirs = await ctx.send(req, admin);
    if (!isSuccess(theirs) || deps.refused(theirs)) continue;
    out.push({ op, req, admin: theirs, refusedStatus: mine.status });
  }
  return out;
}

export async function adminNameVariant(ctx: ScanContext, deps: VariantDeps): Promise<void> {
  const admin = ctx.admin;
  const flow = admin?.login?.flow;
  if (!admin || !flow || !ctx.identities[0] || !deps.signup) return;
  const userField = Object.keys(flow.body).find((k) => NAME_FIELD.test(k));
  const passwordField = Object.keys(flow.body).find((k) => PASSWORD.test(k));
  const adminName = userField !== undefined ? flow.body[userField] : undefined;
  if (!userField || !passwordField || typeof adminName !== 'string' || adminName.includes('@')) return;
  const variant = caseVariant(adminName);
  const schema = bodySchema(deps.signup);
  const props = Object.keys(propertiesOf(ctx.spec, schema));
  const sample = sampleValue(ctx.spec, schema);
  // The member the login takes the name from, else the first name-like one.
  const nameKey = props.includes(userField) ? userField : props.find((k) => NAME_FIELD.test(k));
  if (!variant || !nameKey || sample === null || typeof sample !== 'object' || Array.isArray(sample)) return;
  const reads = await adminOnlyReads(ctx, admin, deps);
  if (reads.length === 0) return;

  const signup = deps.signup;
  const register = async (name: string, password: string) => {
    const tag = randomBytes(4).toString('hex');
    const body: Record<string, unknown> = { ...(sample as Record<string, unknown>) };
    for (const k of props) {
      if (PASSWORD.test(k) && !/old|current/i.test(k)) body[k] = password;
      else if (MAIL_FIELD.test(k)) body[k] = `pcn${tag}@example.com`;
      else if (k === nameKey) body[k] = name;
    }
    for (const k of props) if (REPEAT.test(k) && PASSWORD.test(k)) body[k] = password;
    const res = await ctx.send(planRequest(ctx.spec, signup, ctx.objects, { body }), null);
    return isSuccess(res) && !deps.refused(res);
  };
  const login = async (name: string, password: string) => {
    const res = await ctx.send(loginRequest(flow, { [userField]: name, [passwordField]: password }), null);
    // A refusal is no sign-in, whatever cookie came with it (a fresh session cookie on every answer).
    if (!res || res.status >= 400 || deps.refused(res) || !signedIn(flow, res)) return undefined;
    return sessionIdentity(flow, res, name);
  };

  // The sign-up must keep names that differ in case apart, on the scan's own names first.
  const own = `pcn${randomBytes(4).toString('hex')}`;
  const ownPassword = freshPassword();
  if (!(await register(own, ownPassword))) return;
  if (!(await register(own.toUpperCase(), freshPassword()))) return; // refused: the names collide, as the admin's would
  const control = await login(own, ownPassword);
  if (!control) {
    // On the sign-up, not on the rule: the rest of API5 did run.
    ctx.note?.({
      operation: signup,
      reason: `not tried: signing up ${own.toUpperCase()} changed the password of ${own}, so a variant of the admin's name could change the admin's`,
    });
    return;
  }
  const password = freshPassword();
  if (!(await register(variant, password))) return;
  const as = await login(variant, password);
  if (!as) return;
  for (const read of reads) {
    const res = await ctx.send(read.req, as);
    if (!isSuccess(res) || deps.refused(res)) continue;
    if (similarity(read.admin.json ?? read.admin.text, res.json ?? res.text) < SAME_CONTENT) continue;
    // The control: the scan's own account of an ordinary name, registered the same way. When it gets the
    // admin's content too, every sign-up does (a plan, a default role): nothing to do with the admin's name.
    const plain = await ctx.send(read.req, control);
    if (
      plain &&
      isSuccess(plain) &&
      !deps.refused(plain) &&
      similarity(read.admin.json ?? read.admin.text, plain.json ?? plain.text) >= SAME_CONTENT
    )
      continue;
    ctx.report(SCAN_RULES.bfla, {
      operation: read.op,
      key: 'admin-name-variant',
      message: `An account the scan registered as ${JSON.stringify(variant)} (the admin's login name ${JSON.stringify(adminName)} with another case) called ${read.op.method} ${read.op.path} and got what ${admin.name} gets, while ${ctx.identities[0].name} is refused (${read.refusedStatus}) and so is the scan's own account ${own}, registered the same way (${plain?.status ?? 'no answer'}): the API recognises its admin by a name compared without regard to case.`,
      evidence: evidenceOf(res, { registeredAs: variant, adminLogin: adminName }),
    });
  }
}
