/**
 * Scale check of src/waf/detect (issue 17): runs detectSQLi and detectXSS on 64 KB inputs of the shapes that
 * stress a tokenizer (runs of quotes, comment openers, tags, entities, dollar tags...) and on 4 KB of the
 * same, and prints the times: linear work keeps the 64 KB/4 KB ratio near 16 (quadratic would be ~256).
 * Run: npx node test/waf/detect-scale.ts (a measurement, not a test: no timed assertions).
 */
import { detectSQLi, detectXSS } from '../../src/waf/detect/index.ts';

const shapes: Record<string, string> = {
  quotes: "'".repeat(65536),
  backslashQuote: "\\'".repeat(32768),
  dashes: '-'.repeat(65536),
  comments: '/*'.repeat(32768),
  commentsClosed: '/**/'.repeat(16384),
  words: 'select '.repeat(9362),
  dollars: '$a$'.repeat(21845),
  ltgt: '<'.repeat(65536),
  tags: '<a '.repeat(21845),
  attrs: '<a b=c '.repeat(9362),
  ents: '<a href=&#'.repeat(6553),
  dashComment: '<!--'.repeat(16384),
  minus: '<!-- -'.repeat(10922),
  qstr: "q'(".repeat(21845),
  nums: '1.e'.repeat(21845),
  amp: '&#x'.repeat(21845),
  at: '@'.repeat(65536),
  brackets: '['.repeat(65536),
  mixed: "1' or '1'='1 ".repeat(5041),
  cdata: '<![CDATA['.repeat(7281),
  percent: '<%'.repeat(32768),
  slashes: '/'.repeat(65536),
};
for (const [name, s] of Object.entries(shapes)) {
  const small = s.slice(0, 4096);
  let t = performance.now();
  for (let i = 0; i < 16; i++) {
    detectSQLi(small);
    detectXSS(small);
  }
  const tSmall = (performance.now() - t) / 16;
  t = performance.now();
  detectSQLi(s);
  detectXSS(s);
  const tBig = performance.now() - t;
  console.log(
    name.padEnd(16),
    `${s.length}B ${tBig.toFixed(2)}ms  (4KB ${tSmall.toFixed(3)}ms, ratio ${(tBig / tSmall).toFixed(1)} for 16x input)`,
  );
}
