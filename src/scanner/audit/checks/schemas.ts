/**
 * Schema rules, run in one walk over every schema owner (named schema or inline operation schema). Findings
 * are grouped per owner and rule, listing the affected properties.
 */
import type { Severity } from '../../finding.ts';
import type { Emit, Hit } from '../collector.ts';
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

/** A spec pattern the walk could not clear on sight: it waits for the RE2 compile (see `emitPatternRefusals`). */
export interface PatternCheck {
  readonly source: string;
  readonly hit: Hit;
}

/**
 * Runs the schema rules. Patterns that `plainPattern` cannot clear are pushed to `patterns` for
 * `emitPatternRefusals`, so the RE2 engine (re2js) loads only for a spec that has such a pattern.
 */
export function checkSchemas(model: AuditModel, emit: Emit, patterns: PatternCheck[]): void {
  for (const owner of model.owners.values()) checkOwner(owner, emit, patterns);
}

/**
 * Emits a finding for each pattern the gateway would refuse (`refusal` is `patternRefusal` from
 * src/openapi/pattern.ts), in the order the walk met them.
 */
export function emitPatternRefusals(
  patterns: readonly PatternCheck[],
  refusal: (source: string) => string | undefined,
  emit: Emit,
): void {
  for (const { source, hit } of patterns) {
    const why = refusal(source);
    if (why !== undefined) emit(R.patternNotLinear, { ...hit, note: why });
  }
}

// What `plainPattern` reads. Outside a class: letters, digits and punctuation that means itself in ECMA-262
// and RE2 alike; inside a class also the operators, which mean themselves there. No `[`, `^` or `:` inside
// a class (RE2 reads `[:alpha:]`), no `]` or `}` outside one.
const PLAIN_CHAR = /[A-Za-z0-9 _,;:=@#%&'"!~<>/-]/;
const PLAIN_CLASS_CHAR = /[A-Za-z0-9 _,;=@#%&'"!~<>/.+*?(){}|$]/;
// Escapes both engines read the same way, in and out of a class: \d \D \w \W and escaped operators.
const PLAIN_ESCAPE = /[dDwW.\\/+*?()[\]{}|^$]/;
const PLAIN_RANGE = /^(?:[0-9]-[0-9]|[a-z]-[a-z]|[A-Z]-[A-Z])$/;
const QUANTIFIER = /\{(\d{1,4})(?:(,)(\d{0,4}))?\}/y;
/**
 * The weight of a pattern's counted repetitions: each `{n,m}` adds m (n when open), times the weight of what
 * it repeats when that is a group. At most this much stays far below RE2's limits (1000 per count, nested
 * counts multiplied, 1.4 million instructions).
 */
const PLAIN_REPEAT_BUDGET = 1000;

/**
 * Whether a pattern is plain enough that `compileSpecPattern` (src/openapi/pattern.ts) surely accepts it:
 * anchors, literal characters, `.`, the escapes above and classes of them (ranges between two digits or two
 * letters of one case), groups (`(...)`, `(?:...)`) and alternatives that are not empty, each atom or group
 * at most once quantified (`* + ?`, `{n}`, `{n,}`, `{n,m}`, optionally lazy). Real specs are mostly such
 * patterns (`^AC[0-9a-fA-F]{32}$`); anything else is left to the RE2 compile. False is always safe: it only
 * costs loading RE2.
 */
export function plainPattern(source: string): boolean {
  if (source.length > 512) return false;
  // One frame per open group: the weight inside it, and whether its current alternative has an atom yet.
  const frames: { weight: number; filled: boolean }[] = [{ weight: 0, filled: false }];
  let top = frames[0]!;
  // What a quantifier here would repeat: nothing, an atom, or a group of this weight.
  let last: 'none' | 'atom' | number = 'none';
  let i = 0;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '^' || c === '$') {
      last = 'none';
      i++;
    } else if (c === '\\') {
      // `\-` means `-` only inside a class in ECMA-262's Unicode grammar.
      if (!PLAIN_ESCAPE.test(source[i + 1] ?? '')) return false;
      last = 'atom';
      i += 2;
    } else if (c === '[') {
      const end = plainClassEnd(source, i);
      if (end < 0) return false;
      last = 'atom';
      i = end;
    } else if (c === '(') {
      if (source[i + 1] === '?') {
        if (source[i + 2] !== ':') return false;
        i += 2;
      }
      top.filled = true;
      top = { weight: 0, filled: false };
      frames.push(top);
      last = 'none';
      i++;
    } else if (c === ')' || c === '|') {
      // No empty alternative or group: each has an atom or a group.
      if (!top.filled) return false;
      if (c === '|') {
        top.filled = false;
        last = 'none';
        i++;
        continue;
      }
      if (frames.length === 1) return false;
      const group = frames.pop()!;
      top = frames[frames.length - 1]!;
      top.weight += group.weight;
      last = group.weight;
      i++;
    } else if (c === '*' || c === '+' || c === '?' || c === '{') {
      if (last === 'none') return false;
      if (c === '{') {
        QUANTIFIER.lastIndex = i;
        const q = QUANTIFIER.exec(source);
        if (q === null) return false;
        const min = Number(q[1]);
        const max = q[2] === undefined || q[3] === '' ? min : Number(q[3]);
        if (min > max) return false;
        // A counted group: its weight counts max times instead of once.
        top.weight += last === 'atom' ? max : max * Math.max(1, last) - last;
        i += q[0].length;
      } else i++;
      if (source[i] === '?') i++;
      last = 'none';
    } else if (c === '.' || PLAIN_CHAR.test(c)) {
      top.filled = true;
      last = 'atom';
      i++;
    } else return false;
    if (top.weight > PLAIN_REPEAT_BUDGET) return false;
    if (last === 'atom') top.filled = true;
  }
  return frames.length === 1 && top.filled && top.weight <= PLAIN_REPEAT_BUDGET;
}

/** Where a plain class that opens at `start` ends (the index after its `]`), or -1 when it is not plain. */
function plainClassEnd(source: string, start: number): number {
  let i = start + 1;
  if (source[i] === '^') i++;
  const first = i;
  for (;;) {
    const c = source[i];
    if (c === undefined) return -1;
    if (c === ']') return i === first ? -1 : i + 1;
    if (c === '-') {
      // A dash means itself only first or last.
      if (i !== first && source[i + 1] !== ']') return -1;
      i++;
    } else if (c === '\\') {
      if (source[i + 1] !== '-' && !PLAIN_ESCAPE.test(source[i + 1] ?? '')) return -1;
      i += 2;
      if (source[i] === '-' && source[i + 1] !== ']') return -1;
    } else if (source[i + 1] === '-' && source[i + 2] !== undefined && source[i + 2] !== ']') {
      const range = source.slice(i, i + 3);
      if (!PLAIN_RANGE.test(range) || range.charCodeAt(0) > range.charCodeAt(2)) return -1;
      i += 3;
    } else if (PLAIN_CLASS_CHAR.test(c)) i++;
    else return -1;
  }
}

function checkOwner(owner: SchemaOwner, emit: Emit, deferred: PatternCheck[]): void {
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
      if (plainPattern(source)) continue;
      deferred.push({
        source,
        hit: { ...hit, key: at, anchor: at, pointer: at, evidence: { pattern: source } },
      });
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
