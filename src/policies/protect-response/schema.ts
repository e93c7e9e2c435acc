import { type ConfigOf, defaultsOf } from '../../core/policy-config.ts';
import { DETECTORS } from './data-leak.ts';

/** JSON Schema of the `protectResponse` config block. */
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    undeclaredStatus: {
      enum: ['block', 'allow'],
      default: 'block',
      description:
        'A status code the operation does not declare (nor a range or `default`): `block` answers 502.',
    },
    undeclaredContentType: {
      enum: ['block', 'allow'],
      default: 'block',
      description: 'A response body of a media type not declared for its status: `block` answers 502.',
    },
    schemaMismatch: {
      enum: ['block', 'allow'],
      default: 'block',
      description:
        'A JSON body that still fails its response schema once undeclared and writeOnly members are stripped.',
    },
    maskServerErrors: {
      type: 'boolean',
      default: true,
      description: 'Replace upstream 5xx bodies (stack traces, SQL errors, paths) by a generic problem.',
    },
    dataLeak: {
      enum: ['mask', 'block', 'off'],
      default: 'mask',
      description:
        'Secrets and personal data in JSON strings that the schema does not declare as such: `mask` replaces ' +
        'them with [REDACTED], `block` withholds the response (502).',
    },
    dataLeakDetectors: {
      type: 'array',
      items: { enum: [...DETECTORS] },
      default: [...DETECTORS],
      description:
        'Which detectors run: privateKey, jwt, apiKey (AWS, Stripe, GitHub, Slack, Google, GitLab), cardNumber (Luhn), email.',
    },
    maxBodyBytes: {
      type: 'integer',
      minimum: 0,
      default: 1048576,
      description:
        'Largest JSON response buffered for inspection, in bytes. A larger response with a Content-Length is ' +
        'streamed uninspected (and reported); one without is cut by the gateway limit.',
    },
    removeHeaders: {
      type: 'array',
      items: { type: 'string' },
      default: ['server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version', 'x-runtime'],
      description: 'Response headers removed because they reveal the upstream software.',
    },
  },
} as const;

export type ProtectResponseConfig = ConfigOf<typeof schema>;

export const defaults = defaultsOf<ProtectResponseConfig>(schema);
