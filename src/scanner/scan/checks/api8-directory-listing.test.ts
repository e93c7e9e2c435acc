import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScanResponse } from '../client.ts';
import { isListing, listedFiles } from './api8-directory-listing.ts';

function page(text: string, status = 200, json?: unknown): ScanResponse {
  return { status, text, json, headers: { 'content-type': 'text/html' } } as unknown as ScanResponse;
}

test('listing pages of nginx, Python, serve-index and IIS are listings; other pages and JSON are not', () => {
  const nginx =
    '<html><head><title>Index of /media/</title></head><body><h1>Index of /media/</h1><pre><a href="../">../</a>\n<a href="posters/">posters/</a></pre>';
  const python =
    '<!DOCTYPE HTML><html><head><title>Directory listing for /public/</title></head><body><ul><li><a href="a.txt">a.txt</a></li></ul>';
  const serveIndex =
    '<html><head><title>listing directory /files/</title></head><body><a href="x.png">x.png</a>';
  const iis = '<html><body><A HREF="/">[To Parent Directory]</A><br><a href="/up/a.zip">a.zip</a>';
  for (const text of [nginx, python, serveIndex, iis]) assert.equal(isListing(page(text)), true, text);
  assert.equal(isListing(page(nginx, 404)), false);
  assert.equal(isListing(page('<html><h1>Welcome</h1><a href="/docs">docs</a></html>')), false);
  assert.equal(isListing(page('<title>Index of /x/</title>', 200, { title: 'Index of /x/' })), false);
  // A blog post titled "Index of ..." with no link is no listing either.
  assert.equal(isListing(page('<title>Index of /tips/</title><p>none</p>')), false);
});

test('the files a listing links to, without the parent, sort links and repeats', () => {
  const text =
    '<h1>Index of /up/</h1><a href="?C=N;O=D">Name</a><a href="../">../</a><a href="a%20b.txt">a b.txt</a>' +
    '<a href="dump.sql">dump.sql</a><a href="dump.sql">dump.sql</a><a href="sub/">sub/</a><a href="/up/.env">.env</a>';
  assert.deepEqual(listedFiles(text), ['a b.txt', 'dump.sql', 'sub/', '.env']);
});
