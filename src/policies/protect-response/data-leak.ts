/**
 * Detectors for secrets and personal data in response strings. Every pattern is linear in the input
 * (bounded quantifiers, no nested unbounded repetition) and guarded by a cheap substring prefilter.
 */

export type DetectorName = 'privateKey' | 'jwt' | 'apiKey' | 'cardNumber' | 'email';
export const DETECTORS: readonly DetectorName[] = ['privateKey', 'jwt', 'apiKey', 'cardNumber', 'email'];

interface Detector {
  readonly name: DetectorName;
  /** Cheap test before the regex runs. */
  readonly maybe: (s: string) => boolean;
  /** Global regex of the sensitive substrings. */
  readonly pattern: RegExp;
  /** Extra check of a match (Luhn for card numbers). */
  readonly confirm?: (match: string) => boolean;
}

/** Luhn checksum (ISO/IEC 7812-1 Annex B) of the digits in `s`. */
export function passesLuhn(s: string): boolean {
  let sum = 0;
  let double = false;
  let digits = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) continue;
    let d = c - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
    digits++;
  }
  return digits >= 13 && digits <= 19 && sum % 10 === 0;
}

const HAS_DIGIT_RUN = /\d{4}/;
const API_KEY_PREFIX = /AKIA|ASIA|k_live_|gh[pousr]_|github_pat_|xox[abposr]-|AIza|glpat-/;

const ALL: readonly Detector[] = [
  {
    name: 'privateKey',
    maybe: (s) => s.includes('PRIVATE KEY'),
    // PEM private keys (PKCS#1, PKCS#8, EC, OpenSSH, encrypted): the whole armoured block.
    pattern:
      /-----BEGIN (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY-----(?:[A-Za-z0-9+/=\s:,-]{0,16384}?-----END (?:[A-Z0-9]{1,12} ){0,3}PRIVATE KEY-----)?/g,
  },
  {
    name: 'jwt',
    maybe: (s) => s.includes('eyJ'),
    // JWS compact serialisation whose header and payload are JSON objects (base64url of `{"`).
    pattern: /eyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,16384}\.[A-Za-z0-9_-]{0,1024}/g,
  },
  {
    name: 'apiKey',
    maybe: (s) => s.length >= 20 && API_KEY_PREFIX.test(s),
    // AWS access key ids, Stripe live keys, GitHub tokens, Slack tokens, Google API keys, GitLab PATs.
    pattern:
      /\b(?:(?:AKIA|ASIA)[0-9A-Z]{16}\b|[sr]k_live_[0-9A-Za-z]{16,128}|gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{40,255}|xox[abposr]-[A-Za-z0-9-]{10,255}|AIza[0-9A-Za-z_-]{35}|glpat-[A-Za-z0-9_-]{20,64})/g,
  },
  {
    name: 'cardNumber',
    maybe: (s) => s.length >= 13 && HAS_DIGIT_RUN.test(s),
    // 13 to 19 digits, optionally grouped by spaces or dashes, confirmed by the Luhn check.
    pattern: /\b\d(?:[ -]?\d){12,18}\b/g,
    confirm: passesLuhn,
  },
  {
    name: 'email',
    maybe: (s) => s.includes('@'),
    pattern: /[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}\.[A-Za-z]{2,24}\b/g,
  },
];

export const REDACTED = '[REDACTED]';

/** A compiled set of detectors. */
export interface LeakScanner {
  /**
   * Scans one string; returns the detectors that fired (minus `exempt`) and the masked string.
   * Returns undefined when nothing was found.
   */
  scan(
    value: string,
    exempt?: ReadonlySet<DetectorName>,
  ): { found: DetectorName[]; masked: string } | undefined;
}

export function createLeakScanner(enabled: readonly DetectorName[]): LeakScanner {
  const detectors = ALL.filter((d) => enabled.includes(d.name));
  return {
    scan(value, exempt) {
      let masked = value;
      // Made at the first finding: nearly every string has none.
      let found: DetectorName[] | undefined;
      for (const d of detectors) {
        if (exempt?.has(d.name) || !d.maybe(masked)) continue;
        d.pattern.lastIndex = 0;
        if (!d.pattern.test(masked)) continue;
        let hit = false;
        masked = masked.replace(d.pattern, (m) => {
          if (d.confirm !== undefined && !d.confirm(m)) return m;
          hit = true;
          return REDACTED;
        });
        if (!hit) continue;
        if (found === undefined) found = [d.name];
        else found.push(d.name);
      }
      return found === undefined ? undefined : { found, masked };
    },
  };
}
