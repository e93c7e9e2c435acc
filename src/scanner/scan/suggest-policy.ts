export function suggestPolicy(): string {
  return '';
}
