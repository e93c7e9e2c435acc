/**
 * libinjection-compatible detectors for the `@detectSQLi` and `@detectXSS` operators (issue 17), in our
 * own code: a SQL tokenizer and folder with a fingerprint grammar, and an HTML5 tokenizer with the list
 * of markup that runs script. Inputs are byte strings (latin1 code units); see bytes.ts.
 *
 * @example
 * detectSQLi("1' or '1'='1"); // { match: true, fingerprint: 's&sos' }
 * detectXSS('<img src=x onerror=alert(1)>'); // true
 */
export { detectSQLi, type SqliDetection } from './sqli.ts';
export { detectXSS } from './xss.ts';
