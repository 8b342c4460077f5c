//! Bytes -> validated Profile: gzip sniffing and inflate, refusal of non-profiles, the
//! hand-written protobuf reader, prost for the small tables, id resolution and
//! `Profile::validate`. Any input must give Ok or Err, never a panic, hang or OOM.
#![no_main]

use heapdoc::decode::{decode, DecodeOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // A smaller cap than the CLI's 2 GiB keeps gzip bombs within libFuzzer's RSS limit
    // while still exercising the cap.
    let opts = DecodeOptions {
        max_size: 64 << 20,
        ..DecodeOptions::default()
    };
    if let Ok(p) = decode(data, &opts) {
        // Decoders promise a validated profile.
        p.validate()
            .expect("decode returned a profile that fails validate()");
        let _ = p.totals();
        let _ = p.kind();
    }
});
