import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readXml } from './xml.ts';

test('XML:/* is the text of the root element in document order, XML://@* every attribute value', () => {
  assert.deepEqual(readXml('<?xml version="1.0"?><r a="1"><x>&lt;scr</x><y b=\'2&amp;3\'>ipt&gt;</y></r>'), {
    text: '<script>',
    attributes: ['1', '2&3'],
    wellFormed: true,
  });
});

test('reads CDATA, character references, comments, a DOCTYPE and line ends as libxml2 does', () => {
  const doc =
    '<!DOCTYPE r [<!ENTITY e "x">]>\r\n<r><!-- c --><![CDATA[<b>]]>&#x3c;&#62;&e;\r\n<?pi x?></r>\n';
  assert.deepEqual(readXml(doc), { text: '<b><>\n', attributes: [], wellFormed: true });
  // A character reference gives UTF-8 bytes, as libxml2 hands them to the rules.
  assert.equal(readXml('<r>&#233;</r>')?.text, '\xc3\xa9');
  // ISO-8859-1 documents are converted to UTF-8 first.
  assert.equal(readXml('<?xml version="1.0" encoding="ISO-8859-1"?><r>\xe9</r>')?.text, '\xc3\xa9');
});

test('a document with an error keeps what came before it, marked not well-formed', () => {
  // Measured on libmodsecurity 3.0.9: its XPath targets see the partial tree.
  assert.deepEqual(readXml('<r><a>&lt;script&gt;</a>'), {
    text: '<script>',
    attributes: [],
    wellFormed: false,
  });
  assert.deepEqual(readXml('<r><a>one</b>two</r>'), { text: 'one', attributes: [], wellFormed: false });
  // Invalid UTF-8 stops the parse where it stands.
  assert.deepEqual(readXml('<r>ok\xb4after</r>'), { text: 'ok', attributes: [], wellFormed: false });
  // An unknown entity without a DOCTYPE is an error too.
  assert.deepEqual(readXml('<r>x&nope;y</r>'), { text: 'x', attributes: [], wellFormed: false });
  // Attributes of an unfinished start tag do not count.
  assert.deepEqual(readXml('<r a="1"><b c="2"'), { text: '', attributes: ['1'], wellFormed: false });
  // Content after the root element is not part of it.
  assert.deepEqual(readXml('<r>x</r><script>'), { text: 'x', attributes: [], wellFormed: false });
});

test('no root element reads as nothing', () => {
  assert.equal(readXml('not xml <script>'), undefined);
  assert.equal(readXml(''), undefined);
  assert.equal(readXml('\xb4<r>x</r>'), undefined);
});

test('nesting deeper than 256 elements stops the parse (libxml2 default)', () => {
  const deep = `${'<a>'.repeat(300)}x${'</a>'.repeat(300)}`;
  assert.equal(readXml(deep)?.wellFormed, false);
  const ok = `${'<a>'.repeat(200)}x${'</a>'.repeat(200)}`;
  assert.deepEqual(readXml(ok), { text: 'x', attributes: [], wellFormed: true });
});

test('reads a 64 KB hostile document up to its unfinished tag', () => {
  const out = readXml(`<r>${'&lt;'.repeat(20000)}<a b="${'x'.repeat(65536)}`);
  assert.equal(out?.wellFormed, false);
  assert.equal(out?.text, '<'.repeat(20000));
});
