//! The streaming decoder (gzip input: inflated and framed on one thread, stored on another)
//! and the buffered one (a whole uncompressed buffer, two passes) must agree: on every
//! committed sample profile and every corpus profile, and on damaged copies of real profiles,
//! where both must fail or both give the same profile (issue 9 moved most of the streaming
//! decoder to a second thread; issue 10 asks that bad input never yields a wrong number).

mod common;

use std::path::{Path, PathBuf};

use heapdoc::decode::{decode, decompress, DecodeOptions};
use heapdoc::model::Profile;

/// Everything both decoders must agree on, sample by sample.
fn dump(p: &Profile) -> String {
    let mut out = format!(
        "types {:?} period {} time {} duration {} totals {:?} locations {} functions {}\n",
        (0..p.sample_types.len())
            .map(|i| (p.sample_type_name(i), p.sample_type_unit(i)))
            .collect::<Vec<_>>(),
        p.period,
        p.time_nanos,
        p.duration_nanos,
        p.totals(),
        p.locations.len(),
        p.functions.len(),
    );
    let mut c = p.samples.cursor();
    while let Some(s) = c.next() {
        let stack: Vec<u32> = p.samples.stack(s.stack).iter().map(|l| l.0).collect();
        let labels: Vec<String> = p
            .samples
            .labels(s.labels)
            .iter()
            .map(|l| format!("{}={}{}", p.str(l.key), p.str(l.str), l.num))
            .collect();
        out.push_str(&format!("{stack:?} {:?} {labels:?}\n", s.values));
    }
    out
}

/// Decodes `raw` (uncompressed) whole and as a gzip stream; both must fail or agree.
fn agree(name: &str, raw: &[u8]) -> bool {
    let opts = DecodeOptions::default();
    let buffered = decode(raw, &opts);
    let streamed = decode(&common::gzip(raw), &opts);
    match (&buffered, &streamed) {
        (Ok(b), Ok(s)) => {
            assert_eq!(dump(b), dump(s), "{name}: the two decoders disagree");
            true
        }
        (Err(_), Err(_)) => false,
        (b, s) => panic!(
            "{name}: buffered {:?}, streamed {:?}",
            b.as_ref().map(|_| "ok").map_err(|e| format!("{e:#}")),
            s.as_ref().map(|_| "ok").map_err(|e| format!("{e:#}"))
        ),
    }
}

fn profiles() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in [
        root.join("samples/profiles/go1.27"),
        root.join("samples/profiles/go1.19"),
    ] {
        for e in std::fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            if path.to_string_lossy().ends_with(".pb.gz") {
                files.push(path);
            }
        }
    }
    let corpus = std::env::var_os("HEAPDOC_CORPUS")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/corpus"));
    if let Ok(entries) = std::fs::read_dir(&corpus) {
        for e in entries {
            let path = e.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().to_string();
            if !name.starts_with("MANIFEST") && path.is_file() {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn streaming_and_buffered_decoders_agree_on_real_profiles() {
    let mut ok = 0;
    for path in profiles() {
        let bytes = std::fs::read(&path).unwrap();
        let Ok(raw) = decompress(&bytes, &DecodeOptions::default()) else {
            continue;
        };
        if agree(&path.display().to_string(), &raw) {
            ok += 1;
        }
    }
    assert!(ok >= 40, "only {ok} profiles decoded");
}

#[test]
fn streaming_and_buffered_decoders_agree_on_damaged_profiles() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut rnd = heapdoc_synth::rng(0x9e37_79b9_7f4a_7c15);
    let (mut decoded, mut failed) = (0, 0);
    for rel in [
        "samples/profiles/go1.27/json.allocs.rate1.pb.gz",
        "samples/profiles/go1.27/service.cpu.window.pb.gz",
        "samples/profiles/go1.19/fmt.heap.rate1.pb.gz",
    ] {
        let gz = std::fs::read(root.join(rel)).unwrap();
        let raw = decompress(&gz, &DecodeOptions::default())
            .unwrap()
            .into_owned();
        for _ in 0..300 {
            let mut bad = raw.clone();
            match rnd(3) {
                // Flip a few bytes.
                0 => {
                    for _ in 0..1 + rnd(3) {
                        let i = rnd(bad.len() as u64) as usize;
                        bad[i] ^= 1 << rnd(8);
                    }
                }
                // Cut the end off.
                1 => bad.truncate(rnd(bad.len() as u64) as usize),
                // Set a byte to a varint continuation or to zero.
                _ => {
                    let i = rnd(bad.len() as u64) as usize;
                    bad[i] = if rnd(2) == 0 { 0x80 } else { 0 };
                }
            }
            if agree(rel, &bad) {
                decoded += 1;
            } else {
                failed += 1;
            }
        }
    }
    // Both outcomes must be exercised for the comparison to mean anything.
    assert!(
        decoded > 50 && failed > 50,
        "{decoded} decoded, {failed} failed"
    );
}
