//! The streaming decoder against the buffered one (issue 9 moved framing and sample reading
//! to the inflating thread): the input is gzipped (stored, no compression, so it is fast) and
//! decoded both ways. Both must fail, or both give the same profile.
#![no_main]

use heapdoc::decode::{decode, DecodeOptions};
use libfuzzer_sys::fuzz_target;

/// A gzip member holding `data` in stored deflate blocks (RFC 1951 BTYPE 00).
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];
    let mut chunks = data.chunks(65535).peekable();
    if chunks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xff, 0xff]);
    }
    while let Some(c) = chunks.next() {
        out.push(u8::from(chunks.peek().is_none()));
        let n = c.len() as u16;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(!n).to_le_bytes());
        out.extend_from_slice(c);
    }
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 { (crc >> 1) ^ 0xedb8_8320 } else { crc >> 1 };
        }
    }
    out.extend_from_slice(&(!crc).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fuzz_target!(|data: &[u8]| {
    if data.starts_with(&[0x1f, 0x8b]) {
        return; // already gzip: the buffered decode would inflate it
    }
    let opts = DecodeOptions {
        max_size: 64 << 20,
        ..DecodeOptions::default()
    };
    let buffered = decode(data, &opts);
    let streamed = decode(&gzip_stored(data), &opts);
    match (buffered, streamed) {
        (Ok(b), Ok(s)) => {
            assert_eq!(b.totals(), s.totals());
            assert_eq!(b.samples.len(), s.samples.len());
            assert_eq!(b.samples.stack_count(), s.samples.stack_count());
            let (mut cb, mut cs) = (b.samples.cursor(), s.samples.cursor());
            while let (Some(x), Some(y)) = (cb.next(), cs.next()) {
                assert_eq!(x.values, y.values);
                let sx: Vec<_> = b.samples.stack(x.stack).iter().collect();
                let sy: Vec<_> = s.samples.stack(y.stack).iter().collect();
                assert_eq!(sx, sy);
            }
        }
        (Err(_), Err(_)) => {}
        (b, s) => panic!(
            "buffered ok: {}, streamed ok: {} ({:?} / {:?})",
            b.is_ok(),
            s.is_ok(),
            b.err().map(|e| format!("{e:#}")),
            s.err().map(|e| format!("{e:#}"))
        ),
    }
});
