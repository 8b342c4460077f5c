//! Helpers for unit tests.

/// A deterministic xorshift generator: `rng(seed)(n)` is a pseudo-random number below `n`.
pub fn rng(seed: u64) -> impl FnMut(u64) -> u64 {
    let mut x = seed;
    move |n| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    }
}
