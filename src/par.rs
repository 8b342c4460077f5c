//! Data parallelism over distinct stacks (issue 9): the per-stack passes of attribution,
//! classification and pprof's inline marks split the stacks into contiguous ranges, one per
//! core, and merge what each range found. Results do not depend on the number of threads:
//! ranges are merged in order and every merge is exact (integer sums, boolean ands).

use std::ops::Range;

/// Below this many items per thread, a pass runs on the calling thread alone.
pub const MIN_PER_THREAD: usize = 1 << 14;

/// `$HEAPDOC_THREADS`, when it is a positive number: the threads every parallel stage uses
/// (1 turns parallelism off; tests use it to check that results do not depend on it).
pub fn threads_override() -> Option<usize> {
    std::env::var("HEAPDOC_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|&n| n > 0)
}

/// Whether a second core is there to decompress on (and `$HEAPDOC_THREADS` is not 1).
pub fn second_core() -> bool {
    match threads_override() {
        Some(n) => n > 1,
        None => std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
    }
}

/// Threads to use for `n` items: one per core (at most 8), unless that leaves fewer than
/// [`MIN_PER_THREAD`] items per thread, or as `$HEAPDOC_THREADS` says.
pub fn threads_for(n: usize) -> usize {
    if let Some(t) = threads_override() {
        return t.min(n.max(1));
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    cores.min(8).min(n / MIN_PER_THREAD).max(1)
}

/// `0..n` cut into `parts` contiguous ranges of nearly equal length.
pub fn split(n: usize, parts: usize) -> Vec<Range<usize>> {
    let parts = parts.max(1);
    (0..parts)
        .map(|i| n * i / parts..n * (i + 1) / parts)
        .collect()
}

/// Runs `f` on every job, the first on the calling thread and each other on its own thread;
/// returns the results in job order.
pub fn run_all<J: Send, T: Send>(jobs: Vec<J>, f: impl Fn(J) -> T + Sync) -> Vec<T> {
    if jobs.len() <= 1 {
        return jobs.into_iter().map(f).collect();
    }
    std::thread::scope(|scope| {
        let f = &f;
        let mut iter = jobs.into_iter();
        let first = iter.next();
        let handles: Vec<_> = iter.map(|j| scope.spawn(move || f(j))).collect();
        let mut results: Vec<T> = first.into_iter().map(f).collect();
        for h in handles {
            match h.join() {
                Ok(t) => results.push(t),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        results
    })
}

/// Runs `f` on contiguous ranges of `0..n`, on as many threads as pay; returns the results in
/// range order.
pub fn map_ranges<T, F>(n: usize, f: F) -> Vec<T>
where
    T: Send,
    F: Fn(Range<usize>) -> T + Sync,
{
    run_all(split(n, threads_for(n)), f)
}

/// Runs `f` on contiguous ranges of `0..a.len()`, each with its part of `a` and of `b` (two
/// slices of the same length, cut alike); returns the results in range order.
pub fn map_ranges_mut2<A, B, T, F>(a: &mut [A], b: &mut [B], f: F) -> Vec<T>
where
    A: Send,
    B: Send,
    T: Send,
    F: Fn(Range<usize>, &mut [A], &mut [B]) -> T + Sync,
{
    assert_eq!(
        a.len(),
        b.len(),
        "map_ranges_mut2: slices of different lengths"
    );
    let ranges = split(a.len(), threads_for(a.len()));
    let mut jobs = Vec::with_capacity(ranges.len());
    let (mut ra, mut rb) = (a, b);
    for r in ranges {
        let (ha, ta) = ra.split_at_mut(r.len());
        let (hb, tb) = rb.split_at_mut(r.len());
        jobs.push((r, ha, hb));
        (ra, rb) = (ta, tb);
    }
    run_all(jobs, |(r, x, y)| f(r, x, y))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_everything_once_in_order() {
        for n in [0, 1, 7, 100_000] {
            for parts in 1..5 {
                let r = split(n, parts);
                assert_eq!(r.len(), parts);
                assert_eq!(r.first().map(|r| r.start), Some(0));
                assert_eq!(r.last().map(|r| r.end), Some(n));
                assert!(r.windows(2).all(|w| w[0].end == w[1].start));
            }
        }
        let mut out = vec![0usize; 100_000];
        let mut twice = vec![0usize; 100_000];
        let sums = map_ranges_mut2(&mut out, &mut twice, |r, o, t| {
            for ((i, x), y) in r.clone().zip(o.iter_mut()).zip(t.iter_mut()) {
                (*x, *y) = (i, 2 * i);
            }
            r.sum::<usize>()
        });
        assert!(out.iter().enumerate().all(|(i, &x)| x == i));
        assert!(twice.iter().enumerate().all(|(i, &x)| x == 2 * i));
        assert_eq!(
            map_ranges(100_000, |r| r.len()).iter().sum::<usize>(),
            100_000
        );
        assert_eq!(sums.iter().sum::<usize>(), (0..100_000usize).sum::<usize>());
    }
}
