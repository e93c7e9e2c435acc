import assert from 'node:assert/strict';
import { test } from 'node:test';
import { seededRandom } from '../../../test/kit/random.ts';
import {
  ALL_CHARS,
  CHAR,
  charClasses,
  cmdLineKeeps,
  hasWhitespaceToCompress,
  lowercase,
  TRANSFORM_TRIGGERS,
  TRANSFORMS,
} from './transforms.ts';

/** Every byte, and a few code units above 0xFF, with its class. */
const UNITS: ReadonlyArray<readonly [string, number]> = [
  ...Array.from({ length: 256 }, (_, c) => String.fromCharCode(c)),
  '\u0100',
  '\u20ac',
  '\uff1c',
].map((ch) => [ch, charClasses(ch)] as const);

test('charClasses names the class of every byte', () => {
  assert.equal(charClasses(''), 0);
  assert.equal(charClasses('aZ9'), CHAR.lower | CHAR.upper | CHAR.digit);
  assert.equal(charClasses('%+&\\\0'), CHAR.percent | CHAR.plus | CHAR.amp | CHAR.backslash | CHAR.nul);
  assert.equal(charClasses('\xa0\u20ac'), CHAR.high);
  assert.equal(charClasses(' \t\v'), CHAR.space | CHAR.controlSpace);
  assert.equal(charClasses(`/."'^,;*-#<`), charClasses('/."^,;*-#<'));
  assert.equal(charClasses('~'), CHAR.other);
  for (const [ch, cls] of UNITS) {
    assert.equal(cls & (cls - 1), 0, `one class for ${JSON.stringify(ch)}`);
    assert.notEqual(cls & ALL_CHARS, 0);
  }
});

test('a value holding none of a transformation’s trigger characters comes out unchanged', () => {
  const next = seededRandom(0x5eed);
  for (const [name, trigger] of TRANSFORM_TRIGGERS) {
    const fn = TRANSFORMS.get(name);
    assert.ok(fn, name);
    const allowed = UNITS.filter(([, cls]) => (cls & trigger) === 0).map(([ch]) => ch);
    assert.ok(allowed.length > 0, name);
    // Every allowed character alone and in pairs, then random strings of them.
    for (const a of allowed) {
      assert.equal(fn(a), a, `${name}(${JSON.stringify(a)})`);
      for (const b of ['', ' ', '.', '/', '-', 'A', '0', '\0'])
        if (allowed.includes(b))
          assert.equal(fn(a + b + a), a + b + a, `${name}(${JSON.stringify(a + b + a)})`);
    }
    for (let k = 0; k < 3000; k++) {
      let s = '';
      const len = Math.floor(next() * 24);
      for (let i = 0; i < len; i++) s += allowed[Math.floor(next() * allowed.length)];
      assert.equal(fn(s), s, `${name}(${JSON.stringify(s)})`);
    }
  }
});

test('the triggers are tight enough to matter and wide enough to be true', () => {
  // A trigger character present: the transformation may change the value (one witness each).
  const witnesses: Record<string, string> = {
    urldecode: 'a%41',
    urldecodeuni: 'a+b',
    htmlentitydecode: '&lt;',
    jsdecode: '\\x41',
    cssdecode: '\\41',
    utf8tounicode: '\xc3\xa9',
    removenulls: 'a\0',
    replacenulls: 'a\0',
    removewhitespace: 'a b',
    compresswhitespace: 'a\tb',
    cmdline: 'A',
    lowercase: 'A',
    uppercase: 'a',
    normalizepath: '/a/../b',
    normalizepathwin: '\\a\\..\\b',
    replacecomments: 'a/*b*/',
    removecommentschar: 'a--',
    removecomments: 'a<!--b-->',
    escapeseqdecode: '\\n',
    sqlhexdecode: '0x41',
    trim: ' a',
  };
  for (const [name, input] of Object.entries(witnesses)) {
    const fn = TRANSFORMS.get(name);
    assert.ok(fn);
    assert.notEqual(fn(input), input, name);
    const trigger = TRANSFORM_TRIGGERS.get(name) ?? ALL_CHARS;
    assert.notEqual(charClasses(input) & trigger, 0, `${name}: its witness holds a trigger`);
  }
  // Transformations that may change any value are not listed.
  for (const name of ['base64decode', 'hexencode', 'length', 'md5', 'sha1', 'urlencode'])
    assert.equal(TRANSFORM_TRIGGERS.has(name), false, name);
});

test('sha1 and md5 give the digest bytes of the byte string', () => {
  const hex = (s: string) => Buffer.from(s, 'latin1').toString('hex');
  assert.equal(hex(TRANSFORMS.get('sha1')?.('abc') ?? ''), 'a9993e364706816aba3e25717850c26c9cd0d89d');
  assert.equal(hex(TRANSFORMS.get('md5')?.('abc') ?? ''), '900150983cd24fb0d6963f7d28e17f72');
  // Bytes above 0x7F are hashed as single bytes (latin1), not as UTF-8.
  assert.equal(hex(TRANSFORMS.get('md5')?.('\xe9') ?? ''), '3406877694691ddd1dfb0aca54681407');
  assert.notEqual(
    hex(TRANSFORMS.get('sha1')?.('\xe9') ?? ''),
    hex(TRANSFORMS.get('sha1')?.('\xc3\xa9') ?? ''),
  );
});

test('base64Decode reads the leading base64 part as Node does', () => {
  const fn = TRANSFORMS.get('base64decode');
  assert.ok(fn);
  const reference = (s: string) => {
    const m = /^[A-Za-z0-9+/]*={0,2}/.exec(s);
    return Buffer.from(m ? m[0] : '', 'base64').toString('latin1');
  };
  const next = seededRandom(0xba5e);
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=-_ .%\xe9\u20ac';
  for (const s of ['', 'QQ', 'QUI', 'QUJD', 'Q', 'QQ==', 'QUI=x', 'Zm9vYmFy', '====', 'a=b'])
    assert.equal(fn(s), reference(s), s);
  for (let k = 0; k < 20_000; k++) {
    let s = '';
    const len = Math.floor(next() * 20);
    // Mostly alphabet characters, so that long valid prefixes occur.
    for (let i = 0; i < len; i++)
      s += next() < 0.85 ? alphabet[Math.floor(next() * 64)] : alphabet[Math.floor(next() * alphabet.length)];
    assert.equal(fn(s), reference(s), JSON.stringify(s));
  }
});

test('the "anything to do?" tests of compressWhitespace, cmdLine and lowercase answer as character loops do', () => {
  // The loops these regular expressions replaced (session 11), as references.
  const isSpace = (c: number) => c === 0x20 || (c >= 0x09 && c <= 0x0d);
  const compressLoop = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x20) {
        const d = s.charCodeAt(i + 1);
        if (isSpace(d) || d === 0xa0) return true;
      } else if (isSpace(c) || c === 0xa0) return true;
    }
    return false;
  };
  const keepsLoop = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c === 0x22 || c === 0x27 || c === 0x5c || c === 0x5e || c === 0x2c || c === 0x3b) return false;
      if (c >= 0x41 && c <= 0x5a) return false;
      if (c === 0x20) {
        const d = s.charCodeAt(i + 1);
        if (d === 0x20 || d === 0x2f || d === 0x28 || (d >= 0x09 && d <= 0x0d)) return false;
      } else if (c >= 0x09 && c <= 0x0d) return false;
    }
    return true;
  };
  const lowerLoop = (s: string) => {
    let out = '';
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      out += c >= 0x41 && c <= 0x5a ? String.fromCharCode(c + 32) : s[i];
    }
    return out;
  };
  const alphabet = [
    ' ',
    '\t',
    '\n',
    '\v',
    '\f',
    '\r',
    '\x08',
    '\x0e',
    '\xa0',
    'a',
    'A',
    'Z',
    '@',
    '[',
    '"',
    "'",
  ];
  alphabet.push('\\', '^', ',', ';', '/', '(', '\x7f', '\x80', '\xc0', '\u0100', '\u0130');
  let strings = [''];
  let checked = 0;
  for (let length = 0; length <= 3; length++) {
    for (const s of strings) {
      assert.equal(hasWhitespaceToCompress(s), compressLoop(s), JSON.stringify(s));
      assert.equal(cmdLineKeeps(s), keepsLoop(s), JSON.stringify(s));
      assert.equal(lowercase(s), lowerLoop(s), JSON.stringify(s));
      checked++;
    }
    strings = strings.flatMap((s) => alphabet.map((c) => s + c));
  }
  assert.equal(checked, 1 + 27 + 27 ** 2 + 27 ** 3);
});
