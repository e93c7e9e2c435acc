/**
 * API3 Broken Object Property Level Authorization.
 * Active: mass assignment. Each POST with a JSON object body is sent with extra fields (readOnly properties of
 * its response schema, usual privileged names such as `role` and `isAdmin`, and one undeclared probe field); a
 * value read back in the response (or in a GET of the created object) was stored.
 * Passive: every successful JSON response is compared with its schema (fields outside it) and searched for
 * secrets and personal data.
 */
import { randomUUID } from 'node:crypto';
import type { ApiDocument, JsonObject, JsonSchema, Operation } from '../../../core/api-document.ts';
import type { Check } from '../check.ts';
import { evidenceOf, isSuccess, type ScanContext } from '../context.ts';
import {
  captureId,
  isAdminOperation,
  isBusinessFlow,
  isExcluded,
  isLoginOperation,
  jsonBodySchema,
  planRequest,
} from '../planner.ts';
import { SCAN_RULES } from '../rules.ts';
import { propertiesOf, resolveSchema, sampleValue, schemaType } from '../schema.ts';

/** Field names that grant privileges when a client may set them, and the value to try. */
const PRIVILEGED: Readonly<Record<string, unknown>> = {
  role: 'admin',
  roles: ['admin'],
  isAdmin: true,
  is_admin: true,
  admin: true,
  verified: true,
  isVerified: true,
  permissions: ['*'],
  scope: 'admin',
};

/** Secrets, keys and personal data, by field name. */
const SENSITIVE_KEY =
  /^(password|passwd|pass_?hash|password_?hash|hash|salt|secret|client_?secret|api_?key|private_?key|ssn|social_?security(_?number)?|tax_?id|credit_?card|card_?number|cvv|cvc|pin|otp_?secret|mfa_?secret|totp_?secret)$/i;
/** Personal data that is legitimate when declared, but not when it leaks through an undeclared field. */
const PERSONAL_KEY = /(e_?mail|phone|address|birth|dob|national_?id|passport)/i;
const SENSITIVE_VALUE: readonly [string, RegExp][] = [
  ['bcrypt hash', /^\$2[aby]\$\d\d\$/],
  ['argon2 hash', /^\$argon2(id|i|d)\$/],
  ['private key', /-----BEGIN [A-Z ]*PRIVATE KEY-----/],
  ['AWS access key', /\bAKIA[0-9A-Z]{16}\b/],
  ['US social security number', /^\d{3}-\d{2}-\d{4}$/],
  ['SHA-256 hex digest', /^[a-f0-9]{64}$/],
];

function responseSchema(op: Operation, status: number): JsonSchema | undefined {
  const spec = op.responses[String(status)] ?? op.responses[`${String(status)[0]}XX`] ?? op.responses.default;
  if (!spec) return undefined;
  for (const [type, media] of Object.entries(spec.content)) {
    if (/json/i.test(type)) return media.schema;
  }
  return undefined;
}

interface Extra {
  readonly pointer: string;
  readonly value: unknown;
}

/** Walks a value against its schema and collects properties the schema does not declare. */
function undeclared(
  spec: ApiDocument,
  value: unknown,
  schema: JsonSchema | undefined,
  pointer: string,
  out: Extra[],
  depth = 0,
): void {
  if (depth > 8 || out.length > 50 || schema === undefined || schema === true) return;
  const s = resolveSchema(spec, schema);
  if (Array.isArray(value)) {
    for (const item of value.slice(0, 20))
      undeclared(spec, item, s.items as JsonSchema, `${pointer}/*`, out, depth + 1);
    return;
  }
  if (value === null || typeof value !== 'object' || schemaType(s) !== 'object') return;
  const props = (s.properties as JsonObject | undefined) ?? {};
  if (Object.keys(props).length === 0) return; // a free-form object declares nothing to compare with
  const extraSchema = s.additionalProperties;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    if (key in props) undeclared(spec, v, props[key] as JsonSchema, `${pointer}/${key}`, out, depth + 1);
    else if (extraSchema === true || (typeof extraSchema === 'object' && extraSchema !== null)) continue;
    else out.push({ pointer: `${pointer}/${key}`, value: v });
  }
}

/** Finds secrets and personal data anywhere in a value. */
function sensitive(
  value: unknown,
  pointer: string,
  declared: (p: string) => boolean,
  out: string[],
  depth = 0,
): void {
  if (depth > 8 || out.length > 20) return;
  if (Array.isArray(value)) {
    for (const item of value.slice(0, 20)) sensitive(item, `${pointer}/*`, declared, out, depth + 1);
    return;
  }
  if (value === null || typeof value !== 'object') return;
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const p = `${pointer}/${key}`;
    if (v !== null && typeof v === 'object') {
      sensitive(v, p, declared, out, depth + 1);
      continue;
    }
    if (v === null || v === '' || v === undefined) continue;
    if (SENSITIVE_KEY.test(key)) {
      out.push(`${p} (secret or identifier by name)`);
      continue;
    }
    if (PERSONAL_KEY.test(key) && !declared(p)) {
      out.push(`${p} (personal data outside the schema)`);
      continue;
    }
    if (typeof v === 'string') {
      const hit = SENSITIVE_VALUE.find(([, re]) => re.test(v));
      if (hit) out.push(`${p} (${hit[0]})`);
    }
  }
}

function readBack(body: unknown, field: string): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const record = body as Record<string, unknown>;
  if (field in record) return record[field];
  const data = record.data;
  return data !== null && typeof data === 'object' ? (data as Record<string, unknown>)[field] : undefined;
}

function probeValue(s: JsonObject, marker: string): unknown {
  switch (schemaType(s)) {
    case 'integer':
    case 'number':
      return 424242;
    case 'boolean':
      return true;
    case 'array':
      return [marker];
    default:
      return marker;
  }
}

async function massAssignment(ctx: ScanContext, op: Operation): Promise<void> {
  const user = ctx.identities[0];
  const schema = jsonBodySchema(op);
  const base = sampleValue(ctx.spec, schema);
  if (base === null || typeof base !== 'object' || Array.isArray(base)) return;
  const writable = propertiesOf(ctx.spec, schema);
  const marker = `pcma-${randomUUID().slice(0, 8)}`;
  const injected: Record<string, unknown> = {};
  const why: Record<string, string> = {};
  for (const [status, response] of Object.entries(op.responses)) {
    if (!status.startsWith('2')) continue;
    for (const media of Object.values(response.content)) {
      for (const [name, prop] of Object.entries(propertiesOf(ctx.spec, media.schema))) {
        if (prop.readOnly !== true || name in writable) continue;
        injected[name] = name in PRIVILEGED ? PRIVILEGED[name] : probeValue(prop, marker);
        why[name] = 'readOnly';
      }
    }
  }
  for (const [name, value] of Object.entries(PRIVILEGED)) {
    if (name in writable || name in injected) continue;
    injected[name] = value;
    why[name] = 'privileged';
  }
  injected.portcullisProbe = marker;
  why.portcullisProbe = 'undeclared';
  const req = planRequest(ctx.spec, op, ctx.objects, { owner: user.name, body: { ...base, ...injected } });
  const res = await ctx.send(req, user);
  if (!isSuccess(res)) return;
  const views: unknown[] = [res.json];
  const id = captureId(ctx.spec, op, res);
  const get = ctx.spec.operations.find(
    (o) => o.method === 'GET' && new RegExp(`^${op.path}/\\{[^}]+\\}$`).test(o.path),
  );
  if (id !== undefined && get) {
    const param = /\{([^}]+)\}$/.exec(get.path)![1];
    const again = await ctx.send(
      planRequest(ctx.spec, get, ctx.objects, { owner: user.name, params: { [param]: id } }),
      user,
    );
    if (isSuccess(again)) views.push(again.json);
  }
  const stored = Object.keys(injected).filter((name) =>
    views.some((view) => JSON.stringify(readBack(view, name)) === JSON.stringify(injected[name])),
  );
  if (stored.length === 0) return;
  ctx.report(SCAN_RULES.massAssignment, {
    operation: op,
    message: `${op.method} ${op.path} stored fields a client must not set: ${stored.map((n) => `${n} (${why[n]})`).join(', ')}.`,
    evidence: evidenceOf(res, { fields: stored }),
  });
}

export const api3: Check = {
  id: 'API3',
  title: 'Broken object property level authorization',
  rules: [SCAN_RULES.massAssignment, SCAN_RULES.undeclaredFields, SCAN_RULES.sensitiveData],
  async run(ctx) {
    if (!ctx.identities[0]) return;
    for (const op of ctx.spec.operations) {
      if (op.method !== 'POST' || isExcluded(op) || jsonBodySchema(op) === undefined) continue;
      if (isLoginOperation(ctx.spec, op) || isBusinessFlow(ctx.spec, op) || isAdminOperation(op)) continue;
      await massAssignment(ctx, op);
    }
  },
  passive(ctx) {
    const doneExtra = new Set<string>();
    const doneSensitive = new Set<string>();
    for (const { operation: op, response } of ctx.observations) {
      if (!op || response.status < 200 || response.status >= 300 || response.json === undefined) continue;
      const schema = responseSchema(op, response.status);
      const extras: Extra[] = [];
      undeclared(ctx.spec, response.json, schema, '', extras);
      const extraPointers = new Set(extras.map((e) => e.pointer));
      if (extras.length > 0 && !doneExtra.has(op.id)) {
        doneExtra.add(op.id);
        ctx.report(SCAN_RULES.undeclaredFields, {
          operation: op,
          message: `${op.method} ${op.path} returned fields its schema does not declare: ${[...extraPointers].slice(0, 10).join(', ')}.`,
          evidence: evidenceOf(response, { fields: [...extraPointers].slice(0, 20) }),
        });
      }
      const found: string[] = [];
      sensitive(response.json, '', (p) => schema !== undefined && !extraPointers.has(p), found);
      const unique = [...new Set(found)];
      if (unique.length > 0 && !doneSensitive.has(op.id)) {
        doneSensitive.add(op.id);
        ctx.report(SCAN_RULES.sensitiveData, {
          operation: op,
          message: `${op.method} ${op.path} returned secrets or personal data: ${unique.slice(0, 10).join(', ')}.`,
          evidence: {
            request: `${response.sent.method} ${response.sent.url}`,
            status: response.status,
            fields: unique,
          },
        });
      }
    }
  },
};
