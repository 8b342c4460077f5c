//! The text form of a [`Listing`] (`heapdoc list REGEX`), pprof's `list` layout plus the cause
//! column and the evidence inline.

use std::io::Write;

use anyhow::Result;

use super::term::escape_terminal;
use crate::analyze::listing::Listing;
use crate::units::human;

/// Writes `l`; every name and source line is escaped for the terminal.
pub fn render(l: &Listing, w: &mut dyn Write) -> Result<()> {
    let unit = l.unit.as_str();
    for f in &l.functions {
        writeln!(
            w,
            "ROUTINE ======================== {} in {}",
            escape_terminal(&f.name),
            escape_terminal(&f.file)
        )?;
        // pprof's header: the function's flat (its own lines) and cum (with it anywhere on
        // the stack: what its callees allocate too, issue 18), and cum's share of the total.
        writeln!(
            w,
            "{:>12} {:>12} (flat, cum) {:.2}% of Total {}",
            human(f.flat, unit),
            human(f.cum, unit),
            crate::units::percent(f.cum, l.total),
            human(l.total, unit)
        )?;
        for line in &f.lines {
            let text = line.text.as_deref().unwrap_or("");
            match &line.site {
                Some(s) => {
                    let flat = if s.flat == 0 {
                        ".".to_string()
                    } else {
                        human(s.flat, unit)
                    };
                    let why = s.why.as_deref().map(|w| format!("  // {w}"));
                    writeln!(
                        w,
                        "{:>12} {:>12} {:<22} {:>5}: {}{}",
                        flat,
                        human(s.cum, unit),
                        s.cause.as_deref().unwrap_or(""),
                        line.line,
                        escape_terminal(text),
                        escape_terminal(why.as_deref().unwrap_or(""))
                    )?;
                }
                None => writeln!(
                    w,
                    "{:>12} {:>12} {:<22} {:>5}: {}",
                    ".",
                    ".",
                    "",
                    line.line,
                    escape_terminal(text)
                )?,
            }
        }
    }
    if !l.functions.is_empty() && !l.have_source {
        writeln!(
            w,
            "(source not shown: pass --source-root DIR or --explain DIR)"
        )?;
    }
    Ok(())
}
