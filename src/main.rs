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
use heapdoc::{output, pipeline};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    heapdoc::source::http::set_observer(Box::new(cli::progress::StderrObserver::new()));
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
            say(&format!("heapdoc: {}", escape_terminal(&msg)));
            ExitCode::from(2)
        }
    }
}

/// One line on stderr. A closed or broken stderr must not turn an error into a panic
/// (`eprintln!` panics on EPIPE; issue 16): the message is then dropped.
fn say(line: &str) {
    use std::io::Write;
    let mut err = io::stderr().lock();
    let _ = writeln!(err, "{line}");
}

/// Refuses an output file that is one of the request's inputs (before anything is read).
/// The report of one subcommand's request: its `-o` checked against the inputs first, the
/// evidence chosen for it (issue 18's defaults), and the notices that choice printed.
fn report_for(
    req: &pipeline::ReportRequest,
    output: &cli::args::OutputArgs,
    evidence: &cli::args::EvidenceArgs,
    analysis: &cli::args::AnalysisArgs,
) -> anyhow::Result<(
    heapdoc::analyze::Report,
    heapdoc::analyze::classify::ClassifyInputs,
)> {
    guard_output("-o", output.output.as_deref(), &[req])?;
    let (report, evidence, notices) = pipeline::report_auto(
        req,
        &evidence.evidence_options().with_modules(&analysis.module),
    )?;
    tell(&notices);
    Ok((report, evidence))
}

fn guard_output(
    flag: &str,
    out: Option<&std::path::Path>,
    reqs: &[&pipeline::ReportRequest],
) -> anyhow::Result<()> {
    let Some(out) = out else { return Ok(()) };
    let mut inputs: Vec<&str> = Vec::new();
    for r in reqs {
        inputs.extend(r.inputs.iter().map(String::as_str));
        inputs.extend(r.base.as_deref());
        inputs.extend(r.cpu.as_deref());
    }
    output::check_not_input(flag, out, &inputs)
}

fn run(cli: &Cli) -> anyhow::Result<ExitCode> {
    // Every command renders fully before writing, so an error never leaves a partial output.
    let mut buf = Vec::new();
    let output = match &cli.cmd {
        Some(Command::Diff(diff)) => return run_diff(diff),
        Some(Command::Goroutines(cmd)) => {
            let (buf, breaches) = cmd.run(cmd.format.color(cmd.output.to_file()))?;
            output::emit(cmd.output.output.as_deref(), &buf)?;
            for b in &breaches {
                eprintln!("heapdoc: {}", escape_terminal(b));
            }
            return Ok(if breaches.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            });
        }
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
            let (report, _) =
                report_for(&cmd.request()?, &cmd.output, &cmd.evidence, &cmd.analysis)?;
            let opts = cmd.flame.flame_options();
            if cmd.flame.folded {
                flame::write_folded(&report, &opts, &mut buf)?;
            } else {
                flame::write_svg(&report, &opts, &mut buf)?;
            }
            &cmd.output
        }
        Some(Command::List(cmd)) => {
            let (report, evidence) =
                report_for(&cmd.request()?, &cmd.output, &cmd.evidence, &cmd.analysis)?;
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
            let (report, _) =
                report_for(&cmd.request()?, &cmd.output, &cmd.evidence, &cmd.analysis)?;
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
    // Both sides get the same options and evidence: chosen for NEW (its module's escape
    // analysis by default, issue 18), then used for BASE.
    let (base_req, new_req) = cmd.requests()?;
    let out = cmd
        .output
        .output
        .as_deref()
        .filter(|p| p.as_os_str() != "-");
    guard_output("-o", out, &[&base_req, &new_req])?;
    guard_output("--svg", cmd.diff.svg.as_deref(), &[&base_req, &new_req])?;
    if let (Some(o), Some(s)) = (out, &cmd.diff.svg) {
        output::check_distinct(("-o", o), ("--svg", s))?;
    }
    let (new, evidence, notices) = pipeline::report_auto(
        &new_req,
        &cmd.evidence
            .evidence_options()
            .with_modules(&cmd.analysis.module),
    )
    .context("NEW")?;
    let base = pipeline::report(&base_req, &evidence).context("BASE")?;
    tell(&notices);
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
    // Both files are prepared before either is put in place: a failure (an --svg in a missing
    // directory) leaves neither behind.
    let staged_svg = match &cmd.diff.svg {
        Some(path) => {
            Some(output::stage(path, &svg).with_context(|| format!("--svg {}", path.display()))?)
        }
        None => None,
    };
    let staged_out = match out {
        Some(path) => {
            Some(output::stage(path, &buf).with_context(|| format!("-o {}", path.display()))?)
        }
        None => None,
    };
    match (staged_out, out) {
        (Some(s), Some(path)) => s
            .commit()
            .with_context(|| format!("-o {}", path.display()))?,
        _ => output::emit(None, &buf)?,
    }
    if let (Some(s), Some(path)) = (staged_svg, &cmd.diff.svg) {
        s.commit()
            .with_context(|| format!("--svg {}", path.display()))?;
    }
    for rule in &gate.unmatched {
        say(&format!(
            "heapdoc: warning: --fail-on {}: its target is in neither profile",
            escape_terminal(&rule.to_string())
        ));
    }
    for w in &gate.within_noise {
        eprintln!("heapdoc: warning: {}", escape_terminal(w));
    }
    for b in &gate.breaches {
        say(&format!("heapdoc: {}", escape_terminal(&b.message)));
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
        output::write_file(&path, &buf).with_context(|| format!("{}", path.display()))?;
    }
    Ok(())
}

/// What heapdoc did by itself (the escape analysis it ran), one stderr line each.
/// Notices on stderr; a closed or broken stderr drops them (eprintln! would panic there,
/// issue 16).
fn tell(notices: &[String]) {
    use std::io::Write as _;
    let mut err = io::stderr().lock();
    for n in notices {
        let _ = writeln!(err, "heapdoc: {}", escape_terminal(n));
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
