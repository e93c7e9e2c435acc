/**
 * API9 Improper Inventory Management: a small built-in list of paths that should not answer (debug consoles,
 * configuration files, framework endpoints, API documents) and older versions of documented paths (`/v1/...`
 * beside `/v2/...`). A success that the document does not list, and that differs from what a random path
 * returns (catch-all routes), is reported.
 */
import { randomUUID } from 'node:crypto';
import type { Severity } from '../../finding.ts';
import type { Check } from '../check.ts';
import { evidenceOf, isSuccess, type ScanContext } from '../context.ts';
import { isExcluded, planRequest } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { similarity } from '../similarity.ts';

/** Built-in probe list: path and how bad an answer is. */
export const PROBES: readonly (readonly [string, Severity])[] = [
  ['/.env', 'critical'],
  ['/.git/config', 'critical'],
  ['/debug', 'high'],
  ['/debug/vars', 'high'],
  ['/debug/pprof/', 'high'],
  ['/actuator', 'high'],
  ['/actuator/env', 'critical'],
  ['/actuator/heapdump', 'critical'],
  ['/admin', 'high'],
  ['/console', 'high'],
  ['/server-status', 'medium'],
  ['/metrics', 'medium'],
  ['/config.json', 'high'],
  ['/phpinfo.php', 'medium'],
  ['/graphql', 'medium'],
  ['/swagger.json', 'low'],
  ['/openapi.json', 'low'],
  ['/swagger-ui.html', 'low'],
  ['/api-docs', 'low'],
  ['/v2/api-docs', 'low'],
  ['/v3/api-docs', 'low'],
];

/** Does the document declare a path template that matches this concrete path? */
function documented(ctx: ScanContext, path: string): boolean {
  const clean = path.split('?')[0];
  return ctx.spec.operations.some((op) => {
    const re = new RegExp(
      `^${op.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\\?\{[^}]+\\?\}/g, '[^/]+')}/?$`,
    );
    return re.test(clean);
  });
}

export const api9: Check = {
  id: 'API9',
  title: 'Improper inventory management',
  rules: [SCAN_RULES.undocumentedEndpoint],
  async run(ctx) {
    const user = ctx.identities[0];
    if (!user) return;
    const random = await ctx.send({ method: 'GET', path: `/portcullis-${randomUUID()}` }, user);
    const catchAll = isSuccess(random) ? random : undefined;
    const looksReal = (res: Awaited<ReturnType<typeof ctx.send>>) =>
      isSuccess(res) && (!catchAll || similarity(catchAll.json ?? catchAll.text, res.json ?? res.text) < 0.9);

    for (const [path, severity] of PROBES) {
      if (documented(ctx, path)) continue;
      const res = await ctx.send({ method: 'GET', path }, user);
      if (!looksReal(res) || !res) continue;
      ctx.report(SCAN_RULES.undocumentedEndpoint, {
        severity,
        key: path,
        message: `GET ${path} answered ${res.status} but is not in the API description.`,
        evidence: evidenceOf(res),
      });
    }

    // Older versions beside the documented ones: /v2/notes → /v1/notes.
    const tried = new Set<string>();
    for (const op of ctx.spec.operations) {
      if (op.method !== 'GET' || isExcluded(op)) continue;
      const m = /\/v(\d+)(?=\/|$)/.exec(op.path);
      if (!m || Number(m[1]) < 2) continue;
      const planned = planRequest(ctx.spec, op, ctx.objects, { owner: user.name });
      for (let v = Number(m[1]) - 1; v >= Math.max(0, Number(m[1]) - 2); v--) {
        const path = planned.path.replace(`/v${m[1]}`, `/v${v}`);
        if (tried.has(path) || documented(ctx, path)) continue;
        tried.add(path);
        const res = await ctx.send({ method: 'GET', path }, user);
        if (!looksReal(res) || !res) continue;
        ctx.report(SCAN_RULES.undocumentedEndpoint, {
          operation: op,
          key: path.split('?')[0],
          message: `An older version GET ${path.split('?')[0]} answers beside the documented ${op.path}.`,
          evidence: evidenceOf(res, { documented: op.path }),
        });
      }
    }
  },
};
