import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../../test/kit/random.ts';
import { compileSecLang } from '../load.ts';
import type { WafRequest } from '../types.ts';
import { compileKeywords } from './aho-corasick.ts';
import { plainClasses } from './compile.ts';
import { compileRegex, requiredFactors, withoutGaps } from './regex.ts';
import { readRequestBody } from './request.ts';
import {
  ALL_CHARS,
  CHAR,
  charClasses,
  cmdLine,
  htmlEntityDecode,
  normalizePath,
  readUnicodeMap,
  TRANSFORM_TRIGGERS,
  TRANSFORMS,
  urlDecodeUni,
  utf8toUnicode,
} from './transforms.ts';

function get(uri: string, headers: [string, string][] = []): WafRequest {
  return {
    method: 'GET',
    uri,
    protocol: 'HTTP/1.1',
    headers: [['Host', 'x'], ...headers],
    remoteAddr: '127.0.0.1',
  };
}

const SCORING = `
SecDefaultAction "phase:2,log,pass"
SecAction "id:1,phase:1,nolog,pass,setvar:tx.anomaly_score=0"
SecRule ARGS "@rx (?i)union\\s+select" "id:10,phase:2,block,capture,t:none,t:urlDecodeUni,msg:'sqli',logdata:'%{TX.0}',tag:'attack-sqli',setvar:'tx.anomaly_score=+5'"
SecRule ARGS_NAMES "@pm evil bad" "id:11,phase:2,block,setvar:'tx.anomaly_score=+3'"
SecRule TX:ANOMALY_SCORE "@ge 5" "id:20,phase:2,deny,msg:'blocked %{tx.anomaly_score}'"
`;

test('scores each matching value and blocks at the threshold rule', () => {
  const { ruleSet, issues } = compileSecLang(SCORING);
  assert.deepEqual(issues, []);
  const v = ruleSet.evaluate(get('/?a=1%20UNION%20SELECT%20x&b=union+select'));
  assert.equal(v.anomalyScore, 10);
  assert.equal(v.blocked, true);
  assert.deepEqual(
    v.matches.map((m) => m.id),
    [10, 20],
  );
  assert.equal(v.matches[0].variable, 'ARGS:b');
  assert.equal(v.matches[1].msg, 'blocked 10');
});

test('lets a benign request through with no match', () => {
  const { ruleSet } = compileSecLang(SCORING);
  const v = ruleSet.evaluate(get('/?q=hello'));
  assert.equal(v.blocked, false);
  assert.deepEqual(v.matches, []);
});

test('removes a rule or one of its targets by exclusion', () => {
  const { ruleSet } = compileSecLang(SCORING);
  const r = get('/?a=union%20select');
  assert.equal(ruleSet.evaluate(r, { removeIds: new Set([10]) }).anomalyScore, 0);
  assert.equal(ruleSet.evaluate(r, { removeTargets: new Map([[10, ['ARGS:a']]]) }).anomalyScore, 0);
  assert.equal(ruleSet.evaluate(r, { removeTags: new Set(['attack-sqli']) }).anomalyScore, 0);
  assert.equal(ruleSet.evaluate(r).anomalyScore, 5);
});

test('follows chains, skipAfter markers and ctl exclusions', () => {
  const { ruleSet, issues } = compileSecLang(`
SecRule REQUEST_HEADERS:X-Skip "@streq 1" "id:1,phase:1,pass,nolog,skipAfter:END"
SecRule REQUEST_HEADERS:X-Off "@streq 1" "id:2,phase:1,pass,nolog,ctl:ruleRemoveById=4"
SecRule REQUEST_METHOD "@streq GET" "id:3,phase:1,pass,chain"
  SecRule &REQUEST_HEADERS:X-Need "@eq 0" "setvar:tx.missing=1"
SecRule ARGS "@contains x" "id:4,phase:2,pass"
SecMarker END
SecRule ARGS "@contains y" "id:5,phase:2,pass"
`);
  assert.deepEqual(issues, []);
  const ids = (r: WafRequest) => ruleSet.evaluate(r).matches.map((m) => m.id);
  assert.deepEqual(ids(get('/?a=xy')), [3, 4, 5]);
  assert.deepEqual(ids(get('/?a=xy', [['X-Need', '1']])), [4, 5]);
  assert.deepEqual(ids(get('/?a=xy', [['X-Off', '1']])), [3, 5]);
  assert.deepEqual(ids(get('/?a=y', [['X-Skip', '1']])), [5]);
});

test('names JSON body arguments as libmodsecurity does', () => {
  const { ruleSet } = compileSecLang(`SecRule ARGS_NAMES "@rx ^json\\.c\\.array_1$" "id:3,phase:2,pass"
SecRule ARGS_NAMES "@streq json.a.b" "id:4,phase:2,pass"
SecRule ARGS:json.d "@streq x" "id:5,phase:2,pass"`);
  const body = Buffer.from('{"a":{"b":1},"c":[true,null],"d":"x"}');
  const req: WafRequest = {
    ...get('/'),
    method: 'POST',
    headers: [['Content-Type', 'application/json']],
    body,
  };
  assert.deepEqual(
    ruleSet.evaluate(req).matches.map((m) => m.id),
    [3, 4, 5],
  );
});

test('reads a JSON member named twice as two arguments, in order, numbers as spelled (libmodsecurity 3.0.9)', () => {
  const { ruleSet } = compileSecLang(`SecRule ARGS:json.a "@streq <script>" "id:1,phase:2,pass"
SecRule ARGS:json.a "@streq x" "id:2,phase:2,pass"
SecRule &ARGS:json.a "@eq 2" "id:3,phase:2,pass"
SecRule ARGS:json.2 "@streq 1.50e0" "id:4,phase:2,pass"
SecRule ARGS:json.b.array_1 "@streq true" "id:5,phase:2,pass"
SecRule ARGS_NAMES "@rx ^json\\.2$" "id:6,phase:2,pass"`);
  const body = Buffer.from('{"a":"<script>","a":"x","2":1.50e0,"b":[null,true]}');
  const v = ruleSet.evaluate({
    ...get('/'),
    method: 'POST',
    headers: [['Content-Type', 'application/json']],
    body,
  });
  assert.deepEqual(
    v.matches.map((m) => m.id),
    [1, 2, 3, 4, 5, 6],
  );
});

test('JSON strings reach the rules as UTF-8 bytes, so @validateUtf8Encoding passes valid text', () => {
  const { ruleSet } = compileSecLang(`SecRule ARGS "@validateUtf8Encoding" "id:1,phase:2,pass"
SecRule ARGS "@rx ^S\xc3\xa3o \xc3\xa9" "id:2,phase:2,pass"`);
  const body = Buffer.from('{"city":"São \\u00e9"}');
  const v = ruleSet.evaluate({
    ...get('/'),
    method: 'POST',
    headers: [['Content-Type', 'application/json']],
    body,
  });
  assert.deepEqual(
    v.matches.map((m) => m.id),
    [2],
  );
});

test('an XML body goes to the XML processor by its Content-Type: XML:/* and XML://@*', () => {
  const { ruleSet } = compileSecLang(`SecRule XML:/* "@contains <script>" "id:1,phase:2,pass"
SecRule XML://@* "@streq evil" "id:2,phase:2,pass"
SecRule REQBODY_PROCESSOR "@streq XML" "id:3,phase:2,pass"
SecRule REQBODY_ERROR "@eq 1" "id:4,phase:2,pass"`);
  const post = (type: string, xml: string) =>
    ruleSet
      .evaluate({ ...get('/'), method: 'POST', headers: [['Content-Type', type]], body: Buffer.from(xml) })
      .matches.map((m) => m.id);
  assert.deepEqual(post('application/xml', '<r k="evil"><a>&lt;script&gt;</a></r>'), [1, 2, 3]);
  assert.deepEqual(post('text/xml; charset=utf-8', '<r><![CDATA[<script>]]></r>'), [1, 3]);
  assert.deepEqual(post('application/soap+xml', '<r>x</r>'), [3]);
  // Not well-formed: REQBODY_ERROR, and the rules still see the text read before the error.
  assert.deepEqual(post('application/xml', '<r><a>&lt;script&gt;</a>'), [1, 3, 4]);
  assert.deepEqual(post('application/xhtml+xml', '<r>&lt;script&gt;</r>'), []);
});

test('t:urlDecodeUni reads %uXXXX through the unicode mapping when given one (SecUnicodeMapFile)', () => {
  const rules = `SecRule ARGS "@rx ^cafe$" "id:1,phase:2,pass,t:none,t:urlDecodeUni"
SecRule ARGS "@rx ^caf\\xe9$" "id:2,phase:2,pass,t:none,t:urlDecodeUni"`;
  const map = readUnicodeMap('1252 (ANSI - Latin I)\n00e9:e9\n\n20127 (US-ASCII)\n00a0:20 00e9:65\n', 20127);
  const mapped = compileSecLang(rules, { unicodeMap: map }).ruleSet;
  const plain = compileSecLang(rules).ruleSet;
  const ids = (rs: typeof plain, uri: string) => rs.evaluate(get(uri)).matches.map((m) => m.id);
  assert.deepEqual(ids(mapped, '/?q=caf%u00e9'), [1]);
  // Without the file, libmodsecurity keeps the low byte; full-width forms fold to ASCII either way.
  assert.deepEqual(ids(plain, '/?q=caf%u00e9'), [2]);
  assert.deepEqual(ids(mapped, '/?q=caf%uff45'), [1]);
  assert.throws(() => readUnicodeMap('20127 (US-ASCII)\n', 1252), /no code page 1252/);
});

test('reports an unknown operator by file and line and never matches with it', () => {
  const { ruleSet, issues } = compileSecLang('\nSecRule ARGS "@frob x" "id:9,phase:2,deny"');
  assert.equal(issues.length, 1);
  assert.equal(issues[0].line, 2);
  assert.match(issues[0].message, /unknown operator @frob/);
  assert.equal(ruleSet.evaluate(get('/?a=x')).blocked, false);
});

test('decodes as the CRS transformations do', () => {
  assert.equal(urlDecodeUni('%u0041%uff1c%3c+'), 'A<< ');
  assert.equal(htmlEntityDecode('&lt;&#x41;&#66&quot;'), '<AB"');
  assert.equal(cmdLine('C^A"T  /etc ,x;Y'), 'cat/etc x y');
  assert.equal(normalizePath('/a/./b/../c//d'), '/a/c/d');
  assert.equal(utf8toUnicode(Buffer.from('é', 'utf8').toString('latin1')), '%u00e9');
});

test('finds phrases with one automaton, case-insensitively', () => {
  const ac = compileKeywords(['he', 'she', 'HERS']);
  const found = new Uint8Array(3);
  ac.findAll('uSHErs', found);
  assert.deepEqual([...found], [1, 1, 1]);
  assert.equal(ac.findFirst('xxhe')?.index, 0);
  assert.equal(ac.findFirst('nothing'), undefined);
});

test('gives regex prefilter factors that every match contains', () => {
  // `\\s` and `\\d` are small character sets: a word and the space after it, a word and its first digit.
  assert.deepEqual(
    requiredFactors('(?i)union\\s+select')?.sort(),
    ['\tselect', '\nselect', '\x0bselect', '\fselect', '\rselect', ' select'].sort(),
  );
  assert.deepEqual(
    requiredFactors('(?:foo|bar)\\d+')?.sort(),
    ['bar', 'foo'].flatMap((w) => [...'0123456789'].map((d) => w + d)).sort(),
  );
  assert.equal(requiredFactors('^.*$'), undefined);
  const re = compileRegex('(?i)(?:sleep|benchmark)\\s*\\(');
  for (const s of ['SLEEP(1)', 'benchmark (', 'x sleep(']) {
    assert.ok(re.test(s));
    assert.ok(re.factors?.some((f) => s.toLowerCase().includes(f)));
  }
});

test('a prefilter factor keeps the white space a verb must be followed by, so a word that only starts with it does not pass', () => {
  const re = compileRegex('(?:get|post|put)\\s+(?:\\/|\\w)[^\\s]*(?:\\s+http\\/\\d|[\\r\\n])');
  const holds = (s: string) => re.factors?.some((f) => s.toLowerCase().includes(f)) ?? true;
  assert.equal(holds('{"postcode":"NW1","url":"https://x/posts/1"}'), false);
  for (const s of ['post /a http/1.1', 'get\t/x\n', 'put  /y http/1']) {
    assert.ok(re.test(s), s);
    assert.ok(holds(s), s);
  }
});

test('a prefilter prefers a rare character to a letter that nearly every value holds', () => {
  assert.deepEqual(requiredFactors('s\\w*\\$'), ['$']);
  assert.deepEqual(requiredFactors('(?:;|\\|)\\s*(?:s|t)\\w+'), [';', '|']);
  // A short run of rare characters beats a longer common word.
  assert.deepEqual(requiredFactors('and\\w*\\$\\('), ['$(']);
});

test('a pattern with optional punctuation between the letters of its words gets the words and that punctuation as factors', () => {
  // Quotes, backslashes and `$VAR` allowed between letters (as CRS 4's command lists spell them): no string
  // of two characters is common to every match, but a value without those characters matches only with
  // the letters together.
  const gap = `["'\\)\\[\\x5c]*(?:(?:\\|\\||&&)?\\$[a-z0-9_]*)?\\x5c?`;
  const source = `(?i)(?:^|[;|&])\\s*(?:w${gap}g${gap}e${gap}t|c${gap}u${gap}r${gap}l)\\b`;
  const gapless = withoutGaps(source);
  assert.equal(gapless?.source, '(?i)(?:^|[;|&])\\s*(?:wget|curl)\\b');
  assert.deepEqual(gapless?.chars.sort(), ['"', '$', "'", ')', '[', '\\'].sort());
  const re = compileRegex(source);
  assert.deepEqual([...(re.factors ?? [])].sort(), ['wget', 'curl', '"', '$', "'", ')', '[', '\\'].sort());
  const holds = (s: string) => re.factors?.some((f) => s.toLowerCase().includes(f)) ?? true;
  for (const s of ['wget', 'x;W"g\'e\\t', 'c$u$r$IFSl', 'c)u[rl', '&&c||$xurl']) {
    assert.ok(re.test(s), s);
    assert.ok(holds(s), s);
  }
  assert.equal(holds('json.customer.name'), false);
  // Random spellings with random gaps: every one the pattern matches holds a factor.
  const gaps = ['', '', '"', "'", '\\', '$', '$x1', '||$y', '&&$', ')', '[', `"'`, '\\\\'];
  let seed = 7;
  const pick = <T>(list: readonly T[]): T => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return list[seed % list.length];
  };
  let matched = 0;
  for (let k = 0; k < 5_000; k++) {
    const word = pick(['wget', 'curl', 'wgot']);
    let s = pick(['', ';', '|', '& ', 'x ', 'a=']);
    for (const ch of word) s += ch + pick(gaps);
    s += pick(['', ' -O x', 'x', ';']);
    if (!re.test(s)) continue;
    matched++;
    assert.ok(holds(s), s);
  }
  assert.ok(matched > 20, `${matched} matches`);
  // An optional part that may match letters, or a group with an alternative at its top, is no gap.
  assert.equal(withoutGaps('a[b"]?c'), undefined);
  assert.equal(withoutGaps('a(?:\\$|x)?c'), undefined);
  // A `]` first in a class, or first after `^`, is a member of the class (review r2): the values below match
  // and must hold a factor.
  for (const [pattern, value] of [
    [`(?:a[]"']*b[]"']*c|qz)`, 'a]b]c'],
    [`(?:a["']?b["']?c|x[^]"]?y|zz[w]qqq)`, 'xy'],
  ] as const) {
    const r = compileRegex(pattern);
    assert.ok(r.test(value), value);
    assert.ok(
      r.factors === undefined || r.factors.some((f) => value.toLowerCase().includes(f)),
      `${value}: ${r.factors}`,
    );
  }
});

test('runs possessive quantifiers and keeps linear time on a long hostile input', () => {
  const re = compileRegex('^(?:a++)*+b');
  assert.equal(re.test('aaab'), true);
  assert.equal(re.test(`${'a'.repeat(65536)}c`), false);
});

test('runs a backreference pattern on the backtracking engine for short inputs only, and says so', () => {
  const { ruleSet, issues } = compileSecLang(
    `SecRule ARGS "@rx (?i:\\b(\\w+)[\\s']*=[\\s']*\\1\\b)" "id:7,phase:2,pass"`,
  );
  assert.equal(issues.length, 1);
  assert.match(issues[0].message, /backtracking engine for inputs up to 1024 bytes/);
  assert.deepEqual(
    ruleSet.evaluate(get("/?q=x'%20or%20a%20=%20a")).matches.map((m) => m.id),
    [7],
  );
  assert.deepEqual(ruleSet.evaluate(get(`/?q=${'b'.repeat(2000)}%20a=a`)).matches, []);
});

test('expands setup values into an @rx pattern', () => {
  const { ruleSet, issues } =
    compileSecLang(`SecAction "id:1,phase:1,pass,nolog,setvar:'tx.cs=utf-8|iso-8859-1'"
SecRule REQUEST_HEADERS:X-Charset "!@rx ^%{tx.cs}$" "id:2,phase:1,pass"`);
  assert.deepEqual(issues, []);
  assert.deepEqual(
    ruleSet.evaluate(get('/', [['X-Charset', 'utf-7']])).matches.map((m) => m.id),
    [2],
  );
  assert.deepEqual(ruleSet.evaluate(get('/', [['X-Charset', 'utf-8']])).matches, []);
});

test('every value is matched when a request has more values than the prefilter table first holds', () => {
  const { ruleSet, issues } = compileSecLang(`
SecAction "id:1,phase:1,nolog,pass,setvar:tx.anomaly_score=0"
SecRule ARGS "@rx (?i)union\\s+select" "id:10,phase:2,pass,t:none,t:urlDecodeUni,setvar:'tx.anomaly_score=+1'"
`);
  assert.deepEqual(issues, []);
  const query = Array.from({ length: 300 }, (_, i) => `a${i}=${i}%20union%20select%20${i}`).join('&');
  assert.equal(ruleSet.evaluate(get(`/?${query}`)).anomalyScore, 300);
});

test('TX written over the load-time TX reads and walks as a copy of it would', () => {
  // tx.a, tx.b, tx.d are decided at load; a request deletes tx.a and sets it again (it moves last), adds
  // tx.c and changes tx.b (which keeps its place). A pattern target walks TX in that order.
  const { ruleSet, issues } = compileSecLang(
    [
      'SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=1,setvar:tx.b=2,setvar:tx.d=4"',
      'SecRule ARGS:x "@streq go" "id:2,phase:1,pass,nolog,setvar:!tx.a,setvar:tx.c=3,setvar:tx.a=5,setvar:tx.b=7"',
      'SecRule ARGS:y "@streq drop" "id:3,phase:1,pass,nolog,setvar:!tx.d,setvar:!tx.c"',
      `SecRule TX:/^[abcd]$/ "@rx ." "id:4,phase:1,pass,nolog,setvar:'tx.order=%{tx.order}%{MATCHED_VAR_NAME}=%{MATCHED_VAR};'"`,
      `SecRule TX:order "@rx ." "id:5,phase:1,pass,log,msg:'order',logdata:'%{tx.order}'"`,
    ].join('\n'),
  );
  assert.deepEqual(issues, []);
  assert.ok(ruleSet.foldedIds.has(1));
  const order = (uri: string) => ruleSet.evaluate(get(uri)).matches.find((m) => m.id === 5)?.data;
  assert.equal(order('/'), 'TX:a=1;TX:b=2;TX:d=4;');
  assert.equal(order('/?x=go'), 'TX:b=7;TX:d=4;TX:c=3;TX:a=5;');
  assert.equal(order('/?x=go&y=drop'), 'TX:b=7;TX:a=5;');
  // Nothing of one request stays for the next.
  assert.equal(order('/'), 'TX:a=1;TX:b=2;TX:d=4;');
});

test("a TX pattern walks the load-time names it matches and this evaluation's own, in Map order", () => {
  // The pattern matches load-time tx.a but not tx.b nor tx.d; a request deletes tx.a and sets it again (it
  // moves last), adds tx.c and tx.cc, writes tx.order (none of which but tx.c the pattern matches).
  const { ruleSet, issues } = compileSecLang(
    [
      'SecAction "id:1,phase:1,pass,nolog,setvar:tx.a=1,setvar:tx.b=2,setvar:tx.d=4"',
      'SecRule ARGS:x "@streq go" "id:2,phase:1,pass,nolog,setvar:!tx.a,setvar:tx.c=3,setvar:tx.cc=6,setvar:tx.a=5,setvar:tx.b=7"',
      'SecRule ARGS:y "@streq drop" "id:3,phase:1,pass,nolog,setvar:!tx.a,setvar:!tx.c"',
      'SecRule ARGS:z "@streq set" "id:6,phase:1,pass,nolog,setvar:tx.a=8"',
      `SecRule TX:/^[ac]$/ "@rx ." "id:4,phase:1,pass,nolog,setvar:'tx.order=%{tx.order}%{MATCHED_VAR_NAME}=%{MATCHED_VAR};'"`,
      `SecRule &TX:/^[ac]$/ "@eq 2" "id:7,phase:1,pass,log,msg:'two'"`,
      `SecRule TX:order "@rx ." "id:5,phase:1,pass,log,msg:'order',logdata:'%{tx.order}'"`,
    ].join('\n'),
  );
  assert.deepEqual(issues, []);
  assert.ok(ruleSet.foldedIds.has(1));
  const seen = (uri: string) =>
    ruleSet
      .evaluate(get(uri))
      .matches.map((m) => (m.id === 5 ? m.data : m.id))
      .join(' ');
  assert.equal(seen('/'), 'TX:a=1;');
  assert.equal(seen('/?x=go'), '7 TX:c=3;TX:a=5;');
  assert.equal(seen('/?x=go&y=drop'), '');
  assert.equal(seen('/?z=set'), 'TX:a=8;');
  assert.equal(seen('/?x=go&y=drop&z=set'), 'TX:a=8;');
  // The same again: what a pattern found at load is not changed by a request.
  assert.equal(seen('/'), 'TX:a=1;');
  assert.equal(seen('/?x=go'), '7 TX:c=3;TX:a=5;');
});

test('the dense keyword table reports the same phrases and groups as the map walk', () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 16) % n;
  };
  const alphabet = 'abcAB<( ;/';
  const word = (len: number) => Array.from({ length: len }, () => alphabet[rand(alphabet.length)]).join('');
  const phrases = Array.from({ length: 60 }, () => word(1 + rand(4)));
  const groups = phrases.map((_, i) => [i % 7, 7 + (i % 3)]);
  const plain = compileKeywords(phrases);
  const grouped = compileKeywords(phrases, groups);
  const seen = new Int32Array(phrases.length);
  for (let k = 1; k <= 2000; k++) {
    const input = word(rand(30));
    const expected = new Uint8Array(phrases.length);
    plain.findAll(input, expected);
    // The automaton's answer is the naive one: every phrase the input holds (ASCII case folded).
    assert.deepEqual(
      [...expected],
      phrases.map((p) => (input.toLowerCase().includes(p.toLowerCase()) ? 1 : 0)),
      input,
    );
    const out = new Int32Array(phrases.length);
    const found = [...out.subarray(0, plain.collect(input, seen, k, out))];
    assert.deepEqual(
      found.sort((a, b) => a - b),
      [...expected.keys()].filter((i) => expected[i] === 1),
      input,
    );
    const expectedGroups = new Set(
      [...expected.keys()].filter((i) => expected[i] === 1).flatMap((i) => groups[i]),
    );
    const groupOut = new Int32Array(10);
    const foundGroups = [...groupOut.subarray(0, grouped.collect(input, new Int32Array(10), 1, groupOut))];
    assert.deepEqual(new Set(foundGroups), expectedGroups, input);
    const first = plain.findFirst(input);
    assert.equal(first === undefined, found.length === 0, input);
    if (first)
      assert.ok(input.toLowerCase().slice(0, first.end).endsWith(phrases[first.index].toLowerCase()));
  }
});

test('^.*$ answered without the regex engine matches as RE2 with DOTALL and MULTILINE does', async () => {
  const { RE2JS } = await import('re2js');
  const re2 = RE2JS.compile('^.*$', RE2JS.DOTALL | RE2JS.MULTILINE);
  const fast = compileRegex('^.*$');
  for (const input of ['', 'a', 'Mozilla/5.0', 'two\nlines', '\n', 'a\r\nb\n', '\0\xff']) {
    assert.equal(fast.test(input), re2.test(input), JSON.stringify(input));
    const m = re2.matcher(input);
    assert.ok(m.find());
    assert.deepEqual(fast.exec(input), [m.group(0)], JSON.stringify(input));
  }
});

test('ctl:ruleRemoveTargetByTag and ById take a variable from the rules they name only', () => {
  const { ruleSet, issues } = compileSecLang(`
SecRule REQUEST_HEADERS:X-Ctl "@streq tag" "id:1,phase:1,pass,nolog,ctl:ruleRemoveTargetByTag=perf;ARGS:q"
SecRule REQUEST_HEADERS:X-Ctl "@streq id" "id:2,phase:1,pass,nolog,ctl:ruleRemoveTargetById=10;ARGS:q"
SecRule ARGS "@rx evil" "id:10,phase:2,pass,log,tag:'perf'"
SecRule ARGS "@rx evil" "id:11,phase:2,pass,log,tag:'other'"
`);
  assert.deepEqual(issues, []);
  const ids = (headers: [string, string][], uri = '/?q=evil') =>
    ruleSet.evaluate(get(uri, headers)).matches.map((m) => `${m.id}:${m.variable}`);
  assert.deepEqual(ids([]), ['10:ARGS:q', '11:ARGS:q']);
  // Rule 10 (tag perf, id 10) loses ARGS:q; rule 11 keeps it; other arguments stay.
  assert.deepEqual(ids([['X-Ctl', 'tag']]), ['11:ARGS:q']);
  assert.deepEqual(ids([['X-Ctl', 'id']]), ['11:ARGS:q']);
  assert.deepEqual(ids([['X-Ctl', 'tag']], '/?r=evil'), ['10:ARGS:r', '11:ARGS:r']);
  assert.deepEqual(ids([['X-Ctl', 'tag']], '/?Q=evil'), ['11:ARGS:Q']);
});

test("a chained rule that captures nothing reports its own matched data, not an earlier rule's TX.0", () => {
  const { ruleSet, issues } = compileSecLang(`
SecRule ARGS:a "@rx (abc)" "id:30,phase:2,pass,log,capture,msg:'first'"
SecRule ARGS:b "@rx xyz" "id:31,phase:2,pass,log,msg:'second',chain"
  SecRule ARGS:c "@streq 1" ""
SecRule ARGS:d "@rx (q+)" "id:32,phase:2,pass,log,capture,msg:'third',chain"
  SecRule ARGS:c "@streq 1" ""
`);
  assert.deepEqual(issues, []);
  const v = ruleSet.evaluate(get('/?a=abc&b=the-xyz&c=1&d=qq'));
  assert.deepEqual(
    v.matches.map((m) => [m.id, m.data]),
    [
      [30, 'abc'],
      // Rule 31 captures nothing: TX.0 still holds rule 30's `abc`, which is not what 31 matched.
      [31, '1'],
      [32, 'qq'],
    ],
  );
});

test('a keyword automaton too large for its dense table answers as the naive search', () => {
  // Thousands of phrases: most states lie past the dense table and walk their own transitions.
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const word = (n: number) =>
    Array.from({ length: n }, () => 'abcdefghijklmnopqrstuvwxyz-./'[rand(29)]).join('');
  const phrases = Array.from({ length: 4000 }, () => word(2 + rand(9)));
  const ac = compileKeywords(phrases);
  const seen = new Int32Array(phrases.length);
  const out = new Int32Array(phrases.length);
  for (let k = 1; k <= 300; k++) {
    const input = word(rand(200)).toUpperCase();
    const lower = input.toLowerCase();
    const expected = phrases.flatMap((p, i) => (lower.includes(p) ? [i] : []));
    const found = [...out.subarray(0, ac.collect(input, seen, k, out))].sort((a, b) => a - b);
    assert.deepEqual(found, expected, input);
    const first = ac.findFirst(input);
    assert.equal(first === undefined, expected.length === 0, input);
    if (first) assert.ok(lower.slice(0, first.end).endsWith(phrases[first.index]), input);
  }
});

test('a chain step that only changes letter case keeps the prefilter answer; one that changes punctuation does not', () => {
  // t:cmdLine lowers `UnIoN SeLeCt` (its prefilter answer is the untransformed value's) and turns the
  // comma of `union,select` into a space (a new answer: the untransformed value holds no `union sel`).
  const { ruleSet, issues } = compileSecLang(
    'SecRule ARGS "@rx union sel" "id:30,phase:2,deny,log,t:none,t:cmdLine,tag:\'attack-sqli\'"',
  );
  assert.deepEqual(issues, []);
  for (const q of ['UnIoN%20SeLeCt', 'union,select', 'UNION;SELECT']) {
    const v = ruleSet.evaluate(get(`/?q=${q}`));
    assert.deepEqual(
      v.matches.map((m) => m.id),
      [30],
      q,
    );
  }
  assert.deepEqual(ruleSet.evaluate(get('/?q=union@select')).matches, []);
  // A NUL and a space differ only in bit 0x20, but they are not letters: t:replaceNulls made a new value.
  const nulls = compileSecLang(
    'SecRule ARGS "@rx union sel" "id:31,phase:2,deny,log,t:none,t:replaceNulls,tag:\'attack-sqli\'"',
  ).ruleSet;
  assert.deepEqual(
    nulls.evaluate(get('/?q=union%00select')).matches.map((m) => m.id),
    [31],
  );
});

test('two chains that make the same text of a value share its scan; another text is scanned', () => {
  // normalizePath and normalizePathWin both make a/%65vil of a/./%65vil (scanned once); urlDecode makes
  // a/./evil, which must be scanned afresh: its answer is not the last text's.
  const { ruleSet, issues } = compileSecLang(
    [
      'SecRule ARGS "@rx zzz" "id:61,phase:2,pass,log,t:none,t:normalizePath"',
      'SecRule ARGS "@rx a/%65vil" "id:63,phase:2,pass,log,t:none,t:normalizePathWin"',
      'SecRule ARGS "@rx evil" "id:62,phase:2,pass,log,t:none,t:urlDecode"',
    ].join('\n'),
  );
  assert.deepEqual(issues, []);
  const ids = (v: string) => ruleSet.evaluate(get(`/?q=${v}`)).matches.map((m) => m.id);
  assert.deepEqual(ids('a/./%2565vil'), [63, 62]);
  assert.deepEqual(ids('a/./%2565vi'), []);
});

test('a target whose collection holds no prefilter string is passed over; the others are read', () => {
  // The rule runs when either collection has a value holding "evil"; only that target's values can match.
  const { ruleSet, issues } = compileSecLang(
    `SecRule ARGS|REQUEST_HEADERS:User-Agent "@rx evil\\d" "id:70,phase:2,pass,log,t:none,t:lowercase,logdata:'%{MATCHED_VAR_NAME}=%{MATCHED_VAR}'"`,
  );
  assert.deepEqual(issues, []);
  const seen = (q: string, ua: string) =>
    ruleSet
      .evaluate(get(`/?q=${q}`, [['User-Agent', ua]]))
      .matches.map((m) => `${m.id} ${m.data}`)
      .join();
  assert.equal(seen('evil1', 'fine'), '70 ARGS:q=evil1');
  assert.equal(seen('fine', 'Evil2'), '70 REQUEST_HEADERS:User-Agent=evil2');
  assert.equal(seen('evil3', 'EVIL4'), '70 REQUEST_HEADERS:User-Agent=evil4');
  assert.equal(seen('fine', 'fine'), '');
  assert.equal(seen('evil', 'evil'), '');
});

test('a skippable rule sees the union of its collection values through its chain, evaluation after evaluation', () => {
  // Two rules on the same (ARGS, chain) pair: the second reads the pair's united answer the first built.
  const { ruleSet } = compileSecLang(
    [
      'SecRule ARGS "@rx evil" "id:40,phase:2,pass,log,t:none,t:lowercase"',
      'SecRule ARGS "@rx (?i)wicked" "id:41,phase:2,pass,log,t:none,t:lowercase"',
    ].join('\n'),
  );
  const ids = (uri: string) => ruleSet.evaluate(get(uri)).matches.map((m) => m.id);
  assert.deepEqual(ids('/?a=1&b=EVIL&c=Wicked'), [40, 41]);
  assert.deepEqual(ids('/?a=1&b=fine'), []);
  assert.deepEqual(ids('/?c=wicked'), [41]);
  assert.deepEqual(ids('/?a=evil'), [40]);
});

const FOLDING = `
SecDefaultAction "phase:1,log,pass"
SecDefaultAction "phase:2,log,pass"
SecAction "id:900,phase:1,nolog,pass,setvar:tx.paranoia_level=1"
SecRule &TX:threshold "@eq 0" "id:901,phase:1,nolog,pass,setvar:tx.threshold=5"
SecRule ARGS:off "@streq 1" "id:902,phase:1,nolog,pass,ctl:ruleRemoveById=910"
SecRule ARGS:mode "@streq strict" "id:903,phase:1,nolog,pass,setvar:tx.threshold=3"
SecRule TX:threshold "@eq 3" "id:904,phase:2,pass,msg:'strict'"
SecRule TX:PARANOIA_LEVEL "@lt 2" "id:910,phase:2,nolog,pass,skipAfter:END-PL2"
SecRule ARGS "@rx evil" "id:911,phase:2,block,msg:'pl2',setvar:tx.anomaly_score=+5"
SecMarker END-PL2
SecRule ARGS "@rx bad" "id:920,phase:2,block,msg:'pl1',setvar:tx.anomaly_score=+5"
SecRule TX:ANOMALY_SCORE "@ge %{tx.threshold}" "id:949,phase:2,deny,msg:'blocked'"
`;

test('decides at load the rules that read only configuration, and no rule that reads the request', () => {
  const { ruleSet, issues } = compileSecLang(FOLDING);
  assert.deepEqual(issues, []);
  // 900 and 901 set TX defaults, 910 is a paranoia-level skip: their outcome is fixed. 902 and 903 read
  // ARGS; 904 reads a TX key 903 writes per request; 949 reads the score: they run per request.
  assert.deepEqual([...ruleSet.foldedIds].sort(), [900, 901, 910]);
  const ids = (uri: string, exclusions?: Parameters<typeof ruleSet.evaluate>[1]) => {
    const v = ruleSet.evaluate(get(uri), exclusions);
    return { ids: v.matches.map((m) => m.id), score: v.anomalyScore, blocked: v.blocked };
  };
  // The skip is taken (911 never runs), the defaults are there (threshold 5 from 901).
  assert.deepEqual(ids('/?x=evil'), { ids: [], score: 0, blocked: false });
  assert.deepEqual(ids('/?x=bad'), { ids: [920, 949], score: 5, blocked: true });
  // A TX key written per request is read per request.
  assert.deepEqual(ids('/?mode=strict'), { ids: [904], score: 0, blocked: false });
  // Exclusions that remove a folded rule run the whole program: without the skip, 911 runs.
  assert.deepEqual(ids('/?x=evil', { removeIds: new Set([910]) }), {
    ids: [911, 949],
    score: 5,
    blocked: true,
  });
  assert.deepEqual(ids('/?x=evil', { removeIds: new Set([920]) }), { ids: [], score: 0, blocked: false });
  // So does a ctl that removes one while the request runs.
  assert.deepEqual(ids('/?off=1&x=evil'), { ids: [911, 949], score: 5, blocked: true });
});

const NEVER_MATCHING_CHAIN = (reput: number) => `
SecDefaultAction "phase:2,log,pass"
SecAction "id:900,phase:1,nolog,pass,setvar:tx.do_reput_block=${reput},setvar:tx.paranoia_level=1"
SecRule TX:DO_REPUT_BLOCK "@eq 1" "id:910,phase:2,deny,chain,skipAfter:END-CHECKS"
  SecRule IP:REPUT_BLOCK_FLAG "@eq 1" "setvar:tx.blocked=1"
SecRule ARGS "@rx evil" "id:920,phase:2,block,setvar:'tx.anomaly_score=+5'"
SecRule TX:PARANOIA_LEVEL "@lt 2" "id:930,phase:2,pass,nolog,skipAfter:END-CHECKS"
SecRule ARGS "@rx bad" "id:931,phase:2,block,setvar:'tx.anomaly_score=+5'"
SecMarker END-CHECKS
`;

test('a chain whose first link reads only configuration and does not match at load is taken out, and the rules after it are decided too', () => {
  const off = compileSecLang(NEVER_MATCHING_CHAIN(0)).ruleSet;
  // 910 never matches (its first link is false for every request): gone, and 930's skip is decided at load.
  assert.deepEqual([...off.foldedIds].sort(), [900, 910, 930]);
  // With the reputation check on, 910's first link matches: it runs per request, and 930 after it too.
  const on = compileSecLang(NEVER_MATCHING_CHAIN(1)).ruleSet;
  assert.deepEqual([...on.foldedIds].sort(), [900]);
  for (const ruleSet of [off, on]) {
    const ids = (uri: string) => ruleSet.evaluate(get(uri)).matches.map((m) => m.id);
    assert.deepEqual(ids('/?a=evil'), [920]);
    assert.deepEqual(ids('/?a=bad'), []);
  }
  // Removing the folded rule by exclusion runs the whole program, with the same answer.
  assert.deepEqual(
    off.evaluate(get('/?a=evil'), { removeIds: new Set([910]) }).matches.map((m) => m.id),
    [920],
  );
});

const HEADER_RULES = `
SecDefaultAction "phase:2,log,pass"
SecRule REQUEST_HEADERS "@rx (?i)union\\s+select\\s+(\\w+)" "id:30,phase:1,block,capture,t:none,t:urlDecodeUni,logdata:'%{TX.1}',setvar:'tx.anomaly_score=+5'"
SecRule REQUEST_HEADERS:User-Agent "@pm nikto sqlmap" "id:31,phase:1,block,setvar:'tx.anomaly_score=+3'"
SecRule REQUEST_HEADERS:Accept "!@rx ^application/json$" "id:32,phase:1,block,t:lowercase,setvar:'tx.anomaly_score=+1'"
SecRule REQUEST_COOKIES "@detectSQLi" "id:33,phase:2,block,setvar:'tx.anomaly_score=+5'"
`;

test('header and cookie values remembered across requests are judged as on first sight', () => {
  const shared = compileSecLang(HEADER_RULES).ruleSet;
  const requests = [
    get('/', [
      ['User-Agent', 'curl/8'],
      ['Accept', 'application/json'],
      ['Cookie', 'id=42'],
    ]),
    get('/', [
      ['User-Agent', 'sqlmap/1.7'],
      ['Accept', 'text/html'],
      ['Cookie', "id=1' or 1=1--"],
    ]),
    get('/', [
      ['User-Agent', 'x UNION%20SELECT password'],
      ['Accept', 'APPLICATION/JSON'],
      ['Cookie', 'id=42'],
    ]),
  ];
  // Each request three times, interleaved: a memo of an earlier answer must give the fresh engine's verdict.
  for (let round = 0; round < 3; round++) {
    for (const req of requests) {
      const fresh = compileSecLang(HEADER_RULES).ruleSet.evaluate(req);
      assert.deepEqual(shared.evaluate(req), fresh);
    }
  }
  const attack = shared.evaluate(requests[2]);
  assert.deepEqual(
    attack.matches.map((m) => [m.id, m.data]),
    [[30, 'UNION SELECT password']],
  );
  assert.ok(shared.valueMemoSize().values > 0);
});

test('values of headers that carry no credential are remembered by value, the others by their digest', () => {
  // The same text as a User-Agent (plain) and as an X-Token (digest): two memos, not one. With the Host
  // value and the list of three header names: 2 + 1 + 3.
  const { ruleSet } = compileSecLang(HEADER_RULES);
  const req = (ua: string, token: string) =>
    get('/', [
      ['User-Agent', ua],
      ['X-Token', token],
    ]);
  ruleSet.evaluate(req('same text', 'same text'));
  assert.equal(ruleSet.valueMemoSize().values, 2 + 1 + 3);
  ruleSet.evaluate(req('same text', 'same text'));
  assert.equal(ruleSet.valueMemoSize().values, 2 + 1 + 3);
  // Judged as on first sight, in either header.
  for (const r of [req('x union select pw', 'same text'), req('same text', 'x union select pw')]) {
    const fresh = compileSecLang(HEADER_RULES).ruleSet.evaluate(r);
    assert.deepEqual(ruleSet.evaluate(r), fresh);
    assert.deepEqual(ruleSet.evaluate(r), fresh);
    assert.deepEqual(
      fresh.matches.map((m) => [m.id, m.data]),
      [[30, 'union select pw']],
    );
  }
});

test('the memo of header values is bounded in values and never holds a long value', () => {
  const { ruleSet } = compileSecLang(HEADER_RULES);
  for (let i = 0; i < 3000; i++)
    ruleSet.evaluate(get('/', [['X-Request-Id', `r-${i}-${'a'.repeat(i % 50)}`]]));
  const after = ruleSet.valueMemoSize();
  // 2,048 values at most, and the two names of the one list of header names (Host, X-Request-Id).
  assert.ok(after.values <= 2048 + 2, `${after.values} values`);
  assert.ok(after.bytes <= 10 * 1024 * 1024, `${after.bytes} bytes`);
  ruleSet.evaluate(get('/', [['X-Long', 'b'.repeat(10_000)]]));
  const long = ruleSet.valueMemoSize();
  // A new list of header names (Host, X-Long: two names more); the 10,000-character value is not kept.
  assert.equal(long.values, after.values + 2);
  assert.ok(long.bytes < after.bytes + 10_000, `${long.bytes - after.bytes} bytes more`);
});

test('requests with thousands of new cookies neither drift the memo bound nor break the engine', () => {
  // Two sets of 1,290 cookie names that share nothing, alternating: before the per-request cap, each request
  // evicted memos its own entries still used, their growth was counted and never uncounted, and past 8 MB
  // the eviction emptied the map and threw (every later request failed).
  const { ruleSet } = compileSecLang(HEADER_RULES);
  const cookie = (set: string) =>
    Array.from({ length: 1290 }, (_, i) => `${set}${i.toString(36)}=${set}v${i}`).join('; ');
  const sizes: number[] = [];
  for (let i = 0; i < 12; i++) {
    ruleSet.evaluate(get('/', [['Cookie', cookie(i % 2 === 0 ? 'a' : 'b')]]));
    sizes.push(ruleSet.valueMemoSize().bytes);
  }
  assert.ok(ruleSet.valueMemoSize().values <= 2 * 64, `${ruleSet.valueMemoSize().values} values`);
  assert.equal(sizes[11], sizes[3], `bytes ${sizes.join(', ')}`);
  const attack = ruleSet.evaluate(get('/', [['Cookie', "id=1' or 1=1--"]]));
  assert.deepEqual(
    attack.matches.map((m) => m.id),
    [33],
  );
});

const NAME_RULES = `
SecDefaultAction "phase:2,log,pass"
SecRule ARGS_NAMES "@rx (?i)union\\s+select" "id:40,phase:2,block,t:none,t:urlDecodeUni,setvar:'tx.anomaly_score=+5'"
SecRule ARGS_NAMES "@pm evil bad" "id:41,phase:2,block,t:lowercase,setvar:'tx.anomaly_score=+3'"
SecRule ARGS_NAMES "@detectSQLi" "id:42,phase:2,block,setvar:'tx.anomaly_score=+5'"
SecRule ARGS_GET_NAMES "@rx ^q$" "id:43,phase:1,pass,nolog,setvar:'tx.q=1'"
`;

test('argument names remembered across requests (as a list) are judged as on first sight', () => {
  const shared = compileSecLang(NAME_RULES).ruleSet;
  const post = (uri: string, json: string): WafRequest => ({
    ...get(uri),
    method: 'POST',
    headers: [
      ['Host', 'x'],
      ['Content-Type', 'application/json'],
    ],
    body: Buffer.from(json),
  });
  const requests = [
    post('/?q=1', '{"order":{"id":7,"items":[{"sku":"a"}]},"note":"x"}'),
    // The same list but for one name, at the same place: a name of an attack.
    post('/?q=1', '{"order":{"id":7,"items":[{"sku":"a"}]},"1 or sleep(3)":"x"}'),
    post('/?q=1', '{"order":{"id":7,"items":[{"EVIL":"a"}]},"note":"x"}'),
    post('/?union%20select=1', '{"order":{"id":7,"items":[{"sku":"a"}]},"note":"x"}'),
    post('/', '{"order":{"id":7,"items":[{"sku":"a"}]},"note":"x"}'),
  ];
  for (let round = 0; round < 3; round++) {
    for (const req of requests) {
      const fresh = compileSecLang(NAME_RULES).ruleSet.evaluate(req);
      assert.deepEqual(shared.evaluate(req), fresh);
    }
  }
  assert.deepEqual(
    requests.map((r) => shared.evaluate(r).matches.map((m) => m.id)),
    [[], [42], [41], [40], []],
  );
  // Two header values and their two names, then the argument names: q and the body's json.order.id,
  // json.order.items.array_0.sku and json.note; the same request again adds nothing.
  const { ruleSet } = compileSecLang(NAME_RULES);
  ruleSet.evaluate(requests[0]);
  assert.equal(ruleSet.valueMemoSize().values, 4 + 1 + 3);
  ruleSet.evaluate(requests[0]);
  assert.equal(ruleSet.valueMemoSize().values, 4 + 1 + 3);
});

test("lists of argument names hold their names' memos within their bound, and a new name is judged", () => {
  // 600 requests, each with 40 member names never seen before: 600 lists, more than the 512 kept (with CRS
  // 3.3's ~1,600 bytes of operator cells and prefilter lists per name, the 6 MB bound holds ~95 such lists).
  const { ruleSet } = compileSecLang(NAME_RULES);
  const post = (json: string): WafRequest => ({
    ...get('/'),
    method: 'POST',
    headers: [
      ['Host', 'x'],
      ['Content-Type', 'application/json'],
    ],
    body: Buffer.from(json),
  });
  const body = (i: number) =>
    JSON.stringify(Object.fromEntries(Array.from({ length: 40 }, (_, k) => [`f${i}_${k}`, k])));
  for (let i = 0; i < 600; i++) ruleSet.evaluate(post(body(i)));
  const size = ruleSet.valueMemoSize();
  assert.ok(size.bytes <= 10 * 1024 * 1024, `${size.bytes} bytes`);
  assert.ok(size.values <= 2048 + 512 * 64, `${size.values} values`);
  // The last list is still known; a list with one name changed is another list, judged afresh.
  assert.deepEqual(ruleSet.evaluate(post(body(599))).matches, []);
  const evil = post(body(599).replace('"f599_3"', '"evil_3"'));
  assert.deepEqual(
    ruleSet.evaluate(evil).matches.map((m) => m.id),
    [41],
  );
});

test('a JSON body verbatim in its arguments is answered from them, and a text across tokens is still found', () => {
  // Each rule reads REQUEST_BODY only; each body holds its text in one place: inside a key, a number, a literal,
  // across a quote and a colon, across white space, or where the body is not verbatim (an escape, an empty
  // container, a document that is one string).
  const { ruleSet } = compileSecLang(`
SecRule REQUEST_BODY "@rx ok\\":1" "id:50,phase:2,pass,t:none"
SecRule REQUEST_BODY "@rx secretkey" "id:51,phase:2,pass,t:none"
SecRule REQUEST_BODY "@rx (?i)nul" "id:52,phase:2,pass,t:none"
SecRule REQUEST_BODY "@rx 12345" "id:53,phase:2,pass,t:none"
SecRule REQUEST_BODY "@rx rue" "id:54,phase:2,pass,t:none"
SecRule REQUEST_BODY "@rx \\x20false" "id:55,phase:2,pass,t:none"
SecRule REQUEST_BODY "@rx nyx" "id:56,phase:2,pass,t:none"
SecRule REQUEST_BODY "@rx emptykey" "id:57,phase:2,pass,t:none"
SecRule REQUEST_BODY "@rx scalartext" "id:58,phase:2,pass,t:none"
`);
  const post = (json: string): WafRequest => ({
    ...get('/'),
    method: 'POST',
    headers: [
      ['Host', 'x'],
      ['Content-Type', 'application/json'],
    ],
    body: Buffer.from(json),
  });
  const ids = (json: string) => ruleSet.evaluate(post(json)).matches.map((m) => m.id);
  assert.deepEqual(ids('{"ok":1}'), [50]);
  assert.deepEqual(ids('{"secretkey":{"a":2}}'), [51]);
  assert.deepEqual(ids('{"a":null}'), [52]);
  assert.deepEqual(ids('{"a":[9,12345]}'), [53]);
  assert.deepEqual(ids('{"a":true}'), [54]);
  assert.deepEqual(ids('{"a": false}'), [55]);
  assert.deepEqual(ids('{"a":false}   '), []);
  assert.deepEqual(ids('   {"a":false}'), []);
  assert.deepEqual(ids('{"a":"x\\nyx"}'), [56]);
  assert.deepEqual(ids('{"emptykey":{},"b":1}'), [57]);
  assert.deepEqual(ids('"scalartext"'), [58]);
  // The same texts in a value (but the first: the body holds \" there).
  assert.deepEqual(
    ids('{"a":"secretkey 12345 rue  false nyx emptykey scalartext"}').sort(),
    [51, 53, 54, 55, 56, 57, 58],
  );
});

test('a JSON body tells whether its text is verbatim in its arguments', () => {
  const read = (json: string, limit = 1000) =>
    readRequestBody(new Map(), { ...get('/'), method: 'POST', body: Buffer.from(json) }, 'JSON', {
      argumentsLimit: limit,
      jsonDepthLimit: 512,
    });
  assert.deepEqual(read('{"a":[1,true,"x"]}'), { verbatim: true, hasNull: false, spaced: false });
  assert.deepEqual(read(' {"a": null }\n'), { verbatim: true, hasNull: true, spaced: true });
  assert.deepEqual(read('{"a":"\\u0041"}'), { verbatim: false, hasNull: false, spaced: false });
  assert.deepEqual(read('{"a":"é"}'), { verbatim: false, hasNull: false, spaced: false });
  assert.deepEqual(read('{"a":[]}'), { verbatim: false, hasNull: false, spaced: false });
  assert.deepEqual(read('12'), { verbatim: false, hasNull: false, spaced: false });
  assert.deepEqual(read('{"a":1,"b":2}', 2), { verbatim: false, hasNull: false, spaced: false });
  assert.equal(read('{"a":'), undefined);
});

test('JSON strings become their UTF-8 bytes, escaped or not, in an ASCII body or not', () => {
  const args = (json: string) => {
    const c = new Map();
    readRequestBody(c, { ...get('/'), method: 'POST', body: Buffer.from(json) }, 'JSON', {
      argumentsLimit: 1000,
      jsonDepthLimit: 512,
    });
    return (c.get('ARGS') ?? []).map((e: { key: string; value: string }) => [e.key, e.value]);
  };
  const e = Buffer.from('é', 'utf8').toString('latin1');
  // An ASCII body whose escapes decode to more than ASCII: the names and values are still bytes.
  assert.deepEqual(args('{"\\u00e9":"\\u00e9","b":"x\\"y"}'), [
    [`json.${e}`, e],
    ['json.b', 'x"y'],
  ]);
  assert.deepEqual(args('{"é":"é","n":-1.5e3,"t":true}'), [
    [`json.${e}`, e],
    ['json.n', '-1.5e3'],
    ['json.t', 'true'],
  ]);
  // Numbers and literals end at white space, `,`, `]` and `}`.
  assert.deepEqual(args('[1 ,2\t,\nnull\r\n,false]'), [
    ['json.array_0', '1'],
    ['json.array_1', '2'],
    ['json.array_2', ''],
    ['json.array_3', 'false'],
  ]);
});

test('header names are remembered as a list: another list of names is another memo', () => {
  const { ruleSet } = compileSecLang(HEADER_RULES);
  ruleSet.evaluate(get('/', [['X-A', '1']]));
  // Two values (x, 1) and the list Host, X-A.
  assert.equal(ruleSet.valueMemoSize().values, 4);
  ruleSet.evaluate(get('/', [['X-A', '1']]));
  assert.equal(ruleSet.valueMemoSize().values, 4);
  // One value more (2) and the list Host, X-A, X-B: three names found by the new list's digest.
  ruleSet.evaluate(
    get('/', [
      ['X-A', '1'],
      ['X-B', '2'],
    ]),
  );
  assert.equal(ruleSet.valueMemoSize().values, 4 + 1 + 3);
  // Judged as on first sight.
  const req = get('/', [
    ['X-A', '1'],
    ['User-Agent', 'sqlmap/1.7'],
  ]);
  assert.deepEqual(ruleSet.evaluate(req), compileSecLang(HEADER_RULES).ruleSet.evaluate(req));
  assert.deepEqual(ruleSet.evaluate(req), compileSecLang(HEADER_RULES).ruleSet.evaluate(req));
});

test('a multiMatch rule a request may skip is asked on every prefix of its chain', () => {
  // Each value holds the pattern's factor after one prefix of the chain only: the raw value, the URL-decoded
  // one, or the base64 reading of that. A skip decided on one chain alone would miss the others.
  const rules = `
SecDefaultAction "phase:2,log,pass"
SecRule ARGS "@rx (?i)eval\\(" "id:30,phase:2,block,multiMatch,t:none,t:urlDecodeUni,t:base64Decode,msg:'js'"
`;
  const { ruleSet, issues } = compileSecLang(rules);
  assert.deepEqual(issues, []);
  const ids = (uri: string) => ruleSet.evaluate(get(uri)).matches.map((m) => m.id);
  assert.deepEqual(ids('/?a=eval(1)'), [30]);
  assert.deepEqual(ids('/?a=ev%2561l(1)'), [30]);
  assert.deepEqual(ids(`/?a=${Buffer.from('eval(1)').toString('base64')}`), [30]);
  assert.deepEqual(ids('/?a=hello&b=world'), []);
});

test('a value holding none of a chain’s plain classes comes out of it the same but for letter case', () => {
  // The proof `hitsOf` and `gatherPair` lean on: such a value's prefilter answer through the chain is its own.
  const lowerAscii = (s: string) => s.replace(/[A-Z]/g, (c) => c.toLowerCase());
  let x = 0x2545f491;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
  const units = [...Array.from({ length: 256 }, (_, c) => String.fromCharCode(c)), '\u0100', '\u20ac'];
  const listed = [...TRANSFORM_TRIGGERS.keys()];
  // Every listed step alone and after each other, and the chains CRS 3.3 and 4 read arguments through.
  const chains: string[][] = [
    ...listed.map((a) => [a]),
    ...listed.flatMap((a) => listed.map((b) => [a, b])),
    ['utf8tounicode', 'urldecodeuni', 'removenulls', 'cmdline'],
    ['urldecodeuni', 'cmdline', 'normalizepath', 'lowercase'],
    [
      'utf8tounicode',
      'urldecodeuni',
      'htmlentitydecode',
      'jsdecode',
      'cssdecode',
      'lowercase',
      'removenulls',
    ],
    ['urldecodeuni', 'lowercase', 'urldecode', 'htmlentitydecode', 'jsdecode'],
    ['urldecode', 'replacecomments', 'compresswhitespace'],
  ];
  let checked = 0;
  for (const chain of chains) {
    const plain = plainClasses(chain);
    const allowed = units.filter((u) => (charClasses(u) & plain) === 0);
    const apply = (s: string) =>
      chain.reduce((v, name) => (TRANSFORMS.get(name) as (v: string) => string)(v), s);
    for (let k = 0; k < 150; k++) {
      let s = '';
      const len = 1 + Math.floor(next() * 16);
      // Mostly letters, so that case steps have something to change.
      for (let i = 0; i < len; i++)
        s += next() < 0.5 ? 'aZqM'[Math.floor(next() * 4)] : allowed[Math.floor(next() * allowed.length)];
      if ((charClasses(s) & plain) !== 0) continue;
      assert.equal(lowerAscii(apply(s)), lowerAscii(s), `${chain.join(',')}(${JSON.stringify(s)})`);
      checked++;
    }
  }
  assert.ok(checked > 50_000, `${checked}`);
  assert.equal(plainClasses(['lowercase']), 0);
  assert.equal(plainClasses(['cmdline']) & CHAR.upper, 0);
  assert.notEqual(plainClasses(['cmdline']) & CHAR.comma, 0);
  assert.equal(plainClasses(['urldecodeuni', 'lowercase']), CHAR.percent | CHAR.plus);
  // A step that may change anything after one: every value is transformed.
  assert.equal(plainClasses(['lowercase', 'base64decode']), ALL_CHARS);
});

test('rules read a collection through chains that change none of its values but for letter case, and through others', () => {
  // EVIL matches through lowercase chains from the raw value's answer; %45VIL only once URL-decoded, and a
  // comma splits `evil,deed` into `evil deed` only through cmdLine: each collection below holds values of
  // both kinds, or only plain ones, in query arguments and their names.
  const { ruleSet, issues } = compileSecLang(
    [
      'SecRule ARGS|ARGS_NAMES "@rx evil" "id:81,phase:2,pass,log,t:none,t:urlDecodeUni,t:lowercase"',
      'SecRule ARGS|ARGS_NAMES "@rx evil deed" "id:82,phase:2,pass,log,t:none,t:cmdLine"',
      'SecRule ARGS|ARGS_NAMES "@rx evil" "id:83,phase:2,pass,log,t:none,t:htmlEntityDecode,t:lowercase"',
      'SecRule ARGS "@rx deed" "id:84,phase:2,pass,log,t:none,t:lowercase"',
    ].join('\n'),
  );
  assert.deepEqual(issues, []);
  const ids = (uri: string) => ruleSet.evaluate(get(uri)).matches.map((m) => m.id);
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(ids('/?a=EVIL&b=fine'), [81, 83]);
    assert.deepEqual(ids('/?a=fine&b=%2545VIL'), [81]);
    assert.deepEqual(ids('/?a=E%26%2386%3BIL&b=x'), [83]);
    assert.deepEqual(ids('/?a=EVIL,DEED&b=fine'), [81, 82, 83, 84]);
    assert.deepEqual(ids('/?a=EVILDEED'), [81, 83, 84]);
    assert.deepEqual(ids('/?EVIL=1&b=2'), [81, 83]);
    assert.deepEqual(ids('/?fine=1&Evil,Deed=2'), [81, 82, 83]);
    assert.deepEqual(ids('/?a=fine&b=good'), []);
  }
});

test('a JSON body verbatim in its arguments is transformed as the same text read as plain text is', () => {
  // Its character classes come from its arguments and names (no pass over it): each rule reads REQUEST_BODY
  // through a chain that acts on white space, punctuation, `null` or letter case, and must answer as it does on
  // the same bytes sent as text/plain (no body processor, the classes read from the text).
  const { ruleSet, issues } = compileSecLang(
    [
      'SecRule REQUEST_BODY "@rx \\"a\\":\\"evil" "id:91,phase:2,pass,log,t:none,t:removeWhitespace"',
      'SecRule REQUEST_BODY "@rx evil deed" "id:92,phase:2,pass,log,t:none,t:cmdLine"',
      'SecRule REQUEST_BODY "@rx \\"k\\": null" "id:93,phase:2,pass,log,t:none,t:compressWhitespace"',
      'SecRule REQUEST_BODY "@rx evil\\":" "id:94,phase:2,pass,log,t:none,t:lowercase"',
      'SecRule REQUEST_BODY "@rx <b" "id:95,phase:2,pass,log,t:none,t:htmlEntityDecode"',
      'SecRule REQUEST_BODY "@rx k:nul" "id:96,phase:2,pass,log,t:none,t:removeWhitespace,t:cmdLine"',
    ].join('\n'),
  );
  assert.deepEqual(issues, []);
  const post = (type: string, text: string): WafRequest => ({
    ...get('/'),
    method: 'POST',
    headers: [
      ['Host', 'x'],
      ['Content-Type', type],
    ],
    body: Buffer.from(text),
  });
  const ids = (type: string, text: string) => ruleSet.evaluate(post(type, text)).matches.map((m) => m.id);
  assert.deepEqual(ids('application/json', '{ "a" : "evil" }'), [91]);
  assert.deepEqual(ids('application/json', '{"a":"x","k":\tnull}'), [93, 96]);
  assert.deepEqual(ids('application/json', '{"EVIL":1}'), [94]);
  const next = seededRandom(0x1badb002);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  const white = ['', '', ' ', '\t', '\n', '  ', '\r\n'];
  const keys = ['a', 'k', 'evil', 'Evil', 'deed'];
  const values = ['"evil"', '"EVIL"', '"deed"', '"evil,deed"', '"&lt;b"', 'null', '1', 'true', '"a b"'];
  let matched = 0;
  for (let n = 0; n < 1500; n++) {
    const members: string[] = [];
    for (let m = 1 + Math.floor(next() * 3); m > 0; m--)
      members.push(`${pick(white)}"${pick(keys)}"${pick(white)}:${pick(white)}${pick(values)}${pick(white)}`);
    const text = `${pick(white)}{${members.join(',')}}${pick(white)}`;
    const json = ids('application/json', text);
    assert.deepEqual(json, ids('text/plain', text), JSON.stringify(text));
    if (json.length > 0) matched++;
  }
  assert.ok(matched > 500, `${matched}`);
});
