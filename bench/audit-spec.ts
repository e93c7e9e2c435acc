/**
 * Generates a large, realistic OpenAPI 3.0 document for the audit benchmark: `resources` resources with five
 * operations each (list, create, read, update, delete), shared parameters and error responses, schemas that
 * refer to each other with `$ref` (composition, nesting, cross-links), and the usual gaps the audit reports.
 */
export function generateSpec(resources: number): string {
  const out: string[] = [];
  const w = (s: string): void => {
    out.push(s);
  };
  w('openapi: 3.0.3');
  w('info:');
  w('  title: Generated benchmark API');
  w('  version: 1.0.0');
  w('servers:');
  w('  - url: https://api.example.com/v1');
  w('    description: Production');
  w('  - url: http://legacy.example.com/v1');
  w('security:');
  w('  - bearer: []');
  w('paths:');
  for (let i = 0; i < resources; i++) {
    const r = `Res${i}`;
    const path = `/res${i}`;
    const idParam = `res${i}Id`;
    w(`  ${path}:`);
    w('    get:');
    w(`      operationId: list${r}`);
    w(`      tags: [${r}]`);
    w('      parameters:');
    w("        - $ref: '#/components/parameters/limit'");
    w("        - $ref: '#/components/parameters/offset'");
    w('        - name: filter');
    w('          in: query');
    w('          schema: { type: string }');
    w('      responses:');
    w("        '200':");
    w('          description: A page');
    w('          content:');
    w('            application/json:');
    w('              schema:');
    w('                type: object');
    w('                properties:');
    w(`                  items: { type: array, items: { $ref: '#/components/schemas/${r}' } }`);
    w('                  total: { type: integer }');
    w("        '400': { $ref: '#/components/responses/Error' }");
    w("        '401': { $ref: '#/components/responses/Error' }");
    w('    post:');
    w(`      operationId: create${r}`);
    w(`      tags: [${r}]`);
    w('      requestBody:');
    w('        required: true');
    w('        content:');
    w('          application/json:');
    w(`            schema: { $ref: '#/components/schemas/${r}Input' }`);
    w('      responses:');
    w("        '201':");
    w('          description: Created');
    w('          content:');
    w('            application/json:');
    w(`              schema: { $ref: '#/components/schemas/${r}' }`);
    w("        '422': { $ref: '#/components/responses/Error' }");
    w(`  ${path}/{${idParam}}:`);
    w('    parameters:');
    w(`      - name: ${idParam}`);
    w('        in: path');
    w('        required: true');
    w(
      i % 2 === 0
        ? '        schema: { type: integer, format: int64 }'
        : '        schema: { type: string, format: uuid }',
    );
    for (const method of ['get', 'put', 'delete']) {
      w(`    ${method}:`);
      w(`      operationId: ${method}${r}`);
      w(`      tags: [${r}]`);
      if (method === 'put') {
        w('      requestBody:');
        w('        content:');
        w('          application/json:');
        w(`            schema: { $ref: '#/components/schemas/${r}Input' }`);
      }
      w('      responses:');
      w("        '200':");
      w('          description: OK');
      w('          content:');
      w('            application/json:');
      w(`              schema: { $ref: '#/components/schemas/${r}' }`);
      w("        '404': { $ref: '#/components/responses/Error' }");
      w("        '500': { $ref: '#/components/responses/Error' }");
    }
  }
  w('components:');
  w('  securitySchemes:');
  w('    bearer: { type: http, scheme: bearer, bearerFormat: JWT }');
  w('  parameters:');
  w('    limit: { name: limit, in: query, schema: { type: integer, minimum: 1 } }');
  w(
    '    offset: { name: offset, in: query, schema: { type: integer, format: int32, minimum: 0, maximum: 100000 } }',
  );
  w('  responses:');
  w('    Error:');
  w('      description: Error');
  w('      content:');
  w('        application/json:');
  w("          schema: { $ref: '#/components/schemas/Error' }");
  w('  schemas:');
  w('    Error:');
  w('      type: object');
  w('      properties:');
  w('        code: { type: string, maxLength: 64 }');
  w('        message: { type: string }');
  w('        details: { type: array, items: { type: string } }');
  w('    Address:');
  w('      type: object');
  w('      properties:');
  w('        street: { type: string }');
  w('        city: { type: string, maxLength: 100 }');
  w('        country: { type: string, enum: [FR, DE, US] }');
  w('    Person:');
  w('      type: object');
  w('      properties:');
  w('        id: { type: string, format: uuid, readOnly: true }');
  w('        name: { type: string }');
  w('        email: { type: string, format: email }');
  w("        address: { $ref: '#/components/schemas/Address' }");
  w('    Audit:');
  w('      type: object');
  w('      properties:');
  w('        createdAt: { type: string, format: date-time }');
  w("        createdBy: { $ref: '#/components/schemas/Person' }");
  w('        updatedAt: { type: string, format: date-time }');
  for (let i = 0; i < resources; i++) {
    const r = `Res${i}`;
    w(`    ${r}Input:`);
    w('      type: object');
    w('      required: [name]');
    w('      properties:');
    w('        name: { type: string, maxLength: 200 }');
    w('        description: { type: string }');
    w('        quantity: { type: integer }');
    w('        price: { type: number, minimum: 0 }');
    w('        status: { type: string, enum: [draft, active, archived] }');
    w('        tags: { type: array, items: { type: string, maxLength: 30 } }');
    w('        metadata: { type: object, additionalProperties: { type: string } }');
    w(`        ${i % 5 === 0 ? 'role' : 'category'}: { type: string }`);
    w(`    ${r}:`);
    w('      allOf:');
    w(`        - $ref: '#/components/schemas/${r}Input'`);
    w("        - $ref: '#/components/schemas/Audit'");
    w('        - type: object');
    w('          properties:');
    w('            id: { type: integer, format: int64, readOnly: true }');
    w("            owner: { $ref: '#/components/schemas/Person' }");
    if (i % 4 !== 0) w(`            previous: { $ref: '#/components/schemas/Res${i - 1}' }`);
    w('            links: { type: array, items: { type: string, format: uri } }');
  }
  return out.join('\n') + '\n';
}
