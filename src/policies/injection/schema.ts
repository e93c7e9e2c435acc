import { type ConfigOf, defaultsOf } from '../../core/policy-config.ts';
import { INJECTION_CLASSES } from './types.ts';

const classList = {
  type: 'array',
  items: { enum: INJECTION_CLASSES },
  uniqueItems: true,
} as const;

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
        unicodeMapFile: {
          type: 'string',
          minLength: 1,
          description:
            'A ModSecurity unicode mapping file (SecUnicodeMapFile), e.g. /etc/nginx/unicode.mapping as ' +
            "Debian's libnginx-mod-http-modsecurity installs it: `%uXXXX` escapes then decode (t:urlDecodeUni) " +
            'to the byte its code page gives, as libmodsecurity does with that file; without it, to the low ' +
            'byte of the code point (fullwidth ASCII to ASCII). Relative to the config file.',
        },
        unicodeCodePage: {
          type: 'integer',
          minimum: 1,
          default: 20127,
          description: "The code page of unicodeMapFile to use (SecUnicodeMapFile's second argument).",
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
      default: 1,
      description:
        '1 catches unambiguous attacks with almost no false positives; 2 and 3 add rules that also match ' +
        'unusual benign text (see docs/injection.md for measured rates).',
    },
    classes: {
      ...classList,
      default: INJECTION_CLASSES,
      description: 'Attack classes to look for: sqli, nosqli, cmdi, path-traversal, xss, ldap, ssti.',
    },
    headers: {
      type: 'array',
      items: { type: 'string', minLength: 1 },
      default: ['user-agent', 'referer', 'x-forwarded-host', 'x-original-url', 'x-rewrite-url'],
      description:
        'Request headers whose values are inspected (case-insensitive). Authorization and Cookie are never ' +
        'inspected wholesale; cookie values are inspected one by one when `cookies` is true.',
    },
    cookies: {
      type: 'boolean',
      default: true,
      description: 'Inspect each cookie value of the Cookie header (every cookie, however many).',
    },
    body: {
      type: 'boolean',
      default: true,
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

/**
 * The `injection` config, as the gateway compiles it: defaults filled in, also inside `crs` (its
 * `detectionParanoiaLevel`, `allowedMethods` and `allowedContentTypes` have none: absent means the rule
 * set's own).
 */
export type InjectionConfig = ConfigOf<typeof schema>;
/** The OWASP Core Rule Set mode of the injection policy. */
export type CrsConfig = NonNullable<InjectionConfig['crs']>;
/** Rule exclusions of the Core Rule Set, as `ctl:ruleRemoveById` / `ruleRemoveTargetByTag` would say them. */
export type CrsExclusion = CrsConfig['exclusions'][number];
/** A place where some (or all) classes are not looked for, because the API legitimately accepts them there. */
export type InjectionExclusion = InjectionConfig['exclusions'][number];
/** Where in the request an exclusion applies. */
export type InjectionLocation = InjectionExclusion['location'];

export const defaults = defaultsOf<InjectionConfig>(schema);
