//! The analysis result every output format renders: [`Report`].

use std::collections::HashMap;

use crate::analyze::attribute::{Attribution, SiteId};
use crate::analyze::classify::{CauseId, Classification};
use crate::model::{Kind, Profile};

/// Everything a report shows, computed once by [`crate::analyze::analyze`].
#[derive(Debug)]
pub struct Report {
    pub profile: Profile,
    /// The source line of each shown site, read at analysis time when a source tree was
    /// given (`--source-root`, `--explain`); rendering reads no files.
    pub site_lines: HashMap<SiteId, String>,
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
    pub cost: Option<crate::analyze::cost::Cost>,
    /// Allocation rates per second and per request.
    pub rates: Option<crate::analyze::cost::Rates>,
    /// Allocation and GC time, for CPU profiles.
    pub cpu: Option<crate::analyze::attribute::CpuCosts>,
    /// Sites in report order (pprof's -top order), already cut to `--top`.
    pub top: Vec<SiteId>,
    /// Number of sites before the cut.
    pub site_count: usize,
    /// Remarks for the reader, e.g. that the chosen index totals zero.
    pub notes: Vec<String>,
    /// "Your code": the engineer's own lines and what is allocated below each (memory
    /// profiles with frames in the main package or `--module`).
    pub own: Option<crate::analyze::own::OwnCode>,
    /// `--by-label`: the report split by one label's values.
    pub by_label: Option<crate::analyze::labels::LabelBreakdown>,
}

impl Report {
    /// The source text of a site's line, when a source tree was given and the file found.
    pub fn source_line(&self, site: SiteId) -> Option<&str> {
        self.site_lines.get(&site).map(String::as_str)
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

    /// The value percentages are taken of: the total without the causes the rules leave out
    /// of shares (`in_shares = false`: the profiler's own allocations, shown apart, issue 4).
    pub fn share_base(&self) -> i64 {
        let c = &self.classification;
        let excluded: i64 = (0..c.rules.causes.len())
            .filter(|&i| !c.rules.causes[i].in_shares)
            .map(|i| c.totals[i].value)
            .sum();
        self.total() - excluded
    }

    /// Whether a cause is left out of percentages.
    pub fn is_excluded(&self, id: CauseId) -> bool {
        !self.classification.cause(id).in_shares
    }
}
