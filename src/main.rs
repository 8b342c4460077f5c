//! The heapdoc binary: parse arguments, run the pipeline, print errors once.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;

use heapdoc::cli::{Cli, Command, FlameArgs, ListArgs};

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
        Some(Command::List(list)) => return run_list(list),
        None => {}
    }
    let args = &cli.report;
    let report = heapdoc::run_report(args)?;
    // Render fully before writing so an error never leaves a partial report.
    let mut buf = Vec::new();
    heapdoc::report::render(&report, args.format, &mut buf)?;
    let mut out = io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn run_list(list: &ListArgs) -> anyhow::Result<ExitCode> {
    let args = &list.report;
    let evidence = args.evidence()?;
    let (profile, names) = heapdoc::load_with(
        &args.profiles,
        &args.decode_options(),
        &args.fetch_options(),
    )?;
    let report = heapdoc::analyze_with(profile, names, &args.analyze_options(), evidence)?;
    let mut buf = Vec::new();
    let n = heapdoc::report::list::render(&report, &list.regex.0, &mut buf)?;
    if n == 0 {
        anyhow::bail!(
            "no function with allocation sites matches {:?}",
            list.regex.0.as_str()
        );
    }
    let mut out = io::stdout().lock();
    out.write_all(&buf)?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn run_flame(flame: &FlameArgs) -> anyhow::Result<ExitCode> {
    let args = &flame.report;
    let evidence = args.evidence()?;
    let (profile, names) = heapdoc::load_with(
        &args.profiles,
        &args.decode_options(),
        &args.fetch_options(),
    )?;
    let report = heapdoc::analyze_with(profile, names, &args.analyze_options(), evidence)?;
    let opts = flame.flame_options();
    let mut buf = Vec::new();
    if flame.folded {
        heapdoc::flame::write_folded(&report, &opts, &mut buf)?;
    } else {
        heapdoc::flame::write_svg(&report, &opts, &mut buf)?;
    }
    match &flame.output {
        Some(path) if path.as_os_str() != "-" => write_atomically(path, &buf)
            .with_context(|| format!("-o {}: cannot write", path.display()))?,
        _ => {
            let mut out = io::stdout().lock();
            out.write_all(&buf)?;
            out.flush()?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes `bytes` to a temporary file next to `path`, then renames it over `path`, so readers
/// see the old file or the whole new one and a failure leaves nothing behind.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "the output path names no file")
    })?;
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".heapdoc-{}.tmp", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}
