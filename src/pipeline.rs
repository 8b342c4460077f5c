//! The whole report from plain requests: load (subtracting `--base`), analyze, and add the
//! cost estimate (`--cpu`) and rates. The binary builds a [`ReportRequest`] from its flags;
//! tests and other tools build one directly.

use anyhow::{bail, Context, Result};

use crate::analyze::classify::ClassifyInputs;
use crate::analyze::{self, cost, AnalyzeOptions, Report};
use crate::decode::DecodeOptions;
use crate::evidence::EvidenceOptions;
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
    let (profile, names) = load_profile(req)?;
    complete(req, profile, names, evidence)
}

/// [`report`] with the evidence chosen for this profile ([`crate::evidence::load_for`]): by
/// default its sources under the current module, GOROOT and GOMODCACHE, and the escape
/// analysis of the current module when the profile names it (issue 18). Returns the report,
/// the evidence used (`list` reads its sources) and what was done by itself, for stderr.
pub fn report_auto(
    req: &ReportRequest,
    opts: &EvidenceOptions,
) -> Result<(Report, ClassifyInputs, Vec<String>)> {
    let (profile, names) = load_profile(req)?;
    let (evidence, notices, hint) = crate::evidence::load_for(opts, &profile)?;
    let mut report = complete(req, profile, names, &evidence)?;
    // The hint only when there is something left to explain.
    if let Some(hint) = hint {
        let c = &report.classification;
        let unclassified = c
            .rules
            .find("unclassified")
            .map_or(0, |id| c.totals[id.0 as usize].value);
        if report.kind.is_memory() && unclassified != 0 {
            report.notes.push(hint);
        }
    }
    Ok((report, evidence, notices))
}

/// The profile of a request: its inputs merged, `--base` subtracted.
fn load_profile(req: &ReportRequest) -> Result<(model::Profile, Vec<String>)> {
    let (decode, fetch) = (&req.decode, &req.fetch);
    let (mut profile, names) = load(&req.inputs, decode, fetch)?;
    if let Some(base) = &req.base {
        let (b, _) = load(std::slice::from_ref(base), decode, fetch)?;
        profile = model::subtract(profile, b).with_context(|| format!("--base {base}"))?;
    }
    Ok((profile, names))
}

/// Analyzes a loaded profile and adds the cost estimate and rates.
fn complete(
    req: &ReportRequest,
    profile: model::Profile,
    names: Vec<String>,
    evidence: &ClassifyInputs,
) -> Result<Report> {
    let (decode, fetch) = (&req.decode, &req.fetch);
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
