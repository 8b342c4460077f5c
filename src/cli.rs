//! Command-line arguments, validated into per-stage options in one place.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::attribute::Granularity;
use crate::decode::{DecodeOptions, DEFAULT_MAX_SIZE};
use crate::fetch::{FetchOptions, Save};
use crate::report::Format;
use crate::AnalyzeOptions;

const EXAMPLES: &str = "\
Examples:
  heapdoc profile.pb.gz                      causes and top allocation sites
  heapdoc --sample-index inuse_space heap.pb.gz
  heapdoc --format json --top 20 allocs.pb.gz
  heapdoc localhost:6060                     fetch http://localhost:6060/debug/pprof/heap
  heapdoc --seconds 30 localhost:6060/debug/pprof/allocs
                                             what was allocated during 30 s (a delta profile)
  heapdoc --seconds 20 https://svc:8443/debug/pprof/profile
                                             a 20 s CPU profile
  curl -s localhost:6060/debug/pprof/heap | heapdoc -
  heapdoc pod1.pb.gz pod2.pb.gz             merge (sum) several profiles
  heapdoc --explain ./cmd/server allocs.pb.gz
                                             join the compiler's escape analysis (needs go)
  heapdoc list 'main\\.handle' --explain . allocs.pb.gz
                                             annotated source: each line's cause and reason
  heapdoc end.pb.gz --base start.pb.gz --cpu cpu.pb.gz --requests 400
                                             CPU cost per cause (an estimate), bytes/request
  heapdoc flame allocs.pb.gz -o flame.svg    flame graph, allocation sites colored by cause
  heapdoc --format markdown -o summary.md allocs.pb.gz
                                             a PR-ready summary, written atomically
  heapdoc diff base.pb.gz new.pb.gz          what changed, per cause and per site
  heapdoc diff --fail-on 'total>+10%' --fail-on 'cause:json>+5%' base.pb.gz new.pb.gz
                                             CI gate: exit 1 naming each breached rule
  heapdoc completions bash > heapdoc.bash    shell completions (bash, zsh, fish, ...)
  heapdoc man > heapdoc.1                    the man page

Fetched profiles are kept as fetched in $HEAPDOC_SAVE_DIR, else ~/.heapdoc/profiles, named
heapdoc.<host_port>.<endpoint>.<UTC time>.pb.gz (--save FILE, --no-save). A bearer token in
$HEAPDOC_BEARER_TOKEN is sent as `Authorization: Bearer ...`. Proxies come from ALL_PROXY,
HTTPS_PROXY, HTTP_PROXY and NO_PROXY.

Threads: heapdoc decompresses on a second core and splits its per-stack passes over all
cores (at most 8); HEAPDOC_THREADS=N sets the number (1: one thread). Results do not depend on it.

Color: --color auto (the default) colors text output only on a terminal and never when
NO_COLOR is set; JSON and Markdown are never colored.

Exit codes: 0 ok, 1 a --fail-on rule of `heapdoc diff` was breached, 2 bad input or usage.";

#[derive(Parser, Debug, PartialEq)]
#[command(
    name = "heapdoc",
    version,
    about = "What a Go service allocates, where, why, and what to do about it",
    after_help = EXAMPLES,
    // `heapdoc PROFILE` keeps working next to `heapdoc flame PROFILE` (a profile file named
    // `flame` needs `./flame`).
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Command>,

    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Subcommand, Debug, PartialEq)]
pub enum Command {
    /// Write an SVG flame graph (or folded stacks) with each allocation site colored by cause.
    Flame(FlameArgs),
    /// Annotated source of the functions matching REGEX: each line's allocation, cause and
    /// the compiler's reason (pprof's list, plus why).
    List(ListArgs),
    /// Compare two profiles (or merged sets): per cause and per site deltas, new and vanished
    /// sites, with changes inside the sampling error left out; --fail-on gates CI.
    #[command(after_help = DIFF_HELP)]
    Diff(DiffArgs),
    /// Print a shell completion script for heapdoc (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print heapdoc's man page (roff), generated from the same definitions as --help.
    Man,
}

const DIFF_HELP: &str = "\
Sampling error: Go samples heap allocations as a Poisson process, on average one every
`period` bytes (MemProfileRate, 512 KiB by default), and scales each record up by 1/p, where
p = 1 - exp(-s/period) is the chance an object of s bytes is sampled. A record of scaled value
X, scaled object count O and average object size s = space/O holds n = O * p sampled objects.
The two profiles come from two runs whose allocation counts vary too: taking each count as
Poisson, the sampled count is Poisson as well, and Var(X) = X^2 / n, a relative standard
error of 1/sqrt(n) (n = O for rate-1 profiles). Variances add over the records of a site or
cause and over the two profiles: SE(delta) = sqrt(Var_base + Var_new), both scaled like the
values by the normalization. A change counts only when |delta| > K * SE(delta) (--sigma K).
CPU profiles count Poisson samples (Var = value * period); other profiles are taken as exact.

Normalization (--normalize): auto = per second when both profiles have a duration
(duration_nanos, e.g. ?seconds=N delta profiles), else none; total = NEW scaled to BASE's
total; none = raw values.

--fail-on RULE (repeatable): TARGET>+LIMIT, where TARGET is `total`, `cause:NAME`, or
`site:FILE:LINE` (FILE matched as a path suffix) or `site:FUNCTION` (exact name, all its
lines summed), and LIMIT is a percentage (`10%`), bytes (`512B`, `64KiB`, `1MiB`, `1GiB`; KB,
MB, GB are powers of 1000) or a plain count. A rule is breached when its target grew by more
than LIMIT and the growth is significant (beyond K standard errors). Per-second normalization
makes amounts per second. Breached rules are printed on stderr, one line each, after the
report, and the exit code is 1.

Examples:
  heapdoc diff base.pb.gz new.pb.gz
  heapdoc diff --format markdown -o diff.md base.pb.gz new.pb.gz
  heapdoc diff --fail-on 'total>+10%' --fail-on 'site:handler.go:42>+1MiB' base.pb.gz new.pb.gz

Exit codes: 0 no rule breached, 1 a --fail-on rule breached, 2 bad input or usage.";

#[derive(Args, Debug, PartialEq)]
pub struct DiffArgs {
    /// The baseline profile (a path, `-` or a URL, as for the report).
    #[arg(value_name = "BASE")]
    pub base: String,

    /// The profile compared with the baseline.
    #[arg(value_name = "NEW")]
    pub new: String,

    /// How the two profiles are made comparable (see below).
    #[arg(long, value_enum, default_value_t = NormalizeArg::Auto)]
    pub normalize: NormalizeArg,

    /// A change counts only when it exceeds K standard errors of the sampling error.
    #[arg(long, value_name = "K", default_value_t = 3.0, value_parser = parse_sigma)]
    pub sigma: f64,

    /// CI gate rule, e.g. 'total>+10%', 'cause:json>+5%', 'site:handler.go:42>+1MiB'
    /// (repeatable); exit 1 when one is breached.
    #[arg(long = "fail-on", value_name = "RULE", value_parser = parse_rule)]
    pub fail_on: Vec<crate::diff::Rule>,

    /// Also write a differential flame graph: widths from NEW, red where it grew, blue where
    /// it shrank; vanished stacks are named in its subtitle. Written atomically.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,

    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum NormalizeArg {
    /// Per second when both durations are known, else none.
    Auto,
    /// Values per second of profile duration (both profiles need a duration).
    Seconds,
    /// NEW scaled so its total equals BASE's total.
    Total,
    /// Raw values.
    None,
}

fn parse_sigma(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(k) if k.is_finite() && k >= 0.0 => Ok(k),
        _ => Err(format!("{s:?} is not a number of standard errors (>= 0)")),
    }
}

fn parse_rule(s: &str) -> Result<crate::diff::Rule, String> {
    s.parse()
}

impl DiffArgs {
    pub fn diff_options(&self) -> crate::diff::DiffOptions {
        use crate::diff::Normalize;
        crate::diff::DiffOptions {
            normalize: match self.normalize {
                NormalizeArg::Auto => Normalize::Auto,
                NormalizeArg::Seconds => Normalize::Seconds,
                NormalizeArg::Total => Normalize::Total,
                NormalizeArg::None => Normalize::None,
            },
            sigma: self.sigma,
            top: self.analysis.top,
        }
    }
}

#[derive(Args, Debug, PartialEq)]
pub struct ListArgs {
    /// Functions to list (regular expression on the function name).
    #[arg(value_name = "REGEX")]
    pub regex: crate::Pattern,

    #[command(flatten)]
    pub report: ReportArgs,
}

#[derive(Args, Debug, PartialEq)]
pub struct FlameArgs {
    /// Frames are `func file:line` instead of function names.
    #[arg(long)]
    pub lines: bool,

    /// Icicle graph: roots at the top, growing down.
    #[arg(long)]
    pub inverted: bool,

    /// Leave out frames narrower than this many pixels.
    #[arg(long, default_value_t = inferno::flamegraph::defaults::MIN_WIDTH, value_name = "PIXELS")]
    pub min_width: f64,

    /// A static SVG without the search-and-zoom script.
    #[arg(long)]
    pub no_javascript: bool,

    /// Write the folded stacks (`root;...;leaf «cause» value` lines) instead of SVG.
    #[arg(long)]
    pub folded: bool,

    #[command(flatten)]
    pub report: ReportArgs,
}

impl FlameArgs {
    pub fn flame_options(&self) -> crate::flame::FlameOptions {
        crate::flame::FlameOptions {
            lines: self.lines,
            inverted: self.inverted,
            min_width: self.min_width,
            no_javascript: self.no_javascript,
        }
    }
}

#[derive(Args, Debug, PartialEq)]
pub struct ReportArgs {
    /// Profile files (profile.proto, gzipped or not, or Go's legacy text heap/goroutine
    /// format); `-` reads stdin; an http(s):// URL or host:port[/path] is fetched (host:port
    /// alone means its /debug/pprof/heap; an existing file of that name wins). Several inputs
    /// are merged (summed).
    #[arg(required = true, value_name = "PROFILE")]
    pub profiles: Vec<String>,

    #[command(flatten)]
    pub analysis: AnalysisArgs,
}

/// `heapdoc diff` reads two inputs with the same flags as the report.
impl std::ops::Deref for ReportArgs {
    type Target = AnalysisArgs;
    fn deref(&self) -> &AnalysisArgs {
        &self.analysis
    }
}

/// The analysis and output flags shared by the report, `flame` and `diff`.
#[derive(Args, Debug, PartialEq)]
pub struct AnalysisArgs {
    /// Color text output: auto = only on a terminal and when NO_COLOR is unset.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,

    /// Sample type to report (pprof's names, e.g. alloc_space, inuse_space, alloc_objects, cpu).
    /// Default: alloc_space for Go heap/allocs profiles, else the profile's default, else the last.
    #[arg(long, value_name = "NAME")]
    pub sample_index: Option<String>,

    /// Number of sites to show (0 = all).
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,

    /// Aggregate sites by source line or by function.
    #[arg(long, value_enum, default_value_t = GranularityArg::Lines)]
    pub granularity: GranularityArg,

    /// Keep only samples with a frame whose function or file name matches REGEX (pprof's
    /// -focus), e.g. to narrow every table to one handler.
    #[arg(long, value_name = "REGEX")]
    pub focus: Option<crate::Pattern>,

    /// Drop samples with a frame whose function or file name matches REGEX (pprof's -ignore).
    #[arg(long, value_name = "REGEX")]
    pub ignore: Option<crate::Pattern>,

    /// Attribute each sample to its leaf frame even when that is a runtime function, as go
    /// tool pprof's flat does. By default, memory profiles skip leading runtime frames (kept by
    /// older Go versions and other writers) to reach the allocating caller.
    #[arg(long)]
    pub leaf_sites: bool,

    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,

    /// Extra causes and rules (TOML, same shape as the built-in rules): its rules are tried
    /// first and its causes replace built-in ones of the same name.
    #[arg(long, value_name = "FILE")]
    pub rules: Option<std::path::PathBuf>,

    /// The compiler's escape analysis: the text of `go build -gcflags=-m=2 2>escapes.txt`, or
    /// the DIR of `-gcflags=-json=0,DIR`. Its reasons are the strongest evidence for a line.
    #[arg(long, value_name = "FILE|DIR")]
    pub escapes: Vec<std::path::PathBuf>,

    /// Subtract this profile first (pprof's -base): with two allocs snapshots of the same
    /// process, what was allocated in between; the duration is the time between them.
    #[arg(long = "base", id = "base_profile", value_name = "PROFILE")]
    pub base_profile: Option<String>,

    /// A CPU profile of the same service and window: estimate each site's and cause's CPU
    /// cost. Method (an estimate): allocation CPU is the time under runtime.mallocgc*
    /// (assists included), given to the heap site on the same line where the CPU profile shows
    /// it, else spread by share of allocated bytes; GC CPU (marking, sweeping, assists) is
    /// spread by share of allocated bytes, since GC work scales with the allocation rate.
    /// The estimates sum to the measured allocation + GC CPU.
    #[arg(long, value_name = "PROFILE")]
    pub cpu: Option<String>,

    /// Requests served during the profile's window: show bytes and objects per request.
    #[arg(long, value_name = "N", conflicts_with = "rps")]
    pub requests: Option<f64>,

    /// Requests per second during the profile's window (needs a known duration).
    #[arg(long, value_name = "R")]
    pub rps: Option<f64>,

    /// Run the compiler's escape analysis on the Go module in DIR (`go build -gcflags=-m=2`,
    /// writing nothing into DIR) and use its reasons; DIR also becomes a --source-root.
    /// Needs a Go toolchain on PATH.
    #[arg(long, value_name = "DIR")]
    pub explain: Option<std::path::PathBuf>,

    /// Directory holding the profiled program's source; profile paths are matched by their
    /// longest existing suffix. Enables source-line evidence and shows each site's line.
    #[arg(long, value_name = "DIR")]
    pub source_root: Vec<std::path::PathBuf>,

    /// Package path prefix of the user's own code (repeatable). Default: everything outside
    /// the standard library and the module cache.
    #[arg(long, value_name = "PREFIX")]
    pub module: Vec<String>,

    /// Write the output (report, flame graph, listing, diff) to FILE instead of stdout,
    /// atomically (a temporary file in the same directory, renamed into place): a failed run
    /// never leaves a partial FILE. Text is then never colored.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Refuse inputs whose (decompressed) size exceeds this many bytes; protects against gzip bombs.
    #[arg(long, default_value_t = DEFAULT_MAX_SIZE, value_name = "BYTES")]
    pub max_size: u64,

    /// Ask URL inputs for N seconds of profiling (?seconds=N): a delta profile from heap and
    /// allocs, an N-second CPU profile from /debug/pprof/profile (whose default is 30 s).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..), help_heading = FETCH)]
    pub seconds: Option<u64>,

    /// How long to wait for a fetch, in seconds (fractions allowed). Default: 1.5 x --seconds,
    /// or 60 without it.
    #[arg(long, value_name = "SECONDS", value_parser = parse_timeout, help_heading = FETCH)]
    pub timeout: Option<Duration>,

    /// Extra request header for URL inputs, 'Name: value' (repeatable). An Authorization
    /// header here wins over user:pass@ in the URL and the bearer token.
    #[arg(short = 'H', long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header, help_heading = FETCH)]
    pub headers: Vec<(String, String)>,

    /// Environment variable holding a bearer token for URL inputs (default: HEAPDOC_BEARER_TOKEN
    /// when set).
    #[arg(long, value_name = "VAR", help_heading = FETCH)]
    pub bearer_env: Option<String>,

    /// Skip TLS certificate verification for https:// URL inputs.
    #[arg(long, help_heading = FETCH)]
    pub insecure: bool,

    /// Keep the fetched profile, exactly as received, in FILE (instead of a timestamped copy
    /// in $HEAPDOC_SAVE_DIR or ~/.heapdoc/profiles).
    #[arg(long, value_name = "FILE", conflicts_with = "no_save", help_heading = FETCH)]
    pub save: Option<PathBuf>,

    /// Keep no copy of fetched profiles.
    #[arg(long, help_heading = FETCH)]
    pub no_save: bool,
}

const FETCH: &str = "Fetching (URL inputs)";

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= 1e9) {
        return Err(format!("{s:?}: the timeout must be more than 0 seconds"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `Name: value`, as curl's -H takes it. Values cannot hold line breaks (header injection).
fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?} is not 'Name: value'"))?;
    let name = name.trim();
    let token = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    if name.is_empty() || !name.chars().all(token) {
        return Err(format!("{name:?} is not a valid header name"));
    }
    let value = value.trim();
    if value.chars().any(|c| c.is_control() && c != '\t') {
        return Err(format!(
            "the value of header {name} holds a control character"
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ColorArg {
    Auto,
    Always,
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GranularityArg {
    Lines,
    Functions,
}

impl AnalysisArgs {
    /// Whether text output is colored: `always`, or `auto` when writing to a terminal
    /// (not to a `-o` file) and NO_COLOR is unset or empty (no-color.org).
    pub fn color(&self, to_file: bool) -> bool {
        match self.color {
            ColorArg::Always => true,
            ColorArg::Never => false,
            ColorArg::Auto => {
                !to_file
                    && std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        }
    }

    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            max_size: self.max_size,
            ..DecodeOptions::default()
        }
    }

    /// The options for URL inputs; `progress` follows whether stderr is a terminal.
    pub fn fetch_options(&self) -> FetchOptions {
        FetchOptions {
            seconds: self.seconds,
            timeout: self.timeout,
            headers: self.headers.clone(),
            bearer_env: self.bearer_env.clone(),
            insecure: self.insecure,
            save: match (&self.save, self.no_save) {
                (Some(path), _) => Save::File(path.clone()),
                (None, true) => Save::Off,
                (None, false) => Save::DefaultDir,
            },
            progress: std::io::stderr().is_terminal(),
        }
    }

    pub fn analyze_options(&self) -> AnalyzeOptions {
        AnalyzeOptions {
            sample_index: self.sample_index.clone(),
            top: self.top,
            granularity: match self.granularity {
                GranularityArg::Lines => Granularity::Lines,
                GranularityArg::Functions => Granularity::Functions,
            },
            focus: self.focus.clone(),
            ignore: self.ignore.clone(),
            leaf_sites: self.leaf_sites,
            classify: crate::classify::ClassifyOptions {
                modules: self.module.clone(),
            },
        }
    }

    /// Loads the evidence files named by the flags.
    pub fn evidence(&self) -> anyhow::Result<crate::Evidence> {
        use anyhow::Context;
        let rules = match &self.rules {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("--rules {}: cannot read", path.display()))?;
                crate::classify::RuleSet::with_user(&text, &path.display().to_string())?
            }
            None => crate::classify::RuleSet::builtin(),
        };
        let mut escapes = if self.escapes.is_empty() {
            None
        } else {
            Some(crate::classify::escape::load(&self.escapes)?)
        };
        let mut roots = self.source_root.clone();
        if let Some(dir) = &self.explain {
            let text = crate::source::explain(dir)?;
            let idx = escapes.get_or_insert_with(Default::default);
            // The compiler prints paths relative to DIR; anchor them so suffix matching
            // against the profile's paths has the most components to compare.
            idx.add_text_in(&text, dir);
            roots.push(dir.clone());
        }
        let sources = if roots.is_empty() {
            None
        } else {
            // Library frames' files too: the Go toolchain's and the module cache's sources.
            roots.extend(crate::source::go_roots());
            Some(crate::source::SourceRoot::new(roots)?)
        };
        Ok(crate::Evidence {
            rules,
            escapes,
            sources,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_parse_gives_the_stage_defaults() {
        let cli = Cli::try_parse_from(["heapdoc", "x.pb.gz"]).unwrap();
        assert_eq!(cli.cmd, None);
        assert_eq!(cli.report.analyze_options(), AnalyzeOptions::default());
        let d = cli.report.decode_options();
        assert_eq!(d.max_size, DecodeOptions::default().max_size);
        assert_eq!(cli.report.format, Format::default());
        // progress depends on where the test's stderr goes, not on the arguments.
        let f = FetchOptions {
            progress: false,
            ..cli.report.fetch_options()
        };
        assert_eq!(f, FetchOptions::default());
    }

    #[test]
    fn fetch_flags_become_fetch_options() {
        let cli = Cli::try_parse_from([
            "heapdoc",
            "--seconds",
            "30",
            "--timeout",
            "2.5",
            "-H",
            "X-A: 1",
            "--header",
            "X-B:two words",
            "--bearer-env",
            "TOK",
            "--insecure",
            "--save",
            "out.pb.gz",
            "localhost:6060",
        ])
        .unwrap();
        let f = cli.report.fetch_options();
        assert_eq!(f.seconds, Some(30));
        assert_eq!(f.timeout, Some(Duration::from_millis(2500)));
        assert_eq!(
            f.headers,
            [
                ("X-A".into(), "1".into()),
                ("X-B".into(), "two words".into())
            ]
        );
        assert_eq!(f.bearer_env.as_deref(), Some("TOK"));
        assert!(f.insecure);
        assert_eq!(f.save, Save::File("out.pb.gz".into()));
        let cli = Cli::try_parse_from(["heapdoc", "--no-save", "x"]).unwrap();
        assert_eq!(cli.report.fetch_options().save, Save::Off);
    }

    #[test]
    fn bad_fetch_flags_are_usage_errors() {
        for args in [
            &["heapdoc", "-H", "no colon", "x"][..],
            &["heapdoc", "-H", "Bad Name: v", "x"],
            &["heapdoc", "--timeout", "0", "x"],
            &["heapdoc", "--timeout", "soon", "x"],
            &["heapdoc", "--seconds", "0", "x"],
            &["heapdoc", "--save", "f", "--no-save", "x"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?} parsed");
        }
    }

    #[test]
    fn bare_flame_parse_gives_the_defaults() {
        let cli = Cli::try_parse_from(["heapdoc", "flame", "x.pb.gz"]).unwrap();
        let Some(Command::Flame(f)) = cli.cmd else {
            panic!("no flame subcommand: {cli:?}");
        };
        assert_eq!(f.report.profiles, ["x.pb.gz"]);
        assert_eq!(f.report.output, None);
        assert_eq!(f.flame_options(), crate::flame::FlameOptions::default());
        assert_eq!(f.report.analyze_options(), AnalyzeOptions::default());
    }

    #[test]
    fn bare_diff_parse_gives_the_defaults() {
        let cli = Cli::try_parse_from(["heapdoc", "diff", "a.pb.gz", "b.pb.gz"]).unwrap();
        let Some(Command::Diff(d)) = cli.cmd else {
            panic!("no diff subcommand: {cli:?}");
        };
        assert_eq!((d.base.as_str(), d.new.as_str()), ("a.pb.gz", "b.pb.gz"));
        assert_eq!(d.diff_options(), crate::diff::DiffOptions::default());
        assert_eq!(d.analysis.analyze_options(), AnalyzeOptions::default());
        assert!(d.fail_on.is_empty());
        assert_eq!(d.analysis.output, None);
    }

    #[test]
    fn diff_flags_are_validated_at_parse_time() {
        let cli = Cli::try_parse_from([
            "heapdoc",
            "diff",
            "--fail-on",
            "total>+10%",
            "--fail-on",
            "cause:json>+1MiB",
            "--sigma",
            "2",
            "--normalize",
            "total",
            "a",
            "b",
        ])
        .unwrap();
        let Some(Command::Diff(d)) = cli.cmd else {
            panic!("no diff subcommand");
        };
        assert_eq!(d.fail_on.len(), 2);
        assert_eq!(d.diff_options().sigma, 2.0);
        for args in [
            &["heapdoc", "diff", "--fail-on", "total", "a", "b"][..],
            &["heapdoc", "diff", "--sigma", "-1", "a", "b"],
            &["heapdoc", "diff", "a"],
            &["heapdoc", "--color", "sometimes", "a"],
        ] {
            let e = Cli::try_parse_from(args).unwrap_err();
            assert!(e.use_stderr(), "{args:?}");
        }
    }

    #[test]
    fn profiles_are_still_required() {
        assert!(Cli::try_parse_from(["heapdoc"]).is_err());
        assert!(Cli::try_parse_from(["heapdoc", "flame"]).is_err());
    }
}
