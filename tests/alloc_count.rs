//! Heap allocations while decoding and analyzing do not grow with the number of samples
//! (issue 9, DESIGN.md habit 6): two synthetic profiles of the same shape (same tables), with
//! 1k and 100k samples, must take nearly the same number of allocations. The only allowed
//! growth is the logarithmic number of reallocations of the growing column vectors.
//!
//! The counter counts every thread (decompression and the per-stack passes run on their own
//! threads), so this binary holds this one test only. Both decode paths are counted: a whole
//! buffer, and a gzip stream inflated on a second thread; the per-stack passes are split over
//! two threads (`HEAPDOC_THREADS=2`) whatever the machine.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use heapdoc::decode::{self, DecodeOptions};
use heapdoc_synth::{synthesize, Shape};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

fn bump() {
    ALLOCS.fetch_add(1, Ordering::Relaxed);
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        bump();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        bump();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.load(Ordering::SeqCst)
}

/// (allocations to decode, allocations to analyze) for a profile of `samples` samples, given
/// whole or gzipped.
fn count(samples: usize, gzipped: bool) -> (u64, u64) {
    // Same tables and the same 1000 distinct stacks in both profiles: only the number of
    // samples (and their values) differs.
    let shape = Shape::ddgo_big_heap()
        .with_samples(samples)
        .with_distinct_stacks(1_000);
    let mut raw = synthesize(&shape);
    if gzipped {
        raw = heapdoc_synth::gzip(&raw);
    }
    let opts = DecodeOptions::default();
    let a0 = allocs();
    let p = decode::decode(&raw, &opts).unwrap();
    let a1 = allocs();
    assert_eq!(p.samples.len(), samples);
    let report = heapdoc::analyze::analyze(
        p,
        vec!["synthetic".into()],
        &heapdoc::analyze::AnalyzeOptions::default(),
        &Default::default(),
    )
    .unwrap();
    let a2 = allocs();
    assert!(report.total() > 0);
    (a1 - a0, a2 - a1)
}

#[test]
fn allocations_do_not_grow_with_samples() {
    std::env::set_var("HEAPDOC_THREADS", "2");
    for gzipped in [false, true] {
        check(gzipped);
    }
}

fn check(gzipped: bool) {
    let (decode_small, analyze_small) = count(1_000, gzipped);
    let (decode_big, analyze_big) = count(100_000, gzipped);
    eprintln!(
        "allocations (gzipped: {gzipped}): decode {decode_small} (1k samples) vs {decode_big} \
         (100k samples); analyze {analyze_small} vs {analyze_big}"
    );
    // 100x more samples: each growing column reallocates at most log2(100) ~ 7 more times;
    // 64 is ~10 such vectors. One allocation per sample would be 99,000 more.
    assert!(
        decode_big <= decode_small + 64,
        "decode: {decode_small} allocations for 1k samples, {decode_big} for 100k"
    );
    assert!(
        analyze_big <= analyze_small + 64,
        "analyze: {analyze_small} allocations for 1k samples, {analyze_big} for 100k"
    );
}
