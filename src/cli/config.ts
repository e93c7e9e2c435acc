/**
 * The config file as this build of Portcullis reads it: the schema built from the policy registry and
 * the sections of the monitor and of scheduled scans, and the reader that validates against it. The
 * composition root hands these to config/, which imports no policy or part itself.
 */
import { createConfigReader } from '../config/load.ts';
import { buildConfigSchema } from '../config/schema.ts';
import { policies } from '../policies/registry.ts';
import { sections } from './config-sections.ts';

let schema: Record<string, unknown> | undefined;

/** The JSON Schema of the config file (built once). */
export function configSchema(): Record<string, unknown> {
  schema ??= buildConfigSchema(policies, sections);
  return schema;
}

export const { parseConfig, loadConfig } = createConfigReader(configSchema);
