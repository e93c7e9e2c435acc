import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import type { ScanResult } from '../../src/scanner/scan/runner.ts';
import { startServer } from '../kit/server.ts';
import { operationsFound, scanTwins } from './twins.ts';

/**
 * An invoicing service in a SOAP-era Java style: an API key header, XML in and XML out for the invoice import,
 * a feed checker that takes `text/xml` and only answers `{"ok":true}`, an SVG logo upload (multipart) whose
 * `<title>` becomes the logo's name, and a JSON customer creation whose framework also takes XML when sent XML.
 * Its XML reader is written here: DTD entities, internal and `SYSTEM` (file: and http:), expanded the way a
 * parser with entity resolution on does. Vulnerable: the import, the feed checker and the customer creation
 * resolve external entities (the feed checker shows nothing: blind), and so does a contacts import whose file
 * input declares no type (an XML file is read as XML); the logo upload expands internal entities only. Fixed twin: any DOCTYPE is refused (400), as a hardened parser does; customers take JSON only.
 */
const KEY = { apiKey: [] };
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'invoicing', version: '4.2' },
  components: {
    securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } },
    schemas: {
      Invoice: {
        type: 'object',
        xml: { name: 'invoice' },
        properties: {
          customer: { type: 'string', example: 'ACME' },
          amount: { type: 'number', example: 12.5 },
          memo: { type: 'string', example: 'March' },
        },
      },
    },
  },
  security: [KEY],
  paths: {
    '/invoices/import': {
      post: {
        operationId: 'importInvoice',
        requestBody: {
          required: true,
          content: { 'application/xml': { schema: { $ref: '#/components/schemas/Invoice' } } },
        },
        responses: { '201': { description: 'imported', content: { 'application/xml': { schema: {} } } } },
      },
    },
    '/feeds/check': {
      post: {
        operationId: 'checkFeed',
        requestBody: {
          required: true,
          content: {
            'text/xml': {
              schema: { type: 'string' },
              example:
                '<?xml version="1.0"?><feed><name>news</name><url>https://example.com/rss</url></feed>',
            },
          },
        },
        responses: { '200': { description: 'checked' } },
      },
    },
    '/logos': {
      post: {
        operationId: 'uploadLogo',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: {
                type: 'object',
                required: ['logo'],
                properties: { logo: { type: 'string', format: 'binary' } },
              },
              encoding: { logo: { contentType: 'image/svg+xml' } },
            },
          },
        },
        responses: { '201': { description: 'stored' } },
      },
    },
    '/imports': {
      post: {
        operationId: 'importContacts',
        summary: 'Bulk import of contacts from a file',
        requestBody: {
          required: true,
          content: {
            'multipart/form-data': {
              schema: { type: 'object', properties: { data: { type: 'string', format: 'binary' } } },
            },
          },
        },
        responses: { '200': { description: 'imported' } },
      },
    },
    '/customers': {
      post: {
        operationId: 'createCustomer',
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['name'],
                properties: { name: { type: 'string' }, country: { type: 'string', example: 'NL' } },
              },
            },
          },
        },
        responses: { '201': { description: 'created' } },
      },
      get: { operationId: 'listCustomers', responses: { '200': { description: 'customers' } } },
    },
  },
};

const ENTITY = /<!ENTITY\s+(%\s+)?([\w.-]+)\s+(?:SYSTEM\s+"([^"]*)"|"([^"]*)")\s*>/g;
const XML_ESCAPES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/** What a SYSTEM entity names: a file, or an http resource (the only kinds this reader loads). */
async function load(uri: string): Promise<string> {
  if (uri.startsWith('file://')) return readFile(new URL(uri), 'utf8');
  if (/^https?:\/\//.test(uri)) return (await fetch(uri, { signal: AbortSignal.timeout(2000) })).text();
  throw new Error(`unsupported entity URI ${uri}`);
}

/**
 * A small XML reader: the DOCTYPE's entities expanded (`external` decides whether SYSTEM ones are loaded),
 * then every leaf element's text by name. `dtd: false` refuses any DOCTYPE, as a hardened parser does.
 */
async function readXml(
  text: string,
  options: { dtd: boolean; external: boolean },
): Promise<{ root: string; fields: Record<string, string> }> {
  let body = text.trim().replace(/^<\?xml[^>]*\?>\s*/, '');
  const entities = new Map<string, string>();
  const doctype = /^<!DOCTYPE\s+([\w:.-]+)\s*\[([\s\S]*?)\]\s*>\s*/.exec(body);
  if (doctype) {
    if (!options.dtd) throw new Error('DOCTYPE is not allowed');
    for (const m of doctype[2].matchAll(ENTITY)) {
      const [, parameter, name, system, literal] = m;
      if (system === undefined) {
        entities.set(name, literal);
      } else if (options.external) {
        const value = await load(system);
        if (parameter === undefined) entities.set(name, value);
      } else {
        entities.set(name, ''); // external entities not loaded: they expand to nothing
      }
    }
    body = body.slice(doctype[0].length);
  }
  body = body.replace(/&([\w.-]+);/g, (all, name: string) => {
    const v = entities.get(name);
    if (v !== undefined) return v.replace(/&/g, '&amp;').replace(/</g, '&lt;');
    if (XML_ESCAPES[name] !== undefined) return all;
    throw new Error(`undefined entity ${name}`);
  });
  const root = /^<([\w:.-]+)/.exec(body)?.[1];
  if (root === undefined) throw new Error('no root element');
  const fields: Record<string, string> = {};
  for (const m of body.matchAll(/<([\w:.-]+)(?:\s[^>]*)?>([^<]*)<\/\1>/g)) {
    fields[m[1]] = m[2].replace(/&(amp|lt|gt|quot|apos);/g, (_a, n: string) => XML_ESCAPES[n]);
  }
  return { root, fields };
}

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

async function startInvoicing(fixed: boolean): Promise<{ url: string; server: Server }> {
  const customers: { id: number; name: string }[] = [];
  return startServer((req, res) => {
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type });
      res.end(body);
    };
    const json = (status: number, body: unknown) => send(status, 'application/json', JSON.stringify(body));
    if (!['k-alice', 'k-bob'].includes(String(req.headers['x-api-key'])))
      return json(401, { error: 'api key' });
    const path = (req.url ?? '').split('?')[0];
    const type = String(req.headers['content-type'] ?? '');
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const xmlOptions = { dtd: !fixed, external: !fixed };
      try {
        if (req.method === 'GET' && path === '/customers') return json(200, customers);
        if (req.method !== 'POST') return json(404, { error: 'not found' });
        if (path === '/invoices/import') {
          if (!/xml/.test(type)) return json(415, { error: 'XML expected' });
          const { fields } = await readXml(text, xmlOptions);
          if (Number.isNaN(Number(fields.amount ?? 'x'))) return json(400, { error: 'amount' });
          return send(
            201,
            'application/xml',
            `<imported><customer>${escapeXml(fields.customer ?? '')}</customer><memo>${escapeXml(fields.memo ?? '')}</memo></imported>`,
          );
        }
        if (path === '/feeds/check') {
          const { fields } = await readXml(text, xmlOptions);
          return json(200, { ok: typeof fields.url === 'string' });
        }
        if (path === '/logos') {
          const form = await new Request('http://invoicing.local/', {
            method: 'POST',
            headers: { 'content-type': type },
            body: Buffer.concat(chunks),
          }).formData();
          const logo = form.get('logo');
          if (!(logo instanceof File)) return json(400, { error: 'logo is required' });
          const svg = await readXml(await logo.text(), { dtd: !fixed, external: false });
          if (svg.root !== 'svg') return json(415, { error: 'SVG only' });
          return json(201, { id: 7, title: svg.fields.title ?? '' });
        }
        if (path === '/imports') {
          // Any file: XML is read as contacts (the first value is shown), anything else counted as lines.
          const form = await new Request('http://invoicing.local/', {
            method: 'POST',
            headers: { 'content-type': type },
            body: Buffer.concat(chunks),
          }).formData();
          const data = form.get('data');
          if (!(data instanceof File)) return json(400, { error: 'data is required' });
          const content = await data.text();
          if (!content.trimStart().startsWith('<'))
            return json(200, { imported: content.split('\n').length });
          const { fields } = await readXml(content, xmlOptions);
          return json(200, { imported: Object.keys(fields).length, first: Object.values(fields)[0] ?? '' });
        }
        if (path === '/customers') {
          let name: unknown;
          if (/json/.test(type)) name = JSON.parse(text).name;
          else if (/xml/.test(type) && !fixed) name = (await readXml(text, xmlOptions)).fields.name;
          else return json(415, { error: 'unsupported media type' });
          if (typeof name !== 'string' || name === '') return json(422, { error: 'name is required' });
          const customer = { id: customers.length + 1, name };
          customers.push(customer);
          return json(201, customer);
        }
        return json(404, { error: 'not found' });
      } catch (err) {
        return json(400, { error: `bad document: ${(err as Error).message}` });
      }
    });
  });
}

describe('XML external entities', () => {
  const results = {} as Record<'vulnerable' | 'fixed', ScanResult>;
  before(async () => {
    const scans = await scanTwins(SPEC, startInvoicing, {
      identities: [
        { name: 'alice', headers: { 'X-Api-Key': 'k-alice' } },
        { name: 'bob', headers: { 'X-Api-Key': 'k-bob' } },
      ],
      checks: ['API8'],
      ratePerSecond: 200,
      timeDelayMs: 300,
    });
    results.vulnerable = scans.vulnerable.result;
    results.fixed = scans.fixed.result;
  });

  const xxe = (r: ScanResult, op: string) =>
    r.findings.filter((f) => f.rule.id === 'scan/api8-xxe' && f.operation?.operationId === op);

  test('reports the file read through an external entity in the XML import, at high severity', () => {
    const [f] = xxe(results.vulnerable, 'importInvoice');
    assert.equal(f?.severity, 'high', operationsFound(results.vulnerable).join(', '));
    assert.match(f.message, /file:\/\/\/etc\/passwd/);
    assert.match(String(f.evidence?.responseExcerpt), /root:x:0:0/);
  });

  test('reports the blind feed checker by the canary fetch of its external entity', () => {
    const [f] = xxe(results.vulnerable, 'checkFeed');
    assert.equal(f?.severity, 'high', operationsFound(results.vulnerable).join(', '));
    assert.match(f.message, /canary URL it named was fetched/);
  });

  test('reports the SVG upload that expands internal entities only, at medium severity', () => {
    const [f] = xxe(results.vulnerable, 'uploadLogo');
    assert.equal(f?.severity, 'medium', operationsFound(results.vulnerable).join(', '));
    assert.match(f.message, /joined value, pcx[0-9a-f]{10}, came back/);
  });

  test('reports the JSON creation that also parses XML when sent XML', () => {
    const [f] = xxe(results.vulnerable, 'createCustomer');
    assert.equal(f?.severity, 'high', operationsFound(results.vulnerable).join(', '));
    assert.match(f.message, /sent as application\/xml instead of JSON/);
  });

  test('reports the import whose file input declares no type, by the file it read', () => {
    const [f] = xxe(results.vulnerable, 'importContacts');
    assert.equal(f?.severity, 'high', operationsFound(results.vulnerable).join(', '));
    assert.match(f.message, /the XML file of its data input/);
  });

  test('finds no XXE on the fixed twin', () => {
    assert.deepEqual(
      operationsFound(results.fixed).filter((x) => x.includes('xxe')),
      [],
    );
  });
});
