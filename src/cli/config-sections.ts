import type { ConfigSection } from '../core/config.ts';
import { monitorConfigSchema } from '../monitor/schema.ts';
import { tracingConfigSchema } from '../monitor/tracing/schema.ts';
import { scansConfigSchema } from '../scanner/schedule.ts';

/** Top-level config sections contributed by modules outside the gateway core (one line each). */
export const sections: ReadonlyArray<ConfigSection> = [
  { key: 'monitor', schema: monitorConfigSchema },
  { key: 'scans', schema: scansConfigSchema },
  { key: 'tracing', schema: tracingConfigSchema },
];
