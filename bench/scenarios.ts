import { limitScenarios } from './limits.ts';
import type { Scenario } from './run.ts';

/**
 * Policy scenarios measured beside pass-through (JWT, rate limits, validation, full pipeline). Each is a
 * Portcullis config; see bench/run.ts for the harness.
 */
export const extraScenarios: Scenario[] = [...limitScenarios];
