import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { compileAdminHostCheck, hostOf } from './host-check.ts';

describe('admin Host check', () => {
  const isAllowed = compileAdminHostCheck(
    ['admin.example.com', '*.ops.example.net', '2001:db8::7'],
    '10.1.2.3',
  );

  test('answers loopback names with any port or none', () => {
    for (const h of ['localhost', 'localhost:9090', 'LocalHost:1', '127.0.0.1:9090', '[::1]:9090', '[::1]']) {
      assert.equal(isAllowed(h), true, h);
    }
  });

  test('answers the configured names, subdomains of a wildcard and the bound address', () => {
    for (const h of ['admin.example.com:9090', 'a.ops.example.net', '[2001:db8::7]:9090', '10.1.2.3:9090']) {
      assert.equal(isAllowed(h), true, h);
    }
  });

  test('refuses other names, look-alikes and malformed values', () => {
    const refused = [
      undefined,
      '',
      'evil.example',
      'evil.example:9090',
      'localhost.evil.example',
      'localhost.',
      'ops.example.net',
      'admin.example.com.evil.example',
      '127.0.0.2',
      '[::2]',
      '::1',
      'localhost:9090:1',
      'localhost:port',
      'localhost@evil.example',
      'localhost evil',
      '[::1',
    ];
    for (const h of refused) assert.equal(isAllowed(h), false, String(h));
  });

  test('does not add a wildcard bind address to the allowed hosts', () => {
    const check = compileAdminHostCheck([], '0.0.0.0');
    assert.equal(check('0.0.0.0:9090'), false);
    assert.equal(check('localhost:9090'), true);
  });

  test('reads the host of a Host value without its port', () => {
    assert.equal(hostOf('Example.COM:80'), 'example.com');
    assert.equal(hostOf('[::1]:9090'), '[::1]');
    assert.equal(hostOf('localhost:'), 'localhost');
    assert.equal(hostOf('[nothex]'), undefined);
  });
});
