//! The heapdoc binary: parse arguments, run the pipeline, print errors once.

mod cli;

use std::io;
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Parser};

use cli::{Cli, Command, DiffCmd};
use heapdoc::analyze::{diff, listing};
use heapdoc::render::term::escape_terminal;
use heapdoc::render::{self, flame, RenderOptions};
use heapdoc::{evidence, output, pipeline};

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
    let output = match &cli.cmd {
        Some(Command::Diff(diff)) => return run_diff(diff),
        Some(Command::Completions { shell }) => {
            clap_complete::generate(*shell, &mut Cli::command(), "heapdoc", &mut buf);
            output::emit(None, &buf)?;
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Man { dir }) => {
            match dir {
                Some(dir) => man_pages(dir)?,
                None => {
                    let cmd = man_command();
                    clap_mangen::Man::new(cmd.clone()).render(&mut buf)?;
                    for sub in cmd.get_subcommands() {
                        let name = format!("heapdoc-{}", sub.get_name());
                        let sub = sub.clone().name(name.clone()).bin_name(name);
                        clap_mangen::Man::new(sub).render(&mut buf)?;
                    }
                    output::emit(None, &buf)?;
                }
            }
            return Ok(ExitCode::SUCCESS);
        }
        Some(Command::Flame(cmd)) => {
            let evidence = evidence::load(
                &cmd.evidence
                    .evidence_options()
                    .with_modules(&cmd.analysis.module),
            )?;
            let report = pipeline::report(&cmd.request()?, &evidence)?;
            let opts = cmd.flame.flame_options();
            if cmd.flame.folded {
                flame::write_folded(&report, &opts, &mut buf)?;
            } else {
                flame::write_svg(&report, &opts, &mut buf)?;
            }
            &cmd.output
        }
        Some(Command::List(cmd)) => {
            let evidence = evidence::load(
                &cmd.evidence
                    .evidence_options()
                    .with_modules(&cmd.analysis.module),
            )?;
            let report = pipeline::report(&cmd.request()?, &evidence)?;
            let l = listing::listing(&report, &cmd.regex.0, evidence.lines());
            if l.functions.is_empty() {
                anyhow::bail!(
                    "no function with allocation sites matches {:?}",
                    cmd.regex.0.as_str()
                );
            }
            render::list::render(&l, &mut buf)?;
            &cmd.output
        }
        None => {
            let cmd = &cli.report;
            let evidence = evidence::load(
                &cmd.evidence
                    .evidence_options()
                    .with_modules(&cmd.analysis.module),
            )?;
            let report = pipeline::report(&cmd.request()?, &evidence)?;
            let opts = RenderOptions {
                color: cmd.format.color(cmd.output.to_file()),
            };
            render::render(&report, cmd.format.format(), opts, &mut buf)?;
            &cmd.output
        }
    };
    output::emit(output.output.as_deref(), &buf)?;
    Ok(ExitCode::SUCCESS)
}

fn run_diff(cmd: &DiffCmd) -> anyhow::Result<ExitCode> {
    // Both sides get the same options and evidence.
    let evidence = evidence::load(
        &cmd.evidence
            .evidence_options()
            .with_modules(&cmd.analysis.module),
    )?;
    let (base_req, new_req) = cmd.requests()?;
    let base = pipeline::report(&base_req, &evidence).context("BASE")?;
    let new = pipeline::report(&new_req, &evidence).context("NEW")?;
    let d = diff::diff(&base, &new, &cmd.diff.diff_options(cmd.analysis.top))?;
    // The rules are checked before anything is written: a rule that cannot apply is a usage
    // error, and exit 2 writes nothing.
    let gate = diff::check(&d, &cmd.diff.fail_on)?;
    let opts = RenderOptions {
        color: cmd.format.color(cmd.output.to_file()),
    };
    let mut buf = Vec::new();
    render::render_diff(&d, cmd.format.format(), opts, &mut buf)?;
    let mut svg = Vec::new();
    if cmd.diff.svg.is_some() {
        let opts = flame::FlameOptions::default();
        flame::write_diff_svg(&base, &new, &d, &opts, &mut svg)?;
    }
    output::emit(cmd.output.output.as_deref(), &buf)?;
    if let Some(path) = &cmd.diff.svg {
        output::write_atomic(path, &svg).with_context(|| format!("--svg {}", path.display()))?;
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

/// The command as the man pages describe it: built, so clap's own `help` subcommand, which
/// the main page lists, gets its page too.
fn man_command() -> clap::Command {
    let mut cmd = Cli::command();
    cmd.build();
    cmd
}

/// `heapdoc man --dir DIR`: heapdoc.1 and one heapdoc-SUBCOMMAND.1 per subcommand, so every
/// page the main page refers to exists.
fn man_pages(dir: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("--dir {}", dir.display()))?;
    let cmd = man_command();
    let mut pages = vec![("heapdoc".to_string(), cmd.clone())];
    for sub in cmd.get_subcommands() {
        let name = format!("heapdoc-{}", sub.get_name());
        pages.push((name.clone(), sub.clone().name(name.clone()).bin_name(name)));
    }
    for (name, page) in pages {
        let mut buf = Vec::new();
        clap_mangen::Man::new(page).render(&mut buf)?;
        let path = dir.join(format!("{name}.1"));
        output::write_atomic(&path, &buf).with_context(|| format!("{}", path.display()))?;
    }
    Ok(())
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
