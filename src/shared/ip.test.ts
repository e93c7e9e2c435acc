import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileCidrMatcher, ipToBigInt, parseCidr } from './ip.ts';

test('maps IPv4 and IPv4-mapped IPv6 to the same number', () => {
  assert.equal(ipToBigInt('10.1.2.3'), ipToBigInt('::ffff:10.1.2.3'));
  assert.equal(ipToBigInt('::ffff:a01:203'), ipToBigInt('10.1.2.3'));
  assert.equal(ipToBigInt('::1'), 1n);
  assert.equal(ipToBigInt('2001:db8::1'), 0x20010db8000000000000000000000001n);
  assert.equal(ipToBigInt('not-an-ip'), undefined);
});

test('matches addresses against IPv4 and IPv6 CIDRs', () => {
  const isTrusted = compileCidrMatcher(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32']);
  assert.equal(isTrusted('10.200.3.4'), true);
  assert.equal(isTrusted('::ffff:10.200.3.4'), true);
  assert.equal(isTrusted('11.0.0.1'), false);
  assert.equal(isTrusted('192.168.1.7'), true);
  assert.equal(isTrusted('192.168.1.8'), false);
  assert.equal(isTrusted('2001:db8:ffff::1'), true);
  assert.equal(isTrusted('2001:db9::1'), false);
  assert.equal(isTrusted('garbage'), false);
});

test('rejects malformed CIDRs', () => {
  assert.equal(parseCidr('10.0.0.0/33'), undefined);
  assert.equal(parseCidr('10.0.0.0/x'), undefined);
  assert.equal(parseCidr('hello/8'), undefined);
  assert.deepEqual(parseCidr('0.0.0.0/0'), { network: 0xffff00000000n, prefix: 96 });
});
