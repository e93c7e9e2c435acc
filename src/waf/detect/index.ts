/**
 * libinjection-compatible detectors for the `@detectSQLi` and `@detectXSS` operators (issue 17).
 * Written in our own code; the implementation lands in sql.ts and xss.ts beside this file.
 */

/** What `@detectSQLi` answers: whether the input looks like SQL injection, and the token fingerprint that matched. */
export interface SqliDetection {
  readonly match: boolean;
  /** The token-class fingerprint (for example `s&1`), present when `match` is true. */
  readonly fingerprint?: string;
}

/** Tells whether `input` reads as SQL injection, the way libinjection's `libinjection_sqli` decides. */
export function detectSQLi(input: string): SqliDetection {
  void input;
  return { match: false };
}

/** Tells whether `input` reads as cross-site scripting, the way libinjection's `libinjection_xss` decides. */
export function detectXSS(input: string): boolean {
  void input;
  return false;
}
