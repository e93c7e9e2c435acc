import { limitScenarios } from './limits.ts';
import { JSON_POST, type Scenario } from './scenario.ts';

/**
 * Policy scenarios measured beside pass-through (rate limits, validation, full pipeline). Each is a
 * Portcullis config; see bench/run.ts for the harness.
 */
export const extraScenarios: Scenario[] = [
  ...limitScenarios,
  {
    name: 'portcullis validation + injection P1 + response filter, JSON POST',
    kind: 'portcullis',
    ...JSON_POST,
    api: { policies: { validateRequest: {}, injection: { paranoia: 1 }, protectResponse: {} } },
  },
];
