import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ScanResponse } from '../client.ts';
import { linkTo } from './api8-host-header.ts';

const HOST = 'ph0123456789.example';

function answer(text: string, headers: Record<string, string> = {}): ScanResponse {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return {
    status: 200,
    headers,
    text,
    json,
    durationMs: 1,
    sent: { method: 'GET', url: 'http://127.0.0.1/' },
  };
}

describe('linkTo', () => {
  test('finds the host in a link: an href, a URL, a member named like a link, a list of links, a Link header', () => {
    assert.match(linkTo(answer(`{"msg": "response, <a href='${HOST}'>"}`), HOST) ?? '', /href='ph/);
    assert.match(linkTo(answer(`{"preview": "see https://${HOST}/reset?c=1"}`), HOST) ?? '', /\/\/ph/);
    assert.equal(linkTo(answer(`{"reset_url": "${HOST}/reset"}`), HOST), `reset_url: ${HOST}/reset`);
    assert.equal(linkTo(answer(`{"links": ["${HOST}/a"]}`), HOST), `links: ${HOST}/a`);
    assert.match(
      linkTo(answer('[]', { link: `<http://${HOST}/x?page=2>; rel="next"` }), HOST) ?? '',
      /^link: /,
    );
  });
  test('an echo of the host that is no link, or a redirect, is none', () => {
    assert.equal(linkTo(answer(`{"host": "${HOST}", "message": "hello from ${HOST}"}`), HOST), undefined);
    assert.equal(linkTo(answer('{}', { location: `http://${HOST}/login` }), HOST), undefined);
    assert.equal(linkTo(answer(`{"next": "http://127.0.0.1/x"}`), HOST), undefined);
  });
});
