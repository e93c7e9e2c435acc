/**
 * The injection detection engine: a negative model beside the schema. `compileDetector` fixes the paranoia
 * level and the enabled classes once; the returned detector runs hand-written, single-pass scanners over
 * each decoded form of a value and names the first class that matches. No regular expression runs over a
 * whole client value; the few small ones in the scanners are anchored and run on bounded slices.
 */

import { detectCmdi } from './cmdi.ts';
import { decodedForms } from './decode.ts';
import { detectLdap } from './ldap.ts';
import { detectNosqli, detectNosqlKey } from './nosqli.ts';
import { detectSqli } from './sqli.ts';
import { detectSsti } from './ssti.ts';
import { detectTraversal } from './traversal.ts';
import { INJECTION_CLASSES, type InjectionClass, type Paranoia } from './types.ts';
import { detectXss } from './xss.ts';

export { INJECTION_CLASSES, type InjectionClass, type Paranoia } from './types.ts';

export interface DetectorOptions {
  readonly paranoia: Paranoia;
  /** Classes to look for; all of them when absent. */
  readonly classes?: readonly InjectionClass[];
}

/** A compiled detector. Both methods return the first matching class, or undefined. */
export interface Detector {
  readonly paranoia: Paranoia;
  readonly classes: ReadonlySet<InjectionClass>;
  /** Checks a value (parameter, header, JSON string leaf). */
  scanValue(value: string, only?: ReadonlySet<InjectionClass>): InjectionClass | undefined;
  /** Checks a name (JSON object key, query parameter name): operators like `$ne`, plus every value rule. */
  scanKey(key: string, only?: ReadonlySet<InjectionClass>): InjectionClass | undefined;
}

type Scanner = (decoded: string, p: Paranoia, raw: string) => boolean;

const SCANNERS: Readonly<Record<InjectionClass, Scanner>> = {
  sqli: detectSqli,
  nosqli: detectNosqli,
  cmdi: detectCmdi,
  'path-traversal': detectTraversal,
  xss: detectXss,
  ldap: detectLdap,
  ssti: detectSsti,
};

/** Values made only of letters, digits and `-_` cannot carry any of the attacks: skip them outright. */
function isPlain(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 45 || c === 95)) {
      return false;
    }
  }
  return true;
}

/**
 * Builds a detector for one paranoia level and set of classes.
 * @example
 * const detector = compileDetector({ paranoia: 1 });
 * detector.scanValue("' or 1=1 --"); // 'sqli'
 */
export function compileDetector(options: DetectorOptions): Detector {
  const paranoia = options.paranoia;
  const classes = new Set<InjectionClass>(options.classes ?? INJECTION_CLASSES);
  const ordered = INJECTION_CLASSES.filter((c) => classes.has(c));
  const scanValue = (value: string, only?: ReadonlySet<InjectionClass>): InjectionClass | undefined => {
    if (value.length < 2 || isPlain(value)) return undefined;
    const forms = decodedForms(value);
    const raw = forms[0];
    for (const cls of ordered) {
      if (only !== undefined && !only.has(cls)) continue;
      const scan = SCANNERS[cls];
      for (const form of forms) if (scan(form, paranoia, raw)) return cls;
    }
    return undefined;
  };
  return {
    paranoia,
    classes,
    scanValue,
    scanKey(key, only) {
      if (
        classes.has('nosqli') &&
        (only === undefined || only.has('nosqli')) &&
        detectNosqlKey(key, paranoia)
      ) {
        return 'nosqli';
      }
      return scanValue(key, only);
    },
  };
}
