import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { AUDIT_RULES } from './rules.ts';
import { DOC_PATH, normaliseTables, renderRulesTable, withRulesTable } from './rules-table.ts';

test('docs/audit.md lists every audit rule as the catalogue describes it', async () => {
  const doc = await readFile(DOC_PATH, 'utf8');
  assert.equal(
    normaliseTables(doc),
    normaliseTables(withRulesTable(doc)),
    'run `npx node src/scanner/audit/rules-table.ts --write` to regenerate',
  );
  for (const r of AUDIT_RULES) assert.ok(renderRulesTable().includes(`\`${r.id}\``));
});
