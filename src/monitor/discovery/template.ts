/** Segment shapes that are object ids rather than names, checked in order; the first match names the parameter. */
const ID_SHAPES: ReadonlyArray<[string, RegExp]> = [
  ['id', /^\d+$/],
  ['uuid', /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i],
  // Hex ids (ObjectId, hashes): long enough and with at least one digit, so `/deadbeef-free` words stay.
  ['hex', /^(?=[^\d]*\d)[0-9a-f]{8,}$/i],
  ['email', /^[^@/\s]+@[^@/\s]+\.[a-z]{2,}$/i],
  // Opaque tokens: 20+ URL-safe characters mixing letters and digits.
  ['token', /^(?=[^\d]*\d)(?=[^a-z]*[a-z])[a-z0-9_\-.~=]{20,}$/i],
];

/** Paths longer than this (or with more segments) are cut, so templates stay bounded. */
const MAX_SEGMENTS = 32;
const MAX_SEGMENT_LENGTH = 200;

/**
 * Turns an observed path into an OpenAPI-style template: id-like segments become parameters named by their
 * shape (`{id}`, `{uuid}`, `{hex}`, `{email}`, `{token}`, numbered when repeated).
 *
 * @example
 * templatePath('/users/42/orders/5f1d7c0e9b1e8a3d2c4b6a79') // '/users/{id}/orders/{hex}'
 */
export function templatePath(path: string): string {
  const q = path.indexOf('?');
  const raw = q === -1 ? path : path.slice(0, q);
  const segments = raw.split('/').filter((s) => s !== '');
  const used = new Map<string, number>();
  const out: string[] = [];
  for (const seg of segments.slice(0, MAX_SEGMENTS)) {
    const shape = seg.length > MAX_SEGMENT_LENGTH ? 'token' : ID_SHAPES.find(([, re]) => re.test(seg))?.[0];
    if (shape === undefined) {
      out.push(seg);
      continue;
    }
    const n = (used.get(shape) ?? 0) + 1;
    used.set(shape, n);
    out.push(n === 1 ? `{${shape}}` : `{${shape}${n}}`);
  }
  if (segments.length > MAX_SEGMENTS) out.push('{rest}');
  return '/' + out.join('/');
}
