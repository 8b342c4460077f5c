//! The heapdoc binary: parse arguments, run the pipeline, print errors once.

use std::io;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use heapdoc::cli::{Cli, Command, DiffArgs, FlameArgs};
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
            let msg: Vec<String> = e.chain().map(|c| c.to_string()).collect();
            eprintln!("heapdoc: {}", msg.join(": ").replace('\n', " "));
            ExitCode::from(2)
        }
    }
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    match &cli.cmd {
        Some(Command::Flame(flame)) => return run_flame(flame),
        Some(Command::Diff(diff)) => return run_diff(diff),
        Some(Command::Completions { shell }) => {
            let mut buf = Vec::new();
            clap_complete::generate(*shell, &mut Cli::command(), "heapdoc", &mut buf);
            heapdoc::output::emit(None, &buf)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Man) => {
            let mut buf = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut buf)?;
            heapdoc::output::emit(None, &buf)?;
            return Ok(ExitCode::SUCCESS);
        }
        None => {}
    }
    let args = &cli.report;
    let evidence = args.evidence()?;
    let (profile, names) = heapdoc::load_with(
        &args.profiles,
        &args.decode_options(),
        &args.fetch_options(),
    )?;
    let report = heapdoc::analyze_with(profile, names, &args.analyze_options(), evidence)?;
    // Render fully before writing so an error never leaves a partial report.
    let opts = RenderOptions {
        color: args.color(is_file(cli.output.as_deref())),
    };
    let mut buf = Vec::new();
    heapdoc::report::render_with(&report, args.format, opts, &mut buf)?;
    heapdoc::output::emit(cli.output.as_deref(), &buf)?;
    Ok(ExitCode::SUCCESS)
}

fn is_file(output: Option<&std::path::Path>) -> bool {
    output.is_some_and(|p| p.as_os_str() != "-")
}

fn run_diff(diff: &DiffArgs) -> anyhow::Result<ExitCode> {
    let args = &diff.analysis;
    let analyze = |spec: &String, which: &str| -> anyhow::Result<heapdoc::report::Report> {
        let (profile, names) = heapdoc::load_with(
            std::slice::from_ref(spec),
            &args.decode_options(),
            &args.fetch_options(),
        )
        .with_context(|| which.to_string())?;
        // Both sides get the same options and evidence.
        heapdoc::analyze_with(profile, names, &args.analyze_options(), args.evidence()?)
            .with_context(|| which.to_string())
    };
    let base = analyze(&diff.base, "BASE")?;
    let new = analyze(&diff.new, "NEW")?;
    let d = heapdoc::diff::diff(&base, &new, &diff.diff_options())?;
    // The rules are checked before anything is written: a rule that cannot apply is a usage
    // error, and exit 2 writes nothing.
    let gate = heapdoc::diff::check(&d, &diff.fail_on)?;
    let opts = RenderOptions {
        color: args.color(is_file(diff.output.as_deref())),
    };
    let mut buf = Vec::new();
    heapdoc::report::render_diff(&d, args.format, opts, &mut buf)?;
    heapdoc::output::emit(diff.output.as_deref(), &buf)?;
    for rule in &gate.unmatched {
        eprintln!("heapdoc: warning: --fail-on {rule}: its target is in neither profile");
    }
    for b in &gate.breaches {
        eprintln!("heapdoc: {}", b.message);
    }
    Ok(if gate.breaches.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn run_flame(flame: &FlameArgs) -> anyhow::Result<ExitCode> {
    let args = &flame.report;
    let evidence = args.evidence()?;
    let (profile, names) = heapdoc::load(&args.profiles, &args.decode_options())?;
    let report = heapdoc::analyze_with(profile, names, &args.analyze_options(), evidence)?;
    let opts = flame.flame_options();
    let mut buf = Vec::new();
    if flame.folded {
        heapdoc::flame::write_folded(&report, &opts, &mut buf)?;
    } else {
        heapdoc::flame::write_svg(&report, &opts, &mut buf)?;
    }
    heapdoc::output::emit(flame.output.as_deref(), &buf)?;
    Ok(ExitCode::SUCCESS)
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
