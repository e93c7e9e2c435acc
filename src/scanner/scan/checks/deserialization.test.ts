import assert from 'node:assert/strict';
import { test } from 'node:test';
import { unsafeLoader } from './deserialization.ts';

test('an answer quoting an unsafe loader’s call is told from safe loaders and bare error names', () => {
  const flask = [
    'Traceback (most recent call last):',
    '  File "/app/deserialize.py", line 13, in restore_session',
    '    state = pickle.loads(base64.b64decode(blob))',
    "_pickle.UnpicklingError: invalid load key, 'x'.",
  ].join('\n');
  assert.equal(unsafeLoader(flask), 'state = pickle.loads(base64.b64decode(blob))');
  assert.match(unsafeLoader('    cfg = yaml.load(text, Loader=yaml.Loader)') ?? '', /yaml\.load/);
  assert.match(unsafeLoader('    cfg = yaml.unsafe_load(text)') ?? '', /unsafe_load/);
  assert.match(
    unsafeLoader('\tat java.io.ObjectInputStream.readObject(ObjectInputStream.java:431)') ?? '',
    /ObjectInputStream/,
  );
  assert.match(unsafeLoader('PHP Notice: unserialize(): Error at offset 0 of 12 bytes') ?? '', /unserialize/);
  assert.match(unsafeLoader("app/models/cart.rb:12:in `Marshal.load'") ?? '', /Marshal\.load/);
  assert.match(
    unsafeLoader('at System.Runtime.Serialization.Formatters.Binary.BinaryFormatter.Deserialize') ?? '',
    /BinaryFormatter/,
  );
  // Safe loaders, and an error name without the call (a restricted Unpickler refusing a global).
  assert.equal(unsafeLoader('    cfg = yaml.load(text, Loader=yaml.SafeLoader)'), undefined);
  assert.equal(unsafeLoader('    cfg = yaml.safe_load(text)'), undefined);
  assert.equal(unsafeLoader('    state = json.loads(zlib.decompress(blob))'), undefined);
  assert.equal(unsafeLoader('pickle.UnpicklingError: global operator.add refused'), undefined);
});
