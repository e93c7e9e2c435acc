import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { configSchema } from '../cli/config.ts';
import { renderConfigReference } from './reference.ts';

const root = path.resolve(import.meta.dirname, '../..');

test('the committed JSON Schema and config reference match the code (run npm run config:reference)', async () => {
  const schema = configSchema();
  assert.equal(
    await readFile(path.join(root, 'schema/portcullis.schema.json'), 'utf8'),
    `${JSON.stringify(schema, null, 2)}\n`,
  );
  assert.equal(
    await readFile(path.join(root, 'docs/config-reference.md'), 'utf8'),
    renderConfigReference(schema),
  );
});

test('the reference lists nested settings with their defaults', () => {
  const md = renderConfigReference(configSchema());
  assert.match(md, /^\| `apis\[\]\.upstream\.connectTimeoutMs` \| integer \| `5000` \| /m);
  assert.match(
    md,
    /^\| `server\.listen\[\]\.tls\.minVersion` \| `"TLSv1\.2"` or `"TLSv1\.3"` \| `"TLSv1\.2"` \| /m,
  );
});
