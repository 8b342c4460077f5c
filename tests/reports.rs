//! Reports for reviews and machines (issue 8): golden text, JSON and Markdown reports and
//! diffs on the real samples, the JSON wire types with unknown fields denied, Markdown read
//! back with a real parser, the diff of the service and its fixed variant, and the CI gate's
//! exit codes on the real binary.
//!
//! `HEAPDOC_BLESS=1 cargo test --test reports` rewrites the golden files.

mod common;

use assert_cmd::Command;
use heapdoc::render::json::{JsonDiff, JsonReport};
use heapdoc::render::{Format, RenderOptions};
use predicates::prelude::PredicateBooleanExt;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

const PROFILES: &str = "samples/profiles/go1.27";

fn heapdoc() -> Command {
    Command::cargo_bin("heapdoc").unwrap()
}

fn sample(name: &str) -> String {
    format!("{PROFILES}/{name}")
}

fn report(inputs: &[String]) -> heapdoc::analyze::Report {
    let (p, names) =
        heapdoc::source::load(inputs, &Default::default(), &Default::default()).unwrap();
    heapdoc::analyze::analyze(
        p,
        names,
        &heapdoc::analyze::AnalyzeOptions::default(),
        &Default::default(),
    )
    .unwrap()
}

fn render(r: &heapdoc::analyze::Report, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    heapdoc::render::render(r, format, Default::default(), &mut out).unwrap();
    out
}

fn diff(base: &str, new: &str) -> heapdoc::analyze::diff::Diff {
    let (b, n) = (report(&[sample(base)]), report(&[sample(new)]));
    heapdoc::analyze::diff::diff(&b, &n, &Default::default()).unwrap()
}

fn render_diff(d: &heapdoc::analyze::diff::Diff, format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    heapdoc::render::render_diff(d, format, RenderOptions::default(), &mut out).unwrap();
    out
}

const FORMATS: [(Format, &str); 3] = [
    (Format::Text, "txt"),
    (Format::Json, "json"),
    (Format::Markdown, "md"),
];

const GOLDEN_SAMPLES: [&str; 2] = ["service.allocs.default.pb.gz", "json.heap.rate1.pb.gz"];

#[test]
fn golden_reports() {
    for name in GOLDEN_SAMPLES {
        let r = report(&[sample(name)]);
        for (format, ext) in FORMATS {
            let out = render(&r, format);
            // A second analysis of the same input renders the same bytes.
            let again = render(&report(&[sample(name)]), format);
            assert!(out == again, "{name} {ext}: two runs differ");
            common::golden(&format!("{name}.{ext}"), &out);
        }
    }
}

#[test]
fn golden_diffs() {
    let d = diff(
        "service.allocs.rate1.pb.gz",
        "service-fixed.allocs.rate1.pb.gz",
    );
    for (format, ext) in FORMATS {
        let out = render_diff(&d, format);
        let again = render_diff(
            &diff(
                "service.allocs.rate1.pb.gz",
                "service-fixed.allocs.rate1.pb.gz",
            ),
            format,
        );
        assert!(out == again, "diff {ext}: two runs differ");
        common::golden(&format!("service.rate1.diff.{ext}"), &out);
    }
}

#[test]
fn json_documents_have_only_known_fields() {
    for name in GOLDEN_SAMPLES {
        let out = render(&report(&[sample(name)]), Format::Json);
        let doc: JsonReport = serde_json::from_slice(&out).unwrap();
        assert_eq!(doc.schema_version, 1);
        assert!(!doc.causes.is_empty() && !doc.sites.is_empty(), "{name}");
    }
    let d = diff(
        "service.allocs.rate1.pb.gz",
        "service-fixed.allocs.rate1.pb.gz",
    );
    let doc: JsonDiff = serde_json::from_slice(&render_diff(&d, Format::Json)).unwrap();
    assert_eq!(doc.schema_version, 1);
    assert_eq!(doc.document, "diff");
    assert_eq!(doc.sites.len(), d.sites.len());
    // An unknown field is refused, so the test above means something.
    let mut v: serde_json::Value = serde_json::from_slice(&render_diff(&d, Format::Json)).unwrap();
    v["total"]["surprise"] = 1.into();
    assert!(serde_json::from_value::<JsonDiff>(v).is_err());
}

/// The diff of the service and its fixed variant (samples/manifest.json `service.diff`:
/// they differ in the json cause only). At rate 1 every allocation is recorded: json's drop
/// is reported and nothing else beyond the noise.
#[test]
fn service_diff_reports_the_json_cause_only() {
    let d = diff(
        "service.allocs.rate1.pb.gz",
        "service-fixed.allocs.rate1.pb.gz",
    );
    let json = d.causes.iter().find(|c| c.cause == "json").unwrap();
    assert_eq!(
        json.status,
        heapdoc::analyze::diff::Status::Improved,
        "{json:?}"
    );
    assert!(json.delta.relative.unwrap() < -0.4, "{json:?}");
    for c in &d.causes {
        if c.cause != "json" {
            assert_eq!(
                c.status,
                heapdoc::analyze::diff::Status::Unchanged,
                "spurious change: {c:?}"
            );
        }
    }
    assert!(!d.total.significant, "{:?}", d.total);
    // The map decoding site is the one that shrank most.
    let top = &d.sites[0];
    assert_eq!(
        (top.function.as_str(), top.cause.as_str()),
        ("reflect.mapassign_faststr0", "json")
    );
    // The other way round, json is the one regression.
    let d = diff(
        "service-fixed.allocs.rate1.pb.gz",
        "service.allocs.rate1.pb.gz",
    );
    let regressed: Vec<_> = d
        .causes
        .iter()
        .filter(|c| c.status == heapdoc::analyze::diff::Status::Regressed)
        .map(|c| c.cause.as_str())
        .collect();
    assert_eq!(regressed, ["json"]);
}

/// At the default rate (512 KiB) json is a few samples in each profile: its change is inside
/// the sampling error, and so is every other cause: nothing is reported.
#[test]
fn default_rate_diff_reports_no_noise() {
    let d = diff(
        "service.allocs.default.pb.gz",
        "service-fixed.allocs.default.pb.gz",
    );
    for c in &d.causes {
        assert_eq!(c.status, heapdoc::analyze::diff::Status::Unchanged, "{c:?}");
    }
    assert!(d.sites.iter().all(|s| !s.delta.significant));
}

#[test]
fn same_profile_diff_is_all_unchanged() {
    let d = diff("service.allocs.rate1.pb.gz", "service.allocs.rate1.pb.gz");
    assert!(d.causes.iter().all(|c| c.delta.delta == 0.0));
    assert!(d.sites.iter().all(|s| !s.delta.significant));
}

const HOSTILE: &[&str] = &[
    "main.<script>alert(1)</script>",
    "main.pipe|in|name",
    "main.`backticks`",
    "main.a&amp;b *star* _under_ [link](x)",
    "main.multi\nline",
    "main.Box[go.shape.struct { A int; B string }].Get",
];

/// A heap profile whose function and file names are hostile.
fn hostile_profile() -> Vec<u8> {
    common::named_heap_profile(HOSTILE, "dir|x/`a`<b>.go", false)
}

/// Each table's header cell count and the cell count of every row, and the rendered HTML.
fn parse_markdown(md: &str) -> (Vec<(usize, Vec<usize>)>, String) {
    let opts = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    let mut tables = Vec::new();
    let (mut in_head, mut cells) = (false, 0);
    for ev in Parser::new_ext(md, opts) {
        match ev {
            Event::Start(Tag::Table(_)) => tables.push((0, Vec::new())),
            Event::Start(Tag::TableHead) => {
                in_head = true;
                cells = 0;
            }
            Event::End(TagEnd::TableHead) => {
                in_head = false;
                tables.last_mut().unwrap().0 = cells;
                cells = 0;
            }
            Event::Start(Tag::TableRow) => cells = 0,
            Event::End(TagEnd::TableRow) if !in_head => tables.last_mut().unwrap().1.push(cells),
            Event::Start(Tag::TableCell) => cells += 1,
            _ => {}
        }
    }
    let mut html = String::new();
    pulldown_cmark::html::push_html(&mut html, Parser::new_ext(md, opts));
    (tables, html)
}

#[test]
fn markdown_tables_parse_with_the_right_shape() {
    let r = report(&[sample("service.allocs.default.pb.gz")]);
    let md = String::from_utf8(render(&r, Format::Markdown)).unwrap();
    let (tables, html) = parse_markdown(&md);
    assert_eq!(tables.len(), 3, "{md}");
    // Your code first (issue 18), then the causes and the library sites.
    let own = r.own.as_ref().unwrap().lines.len();
    assert_eq!(tables[0], (6, vec![6; own]));
    let causes = r.classification.cause_order().len();
    assert_eq!(tables[1], (5, vec![5; causes]));
    assert_eq!(tables[2], (6, vec![6; r.top.len()]));
    assert!(html.contains("<details>") && html.contains("<summary>Evidence per site</summary>"));
    assert!(html.contains(">compression</td>"), "{html}");
}

/// "Your code" (issue 18) on the real service profile: its own lines lead, each with what is
/// allocated below it; the gzip line carries flate's allocations, the map decode line json's
/// (reflect under json.Unmarshal); the lines add up to what has an own frame, each sample once.
#[test]
fn your_code_leads_with_the_engineers_lines() {
    let name = sample("service.allocs.default.pb.gz");
    let v = common::json_ok(["--format", "json", "--top", "0", name.as_str()]);
    let own = &v["your_code"];
    let lines = own["lines"].as_array().unwrap();
    assert_eq!(lines.len() as u64, own["line_count"].as_u64().unwrap());
    let sum: i64 = lines.iter().map(|l| l["value"].as_i64().unwrap()).sum();
    assert_eq!(sum, own["total"].as_i64().unwrap());
    assert!(own["total"].as_i64().unwrap() <= v["total"].as_i64().unwrap());
    for l in lines {
        assert!(l["function"].as_str().unwrap().starts_with("main."), "{l}");
        let causes: i64 = l["causes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["value"].as_i64().unwrap())
            .sum();
        assert_eq!(causes, l["value"].as_i64().unwrap(), "{l}");
    }
    let top = &lines[0];
    assert_eq!(
        (top["function"].as_str(), top["line"].as_i64()),
        (Some("main.compressResponse"), Some(165))
    );
    assert_eq!(top["causes"][0]["cause"], "compression");
    assert_eq!(
        top["allocated_in"][0]["function"],
        "compress/flate.newFastEnc"
    );
    let json = lines
        .iter()
        .find(|l| l["function"] == "main.decodeIntoMap")
        .unwrap();
    assert_eq!(json["causes"][0]["cause"], "json");
    assert!(json["allocated_in"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["function"] == "reflect.mapassign_faststr0"));
    // The gzip line's value is that line's cum in `heapdoc list` (nothing of the engineer's
    // is called below it): two computations, one number.
    let list = String::from_utf8(common::run_ok([
        "list",
        "^main\\.compressResponse$",
        name.as_str(),
    ]))
    .unwrap();
    let row = list
        .lines()
        .find(|l| l.contains(" 165: "))
        .expect("line 165 listed");
    let cum = row.split_whitespace().nth(1).unwrap().to_string()
        + " "
        + row.split_whitespace().nth(2).unwrap();
    let text = String::from_utf8(common::run_ok([name.as_str()])).unwrap();
    let first = text
        .lines()
        .skip_while(|l| !l.starts_with("Your code"))
        .nth(2)
        .unwrap();
    assert!(
        first.trim_start().starts_with(&cum)
            && first.ends_with("main.compressResponse heapdoc.dev/samples/service/main.go:165"),
        "{first} / {row}"
    );
}

#[test]
fn hostile_names_stay_inside_their_cells() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("hostile|<script>.pb");
    std::fs::write(&input, hostile_profile()).unwrap();
    let r = report(&[input.display().to_string()]);
    let md = String::from_utf8(render(&r, Format::Markdown)).unwrap();
    let (tables, html) = parse_markdown(&md);
    let sites = tables.last().unwrap();
    assert_eq!(*sites, (6, vec![6; HOSTILE.len()]), "{md}");
    assert!(!html.contains("<script"), "raw <script in {html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    // Each name comes back as its text: a cell holds the function name, escapes undone.
    for name in HOSTILE {
        let text = name.replace('\n', " ");
        let escaped = pulldown_cmark_escape_text(&text);
        assert!(html.contains(&escaped), "{text:?} not in {html}");
    }
    // The diff of the profile with itself renders safely too.
    let d = heapdoc::analyze::diff::diff(
        &r,
        &report(&[input.display().to_string()]),
        &Default::default(),
    )
    .unwrap();
    let md = String::from_utf8(render_diff(&d, Format::Markdown)).unwrap();
    let (_, html) = parse_markdown(&md);
    assert!(!html.contains("<script"), "raw <script in {html}");
}

/// HTML text escaping as pulldown-cmark writes it.
fn pulldown_cmark_escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn diff_cmd(base: &str, new: &str) -> Command {
    let mut cmd = heapdoc();
    cmd.arg("diff").arg(sample(base)).arg(sample(new));
    cmd
}

#[test]
fn gate_passes_within_limits() {
    diff_cmd(
        "service-fixed.allocs.rate1.pb.gz",
        "service.allocs.rate1.pb.gz",
    )
    .args([
        "--fail-on",
        "total>+30%",
        "--fail-on",
        "cause:io-buffers>+100%",
    ])
    .assert()
    .code(0)
    .stderr("");
}

/// A rule whose limit lies inside its target's noise band can never fire for growth below
/// the band: it is warned about (issue 18), and a limit beyond the band is not.
#[test]
fn limit_inside_the_noise_band_is_warned() {
    let out = diff_cmd(
        "service-fixed.allocs.rate1.pb.gz",
        "service.allocs.rate1.pb.gz",
    )
    // total's 3σ band is ±26.08 MiB of 126 MiB (20.6%); io-buffers' ±191 KiB of 360 KiB.
    .args([
        "--fail-on",
        "total>+10%",
        "--fail-on",
        "total>+25%",
        "--fail-on",
        "cause:io-buffers>+5%",
    ])
    .assert()
    .code(0)
    .get_output()
    .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].starts_with("heapdoc: warning: --fail-on total>+10%: the limit (12.63 MiB) lies inside the 3σ noise band of total alloc_space (±26.08 MiB)"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("heapdoc: warning: --fail-on cause:io-buffers>+5%: the limit"),
        "{stderr}"
    );
}

/// `cum:FUNCTION` counts what the function's callees allocate (pprof's cum, issue 18):
/// json.Unmarshal allocates nothing on its own lines, so `site:` finds no site, while its
/// cum (669.87 KiB in the map-decoding service, `go tool pprof -top -cum` says 0.65MB) grew
/// +129% from the fixed variant and breaches.
#[test]
fn cum_rule_counts_what_callees_allocate() {
    let out = diff_cmd(
        "service-fixed.allocs.rate1.pb.gz",
        "service.allocs.rate1.pb.gz",
    )
    .args([
        "--fail-on",
        "site:encoding/json.Unmarshal>+50%",
        "--fail-on",
        "cum:encoding/json.Unmarshal>+50%",
    ])
    .assert()
    .code(1)
    .get_output()
    .clone();
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 2, "{stderr}");
    assert!(
        lines[0].contains("site:encoding/json.Unmarshal>+50%: its target is in neither profile"),
        "{stderr}"
    );
    assert!(
        lines[1].starts_with("heapdoc: --fail-on cum:encoding/json.Unmarshal>+50%: cum encoding/json.Unmarshal grew +129.19% (292.28 KiB -> 669.87 KiB"),
        "{stderr}"
    );
}

#[test]
fn gate_fails_naming_each_breached_rule() {
    let out = diff_cmd(
        "service-fixed.allocs.rate1.pb.gz",
        "service.allocs.rate1.pb.gz",
    )
    .args([
        "--fail-on",
        "cause:json>+5%",
        "--fail-on",
        "total>+10%",
        "--fail-on",
        "site:runtime/map.go:260>+100KiB",
        "--fail-on",
        "site:reflect.makemap>+1KiB",
    ])
    .assert()
    .code(1)
    .get_output()
    .clone();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout.starts_with("heapdoc diff of alloc_space"),
        "{stdout}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    // Rules with limits inside their noise band are warned about first; the breaches follow.
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.starts_with("heapdoc: warning: "))
        .collect();
    assert_eq!(lines.len(), 3, "{stderr}");
    assert!(lines[0].starts_with("heapdoc: --fail-on cause:json>+5%: cause json grew +"));
    assert!(lines[1].starts_with("heapdoc: --fail-on site:runtime/map.go:260>+100KiB: "));
    assert!(lines[2].starts_with("heapdoc: --fail-on site:reflect.makemap>+1KiB: "));
}

#[test]
fn malformed_rule_is_a_usage_error() {
    for rule in ["total>>5%", "json>+5%", "total>-5%", "total>+5 parsecs"] {
        let out = diff_cmd("service.allocs.rate1.pb.gz", "service.allocs.rate1.pb.gz")
            .args(["--fail-on", rule])
            .assert()
            .code(2)
            .stdout("")
            .get_output()
            .clone();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(stderr.contains("--fail-on"), "{rule}: {stderr}");
    }
    // Bytes on a count: exit 2 before anything is written.
    diff_cmd("service.allocs.rate1.pb.gz", "service.allocs.rate1.pb.gz")
        .args([
            "--sample-index",
            "alloc_objects",
            "--fail-on",
            "total>+1MiB",
        ])
        .assert()
        .code(2)
        .stdout("")
        .stderr(predicates::str::contains("--fail-on total>+1MiB"));
}

#[test]
fn seconds_normalization_needs_durations() {
    diff_cmd("service.allocs.rate1.pb.gz", "service.allocs.rate1.pb.gz")
        .args(["--normalize", "seconds"])
        .assert()
        .code(2)
        .stderr(predicates::str::contains("--normalize seconds"));
    diff_cmd(
        "service.allocs.rate1.pb.gz",
        "service-fixed.allocs.rate1.pb.gz",
    )
    .args(["--normalize", "total", "--format", "json"])
    .assert()
    .code(0)
    .stdout(predicates::str::contains("\"normalize\": \"total\""));
}

#[test]
fn output_file_is_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.md");
    // --no-explain: the library's report below has no evidence, and so no note on how to
    // add the escape analysis.
    heapdoc()
        .args(["--no-explain", "--format", "markdown", "-o"])
        .arg(&out)
        .arg(sample("service.allocs.default.pb.gz"))
        .assert()
        .code(0)
        .stdout("");
    let md = std::fs::read(&out).unwrap();
    let want = render(
        &report(&[sample("service.allocs.default.pb.gz")]),
        Format::Markdown,
    );
    assert!(md == want);
    // A failing run leaves the old file alone and no temporary file behind.
    heapdoc()
        .args(["-o"])
        .arg(&out)
        .arg(dir.path().join("missing.pb.gz"))
        .assert()
        .code(2);
    assert!(std::fs::read(&out).unwrap() == md);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn color_only_when_asked_or_on_a_terminal() {
    let input = sample("service.allocs.default.pb.gz");
    let esc = predicates::str::contains("\x1b[");
    heapdoc()
        .args(["--color", "always", &input])
        .assert()
        .code(0)
        .stdout(esc.clone());
    // Not a terminal: no color by default, whatever NO_COLOR says.
    heapdoc()
        .arg(&input)
        .env_remove("NO_COLOR")
        .assert()
        .stdout(predicates::str::contains("\x1b[").not());
    for format in ["json", "markdown"] {
        heapdoc()
            .args(["--color", "always", "--format", format, &input])
            .assert()
            .code(0)
            .stdout(predicates::str::contains("\x1b[").not());
    }
}

#[test]
fn merged_inputs_load_in_order() {
    let inputs = [
        sample("service.allocs.default.pb.gz"),
        sample("json.heap.rate1.pb.gz"),
        sample("service-fixed.allocs.default.pb.gz"),
    ];
    let (p, names) =
        heapdoc::source::load(&inputs, &Default::default(), &Default::default()).unwrap();
    assert_eq!(names, inputs);
    let sequential: Vec<_> = inputs
        .iter()
        .map(|s| {
            heapdoc::source::load(
                std::slice::from_ref(s),
                &Default::default(),
                &Default::default(),
            )
            .unwrap()
            .0
        })
        .collect();
    let merged = heapdoc::model::merge(sequential).unwrap();
    assert_eq!(p.totals(), merged.totals());
    let a = render(&report(&inputs), Format::Json);
    let b = render(&report(&inputs), Format::Json);
    assert!(a == b);
}

#[test]
fn completions_man_and_version() {
    for shell in ["bash", "zsh", "fish"] {
        heapdoc()
            .args(["completions", shell])
            .assert()
            .code(0)
            .stdout(predicates::str::contains("diff"));
    }
    heapdoc()
        .arg("man")
        .assert()
        .code(0)
        .stdout(predicates::str::contains(".TH heapdoc"));
    heapdoc()
        .arg("--version")
        .assert()
        .code(0)
        .stdout(predicates::str::starts_with("heapdoc "));
    heapdoc()
        .args(["diff", "--help"])
        .assert()
        .code(0)
        .stdout(predicates::str::contains("Var(X) = X^2 / n"));
}

#[test]
fn diff_writes_atomically_and_colors_only_text() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("diff.json");
    diff_cmd(
        "service.allocs.rate1.pb.gz",
        "service-fixed.allocs.rate1.pb.gz",
    )
    .args(["--format", "json", "--color", "always", "-o"])
    .arg(&out)
    .assert()
    .code(0)
    .stdout("");
    let written = std::fs::read(&out).unwrap();
    let want = render_diff(
        &diff(
            "service.allocs.rate1.pb.gz",
            "service-fixed.allocs.rate1.pb.gz",
        ),
        Format::Json,
    );
    assert!(written == want);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    diff_cmd(
        "service.allocs.rate1.pb.gz",
        "service-fixed.allocs.rate1.pb.gz",
    )
    .args(["--color", "always"])
    .assert()
    .code(0)
    .stdout(predicates::str::contains("\x1b[32mimproved"));
}

/// An unclassified site names the evidence it lacks (issue 17), and never asks for what was
/// given: with the compiler's messages, no note asks for `--explain DIR or --escapes FILE`.
#[test]
fn unclassified_sites_name_the_missing_evidence() {
    let notes = |extra: &[&str]| -> Vec<String> {
        let mut args = vec!["--format", "json", "--top", "0"];
        args.extend_from_slice(extra);
        let prof = sample("service.heap.rate1.pb.gz");
        args.push(&prof);
        let v = common::json_ok(&args);
        v["sites"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["cause"] == "unclassified")
            .filter_map(|s| s["note"].as_str().map(str::to_string))
            .collect()
    };
    let bare = notes(&[]);
    assert!(!bare.is_empty());
    assert!(bare.iter().all(|n| n.starts_with("missing: ")), "{bare:?}");
    assert!(bare.iter().any(|n| n.contains("--explain DIR")), "{bare:?}");
    let escapes = format!(
        "{}/samples/escapes/go1.27/service.m2.txt",
        env!("CARGO_MANIFEST_DIR")
    );
    let with = notes(&["--escapes", &escapes]);
    assert!(
        with.iter()
            .all(|n| !n.contains("(--explain DIR or --escapes FILE)")),
        "{with:?}"
    );
}
