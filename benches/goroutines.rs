//! Grouping a large goroutine dump (issue 19): parse debug=2 text from a file while reading
//! it, group and classify. The issue asks for a 1,000,000-goroutine dump in under 2 s with
//! peak memory under twice its size (RSS is measured outside criterion, with
//! `/usr/bin/time -v heapdoc goroutines DUMP`).
//!
//! Input: `HEAPDOC_GOROUTINE_DUMP=path` (e.g. from `scripts/gen-goroutine-dump.py 1000000
//! /tmp/g1m.txt`), or else a dump of `HEAPDOC_GOROUTINES` goroutines (default 100000) made here
//! from the stacks of samples/goroutines/t2.debug2.txt with varying ids, arguments and waits.
//!
//!     cargo bench --bench goroutines
//!     HEAPDOC_GOROUTINE_DUMP=/tmp/g1m.txt cargo bench --bench goroutines

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

use heapdoc::analyze::goroutines::{analyze, GoroutineOptions, GoroutineRules};
use heapdoc::decode::DecodeOptions;
use heapdoc::source::dump::load_dump;
use heapdoc::source::http::FetchOptions;

fn input() -> (PathBuf, Option<tempfile::TempDir>) {
    if let Some(p) = std::env::var_os("HEAPDOC_GOROUTINE_DUMP") {
        return (PathBuf::from(p), None);
    }
    let n: u64 = std::env::var("HEAPDOC_GOROUTINES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(100_000);
    let sample = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples/goroutines/t2.debug2.txt"),
    )
    .unwrap();
    let blocks: Vec<(String, Vec<&str>)> = sample
        .trim()
        .split("\n\n")
        .filter_map(|b| {
            let mut lines = b.lines();
            let h = lines.next()?;
            let state = h.split_once('[')?.1.split([',', ']']).next()?.to_string();
            Some((state, lines.collect()))
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dump.txt");
    let mut w = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut x: u64 = 19;
    for id in 1..=n {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let (state, lines) = &blocks[(x >> 33) as usize % blocks.len()];
        let wait = [0, 0, 3, 17, 240][(x >> 20) as usize % 5];
        if wait > 0 {
            writeln!(w, "goroutine {id} [{state}, {wait} minutes]:").unwrap();
        } else {
            writeln!(w, "goroutine {id} [{state}]:").unwrap();
        }
        for l in lines {
            if l.starts_with('\t') || l.starts_with("created by") {
                writeln!(w, "{l}").unwrap();
            } else {
                let f = l.rsplit_once('(').map_or(*l, |p| p.0);
                writeln!(w, "{f}(0x{:x}, 0x{:x})", x >> 24, id).unwrap();
            }
        }
        writeln!(w).unwrap();
    }
    w.flush().unwrap();
    (path, Some(dir))
}

fn bench(c: &mut Criterion) {
    let (path, _keep) = input();
    let size = std::fs::metadata(&path).unwrap().len();
    let spec = path.to_str().unwrap().to_string();
    let rules = GoroutineRules::builtin();
    let mut g = c.benchmark_group("goroutines");
    g.sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Bytes(size));
    g.bench_function("load+group", |b| {
        b.iter(|| {
            let (name, d) =
                load_dump(&spec, &DecodeOptions::default(), &FetchOptions::default()).unwrap();
            analyze(&name, &d, None, &rules, &GoroutineOptions::default())
                .unwrap()
                .groups
                .len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
