/**
 * Python pickles, as far as the deserialisation probe needs them: telling one in a value the API gave out
 * (base64 in a cookie or a JSON member), reading the plain data one holds (dicts, lists, tuples, strings,
 * numbers, booleans, None; protocols 0 to 5), and writing the probe's own in protocol 0, which is ASCII
 * (`pickle.loads` reads every protocol without being told which). The probe's pickles call only two harmless
 * functions: `operator.add` (two strings joined: the proof that loading ran a call) and `time.sleep`.
 */

/** A value of the plain data a pickle may hold. */
export type PickledValue =
  | null
  | boolean
  | number
  | string
  | PickledValue[]
  | { [key: string]: PickledValue };

const MAX_BYTES = 16_384;
const MARK = Symbol('mark');
const MAX_OPS = 4096;

/** Whether bytes look like a pickle: a protocol 2-5 header or a protocol 0 dict/list, and a final STOP. */
export function isPickle(bytes: Uint8Array): boolean {
  if (bytes.length < 4 || bytes.length > MAX_BYTES || bytes[bytes.length - 1] !== 0x2e) return false;
  if (bytes[0] === 0x80) return bytes[1] >= 2 && bytes[1] <= 5;
  return bytes[0] === 0x28 && (bytes[1] === 0x64 || bytes[1] === 0x6c); // `(d`, `(l`
}

/** A base64 (standard or URL-safe, possibly URL-encoded) text that decodes to a pickle: its bytes. */
export function pickleIn(text: string): Uint8Array | undefined {
  let t = text.trim();
  try {
    t = decodeURIComponent(t);
  } catch {
    // as sent
  }
  if (t.length < 8 || t.length > (MAX_BYTES * 4) / 3 + 4 || !/^[A-Za-z0-9+/_-]+={0,2}$/.test(t))
    return undefined;
  const bytes = Buffer.from(t, /[-_]/.test(t) ? 'base64url' : 'base64');
  return isPickle(bytes) ? bytes : undefined;
}

class Unreadable extends Error {}

/**
 * The plain data a pickle holds, or undefined when it holds anything else (a class, a call): such a pickle is
 * not rebuilt, the probe's own shapes are sent instead. Never runs anything: it only reads opcodes.
 */
export function readPickle(bytes: Uint8Array): PickledValue | undefined {
  const b = Buffer.from(bytes);
  const stack: (PickledValue | typeof MARK)[] = [];
  const memo = new Map<number, PickledValue>();
  let i = 0;
  const take = (n: number) => {
    if (i + n > b.length) throw new Unreadable();
    const out = b.subarray(i, i + n);
    i += n;
    return out;
  };
  const line = () => {
    const end = b.indexOf(0x0a, i);
    if (end < 0) throw new Unreadable();
    const out = b.subarray(i, end).toString('latin1');
    i = end + 1;
    return out;
  };
  const pop = (): PickledValue => {
    const v = stack.pop();
    if (v === undefined || v === MARK) throw new Unreadable();
    return v;
  };
  const popMark = (): PickledValue[] => {
    const at = stack.lastIndexOf(MARK);
    if (at < 0) throw new Unreadable();
    const items = stack.splice(at) as PickledValue[];
    return items.slice(1);
  };
  const top = () => {
    const v = stack[stack.length - 1];
    if (v === undefined || v === MARK) throw new Unreadable();
    return v;
  };
  const setItems = (dict: PickledValue, items: PickledValue[]) => {
    if (dict === null || typeof dict !== 'object' || Array.isArray(dict) || items.length % 2)
      throw new Unreadable();
    for (let k = 0; k < items.length; k += 2) {
      const key = items[k];
      if (typeof key !== 'string') throw new Unreadable();
      dict[key] = items[k + 1];
    }
  };
  const append = (list: PickledValue, items: PickledValue[]) => {
    if (!Array.isArray(list)) throw new Unreadable();
    list.push(...items);
  };
  try {
    for (let ops = 0; ops < MAX_OPS; ops++) {
      const op = take(1)[0];
      switch (op) {
        case 0x80: // PROTO
          take(1);
          break;
        case 0x95: // FRAME
          take(8);
          break;
        case 0x2e: // STOP
          return stack.length === 1 ? pop() : undefined;
        case 0x28: // MARK
          stack.push(MARK);
          break;
        case 0x7d: // EMPTY_DICT
          stack.push({});
          break;
        case 0x5d: // EMPTY_LIST
        case 0x29: // EMPTY_TUPLE
          stack.push([]);
          break;
        case 0x64: {
          // DICT
          const d: PickledValue = {};
          setItems(d, popMark());
          stack.push(d);
          break;
        }
        case 0x6c: // LIST
        case 0x74: // TUPLE
          stack.push(popMark());
          break;
        case 0x85: // TUPLE1
          stack.push([pop()]);
          break;
        case 0x86: {
          // TUPLE2
          const y = pop();
          stack.push([pop(), y]);
          break;
        }
        case 0x87: {
          // TUPLE3
          const z = pop();
          const y = pop();
          stack.push([pop(), y, z]);
          break;
        }
        case 0x73: {
          // SETITEM
          const v = pop();
          const k = pop();
          setItems(top(), [k, v]);
          break;
        }
        case 0x75: {
          // SETITEMS
          const items = popMark();
          setItems(top(), items);
          break;
        }
        case 0x61: // APPEND
          append(stack[stack.length - 2] as PickledValue, [pop()]);
          break;
        case 0x65: {
          // APPENDS
          const items = popMark();
          append(top(), items);
          break;
        }
        case 0x58: // BINUNICODE
          stack.push(take(take(4).readUInt32LE(0)).toString('utf8'));
          break;
        case 0x8c: // SHORT_BINUNICODE
          stack.push(take(take(1)[0]).toString('utf8'));
          break;
        case 0x8d: // BINUNICODE8
          stack.push(take(Number(take(8).readBigUInt64LE(0))).toString('utf8'));
          break;
        case 0x56: // UNICODE (raw-unicode-escape)
          stack.push(
            line().replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, u, U) =>
              String.fromCodePoint(Number.parseInt(u ?? U, 16)),
            ),
          );
          break;
        case 0x4b: // BININT1
          stack.push(take(1)[0]);
          break;
        case 0x4d: // BININT2
          stack.push(take(2).readUInt16LE(0));
          break;
        case 0x4a: // BININT
          stack.push(take(4).readInt32LE(0));
          break;
        case 0x8a: {
          // LONG1
          const n = take(1)[0];
          if (n > 6) throw new Unreadable();
          stack.push(n === 0 ? 0 : take(n).readIntLE(0, n));
          break;
        }
        case 0x47: // BINFLOAT
          stack.push(take(8).readDoubleBE(0));
          break;
        case 0x49: {
          // INT (01 and 00 are True and False)
          const t = line();
          stack.push(t === '01' ? true : t === '00' ? false : Number.parseInt(t, 10));
          break;
        }
        case 0x4c: // LONG
          stack.push(Number.parseInt(line().replace(/L$/, ''), 10));
          break;
        case 0x46: // FLOAT
          stack.push(Number.parseFloat(line()));
          break;
        case 0x4e: // NONE
          stack.push(null);
          break;
        case 0x88: // NEWTRUE
          stack.push(true);
          break;
        case 0x89: // NEWFALSE
          stack.push(false);
          break;
        case 0x94: // MEMOIZE
          memo.set(memo.size, top());
          break;
        case 0x71: // BINPUT
          memo.set(take(1)[0], top());
          break;
        case 0x72: // LONG_BINPUT
          memo.set(take(4).readUInt32LE(0), top());
          break;
        case 0x70: // PUT
          memo.set(Number.parseInt(line(), 10), top());
          break;
        case 0x68: // BINGET
        case 0x6a: // LONG_BINGET
        case 0x67: {
          // GET
          const at =
            op === 0x68 ? take(1)[0] : op === 0x6a ? take(4).readUInt32LE(0) : Number.parseInt(line(), 10);
          const v = memo.get(at);
          if (v === undefined) throw new Unreadable();
          stack.push(v);
          break;
        }
        default:
          // A class, a call, bytes, sets...: not plain data.
          return undefined;
      }
    }
  } catch (err) {
    if (err instanceof Unreadable || err instanceof RangeError) return undefined;
    throw err;
  }
  return undefined;
}

/** A protocol 0 text string: every character outside printable ASCII, and the backslash, escaped. */
function unicode(text: string): string {
  let out = '';
  for (const ch of text) {
    const c = ch.codePointAt(0)!;
    out +=
      c >= 0x20 && c < 0x7f && ch !== '\\'
        ? ch
        : c > 0xffff
          ? `\\U${c.toString(16).padStart(8, '0')}`
          : `\\u${c.toString(16).padStart(4, '0')}`;
  }
  return `V${out}\n`;
}

/** `operator.add(a, b)`: the joined string, computed by the loader. */
export function addCall(a: string, b: string): string {
  return `coperator\nadd\n(${unicode(a)}${unicode(b)}tR`;
}

/**
 * A protocol 0 pickle of `value` in which every string value (not the keys) is replaced by `call`, a pickled
 * expression (see `addCall`); `call` alone when `value` is undefined.
 */
export function pickleWith(value: PickledValue | undefined, call: string): string {
  const write = (v: PickledValue): string => {
    if (v === null) return 'N';
    if (typeof v === 'boolean') return v ? 'I01\n' : 'I00\n';
    if (typeof v === 'number') return Number.isInteger(v) ? `I${v}\n` : `F${v}\n`;
    if (typeof v === 'string') return call;
    if (Array.isArray(v)) return `(${v.map(write).join('')}l`;
    return `(${Object.entries(v)
      .map(([k, x]) => unicode(k) + write(x))
      .join('')}d`;
  };
  return `${value === undefined ? call : write(value)}.`;
}

/** A pickle whose loading sleeps `seconds` (`time.sleep`, which returns None). */
export function sleepPickle(seconds: number): string {
  return `ctime\nsleep\n(F${seconds}\ntR.`;
}
