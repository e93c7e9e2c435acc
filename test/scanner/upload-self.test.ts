import assert from 'node:assert/strict';
import type { Server } from 'node:http';
import { before, describe, test } from 'node:test';
import { startServer } from '../kit/server.ts';
import { scanTwins, type TwinScans } from './twins.ts';

/**
 * A photo club in a Rails style (`Authorization: Token ...`): members post pictures to `POST /gallery`
 * (multipart `image`, served back at the URL the answer gives) and set their own avatar with `POST /me/avatar`
 * (multipart `image`, which replaces the sender's avatar). Vulnerable: both keep the client's file name and
 * serve it with the type its extension says (an `.html` file comes back as `text/html`). Fixed twin: files are
 * served as `application/octet-stream`, `attachment`, `nosniff`. The upload check must find the gallery and
 * never send a file to alice's or bob's own avatar.
 */
const form = {
  required: true,
  content: {
    'multipart/form-data': {
      schema: {
        type: 'object',
        required: ['image'],
        properties: { image: { type: 'string', format: 'binary' } },
      },
    },
  },
};
const SPEC = {
  openapi: '3.0.3',
  info: { title: 'photo club', version: '1' },
  components: { securitySchemes: { token: { type: 'apiKey', in: 'header', name: 'Authorization' } } },
  security: [{ token: [] }],
  paths: {
    '/gallery': {
      post: { operationId: 'addPicture', requestBody: form, responses: { '201': { description: 'ok' } } },
    },
    '/me/avatar': {
      post: { operationId: 'setAvatar', requestBody: form, responses: { '200': { description: 'ok' } } },
    },
  },
};
const TOKENS: Record<string, string> = { 'Token alice-7': 'alice', 'Token bob-8': 'bob' };

interface Club {
  url: string;
  server: Server;
  /** Every avatar file name set for a member, in order. */
  avatars: string[];
}

async function startClub(fixed: boolean): Promise<Club> {
  const avatars: string[] = [];
  const files = new Map<string, Buffer>();
  const s = await startServer((req, res) => {
    const json = (status: number, b: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(b));
    };
    const path = decodeURIComponent((req.url ?? '').split('?')[0]);
    if (req.method === 'GET' && path.startsWith('/files/')) {
      const bytes = files.get(path.slice('/files/'.length));
      if (!bytes) return json(404, { error: 'not found' });
      const ext = /\.(\w+)$/.exec(path)?.[1] ?? '';
      res.writeHead(
        200,
        fixed
          ? {
              'content-type': 'application/octet-stream',
              'content-disposition': 'attachment',
              'x-content-type-options': 'nosniff',
            }
          : {
              'content-type':
                { html: 'text/html', svg: 'image/svg+xml', png: 'image/png' }[ext] ?? 'text/plain',
            },
      );
      return res.end(bytes);
    }
    const who = TOKENS[String(req.headers.authorization)];
    if (!who) return json(401, { error: 'You need to sign in.' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      if (req.method !== 'POST' || (path !== '/gallery' && path !== '/me/avatar'))
        return json(404, { error: 'not found' });
      let data: FormData;
      try {
        data = await new Request('http://club.local/', {
          method: 'POST',
          headers: { 'content-type': String(req.headers['content-type']) },
          body: Buffer.concat(chunks),
        }).formData();
      } catch {
        return json(400, { error: 'bad multipart' });
      }
      const image = data.get('image');
      if (!(image instanceof File)) return json(422, { error: 'image is required' });
      const name = image.name.replace(/[^\w.-]/g, '_');
      files.set(name, Buffer.from(await image.arrayBuffer()));
      if (path === '/me/avatar') {
        avatars.push(`${who} ${name}`);
        return json(200, { avatar_url: `/files/${name}` });
      }
      return json(201, { url: `/files/${name}` });
    });
  });
  return { url: s.url, server: s.server, avatars };
}

describe('API8 uploads: never to a given identity’s own account', () => {
  let scans: TwinScans<Club>;
  before(async () => {
    scans = await scanTwins(SPEC, startClub, {
      identities: [
        { name: 'alice', headers: { Authorization: 'Token alice-7' } },
        { name: 'bob', headers: { Authorization: 'Token bob-8' } },
      ],
      checks: ['API8'],
      ratePerSecond: 200,
    });
  });
  const uploads = (kind: 'vulnerable' | 'fixed') =>
    scans[kind].result.findings
      .filter((f) => f.rule.id === 'scan/api8-unrestricted-upload')
      .map((f) => f.operation?.operationId);

  // The upload probes (`pcu<hex>.html`, `.svg`...), the XXE probe's SVG/XML file (`portcullis-scan.svg`) and
  // the deserialization probe's YAML file (`portcullis-scan.yaml`).
  test('no upload, XXE or YAML probe replaces alice’s or bob’s avatar, on either twin', () => {
    for (const kind of ['vulnerable', 'fixed'] as const)
      assert.deepEqual(
        scans[kind].api.avatars.filter((a) => / (pcu[0-9a-f]+\.|portcullis-scan\.(svg|xml|yaml)$)/.test(a)),
        [],
        kind,
      );
  });

  test('the gallery upload served as HTML is found; nothing on the fixed twin', () => {
    assert.deepEqual(uploads('vulnerable'), ['addPicture']);
    assert.deepEqual(uploads('fixed'), []);
  });
});
