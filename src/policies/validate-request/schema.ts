import type { PolicyConfigBase } from '../../core/policy.ts';

export interface ValidateRequestConfig extends PolicyConfigBase {
  additionalProperties: 'reject' | 'strip';
  unknownQueryParameters: 'reject' | 'allow';
  rejectUndeclaredBody: boolean;
  rejectDuplicateKeys: boolean;
  maxBodyBytes: number;
  maxJsonDepth: number;
  maxArrayItems: number;
  maxStringLength: number;
  maxObjectProperties: number;
  maxParameters: number;
}

export const defaults: Omit<ValidateRequestConfig, 'mode'> = {
  additionalProperties: 'reject',
  unknownQueryParameters: 'reject',
  rejectUndeclaredBody: true,
  rejectDuplicateKeys: true,
  maxBodyBytes: 1048576,
  maxJsonDepth: 32,
  maxArrayItems: 1000,
  maxStringLength: 10000,
  maxObjectProperties: 1000,
  maxParameters: 100,
};

/** JSON Schema of the `validateRequest` config block. */
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    additionalProperties: {
      enum: ['reject', 'strip'],
      default: defaults.additionalProperties,
      description:
        'Undeclared body properties (also where the spec forgot `additionalProperties: false`): `reject` ' +
        'answers 400, `strip` removes them and forwards the rewritten body (JSON and form bodies).',
    },
    unknownQueryParameters: {
      enum: ['reject', 'allow'],
      default: defaults.unknownQueryParameters,
      description: 'Query parameters the operation does not declare: `reject` answers 400.',
    },
    rejectUndeclaredBody: {
      type: 'boolean',
      default: defaults.rejectUndeclaredBody,
      description: 'Refuse a request body on an operation that declares no `requestBody`.',
    },
    rejectDuplicateKeys: {
      type: 'boolean',
      default: defaults.rejectDuplicateKeys,
      description:
        'Refuse JSON bodies that repeat a member name in one object (parsers disagree on which copy wins).',
    },
    maxBodyBytes: {
      type: 'integer',
      minimum: 0,
      default: defaults.maxBodyBytes,
      description: 'Largest request body accepted, in bytes (the route limit of the gateway also applies).',
    },
    maxJsonDepth: {
      type: 'integer',
      minimum: 1,
      maximum: 1000,
      default: defaults.maxJsonDepth,
      description: 'Deepest nesting of objects and arrays in a JSON body.',
    },
    maxArrayItems: {
      type: 'integer',
      minimum: 0,
      default: defaults.maxArrayItems,
      description: 'Longest array in a body or parameter, unless the spec sets a lower `maxItems`.',
    },
    maxStringLength: {
      type: 'integer',
      minimum: 0,
      default: defaults.maxStringLength,
      description:
        'Longest string (and property name) in a body or parameter, unless the spec sets a lower `maxLength`.',
    },
    maxObjectProperties: {
      type: 'integer',
      minimum: 0,
      default: defaults.maxObjectProperties,
      description: 'Most members in one JSON object, unless the spec sets a lower `maxProperties`.',
    },
    maxParameters: {
      type: 'integer',
      minimum: 0,
      default: defaults.maxParameters,
      description: 'Most query parameters, cookies or multipart parts in one request.',
    },
  },
};
