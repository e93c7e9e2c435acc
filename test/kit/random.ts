/**
 * A seeded generator of numbers in [0, 1) (xorshift32), so a test's generated cases are the same on every run.
 * A seed of 0 is taken as 1 (xorshift stays at 0 otherwise).
 */
export function seededRandom(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}
