//! `heapdoc flame` on the real binary (issue 6): every SVG is well-formed XML, hostile function
//! names are escaped, folded stacks keep generic names whole, output is byte-identical across
//! runs, and a failed run leaves no output file.

mod common;

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn heapdoc() -> Command {
    Command::cargo_bin("heapdoc").unwrap()
}

/// Corpus-like inputs present on this machine; each missing one is reported and skipped.
fn real_inputs() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut corpus: Vec<PathBuf> = std::env::var_os("HEAPDOC_CORPUS")
        .map(PathBuf::from)
        .into_iter()
        .collect();
    corpus.push(manifest.join("../shared/corpus"));
    corpus.push(PathBuf::from("/work/shared/corpus"));
    let mut out = Vec::new();
    match corpus
        .iter()
        .map(|d| d.join("ddgo_heap.pb"))
        .find(|p| p.exists())
    {
        Some(p) => out.push(p),
        None => {
            eprintln!("skipping the corpus profile: ddgo_heap.pb not found (set HEAPDOC_CORPUS)")
        }
    }
    let sample = manifest.join("samples/profiles/go1.27/service.allocs.default.pb.gz");
    if sample.exists() {
        out.push(sample);
    } else {
        eprintln!("skipping {}: not present", sample.display());
    }
    out
}

fn parse_xml(svg: &str) {
    let opts = roxmltree::ParsingOptions {
        allow_dtd: true,
        ..Default::default()
    };
    if let Err(e) = roxmltree::Document::parse_with_options(svg, opts) {
        panic!("SVG is not well-formed XML: {e}");
    }
}

fn render(args: &[&str], dir: &Path) -> Vec<u8> {
    let out = dir.join("out.svg");
    heapdoc()
        .arg("flame")
        .args(args)
        .arg("-o")
        .arg(&out)
        .assert()
        .success();
    std::fs::read(&out).unwrap()
}

#[test]
fn real_profiles_give_well_formed_svg() {
    let dir = tempfile::tempdir().unwrap();
    for input in real_inputs() {
        let input = input.to_str().unwrap();
        for extra in [&[][..], &["--lines"], &["--inverted", "--min-width", "0"]] {
            let mut args = extra.to_vec();
            args.push(input);
            let svg = String::from_utf8(render(&args, dir.path())).unwrap();
            parse_xml(&svg);
            assert!(svg.contains("id=\"heapdoc-legend\""), "{input}: no legend");
            assert!(svg.contains("heapdoc: "), "{input}: no title");
            // The root is a caller like any other: neutral, not inferno's palette red.
            let root = svg.find("<title>all (").expect("no root frame");
            let rect = &svg[root..root + svg[root..].find("/>").unwrap()];
            assert!(rect.contains("fill=\"rgb(220,220,220)\""), "{rect}");
        }
    }
}

#[test]
fn same_input_gives_byte_identical_svg() {
    let dir = tempfile::tempdir().unwrap();
    let hostile = dir.path().join("hostile.pb");
    std::fs::write(&hostile, hostile_profile()).unwrap();
    let mut inputs = real_inputs();
    inputs.push(hostile);
    for input in inputs {
        let input = input.to_str().unwrap();
        let a = render(&[input], dir.path());
        let b = render(&[input], dir.path());
        assert!(a == b, "{input}: two runs differ");
    }
}

const HOSTILE: &[&str] = &[
    "main.<script>alert(1)</script>",
    "main.a&b \"quoted\" 'single'",
    "main.\x1b[31mred\x1b[0m",
    "main.Box[go.shape.struct { A int; B string }].Get",
    "main.nul\0byte",
    "main.(*T).method",
];

/// A heap profile whose function names are all hostile, one stack through all of them and one
/// sample per name as the leaf.
fn hostile_profile() -> Vec<u8> {
    common::named_heap_profile(HOSTILE, "main.go", true)
}

#[test]
fn hostile_names_are_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hostile.pb");
    std::fs::write(&input, hostile_profile()).unwrap();
    for extra in [&[][..], &["--lines"], &["--inverted"]] {
        let mut args = extra.to_vec();
        args.push(input.to_str().unwrap());
        let svg = render(&args, dir.path());
        assert!(!svg.contains(&0x1b), "raw ESC in SVG");
        assert!(!svg.contains(&0), "raw NUL in SVG");
        let svg = String::from_utf8(svg).unwrap();
        parse_xml(&svg);
        assert!(!svg.contains("<script>alert"), "raw <script in SVG");
        assert!(svg.contains("&lt;script&gt;alert"), "escaped name missing");
        assert!(svg.contains("main.Box[go.shape.struct { A int∶ B string }].Get"));
    }
}

#[test]
fn folded_keeps_generic_names_whole() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hostile.pb");
    std::fs::write(&input, hostile_profile()).unwrap();
    let out = heapdoc()
        .args(["flame", "--folded"])
        .arg(&input)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8(out).unwrap();
    assert!(!text.contains('\x1b') && !text.contains('\0'));
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), HOSTILE.len() + 1, "{text}");
    // The long stack: one frame per function, root first, leaf carrying its cause.
    let long = lines
        .iter()
        .find(|l| l.matches(';').count() == HOSTILE.len() - 1)
        .unwrap_or_else(|| panic!("no stack with {} frames:\n{text}", HOSTILE.len()));
    let (stack, value) = long.rsplit_once(' ').unwrap();
    assert_eq!(value, "4096");
    let frames: Vec<&str> = stack.split(';').collect();
    assert_eq!(frames[0], "main.(*T).method");
    assert!(frames.contains(&"main.Box[go.shape.struct { A int∶ B string }].Get"));
    assert!(frames[frames.len() - 1].starts_with("main.<script>alert(1)</script> «"));
    assert!(frames.contains(&"main.\\x1b[31mred\\x1b[0m"));
    assert!(frames.contains(&"main.nul\\x00byte"));
}

#[test]
fn failed_run_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.pb");
    std::fs::write(&bad, b"not a profile at all").unwrap();
    let out = dir.path().join("flame.svg");
    heapdoc()
        .arg("flame")
        .arg(&bad)
        .arg("-o")
        .arg(&out)
        .assert()
        .code(2);
    assert!(!out.exists());
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "stray files: {left:?}");
    // A directory that does not exist: an error naming -o, and nothing written.
    let missing = dir.path().join("no/such/dir/flame.svg");
    let good = dir.path().join("good.pb");
    std::fs::write(&good, hostile_profile()).unwrap();
    heapdoc()
        .arg("flame")
        .arg(&good)
        .arg("-o")
        .arg(&missing)
        .assert()
        .code(2)
        .stderr(predicates::str::contains("-o "));
}

#[test]
fn bare_report_still_works() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hostile.pb");
    std::fs::write(&input, hostile_profile()).unwrap();
    heapdoc().arg(&input).assert().success();
}

/// Golden SVGs (inferno's no-javascript output) for each kind of sample profile: heap, allocs
/// and CPU. Re-bless with `HEAPDOC_BLESS=1 cargo test --test flame`.
#[test]
fn golden_svgs_for_the_samples() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for (name, profile) in [
        (
            "flame.json.heap.svg",
            "samples/profiles/go1.27/json.heap.rate1.pb.gz",
        ),
        (
            "flame.service.allocs.svg",
            "samples/profiles/go1.27/service.allocs.default.pb.gz",
        ),
        (
            "flame.service.cpu.svg",
            "samples/profiles/go1.27/service.cpu.window.pb.gz",
        ),
    ] {
        let out = heapdoc()
            .current_dir(root)
            .args(["flame", "--no-javascript", profile])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).unwrap();
        parse_xml(&text);
        // inferno keeps a few variable declarations; the interactive handlers are gone.
        assert!(
            !text.contains("onclick"),
            "{name}: --no-javascript left event handlers"
        );
        common::golden(name, text.as_bytes());
    }
}

/// `heapdoc diff --svg`: a differential flame graph of the samples' service before and after
/// its json fix. The json decode stacks of BASE vanish (drawn under their own root, blue),
/// the struct decode stacks of NEW appear in red (growth), changes within the noise are
/// grey, and the SVG is well-formed XML.
#[test]
fn diff_svg_shows_growth_and_names_vanished_stacks() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let svg_path = dir.path().join("diff.svg");
    let out = heapdoc()
        .current_dir(root)
        .args([
            "diff",
            "samples/profiles/go1.27/service.allocs.rate1.pb.gz",
            "samples/profiles/go1.27/service-fixed.allocs.rate1.pb.gz",
            "--svg",
        ])
        .arg(&svg_path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    parse_xml(&svg);
    let fill_of = |frame: &str| -> Vec<u8> {
        let fill = frame
            .split("fill=\"rgb(")
            .nth(1)
            .unwrap()
            .split(')')
            .next()
            .unwrap();
        fill.split(',').map(|c| c.trim().parse().unwrap()).collect()
    };
    let frames: Vec<&str> = svg.split("<g>").skip(1).collect();
    // decodeIntoMap exists only in BASE: drawn under the vanished root, in blue (issue 18).
    let vanished = frames
        .iter()
        .find(|g| g.starts_with("<title>[vanished: only in BASE] ("))
        .expect("no vanished root");
    let rgb = fill_of(vanished);
    assert!(
        rgb[2] > rgb[0] && rgb[2] > rgb[1],
        "vanished not blue: {vanished}"
    );
    let map = frames
        .iter()
        .find(|g| g.starts_with("<title>main.decodeIntoMap ("))
        .expect("the vanished map decode frame is drawn");
    assert_eq!(fill_of(map), rgb, "{map}");
    // decodeIntoStruct exists only in NEW: a growth frame, drawn red (inferno: rgb(255,...)).
    let frame = frames
        .iter()
        .find(|g| g.contains("main.decodeIntoStruct"))
        .expect("the new struct decode frame is drawn");
    // inferno shades by the change relative to the largest one: a small growth is pale red,
    // never blue.
    let rgb = fill_of(frame);
    assert!(
        rgb[0] >= rgb[2] && rgb[0] >= rgb[1],
        "growth drawn as shrinkage: {frame}"
    );
    // net/http's buffer pool grew +30% (864 KiB -> 1.09 MiB), inside its site's 3σ band of
    // ±756 KiB (the diff calls it unchanged): grey, not red.
    let noise: Vec<&&str> = frames
        .iter()
        .filter(|g| g.starts_with("<title>net/http.init.func2 «unclassified» ("))
        .collect();
    assert!(!noise.is_empty(), "net/http.init.func2 not drawn");
    for g in noise {
        assert!(
            rgb[0] == rgb[1] && rgb[1] == rgb[2],
            "noise drawn colored: {g}"
        );
    }
}
