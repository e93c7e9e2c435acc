/**
 * API1 Broken Object Level Authorization: identity B reads, changes and deletes objects identity A created.
 * Judged by status and body similarity, and by A reading the object back after B's change or delete.
 * PUT, PATCH and DELETE only ever go to objects the scan created itself.
 */
import type { Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import type { ScanResponse } from '../client.ts';
import { evidenceOf, isSuccess, type ScanContext } from '../context.ts';
import { isExcluded, jsonBodySchema, type PlannedRequest, planRequest, requiresAuth } from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { sampleValue } from '../schema.ts';
import { similarity } from '../similarity.ts';

const SAME_OBJECT = 0.8;

function itemOperations(ctx: ScanContext, collection: string): Operation[] {
  const re = new RegExp(`^${collection.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}/\\{[^}]+\\}$`);
  return ctx.spec.operations.filter((op) => re.test(op.path) && !isExcluded(op));
}

/** Marks every string field of a body so a change can be recognised when read back. */
function markStrings(value: unknown, marker: string): unknown {
  if (typeof value === 'string') return marker;
  if (Array.isArray(value)) return value.map((v) => markStrings(v, marker));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, markStrings(v, marker)]));
  }
  return value;
}

/**
 * Is what A sees worth protecting from B? Not when it is empty, and not when the operation declares no
 * security and anyone gets the same without credentials (public by design).
 */
async function isPrivate(ctx: ScanContext, req: PlannedRequest, mine: ScanResponse): Promise<boolean> {
  const body = mine.json ?? mine.text;
  const empty = body === '' || (body !== null && typeof body === 'object' && Object.keys(body).length === 0);
  if (empty) return false;
  if (requiresAuth(req.operation)) return true;
  const anonymous = await ctx.send(req, null);
  return !isSuccess(anonymous) || similarity(body, anonymous.json ?? anonymous.text) < SAME_OBJECT;
}

export const api1: Check = {
  id: 'API1',
  title: 'Broken object level authorization',
  rules: [SCAN_RULES.bolaRead, SCAN_RULES.bolaWrite, SCAN_RULES.bolaDelete],
  async run(ctx) {
    const [a, b] = ctx.identities;
    if (!a || !b) return;
    const readTested = new Set<string>();
    for (const object of ctx.objects.of(a.name)) {
      const ops = itemOperations(ctx, object.collection);
      const get = ops.find((op) => op.method === 'GET');
      const update = ops.find((op) => op.method === 'PUT' || op.method === 'PATCH');
      const remove = ops.find((op) => op.method === 'DELETE');
      const readAsOwner = async () =>
        get ? ctx.send(planRequest(ctx.spec, get, ctx.objects, { owner: a.name }), a) : undefined;

      let ownerCouldRead = false;
      if (get) {
        const req = planRequest(ctx.spec, get, ctx.objects, { owner: a.name });
        readTested.add(req.path);
        const mine = await ctx.send(req, a);
        ownerCouldRead = isSuccess(mine);
        const theirs = await ctx.send(req, b);
        if (isSuccess(mine) && isSuccess(theirs)) {
          const score = similarity(mine.json ?? mine.text, theirs.json ?? theirs.text);
          if (score >= SAME_OBJECT && (await isPrivate(ctx, req, mine))) {
            ctx.report(SCAN_RULES.bolaRead, {
              operation: get,
              message: `${b.name} read ${a.name}'s object at ${req.path} (similarity ${score.toFixed(2)}).`,
              evidence: evidenceOf(theirs, { owner: a.name, attacker: b.name, similarity: score }),
            });
          }
        }
      }

      if (update) {
        const schema = jsonBodySchema(update);
        const marker = `portcullis-bola-${Date.now().toString(36)}`;
        const body = markStrings(schema ? sampleValue(ctx.spec, schema) : {}, marker);
        const req = planRequest(ctx.spec, update, ctx.objects, { owner: a.name, body });
        const res = await ctx.send(req, b);
        if (isSuccess(res)) {
          const after = await readAsOwner();
          const changed = get ? isSuccess(after) && after.text.includes(marker) : true;
          if (changed) {
            ctx.report(SCAN_RULES.bolaWrite, {
              operation: update,
              message: `${b.name} changed ${a.name}'s object at ${req.path}${get ? ` and ${a.name} sees the change` : ''}.`,
              evidence: evidenceOf(res, { owner: a.name, attacker: b.name }),
            });
          }
        }
      }

      if (remove) {
        const req = planRequest(ctx.spec, remove, ctx.objects, { owner: a.name });
        const res = await ctx.send(req, b);
        if (isSuccess(res)) {
          const after = await readAsOwner();
          // A read that worked before B's delete and fails after it (404, 410, or a gateway's 502 for an undeclared 404).
          const gone = get
            ? ownerCouldRead && after !== undefined && (after.status < 200 || after.status >= 300)
            : true;
          if (gone) {
            ctx.report(SCAN_RULES.bolaDelete, {
              operation: remove,
              message: `${b.name} deleted ${a.name}'s object at ${req.path}.`,
              evidence: evidenceOf(res, { owner: a.name, attacker: b.name, ownerReadAfter: after?.status }),
            });
          }
        }
      }
    }

    // Reads of every other path that A owns (its objects, or its identity params such as an account id).
    for (const op of ctx.spec.operations) {
      if (op.method !== 'GET' || !op.path.includes('{') || isExcluded(op)) continue;
      const req = planRequest(ctx.spec, op, ctx.objects, { owner: a.name });
      if (!req.ownedPath || readTested.has(req.path)) continue;
      readTested.add(req.path);
      const mine = await ctx.send(req, a);
      const theirs = await ctx.send(req, b);
      if (!isSuccess(mine) || !isSuccess(theirs)) continue;
      const score = similarity(mine.json ?? mine.text, theirs.json ?? theirs.text);
      if (score < SAME_OBJECT || !(await isPrivate(ctx, req, mine))) continue;
      ctx.report(SCAN_RULES.bolaRead, {
        operation: op,
        message: `${b.name} read ${a.name}'s data at ${req.path} (similarity ${score.toFixed(2)}).`,
        evidence: evidenceOf(theirs, { owner: a.name, attacker: b.name, similarity: score }),
      });
    }
  },
};
