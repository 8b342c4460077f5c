//! The argument groups. Each subcommand flattens only the groups it uses, so a flag that does
//! not apply to it (`flame --format`, `list --format`) is a usage error (exit 2) naming the
//! flag, never silently ignored.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

use heapdoc::analyze::attribute::Granularity;
use heapdoc::analyze::classify::ClassifyOptions;
use heapdoc::analyze::diff::{DiffOptions, Normalize, Rule};
use heapdoc::analyze::filter::{Filters, TagFilter};
use heapdoc::analyze::{AnalyzeOptions, Pattern};
use heapdoc::decode::{DecodeOptions, DEFAULT_MAX_SIZE};
use heapdoc::evidence::EvidenceOptions;
use heapdoc::render::flame::FlameOptions;
use heapdoc::render::Format;
use heapdoc::source::http::{FetchOptions, Save, TlsFiles};

const FETCH: &str = "Fetching (URL inputs)";
const EVIDENCE: &str = "Evidence (why)";

/// The profiles read and how: shared by every command that reads one profile set.
#[derive(Args, Debug, PartialEq)]
pub struct InputArgs {
    /// Profile files (profile.proto, gzipped or not, or Go's legacy text heap/goroutine
    /// format); `-` reads stdin; an http(s):// URL or host:port[/path] is fetched (host:port
    /// alone means its /debug/pprof/heap; an existing file of that name wins). Several inputs
    /// are merged (summed).
    #[arg(required = true, value_name = "PROFILE")]
    pub profiles: Vec<String>,

    #[command(flatten)]
    pub read: ReadArgs,
}

/// How inputs are read and fetched (also `diff`'s two sides).
#[derive(Args, Debug, PartialEq)]
pub struct ReadArgs {
    /// Refuse inputs whose (decompressed) size exceeds this many bytes; protects against gzip bombs.
    #[arg(long, default_value_t = DEFAULT_MAX_SIZE, value_name = "BYTES")]
    pub max_size: u64,

    #[command(flatten)]
    pub fetch: FetchArgs,
}

#[derive(Args, Debug, PartialEq)]
pub struct FetchArgs {
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

    /// Also trust the CA certificates in FILE (PEM) for https:// URL inputs, beside the
    /// system's roots and the bundled Mozilla roots.
    #[arg(long, value_name = "FILE", help_heading = FETCH)]
    pub cacert: Option<PathBuf>,

    /// Client certificate chain (PEM) for https:// servers that require one (mTLS); needs --key.
    #[arg(long, value_name = "FILE", requires = "key", help_heading = FETCH)]
    pub cert: Option<PathBuf>,

    /// Private key (PEM: PKCS#8, PKCS#1 or SEC1) of the --cert client certificate.
    #[arg(long, value_name = "FILE", requires = "cert", help_heading = FETCH)]
    pub key: Option<PathBuf>,

    /// Keep the fetched profile, exactly as received, in FILE (instead of a timestamped copy
    /// in $HEAPDOC_SAVE_DIR or ~/.heapdoc/profiles).
    #[arg(long, value_name = "FILE", conflicts_with = "no_save", help_heading = FETCH)]
    pub save: Option<PathBuf>,

    /// Keep no copy of fetched profiles.
    #[arg(long, help_heading = FETCH)]
    pub no_save: bool,
}

/// What is measured and how sites are formed.
#[derive(Args, Debug, PartialEq)]
pub struct AnalysisArgs {
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
    pub focus: Option<Pattern>,

    /// Drop samples with a frame whose function or file name matches REGEX (pprof's -ignore).
    #[arg(long, value_name = "REGEX")]
    pub ignore: Option<Pattern>,

    /// Keep only samples whose labels match (pprof's -tagfocus): `[KEY=]REGEX[,REGEX...]` for
    /// string labels (without KEY, each REGEX must match some `key:value`), or a numeric range
    /// `[KEY=]32kb`, `:64kb`, `4mb:`, `12kb:64mb` for numeric labels such as `bytes`.
    #[arg(long, value_name = "FILTER")]
    pub tagfocus: Option<TagFilter>,

    /// Drop samples whose labels match FILTER (pprof's -tagignore; syntax as --tagfocus).
    #[arg(long, value_name = "FILTER")]
    pub tagignore: Option<TagFilter>,

    /// Attribute each sample to its leaf frame even when that is a runtime function, as go
    /// tool pprof's flat does. By default, memory profiles skip leading runtime frames (kept by
    /// older Go versions and other writers) to reach the allocating caller.
    #[arg(long)]
    pub leaf_sites: bool,

    /// Package path prefix of the user's own code (repeatable): the report's "Your code"
    /// lines and the classifier's "your line". Default: main and everything outside the
    /// standard library and the module cache.
    #[arg(long, value_name = "PREFIX")]
    pub module: Vec<String>,
}

/// What the classifier may consult besides the profile.
#[derive(Args, Debug, PartialEq)]
pub struct EvidenceArgs {
    /// Extra causes and rules (TOML, same shape as the built-in rules): its rules are tried
    /// first and its causes replace built-in ones of the same name.
    #[arg(long, value_name = "FILE", help_heading = EVIDENCE)]
    pub rules: Option<PathBuf>,

    /// The compiler's escape analysis: the text of `go build -gcflags=-m=2 2>escapes.txt`, or
    /// the DIR of `-gcflags=-json=0,DIR`. Its reasons are the strongest evidence for a line.
    #[arg(long, value_name = "FILE|DIR", help_heading = EVIDENCE)]
    pub escapes: Vec<PathBuf>,

    /// Run the compiler's escape analysis on the Go module in DIR, test files included (`go
    /// build` and `go test -c` with -gcflags=-m=2), and build a typed model of its source
    /// (go/types): each line's bytes are split among its allocating expressions by object
    /// size. Writes nothing into DIR; results are cached per tree content and Go version;
    /// with --module, the dependencies under those prefixes are modelled too. DIR also
    /// becomes a --source-root. Needs a Go toolchain on PATH.
    #[arg(long, value_name = "DIR", help_heading = EVIDENCE)]
    pub explain: Option<PathBuf>,

    /// Directory holding the profiled program's source; profile paths are matched by their
    /// longest existing suffix. Enables source-line evidence and shows each site's line.
    /// Without it (and --explain), the profile's absolute paths are read when they exist
    /// under the current directory's Go module, GOROOT or GOMODCACHE.
    #[arg(long, value_name = "DIR", help_heading = EVIDENCE)]
    pub source_root: Vec<PathBuf>,

    /// Do not run the compiler's escape analysis by itself. By default, run inside a Go module
    /// that the profile names, with go on PATH, heapdoc runs it on that module (cached, so
    /// repeat runs cost nothing); otherwise it notes the command that would add it.
    #[arg(long, conflicts_with = "explain", help_heading = EVIDENCE)]
    pub no_explain: bool,
}

/// Where the output goes.
#[derive(Args, Debug, PartialEq)]
pub struct OutputArgs {
    /// Write the output to FILE instead of stdout, atomically (a temporary file in the same
    /// directory, renamed into place): a failed run never leaves a partial FILE. Text is then
    /// never colored.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// The format and color of a report or diff.
#[derive(Args, Debug, PartialEq)]
pub struct FormatArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = FormatArg::Text)]
    pub format: FormatArg,

    /// Color text output: auto = only on a terminal and when NO_COLOR is unset.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    pub color: ColorArg,
}

/// `--base`: subtract a profile first.
#[derive(Args, Debug, PartialEq)]
pub struct BaseArgs {
    /// Subtract this profile first (pprof's -base): with two allocs snapshots of the same
    /// process, what was allocated in between; the duration is the time between them.
    #[arg(long = "base", id = "base_profile", value_name = "PROFILE")]
    pub base_profile: Option<String>,
}

/// The report's extras: cost and rates.
#[derive(Args, Debug, PartialEq)]
pub struct CostArgs {
    /// A CPU profile of the same service and window: estimate each site's and cause's CPU
    /// cost. Method (an estimate): allocation CPU is the time under runtime.mallocgc*
    /// (assists included), given to the heap site on the same line where the CPU profile shows
    /// it, else spread by share of allocated bytes; GC CPU (marking, sweeping, assists) is
    /// spread by share of allocated bytes, since GC work scales with the allocation rate.
    /// The estimates sum to the measured allocation + GC CPU.
    #[arg(long, value_name = "PROFILE")]
    pub cpu: Option<String>,

    /// Requests served during the profile's window: show bytes and objects per request.
    #[arg(long, value_name = "N", conflicts_with = "rps", value_parser = parse_count)]
    pub requests: Option<f64>,

    /// Requests per second during the profile's window (needs a known duration).
    #[arg(long, value_name = "R", value_parser = parse_count)]
    pub rps: Option<f64>,
}

/// The flame graph's own flags.
#[derive(Args, Debug, PartialEq)]
pub struct FlameArgs {
    /// Frames are `func file:line` instead of function names.
    #[arg(long)]
    pub lines: bool,

    /// Icicle graph: roots at the top, growing down.
    #[arg(long)]
    pub inverted: bool,

    /// Leave out frames narrower than this many pixels.
    #[arg(long, default_value_t = inferno::flamegraph::defaults::MIN_WIDTH, value_name = "PIXELS", value_parser = parse_min_width)]
    pub min_width: f64,

    /// A static SVG without the search-and-zoom script.
    #[arg(long)]
    pub no_javascript: bool,

    /// Write the folded stacks (`root;...;leaf «cause» value` lines) instead of SVG.
    #[arg(long)]
    pub folded: bool,
}

/// `diff`'s own flags.
#[derive(Args, Debug, PartialEq)]
pub struct DiffFlags {
    /// How the two profiles are made comparable (see below).
    #[arg(long, value_enum, default_value_t = NormalizeArg::Auto)]
    pub normalize: NormalizeArg,

    /// A change counts only when it exceeds K standard errors of the sampling error.
    #[arg(long, value_name = "K", default_value_t = 3.0, value_parser = parse_sigma)]
    pub sigma: f64,

    /// CI gate rule, e.g. 'total>+10%', 'cause:json>+5%', 'site:handler.go:42>+1MiB',
    /// 'cum:main.handle>+5%' (with its callees) (repeatable); exit 1 when one is breached;
    /// a limit inside the noise band is warned about.
    #[arg(long = "fail-on", value_name = "RULE", value_parser = parse_rule)]
    pub fail_on: Vec<Rule>,

    /// Also write a differential flame graph: widths from NEW, red where it grew, blue where
    /// it shrank, grey within its site's noise band; vanished stacks drawn under their own
    /// root at BASE's width. Written atomically.
    #[arg(long, value_name = "FILE")]
    pub svg: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    Text,
    Json,
    /// A PR-ready summary (GitHub-flavored Markdown tables, a collapsible evidence section).
    Markdown,
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

fn parse_timeout(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number of seconds"))?;
    if secs.is_nan() || secs <= 0.0 {
        return Err(format!("{s:?}: the timeout must be more than 0 seconds"));
    }
    if secs > 1e9 {
        return Err(format!(
            "{s:?}: the timeout must be at most 1e9 seconds (about 31 years)"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A positive, finite count or rate (`--requests`, `--rps`): 0, NaN and infinities would
/// print infinities or nonsense per request.
fn parse_count(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a positive number")),
    }
}

fn parse_min_width(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && v >= 0.0 => Ok(v),
        _ => Err(format!("{s:?} is not a width in pixels (>= 0)")),
    }
}

fn parse_sigma(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(k) if k.is_finite() && k >= 0.0 => Ok(k),
        _ => Err(format!("{s:?} is not a number of standard errors (>= 0)")),
    }
}

fn parse_rule(s: &str) -> Result<Rule, String> {
    s.parse()
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

impl ReadArgs {
    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            max_size: self.max_size,
            ..DecodeOptions::default()
        }
    }

    /// The options for URL inputs; `progress` follows whether stderr is a terminal.
    pub fn fetch_options(&self) -> FetchOptions {
        let f = &self.fetch;
        FetchOptions {
            seconds: f.seconds,
            timeout: f.timeout,
            headers: f.headers.clone(),
            bearer_env: f.bearer_env.clone(),
            insecure: f.insecure,
            tls: TlsFiles {
                cacert: f.cacert.clone(),
                cert: f.cert.clone(),
                key: f.key.clone(),
            },
            save: match (&f.save, f.no_save) {
                (Some(path), _) => Save::File(path.clone()),
                (None, true) => Save::Off,
                (None, false) => Save::DefaultDir,
            },
        }
    }
}

impl AnalysisArgs {
    pub fn analyze_options(&self) -> AnalyzeOptions {
        AnalyzeOptions {
            sample_index: self.sample_index.clone(),
            top: self.top,
            granularity: match self.granularity {
                GranularityArg::Lines => Granularity::Lines,
                GranularityArg::Functions => Granularity::Functions,
            },
            filters: Filters {
                focus: self.focus.clone(),
                ignore: self.ignore.clone(),
                tag_focus: self.tagfocus.clone(),
                tag_ignore: self.tagignore.clone(),
            },
            leaf_sites: self.leaf_sites,
            classify: ClassifyOptions {
                modules: self.module.clone(),
            },
            // Report-only: set by the report subcommand's `--by-label`.
            by_label: None,
        }
    }
}

impl EvidenceArgs {
    pub fn evidence_options(&self) -> EvidenceOptions {
        EvidenceOptions {
            rules: self.rules.clone(),
            escapes: self.escapes.clone(),
            explain: self.explain.clone(),
            source_roots: self.source_root.clone(),
            modules: Vec::new(),
            no_explain: self.no_explain,
        }
    }
}

impl FormatArgs {
    pub fn format(&self) -> Format {
        match self.format {
            FormatArg::Text => Format::Text,
            FormatArg::Json => Format::Json,
            FormatArg::Markdown => Format::Markdown,
        }
    }

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
}

impl OutputArgs {
    /// Whether the output goes to a file (not stdout).
    pub fn to_file(&self) -> bool {
        self.output.as_ref().is_some_and(|p| p.as_os_str() != "-")
    }
}

impl FlameArgs {
    pub fn flame_options(&self) -> FlameOptions {
        FlameOptions {
            lines: self.lines,
            inverted: self.inverted,
            min_width: self.min_width,
            no_javascript: self.no_javascript,
        }
    }
}

impl DiffFlags {
    pub fn diff_options(&self, top: usize) -> DiffOptions {
        DiffOptions {
            normalize: match self.normalize {
                NormalizeArg::Auto => Normalize::Auto,
                NormalizeArg::Seconds => Normalize::Seconds,
                NormalizeArg::Total => Normalize::Total,
                NormalizeArg::None => Normalize::None,
            },
            sigma: self.sigma,
            top,
        }
    }
}
