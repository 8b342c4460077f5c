//! Prints the shape statistics of profiles (issue 9), to fit `heapdoc_synth::Shape`:
//!
//!     cargo run --release --example shape -- /work/shared/corpus/ddgo_big_heap.pb big100.pb.gz
//!
//! With no arguments, prints the statistics of the synthesizer's presets.

use heapdoc::decode::{self, DecodeOptions};
use heapdoc_synth::{Shape, ShapeStats};

fn main() -> anyhow::Result<()> {
    let files: Vec<String> = std::env::args().skip(1).collect();
    let opts = DecodeOptions::default();
    if files.is_empty() {
        for (name, shape) in [
            ("synth ddgo_big_heap", Shape::ddgo_big_heap()),
            ("synth bigheap(2.1M)", Shape::bigheap(2_100_000)),
        ] {
            let raw = heapdoc_synth::synthesize(&shape);
            let p = decode::decode(&raw, &opts)?;
            println!("{name}: {}", ShapeStats::of(&p, raw.len()));
        }
    }
    for f in files {
        let bytes = std::fs::read(&f)?;
        let raw = decode::decompress(&bytes, &opts)?;
        let p = decode::decode(&bytes, &opts)?;
        println!("{f}: {}", ShapeStats::of(&p, raw.len()));
    }
    Ok(())
}
