//! The command line: clap definitions, validated once into the library's plain request and
//! option structs. The only module that knows clap; it lives in the binary.

pub mod args;
pub mod goroutines;
mod help;
pub mod progress;

use clap::{Args, Parser, Subcommand};

use heapdoc::analyze::Pattern;
use heapdoc::pipeline::ReportRequest;

use args::{
    AnalysisArgs, BaseArgs, CostArgs, DiffFlags, EvidenceArgs, FlameArgs, FormatArgs, InputArgs,
    OutputArgs, ReadArgs,
};

#[derive(Parser, Debug, PartialEq)]
#[command(
    name = "heapdoc",
    version,
    about = "What a Go service allocates, where, why, and what to do about it",
    after_help = help::EXAMPLES,
    // `heapdoc PROFILE` keeps working next to `heapdoc flame PROFILE` (a profile file named
    // `flame` needs `./flame`).
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub cmd: Option<Command>,

    #[command(flatten)]
    pub report: ReportCmd,
}

#[derive(Subcommand, Debug, PartialEq)]
pub enum Command {
    /// Write an SVG flame graph (or folded stacks) with each allocation site colored by cause.
    Flame(FlameCmd),
    /// Annotated source of the functions matching REGEX: each line's allocation, cause and
    /// the compiler's reason (pprof's list, plus why).
    List(ListCmd),
    /// Compare two profiles (or merged sets): per cause and per site deltas, new and vanished
    /// sites, with changes inside the sampling error left out; --fail-on gates CI.
    #[command(after_help = help::DIFF_HELP)]
    Diff(DiffCmd),
    /// Group a goroutine dump by creation site, blocking frame and wait state; name the
    /// leaks (why they wait, what to change) and, with two snapshots, how each group grew.
    Goroutines(goroutines::GoroutinesCmd),
    /// Print a shell completion script for heapdoc (bash, zsh, fish, elvish, powershell).
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print heapdoc's man pages (roff), generated from the same definitions as --help: the
    /// main page, then one page per subcommand; with --dir, write each to DIR/heapdoc*.1.
    Man {
        /// Write heapdoc.1 and heapdoc-SUBCOMMAND.1 files into this directory.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

/// `heapdoc PROFILE...`: the report.
#[derive(Args, Debug, PartialEq)]
pub struct ReportCmd {
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub base: BaseArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub cost: CostArgs,
    /// Split the report by the values of profile label KEY (a `pprof.Do` label such as
    /// `handler`, or `service`/`pod` on exported profiles): each value's total, causes and
    /// top sites. See which keys a profile has with `go tool pprof -tags`.
    #[arg(long, value_name = "KEY")]
    pub by_label: Option<String>,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `heapdoc flame PROFILE...`: no --format, --color or cost flags.
#[derive(Args, Debug, PartialEq)]
pub struct FlameCmd {
    #[command(flatten)]
    pub flame: FlameArgs,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub base: BaseArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `heapdoc list REGEX PROFILE...`: text only.
#[derive(Args, Debug, PartialEq)]
pub struct ListCmd {
    /// Functions to list (regular expression on the function name).
    #[arg(value_name = "REGEX")]
    pub regex: Pattern,
    #[command(flatten)]
    pub input: InputArgs,
    #[command(flatten)]
    pub base: BaseArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `heapdoc diff BASE NEW`.
#[derive(Args, Debug, PartialEq)]
pub struct DiffCmd {
    /// The baseline profile (a path, `-` or a URL, as for the report).
    #[arg(value_name = "BASE")]
    pub base: String,
    /// The profile compared with the baseline.
    #[arg(value_name = "NEW")]
    pub new: String,
    #[command(flatten)]
    pub diff: DiffFlags,
    #[command(flatten)]
    pub read: ReadArgs,
    #[command(flatten)]
    pub analysis: AnalysisArgs,
    #[command(flatten)]
    pub evidence: EvidenceArgs,
    #[command(flatten)]
    pub format: FormatArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The request of one report from its argument groups.
fn request(
    inputs: Vec<String>,
    read: &ReadArgs,
    base: &BaseArgs,
    analysis: &AnalysisArgs,
    cost: Option<&CostArgs>,
) -> ReportRequest {
    ReportRequest {
        inputs,
        base: base.base_profile.clone(),
        cpu: cost.and_then(|c| c.cpu.clone()),
        decode: read.decode_options(),
        fetch: read.fetch_options(),
        analyze: analysis.analyze_options(),
        requests: cost.and_then(|c| c.requests),
        rps: cost.and_then(|c| c.rps),
    }
}

impl ReadArgs {
    /// Fetch flags given while no input is a URL are usage errors: they would be silently
    /// ignored (issue 18).
    pub fn check_applies(&self, inputs: &[&String]) -> anyhow::Result<()> {
        if inputs.iter().any(|s| heapdoc::source::is_url(s)) {
            return Ok(());
        }
        let f = &self.fetch;
        let given = [
            ("--seconds", f.seconds.is_some()),
            ("--timeout", f.timeout.is_some()),
            ("--header", !f.headers.is_empty()),
            ("--bearer-env", f.bearer_env.is_some()),
            ("--insecure", f.insecure),
            ("--cacert", f.cacert.is_some()),
            ("--cert", f.cert.is_some()),
            ("--key", f.key.is_some()),
            ("--save", f.save.is_some()),
            ("--no-save", f.no_save),
        ];
        let flags: Vec<&str> = given
            .iter()
            .filter(|(_, on)| *on)
            .map(|(f, _)| *f)
            .collect();
        match flags.as_slice() {
            [] => {}
            [flag] => anyhow::bail!("{flag} applies to URL inputs only, and no input is a URL"),
            _ => anyhow::bail!(
                "{} apply to URL inputs only, and no input is a URL",
                flags.join(", ")
            ),
        }
        Ok(())
    }
}

impl ReportCmd {
    pub fn request(&self) -> anyhow::Result<ReportRequest> {
        let mut inputs: Vec<&String> = self.input.profiles.iter().collect();
        inputs.extend(&self.base.base_profile);
        inputs.extend(&self.cost.cpu);
        self.input.read.check_applies(&inputs)?;
        Ok(self.request_unchecked())
    }

    fn request_unchecked(&self) -> ReportRequest {
        let mut r = request(
            self.input.profiles.clone(),
            &self.input.read,
            &self.base,
            &self.analysis,
            Some(&self.cost),
        );
        r.analyze.by_label = self.by_label.clone();
        r
    }
}

impl FlameCmd {
    pub fn request(&self) -> anyhow::Result<ReportRequest> {
        let mut inputs: Vec<&String> = self.input.profiles.iter().collect();
        inputs.extend(&self.base.base_profile);
        self.input.read.check_applies(&inputs)?;
        Ok(request(
            self.input.profiles.clone(),
            &self.input.read,
            &self.base,
            &self.analysis,
            None,
        ))
    }
}

impl ListCmd {
    pub fn request(&self) -> anyhow::Result<ReportRequest> {
        let mut inputs: Vec<&String> = self.input.profiles.iter().collect();
        inputs.extend(&self.base.base_profile);
        self.input.read.check_applies(&inputs)?;
        if matches!(self.analysis.granularity, args::GranularityArg::Functions) {
            anyhow::bail!(
                "--granularity functions does not apply to list, which shows source lines"
            );
        }
        Ok(request(
            self.input.profiles.clone(),
            &self.input.read,
            &self.base,
            &self.analysis,
            None,
        ))
    }
}

impl DiffCmd {
    /// The requests of the two sides: the same options, one input each.
    pub fn requests(&self) -> anyhow::Result<(ReportRequest, ReportRequest)> {
        self.read.check_applies(&[&self.base, &self.new])?;
        Ok(self.requests_unchecked())
    }

    fn requests_unchecked(&self) -> (ReportRequest, ReportRequest) {
        let none = BaseArgs { base_profile: None };
        let side =
            |input: &String| request(vec![input.clone()], &self.read, &none, &self.analysis, None);
        (side(&self.base), side(&self.new))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use heapdoc::analyze::diff::DiffOptions;
    use heapdoc::analyze::AnalyzeOptions;
    use heapdoc::evidence::EvidenceOptions;
    use heapdoc::render::flame::FlameOptions;
    use heapdoc::render::Format;
    use heapdoc::source::http::Save;
    use std::time::Duration;

    #[test]
    fn clap_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn bare_parse_gives_the_stage_defaults() {
        let cli = Cli::try_parse_from(["heapdoc", "x.pb.gz"]).unwrap();
        assert_eq!(cli.cmd, None);
        let req = cli.report.request().unwrap();
        assert_eq!(
            req,
            ReportRequest {
                inputs: vec!["x.pb.gz".into()],
                ..ReportRequest::default()
            }
        );
        assert_eq!(
            cli.report.evidence.evidence_options(),
            EvidenceOptions::default()
        );
        assert_eq!(cli.report.format.format(), Format::default());
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
        let f = cli.report.request_unchecked().fetch;
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
        assert_eq!(cli.report.request_unchecked().fetch.save, Save::Off);
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        for args in [
            &["heapdoc", "-H", "no colon", "x"][..],
            &["heapdoc", "-H", "Bad Name: v", "x"],
            &["heapdoc", "--timeout", "0", "x"],
            &["heapdoc", "--timeout", "soon", "x"],
            &["heapdoc", "--seconds", "0", "x"],
            &["heapdoc", "--save", "f", "--no-save", "x"],
            &["heapdoc", "--requests", "0", "x"],
            &["heapdoc", "--rps", "NaN", "x"],
            &["heapdoc", "--rps", "inf", "x"],
            &["heapdoc", "flame", "--min-width", "-1", "x"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?} parsed");
        }
    }

    /// Flags a subcommand does not use are refused, naming the flag (issue 15).
    #[test]
    fn flags_that_do_not_apply_are_refused() {
        for (args, flag) in [
            (
                &["heapdoc", "flame", "--format", "json", "x"][..],
                "--format",
            ),
            (&["heapdoc", "flame", "--color", "always", "x"], "--color"),
            (&["heapdoc", "flame", "--cpu", "c", "x"], "--cpu"),
            (
                &["heapdoc", "list", "--format", "markdown", "f", "x"],
                "--format",
            ),
            (
                &["heapdoc", "list", "--requests", "3", "f", "x"],
                "--requests",
            ),
            (&["heapdoc", "diff", "--base", "b", "x", "y"], "--base"),
            (&["heapdoc", "diff", "--cpu", "c", "x", "y"], "--cpu"),
            (&["heapdoc", "--fail-on", "total>+1%", "x"], "--fail-on"),
            (&["heapdoc", "--folded", "x"], "--folded"),
        ] {
            let e = Cli::try_parse_from(args).unwrap_err();
            assert!(e.use_stderr(), "{args:?}");
            assert!(e.to_string().contains(flag), "{args:?}: {e}");
        }
    }

    #[test]
    fn fetch_flags_without_a_url_are_refused() {
        let cli = Cli::try_parse_from(["heapdoc", "--seconds", "5", "file.pb.gz"]).unwrap();
        let e = cli.report.request().unwrap_err().to_string();
        assert!(e.contains("--seconds"), "{e}");
        let cli = Cli::try_parse_from(["heapdoc", "--seconds", "5", "localhost:6060"]).unwrap();
        assert!(cli.report.request().is_ok());
        let cli = Cli::try_parse_from(["heapdoc", "diff", "--insecure", "a", "b"]).unwrap();
        let Some(Command::Diff(d)) = cli.cmd else {
            panic!("no diff");
        };
        assert!(d.requests().unwrap_err().to_string().contains("--insecure"));
    }

    #[test]
    fn bare_flame_parse_gives_the_defaults() {
        let cli = Cli::try_parse_from(["heapdoc", "flame", "x.pb.gz"]).unwrap();
        let Some(Command::Flame(f)) = cli.cmd else {
            panic!("no flame subcommand: {cli:?}");
        };
        assert_eq!(f.input.profiles, ["x.pb.gz"]);
        assert_eq!(f.output.output, None);
        assert_eq!(f.flame.flame_options(), FlameOptions::default());
        assert_eq!(f.request().unwrap().analyze, AnalyzeOptions::default());
    }

    #[test]
    fn bare_diff_parse_gives_the_defaults() {
        let cli = Cli::try_parse_from(["heapdoc", "diff", "a.pb.gz", "b.pb.gz"]).unwrap();
        let Some(Command::Diff(d)) = cli.cmd else {
            panic!("no diff subcommand: {cli:?}");
        };
        assert_eq!((d.base.as_str(), d.new.as_str()), ("a.pb.gz", "b.pb.gz"));
        assert_eq!(d.diff.diff_options(d.analysis.top), DiffOptions::default());
        let (b, n) = d.requests().unwrap();
        assert_eq!(b.analyze, AnalyzeOptions::default());
        assert_eq!(
            (b.inputs, n.inputs),
            (vec!["a.pb.gz".into()], vec!["b.pb.gz".into()])
        );
        assert!(d.diff.fail_on.is_empty());
        assert_eq!(d.output.output, None);
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
        assert_eq!(d.diff.fail_on.len(), 2);
        assert_eq!(d.diff.diff_options(10).sigma, 2.0);
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
