/**
 * API6 Unrestricted Access to Sensitive Business Flows: a business action (`x-portcullis-business-flow: true`,
 * or a POST whose path names a coupon, referral, order, vote...) sent five times in quick succession by one
 * identity. All five succeeding means nothing stops automation of the flow. An operation that changes an account
 * (a promotion, a role grant, an e-mail change) is never repeated.
 */
import type { Check } from '../check.ts';
import { evidenceOf, isSuccess } from '../context.ts';
import { changesAccount } from '../discover.ts';
import { isBusinessFlow, isExcluded, planRequest } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';

const REPEATS = 5;

export const api6: Check = {
  id: 'API6',
  title: 'Unrestricted access to sensitive business flows',
  rules: [SCAN_RULES.businessFlow],
  async run(ctx) {
    const user = ctx.identities[0];
    if (!user) return;
    for (const op of ctx.spec.operations) {
      // Never an account change (`POST /grant-role {username, role}`), whatever its name says.
      if (!isBusinessFlow(ctx.spec, op) || isExcluded(op) || changesAccount(ctx.spec, op)) continue;
      const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
      const statuses: number[] = [];
      let last: Awaited<ReturnType<typeof ctx.send>>;
      for (let i = 0; i < REPEATS; i++) {
        last = await ctx.send(req, user);
        statuses.push(last?.status ?? 0);
        if (!isSuccess(last)) break;
      }
      if (statuses.length === REPEATS && statuses.every((s) => s >= 200 && s < 300) && last) {
        ctx.report(SCAN_RULES.businessFlow, {
          operation: op,
          message: `The same ${op.method} ${op.path} succeeded ${REPEATS} times in a row for ${user.name}.`,
          evidence: evidenceOf(last, { statuses }),
        });
      }
    }
  },
};
