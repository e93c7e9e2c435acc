import assert from 'node:assert/strict';
import { test } from 'node:test';
import { addCall, isPickle, pickleIn, pickleWith, readPickle, sleepPickle } from './pickle.ts';

/** `pickle.dumps(v, protocol=p)` by Python 3.11, base64, for v below. */
const DUMPS: Record<number, string> = {
  0: 'KGRwMApWdGl0bGUKcDEKVk15IHdvcmtzcGFjZQpwMgpzVnRoZW1lCnAzClZkYXJrCnA0CnNWdGFicwpwNQpJMwpzVnJhdGlvCnA2CkYwLjUKc1ZvbgpwNwpJMDEKc1ZvZmYKcDgKTnNWdGFncwpwOQoobHAxMApWYQpwMTEKYVZiCnAxMgphc1Zwb3MKcDEzCihJMQpJMgp0cDE0CnNWYmlnCnAxNQpJNzAwMDAKc1ZuZWcKcDE2CkktNQpzVnVuaQpwMTcKVmjpbGxvIFx1MjBhYwpwMTgKcy4=',
  2: 'gAJ9cQAoWAUAAAB0aXRsZXEBWAwAAABNeSB3b3Jrc3BhY2VxAlgFAAAAdGhlbWVxA1gEAAAAZGFya3EEWAQAAAB0YWJzcQVLA1gFAAAAcmF0aW9xBkc/4AAAAAAAAFgCAAAAb25xB4hYAwAAAG9mZnEITlgEAAAAdGFnc3EJXXEKKFgBAAAAYXELWAEAAABicQxlWAMAAABwb3NxDUsBSwKGcQ5YAwAAAGJpZ3EPSnARAQBYAwAAAG5lZ3EQSvv///9YAwAAAHVuaXERWAoAAABow6lsbG8g4oKscRJ1Lg==',
  4: 'gASVmgAAAAAAAAB9lCiMBXRpdGxllIwMTXkgd29ya3NwYWNllIwFdGhlbWWUjARkYXJrlIwEdGFic5RLA4wFcmF0aW+URz/gAAAAAAAAjAJvbpSIjANvZmaUTowEdGFnc5RdlCiMAWGUjAFilGWMA3Bvc5RLAUsChpSMA2JpZ5RKcBEBAIwDbmVnlEr7////jAN1bmmUjApow6lsbG8g4oKslHUu',
  5: 'gAWVmgAAAAAAAAB9lCiMBXRpdGxllIwMTXkgd29ya3NwYWNllIwFdGhlbWWUjARkYXJrlIwEdGFic5RLA4wFcmF0aW+URz/gAAAAAAAAjAJvbpSIjANvZmaUTowEdGFnc5RdlCiMAWGUjAFilGWMA3Bvc5RLAUsChpSMA2JpZ5RKcBEBAIwDbmVnlEr7////jAN1bmmUjApow6lsbG8g4oKslHUu',
};
const VALUE = {
  title: 'My workspace',
  theme: 'dark',
  tabs: 3,
  ratio: 0.5,
  on: true,
  off: null,
  tags: ['a', 'b'],
  pos: [1, 2],
  big: 70000,
  neg: -5,
  uni: 'héllo €',
};

test('reads the plain data of a pickle in protocols 0, 2, 4 and 5', () => {
  for (const [protocol, b64] of Object.entries(DUMPS)) {
    const bytes = pickleIn(b64);
    assert.ok(bytes, `protocol ${protocol} is a pickle`);
    assert.deepEqual(readPickle(bytes), VALUE, `protocol ${protocol}`);
  }
  // A memoised dict used twice (`[d, d]`): both entries read.
  assert.deepEqual(readPickle(pickleIn('gASVFwAAAAAAAABdlCh9lIwBYZSMAXiUc32UaAJoA3NlLg==')!), [
    { a: 'x' },
    { a: 'x' },
  ]);
});

test('a pickle holding a class is told as a pickle but not read', () => {
  // {'when': datetime.date(2020, 1, 1)}: STACK_GLOBAL and REDUCE.
  const bytes = pickleIn('gASVKgAAAAAAAAB9lIwEd2hlbpSMCGRhdGV0aW1llIwEZGF0ZZSTlEMEB+QBAZSFlFKUcy4=');
  assert.ok(bytes);
  assert.equal(readPickle(bytes), undefined);
});

test('base64 of JSON, of text and of a truncated pickle is no pickle', () => {
  assert.equal(pickleIn(Buffer.from('{"a":"b","c":1}').toString('base64')), undefined);
  assert.equal(pickleIn('aGVsbG8gd29ybGQ='), undefined);
  assert.equal(pickleIn(DUMPS[4].slice(0, 40)), undefined);
  assert.equal(isPickle(Buffer.from('(dp0\n.')), true);
});

test('the probe pickles are ASCII protocol 0 that a reader of plain data refuses (they call functions)', () => {
  const call = addCall('pcx4', '2z');
  assert.equal(call, 'coperator\nadd\n(Vpcx4\nV2z\ntR');
  const p = pickleWith({ title: 'x', tabs: 3, tags: ['a'], on: false, off: null }, call);
  assert.equal(
    p,
    '(Vtitle\ncoperator\nadd\n(Vpcx4\nV2z\ntRVtabs\nI3\nVtags\n(coperator\nadd\n(Vpcx4\nV2z\ntRlVon\nI00\nVoff\nNd.',
  );
  assert.match(p, /^[\x20-\x7e\n]+$/);
  assert.equal(readPickle(Buffer.from(p)), undefined);
  assert.equal(pickleWith(undefined, call), `${call}.`);
  assert.equal(sleepPickle(0.3), 'ctime\nsleep\n(F0.3\ntR.');
  // Keys outside printable ASCII are escaped the raw-unicode-escape way.
  assert.equal(pickleWith({ 'k\\é': 1 }, call), '(Vk\\u005c\\u00e9\nI1\nd.');
});
