/**
 * Config schema tests of the validation family: the YAML a user writes is validated with exact paths,
 * and defaults are filled in.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/cli/config.ts';
import { ConfigError, formatIssue } from '../../src/config/load.ts';
import type { Operation } from '../../src/core/api-document.ts';
import { policyConfigFor } from '../../src/gateway/pipeline.ts';
import { policies } from '../../src/policies/registry.ts';

function parse(policies: string): { issues: string[]; config?: ReturnType<typeof parseConfig> } {
  const yaml = `version: 1
apis:
  - name: shop
    spec: ./openapi.yaml
    upstream: { url: 'http://127.0.0.1:3000' }
    policies:
${policies}`;
  try {
    return { issues: [], config: parseConfig(yaml, '/etc/portcullis.yaml', {}) };
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return { issues: e.issues.map(formatIssue) };
  }
}

describe('validation policy config', () => {
  test('accepts the documented example and fills in defaults', () => {
    const { issues, config } = parse(`      validateRequest:
        additionalProperties: strip
        maxJsonDepth: 16
      ssrfGuard:
        allowHosts: ['hooks.example.com', '*.cdn.example.net']
      protectResponse:
        dataLeak: block
        dataLeakDetectors: [privateKey, apiKey, cardNumber]
      securityHeaders:
        hstsPreload: true
      cors:
        allowOrigins: ['https://app.example.com']
        allowCredentials: true`);
    assert.deepEqual(issues, []);
    // Defaults are filled when a policy is compiled for an operation (after spec, API and operation merge).
    const api = config!.apis[0];
    const byName = new Map(policies.map((d) => [d.name, d]));
    const p = Object.fromEntries(
      Object.keys(api.policies ?? {}).map((name) => [
        name,
        policyConfigFor(
          byName.get(name)!,
          api,
          { id: 'anyOperation' } as Operation,
          undefined,
        ) as unknown as Record<string, unknown>,
      ]),
    );
    assert.equal(p.validateRequest.maxArrayItems, 1000);
    assert.equal(p.validateRequest.mode, 'enforce');
    assert.deepEqual(p.ssrfGuard.allowSchemes, ['https', 'http']);
    assert.equal(p.protectResponse.maskServerErrors, true);
    assert.equal(p.cors.maxAgeSeconds, 600);
  });

  test('reports each wrong value with its path', () => {
    const { issues } = parse(`      validateRequest:
        additionalProperties: drop
        maxJsonDepth: 0
      ssrfGuard:
        allowHosts: ['http://evil/']
      protectResponse:
        dataLeakDetectors: [ssn]
      cors:
        allowOrigins: ['*']
        allowCredential: true`);
    // Paths are this family's contract; the wording belongs to the config loader.
    assert.deepEqual(issues.map((i) => i.slice(0, i.indexOf(':'))).sort(), [
      'apis[0].policies.cors.allowCredential',
      'apis[0].policies.cors.allowOrigins[0]',
      'apis[0].policies.protectResponse.dataLeakDetectors[0]',
      'apis[0].policies.ssrfGuard.allowHosts[0]',
      'apis[0].policies.validateRequest.additionalProperties',
      'apis[0].policies.validateRequest.maxJsonDepth',
    ]);
  });
});
