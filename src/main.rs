//! The heapdoc binary: parse arguments, run the pipeline, print errors once.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use heapdoc::cli::{Cli, Command};
use heapdoc::report::text::escape_terminal;

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
    let args = match &cli.cmd {
        Some(Command::Flame(flame)) => {
            let report = heapdoc::run_report(&flame.report)?;
            let opts = flame.flame_options();
            if flame.folded {
                heapdoc::flame::write_folded(&report, &opts, &mut buf)?;
            } else {
                heapdoc::flame::write_svg(&report, &opts, &mut buf)?;
            }
            &flame.report
        }
        Some(Command::List(list)) => {
            let report = heapdoc::run_report(&list.report)?;
            if heapdoc::report::list::render(&report, &list.regex.0, &mut buf)? == 0 {
                anyhow::bail!(
                    "no function with allocation sites matches {:?}",
                    list.regex.0.as_str()
                );
            }
            &list.report
        }
        None => {
            let report = heapdoc::run_report(&cli.report)?;
            heapdoc::report::render(&report, cli.report.format, &mut buf)?;
            &cli.report
        }
    };
    emit(args.output.as_deref(), &buf)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the rendered output to `-o FILE` atomically, or to stdout.
fn emit(path: Option<&Path>, buf: &[u8]) -> anyhow::Result<()> {
    match path {
        Some(path) if path.as_os_str() != "-" => heapdoc::output::write_atomic(path, buf)
            .with_context(|| format!("-o {}", path.display())),
        _ => {
            let mut out = io::stdout().lock();
            out.write_all(buf)?;
            out.flush()?;
            Ok(())
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
