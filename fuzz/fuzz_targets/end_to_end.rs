//! decode -> analyze -> render, as the binary runs it, in text and JSON at both
//! granularities, plus merging the profile with itself (as `heapdoc a b` does). Checks the
//! output contracts: text has no raw control characters (issue 10), JSON parses, and
//! rendering is deterministic.
#![no_main]

use heapdoc::analyze::attribute::Granularity;
use heapdoc::decode::{decode, DecodeOptions};
use heapdoc::model::{merge, Profile};
use heapdoc::render::{render, Format};
use heapdoc::analyze::AnalyzeOptions;
use libfuzzer_sys::fuzz_target;

fn check(profile: &Profile, sample_index: Option<String>, granularity: Granularity) {
    let analyze = AnalyzeOptions {
        sample_index,
        granularity,
        top: 0,
        ..AnalyzeOptions::default()
    };
    let Ok(report) = heapdoc::analyze::analyze(profile.clone(), vec!["fuzz".into()], &analyze, &Default::default()) else {
        return;
    };
    let mut text = Vec::new();
    render(&report, Format::Text, Default::default(), &mut text).expect("text render failed");
    let text = String::from_utf8(text).expect("text output is not UTF-8");
    if let Some(c) = text.chars().find(|&c| c.is_control() && c != '\n') {
        panic!("raw control character {c:?} in text output");
    }
    let mut json = Vec::new();
    render(&report, Format::Json, Default::default(), &mut json).expect("json render failed");
    let doc: heapdoc::render::json::JsonReport =
        serde_json::from_slice(&json).expect("json output does not parse");
    assert_eq!(doc.sites.len(), report.top.len());
    let mut again = Vec::new();
    render(&report, Format::Json, Default::default(), &mut again).expect("json render failed");
    assert_eq!(json, again, "json render is not deterministic");
}

fuzz_target!(|data: &[u8]| {
    let opts = DecodeOptions {
        max_size: 64 << 20,
        ..DecodeOptions::default()
    };
    let Ok(profile) = decode(data, &opts) else {
        return;
    };
    check(&profile, None, Granularity::Lines);
    check(&profile, None, Granularity::Functions);
    // A sample type other than the default, chosen by the input (pprof's numeric form).
    let n = profile.sample_types.len();
    if n > 1 {
        check(
            &profile,
            Some((data.len() % n).to_string()),
            Granularity::Lines,
        );
    }
    // Merging may refuse (sums that overflow 64 bits) but must not panic, and what it
    // returns is validated.
    if let Ok(merged) = merge(vec![profile.clone(), profile]) {
        merged
            .validate()
            .expect("merge returned an invalid profile");
        check(&merged, None, Granularity::Lines);
    }
});
