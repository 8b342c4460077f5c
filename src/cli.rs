//! Command-line arguments, validated into per-stage options in one place.

use clap::{Args, Parser, ValueEnum};

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

Exit codes: 0 ok, 2 bad input or usage.";

#[derive(Parser, Debug, PartialEq)]
#[command(name = "heapdoc", version, about = "What a Go service allocates, where, why, and what to do about it", after_help = EXAMPLES)]
pub struct Cli {
    #[command(flatten)]
    pub report: ReportArgs,
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

    /// Write the report to FILE instead of stdout, atomically (a temporary file in the same
    /// directory, renamed into place): a failed run never leaves a partial FILE.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,

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
        }
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
        assert_eq!(cli.report.analyze_options(), AnalyzeOptions::default());
        let d = cli.report.decode_options();
        assert_eq!(d.max_size, DecodeOptions::default().max_size);
        assert_eq!(cli.report.format, Format::default());
    }
}
