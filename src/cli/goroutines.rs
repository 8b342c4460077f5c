//! `heapdoc goroutines`: its own argument group (issue 19).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::Args;

use heapdoc::analyze::goroutines::{self, FailOn, GoroutineOptions, GoroutineRules};
use heapdoc::decode::{DecodeOptions, DEFAULT_MAX_SIZE};
use heapdoc::model::goroutine::Dump;
use heapdoc::source::dump::load_dump;
use heapdoc::source::http::{FetchOptions, Save};

use super::args::{FormatArgs, OutputArgs};

/// `heapdoc goroutines SNAPSHOT [AFTER]`.
#[derive(Args, Debug, PartialEq)]
pub struct GoroutinesCmd {
    /// A goroutine dump: `/debug/pprof/goroutine` (profile.proto), `?debug=1`, `?debug=2`, or
    /// the text of a crash or SIGQUIT; a file, `-` for stdin, or a URL (host:port alone
    /// means its /debug/pprof/goroutine?debug=2).
    #[arg(value_name = "SNAPSHOT")]
    pub snapshot: String,

    /// A later snapshot of the same process: groups are compared with SNAPSHOT (the base).
    #[arg(value_name = "AFTER", conflicts_with_all = ["base", "seconds"])]
    pub after: Option<String>,

    /// An earlier snapshot of the same process to compare with.
    #[arg(long, value_name = "SNAPSHOT", conflicts_with = "seconds")]
    pub base: Option<String>,

    /// With a URL: take two snapshots N seconds apart and compare them.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub seconds: Option<u64>,

    /// Seconds between the two snapshots, for growth per second when the dumps do not carry
    /// their times (text dumps; profile.proto has them).
    #[arg(long, value_name = "SECONDS", value_parser = parse_elapsed)]
    pub elapsed: Option<f64>,

    /// Groups to show besides leaks and suspects, which are always shown (0 = all).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// CI gate (repeatable): 'goroutines>N' (all goroutines), or 'goroutines:GROUP>+N' (a
    /// group's growth since the base; GROUP is the function it blocks in, its creator, or a
    /// kind such as http-no-deadline); exit 1 when one is breached.
    #[arg(long = "fail-on", value_name = "RULE")]
    pub fail_on: Vec<FailOn>,

    /// A heap profile of the same process (a file or URL; taken with the last snapshot): the
    /// heap held by each leaking group (allocations whose stacks pass through its blocking
    /// function), and, from a debug=1 heap profile's MemStats, the stacks' memory.
    #[arg(long, value_name = "PROFILE")]
    pub heap: Option<String>,

    /// Also write an SVG flame graph of the goroutines (one tower per group, leaf frames
    /// colored by wait state) to FILE, atomically.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    /// A rules file whose [[goroutine]] tables are tried before the built-in ones.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<PathBuf>,

    /// Refuse inputs whose (decompressed) size exceeds this many bytes.
    #[arg(long, default_value_t = DEFAULT_MAX_SIZE, value_name = "BYTES")]
    pub max_size: u64,

    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

fn parse_elapsed(s: &str) -> std::result::Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number of seconds")),
    }
}

/// host:port alone fetches the goroutine endpoint with full tracebacks.
fn goroutine_url(spec: &str) -> String {
    if !heapdoc::source::is_url(spec) {
        return spec.to_string();
    }
    let rest = spec.split_once("://").map_or(spec, |x| x.1);
    if rest.contains('/') || rest.contains('?') {
        spec.to_string()
    } else {
        format!("{spec}/debug/pprof/goroutine?debug=2")
    }
}

impl GoroutinesCmd {
    /// Loads, analyzes and renders; returns the output and the --fail-on breaches.
    pub fn run(&self, color: bool) -> Result<(Vec<u8>, Vec<String>)> {
        let rules = match &self.rules {
            Some(p) => {
                let text = std::fs::read_to_string(p)
                    .with_context(|| format!("--rules {}", p.display()))?;
                GoroutineRules::with_user(&text, &p.display().to_string())?
            }
            None => GoroutineRules::builtin(),
        };
        let decode = DecodeOptions {
            max_size: self.max_size,
            ..DecodeOptions::default()
        };
        let fetch = FetchOptions {
            save: Save::Off,
            ..FetchOptions::default()
        };
        let snapshot = goroutine_url(&self.snapshot);
        let mut elapsed = self.elapsed;
        let (base, now): (Option<(String, Dump)>, (String, Dump)) = if let Some(n) = self.seconds {
            if !heapdoc::source::is_url(&snapshot) {
                bail!(
                    "--seconds takes two snapshots from a URL, and {:?} is not one",
                    self.snapshot
                );
            }
            let t0 = Instant::now();
            let a = load_dump(&snapshot, &decode, &fetch).context("first snapshot")?;
            let wait = Duration::from_secs(n).saturating_sub(t0.elapsed());
            std::thread::sleep(wait);
            let t1 = Instant::now();
            let b = load_dump(&snapshot, &decode, &fetch).context("second snapshot")?;
            elapsed = elapsed.or(Some((t1 - t0).as_secs_f64()));
            (Some(a), b)
        } else if let Some(after) = &self.after {
            let a = load_dump(&snapshot, &decode, &fetch).context("SNAPSHOT")?;
            let b = load_dump(&goroutine_url(after), &decode, &fetch).context("AFTER")?;
            (Some(a), b)
        } else if let Some(base) = &self.base {
            let a = load_dump(&goroutine_url(base), &decode, &fetch).context("--base")?;
            let b = load_dump(&snapshot, &decode, &fetch)?;
            (Some(a), b)
        } else {
            (None, load_dump(&snapshot, &decode, &fetch)?)
        };
        if elapsed.is_some() && base.is_none() {
            bail!("--elapsed applies to two snapshots (AFTER, --base or --seconds)");
        }
        let heap = match &self.heap {
            Some(spec) => {
                let input = heapdoc::source::open(spec, self.max_size, &fetch)
                    .with_context(|| format!("--heap {spec}"))?;
                let raw = heapdoc::decode::decompress(&input.bytes, &decode)
                    .with_context(|| format!("--heap {spec}"))?;
                let inuse = heapdoc::decode::goroutine::memstats_stack_inuse(&raw);
                let p = heapdoc::decode::decode(&raw, &decode)
                    .with_context(|| format!("--heap {spec}"))?;
                Some((p, inuse))
            }
            None => None,
        };
        let opts = GoroutineOptions {
            elapsed,
            stack_inuse: heap.as_ref().and_then(|h| h.1),
        };
        let mut report = goroutines::analyze(
            &now.0,
            &now.1,
            base.as_ref().map(|(n, d)| (n.as_str(), d)),
            &rules,
            &opts,
        )?;
        if let Some((p, _)) = &heap {
            goroutines::attach_heap(&mut report, p)?;
        }
        // Rules that cannot apply are usage errors, found before anything is written.
        let breaches = goroutines::check(&report, &self.fail_on)?;
        let mut buf = Vec::new();
        heapdoc::render::render_goroutines(
            &report,
            self.format.format(),
            heapdoc::render::RenderOptions { color },
            self.top,
            &mut buf,
        )?;
        if let Some(path) = &self.svg {
            let mut svg = Vec::new();
            heapdoc::render::goroutines::write_svg(
                &report,
                &heapdoc::render::flame::FlameOptions::default(),
                &mut svg,
            )?;
            heapdoc::output::write_file(path, &svg)
                .with_context(|| format!("--svg {}", path.display()))?;
        }
        Ok((buf, breaches))
    }
}
