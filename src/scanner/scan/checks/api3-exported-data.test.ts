import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ScanResponse } from '../client.ts';
import { csvRows, isCsv, personalExport, privilegedAccounts } from './api3-exported-data.ts';

test('CSV rows: commas or semicolons, quoted cells with separators, doubled quotes and line breaks', () => {
  assert.deepEqual(csvRows('a,b\r\n"x, y","say ""hi"""\n\n1,2'), [
    ['a', 'b'],
    ['x, y', 'say "hi"'],
    ['1', '2'],
  ]);
  assert.deepEqual(csvRows('name;email\nA;a@x.org\n'), [
    ['name', 'email'],
    ['A', 'a@x.org'],
  ]);
});

test('a CSV answer is known by its media type or its file name, never when it parsed as JSON', () => {
  const res = (headers: Record<string, string>, json?: unknown) =>
    ({ status: 200, text: 'a,b', json, headers }) as unknown as ScanResponse;
  assert.equal(isCsv(res({ 'content-type': 'text/csv; charset=utf-8' })), true);
  assert.equal(
    isCsv(
      res({
        'content-type': 'application/octet-stream',
        'content-disposition': 'attachment; filename="u.csv"',
      }),
    ),
    true,
  );
  assert.equal(isCsv(res({ 'content-type': 'text/plain' })), false);
  assert.equal(isCsv(res({ 'content-type': 'text/csv' }, [1])), false);
});

test("several people's personal columns are personal data; a catalogue, one person or empty cells are not", () => {
  assert.deepEqual(
    personalExport(csvRows('name,email,phone\nA,a@x.org,+1 555 0100\nB,b@x.org,+1 555 0101\n')),
    { columns: ['email', 'phone'], people: 2, passwords: false },
  );
  assert.equal(personalExport(csvRows('id,name,price\n1,Mat,20\n2,Block,8\n')), undefined);
  assert.equal(personalExport(csvRows('name,email\nA,a@x.org\n')), undefined);
  assert.equal(personalExport(csvRows('name,email\nA,\nB,null\n')), undefined);
  // E-mail addresses under a column of another name still count; a password column makes it critical.
  assert.deepEqual(personalExport(csvRows('user,contact\nA,a@x.org\nB,b@x.org\n')), {
    columns: ['e-mail addresses'],
    people: 2,
    passwords: false,
  });
  assert.equal(personalExport(csvRows('username,password\nA,pw1\nB,pw2\n'))?.passwords, true);
});

test('a list of accounts showing who holds a privilege; not author cards, not a list where no one is privileged', () => {
  assert.deepEqual(
    privilegedAccounts({
      users: [
        { id: 1, username: 'root', admin: true },
        { id: 2, username: 'ana', admin: false },
      ],
    }),
    { accounts: 2, privileged: 1, members: ['admin'] },
  );
  assert.deepEqual(
    privilegedAccounts([
      { email: 'a@x.org', roles: ['user', 'admin'] },
      { email: 'b@x.org', roles: ['user'] },
    ])?.privileged,
    1,
  );
  assert.equal(
    privilegedAccounts([
      { username: 'ana', bio: '', image: null, following: false },
      { username: 'ben', bio: '', image: null, following: false },
    ]),
    undefined,
  );
  assert.equal(
    privilegedAccounts([
      { username: 'ana', admin: false },
      { username: 'ben', admin: false },
    ]),
    undefined,
  );
  assert.equal(
    privilegedAccounts([
      { name: 'Mat', role: 'admin' },
      { name: 'Block', role: 'admin' },
    ]),
    undefined,
  );
});
