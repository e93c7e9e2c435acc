import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CoverageCell, FindingsResult } from '../finding.ts';
import { renderHtml, renderText } from './index.ts';

/** A scan whose matrix says, for three operations in two checks each, where their path ids came from. */
function withIds(extra = 0): FindingsResult {
  const header = "user_id=2 alice's own, from its x-user-id header";
  const confirmed =
    "appointment_id=1 confirmed in discovery (small id: alice got a record, 200; alice's by its owner member)";
  const hostile = 'no value for <b>id</b> was confirmed\u001b[31m\n(16 tries)';
  const cells = (operation: string, ids?: string): CoverageCell[] =>
    ['API1', 'API3'].map((check) => ({
      check,
      operation,
      status: 'tested',
      requests: 2,
      ...(ids === undefined ? {} : { ids }),
    }));
  const matrix = [
    ...cells('GET /users/{user_id}/prescriptions', header),
    ...cells('GET /appointments', undefined),
    ...cells('GET /appointments/{appointment_id}', confirmed),
    ...cells('GET /admin/files/{id}', hostile),
    ...Array.from({ length: extra }, (_, i) =>
      cells(`GET /things${i}/{id}`, `id: none confirmed ${i}`),
    ).flat(),
  ];
  return {
    kind: 'scan',
    target: 'http://127.0.0.1:1',
    findings: [],
    rules: [],
    stats: { requests: 9 },
    coverage: {
      checks: ['API1', 'API3'].map((check) => ({
        check,
        tested: 4 + extra,
        findings: 0,
        skipped: 0,
        requests: 8 + 2 * extra,
        untestedRules: [],
      })),
      matrix,
    },
  };
}

describe("the coverage matrix's path ids in the text and HTML reports", () => {
  test('text: one line an operation that has them (not one a cell), cleaned', () => {
    const lines = renderText(withIds()).split('\n');
    const head = lines.indexOf('Path ids nothing listed (3): where their values came from');
    assert.ok(head > 0, lines.join('\n'));
    assert.deepEqual(lines.slice(head + 1, head + 5), [
      "  - GET /users/{user_id}/prescriptions: user_id=2 alice's own, from its x-user-id header",
      "  - GET /appointments/{appointment_id}: appointment_id=1 confirmed in discovery (small id: alice got a record, 200; alice's by its owner member)",
      '  - GET /admin/files/{id}: no value for <b>id</b> was confirmed [31m (16 tries)',
      '',
    ]);
  });

  test('text: at most 10 operations, then how many more the JSON report has', () => {
    const text = renderText(withIds(12));
    assert.match(text, /^Path ids nothing listed \(15\): /m);
    const section = text.slice(text.indexOf('Path ids nothing listed'));
    assert.equal(section.match(/^ {2}- GET /gm)?.length, 10);
    assert.match(section, /^ {2}- and 5 more in the JSON report$/m);
  });

  test('HTML: every operation with its ids, escaped', () => {
    const html = renderHtml(withIds(12));
    const table = /<h2>Path ids nothing listed \(15\): [^<]*<\/h2>\n<table class="ids">(.*?)<\/table>/s.exec(
      html,
    );
    assert.ok(table, 'a path-ids table');
    const rows = [...table[1]!.matchAll(/<tr><td><code>(.*?)<\/code><\/td><td>(.*?)<\/td><\/tr>/g)];
    assert.equal(rows.length, 15);
    assert.deepEqual(rows[0]!.slice(1), [
      'GET /users/{user_id}/prescriptions',
      'user_id=2 alice&#39;s own, from its x-user-id header',
    ]);
    assert.equal(rows[2]![2], 'no value for &lt;b&gt;id&lt;/b&gt; was confirmed [31m (16 tries)');
    assert.doesNotMatch(html, /<b>id|\u001b/);
  });

  test('neither report has the section when no cell carries ids', () => {
    const result = withIds();
    const bare = {
      ...result,
      coverage: { ...result.coverage!, matrix: result.coverage!.matrix.map(({ ids: _, ...cell }) => cell) },
    };
    assert.doesNotMatch(renderText(bare), /Path ids/);
    assert.doesNotMatch(renderHtml(bare), /Path ids/);
  });
});
