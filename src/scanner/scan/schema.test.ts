import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildApiDocument } from '../../openapi/load.ts';
import {
  envelopeOf,
  fieldsAt,
  grantsState,
  namesChange,
  propertiesOf,
  quietChoice,
  recordFields,
  recordProperties,
  resolveSchema,
  sampleValue,
  schemaEnvelope,
  withFields,
  withoutPlaceholderHost,
} from './schema.ts';

const spec = buildApiDocument('/spec.yaml', '3.1', {
  openapi: '3.1.0',
  info: { title: 't', version: '1' },
  paths: {},
  components: {
    schemas: {
      Base: { type: 'object', required: ['id'], properties: { id: { type: 'integer', readOnly: true } } },
      Pet: {
        allOf: [
          { $ref: '#/components/schemas/Base' },
          {
            type: 'object',
            properties: { name: { type: 'string', example: 'Rex' }, kind: { enum: ['dog', 'cat'] } },
          },
        ],
      },
    },
  },
});

describe('schema sampling', () => {
  test('an e-mail input without a format gets an address; one with a pattern keeps the pattern rules', () => {
    for (const name of ['email', 'e_mail', 'mail', 'emailAddress', 'contact_email', 'userEmail']) {
      assert.match(String(sampleValue(spec, { type: 'string' }, name)), /^pc[0-9a-f]{8}@example\.com$/, name);
    }
    assert.match(String(sampleValue(spec, { type: 'string' }, 'mailbox')), /^portcullis-/);
    assert.equal(sampleValue(spec, { type: 'string', pattern: '^[0-9]{4}$' }, 'email'), '0000');
  });

  test('a plain object sample leaves out optional privilege fields, keeps required ones', () => {
    const body = sampleValue(spec, {
      type: 'object',
      required: ['email', 'group'],
      properties: {
        email: { type: 'string' },
        role: { type: 'string', description: 'admin, user or blocked' },
        is_admin: { type: 'boolean' },
        permissions: { type: 'array', items: { type: 'string' } },
        group: { type: 'string' },
        address: { type: 'string' },
      },
    }) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['address', 'email', 'group']);
  });

  test('a plain object sample leaves out optional lists of people it would share the object with', () => {
    const body = sampleValue(spec, {
      type: 'object',
      required: ['title', 'reviewer_ids'],
      properties: {
        title: { type: 'string' },
        contributors_ids: { type: 'array', items: { type: 'integer' } },
        memberIds: { type: 'array', items: { type: 'integer' } },
        shared_with: { type: 'array', items: { type: 'string' } },
        collaborators: { type: 'array', items: { type: 'object', properties: { id: { type: 'integer' } } } },
        reviewer_ids: { type: 'array', items: { type: 'integer' } },
        user_id: { type: 'integer' },
        tags: { type: 'array', items: { type: 'string' } },
      },
    }) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body).sort(), ['reviewer_ids', 'tags', 'title', 'user_id']);
  });

  test('a date of birth samples an adult’s date, other dates today', () => {
    const today = new Date().toISOString().slice(0, 10);
    for (const name of ['birth_date', 'birthDate', 'date_of_birth', 'dob', 'user_dob', 'born_on'])
      assert.equal(sampleValue(spec, { type: 'string', format: 'date' }, name), '1990-01-01', name);
    assert.equal(
      sampleValue(spec, { type: 'string', format: 'date-time' }, 'birthday'),
      '1990-01-01T00:00:00Z',
    );
    assert.equal(sampleValue(spec, { type: 'string', format: 'date' }, 'due_date'), today);
  });

  test('uses the example, the first enum value and the minimum', () => {
    assert.equal(sampleValue(spec, { type: 'string', example: 'lamp' }), 'lamp');
    assert.equal(sampleValue(spec, { type: 'string', enum: ['a', 'b'] }), 'a');
    assert.equal(sampleValue(spec, { type: 'integer', minimum: 5 }), 5);
    assert.equal(sampleValue(spec, { type: 'number', exclusiveMinimum: 0 }), 1);
  });

  test('builds strings that match their format and length bounds', () => {
    assert.match(
      String(sampleValue(spec, { type: 'string', format: 'email' })),
      /^pc[0-9a-f]{8}@example\.com$/,
    );
    assert.match(String(sampleValue(spec, { type: 'string', format: 'uuid' })), /^[0-9a-f-]{36}$/);
    assert.equal(String(sampleValue(spec, { type: 'string', minLength: 40 })).length, 40);
    assert.ok(String(sampleValue(spec, { type: 'string', maxLength: 5 })).length <= 5);
  });

  test('makes unique values for user names even when an example is given', () => {
    const a = sampleValue(spec, { type: 'string', example: 'alice' }, 'username');
    const b = sampleValue(spec, { type: 'string', example: 'alice' }, 'username');
    assert.notEqual(a, 'alice');
    assert.notEqual(a, b);
  });

  test('follows refs, merges allOf and leaves readOnly properties out of request bodies', () => {
    assert.deepEqual(sampleValue(spec, { $ref: '#/components/schemas/Pet' }), { name: 'Rex', kind: 'dog' });
    assert.deepEqual(Object.keys(propertiesOf(spec, { $ref: '#/components/schemas/Pet' })), [
      'id',
      'name',
      'kind',
    ]);
    assert.deepEqual(resolveSchema(spec, { $ref: '#/components/schemas/Pet' }).required, ['id']);
  });

  test('reads 3.1 type arrays by their non-null type', () => {
    assert.equal(typeof sampleValue(spec, { type: ['null', 'integer'] }), 'number');
  });
});

describe('schema sampling with a pattern', () => {
  test('a declared pattern the usual value misses gets a value built from it', () => {
    assert.equal(sampleValue(spec, { type: 'string', pattern: '^20[2-9][0-9]$' }), '2020');
    // Grouped: `^0[1-9]|1[0-2]$` (ungrouped) is met by the usual value whenever its random hex ends in 10-12.
    assert.equal(sampleValue(spec, { type: 'string', pattern: '^(0[1-9]|1[0-2])$' }), '01');
  });
  test('a pattern the usual value meets keeps it', () => {
    assert.match(
      String(sampleValue(spec, { type: 'string', pattern: '^portcullis-' })),
      /^portcullis-[0-9a-f]{8}$/,
    );
  });
});

describe('record envelopes', () => {
  const doc = buildApiDocument('/spec.yaml', '3.0', {
    openapi: '3.0.3',
    info: { title: 't', version: '1' },
    paths: {},
    components: {
      schemas: {
        Resource: {
          type: 'object',
          properties: {
            type: { type: 'string', enum: ['users'] },
            id: { type: 'string' },
            attributes: {
              type: 'object',
              properties: { email: { type: 'string' }, role: { type: 'string', readOnly: true } },
            },
          },
        },
        Document: { type: 'object', properties: { data: { $ref: '#/components/schemas/Resource' } } },
        Rails: {
          type: 'object',
          properties: { user: { type: 'object', properties: { name: { type: 'string' } } } },
        },
        Flat: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            address: { type: 'object', properties: { city: { type: 'string' } } },
          },
        },
      },
    },
  });
  const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

  test('from values: JSON:API attributes, Rails params, wrapped records; flat bodies stay at the top', () => {
    assert.deepEqual(envelopeOf({ data: { type: 'sessions', attributes: { email: 'a', password: 'b' } } }), [
      'data',
      'attributes',
    ]);
    assert.deepEqual(
      envelopeOf({ data: { type: 'users', id: '7', attributes: { role: 'x' } }, links: { self: '/u/7' } }),
      ['data', 'attributes'],
    );
    assert.deepEqual(envelopeOf({ user: { email: 'a', password: 'b' } }), ['user']);
    assert.deepEqual(envelopeOf({ success: true, item: { id: 3, name: 'n' } }), ['item']);
    assert.deepEqual(envelopeOf({ email: 'a', password: 'b' }), []);
    assert.deepEqual(envelopeOf({ name: 'a', address: { city: 'b' } }), []);
    assert.deepEqual(envelopeOf({ data: [{ id: 1 }] }), []);
    assert.deepEqual(envelopeOf('text'), []);
  });

  test('from schemas', () => {
    assert.deepEqual(schemaEnvelope(doc, ref('Document')), ['data', 'attributes']);
    assert.deepEqual(Object.keys(recordProperties(doc, ref('Document'))), ['email', 'role']);
    assert.deepEqual(schemaEnvelope(doc, ref('Rails')), ['user']);
    assert.deepEqual(schemaEnvelope(doc, ref('Flat')), []);
    assert.deepEqual(Object.keys(recordProperties(doc, ref('Flat'))), ['name', 'address']);
  });

  test('reading and writing fields at the envelope keeps the members around them', () => {
    const body = { data: { type: 'sessions', attributes: { email: 'a@x', password: 'p' } } };
    assert.deepEqual(recordFields(body), { email: 'a@x', password: 'p' });
    assert.deepEqual(fieldsAt(body, ['data']), body.data);
    assert.deepEqual(withFields(body, envelopeOf(body), { password: 'q', role: 'admin' }), {
      data: { type: 'sessions', attributes: { email: 'a@x', password: 'q', role: 'admin' } },
    });
    assert.deepEqual(body.data.attributes.password, 'p');
    assert.deepEqual(withFields({ a: 1 }, [], { b: 2 }), { a: 1, b: 2 });
    assert.deepEqual(withFields({}, ['user'], { b: 2 }), { user: { b: 2 } });
  });
});

test('quietChoice: the first listed value that names no change, else the first', () => {
  assert.equal(quietChoice(['delete', 'archive', 'export']), 'export');
  assert.equal(quietChoice(['disabled', 'active']), 'active');
  assert.equal(quietChoice(['closed', 'open']), 'open');
  assert.equal(quietChoice(['soft_delete', 'markPaid', 'keep']), 'keep');
  assert.equal(quietChoice(['approve', 'reject']), 'approve');
  // A state a change grants is no quiet value either (`listing.approved`, `invoice.paid`).
  assert.equal(quietChoice(['listing.approved', 'listing.flagged']), 'listing.flagged');
  assert.equal(quietChoice(['invoice.paid', 'invoice.payment_failed']), 'invoice.payment_failed');
  // A bare one is a filter's value as often (`status: paid` in a search): kept first.
  assert.equal(quietChoice(['paid', 'open']), 'paid');
  assert.ok(grantsState('Shipped') && grantsState('invoice.paid') && !grantsState('pending'));
  assert.equal(quietChoice([3, 1]), 3);
  assert.equal(quietChoice([]), undefined);
  assert.ok(
    namesChange('hard-delete') &&
      namesChange('cancelled') &&
      !namesChange('active') &&
      !namesChange('export'),
  );
});

test('sampled URLs and host names stay on the machine (.invalid); example.com examples are moved there', () => {
  assert.equal(sampleValue(spec, { type: 'string', format: 'uri' }), 'https://portcullis.invalid/');
  assert.equal(sampleValue(spec, { type: 'string', format: 'hostname' }), 'portcullis.invalid');
  assert.equal(
    sampleValue(spec, { type: 'string', format: 'uri', example: 'https://www.example.com/a.png?x=1' }),
    'https://portcullis.invalid/a.png?x=1',
  );
  assert.equal(
    sampleValue(spec, { type: 'string', example: 'http://example.org' }),
    'http://portcullis.invalid',
  );
  assert.equal(
    sampleValue(spec, { type: 'string', example: 'https://cdn.shop.test/a.png' }),
    'https://cdn.shop.test/a.png',
  );
  assert.equal(
    sampleValue(spec, { type: 'string', example: 'https://example.community/' }),
    'https://example.community/',
  );
  assert.equal(sampleValue(spec, { type: 'string', enum: ['disabled', 'active'] }), 'active');
  assert.equal(withoutPlaceholderHost('see https://example.com'), 'see https://example.com');
});
