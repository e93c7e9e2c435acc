/**
 * HMAC secrets worth trying offline against a captured token: thousands of candidates, generated from a list
 * of words that people and tutorials use as JWT secrets (written for Portcullis, not copied from a third-party
 * list), combined with the usual decorations (`my`, `super`, `_key`, `123`, a year, case changes), plus words
 * taken from the API under test (its title, host and path segments: `notes-secret`, `shop_jwt_key`...).
 *
 * A match means anyone can mint tokens; the list is a floor, not a proof of strength.
 */

/** Words seen as secrets in tutorials, framework defaults, sample apps and leaked configs. */
const BASE_WORDS = [
  'secret',
  'secrets',
  'secretkey',
  'secret key',
  'jwt',
  'jwtsecret',
  'jwtkey',
  'jwttoken',
  'token',
  'tokensecret',
  'key',
  'privatekey',
  'private',
  'signingkey',
  'signing',
  'hmac',
  'hmackey',
  'hs256',
  'auth',
  'authsecret',
  'authkey',
  'access',
  'accesstoken',
  'session',
  'sessionsecret',
  'cookie',
  'app',
  'appsecret',
  'appkey',
  'application',
  'api',
  'apisecret',
  'apikey',
  'server',
  'backend',
  'node',
  'express',
  'flask',
  'django',
  'fastapi',
  'rails',
  'spring',
  'laravel',
  'mongo',
  'mongodb',
  'mongoose',
  'postgres',
  'mysql',
  'redis',
  'password',
  'passw0rd',
  'p@ssw0rd',
  'pass',
  'passwd',
  'changeme',
  'change-me',
  'changethis',
  'changeit',
  'replaceme',
  'replace-me',
  'default',
  'defaultsecret',
  'admin',
  'administrator',
  'root',
  'test',
  'testing',
  'tester',
  'demo',
  'sample',
  'example',
  'dev',
  'development',
  'devsecret',
  'local',
  'localhost',
  'staging',
  'prod',
  'production',
  'qwerty',
  'qwertyuiop',
  'asdf',
  'asdfgh',
  'abc',
  'abcdef',
  'abcdefg',
  'abcdefgh',
  'abc123',
  'letmein',
  'welcome',
  'hello',
  'helloworld',
  'hello world',
  'foobar',
  'foo',
  'bar',
  'baz',
  'shhh',
  'shhhh',
  'shhhhh',
  'shhhhhhared-secret',
  'keyboard cat',
  'keyboardcat',
  'notasecret',
  'nosecret',
  'not-so-secret',
  'topsecret',
  'supersecret',
  'verysecret',
  'mysecret',
  'mysecretkey',
  'mykey',
  'mypassword',
  'your-256-bit-secret',
  'your-384-bit-secret',
  'your-512-bit-secret',
  'your_jwt_secret',
  'your-secret-key',
  'your_secret_key',
  'yoursecretkey',
  'your-secret',
  'secret-key-here',
  'put-your-secret-here',
  'insert-secret-here',
  'thisismysecret',
  'thisisasecret',
  'this is a secret',
  'this-is-a-secret',
  'thisisthesecret',
  'thesecret',
  's3cr3t',
  's3cret',
  'secr3t',
  'sekret',
  'sekrit',
  'random',
  'randomsecret',
  'randomstring',
  'random_string',
  'gfg_jwt_secret_key',
  'ilovecoding',
  'iloveyou',
  'monkey',
  'dragon',
  'master',
  'sunshine',
  'princess',
  'football',
  'baseball',
  'trustno1',
  'love',
  'god',
  'batman',
  'superman',
  'starwars',
  'pokemon',
  'ninja',
  'unicorn',
  'banana',
  'apple',
  'orange',
  'coffee',
  'pizza',
  'cat',
  'dog',
  'tiger',
  'lion',
  'user',
  'users',
  'login',
  'vulnerable',
  'vulnapi',
  'insecure',
  'hacker',
  'hackme',
  'pentest',
  'owasp',
  'crapi',
  'juice',
  'juiceshop',
  'dvws',
  'security',
  'secure',
  'safe',
  'lock',
  'cipher',
  'crypto',
  'encryption',
  'encrypt',
  'sign',
  'signature',
  'verify',
  'company',
  'startup',
  'project',
  'myapp',
  'my-app',
  'webapp',
  'website',
  'service',
  'microservice',
  'gateway',
  'store',
  'shop',
  'notes',
  'blog',
  'todo',
  'books',
  'library',
  'bank',
  'chat',
  'social',
  'game',
  'movies',
  'music',
  'food',
  'restaurant',
  'hotel',
  'travel',
  'health',
  'school',
  'mobile',
  'ios',
  'android',
  'web',
  'frontend',
  'react',
  'angular',
  'vue',
  'javascript',
  'typescript',
  'python',
  'java',
  'golang',
  'rust',
  'php',
  'ruby',
  'docker',
  'kubernetes',
  'cloud',
  'aws',
  'azure',
  'gcp',
  'firebase',
  'heroku',
  'vercel',
  'github',
  'gitlab',
  'jenkins',
  'ci',
  'placeholder',
  'todo-change',
  'temp',
  'tmp',
  'temporary',
  'null',
  'undefined',
  'none',
  'empty',
  'blank',
  'zero',
  'one',
  'x',
  'xxx',
  'xxxx',
  'xxxxxx',
  'aaaa',
  'aaaaaa',
  'zzzz',
  'a',
  'ab',
];

/** Secrets kept exactly as they are (digits, keyboard runs, well-known defaults). */
const LITERALS = [
  '',
  '0',
  '1',
  '12',
  '123',
  '1234',
  '12345',
  '123456',
  '1234567',
  '12345678',
  '123456789',
  '1234567890',
  '0123456789',
  '000000',
  '111111',
  '654321',
  '987654321',
  '112233',
  '121212',
  '123123',
  '666666',
  '696969',
  '7777777',
  '888888',
  '999999',
  '1q2w3e4r',
  '1qaz2wsx',
  'q1w2e3r4',
  'zaq12wsx',
  'SECRET_KEY',
  'JWT_SECRET',
  'JWT_SECRET_KEY',
  'TOKEN_SECRET',
  'ACCESS_TOKEN_SECRET',
  'REFRESH_TOKEN_SECRET',
  'APP_SECRET',
  'SESSION_SECRET',
  'AUTH_SECRET',
  'NEXTAUTH_SECRET',
  'process.env.JWT_SECRET',
  '${JWT_SECRET}',
  '%JWT_SECRET%',
  'secret_key_base',
  'django-insecure',
  'super-secret-jwt-token-with-at-least-32-characters-long',
  'a-string-secret-at-least-256-bits-long',
  'this_is_a_very_long_secret_key_for_jwt_signing',
  '09d25e094faa6ca2556c818166b7a9563b93f7099f6f0f4caa6cf63b88e8d3e7',
  'c2VjcmV0',
  'c2VjcmV0a2V5',
  'secret\n',
  'Secret123!',
  'Password1',
  'Password123',
  'Password123!',
  'P@ssw0rd',
  'P@ssword1',
  'Admin123',
  'admin123',
  'admin1234',
  'root123',
  'toor',
  'test123',
  'test1234',
  'Test1234',
  'guest',
  'changeme123',
];

const PREFIXES = ['', 'my', 'my_', 'my-', 'super', 'super_', 'super-', 'the', 'app_', 'app-', 'jwt_', 'jwt-'];
const SUFFIXES = [
  '',
  '1',
  '12',
  '123',
  '1234',
  '12345',
  '123456',
  '!',
  '!!',
  '@123',
  '_secret',
  '-secret',
  'secret',
  '_key',
  '-key',
  'key',
  '_jwt',
  '-jwt',
  '_token',
  '-token',
  '_secret_key',
  '-secret-key',
  '2020',
  '2021',
  '2022',
  '2023',
  '2024',
  '2025',
  '2026',
  '_dev',
  '-dev',
  '_prod',
  '-prod',
  '_test',
  '-test',
];

/** Suffixes that are words: also joined in Pascal and camel case (`JwtSecret`, `secretKey`). */
const WORD_SUFFIXES = ['secret', 'key', 'jwt', 'token', 'secret_key', 'password'];

/** Suffixes also tried after a prefix (`my_app_secret`, `superjwtkey`). */
const COMBINED_SUFFIXES = ['_secret', '-secret', 'secret', '_key', '-key', 'key', '123'];

/**
 * Number and year tails also put after a word ending in `_key`/`_secret` with no prefix or a `my`/`super` one
 * (`super_secret_key_123`, `my-jwt-key2024`): the common tails only, so the list stays under eighty thousand.
 */
const TAILS = ['123', '1234', '!', '_123', '2024'];
const TAILED_PREFIXES = new Set(['', 'my_', 'my-', 'super_', 'super-']);
const TAILED_SUFFIXES = new Set(['_key', '-key', '_secret', '-secret']);

/** `super` + `secret` + `_key` → `SuperSecretKey` and `superSecretKey`: the parts joined in Pascal and camel case. */
function joinedCases(parts: readonly string[]): string[] {
  const words = parts.flatMap((p) => p.split(/[\s_-]+/)).filter((w) => /^[a-z]/i.test(w));
  if (words.length < 2) return [];
  const pascal = words.map((w) => w[0].toUpperCase() + w.slice(1)).join('');
  return [pascal, pascal[0].toLowerCase() + pascal.slice(1)];
}

function caseVariants(word: string): string[] {
  const out = [word, word.toUpperCase()];
  if (word.length > 0) out.push(word[0].toUpperCase() + word.slice(1));
  return out;
}

let common: readonly string[] | undefined;

/** The undecorated candidates (the literals and each base word in its three cases): tried first. */
export function commonSecrets(): readonly string[] {
  common ??= [...new Set([...LITERALS, ...BASE_WORDS.flatMap(caseVariants)])];
  return common;
}

let cached: readonly string[] | undefined;

/** The built-in candidates (about seventy thousand, no duplicates), generated once. */
export function weakHmacSecrets(): readonly string[] {
  if (cached) return cached;
  const out = new Set<string>(LITERALS);
  for (const word of BASE_WORDS) {
    for (const w of caseVariants(word)) out.add(w);
    for (const s of SUFFIXES) {
      out.add(`${word}${s}`);
      if (s.length <= 3) out.add(`${word}${s}`.toUpperCase());
    }
    for (const s of WORD_SUFFIXES) for (const w of joinedCases([word, s])) out.add(w);
    for (const p of PREFIXES) {
      out.add(`${p}${word}`);
      for (const w of joinedCases([p, word])) out.add(w);
      for (const s of COMBINED_SUFFIXES) {
        out.add(`${p}${word}${s}`);
        for (const w of joinedCases([p, word, s])) out.add(w);
        if (TAILED_PREFIXES.has(p) && TAILED_SUFFIXES.has(s))
          for (const t of TAILS) out.add(`${p}${word}${s}${t}`);
      }
    }
    out.add(word.replace(/[aeio]/g, (c) => ({ a: '4', e: '3', i: '1', o: '0' })[c] ?? c));
    out.add(word.replace(/\s+/g, '_'));
    out.add(word.replace(/\s+/g, '-'));
  }
  cached = [...out];
  return cached;
}

/** Candidates made from the API's own words (title, host, path segments): `notes`, `notes-secret`, `NotesKey`. */
export function secretsFromWords(words: readonly string[]): string[] {
  const out = new Set<string>();
  for (const raw of words) {
    const word = raw.trim();
    if (word.length < 2 || word.length > 40) continue;
    const forms = new Set([
      word,
      word.toLowerCase(),
      word.toLowerCase().replace(/[\s_-]+/g, ''),
      word.replace(/\s+/g, '-'),
      word.replace(/\s+/g, '_'),
    ]);
    for (const f of forms) {
      out.add(f);
      for (const s of SUFFIXES) out.add(`${f}${s}`);
      for (const p of PREFIXES) if (p) out.add(`${p}${f}`);
      out.add(`${f[0].toUpperCase()}${f.slice(1)}Secret`);
      out.add(`${f[0].toUpperCase()}${f.slice(1)}Key`);
    }
  }
  return [...out];
}

/**
 * Phrases people write as secrets, in three slots: an opening (`my`, `super`, `your`, `this is my`, an
 * environment, the API's own words), what the value is (`secret key`, `jwt secret`, `signing key`...), and a
 * closing plea or note (`dont share`, `change me`, `for dev`, `123`...), each slot possibly empty, the words
 * joined by `_`, `-`, `.`, nothing, or in camel and Pascal case: `super_secret_key_dont_share`,
 * `my-jwt-secret-change-me`, `yourSecretKeyGoesHere`. Generated, not listed: about 40 000 with three words of
 * the API.
 */
const PHRASE_OPENINGS = [
  '',
  'my',
  'super',
  'my super',
  'your',
  'your super',
  'the',
  'this is my',
  'this is a',
  'this is the',
  'very',
  'top',
  'app',
  'api',
  'jwt',
  'dev',
  'test',
  'prod',
  'default',
  'private',
];
const PHRASE_CORES = [
  'secret',
  'secret key',
  'jwt secret',
  'jwt key',
  'jwt secret key',
  'jwt signing key',
  'signing key',
  'signing secret',
  'private key',
  'token secret',
  'token key',
  'access token secret',
  'auth secret',
  'session secret',
  'api key',
  'app secret',
  'key',
];
const PHRASE_CLOSINGS = [
  '',
  'dont share',
  'do not share',
  'dont tell',
  'dont use in production',
  'change me',
  'change this',
  'change it',
  'please change',
  'change in production',
  'not for production',
  'for dev',
  'for development',
  'goes here',
  'here',
  '123',
  '2024',
  '2025',
];
/** How the words of a phrase are joined (camel and Pascal case apart). */
const JOINERS = ['_', '-', '.', ''];

export function secretPhrases(apiWords: readonly string[] = []): string[] {
  // The API's own words open the first phrases: the likeliest, and first within a time budget.
  const openings: string[] = [];
  for (const w of apiWords.slice(0, 3)) {
    const word = w.trim().toLowerCase();
    if (/^[a-z][a-z0-9 ]{1,20}$/.test(word) && !openings.includes(word)) openings.push(word);
  }
  for (const o of PHRASE_OPENINGS) if (!openings.includes(o)) openings.push(o);
  const out = new Set<string>();
  for (const opening of openings)
    for (const core of PHRASE_CORES)
      for (const closing of PHRASE_CLOSINGS) {
        const words = [opening, core, closing]
          .join(' ')
          .split(/\s+/)
          .filter((x) => x !== '');
        // One word alone is the word lists' matter; two or more make a phrase.
        if (words.length < 2) continue;
        for (const j of JOINERS) out.add(words.join(j));
        for (const w of joinedCases(words)) out.add(w);
      }
  return [...out];
}

/** Kept for callers of the first generation: the generated list. */
export const WEAK_HMAC_SECRETS: readonly string[] = weakHmacSecrets();
