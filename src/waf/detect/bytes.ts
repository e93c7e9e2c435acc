/**
 * The detectors read bytes, as libinjection does. The rule engine hands over values as byte strings (one
 * code unit per byte); a string with code units above 0xFF is text and is taken as its UTF-8 bytes.
 */
export function toByteString(input: string): string {
  if (!/[^\u0000-\u00ff]/.test(input)) return input;
  return Buffer.from(input, 'utf8').toString('latin1');
}
