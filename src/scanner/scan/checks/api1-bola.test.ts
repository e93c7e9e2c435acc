import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadApiDocument } from '../../../openapi/load.ts';
import { markBody } from './api1-bola.ts';

describe('the update body API1 sends', () => {
  test('marks free-text strings only, so enums, dates and bounded fields stay valid', async () => {
    const spec = await loadApiDocument(
      path.join(import.meta.dirname, '../../../../test/fixtures/scan-targets/fastapi-petclinic/openapi.yaml'),
    );
    const schema = { $ref: '#/components/schemas/PetUpdate' };
    const body = markBody(spec, schema, { name: 'Rex', species: 'dog', birth_date: '2020-01-01' }, 'pcbola1');
    assert.deepEqual(body, { name: 'pcbola1', species: 'dog', birth_date: '2020-01-01' });
    const short = markBody(spec, { type: 'string', maxLength: 3 }, 'abc', 'pcbola1');
    assert.equal(short, 'abc');
  });
});
