//! The analysis result every output format renders, and the formats themselves.
//! Formatting only: nothing here recomputes the analysis (see DESIGN.md).

pub mod json;
pub mod list;
pub mod markdown;
pub mod text;

use std::io::Write;

use anyhow::Result;

use crate::attribute::{Attribution, SiteId};
use crate::classify::{CauseId, Classification};
use crate::model::{Kind, Profile};

/// Output format (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Format {
    #[default]
    Text,
    Json,
    /// A PR-ready summary (GitHub-flavored Markdown tables, a collapsible evidence section).
    Markdown,
}

/// How a report is rendered, beyond its format.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RenderOptions {
    /// ANSI color in text output (cause names, statuses). Never used by JSON or Markdown.
    pub color: bool,
}

/// Everything a report shows, computed once by [`crate::analyze`].
#[derive(Debug)]
pub struct Report {
    pub profile: Profile,
    /// The source tree (`--source-root`, `--explain`), to show each site's line.
    pub sources: Option<crate::source::SourceRoot>,
    /// Input names as given (paths, `<stdin>`, URLs).
    pub inputs: Vec<String>,
    pub kind: Kind,
    pub sample_index: usize,
    /// Why this sample index was chosen when the user did not choose it.
    pub sample_index_reason: Option<String>,
    pub totals: Vec<i64>,
    pub attribution: Attribution,
    pub classification: Classification,
    /// Estimated CPU cost of allocation per site and cause (`--cpu`).
    pub cost: Option<crate::cost::Cost>,
    /// Allocation rates per second and per request.
    pub rates: Option<crate::cost::Rates>,
    /// Allocation and GC time, for CPU profiles.
    pub cpu: Option<crate::attribute::CpuCosts>,
    /// Sites in report order (pprof's -top order), already cut to `--top`.
    pub top: Vec<SiteId>,
    /// Number of sites before the cut.
    pub site_count: usize,
    /// Remarks for the reader, e.g. that the chosen index totals zero.
    pub notes: Vec<String>,
}

impl Report {
    /// The source text of a site's line, when a source tree was given and the file found.
    pub fn source_line(&self, site: SiteId) -> Option<String> {
        use crate::classify::LineSource;
        let s = &self.attribution.sites[site.0 as usize];
        let src = self.sources.as_ref()?;
        src.line(self.profile.str(s.file), s.line)
    }

    pub fn sample_name(&self) -> &str {
        self.profile.sample_type_name(self.sample_index)
    }

    pub fn unit(&self) -> &str {
        self.profile.sample_type_unit(self.sample_index)
    }

    pub fn total(&self) -> i64 {
        self.totals[self.sample_index]
    }

    /// The value percentages are taken of: the total without the profiler's own allocations
    /// (shown apart, issue 4).
    pub fn share_base(&self) -> i64 {
        let c = &self.classification;
        let profiler = c
            .rules
            .find("profiler-overhead")
            .map_or(0, |id| c.totals[id.0 as usize].value);
        self.total() - profiler
    }

    /// Whether a cause is left out of percentages.
    pub fn is_excluded(&self, id: CauseId) -> bool {
        self.classification.cause(id).name == "profiler-overhead"
    }
}

/// Renders `report` in `format` to `w`, without color.
pub fn render(report: &Report, format: Format, w: &mut dyn Write) -> Result<()> {
    render_with(report, format, RenderOptions::default(), w)
}

/// Renders `report` in `format` to `w`.
pub fn render_with(
    report: &Report,
    format: Format,
    opts: RenderOptions,
    w: &mut dyn Write,
) -> Result<()> {
    match format {
        Format::Text => text::render_with(report, opts, w),
        Format::Json => json::render(report, w),
        Format::Markdown => markdown::render(report, w),
    }
}

/// Renders a [`crate::diff::Diff`] in `format` to `w`.
pub fn render_diff(
    d: &crate::diff::Diff,
    format: Format,
    opts: RenderOptions,
    w: &mut dyn Write,
) -> Result<()> {
    match format {
        Format::Text => text::render_diff(d, opts, w),
        Format::Json => json::render_diff(d, w),
        Format::Markdown => markdown::render_diff(d, w),
    }
}

/// [`human`] for a normalized (fractional) value; a `/s` suffix on the unit is kept.
pub fn human_f(v: f64, unit: &str) -> String {
    let (base, per) = match unit.strip_suffix("/s") {
        Some(u) => (u, "/s"),
        None => (unit, ""),
    };
    let r = v.round();
    let r = if r.is_finite() {
        r.clamp(i64::MIN as f64, i64::MAX as f64) as i64
    } else {
        0
    };
    format!("{}{per}", human(r, base))
}

/// A relative change as `+12.34%`, or `new` when the base was 0.
pub fn relative(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("{:+.2}%", r * 100.0),
        None => "new".to_string(),
    }
}

/// Formats a value in its unit for people: 1.50 MiB, 12.3 ms, 4,096.
pub fn human(v: i64, unit: &str) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs() as f64;
    let s = match unit {
        "bytes" => {
            const U: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
            let mut x = a;
            let mut i = 0;
            while x >= 1024.0 && i < U.len() - 1 {
                x /= 1024.0;
                i += 1;
            }
            if i == 0 {
                format!("{} B", v.unsigned_abs())
            } else {
                format!("{x:.2} {}", U[i])
            }
        }
        "nanoseconds" | "microseconds" | "milliseconds" | "seconds" => {
            let ns = match unit {
                "microseconds" => a * 1e3,
                "milliseconds" => a * 1e6,
                "seconds" => a * 1e9,
                _ => a,
            };
            if ns >= 1e9 {
                format!("{:.2} s", ns / 1e9)
            } else if ns >= 1e6 {
                format!("{:.2} ms", ns / 1e6)
            } else if ns >= 1e3 {
                format!("{:.2} µs", ns / 1e3)
            } else {
                format!("{ns:.0} ns")
            }
        }
        _ => group(v.unsigned_abs()),
    };
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

/// 1234567 -> "1,234,567".
pub fn group(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Percentage of `v` in `total`, 0 when the total is 0.
pub fn percent(v: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        v as f64 * 100.0 / total as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human(512, "bytes"), "512 B");
        assert_eq!(human(1536, "bytes"), "1.50 KiB");
        assert_eq!(human(-3 * 1024 * 1024, "bytes"), "-3.00 MiB");
        assert_eq!(human(1_710_000_000, "nanoseconds"), "1.71 s");
        assert_eq!(human(1234567, "count"), "1,234,567");
    }
}
