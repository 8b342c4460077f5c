//! Per-stage throughput on one large Go heap profile, next to the speed limit (issue 9):
//! `baseline/gunzip` (decompression alone) and `baseline/gunzip+walk` (decompression plus one
//! pass over the protobuf wire format that reads every sample varint, see
//! `decode::proto::walk`). All throughputs are in uncompressed profile bytes, so the ratio of
//! `end-to-end/report` to `baseline/gunzip+walk` is the distance to the limit.
//!
//! Input: `HEAPDOC_BENCH_PROFILE=path` (e.g. a profile from `scripts/gen-large-profile.sh`), or
//! else a synthetic profile shaped like samples/src/bigheap's (`heapdoc_synth`) with
//! `HEAPDOC_BENCH_SAMPLES` samples (default 200000, ~16 MB uncompressed).
//!
//!     cargo bench --bench pipeline
//!     HEAPDOC_BENCH_PROFILE=/tmp/big100.pb.gz cargo bench --bench pipeline

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

use heapdoc::decode::{self, proto, DecodeOptions};
use heapdoc::render::flame::{self, FlameOptions};
use heapdoc::render::{self, Format};

fn input() -> (String, Vec<u8>) {
    if let Some(path) = std::env::var_os("HEAPDOC_BENCH_PROFILE") {
        let path = path.to_string_lossy().into_owned();
        let bytes = std::fs::read(&path).expect("HEAPDOC_BENCH_PROFILE is not readable");
        return (path, bytes);
    }
    let samples = std::env::var("HEAPDOC_BENCH_SAMPLES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200_000);
    let raw = heapdoc_synth::synthesize(&heapdoc_synth::Shape::bigheap(samples));
    (
        format!("synthetic bigheap({samples})"),
        heapdoc_synth::gzip(&raw),
    )
}

fn bench(c: &mut Criterion) {
    let (name, gz) = input();
    let opts = DecodeOptions::default();
    let raw = decode::decompress(&gz, &opts).unwrap().into_owned();
    let profile = decode::decode(&gz, &opts).unwrap();
    eprintln!(
        "input: {name}: {} bytes gzipped, {} bytes uncompressed, {}",
        gz.len(),
        raw.len(),
        heapdoc_synth::ShapeStats::of(&profile, raw.len())
    );
    let analyze_opts = heapdoc::analyze::AnalyzeOptions::default();
    let report = heapdoc::analyze::analyze(
        profile.clone(),
        vec![name.clone()],
        &analyze_opts,
        &Default::default(),
    )
    .unwrap();
    let flame_opts = FlameOptions::default();

    let mut g = c.benchmark_group("pipeline");
    g.throughput(Throughput::Bytes(raw.len() as u64));
    g.sample_size(10);
    g.warm_up_time(Duration::from_secs(1));
    g.measurement_time(Duration::from_secs(5));

    g.bench_function("baseline/gunzip", |b| {
        b.iter(|| decode::decompress(&gz, &opts).unwrap().len())
    });
    g.bench_function("baseline/gunzip+walk", |b| {
        b.iter(|| proto::walk(&decode::decompress(&gz, &opts).unwrap()).unwrap())
    });
    g.bench_function("stage/decode", |b| {
        b.iter(|| decode::decode(&raw, &opts).unwrap().samples.len())
    });
    g.bench_function("stage/gunzip+decode", |b| {
        b.iter(|| decode::decode(&gz, &opts).unwrap().samples.len())
    });
    g.bench_function("stage/attribute+classify", |b| {
        b.iter_batched(
            || profile.clone(),
            |p| {
                heapdoc::analyze::analyze(p, vec![name.clone()], &analyze_opts, &Default::default())
                    .unwrap()
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("stage/report-text", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            render::render(&report, Format::Text, Default::default(), &mut out).unwrap();
            out.len()
        })
    });
    g.bench_function("stage/flame-folded", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            flame::write_folded(&report, &flame_opts, &mut out).unwrap();
            out.len()
        })
    });
    g.bench_function("stage/flame-svg", |b| {
        b.iter(|| {
            let mut out = Vec::new();
            flame::write_svg(&report, &flame_opts, &mut out).unwrap();
            out.len()
        })
    });
    let end_to_end_report = || {
        let p = decode::decode(&gz, &opts).unwrap();
        let r =
            heapdoc::analyze::analyze(p, vec![name.clone()], &analyze_opts, &Default::default())
                .unwrap();
        let mut out = Vec::new();
        render::render(&r, Format::Text, Default::default(), &mut out).unwrap();
        out.len()
    };
    let end_to_end_flame = || {
        let p = decode::decode(&gz, &opts).unwrap();
        let r =
            heapdoc::analyze::analyze(p, vec![name.clone()], &analyze_opts, &Default::default())
                .unwrap();
        let mut out = Vec::new();
        flame::write_svg(&r, &flame_opts, &mut out).unwrap();
        out.len()
    };
    let baseline = || proto::walk(&decode::decompress(&gz, &opts).unwrap()).unwrap();
    g.bench_function("end-to-end/report", |b| b.iter(end_to_end_report));
    g.bench_function("end-to-end/flame", |b| b.iter(end_to_end_flame));
    g.finish();

    // The ratios issue 9 asks for, from one alternating run (medians of 5).
    let median = |f: &dyn Fn() -> u64| {
        let mut t: Vec<f64> = (0..5)
            .map(|_| {
                let start = std::time::Instant::now();
                std::hint::black_box(f());
                start.elapsed().as_secs_f64()
            })
            .collect();
        t.sort_by(f64::total_cmp);
        t[2]
    };
    let (mut base, mut rep, mut fl) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        base.push(median(&|| baseline()));
        rep.push(median(&|| end_to_end_report() as u64));
        fl.push(median(&|| end_to_end_flame() as u64));
    }
    let mid = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (base, rep, fl) = (mid(&mut base), mid(&mut rep), mid(&mut fl));
    eprintln!(
        "ratios: baseline/gunzip+walk {:.3} s; end-to-end/report {:.3} s = {:.2}x the baseline; \
         end-to-end/flame {:.3} s = {:.2}x the report",
        base,
        rep,
        rep / base,
        fl,
        fl / rep
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
