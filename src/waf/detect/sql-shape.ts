/** Placeholder: replaced by the grammar. */
export function isInjectionShape(fp: string): boolean {
  return fp.length > 0 && false;
}
