/**
 * The dashboard end to end: a real gateway and upstream, the admin API, and Debian's Chromium driven headless
 * by playwright-core. Signs in, watches traffic arrive live, takes a screenshot, bans and unbans an IP.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type Browser, chromium, type Page } from 'playwright-core';
import { problems } from '../../src/core/problems.ts';
import { until } from '../kit/server.ts';
import { ADMIN_TOKEN, ALICE, adminFetch, type DashboardGateway, startDashboardGateway } from './support.ts';

const CHROMIUM = '/usr/bin/chromium';

/** Sends a request whose path holds characters a browser would escape (as an attacker's raw client does). */
function rawGet(base: string, rawPath: string): Promise<number> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: rawPath, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Polls `check` every 100 ms until it holds, for at most `ms`. */
describe('dashboard in headless Chromium', () => {
  let d: DashboardGateway;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];

  before(async () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install -y chromium`);
    d = await startDashboardGateway();
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
      timeout: 30_000,
    });
    const context = await browser.newContext({
      viewport: { width: 1400, height: 1000 },
      colorScheme: 'light',
    });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on('console', (m) => {
      // The 401s of the sign-in check and of the wrong token are expected; anything else is a bug.
      if (m.type() === 'error' && !/status of 401/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on('pageerror', (err) => consoleErrors.push(err.message));
  });

  after(async () => {
    await browser?.close();
    await d?.close();
  });

  test('shows the login form first and refuses a wrong token', async () => {
    await page.goto(d.gw.adminUrl);
    await page.locator('#login-view').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#dashboard').isVisible(), false);
    await page.fill('#token', 'not-the-admin-token');
    await page.click('#login-form button[type=submit]');
    await page.locator('#login-error', { hasText: 'not right' }).waitFor();
    assert.equal(await page.locator('#dashboard').isVisible(), false);
  });

  test('signs in with the admin token into an HttpOnly cookie and connects the live stream', async () => {
    await page.fill('#token', ADMIN_TOKEN);
    await page.click('#login-form button[type=submit]');
    await page.locator('#dashboard').waitFor({ state: 'visible' });
    await page.locator('#connection', { hasText: 'Live' }).waitFor();
    const cookies = await page.context().cookies();
    const cookie = cookies.find((c) => c.name === 'portcullis_admin');
    assert.ok(cookie);
    assert.equal(cookie.httpOnly, true);
    assert.equal(cookie.sameSite, 'Strict');
    assert.equal(await page.evaluate('document.cookie'), '');
  });

  test('shows traffic live as it happens, with attacker input rendered as text', async () => {
    for (let i = 0; i < 6; i++) await (await fetch(`${d.gw.url}/orders`)).arrayBuffer();
    for (const id of [1, 2, 3]) await (await fetch(`${d.gw.url}/users/${id}`)).arrayBuffer();
    await rawGet(d.gw.url, '/<img/src=x/onerror=alert(1)>');
    await page.locator('#live-requests td', { hasText: '/users/3' }).waitFor();
    await page.locator('#live-requests td', { hasText: '<img/src=x/onerror=alert(1)>' }).waitFor();
    assert.equal(await page.locator('#live-requests img').count(), 0);
    // The chart's accessible summary names its peak once a second with traffic is complete.
    await until(
      async () => /Peak: all [1-9]/.test((await page.getAttribute('#rps-chart', 'aria-label')) ?? ''),
      'the chart to name its peak',
      { everyMs: 100 },
    );
    await page.locator('#offenders td', { hasText: '127.0.0.1' }).waitFor();
    await page.locator('#operations td', { hasText: 'getUser' }).waitFor();
  });

  test('lists the API-key consumer with its traffic', async () => {
    const res = await fetch(`${d.gw.url}/orders`, { method: 'POST', headers: { 'x-api-key': ALICE.key } });
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    await page.reload();
    const row = page.locator('#consumers tr', { hasText: 'alice-app' });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /writer/);
    assert.ok(!((await page.locator('#consumers').textContent()) ?? '').includes(ALICE.key));
    await page.locator('#connection', { hasText: 'Live' }).waitFor();
  });

  test('shows the policies of each operation, with their configured settings on demand', async () => {
    const row = page.locator('#operations tr', { hasText: 'getUser' });
    await row.locator('summary', { hasText: 'ban' }).click();
    await row.locator('pre', { hasText: '"cacheMs": 0' }).waitFor();
  });

  test('keeps unfolded policy settings open when the inventory refreshes', async () => {
    await (await fetch(`${d.gw.url}/internal/refresh-me`)).arrayBuffer();
    await page.locator('#shadow td', { hasText: '/internal/refresh-me' }).waitFor();
    await page
      .locator('#operations tr', { hasText: 'getUser' })
      .locator('pre', { hasText: 'cacheMs' })
      .waitFor();
  });

  test('shows denied requests in the events panel and a detector alert in the alerts panel, live', async () => {
    for (let id = 41; id <= 46; id++) await (await fetch(`${d.gw.url}/internal/export/${id}`)).arrayBuffer();
    await page.locator('#events td', { hasText: '/internal/export/46' }).waitFor();
    await page.locator('#decision-breakdown', { hasText: 'undeclared_route' }).waitFor();
    const alert = page.locator('#alerts tr', { hasText: 'shadow-api' });
    await alert.waitFor();
    assert.match((await alert.textContent()) ?? '', /requests to undeclared GET \/internal\/export\/\{id\}/);
  });

  test('shows the Core Rule Set rules and score of a blocked request in the events panel', async () => {
    const q = encodeURIComponent("1' UNION SELECT password FROM users--");
    assert.equal((await fetch(`${d.gw.url}/search?q=${q}`)).status, 400);
    await page.locator('#events code.rules', { hasText: /942\d{3}.*\(score \d+\)/ }).waitFor();
  });

  test('filters the events panel through the server, by client IP and time', async () => {
    const form = page.locator('#event-filters');
    await form.locator('input[name=ip]').fill('192.0.2.99');
    await form.locator('button[type=submit]').click();
    await page.locator('#events td', { hasText: 'No events match.' }).waitFor();
    await form.locator('input[name=ip]').fill('127.0.0.1');
    await form.locator('input[name=from]').fill('2000-01-01T00:00:00');
    await form.locator('button[type=submit]').click();
    await page.locator('#events td', { hasText: '/internal/export/46' }).waitFor();
    await form.locator('input[name=ip]').fill('');
    await form.locator('input[name=from]').fill('');
    await form.locator('button[type=submit]').click();
    await page.locator('#events td', { hasText: '/internal/export/46' }).waitFor();
  });

  test('lists undeclared paths as shadow endpoints in the inventory', async () => {
    await page.locator('#shadow td', { hasText: '/internal/export/{id}' }).waitFor();
  });

  test('takes non-empty PNG screenshots of the whole dashboard in light and dark colour schemes', async (t) => {
    const dir = await mkdtemp(path.join(tmpdir(), 'portcullis-dashboard-'));
    for (const scheme of ['light', 'dark'] as const) {
      await page.emulateMedia({ colorScheme: scheme });
      await page.evaluate('window.scrollTo(0, 0)');
      const file = path.join(dir, `dashboard-${scheme}.png`);
      await page.screenshot({ path: file, fullPage: true });
      const png = await readFile(file);
      assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
      assert.ok(png.length > 20_000, `${scheme} screenshot is only ${png.length} bytes`);
      t.diagnostic(`screenshot: ${file}`);
    }
    await page.locator('#traffic').screenshot({ path: path.join(dir, 'traffic.png') });
    await page.emulateMedia({ colorScheme: 'light' });
  });

  test('bans an IP from the form, the gateway refuses it, and its Unban button lets it back in', async () => {
    const ip = '127.0.0.1';
    assert.equal((await fetch(`${d.gw.url}/orders`)).status, 200);
    await page.selectOption('#ban-kind', 'ip');
    await page.fill('#ban-value', ip);
    await page.selectOption('#ban-ttl', '300');
    await page.fill('#ban-reason', 'browser test');
    await page.click('#ban-submit');
    const row = page.locator('#ban-list tr', { hasText: ip });
    await row.waitFor();
    assert.match((await row.textContent()) ?? '', /browser test/);
    const listed = await (await adminFetch(d, '/api/bans')).json();
    const ban = listed.bans.find((b: { value: string }) => b.value === ip);
    assert.equal(ban.kind, 'ip');
    assert.equal(Date.parse(ban.expiresAt) - Date.parse(ban.createdAt), 300_000);
    const refused = await fetch(`${d.gw.url}/orders`);
    assert.equal(refused.status, 403);
    assert.equal(((await refused.json()) as { type: string }).type, problems.banned.type);

    await page.click(`button[aria-label="Unban ip ${ip}"]`);
    await row.waitFor({ state: 'detached' });
    await page.locator('#ban-list td', { hasText: 'No one is banned.' }).waitFor();
    assert.equal((await (await adminFetch(d, '/api/bans')).json()).bans.length, 0);
    assert.equal((await fetch(`${d.gw.url}/orders`)).status, 200);
  });

  test('ran without a script error or a Content Security Policy violation', () => {
    assert.deepEqual(consoleErrors, []);
  });
});
