import type { JsonObject } from '../../core/api-document.ts';
import type { SecurityEvent } from '../../core/events.ts';
import {
  type CredentialAbuseConfig,
  createCredentialAbuseDetector,
  credentialAbuseDefaults,
} from './credential-abuse.ts';
import { type AlertDraft, type Detector, timeOf } from './detector.ts';
import { createEnumerationDetector, type EnumerationConfig, enumerationDefaults } from './enumeration.ts';
import { createErrorSpikeDetector, type ErrorSpikeConfig, errorSpikeDefaults } from './error-spike.ts';
import { createShadowApiDetector, type ShadowApiConfig, shadowApiDefaults } from './shadow-api.ts';
import { createVolumetricDetector, type VolumetricConfig, volumetricDefaults } from './volumetric.ts';

export type { Alert, AlertDraft, Detector, Offender, Severity } from './detector.ts';

export interface DetectorsConfig {
  enumeration: EnumerationConfig;
  credentialAbuse: CredentialAbuseConfig;
  volumetric: VolumetricConfig;
  shadowApi: ShadowApiConfig;
  errorSpike: ErrorSpikeConfig;
}

export const detectorDefaults: DetectorsConfig = {
  enumeration: enumerationDefaults,
  credentialAbuse: credentialAbuseDefaults,
  volumetric: volumetricDefaults,
  shadowApi: shadowApiDefaults,
  errorSpike: errorSpikeDefaults,
};

/** Builds the enabled detectors from (possibly partial) config; missing fields take their defaults. */
export function createDetectors(
  cfg: { [K in keyof DetectorsConfig]?: Partial<DetectorsConfig[K]> } = {},
): Detector[] {
  const out: Detector[] = [];
  const enumeration = { ...enumerationDefaults, ...cfg.enumeration };
  const credentialAbuse = { ...credentialAbuseDefaults, ...cfg.credentialAbuse };
  const volumetric = { ...volumetricDefaults, ...cfg.volumetric };
  const shadowApi = { ...shadowApiDefaults, ...cfg.shadowApi };
  const errorSpike = { ...errorSpikeDefaults, ...cfg.errorSpike };
  if (enumeration.enabled) out.push(createEnumerationDetector(enumeration));
  if (credentialAbuse.enabled) out.push(createCredentialAbuseDetector(credentialAbuse));
  if (volumetric.enabled) out.push(createVolumetricDetector(volumetric));
  if (shadowApi.enabled) out.push(createShadowApiDetector(shadowApi));
  if (errorSpike.enabled) out.push(createErrorSpikeDetector(errorSpike));
  return out;
}

/** Feeds a recorded sequence to a detector and collects every alert it raises, in order. */
export function replay(detector: Detector, events: Iterable<SecurityEvent>): AlertDraft[] {
  const alerts: AlertDraft[] = [];
  for (const e of events) alerts.push(...detector.observe(e, timeOf(e)));
  return alerts;
}

const DESCRIPTIONS: Record<string, string> = {
  enabled: 'Whether this detector runs.',
  windowSeconds: 'Length of the counting window in seconds.',
  bucketSeconds: 'Width of one counting interval in seconds.',
  cooldownSeconds: 'Seconds without a repeat alert for the same key after an alert.',
  maxKeys: 'Keys (callers, IPs, routes...) tracked at once; least recently seen dropped first.',
  minDistinctIds: 'Distinct object ids of one operation touched by one caller in the window.',
  minFailureRatio: 'Share (0..1) of 403/404 answers among those requests.',
  minSequentialRun: 'Consecutive requests whose numeric id moves by exactly 1 that make an id walk.',
  maxFailuresPerIp: 'Failed authentications from one IP in the window (brute force).',
  maxUsernamesPerIp: 'Distinct user names tried from one IP in the window (credential stuffing).',
  maxFailuresPerUsername: 'Failed authentications for one user name in the window...',
  minIpsPerUsername: '...from at least this many IPs (distributed credential stuffing).',
  maxFailuresPerCredential: 'Failed authentications with one token or API key in the window.',
  minRequests: 'Requests in one interval below which nothing is reported.',
  factor: 'How many times its reference rate (or usual error share) must be exceeded.',
  smoothing: 'Weight (0..1) of the latest interval in moving baselines.',
  warmupBuckets: 'Intervals of history before a caller is compared with its own baseline.',
  minHits: 'Requests to one undeclared endpoint in the window.',
  maxUndeclaredPerCaller: 'Distinct undeclared endpoints one caller tries in the window (probing).',
  minErrors: '5xx answers in the window below which nothing is reported.',
  minErrorRatio: 'Share (0..1) of 5xx answers in the window that makes a spike.',
};

const SUMMARIES: Record<keyof DetectorsConfig, string> = {
  enumeration:
    'Object-level enumeration (BOLA probing): many distinct ids with many 403/404, or sequential ids.',
  credentialAbuse:
    'Credential stuffing and brute force: failed authentications per IP, user name and credential.',
  volumetric: 'Scraping and volumetric abuse: a caller far above its own or the operation baseline.',
  shadowApi: 'Shadow API use: traffic to endpoints the API description does not declare.',
  errorSpike: 'Error spikes: the share of 5xx answers of a route jumps above its usual share.',
};

function schemaOf(name: keyof DetectorsConfig): JsonObject {
  const defaults = detectorDefaults[name] as unknown as Record<string, number | boolean>;
  const properties: JsonObject = {};
  for (const [k, v] of Object.entries(defaults)) {
    const ratio = k === 'minFailureRatio' || k === 'minErrorRatio' || k === 'smoothing';
    properties[k] =
      typeof v === 'boolean'
        ? { type: 'boolean', description: DESCRIPTIONS[k], default: v }
        : ratio
          ? { type: 'number', minimum: 0, maximum: 1, description: DESCRIPTIONS[k], default: v }
          : k === 'factor'
            ? { type: 'number', exclusiveMinimum: 1, description: DESCRIPTIONS[k], default: v }
            : { type: 'integer', minimum: 1, description: DESCRIPTIONS[k], default: v };
  }
  return {
    type: 'object',
    description: SUMMARIES[name],
    additionalProperties: false,
    properties,
    default: {},
  };
}

/** JSON Schema of the `detectors` block. */
export const detectorsSchema: JsonObject = {
  type: 'object',
  description:
    'Attack detectors fed by the event stream; each alert carries evidence, a severity and the offender.',
  additionalProperties: false,
  default: {},
  properties: Object.fromEntries(
    (Object.keys(detectorDefaults) as Array<keyof DetectorsConfig>).map((k) => [k, schemaOf(k)]),
  ),
};
