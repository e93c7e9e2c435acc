/**
 * Passive readings of answers the scan already has (no request of their own), for API8:
 *
 * - `runtimeError`: the message of an exception the server did not handle, in a 5xx answer (`division by
 *   zero`, `'NoneType' object has no attribute`, `Cannot read properties of undefined`, Go's `panic:`...).
 *   4xx answers are the client's validation messages and are never read.
 *
 * Every pattern is linear or bounded to short strings; the texts read are the target's answers.
 */
import type { ScanResponse } from '../client.ts';

/** Exception messages of common runtimes, as their unhandled errors print them. */
const RUNTIME_ERROR =
  /\b(?:(?:integer |float )?division (?:or modulo )?by zero|divide by zero|ZeroDivisionError|'NoneType' object|NoneType object|KeyError|IndexError|AttributeError|UnboundLocalError|TypeError: |ReferenceError|[\w$]+ is not defined|Cannot read propert(?:y|ies) of (?:undefined|null)|[\w$.]+ is not a function|NullPointerException|ArrayIndexOutOfBoundsException|IndexOutOfRangeException|ClassCastException|index out of range|panic: |runtime error: |nil pointer dereference|Object reference not set to an instance|undefined method [`'\w]|unsupported operand type|object has no attribute|Undefined (?:index|variable|offset|array key)|Uncaught (?:Error|TypeError|Exception)|NoMethodError|ActiveRecord::\w+)/;

/** The exception text a 5xx answer carries, or undefined. Never for 4xx answers. */
export function runtimeError(res: Pick<ScanResponse, 'status' | 'text'>): string | undefined {
  if (res.status < 500 || res.status > 599) return undefined;
  const m = RUNTIME_ERROR.exec(res.text.slice(0, 20_000));
  return m ? m[0].trim() : undefined;
}
