import type { PolicyConfigBase } from '../../core/policy.ts';
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

/** Rule exclusions of the Core Rule Set, as `ctl:ruleRemoveById` / `ruleRemoveTargetByTag` would say them. */
export interface CrsExclusion {
  /** Operation ids this exclusion is limited to; every operation of the API when absent. */
  readonly operations?: readonly string[];
  /** Rule ids (`942100`) or ranges (`942000-942999`). */
  readonly ids?: ReadonlyArray<number | string>;
  /** Rule tags (`attack-sqli`, `paranoia-level/2`). */
  readonly tags?: readonly string[];
  /** Variables taken out of those rules (`ARGS:comment`, `REQUEST_COOKIES:session`); the whole rules when absent. */
  readonly targets?: readonly string[];
}

/** The OWASP Core Rule Set mode of the injection policy. */
export interface CrsConfig {
  /** Folder holding the CRS `rules/` (`*.conf` and `*.data`). */
  readonly path: string;
  readonly paranoiaLevel?: number;
  readonly detectionParanoiaLevel?: number;
  readonly inboundAnomalyThreshold?: number;
  readonly allowedMethods?: readonly string[];
  readonly allowedContentTypes?: readonly string[];
  /** Argument values the OpenAPI document types (integers, booleans, enums, uuids, dates) skip the rules. */
  readonly schemaAware?: boolean;
  /** Also run the built-in detectors (the `paranoia`/`classes` settings) after the CRS. */
  readonly builtinDetectors?: boolean;
  readonly exclusions?: readonly CrsExclusion[];
}

export interface InjectionConfig extends PolicyConfigBase {
  crs?: CrsConfig;
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
    crs: {
      type: 'object',
      additionalProperties: false,
      required: ['path'],
      description:
        'Run the OWASP Core Rule Set (CRS 3.3 as Debian installs it, or CRS 4) on every request, with anomaly ' +
        'scoring as crs-setup.conf configures it; these settings replace crs-setup.conf. The rules are loaded ' +
        'once per config load and shared by every operation (docs/injection.md, "Core Rule Set").',
      properties: {
        path: {
          type: 'string',
          minLength: 1,
          description:
            'Folder of the CRS rule files (*.conf, *.data), e.g. /usr/share/modsecurity-crs/rules (Debian ' +
            'modsecurity-crs) or the rules/ folder of a CRS 4 release; relative to the config file.',
        },
        paranoiaLevel: {
          type: 'integer',
          minimum: 1,
          maximum: 4,
          default: 1,
          description:
            'Blocking paranoia level (tx.paranoia_level / tx.blocking_paranoia_level): higher levels add rules ' +
            'that catch more and also match more benign input.',
        },
        detectionParanoiaLevel: {
          type: 'integer',
          minimum: 1,
          maximum: 4,
          description:
            'Detection paranoia level (tx.executing_paranoia_level / tx.detection_paranoia_level), at least ' +
            'paranoiaLevel: rules above paranoiaLevel run and are reported but do not add to the blocking score. ' +
            'Default: paranoiaLevel.',
        },
        inboundAnomalyThreshold: {
          type: 'integer',
          minimum: 1,
          default: 5,
          description:
            'Inbound anomaly score at which a request is refused (tx.inbound_anomaly_score_threshold); a ' +
            'critical rule adds 5, an error 4, a warning 3, a notice 2.',
        },
        allowedMethods: {
          type: 'array',
          items: { type: 'string', pattern: '^[A-Z]+$' },
          description:
            'Methods rule 911100 lets through (tx.allowed_methods). CRS default: GET HEAD POST OPTIONS — an API ' +
            'with PUT, PATCH or DELETE operations must list them.',
        },
        allowedContentTypes: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          description:
            'Request media types rule 920420 lets through (tx.allowed_request_content_type), e.g. ' +
            'application/json. Default: the list of the rule set.',
        },
        schemaAware: {
          type: 'boolean',
          default: true,
          description:
            'Query, form and JSON arguments whose value the OpenAPI document types as integer, number, boolean, ' +
            'enum or a uuid/date/date-time format, and whose value in this request is of that type, are not fed ' +
            'to the rules (they cannot carry an attack).',
        },
        builtinDetectors: {
          type: 'boolean',
          default: true,
          description:
            'Also run the built-in detectors (paranoia, classes, exclusions above) on requests the CRS lets ' +
            'through: they catch NoSQL operators, template and LDAP injection the CRS misses.',
        },
        exclusions: {
          type: 'array',
          default: [],
          description:
            'Rule exclusions (as ctl:ruleRemoveById / ruleRemoveByTag / ruleRemoveTargetById / ' +
            'ruleRemoveTargetByTag would): rules by id or tag removed, or only some of their variables.',
          items: {
            type: 'object',
            additionalProperties: false,
            anyOf: [{ required: ['ids'] }, { required: ['tags'] }],
            properties: {
              operations: {
                type: 'array',
                items: { type: 'string' },
                description: 'Operation ids this exclusion is limited to (all of the API when absent).',
              },
              ids: {
                type: 'array',
                items: {
                  anyOf: [
                    { type: 'integer', minimum: 1 },
                    { type: 'string', pattern: '^[0-9]+(-[0-9]+)?$' },
                  ],
                },
                description: 'Rule ids (942100) or id ranges ("942000-942999").',
              },
              tags: {
                type: 'array',
                items: { type: 'string', minLength: 1 },
                description: 'Rule tags, e.g. attack-sqli or paranoia-level/2.',
              },
              targets: {
                type: 'array',
                items: { type: 'string', pattern: '^[A-Z_]+(:.+)?$' },
                description:
                  'Variables removed from those rules, e.g. ARGS:comment, ARGS:json.bio, REQUEST_COOKIES:session, ' +
                  'REQUEST_HEADERS:User-Agent. The rules are removed whole when absent.',
              },
            },
          },
        },
      },
    },
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
