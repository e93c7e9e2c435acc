import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScanResponse } from '../client.ts';
import { originPath, servedActive } from './upload.ts';

test('a same-origin path or URL from an upload answer becomes a path relative to the target', () => {
  assert.equal(originPath('http://h:8/api', '/api/files/a.html'), '/files/a.html');
  assert.equal(originPath('http://h:8/api', '/media/a.html'), '/../media/a.html');
  assert.equal(originPath('http://h:8/', 'http://h:8/media/a.html?v=1'), '/media/a.html?v=1');
  assert.equal(originPath('http://h:8', 'https://cdn.example/a.html'), undefined);
  assert.equal(originPath('http://h:8', 'a.html'), undefined);
  assert.equal(originPath('http://h:8', '/a b.html'), undefined);
});

function served(type: string, text: string, headers: Record<string, string> = {}): ScanResponse {
  return {
    status: 200,
    headers: { 'content-type': type, ...headers },
    text,
    json: undefined,
    durationMs: 1,
    sent: { method: 'GET', url: 'http://h/x' },
  };
}

test('only inline active content with the script intact counts as served', () => {
  const html = '<html><script>/*pcu1*/</script></html>';
  assert.equal(servedActive(served('text/html; charset=utf-8', html), 'pcu1'), true);
  assert.equal(servedActive(served('image/svg+xml', '<svg><script>/*pcu1*/</script></svg>'), 'pcu1'), true);
  assert.equal(servedActive(served('text/plain', html), 'pcu1'), false);
  assert.equal(servedActive(served('text/html', html.replace('<script>', '&lt;script&gt;')), 'pcu1'), false);
  assert.equal(
    servedActive(served('text/html', html, { 'content-disposition': 'attachment' }), 'pcu1'),
    false,
  );
  assert.equal(
    servedActive(served('text/html', html, { 'content-security-policy': 'sandbox' }), 'pcu1'),
    false,
  );
  assert.equal(servedActive(served('application/xml', `<file>${html}</file>`), 'pcu1'), false);
  assert.equal(servedActive(served('text/html', html), 'pcu2'), false);
});
