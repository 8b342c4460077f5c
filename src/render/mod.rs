//! Formatting only: each output format renders the analysis results of [`crate::analyze`]
//! (a [`Report`], a [`Diff`], a [`Listing`]) to a writer it is given. Nothing here reads
//! files or recomputes the analysis (DESIGN.md).
//!
//! A new format is one file implementing [`Renderer`] plus one line in [`Format::renderer`].

pub mod escape;
pub mod flame;
pub mod goroutines;
pub mod json;
pub mod list;
pub mod markdown;
pub mod term;
pub mod text;

use std::io::Write;

use anyhow::{bail, Result};

use crate::analyze::diff::Diff;
use crate::analyze::goroutines::GoroutineReport;
use crate::analyze::listing::Listing;
use crate::analyze::Report;

/// Output format of the report, `diff` and `list`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
    /// A PR-ready summary (GitHub-flavored Markdown tables, a collapsible evidence section).
    Markdown,
}

impl Format {
    /// The format's name as `--format` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Json => "json",
            Format::Markdown => "markdown",
        }
    }

    /// The renderer of this format.
    pub fn renderer(self, opts: RenderOptions) -> Box<dyn Renderer> {
        match self {
            Format::Text => Box::new(text::Text { color: opts.color }),
            Format::Json => Box::new(json::Json),
            Format::Markdown => Box::new(markdown::Markdown),
        }
    }
}

/// How a report is rendered, beyond its format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI color in text output (cause names, statuses). Never used by JSON or Markdown.
    pub color: bool,
}

/// One output format. A format supports the analyses it implements; the others say so.
pub trait Renderer {
    /// The format's name, for messages.
    fn name(&self) -> &'static str;

    /// The report of one (merged) profile.
    fn report(&self, r: &Report, w: &mut dyn Write) -> Result<()>;

    /// The comparison of two reports (`heapdoc diff`).
    fn diff(&self, d: &Diff, w: &mut dyn Write) -> Result<()>;

    /// Annotated source (`heapdoc list`).
    fn listing(&self, _l: &Listing, _w: &mut dyn Write) -> Result<()> {
        bail!("the {} format cannot show a listing", self.name())
    }

    /// Goroutine groups (`heapdoc goroutines`); `top` groups in detail besides leaks and
    /// suspects (0 = all).
    fn goroutines(&self, _r: &GoroutineReport, _top: usize, _w: &mut dyn Write) -> Result<()> {
        bail!("the {} format cannot show goroutine groups", self.name())
    }
}

/// Renders `report` in `format` to `w`.
pub fn render(
    report: &Report,
    format: Format,
    opts: RenderOptions,
    w: &mut dyn Write,
) -> Result<()> {
    format.renderer(opts).report(report, w)
}

/// Renders a goroutine report in `format` to `w`.
pub fn render_goroutines(
    r: &GoroutineReport,
    format: Format,
    opts: RenderOptions,
    top: usize,
    w: &mut dyn Write,
) -> Result<()> {
    format.renderer(opts).goroutines(r, top, w)
}

/// Renders a [`Diff`] in `format` to `w`.
pub fn render_diff(d: &Diff, format: Format, opts: RenderOptions, w: &mut dyn Write) -> Result<()> {
    format.renderer(opts).diff(d, w)
}
