//! The whole report from plain requests: load (subtracting `--base`), analyze, and add the
//! cost estimate (`--cpu`) and rates. The binary builds a [`ReportRequest`] from its flags;
//! tests and other tools build one directly.

use anyhow::{bail, Context, Result};

use crate::analyze::classify::ClassifyInputs;
use crate::analyze::{self, cost, AnalyzeOptions, Report};
use crate::decode::DecodeOptions;
use crate::model::{self, Kind};
use crate::source::http::FetchOptions;
use crate::source::load;

/// Everything one report needs, as plain options.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReportRequest {
    /// Profiles (paths, `-`, URLs); several are merged.
    pub inputs: Vec<String>,
    /// A profile subtracted first (pprof's -base).
    pub base: Option<String>,
    /// A CPU profile of the same window, for the cost estimate.
    pub cpu: Option<String>,
    pub decode: DecodeOptions,
    pub fetch: FetchOptions,
    pub analyze: AnalyzeOptions,
    /// Requests served during the window (bytes per request).
    pub requests: Option<f64>,
    /// Requests per second during the window.
    pub rps: Option<f64>,
}

/// Loads, analyzes and completes one report. `evidence` is loaded once by the caller
/// ([`crate::evidence::load`]), so a caller analyzing several inputs (`diff`) reads the rules
/// and runs `--explain`'s build once.
pub fn report(req: &ReportRequest, evidence: &ClassifyInputs) -> Result<Report> {
    let (decode, fetch) = (&req.decode, &req.fetch);
    let (mut profile, names) = load(&req.inputs, decode, fetch)?;
    if let Some(base) = &req.base {
        let (b, _) = load(std::slice::from_ref(base), decode, fetch)?;
        profile = model::subtract(profile, b).with_context(|| format!("--base {base}"))?;
    }
    let opts = &req.analyze;
    let mut report = analyze::analyze(profile, names, opts, evidence)?;
    if let Some(cpu) = &req.cpu {
        let (p, n) = load(std::slice::from_ref(cpu), decode, fetch)?;
        if p.kind() != Kind::Cpu {
            bail!("--cpu {cpu}: a {}, not a CPU profile", p.kind().describe());
        }
        // The CPU profile is classified with the same rules and compiler reasons.
        let cpu_opts = AnalyzeOptions {
            sample_index: None,
            filters: Default::default(),
            ..opts.clone()
        };
        let cpu_report = analyze::analyze(p, n, &cpu_opts, evidence)?;
        report.cost = cost::estimate(&report, &cpu_report);
    }
    if report.kind.is_memory() {
        report.rates = cost::rates(&report, req.requests, req.rps);
    }
    Ok(report)
}
