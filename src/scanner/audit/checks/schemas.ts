/**
 * Schema rules, run in one walk over every schema owner (named schema or inline operation schema). Findings
 * are grouped per owner and rule, listing the affected properties.
 */
import { patternRefusal } from '../../../openapi/pattern.ts';
import type { Severity } from '../../finding.ts';
import type { Emit } from '../collector.ts';
import { type AuditModel, type AuditOperation, type SchemaOwner, schemaChildren, typeIs } from '../model.ts';
import { R } from '../rules.ts';
import { isMapValue, type Json, type JsonMap } from '../source.ts';

/** Formats whose values have a bounded length, so `maxLength` adds nothing. */
const BOUNDED_FORMATS = new Set([
  'date',
  'date-time',
  'time',
  'uuid',
  'ipv4',
  'ipv6',
  'int32',
  'int64',
  'duration',
]);

const normalise = (name: string): string => name.toLowerCase().replace(/[-_.\s]/g, '');

/** Fields a client must never set itself. */
const PRIVILEGED = new Set(
  [
    'role',
    'roles',
    'isAdmin',
    'admin',
    'isSuperuser',
    'superuser',
    'isStaff',
    'permissions',
    'privileges',
    'scopes',
    'groups',
    'isVerified',
    'verified',
    'emailVerified',
    'approved',
    'isApproved',
    'balance',
    'credit',
    'credits',
    'ownerId',
    'owner',
    'createdBy',
    'tenantId',
  ].map(normalise),
);
/** Fields the server owns; writable ones are less dangerous but still unexpected. */
const SERVER_OWNED = new Set(
  ['id', 'createdAt', 'updatedAt', 'createdOn', 'modifiedAt', 'deletedAt'].map(normalise),
);
const SENSITIVE = new Set(
  [
    'password',
    'passwd',
    'pwd',
    'passwordHash',
    'hashedPassword',
    'passwordSalt',
    'salt',
    'secret',
    'clientSecret',
    'apiSecret',
    'secretKey',
    'privateKey',
    'ssn',
    'socialSecurityNumber',
    'creditCard',
    'creditCardNumber',
    'cardNumber',
    'pan',
    'cvv',
    'cvc',
    'cvv2',
    'pin',
    'mfaSecret',
    'totpSecret',
    'otpSecret',
  ].map(normalise),
);
const PERSONAL = new Set(
  [
    'email',
    'emailAddress',
    'phone',
    'phoneNumber',
    'mobile',
    'address',
    'streetAddress',
    'homeAddress',
    'dateOfBirth',
    'dob',
    'birthDate',
    'birthday',
    'ssn',
    'nationalId',
    'passportNumber',
    'iban',
    'taxId',
    'lastName',
    'surname',
    'fullName',
  ].map(normalise),
);
/** Names of inputs that carry a URL the server may fetch. */
export const URL_NAME =
  /(?:^|[-_])(?:url|uri|href|callback|webhook|redirect|redirect[-_]?uri|return[-_]?url|return[-_]?to|next[-_]?url|link|target|dest|destination|endpoint|proxy|feed|fetch|image[-_]?url|avatar[-_]?url|host|domain)$|(?:Url|Uri|Href|Callback|Webhook|Redirect|Endpoint|Host)$/;
const URL_FORMATS = new Set(['uri', 'url', 'iri', 'uri-reference', 'iri-reference', 'uri-template']);
const ADMIN_PATH = /(?:^|[/_-])admin(?:[/_-]|s?$|s?\/)/i;

/** True when every request use of the owner is on an admin path (they may legitimately set roles). */
function onlyAdminWriters(ops: Set<AuditOperation>): boolean {
  if (ops.size === 0) return false;
  for (const op of ops) if (!ADMIN_PATH.test(op.path)) return false;
  return true;
}

function listOps(ops: Iterable<AuditOperation>, max = 3): string {
  const all = [...ops].map((o) => o.label);
  return all.slice(0, max).join(', ') + (all.length > max ? ` and ${all.length - max} more` : '');
}

export function checkSchemas(model: AuditModel, emit: Emit): void {
  for (const owner of model.owners.values()) checkOwner(owner, emit);
}

function checkOwner(owner: SchemaOwner, emit: Emit): void {
  const inRequest = owner.requestOps.size > 0;
  const inResponse = owner.responseOps.size > 0;
  // A schema no operation uses is judged as an input: it may be wired up tomorrow.
  const responseOnly = inResponse && !inRequest;
  const anonymousReaders = [...owner.responseOps].filter((o) => o.isAnonymous);
  const adminOnly = onlyAdminWriters(owner.requestOps);
  const usage = inRequest
    ? `used in requests of ${listOps(owner.requestOps)}`
    : inResponse
      ? `used in responses of ${listOps(owner.responseOps)}`
      : 'not used by any operation';
  // Inline schemas already name their operation; shared ones say where they are used.
  const note = owner.pointer.startsWith('/paths/') ? undefined : usage;
  const base = { key: owner.pointer, anchor: owner.pointer, subject: owner.label, note };
  const limitSeverity = (s: Severity): Severity => (responseOnly ? 'info' : s);
  const rootName = /^schema (\S+)/.exec(owner.label)?.[1];
  const isParameter = owner.label.startsWith('parameter ');

  const stack: { node: Json; pointer: string; path: string; property?: string; depth: number }[] = [
    { node: owner.node, pointer: owner.pointer, path: '', depth: 0 },
  ];
  while (stack.length > 0) {
    const { node, pointer, path, property, depth } = stack.pop()!;
    if (!isMapValue(node) || depth > 64) continue;
    const label = path === '' ? undefined : path;
    const hit = { ...base, pointer, label };
    // Size and format rules are grouped by property name across schemas: "add maxLength to every
    // \`description\`" is one decision, not sixty findings.
    const leaf = label === undefined ? rootName : label.split('.').pop();
    const limitHit =
      label === undefined && isParameter
        ? { key: 'parameters', anchor: pointer, subject: 'parameters', pointer, label: owner.label.slice(10) }
        : leaf
          ? {
              key: `prop:${leaf}`,
              anchor: pointer,
              subject: `\`${leaf}\``,
              pointer,
              label: label && label !== leaf ? `${owner.label} (${label})` : owner.label,
            }
          : hit;

    if (typeIs(node, 'string') && node.type !== 'file') {
      const bounded =
        node.maxLength !== undefined ||
        Array.isArray(node.enum) ||
        node.const !== undefined ||
        BOUNDED_FORMATS.has(String(node.format));
      if (!bounded)
        emit(R.unboundedString, { ...limitHit, severity: limitSeverity(R.unboundedString.severity) });
      const restricted =
        node.format !== undefined ||
        node.pattern !== undefined ||
        Array.isArray(node.enum) ||
        node.const !== undefined;
      if (!restricted)
        emit(R.unrestrictedString, { ...limitHit, severity: limitSeverity(R.unrestrictedString.severity) });
    }
    // Spec patterns run on client input: one that needs backtracking is refused by the gateway (issue 13 item 6).
    const patterns: [string, string][] = [];
    if (typeof node.pattern === 'string') patterns.push([node.pattern, `${pointer}/pattern`]);
    if (isMapValue(node.patternProperties)) {
      for (const key of Object.keys(node.patternProperties))
        patterns.push([
          key,
          `${pointer}/patternProperties/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`,
        ]);
    }
    for (const [source, at] of patterns) {
      const why = patternRefusal(source);
      if (why !== undefined) {
        emit(R.patternNotLinear, {
          ...hit,
          key: at,
          anchor: at,
          pointer: at,
          note: why,
          evidence: { pattern: source },
        });
      }
    }
    if (typeIs(node, 'array') && node.maxItems === undefined) {
      emit(R.unboundedArray, { ...limitHit, severity: limitSeverity(R.unboundedArray.severity) });
    }
    if (typeIs(node, 'integer')) {
      const hasMin = node.minimum !== undefined || typeof node.exclusiveMinimum === 'number';
      const hasMax = node.maximum !== undefined || typeof node.exclusiveMaximum === 'number';
      if (!hasMin || !hasMax)
        emit(R.unboundedInteger, { ...limitHit, severity: limitSeverity(R.unboundedInteger.severity) });
      if (node.format !== 'int32' && node.format !== 'int64') {
        emit(R.integerFormat, { ...limitHit, severity: limitSeverity(R.integerFormat.severity) });
      }
    }
    for (const key of ['additionalProperties', 'unevaluatedProperties']) {
      const v = node[key];
      const keyHit = { ...hit, pointer: `${pointer}/${key}` };
      const keyLimitHit = { ...limitHit, pointer: `${pointer}/${key}` };
      if (v === true || (isMapValue(v) && Object.keys(v).length === 0)) {
        emit(R.openAdditionalProperties, { ...keyHit, severity: responseOnly ? 'info' : undefined });
      } else if (isMapValue(v) && node.maxProperties === undefined) {
        emit(R.unconstrainedAdditionalProperties, { ...keyLimitHit, severity: limitSeverity('low') });
      }
    }
    if (node.readOnly === true && node.writeOnly === true) emit(R.readOnlyConflict, hit);

    if (property !== undefined) {
      const name = normalise(property);
      // Grouped by property name across schemas: one finding per field to fix, listing every schema.
      const propHit = {
        key: `prop:${name}`,
        anchor: pointer,
        subject: `\`${property}\``,
        pointer,
        label: label && label !== property ? `${owner.label} (${label})` : owner.label,
      };
      if (inRequest && node.readOnly !== true && !adminOnly) {
        if (PRIVILEGED.has(name)) emit(R.massAssignment, { ...propHit, note: usage });
        else if (SERVER_OWNED.has(name)) emit(R.massAssignment, { ...propHit, severity: 'low', note: usage });
      }
      if (inResponse && node.writeOnly !== true && SENSITIVE.has(name)) {
        emit(R.sensitiveInResponse, { ...propHit, note: `returned by ${listOps(owner.responseOps)}` });
      }
      if (anonymousReaders.length > 0 && node.writeOnly !== true && PERSONAL.has(name)) {
        emit(R.personalDataUnprotected, {
          ...propHit,
          note: `returned without authentication by ${listOps(anonymousReaders)}`,
        });
      }
      if (
        inRequest &&
        node.readOnly !== true &&
        (URL_NAME.test(property) || URL_FORMATS.has(String(node.format)))
      ) {
        emit(R.ssrfParameter, propHit);
      }
    }

    // Pushed in reverse so properties come out in document order.
    const children = [...schemaChildren(node as JsonMap, pointer)].reverse();
    for (const child of children) {
      const step = child.step;
      const childPath =
        step === '' ? path : step.startsWith('[') || path === '' ? path + step : `${path}.${step}`;
      stack.push({
        node: child.node,
        pointer: child.pointer,
        path: childPath,
        property: child.property,
        depth: depth + 1,
      });
    }
  }
}
