/**
 * Every policy of the validation and response-protection family compiles for every operation of every
 * OpenAPI document the project ships (fixtures in 2.0, 3.0 and 3.1, the demo API), including the
 * deliberately sloppy ones (those the loader itself refuses are skipped).
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadApiDocument } from '../../src/openapi/load.ts';
import { compileCors, defaults as corsDefaults } from '../../src/policies/cors/policy.ts';
import { compileProtectResponse } from '../../src/policies/protect-response/policy.ts';
import { defaults as protectDefaults } from '../../src/policies/protect-response/schema.ts';
import { compileSsrfGuard } from '../../src/policies/ssrf-guard/policy.ts';
import { defaults as ssrfDefaults } from '../../src/policies/ssrf-guard/schema.ts';
import { compileValidateRequest } from '../../src/policies/validate-request/policy.ts';
import { defaults as validateDefaults } from '../../src/policies/validate-request/schema.ts';
import { testContext } from './support.ts';

const root = path.resolve(import.meta.dirname, '..', '..');

async function specFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const dir of ['test/fixtures/specs', 'test/fixtures/vulnerable-api', 'src/demo']) {
    let names: string[] = [];
    try {
      names = await readdir(path.join(root, dir));
    } catch {
      continue;
    }
    for (const n of names)
      if (/\.(ya?ml|json)$/.test(n) && n !== 'portcullis.yaml') out.push(path.join(root, dir, n));
  }
  return out;
}

describe('policies compile for every shipped OpenAPI document', async () => {
  const files = await specFiles();
  test('finds documents to compile', () => assert.ok(files.length >= 3, files.join(', ')));
  for (const file of files) {
    test(`compiles every operation of ${path.relative(root, file)}`, async () => {
      let spec: Awaited<ReturnType<typeof loadApiDocument>>;
      try {
        spec = await loadApiDocument(file);
      } catch (e) {
        if ((e as Error).name === 'SpecError') return;
        throw e;
      }
      const t = testContext();
      assert.ok(spec.operations.length > 0);
      for (const op of spec.operations) {
        const ctx = t.context(spec, op.id);
        compileValidateRequest({ ...validateDefaults, mode: 'enforce' }, ctx);
        compileSsrfGuard({ ...ssrfDefaults, mode: 'enforce' }, ctx, async () => []);
        compileProtectResponse({ ...protectDefaults, mode: 'enforce' }, ctx);
        compileCors({ ...corsDefaults, mode: 'enforce', allowOrigins: ['https://app.example.com'] }, ctx);
      }
    });
  }
});
