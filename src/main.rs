//! The heapdoc binary: parse arguments, run the pipeline, print errors once.

use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;

use heapdoc::cli::Cli;
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
    let args = &cli.report;
    let (profile, names) = heapdoc::load(&args.profiles, &args.decode_options())?;
    let report = heapdoc::analyze(profile, names, &args.analyze_options())?;
    // Render fully before writing so an error never leaves a partial report.
    let mut buf = Vec::new();
    heapdoc::report::render(&report, args.format, &mut buf)?;
    if let Some(path) = &args.output {
        heapdoc::output::write_atomic(path, &buf)?;
        return Ok(ExitCode::SUCCESS);
    }
    let mut out = io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
