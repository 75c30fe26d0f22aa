/** xorshift32 for the fuzzers: deterministic cases from a seed, so any failure replays; returns an integer in [0, n). */
export function prng(seed: number): (n: number) => number {
  let s = seed >>> 0 || 0x9e3779b9;
  return (n: number) => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s % n;
  };
}
