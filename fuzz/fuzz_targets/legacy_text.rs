//! Go's legacy text heap and goroutine formats, parsed directly (no sniffing), so every
//! mutation reaches the parser.
#![no_main]

use heapdoc::decode::{legacy, Limits};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = legacy::parse(data, &Limits::default()) {
        p.validate()
            .expect("legacy::parse returned a profile that fails validate()");
    }
});
