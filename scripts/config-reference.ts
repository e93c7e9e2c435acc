/** Writes schema/portcullis.schema.json and docs/config-reference.md from the code's config schema. */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { configSchema } from '../src/cli/config.ts';
import { renderConfigReference } from '../src/config/reference.ts';

const root = path.resolve(import.meta.dirname, '..');
const schema = configSchema();
await writeFile(path.join(root, 'schema/portcullis.schema.json'), `${JSON.stringify(schema, null, 2)}\n`);
await writeFile(path.join(root, 'docs/config-reference.md'), renderConfigReference(schema));
process.stdout.write('wrote schema/portcullis.schema.json and docs/config-reference.md\n');
