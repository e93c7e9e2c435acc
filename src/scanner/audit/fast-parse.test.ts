import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse, stringify } from 'yaml';
import { fastParse, UnsupportedYaml } from './fast-parse.ts';
import { auditText } from './index.ts';

const dir = join(import.meta.dirname, '../../../test/fixtures/specs');

/** Snippets in the supported subset: the fast parser must read them exactly as the yaml package does. */
const SUPPORTED: Record<string, string> = {
  'plain scalars of every core-schema type': `a: 1\nb: -2.5\nc: 1e3\nd: .5\ne: true\nf: False\ng: null\nh: ~\ni:\nj: 0x1F\nk: 0o17\nl: .inf\nm: hello world\nn: 2024-01-01\no: '007'\np: +12\n`,
  'quoted scalars with escapes': `a: "tab\\there \\u00e9 \\"q\\" \\\\"\nb: 'it''s'\nc: "#not a comment"\nd: 'x: y'\n`,
  'comments everywhere': `# head\na: 1 # trailing\n# between\nb:\n  # inside\n  c: d#not-a-comment\n`,
  'nested maps and sequences, compact and indented': `paths:\n  /pets/{id}:\n    get:\n      tags:\n        - pets\n        - read\n      parameters:\n      - name: id\n        in: path\n        schema: { type: integer, format: int64 }\n      - - nested\n        - seq\n`,
  'flow collections over several lines': `a: { b: [1, 2, { c: 'd, e' }], f: "g" }\nh: [\n  one,\n  two,\n]\nk: {}\nl: []\n`,
  'block scalars with chomping': `a: |\n  line 1\n    indented\n\n  line 3\nb: >\n  folded\n  text\n\n  para\nc: |-\n  strip\nd: |+\n  keep\n\ne: >-\n  x\n  y\nf: z\n`,
  'block scalars inside compact maps in sequences':
    `a:\n  - description: |\n      text\n      more\n    name: x\n  - b: >-\n      folded\n      line\n    c: 2\n- |\n  ignored\n`.replace(
      '- |\n  ignored\n',
      '',
    ),
  'block scalars as sequence items': `- |\n  block item\n- plain\n- >\n  f1\n  f2\n- - |\n    deep\n  - y\n`,
  'multi-line plain scalars': `description: This is\n  a long description\n  on three lines\nnext: 1\n`,
  'integer keys and urls': `responses:\n  200:\n    description: ok\n  '404':\n    description: nf\nurl: http://example.com:8080/x?y=1\n`,
  'a JSON document': `{\n  "openapi": "3.0.3",\n  "info": {"title": "t", "version": "1"},\n  "paths": {"/a": {"get": {"responses": {"200": {"description": "ok"}}}}},\n  "x": [1, -2.5e3, true, null, "\\u00e9\\/"]\n}\n`,
  'a document start marker and CRLF line ends': `---\r\na: 1\r\nb:\r\n  - x\r\n`,
  'quoted scalars over several lines': `a: 'one\n  two  \n\n  three''s'\nb: "x\n    y \\t\n  z"\nc:\n  - "folded\\\n    escaped break"\n  - 'k': 'v\n      w' # comment\nd: 1\n`,
  'quotes inside multi-line plain scalars': `description: for example '"language" ==\n  "spanish"' if no worker\n  matches # note\nnext: true\n`,
};

/** Constructs outside the subset: the fast parser must refuse them (the yaml package takes over). */
const UNSUPPORTED: Record<string, string> = {
  anchors: `a: &x { b: 1 }\nc: *x\n`,
  tags: `a: !!str 1\n`,
  'merge keys': `a: { b: 1 }\nc:\n  <<: { d: 2 }\n`,
  'complex keys': `? a\n: b\n`,
  'several documents': `a: 1\n---\nb: 2\n`,
  'tabs in indentation': `a:\n\tb: 1\n`,
  'a quoted scalar continued at its key column': `a: 'one\nb: two'\n`,
  'an unterminated quoted scalar': `a: "one\n  two\n`,
};

describe('fast YAML subset parser', () => {
  for (const [name, text] of Object.entries(SUPPORTED)) {
    test(`reads ${name} exactly as the yaml package does`, () => {
      assert.deepEqual(fastParse(text).value, parse(text));
    });
  }
  for (const [name, text] of Object.entries(UNSUPPORTED)) {
    test(`refuses ${name}`, () => {
      assert.throws(() => fastParse(text), UnsupportedYaml);
    });
  }

  test('reads every spec fixture exactly as the yaml package does', async () => {
    for (const f of await readdir(dir)) {
      const text = await readFile(join(dir, f), 'utf8');
      assert.deepEqual(fastParse(text).value, parse(text), f);
    }
  });

  test('reads 500 random documents written in every YAML style as the yaml package does, or refuses them', () => {
    let seed = 42;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const words = [
      'a',
      'b c',
      'x: y',
      '#x',
      'y #z',
      "it's",
      '"q"',
      'http://h/p?q=1',
      '- d',
      '1',
      '1.5',
      'true',
      'null',
      '',
      ' lead',
      'trail ',
      'multi\nline',
      'multi\nline\n',
      'tab\there',
      '{x}',
      '[y]',
      '*',
      '&a',
      '|',
      '>',
      '%',
      '@',
      'é',
      'a\\b',
      '0x1f',
      '.inf',
      '~',
      'Yes',
      '2024-01-01',
      '-',
      '?',
      ':',
      'k:',
      'a  b',
      'x\n\ny',
    ];
    const gen = (depth: number): unknown => {
      const r = rnd();
      if (depth > 4 || r < 0.35)
        return pick<unknown>([pick(words), Math.floor(rnd() * 1000), rnd(), true, null, -3]);
      if (r < 0.7) {
        const o: Record<string, unknown> = {};
        for (let i = Math.floor(rnd() * 4); i > 0; i--)
          o[pick(words) + (rnd() < 0.5 ? String(i) : '')] = gen(depth + 1);
        return o;
      }
      return Array.from({ length: Math.floor(rnd() * 4) }, () => gen(depth + 1));
    };
    let read = 0;
    for (let i = 0; i < 500; i++) {
      const text = stringify(
        { root: gen(0), other: gen(0) },
        {
          lineWidth: pick([0, 20, 80]),
          minContentWidth: 0,
          collectionStyle: pick(['any', 'block', 'flow'] as const),
          defaultStringType: pick([
            'PLAIN',
            'BLOCK_LITERAL',
            'BLOCK_FOLDED',
            'QUOTE_DOUBLE',
            'QUOTE_SINGLE',
          ] as const),
          indentSeq: rnd() < 0.5,
        },
      );
      let value: unknown;
      try {
        value = fastParse(text).value;
      } catch (err) {
        assert.ok(err instanceof UnsupportedYaml, `crash on:\n${text}`);
        continue;
      }
      assert.deepEqual(value, parse(text), text);
      read++;
    }
    assert.ok(read > 450, `only ${read} of 500 read without falling back`);
  });

  test('counts lines through quoted scalars that span several', () => {
    const { value, lines } = fastParse('a: \'x\n  y\'\nb:\n  c: "1\n\n    2"\n  d: 3\n');
    const b = (value as Record<string, Record<string, unknown>>).b!;
    assert.equal((lines.get(value as object) as Map<string, number>).get('b'), 3);
    assert.equal((lines.get(b) as Map<string, number>).get('d'), 7);
    assert.equal(b.c, '1\n2');
  });

  test('records the line of every key and sequence item', () => {
    const { value, lines } = fastParse('a:\n  b: 1\n  c:\n    - x\n    - { d: 2 }\n');
    const a = (value as Record<string, Record<string, unknown>>).a!;
    assert.equal((lines.get(value as object) as Map<string, number>).get('a'), 1);
    assert.equal((lines.get(a) as Map<string, number>).get('c'), 3);
    assert.deepEqual(lines.get(a.c as object), [4, 5]);
  });

  test('gives the same findings and lines whichever parser reads the spec', async () => {
    for (const f of ['bad-3.0.yaml', 'bad-2.0.yaml', 'bad-3.1.yaml']) {
      const text = await readFile(join(dir, f), 'utf8');
      const fast = await auditText(f, text);
      // An anchor the fast parser refuses sends the same document through the yaml package.
      const slow = await auditText(f, text.replace(/^info:/m, 'x-anchor: &unused 1\ninfo:'));
      assert.equal(fast.stats.parser, 'fast');
      assert.equal(slow.stats.parser, 'yaml');
      const shift = (l: number | undefined) => (l === undefined ? l : l > 1 ? l + 1 : l);
      const summary = (r: typeof fast, adjust: boolean) =>
        r.findings
          .filter((x) => !x.location.pointer.startsWith('/x-anchor'))
          .map((x) => [x.rule.id, x.location.pointer, adjust ? shift(x.location.line) : x.location.line]);
      assert.deepEqual(summary(slow, false), summary(fast, true), f);
    }
  });
});
