import type { PolicyConfigBase } from '../policy.ts';
import { INJECTION_CLASSES, type InjectionClass, type Paranoia } from './types.ts';

/** Where in the request an exclusion applies. */
export type InjectionLocation = 'path' | 'query' | 'header' | 'cookie' | 'body';

/** A place where some (or all) classes are not looked for, because the API legitimately accepts them there. */
export interface InjectionExclusion {
  /** Operation ids this exclusion is limited to; every operation when absent. */
  readonly operations?: readonly string[];
  readonly location: InjectionLocation;
  /** Parameter, header or cookie name (case-insensitive for headers); all of that location when absent. */
  readonly name?: string;
  /** JSON pointer in the body (`/comment`, `/items/0/text`); it and everything below it. */
  readonly pointer?: string;
  /** Classes not looked for there; all classes when absent. */
  readonly classes?: readonly InjectionClass[];
}

export interface InjectionConfig extends PolicyConfigBase {
  paranoia: Paranoia;
  classes: InjectionClass[];
  headers: string[];
  cookies: boolean;
  body: boolean;
  exclusions: InjectionExclusion[];
}

export const defaults: Omit<InjectionConfig, 'mode'> = {
  paranoia: 1,
  classes: [...INJECTION_CLASSES],
  headers: ['user-agent', 'referer', 'x-forwarded-host', 'x-original-url', 'x-rewrite-url'],
  cookies: true,
  body: true,
  exclusions: [],
};

const classList = {
  type: 'array',
  items: { enum: [...INJECTION_CLASSES] },
  uniqueItems: true,
};

/** JSON Schema of the `injection` config block. */
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    paranoia: {
      enum: [1, 2, 3],
      default: defaults.paranoia,
      description:
        '1 catches unambiguous attacks with almost no false positives; 2 and 3 add rules that also match ' +
        'unusual benign text (see docs/injection.md for measured rates).',
    },
    classes: {
      ...classList,
      default: defaults.classes,
      description: 'Attack classes to look for: sqli, nosqli, cmdi, path-traversal, xss, ldap, ssti.',
    },
    headers: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: defaults.headers,
      description:
        'Request headers whose values are inspected (case-insensitive). Authorization and Cookie are never ' +
        'inspected wholesale; cookie values are inspected one by one when `cookies` is true.',
    },
    cookies: {
      type: 'boolean',
      default: defaults.cookies,
      description: 'Inspect each cookie value of the Cookie header (every cookie, however many).',
    },
    body: {
      type: 'boolean',
      default: defaults.body,
      description:
        'Inspect every request body under the media type it is sent with (JSON keys and leaves, form and ' +
        'multipart fields, text; bytes by the text they hold), buffering it even where the operation ' +
        'declares none. `false` lets bodies stream uninspected.',
    },
    exclusions: {
      type: 'array',
      default: [],
      description: 'Places where some classes are not looked for, e.g. a rich-text field that takes HTML.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['location'],
        properties: {
          operations: {
            type: 'array',
            items: { type: 'string' },
            description: 'Operation ids this exclusion is limited to (all when absent).',
          },
          location: {
            enum: ['path', 'query', 'header', 'cookie', 'body'],
            description: 'Part of the request.',
          },
          name: { type: 'string', description: 'Parameter, header or cookie name (all when absent).' },
          pointer: {
            type: 'string',
            pattern: '^(/.*)?$',
            description: 'JSON pointer in the body; covers that value and everything below it.',
          },
          classes: { ...classList, description: 'Classes not looked for there (all when absent).' },
        },
      },
    },
  },
} as const;
