import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compileCidrMatcher,
  createCidrList,
  groupIp,
  inCidrList,
  ipv6Groups,
  mappedIpv4,
  parseCidr,
} from './ip.ts';

test('reads the IPv4 address an IPv4-mapped IPv6 address carries, in dotted or hex form', () => {
  assert.equal(mappedIpv4('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(mappedIpv4('::ffff:a01:203'), '10.1.2.3');
  assert.equal(mappedIpv4('::FFFF:0:a01:203'), '10.1.2.3');
  assert.equal(mappedIpv4('::1'), undefined);
  assert.equal(mappedIpv4('2001:db8::1'), undefined);
});

test('expands IPv6 text to its eight groups', () => {
  assert.deepEqual(ipv6Groups('::1'), [0, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6Groups('2001:db8::1'), [0x2001, 0xdb8, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6Groups('fe80::1%eth0'), [0xfe80, 0, 0, 0, 0, 0, 0, 1]);
  assert.deepEqual(ipv6Groups('::ffff:192.0.2.9'), [0, 0, 0, 0, 0, 0xffff, 0xc000, 0x209]);
});

test('groups addresses by network, IPv4-mapped IPv6 as IPv4', () => {
  assert.equal(groupIp('2001:db8:1:2:aaaa::1', 32, 64), '2001:db8:1:2:0:0:0:0/64');
  assert.equal(groupIp('::ffff:192.0.2.9', 24, 64), '192.0.2.0/24');
  assert.equal(groupIp('192.0.2.9', 32, 64), '192.0.2.9');
  assert.equal(groupIp('192.0.2.200', 25, 64), '192.0.2.128/25');
});

test('checks membership of IPv4, IPv4-mapped and IPv6 addresses, and says when the text is no address', () => {
  const list = createCidrList(['10.0.0.0/8', 'fd00::/8']);
  assert.equal(inCidrList(list, '10.9.9.9'), true);
  assert.equal(inCidrList(list, '::ffff:10.9.9.9'), true);
  assert.equal(inCidrList(list, '::ffff:a09:909'), true);
  assert.equal(inCidrList(list, 'fd12::1'), true);
  assert.equal(inCidrList(list, '11.0.0.1'), false);
  assert.equal(inCidrList(list, 'example.com'), undefined);
  assert.throws(() => createCidrList(['10.0.0.0/40']), /10\.0\.0\.0\/40/);
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
  assert.equal(parseCidr('10.0.0.0/-1'), undefined);
  assert.deepEqual(parseCidr('0.0.0.0/0'), { address: '0.0.0.0', prefix: 0, family: 'ipv4' });
  assert.deepEqual(parseCidr('::1'), { address: '::1', prefix: 128, family: 'ipv6' });
});
