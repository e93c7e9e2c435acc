import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { loadApiDocument, SpecError } from './load.ts';

async function tempSpec(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-spec-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return path.join(dir, Object.keys(files)[0]);
}

const petstore30 = `openapi: 3.0.3
info: { title: Pets, version: '1.0' }
security:
  - bearer: [pets:read]
paths:
  /pets/{petId}:
    parameters:
      - $ref: '#/components/parameters/PetId'
    get:
      operationId: getPet
      responses:
        '200':
          description: ok
          content:
            application/json:
              schema: { $ref: '#/components/schemas/Pet' }
    delete:
      security: []
      responses: { '204': { description: gone } }
  /pets:
    post:
      operationId: createPet
      security:
        - bearer: [pets:write]
        - apiKey: []
      requestBody:
        required: true
        content:
          application/json:
            schema: { $ref: './schemas.yaml#/Pet' }
      responses: { '201': { description: created } }
components:
  parameters:
    PetId: { name: petId, in: path, required: true, schema: { type: integer } }
  schemas:
    Pet: { type: object, properties: { name: { type: string } } }
  securitySchemes:
    bearer: { type: http, scheme: bearer }
    apiKey: { type: apiKey, in: header, name: X-API-Key }
`;

describe('loadApiDocument', () => {
  test('lists every operation with effective security, merged parameters and bundled external refs', async () => {
    const file = await tempSpec({
      'openapi.yaml': petstore30,
      'schemas.yaml': 'Pet:\n  type: object\n  properties:\n    tag: { type: string }\n',
    });
    const api = await loadApiDocument(file);
    assert.equal(api.sourceVersion, '3.0');
    assert.deepEqual(
      api.operations.map((o) => [o.method, o.path, o.id]),
      [
        ['GET', '/pets/{petId}', 'getPet'],
        ['DELETE', '/pets/{petId}', 'DELETE /pets/{petId}'],
        ['POST', '/pets', 'createPet'],
      ],
    );
    const [get, del, create] = api.operations;
    assert.deepEqual(get.security, [{ bearer: ['pets:read'] }]);
    assert.deepEqual(del.security, []);
    assert.equal(create.security?.length, 2);
    assert.deepEqual(
      get.parameters.map((p) => [p.in, p.name, p.required, p.style]),
      [['path', 'petId', true, 'simple']],
    );
    assert.deepEqual(create.requestBody?.content['application/json'].schema, {
      type: 'object',
      properties: { tag: { type: 'string' } },
    });
    assert.deepEqual(api.resolve('#/components/schemas/Pet'), {
      type: 'object',
      properties: { name: { type: 'string' } },
    });
    assert.equal(Object.keys(api.securitySchemes).join(), 'bearer,apiKey');
    assert.equal(api.lineOf(get.pointer), 9);
    assert.equal(api.lineOf('/paths/~1pets/post/operationId'), 22);
  });

  test('converts Swagger 2.0 body, formData, definitions and security definitions', async () => {
    const file = await tempSpec({
      'swagger.json': JSON.stringify({
        swagger: '2.0',
        info: { title: 'Old', version: '1' },
        host: 'api.example.com',
        basePath: '/v1',
        schemes: ['https'],
        securityDefinitions: { basic: { type: 'basic' }, key: { type: 'apiKey', in: 'query', name: 'key' } },
        paths: {
          '/users': {
            post: {
              operationId: 'createUser',
              parameters: [
                { in: 'body', name: 'body', required: true, schema: { $ref: '#/definitions/User' } },
              ],
              responses: { 200: { description: 'ok', schema: { $ref: '#/definitions/User' } } },
            },
          },
          '/upload': {
            post: {
              consumes: ['multipart/form-data'],
              parameters: [{ in: 'formData', name: 'file', type: 'file', required: true }],
              responses: { 200: { description: 'ok' } },
            },
          },
          '/search': {
            get: {
              parameters: [
                {
                  in: 'query',
                  name: 'tags',
                  type: 'array',
                  items: { type: 'string' },
                  collectionFormat: 'pipes',
                },
              ],
              responses: { 200: { description: 'ok' } },
            },
          },
        },
        definitions: { User: { type: 'object', properties: { name: { type: 'string' } } } },
      }),
    });
    const api = await loadApiDocument(file);
    assert.equal(api.sourceVersion, '2.0');
    assert.deepEqual(api.doc.servers, [{ url: 'https://api.example.com/v1' }]);
    const [create, upload, search] = api.operations;
    assert.deepEqual(create.requestBody?.content['application/json'].schema, {
      $ref: '#/components/schemas/User',
    });
    assert.equal(create.requestBody?.required, true);
    assert.deepEqual(create.responses['200'].content['application/json'].schema, {
      $ref: '#/components/schemas/User',
    });
    assert.deepEqual(upload.requestBody?.content['multipart/form-data'].schema, {
      type: 'object',
      properties: { file: { type: 'string', format: 'binary' } },
      required: ['file'],
    });
    assert.equal(search.parameters[0].style, 'pipeDelimited');
    assert.deepEqual(api.securitySchemes.basic.raw, { type: 'http', scheme: 'basic' });
    assert.equal(api.securitySchemes.key.type, 'apiKey');
  });

  test('refuses duplicate operationIds naming both places', async () => {
    const file = await tempSpec({
      'dup.yaml': `openapi: 3.1.0
info: { title: d, version: '1' }
paths:
  /a: { get: { operationId: same, responses: { '200': { description: ok } } } }
  /b: { get: { operationId: same, responses: { '200': { description: ok } } } }
`,
    });
    await assert.rejects(loadApiDocument(file), (err: unknown) => {
      assert.ok(err instanceof SpecError);
      assert.equal(err.pointer, '/paths/~1b/get');
      assert.match(err.message, /also used at \/paths\/~1a\/get/);
      return true;
    });
  });

  test('refuses a file that is not an OpenAPI document', async () => {
    const file = await tempSpec({ 'x.yaml': 'hello: world\n' });
    await assert.rejects(loadApiDocument(file), /not an OpenAPI document/);
  });
});

describe('schema $ref at load', () => {
  test('keeps a 3.1 $ref that names an $id of the document instead of reading it as a file', async () => {
    const file = await tempSpec({
      'api.yaml': `openapi: 3.1.0
info: { title: t, version: '1' }
paths: {}
components:
  schemas:
    Pet: { $id: 'schemas/pet.json', type: object, properties: { name: { type: string } } }
    Owner: { type: object, properties: { pet: { $ref: 'schemas/pet.json' } } }
`,
    });
    const api = await loadApiDocument(file);
    const owner = (api.doc.components as { schemas: Record<string, { properties: { pet: unknown } }> })
      .schemas.Owner;
    assert.deepEqual(owner.properties.pet, { $ref: 'schemas/pet.json' });
  });

  test('refuses a document with a $ref that names nothing, giving the file and the pointer', async () => {
    const file = await tempSpec({
      'api.yaml': `openapi: 3.1.0
info: { title: t, version: '1' }
paths: {}
components:
  schemas:
    Shirt:
      type: object
      properties:
        size: { $ref: '#Size' }
`,
    });
    await assert.rejects(loadApiDocument(file), (e: unknown) => {
      assert.ok(e instanceof SpecError);
      assert.equal(e.file, file);
      assert.equal(e.pointer, '/components/schemas/Shirt/properties/size/$ref');
      assert.match(e.message, /"#Size" names nothing/);
      return true;
    });
  });
});
