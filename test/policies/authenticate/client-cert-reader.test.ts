import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createManualClock } from '../../../src/core/clock.ts';
import {
  createClientCertHeaderReader,
  parseClientCertHeaders,
  readPemCertificates,
  verifyClientChain,
} from '../../../src/policies/authenticate/client-cert-header.ts';
import { makePki, type Pem } from './pki.ts';

const LIMITS = { maxHeaderBytes: 16384, maxChainCertificates: 4 };
const x509 = (pem: Pem) => new X509Certificate(pem.cert);
const sf = (pem: Pem) => `:${x509(pem).raw.toString('base64')}:`;

describe('RFC 9440 client certificate headers', () => {
  let dir: string;
  let ca: Pem;
  let subCa: Pem;
  let leaf: Pem;
  let viaSub: Pem;
  let notCa: Pem;
  let viaLeaf: Pem;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'portcullis-cch-'));
    const pki = makePki(dir);
    ca = pki.caNamed('ca');
    subCa = pki.intermediate('sub-ca', 'ca');
    leaf = pki.leaf('leaf', '/CN=leaf', 'DNS:leaf.internal', 'ca', 'clientAuth');
    viaSub = pki.leaf('via-sub', '/CN=via-sub', 'DNS:via-sub.internal', 'sub-ca', 'clientAuth');
    // A leaf certificate (CA:FALSE) that signed another one: it must never serve as an intermediate.
    notCa = pki.leaf('not-ca', '/CN=not-ca', 'DNS:not-ca.internal', 'ca', 'clientAuth');
    viaLeaf = pki.leaf('via-leaf', '/CN=via-leaf', 'DNS:via-leaf.internal', 'not-ca', 'clientAuth');
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  describe('parsing', () => {
    test('reads a byte sequence with surrounding spaces and without base64 padding', () => {
      const b64 = x509(leaf).raw.toString('base64');
      for (const value of [` :${b64}:  `, `:${b64.replace(/=+$/, '')}:`]) {
        const r = parseClientCertHeaders(value, undefined, LIMITS);
        assert.equal(r.ok, true, value.slice(0, 20));
        assert.equal(r.ok && r.leaf.subject, 'CN=leaf');
      }
    });

    test('reads Client-Cert-Chain as a list of byte sequences', () => {
      const r = parseClientCertHeaders(sf(viaSub), `${sf(subCa)},  ${sf(ca)}`, LIMITS);
      assert.equal(r.ok, true);
      assert.deepEqual(r.ok && r.chain.map((c) => c.subject), ['CN=sub-ca', 'CN=ca']);
    });

    test('refuses what is not exactly a canonical byte sequence holding a DER certificate', () => {
      const b64 = x509(leaf).raw.toString('base64');
      const cases: Array<[string, string]> = [
        [b64, 'Client-Cert is not a byte sequence'],
        [`::`, 'Client-Cert is not a byte sequence'],
        [`:${b64}:;a=1`, 'Client-Cert is not a byte sequence'],
        [`:${b64.slice(0, 10)} ${b64.slice(10)}:`, 'Client-Cert is not a byte sequence'],
        [`:${b64.slice(0, 10)}-_${b64.slice(12)}:`, 'Client-Cert is not a byte sequence'],
        [':QQ=A:', 'Client-Cert is not a byte sequence'],
        [':QR==:', 'Client-Cert is not a byte sequence'], // non-canonical trailing bits
        [':AAAA:', 'Client-Cert is not a DER certificate'],
      ];
      for (const [value, detail] of cases) {
        assert.deepEqual(
          parseClientCertHeaders(value, undefined, LIMITS),
          { ok: false, detail },
          value.slice(0, 30),
        );
      }
    });

    test('bounds the header sizes and the number of chain certificates', () => {
      assert.deepEqual(parseClientCertHeaders(sf(leaf), undefined, { ...LIMITS, maxHeaderBytes: 100 }), {
        ok: false,
        detail: 'Client-Cert is too long',
      });
      assert.deepEqual(
        parseClientCertHeaders(sf(viaSub), Array(3).fill(sf(subCa)).join(','), {
          ...LIMITS,
          maxChainCertificates: 2,
        }),
        {
          ok: false,
          detail: 'Client-Cert-Chain has too many certificates',
        },
      );
      assert.deepEqual(parseClientCertHeaders(sf(viaSub), `${sf(subCa)},`, LIMITS), {
        ok: false,
        detail: 'Client-Cert-Chain holds a malformed certificate',
      });
    });
  });

  describe('chain verification', () => {
    const now = () => Date.now();

    test('accepts a leaf issued by a configured CA, directly or through a CA intermediate', () => {
      assert.equal(verifyClientChain(x509(leaf), [], [x509(ca)], now()).ok, true);
      const r = verifyClientChain(x509(viaSub), [x509(subCa)], [x509(ca)], now());
      assert.deepEqual(r.ok && r.path.map((c) => c.subject), ['CN=via-sub', 'CN=sub-ca', 'CN=ca']);
    });

    test('accepts a configured intermediate as the trust anchor', () => {
      assert.equal(verifyClientChain(x509(viaSub), [], [x509(subCa)], now()).ok, true);
    });

    test('refuses a path through a certificate that is not a CA', () => {
      const r = verifyClientChain(x509(viaLeaf), [x509(notCa)], [x509(ca)], now());
      assert.deepEqual(r, {
        ok: false,
        reason: 'untrusted_certificate',
        detail: 'client certificate not trusted',
      });
    });

    test('refuses a leaf whose issuer is neither configured nor in the chain', () => {
      assert.equal(verifyClientChain(x509(viaSub), [], [x509(ca)], now()).ok, false);
      // A configured CA that did not sign it does not help, even with a matching name.
      assert.equal(verifyClientChain(x509(leaf), [], [x509(subCa)], now()).ok, false);
    });

    test('refuses a path with a certificate outside its validity', () => {
      const later = x509(ca).validToDate.getTime() + 1000;
      const r = verifyClientChain(x509(leaf), [], [x509(ca)], later);
      assert.equal(r.ok === false && r.reason, 'certificate_expired');
      const earlier = x509(leaf).validFromDate.getTime() - 1000;
      assert.equal(verifyClientChain(x509(leaf), [], [x509(ca)], earlier).ok, false);
    });
  });

  describe('reader', () => {
    test('returns the legacy certificate and its x5t#S256 thumbprint, and nothing without the header', () => {
      const read = createClientCertHeaderReader(
        {},
        readPemCertificates(ca.cert),
        createManualClock(Date.now()),
      );
      assert.equal(read({}), undefined);
      const r = read({ 'client-cert': sf(leaf) });
      assert.equal(r?.ok, true);
      assert.equal(r?.ok && r.cert.subject.CN, 'leaf');
      assert.equal(r?.ok && r.cert.subjectaltname, 'DNS:leaf.internal');
      assert.equal(
        r?.ok && r.thumbprint,
        Buffer.from(x509(leaf).fingerprint256.replace(/:/g, ''), 'hex').toString('base64url'),
      );
    });

    test('decides validity by the clock even for a verdict it has cached', () => {
      const clock = createManualClock(Date.now());
      const read = createClientCertHeaderReader({}, readPemCertificates(ca.cert), clock);
      assert.equal(read({ 'client-cert': sf(leaf) })?.ok, true);
      const at = clock.now();
      clock.advance(3 * 24 * 3600 * 1000);
      const expired = read({ 'client-cert': sf(leaf) });
      assert.equal(expired?.ok === false && expired.reason, 'certificate_expired');
      clock.set(at);
      assert.equal(read({ 'client-cert': sf(leaf) })?.ok, true);
    });

    test('refuses an over-long header before hashing or parsing it', () => {
      const read = createClientCertHeaderReader(
        { maxHeaderBytes: 1024 },
        readPemCertificates(ca.cert),
        createManualClock(Date.now()),
      );
      const r = read({ 'client-cert': `:${'A'.repeat(2000)}:` });
      assert.deepEqual(r, {
        ok: false,
        reason: 'malformed_client_cert',
        detail: 'client certificate header is too long',
      });
    });
  });

  test('readPemCertificates reads a bundle and refuses text without certificates', () => {
    assert.deepEqual(
      readPemCertificates(`${ca.cert}\n${subCa.cert}`).map((c) => c.subject),
      ['CN=ca', 'CN=sub-ca'],
    );
    assert.throws(() => readPemCertificates('not a certificate'), /no PEM certificate/);
  });
});
