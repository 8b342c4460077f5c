//! Command-line arguments, validated into per-stage options in one place.

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::attribute::Granularity;
use crate::decode::{DecodeOptions, DEFAULT_MAX_SIZE};
use crate::report::Format;
use crate::AnalyzeOptions;

const EXAMPLES: &str = "\
Examples:
  heapdoc profile.pb.gz                      causes and top allocation sites
  heapdoc --sample-index inuse_space heap.pb.gz
  heapdoc --format json --top 20 allocs.pb.gz
  curl -s localhost:6060/debug/pprof/heap | heapdoc -
  heapdoc pod1.pb.gz pod2.pb.gz             merge (sum) several profiles
  heapdoc flame allocs.pb.gz -o flame.svg    flame graph, allocation sites colored by cause

Exit codes: 0 ok, 2 bad input or usage.";

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
}

#[derive(Args, Debug, PartialEq)]
pub struct FlameArgs {
    /// Output file, written atomically (nothing is left on error). Default: stdout.
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

    /// Frames are `func file:line` instead of function names.
    #[arg(long)]
    pub lines: bool,

    /// Icicle graph: roots at the top, growing down.
    #[arg(long)]
    pub inverted: bool,

    /// Leave out frames narrower than this many pixels.
    #[arg(long, default_value_t = inferno::flamegraph::defaults::MIN_WIDTH, value_name = "PIXELS")]
    pub min_width: f64,

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
        }
    }
}

#[derive(Args, Debug, PartialEq)]
pub struct ReportArgs {
    /// Profile files (profile.proto, gzipped or not, or Go's legacy text heap/goroutine
    /// format); `-` reads stdin. Several inputs are merged (summed).
    #[arg(required = true, value_name = "PROFILE")]
    pub profiles: Vec<String>,

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

    /// Directory holding the profiled program's source; profile paths are matched by their
    /// longest existing suffix. Enables source-line evidence and shows each site's line.
    #[arg(long, value_name = "DIR")]
    pub source_root: Vec<std::path::PathBuf>,

    /// Package path prefix of the user's own code (repeatable). Default: everything outside
    /// the standard library and the module cache.
    #[arg(long, value_name = "PREFIX")]
    pub module: Vec<String>,

    /// Refuse inputs whose (decompressed) size exceeds this many bytes; protects against gzip bombs.
    #[arg(long, default_value_t = DEFAULT_MAX_SIZE, value_name = "BYTES")]
    pub max_size: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum GranularityArg {
    Lines,
    Functions,
}

impl ReportArgs {
    pub fn decode_options(&self) -> DecodeOptions {
        DecodeOptions {
            max_size: self.max_size,
            ..DecodeOptions::default()
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
        let escapes = if self.escapes.is_empty() {
            None
        } else {
            Some(crate::classify::escape::load(&self.escapes)?)
        };
        let sources = if self.source_root.is_empty() {
            None
        } else {
            Some(crate::source::SourceRoot::new(self.source_root.clone())?)
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
    }

    #[test]
    fn bare_flame_parse_gives_the_defaults() {
        let cli = Cli::try_parse_from(["heapdoc", "flame", "x.pb.gz"]).unwrap();
        let Some(Command::Flame(f)) = cli.cmd else {
            panic!("no flame subcommand: {cli:?}");
        };
        assert_eq!(f.report.profiles, ["x.pb.gz"]);
        assert_eq!(f.output, None);
        assert_eq!(f.flame_options(), crate::flame::FlameOptions::default());
        assert_eq!(f.report.analyze_options(), AnalyzeOptions::default());
    }

    #[test]
    fn profiles_are_still_required() {
        assert!(Cli::try_parse_from(["heapdoc"]).is_err());
        assert!(Cli::try_parse_from(["heapdoc", "flame"]).is_err());
    }
}
