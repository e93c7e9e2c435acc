/**
 * Every policy of the validation and response-protection family compiles for every operation of every
 * OpenAPI document the project ships (fixtures in 2.0, 3.0 and 3.1, the demo API), including the
 * deliberately sloppy ones (those the loader itself refuses are skipped; a pattern the gateway refuses
 * must be one the audit names).
 */
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadApiDocument } from '../../../src/openapi/load.ts';
import { SchemaCompileError } from '../../../src/openapi/schema.ts';
import { compileCors, defaults as corsDefaults } from '../../../src/policies/cors/policy.ts';
import { compileProtectResponse } from '../../../src/policies/protect-response/policy.ts';
import { defaults as protectDefaults } from '../../../src/policies/protect-response/schema.ts';
import { compileSsrfGuard } from '../../../src/policies/ssrf-guard/policy.ts';
import { defaults as ssrfDefaults } from '../../../src/policies/ssrf-guard/schema.ts';
import { compileValidateRequest } from '../../../src/policies/validate-request/policy.ts';
import { defaults as validateDefaults } from '../../../src/policies/validate-request/schema.ts';
import { runAudit } from '../../../src/scanner/audit/index.ts';
import { createTestContext } from '../../kit/policy.ts';

const root = path.resolve(import.meta.dirname, '..', '..', '..');

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
      const t = createTestContext(spec);
      assert.ok(spec.operations.length > 0);
      const refusedPatterns = new Set<string>();
      for (const op of spec.operations) {
        const ctx = t.ctx(op.id);
        try {
          compileValidateRequest({ ...validateDefaults, mode: 'enforce' }, ctx);
          compileSsrfGuard({ ...ssrfDefaults, mode: 'enforce' }, ctx, async () => []);
          compileProtectResponse({ ...protectDefaults, mode: 'enforce' }, ctx);
          compileCors({ ...corsDefaults, mode: 'enforce', allowOrigins: ['https://app.example.com'] }, ctx);
        } catch (e) {
          // A pattern RE2 cannot run is refused on purpose (an audit fixture carries one); the audit
          // must name the same place.
          const at =
            / at (\S+\/pattern(?:Properties\/\S+)?): pattern .* cannot run on the linear-time engine/.exec(
              (e as Error).message,
            );
          if (!(e instanceof SchemaCompileError) || at === null) throw e;
          refusedPatterns.add(at[1]);
        }
      }
      if (refusedPatterns.size > 0) {
        const audited = (await runAudit(file)).findings
          .filter((f) => f.rule.id === 'audit/pattern-not-linear')
          .map((f) => f.location.pointer);
        for (const at of refusedPatterns)
          assert.ok(audited.includes(at), `${at} not in ${audited.join(', ')}`);
      }
    });
  }
});
