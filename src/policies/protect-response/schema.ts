import type { PolicyConfigBase } from '../../core/policy.ts';
import { DETECTORS, type DetectorName } from './data-leak.ts';

export interface ProtectResponseConfig extends PolicyConfigBase {
  undeclaredStatus: 'block' | 'allow';
  undeclaredContentType: 'block' | 'allow';
  schemaMismatch: 'block' | 'allow';
  maskServerErrors: boolean;
  dataLeak: 'mask' | 'block' | 'off';
  dataLeakDetectors: DetectorName[];
  maxBodyBytes: number;
  removeHeaders: string[];
}

export const defaults: Omit<ProtectResponseConfig, 'mode'> = {
  undeclaredStatus: 'block',
  undeclaredContentType: 'block',
  schemaMismatch: 'block',
  maskServerErrors: true,
  dataLeak: 'mask',
  dataLeakDetectors: [...DETECTORS],
  maxBodyBytes: 1048576,
  removeHeaders: ['server', 'x-powered-by', 'x-aspnet-version', 'x-aspnetmvc-version', 'x-runtime'],
};

/** JSON Schema of the `protectResponse` config block. */
export const schema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    undeclaredStatus: {
      enum: ['block', 'allow'],
      default: defaults.undeclaredStatus,
      description:
        'A status code the operation does not declare (nor a range or `default`): `block` answers 502.',
    },
    undeclaredContentType: {
      enum: ['block', 'allow'],
      default: defaults.undeclaredContentType,
      description: 'A response body of a media type not declared for its status: `block` answers 502.',
    },
    schemaMismatch: {
      enum: ['block', 'allow'],
      default: defaults.schemaMismatch,
      description:
        'A JSON body that still fails its response schema once undeclared and writeOnly members are stripped.',
    },
    maskServerErrors: {
      type: 'boolean',
      default: defaults.maskServerErrors,
      description: 'Replace upstream 5xx bodies (stack traces, SQL errors, paths) by a generic problem.',
    },
    dataLeak: {
      enum: ['mask', 'block', 'off'],
      default: defaults.dataLeak,
      description:
        'Secrets and personal data in JSON strings that the schema does not declare as such: `mask` replaces ' +
        'them with [REDACTED], `block` withholds the response (502).',
    },
    dataLeakDetectors: {
      type: 'array',
      items: { enum: [...DETECTORS] },
      default: defaults.dataLeakDetectors,
      description:
        'Which detectors run: privateKey, jwt, apiKey (AWS, Stripe, GitHub, Slack, Google, GitLab), cardNumber (Luhn), email.',
    },
    maxBodyBytes: {
      type: 'integer',
      minimum: 0,
      default: defaults.maxBodyBytes,
      description:
        'Largest JSON response buffered for inspection, in bytes. A larger response with a Content-Length is ' +
        'streamed uninspected (and reported); one without is cut by the gateway limit.',
    },
    removeHeaders: {
      type: 'array',
      items: { type: 'string' },
      default: defaults.removeHeaders,
      description: 'Response headers removed because they reveal the upstream software.',
    },
  },
};
