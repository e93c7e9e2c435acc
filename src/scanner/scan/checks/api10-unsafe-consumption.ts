/**
 * API10 Unsafe Consumption of APIs. A black-box scan sees little of how an API consumes other services; what it
 * can see is an API that fetches a URL it is given: whether it follows a redirect from the third party and
 * whether it passes the third party's content (markup from the canary) back verbatim.
 */

import { CANARY_BODY_MARKER } from '../canary.ts';
import type { Check } from '../check.ts';
import { evidenceOf } from '../context.ts';
import { SCAN_RULES } from '../rules.ts';
import { reachWithUrl } from './api7-ssrf.ts';
import { urlInputs } from './url-inputs.ts';

const WAIT_MS = 1500;

export const api10: Check = {
  id: 'API10',
  title: 'Unsafe consumption of APIs',
  rules: [SCAN_RULES.unvalidatedThirdParty],
  async run(ctx) {
    if (!ctx.identities[0]) return;
    if (urlInputs(ctx.spec).length === 0)
      ctx.note?.({
        rule: SCAN_RULES.unvalidatedThirdParty,
        reason: 'no URL input (format uri, or a name like url, callback, webhook) in the document',
      });
    await Promise.all(
      urlInputs(ctx.spec).map(async (input) => {
        let token = '';
        const { res } = await reachWithUrl(ctx, input, () => {
          const c = ctx.canary.url();
          token = c.token;
          return `${c.url}/redirect`;
        });
        const followed = await ctx.canary.waitFor(`/c/${token}/redirected`, WAIT_MS);
        const text = res?.text ?? '';
        const verbatim = text.includes(`${CANARY_BODY_MARKER}:${token}`) && text.includes('<script>');
        if (!followed && !verbatim) return;
        const what = [
          followed ? 'followed a redirect from it' : '',
          verbatim ? 'returned its markup verbatim' : '',
        ]
          .filter(Boolean)
          .join(' and ');
        ctx.report(SCAN_RULES.unvalidatedThirdParty, {
          operation: input.operation,
          key: input.name,
          message: `${input.operation.method} ${input.operation.path} consumed a third party (the canary) unsafely: it ${what}.`,
          evidence: {
            ...(res ? evidenceOf(res) : {}),
            followedRedirect: followed !== undefined,
            passedThroughMarkup: verbatim,
          },
        });
      }),
    );
  },
};
