import assert from 'node:assert/strict';
import { test } from 'node:test';
import { commands } from '../command-table.ts';
import { loadAllCommandModules, loadCommandModule } from './index.ts';

test('each command module is found by the first word of the commands it registers', async () => {
  const before = new Set(Object.keys(commands));
  for (const word of ['demo', 'audit', 'scan', 'key', 'password', 'crs']) {
    assert.equal(await loadCommandModule(word), true, word);
    assert.ok(
      Object.keys(commands).some((name) => name.split(' ')[0] === word),
      `loading the module of "${word}" registers a command under it`,
    );
  }
  assert.equal(await loadCommandModule('serve'), false, 'a built-in command has no module here');
  assert.equal(await loadCommandModule('toString'), false, 'only own table entries count');
  assert.equal(await loadCommandModule('nope'), false);
  // Loading them all adds nothing the table above did not find: no command would be missed on its own.
  const found = Object.keys(commands);
  await loadAllCommandModules();
  assert.deepEqual(Object.keys(commands), found);
  assert.ok(found.length > before.size);
});
