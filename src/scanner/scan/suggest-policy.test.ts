import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { operationOf, specOf } from '../../../test/kit/policy.ts';
import type { Finding, RuleInfo } from '../finding.ts';
import { SCAN_RULES } from './rules.ts';
import { type ApiBlock, POLICY_SUGGESTIONS, suggestPolicy } from './suggest-policy.ts';

const SPEC = specOf({
  paths: {
    '/login': { post: { operationId: 'login', responses: { '200': { description: 'a token' } } } },
    '/notes/{id}': {
      get: {
        operationId: 'getNote',
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        responses: { '200': { description: 'a note' } },
      },
    },
  },
  securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
  security: [{ bearer: [] }],
});

function findingOf(rule: RuleInfo, operationId = 'login'): Finding {
  const op = operationOf(SPEC, operationId);
  return {
    rule,
    severity: rule.severity,
    message: `${rule.title} at ${op.method} ${op.path}`,
    location: { file: SPEC.file, pointer: '/paths' },
    operation: { method: op.method, path: op.path, operationId },
    fingerprint: '0'.repeat(32),
  };
}

type Fragment = {
  policies: Record<string, unknown>;
  operations?: Record<string, { policies: Record<string, unknown> }>;
};

describe('suggestPolicy: every scan rule has an entry', () => {
  test('each rule id of SCAN_RULES has a suggestion, and the table names no rule that does not exist', () => {
    const ids = Object.values(SCAN_RULES).map((r) => r.id);
    const missing = ids.filter((id) => {
      const s = (
        POLICY_SUGGESTIONS as Record<string, (typeof POLICY_SUGGESTIONS)[keyof typeof POLICY_SUGGESTIONS]>
      )[id];
      return s === undefined || (s.api === undefined && s.operation === undefined && !s.routing && !s.inApi);
    });
    assert.deepEqual(missing, []);
    assert.deepEqual(Object.keys(POLICY_SUGGESTIONS).sort(), [...ids].sort());
  });

  test('a finding of any rule changes the fragment: a policy, an operation block, or a line naming the rule', () => {
    const nothing = suggestPolicy([], SPEC);
    for (const rule of Object.values(SCAN_RULES)) {
      const yaml = suggestPolicy([findingOf(rule)], SPEC);
      assert.notEqual(yaml, nothing, rule.id);
      const fragment = parse(yaml) as Fragment;
      const s = POLICY_SUGGESTIONS[rule.id as keyof typeof POLICY_SUGGESTIONS];
      for (const block of s.api ?? []) assert.ok(block in fragment.policies, `${rule.id}: ${block}`);
      if (s.operation === 'ownershipHint' || s.operation === 'pageSizeHint')
        assert.match(yaml, /^# login:$/m, rule.id);
      else if (s.operation !== undefined) assert.ok(fragment.operations?.login, rule.id);
      if (s.inApi !== undefined || s.routing) assert.match(yaml, new RegExp(`^#.*${rule.id}\\b`, 'm'));
    }
  });

  test('the session-10 rules: what the gateway can do, and the fix that only the API can make', () => {
    const yaml = (rule: RuleInfo) => suggestPolicy([findingOf(rule)], SPEC);
    const policies = (rule: RuleInfo) => Object.keys((parse(yaml(rule)) as Fragment).policies).sort();
    const none: ApiBlock[] = [];
    const cases: [RuleInfo, ApiBlock[]][] = [
      [SCAN_RULES.accountTakeover, none],
      [SCAN_RULES.passwordChangeWithoutCurrent, none],
      [SCAN_RULES.sessionNotEnded, none],
      [SCAN_RULES.tokenWithoutExpiry, ['authenticate']],
      [SCAN_RULES.wrongPasswordAccepted, none],
      [SCAN_RULES.redos, ['validateRequest']],
      [SCAN_RULES.xxe, ['validateRequest']],
      [SCAN_RULES.unrestrictedUpload, ['securityHeaders', 'validateRequest']],
    ];
    for (const [rule, expected] of cases) {
      assert.deepEqual(policies(rule), expected, rule.id);
      assert.match(yaml(rule), new RegExp(`^# {3}${rule.id} \\(login\\): \\S`, 'm'), rule.id);
    }
    // An account takeover is an ownership problem too: the commented authorize hint on its operation.
    assert.match(yaml(SCAN_RULES.accountTakeover), /^# login:\n# {3}API1: /m);
  });

  test('nothing found: no policies and no notes', () => {
    const yaml = suggestPolicy([], SPEC);
    assert.deepEqual(parse(yaml), { policies: {} });
    assert.doesNotMatch(yaml, /scan\//);
  });
});
