//! The heapdoc binary: parse arguments, run the pipeline, print errors once.

use std::io;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use heapdoc::cli::{AnalysisArgs, Cli, Command, DiffArgs};
use heapdoc::report::text::escape_terminal;
use heapdoc::report::RenderOptions;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(&cli) {
        Ok(code) => code,
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::SUCCESS;
            }
            // One line: the context chain joined, most general first.
            // Messages quote profile strings and paths: escape control characters so a
            // crafted name cannot drive the terminal or add lines (issue 10).
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            let msg = msg.join(": ").replace('\n', " ");
            eprintln!("heapdoc: {}", escape_terminal(&msg));
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    // Every command renders fully before writing, so an error never leaves a partial output.
    let mut buf = Vec::new();
    let args: &AnalysisArgs = match &cli.cmd {
        Some(Command::Diff(diff)) => return run_diff(diff),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(*shell, &mut Cli::command(), "heapdoc", &mut buf);
            heapdoc::output::emit(None, &buf)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Man) => {
            clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
            heapdoc::output::emit(None, &buf)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Flame(flame)) => {
            let report = heapdoc::run_report(&flame.report.profiles, &flame.report)?;
            let opts = flame.flame_options();
            if flame.folded {
                heapdoc::flame::write_folded(&report, &opts, &mut buf)?;
            } else {
                heapdoc::flame::write_svg(&report, &opts, &mut buf)?;
            }
            &flame.report
        }
        Some(Command::List(list)) => {
            let report = heapdoc::run_report(&list.report.profiles, &list.report)?;
            if heapdoc::report::list::render(&report, &list.regex.0, &mut buf)? == 0 {
                anyhow::bail!(
                    "no function with allocation sites matches {:?}",
                    list.regex.0.as_str()
                );
            }
            &list.report
        }
        None => {
            let args = &cli.report;
            let report = heapdoc::run_report(&args.profiles, args)?;
            let opts = RenderOptions {
                color: args.color(is_file(args.output.as_deref())),
            };
            heapdoc::report::render_with(&report, args.format, opts, &mut buf)?;
            args
        }
    };
    heapdoc::output::emit(args.output.as_deref(), &buf)?;
    Ok(ExitCode::SUCCESS)
}

fn is_file(output: Option<&std::path::Path>) -> bool {
    output.is_some_and(|p| p.as_os_str() != "-")
}

fn run_diff(diff: &DiffArgs) -> anyhow::Result<ExitCode> {
    let args = &diff.analysis;
    // Both sides get the same options and evidence.
    let evidence = args.evidence()?;
    let base = heapdoc::run_report_with(std::slice::from_ref(&diff.base), args, evidence.clone())
        .context("BASE")?;
    let new =
        heapdoc::run_report_with(std::slice::from_ref(&diff.new), args, evidence).context("NEW")?;
    let d = heapdoc::diff::diff(&base, &new, &diff.diff_options())?;
    // The rules are checked before anything is written: a rule that cannot apply is a usage
    // error, and exit 2 writes nothing.
    let gate = heapdoc::diff::check(&d, &diff.fail_on)?;
    let opts = RenderOptions {
        color: args.color(is_file(args.output.as_deref())),
    };
    let mut buf = Vec::new();
    heapdoc::report::render_diff(&d, args.format, opts, &mut buf)?;
    let mut svg = Vec::new();
    if diff.svg.is_some() {
        let opts = heapdoc::flame::FlameOptions::default();
        heapdoc::flame::write_diff_svg(&base, &new, &d, &opts, &mut svg)?;
    }
    heapdoc::output::emit(args.output.as_deref(), &buf)?;
    if let Some(path) = &diff.svg {
        heapdoc::output::write_atomic(path, &svg)
            .with_context(|| format!("--svg {}", path.display()))?;
    }
    for rule in &gate.unmatched {
        eprintln!(
            "heapdoc: warning: --fail-on {}: its target is in neither profile",
            escape_terminal(&rule.to_string())
        );
    }
    for b in &gate.breaches {
        eprintln!("heapdoc: {}", escape_terminal(&b.message));
    }
    Ok(if gate.breaches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
