//! Hostile input, round two (issue 16): names that break SVG, disguise themselves or become
//! live links. Findings 11 and 13 of the campaign report (`../shared/reviews/hostile-2026-12.md`):
//! U+FFFE/U+FFFF made the flame graphs not well-formed XML; bidi controls passed through in
//! Markdown, SVG and folded output; URLs in names became links on GitHub.

mod common;

use std::path::Path;

use common::{encode, heapdoc, run_ok};
use heapdoc::pb;

/// Function names of the crafted profile, one allocating site each.
const NAMES: &[&str] = &[
    "main.FFFF\u{ffff}",
    "main.FFFE\u{fffe}",
    "main.handler see https://evil.com/login?x=1 now",
    "main.visit www.evil.com today",
    "main.\u{202e}gnp.exe",
    "main.iso\u{2067}late\u{2069}",
    "main.mark\u{200f}rlm",
    "main.<http://evil.example/auto>",
    "main.![img](http://evil.example/x.png)",
    "main.mail alice@evil.com",
    "main.ftp ftp://evil.example/f",
    // Finding 13 (cosmetic): only spaces, which after a list marker made an indented code block.
    "      ",
];

/// A heap profile with one function per name, each allocating on its own line.
fn profile() -> Vec<u8> {
    let mut strings: Vec<String> = ["", "alloc_objects", "count", "alloc_space", "bytes"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    strings.push("/src/\u{202e}evil.go".to_string());
    let file = (strings.len() - 1) as i64;
    let mut p = pb::Profile {
        sample_type: vec![
            pb::ValueType { r#type: 1, unit: 2 },
            pb::ValueType { r#type: 3, unit: 4 },
        ],
        period_type: Some(pb::ValueType { r#type: 3, unit: 4 }),
        period: 1,
        ..Default::default()
    };
    for (k, name) in NAMES.iter().enumerate() {
        strings.push(name.to_string());
        let id = k as u64 + 1;
        p.function.push(pb::Function {
            id,
            name: (strings.len() - 1) as i64,
            system_name: (strings.len() - 1) as i64,
            filename: file,
            start_line: 1,
        });
        p.location.push(pb::Location {
            id,
            address: 0x1000 * id,
            line: vec![pb::Line {
                function_id: id,
                line: 10 + k as i64,
                column: 0,
            }],
            ..Default::default()
        });
        p.sample.push(pb::Sample {
            location_id: vec![id],
            value: vec![1, 4096 * (k as i64 + 1)],
            label: vec![],
        });
    }
    p.string_table = strings;
    encode(&p)
}

fn write_profile(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("esc.pb");
    std::fs::write(&path, profile()).unwrap();
    path
}

fn has_bidi(s: &str) -> bool {
    s.chars().any(heapdoc::render::escape::is_bidi)
}

fn assert_well_formed_svg(svg: &str, what: &str) {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    if let Err(e) = roxmltree::Document::parse_with_options(svg, opts) {
        panic!("{what}: not well-formed XML: {e}");
    }
    assert!(!svg.contains(['\u{fffe}', '\u{ffff}']), "{what}");
    assert!(!has_bidi(svg), "{what}: raw bidi control");
    // The names are there, escaped.
    assert!(svg.contains(r"main.FFFF\u{ffff}"), "{what}");
    assert!(svg.contains(r"main.\u{202e}gnp.exe"), "{what}");
}

/// Finding 11 (and 13 for SVG): flame, flame --lines and diff --svg are well-formed XML with
/// no XML-invalid code point or bidi control.
#[test]
fn svg_outputs_are_well_formed_and_bidi_free() {
    let dir = tempfile::tempdir().unwrap();
    let prof = write_profile(dir.path());
    let flame = run_ok([Path::new("flame").as_os_str(), prof.as_os_str()]);
    assert_well_formed_svg(&String::from_utf8(flame).unwrap(), "flame");
    let lines = run_ok([
        Path::new("flame").as_os_str(),
        "--lines".as_ref(),
        prof.as_os_str(),
    ]);
    assert_well_formed_svg(&String::from_utf8(lines).unwrap(), "flame --lines");
    let svg = dir.path().join("d.svg");
    heapdoc()
        .args([
            "diff".as_ref(),
            prof.as_os_str(),
            prof.as_os_str(),
            "--svg".as_ref(),
        ])
        .arg(&svg)
        .assert()
        .success();
    let d = std::fs::read_to_string(&svg).unwrap();
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    roxmltree::Document::parse_with_options(&d, opts).unwrap();
    assert!(!d.contains(['\u{fffe}', '\u{ffff}']) && !has_bidi(&d));
}

/// Finding 13: the folded output has no raw bidi control or XML-invalid code point.
#[test]
fn folded_output_is_bidi_free() {
    let dir = tempfile::tempdir().unwrap();
    let prof = write_profile(dir.path());
    let out = run_ok([
        Path::new("flame").as_os_str(),
        "--folded".as_ref(),
        prof.as_os_str(),
    ]);
    let out = String::from_utf8(out).unwrap();
    assert!(!has_bidi(&out), "{out}");
    assert!(!out.contains(['\u{fffe}', '\u{ffff}']), "{out}");
    assert!(out.contains(r"main.\u{202e}gnp.exe"), "{out}");
}

/// Finding 13: in Markdown no URL, `www.` or email address can be autolinked by GFM (its
/// trigger sequences `://`, `www.`, `@` are broken by a backslash escape, which renders as the
/// character itself), and no bidi control or XML-invalid code point is raw.
#[test]
fn markdown_has_no_autolinks_or_bidi() {
    let dir = tempfile::tempdir().unwrap();
    let prof = write_profile(dir.path());
    let out = run_ok([
        prof.as_os_str(),
        "--format".as_ref(),
        "markdown".as_ref(),
        "--top".as_ref(),
        "0".as_ref(),
    ]);
    let md = String::from_utf8(out).unwrap();
    let lower = md.to_ascii_lowercase();
    // Every `://` is `\://`.
    assert!(lower.contains("https\\://evil.com"), "{md}");
    assert!(
        lower
            .match_indices("://")
            .all(|(i, _)| lower[..i].ends_with('\\')),
        "{md}"
    );
    assert!(!lower.contains("www."), "{md}");
    assert!(
        md.match_indices('@').all(|(i, _)| md[..i].ends_with('\\')),
        "{md}"
    );
    assert!(!has_bidi(&md), "{md}");
    assert!(!md.contains(['\u{fffe}', '\u{ffff}']), "{md}");
    // Rendered, the text reads as the name (copy-paste keeps the URL) and holds no link.
    let mut html = String::new();
    pulldown_cmark::html::push_html(
        &mut html,
        pulldown_cmark::Parser::new_ext(&md, pulldown_cmark::Options::ENABLE_TABLES),
    );
    assert!(html.contains("https://evil.com/login?x=1"), "{html}");
    assert!(html.contains("www.evil.com"), "{html}");
    assert!(html.contains("alice@evil.com"), "{html}");
    assert!(!html.contains("<a "), "{html}");
    assert!(!html.contains("<img"), "{html}");
    // A name of spaces stays text: no indented code block, no code span.
    assert!(!html.contains("<pre") && !html.contains("<code"), "{html}");
}
