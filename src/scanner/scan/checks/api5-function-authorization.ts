/**
 * API5 Broken Function Level Authorization: an ordinary identity calls operations that look privileged
 * (`x-portcullis-admin: true`, an `admin`-like path segment or tag, or an admin scope). With an admin identity
 * the scanner first confirms the operation works for the admin. Only GET and HEAD unless `allowDestructive`.
 */
import type { Check } from '../check.ts';
import { evidenceOf, isSuccess } from '../context.ts';
import { isAdminOperation, isExcluded, planRequest } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

export const api5: Check = {
  id: 'API5',
  title: 'Broken function level authorization',
  rules: [SCAN_RULES.bfla],
  async run(ctx) {
    const user = ctx.identities[0];
    if (!user) return;
    for (const op of ctx.spec.operations) {
      if (!isAdminOperation(op) || isExcluded(op)) continue;
      if (!SAFE.has(op.method) && !ctx.allowDestructive) continue;
      const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
      if (ctx.admin) {
        const asAdmin = await ctx.send(req, ctx.admin);
        if (!isSuccess(asAdmin)) continue; // the operation does not work at all with these values
      }
      const res = await ctx.send(req, user);
      if (!isSuccess(res)) continue;
      ctx.report(SCAN_RULES.bfla, {
        operation: op,
        message: `${user.name} (an ordinary identity) called the privileged operation ${op.method} ${op.path}${ctx.admin ? '' : ' (not confirmed with an admin identity)'}.`,
        evidence: evidenceOf(res, { identity: user.name }),
      });
    }
  },
};
