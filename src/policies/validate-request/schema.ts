import { type ConfigOf, defaultsOf } from '../../core/policy-config.ts';

/** JSON Schema of the `validateRequest` config block. */
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    additionalProperties: {
      enum: ['reject', 'strip'],
      default: 'reject',
      description:
        'Undeclared body properties (also where the spec forgot `additionalProperties: false`): `reject` ' +
        'answers 400, `strip` removes them and forwards the rewritten body (JSON and form bodies).',
    },
    unknownQueryParameters: {
      enum: ['reject', 'allow'],
      default: 'reject',
      description: 'Query parameters the operation does not declare: `reject` answers 400.',
    },
    rejectUndeclaredBody: {
      type: 'boolean',
      default: true,
      description: 'Refuse a request body on an operation that declares no `requestBody`.',
    },
    rejectDuplicateKeys: {
      type: 'boolean',
      default: true,
      description:
        'Refuse JSON bodies that repeat a member name in one object (parsers disagree on which copy wins).',
    },
    maxBodyBytes: {
      type: 'integer',
      minimum: 0,
      default: 1048576,
      description: 'Largest request body accepted, in bytes (the route limit of the gateway also applies).',
    },
    maxJsonDepth: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      default: 32,
      description: 'Deepest nesting of objects and arrays in a JSON body.',
    },
    maxArrayItems: {
      type: 'integer',
      minimum: 0,
      default: 1000,
      description: 'Longest array in a body or parameter, unless the spec sets a lower `maxItems`.',
    },
    maxStringLength: {
      type: 'integer',
      minimum: 0,
      default: 10000,
      description:
        'Longest string (and property name) in a body or parameter, unless the spec sets a lower `maxLength`.',
    },
    maxObjectProperties: {
      type: 'integer',
      minimum: 0,
      default: 1000,
      description: 'Most members in one JSON object, unless the spec sets a lower `maxProperties`.',
    },
    maxParameters: {
      type: 'integer',
      minimum: 0,
      default: 100,
      description: 'Most query parameters, cookies or multipart parts in one request.',
    },
  },
} as const;

export type ValidateRequestConfig = ConfigOf<typeof schema>;

export const defaults = defaultsOf<ValidateRequestConfig>(schema);
