//! The JSON report. Its wire types are separate from the model and documented field by field
//! in docs/json.md; `schema_version` changes when a field changes meaning or is removed.

use std::io::Write;

use anyhow::Result;
use serde::{Deserialize, Serialize};

use crate::analyze::attribute::display_name;
use crate::analyze::Report;

pub const SCHEMA_VERSION: u32 = 1;

/// Top-level JSON document.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonReport {
    pub schema_version: u32,
    /// Input names as given.
    pub inputs: Vec<String>,
    /// heap, allocs, memory, cpu, goroutine, contention, other.
    pub kind: String,
    /// Every sample type with its exact total.
    pub sample_types: Vec<JsonSampleType>,
    /// Name of the sample type the sites are measured in.
    pub sample_index: String,
    /// Why that sample type was chosen, when heapdoc chose it.
    pub sample_index_reason: Option<String>,
    pub period_type: Option<JsonSampleType>,
    pub period: i64,
    pub duration_nanos: i64,
    /// Total of `sample_index` (same as its entry in `sample_types`).
    pub total: i64,
    /// Number of sites before `--top` cut the list.
    pub site_count: usize,
    /// Causes by |value| descending over the chosen sample type.
    pub causes: Vec<JsonCause>,
    /// Sites in report order (flat descending, pprof's tie-breaks), cut to `--top`.
    pub sites: Vec<JsonSite>,
    pub notes: Vec<String>,
    /// Estimated CPU cost of allocation (`--cpu`), else null.
    pub cost: Option<JsonCost>,
    /// Allocation rates (known duration, `--requests`, `--rps`), else null.
    pub rates: Option<JsonRates>,
    /// `--by-label KEY`: the report split by that label's values; absent without the flag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by_label: Option<JsonByLabel>,
    /// "Your code": the engineer's own lines and what is allocated below each (memory
    /// profiles with own frames); absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub your_code: Option<JsonOwnCode>,
}

/// The "your code" view (docs/json.md).
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonOwnCode {
    /// `--module` prefixes (with `main`); empty for the default (main and every package
    /// outside the standard library and the module cache).
    pub modules: Vec<String>,
    /// The value of every sample with an own frame on its stack.
    pub total: i64,
    /// Own lines before the `--top` cut.
    pub line_count: usize,
    /// By value descending, cut to `--top`.
    pub lines: Vec<JsonOwnLine>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonOwnLine {
    pub function: String,
    pub file: String,
    pub line: i64,
    /// Everything allocated with this as the innermost own frame.
    pub value: i64,
    pub objects: Option<i64>,
    /// The cause mix, by value descending.
    pub causes: Vec<JsonOwnCause>,
    /// The allocation sites below it (itself when it allocates directly), at most 3.
    pub allocated_in: Vec<JsonOwnSite>,
    /// Allocation sites beyond `allocated_in`.
    pub other_sites: usize,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonOwnCause {
    pub cause: String,
    pub value: i64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonOwnSite {
    pub function: String,
    pub file: String,
    pub line: i64,
    pub value: i64,
}

fn your_code(r: &Report, o: &crate::analyze::own::OwnCode) -> JsonOwnCode {
    let p = &r.profile;
    let at = |id: crate::analyze::attribute::SiteId| {
        let s = &r.attribution.sites[id.0 as usize];
        let f = p.str(s.name);
        (
            if f.is_empty() { "<unknown>" } else { f }.to_string(),
            p.str(s.file).to_string(),
            s.line,
        )
    };
    JsonOwnCode {
        modules: o.modules.clone(),
        total: o.total,
        line_count: o.count,
        lines: o
            .lines
            .iter()
            .map(|l| {
                let (function, file, line) = at(l.site);
                JsonOwnLine {
                    function,
                    file,
                    line,
                    value: l.value,
                    objects: r.attribution.total_objects.map(|_| l.objects),
                    causes: l
                        .causes
                        .iter()
                        .map(|&(c, value)| JsonOwnCause {
                            cause: r.classification.cause(c).name.clone(),
                            value,
                        })
                        .collect(),
                    allocated_in: l
                        .sites
                        .iter()
                        .map(|&(id, value)| {
                            let (function, file, line) = at(id);
                            JsonOwnSite {
                                function,
                                file,
                                line,
                                value,
                            }
                        })
                        .collect(),
                    other_sites: l.other_sites,
                }
            })
            .collect(),
    }
}

/// The report split by the values of one label (`--by-label`).
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonByLabel {
    pub key: String,
    /// Groups by |total| descending.
    pub groups: Vec<JsonLabelGroup>,
    /// Distinct values beyond the 20 largest, summed into the group with `other: true`.
    pub folded_values: usize,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonLabelGroup {
    /// The label's value (numeric labels with their unit); null for samples without the key
    /// and for the folded group.
    pub value: Option<String>,
    /// The group of values folded beyond the 20 largest.
    pub other: bool,
    pub total: i64,
    pub samples: u64,
    pub causes: Vec<JsonLabelCause>,
    /// The group's top 5 sites.
    pub sites: Vec<JsonLabelSite>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonLabelCause {
    pub cause: String,
    pub value: i64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonLabelSite {
    pub function: String,
    pub file: String,
    pub line: i64,
    pub value: i64,
}

/// An estimate: allocation CPU where the CPU profile shows it, GC CPU by share of bytes.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonCost {
    /// CPU profile total (nanoseconds).
    pub cpu_total: i64,
    /// Measured time under runtime.mallocgc* (assists included).
    pub alloc_cpu: i64,
    /// Measured GC time outside allocation (marking, sweeping, assists).
    pub gc_cpu: i64,
    pub causes: Vec<JsonCauseCost>,
    pub sites: Vec<JsonSiteCost>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonCauseCost {
    pub cause: String,
    /// Estimated CPU (nanoseconds) and its share of the CPU profile total.
    pub estimated_cpu: f64,
    pub estimated_share: f64,
    /// Allocation CPU the CPU profile's own mallocgc samples attribute to this cause.
    pub measured_alloc_cpu: i64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonSiteCost {
    /// pprof's display name of the site.
    pub name: String,
    pub estimated_cpu: f64,
    pub estimated_share: f64,
    /// Allocation CPU the CPU profile attributes to this exact line.
    pub direct_alloc_cpu: i64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonRates {
    pub seconds: Option<f64>,
    pub bytes_per_second: Option<f64>,
    pub objects_per_second: Option<f64>,
    pub requests: Option<f64>,
    pub bytes_per_request: Option<f64>,
    pub objects_per_request: Option<f64>,
    /// Standard error of the byte total from heap sampling.
    pub bytes_stderr: f64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonSampleType {
    pub name: String,
    pub unit: String,
    /// Exact sum over all samples (for `period_type`: 0).
    pub total: i64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonCause {
    pub name: String,
    /// Sum of the chosen sample type over samples with this cause.
    pub value: i64,
    /// Fraction of the total without profiler overhead; null for profiler-overhead itself.
    pub share: Option<f64>,
    pub objects: Option<i64>,
    /// Number of sites with samples of this cause.
    pub sites: usize,
    pub description: String,
    pub advice: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonEvidence {
    /// stack, compiler, runtime, source or none.
    pub kind: String,
    /// The function, compiler message or source line that decided the cause.
    pub detail: String,
    /// For library evidence: the user's line that called the library (`func file:line`).
    pub caller: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonSite {
    /// Function name; `<unknown>` for unsymbolized locations.
    pub function: String,
    /// Source file as recorded in the profile ("" when unknown).
    pub file: String,
    /// Line number; 0 at `functions` granularity or when unknown.
    pub line: i64,
    /// pprof's printable name (`function file:line`), handy for matching pprof output.
    pub name: String,
    pub flat: i64,
    pub cum: i64,
    /// Objects allocated here (memory profiles with an object count), else null.
    pub objects: Option<i64>,
    /// The site's dominant cause.
    pub cause: String,
    /// Fraction of the site's value with that cause.
    pub cause_share: f64,
    pub evidence: JsonEvidence,
    /// A more specific remark, e.g. decoding into map[string]interface{}.
    pub note: Option<String>,
    /// The split of a line among its allocating expressions by object size (`--explain`'s
    /// typed model); absent when the site was not split.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<JsonPart>,
}

/// One part of a site: the bytes of one object size with one cause.
#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonPart {
    pub cause: String,
    /// In the report's sample type, like `flat`.
    pub value: i64,
    /// Objects (memory profiles with an object count), else null.
    pub objects: Option<i64>,
    /// The object size in bytes (the sample's `bytes` label); null when the profile has none.
    pub size: Option<i64>,
    /// `certain`: only this expression can have this size; `likely`: the best match;
    /// `mixed`: several causes fit and the bytes are shared among them.
    pub confidence: String,
    /// The line's expressions with this cause, in words.
    pub mechanism: String,
}

fn by_label(r: &Report, b: &crate::analyze::labels::LabelBreakdown) -> JsonByLabel {
    use crate::analyze::labels::LabelValue;
    let p = &r.profile;
    JsonByLabel {
        key: b.key.clone(),
        folded_values: b.folded_values,
        groups: b
            .groups
            .iter()
            .map(|g| JsonLabelGroup {
                value: match &g.value {
                    LabelValue::Value(v) => Some(v.clone()),
                    LabelValue::Missing | LabelValue::Other => None,
                },
                other: g.value == LabelValue::Other,
                total: g.total,
                samples: g.samples,
                causes: g
                    .causes
                    .iter()
                    .map(|&(c, value)| JsonLabelCause {
                        cause: r.classification.cause(c).name.clone(),
                        value,
                    })
                    .collect(),
                sites: g
                    .sites
                    .iter()
                    .map(|&(id, value)| {
                        let s = &r.attribution.sites[id.0 as usize];
                        JsonLabelSite {
                            function: p.str(s.name).to_string(),
                            file: p.str(s.file).to_string(),
                            line: s.line,
                            value,
                        }
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub fn build(r: &Report) -> JsonReport {
    let p = &r.profile;
    let has_objects = r.attribution.total_objects.is_some();
    JsonReport {
        schema_version: SCHEMA_VERSION,
        inputs: r.inputs.clone(),
        kind: r.kind.name().to_string(),
        sample_types: (0..p.sample_types.len())
            .map(|i| JsonSampleType {
                name: p.sample_type_name(i).to_string(),
                unit: p.sample_type_unit(i).to_string(),
                total: r.totals[i],
            })
            .collect(),
        sample_index: r.sample_name().to_string(),
        sample_index_reason: r.sample_index_reason.clone(),
        period_type: p.period_type.map(|t| JsonSampleType {
            name: p.str(t.ty).to_string(),
            unit: p.str(t.unit).to_string(),
            total: 0,
        }),
        period: p.period,
        duration_nanos: p.duration_nanos,
        total: r.total(),
        site_count: r.site_count,
        causes: r
            .classification
            .cause_order()
            .into_iter()
            .map(|id| {
                let c = r.classification.cause(id);
                let t = &r.classification.totals[id.0 as usize];
                let base = r.share_base();
                JsonCause {
                    name: c.name.clone(),
                    value: t.value,
                    share: (!r.is_excluded(id)).then(|| {
                        if base == 0 {
                            0.0
                        } else {
                            t.value as f64 / base as f64
                        }
                    }),
                    objects: has_objects.then_some(t.objects),
                    sites: t.sites,
                    description: c.description.clone(),
                    advice: c.advice.clone(),
                }
            })
            .collect(),
        sites: r
            .top
            .iter()
            .map(|&id| {
                let s = &r.attribution.sites[id.0 as usize];
                let sc = r.classification.site_cause[id.0 as usize].as_ref();
                let function = p.str(s.name);
                JsonSite {
                    function: if function.is_empty() {
                        "<unknown>".into()
                    } else {
                        function.to_string()
                    },
                    file: p.str(s.file).to_string(),
                    line: s.line,
                    name: display_name(p, s),
                    flat: s.flat,
                    cum: s.cum,
                    objects: has_objects.then_some(s.flat_objects),
                    cause: sc.map_or_else(
                        || "unclassified".to_string(),
                        |sc| r.classification.cause(sc.cause).name.clone(),
                    ),
                    cause_share: sc.map_or(0.0, |sc| sc.share),
                    evidence: sc.map_or_else(
                        || JsonEvidence {
                            kind: "none".into(),
                            detail: String::new(),
                            caller: None,
                        },
                        |sc| JsonEvidence {
                            kind: sc.evidence.kind().into(),
                            detail: evidence_detail(&sc.evidence),
                            caller: match &sc.evidence {
                                crate::analyze::classify::Evidence::Library { caller, .. } => {
                                    caller.clone()
                                }
                                _ => None,
                            },
                        },
                    ),
                    note: sc.and_then(|sc| sc.note.clone()),
                    parts: sc.map_or_else(Vec::new, |sc| {
                        sc.parts
                            .iter()
                            .map(|pt| JsonPart {
                                cause: r.classification.cause(pt.cause).name.clone(),
                                value: pt.value,
                                objects: has_objects.then_some(pt.objects),
                                size: pt.size,
                                confidence: pt.confidence.name().to_string(),
                                mechanism: pt.what.clone(),
                            })
                            .collect()
                    }),
                }
            })
            .collect(),
        notes: r.notes.clone(),
        by_label: r.by_label.as_ref().map(|b| by_label(r, b)),
        your_code: r.own.as_ref().map(|o| your_code(r, o)),
        cost: r.cost.as_ref().map(|c| JsonCost {
            cpu_total: c.cpu_total,
            alloc_cpu: c.alloc_cpu,
            gc_cpu: c.gc_cpu,
            causes: c
                .causes
                .iter()
                .map(|(cause, est, measured)| JsonCauseCost {
                    cause: r.classification.cause(*cause).name.clone(),
                    estimated_cpu: *est,
                    estimated_share: c.share(*est),
                    measured_alloc_cpu: *measured,
                })
                .collect(),
            sites: c
                .sites
                .iter()
                .map(|(site, est, direct)| JsonSiteCost {
                    name: display_name(p, &r.attribution.sites[site.0 as usize]),
                    estimated_cpu: *est,
                    estimated_share: c.share(*est),
                    direct_alloc_cpu: *direct,
                })
                .collect(),
        }),
        rates: r.rates.as_ref().map(|x| JsonRates {
            seconds: x.seconds,
            bytes_per_second: x.bytes_per_second,
            objects_per_second: x.objects_per_second,
            requests: x.requests,
            bytes_per_request: x.bytes_per_request,
            objects_per_request: x.objects_per_request,
            bytes_stderr: x.bytes_stderr,
        }),
    }
}

fn evidence_detail(e: &crate::analyze::classify::Evidence) -> String {
    use crate::analyze::classify::Evidence as E;
    match e {
        E::Profiler { function } | E::Library { function, .. } | E::Runtime { function } => {
            function.clone()
        }
        E::Compiler { message } => message.clone(),
        E::SourceLine { text } | E::Typed { text } => text.trim().to_string(),
        E::None => String::new(),
    }
}

/// The JSON format (docs/json.md): one object, fields in a fixed order.
pub struct Json;

impl super::Renderer for Json {
    fn name(&self) -> &'static str {
        "json"
    }

    fn report(&self, r: &Report, w: &mut dyn Write) -> Result<()> {
        render(r, w)
    }

    fn diff(&self, d: &crate::analyze::diff::Diff, w: &mut dyn Write) -> Result<()> {
        render_diff(d, w)
    }

    fn goroutines(
        &self,
        r: &crate::analyze::goroutines::GoroutineReport,
        _top: usize,
        w: &mut dyn Write,
    ) -> Result<()> {
        // Every group: --top cuts only text and Markdown.
        super::goroutines::write_json(r, w)
    }
}

fn render(r: &Report, w: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *w, &build(r))?;
    writeln!(w)?;
    Ok(())
}

/// `heapdoc diff --format json`: its own document, with its own `schema_version`.
pub const DIFF_SCHEMA_VERSION: u32 = 1;

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonDiff {
    pub schema_version: u32,
    /// Always "diff", to tell the document from a report.
    pub document: String,
    /// Profile kind of NEW (heap, allocs, cpu, ...).
    pub kind: String,
    /// The sample type compared.
    pub sample_index: String,
    /// Unit of every value below: the sample type's unit, `/s` appended when per second.
    pub unit: String,
    /// seconds, total or none: the normalization applied.
    pub normalize: String,
    /// Standard errors a change must exceed to be significant.
    pub sigma: f64,
    pub base: JsonDiffSide,
    pub new: JsonDiffSide,
    pub total: JsonDelta,
    /// Every cause in either profile, by |delta| descending, then name.
    pub causes: Vec<JsonCauseDelta>,
    /// Every site in either profile: significant changes first, then |delta| descending,
    /// then function, file, line.
    pub sites: Vec<JsonSiteDelta>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonDiffSide {
    pub inputs: Vec<String>,
    /// Raw (unnormalized) total of the sample type.
    pub total: i64,
    pub duration_nanos: i64,
    pub period: i64,
    /// Factor this side's values were multiplied by.
    pub factor: f64,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonDelta {
    pub base: f64,
    pub new: f64,
    /// new - base.
    pub delta: f64,
    /// delta / |base|; null when base is 0.
    pub relative: Option<f64>,
    /// Standard error of delta from sampling.
    pub stderr: f64,
    /// |delta| > sigma * stderr.
    pub significant: bool,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonCauseDelta {
    pub cause: String,
    /// regressed, improved, new, vanished or unchanged.
    pub status: String,
    pub change: JsonDelta,
    pub advice: String,
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct JsonSiteDelta {
    pub function: String,
    /// Module-relative (`-trimpath`'s form): sites match by function, file and cause.
    pub file: String,
    /// The line with most of the value in NEW (BASE for vanished sites).
    pub line: i64,
    /// That line in BASE; 0 for a new site.
    pub base_line: i64,
    /// The site's cause (part of how sites match).
    pub cause: String,
    pub status: String,
    pub change: JsonDelta,
}

fn json_delta(d: &crate::analyze::diff::Delta) -> JsonDelta {
    JsonDelta {
        base: d.base,
        new: d.new,
        delta: d.delta,
        relative: d.relative,
        stderr: d.stderr,
        significant: d.significant,
    }
}

pub fn build_diff(d: &crate::analyze::diff::Diff) -> JsonDiff {
    let side = |s: &crate::analyze::diff::Side| JsonDiffSide {
        inputs: s.inputs.clone(),
        total: s.total,
        duration_nanos: s.duration_nanos,
        period: s.period,
        factor: s.factor,
    };
    JsonDiff {
        schema_version: DIFF_SCHEMA_VERSION,
        document: "diff".into(),
        kind: d.kind.name().to_string(),
        sample_index: d.sample_index.clone(),
        unit: d.value_unit(),
        normalize: d.normalize.name().to_string(),
        sigma: d.sigma,
        base: side(&d.base),
        new: side(&d.new),
        total: json_delta(&d.total),
        causes: d
            .causes
            .iter()
            .map(|c| JsonCauseDelta {
                cause: c.cause.clone(),
                status: c.status.name().to_string(),
                change: json_delta(&c.delta),
                advice: c.advice.clone(),
            })
            .collect(),
        sites: d
            .sites
            .iter()
            .map(|s| JsonSiteDelta {
                function: s.function.clone(),
                file: s.file.clone(),
                line: s.line,
                base_line: s.base_line,
                cause: s.cause.clone(),
                status: s.status.name().to_string(),
                change: json_delta(&s.delta),
            })
            .collect(),
    }
}

fn render_diff(d: &crate::analyze::diff::Diff, w: &mut dyn Write) -> Result<()> {
    serde_json::to_writer_pretty(&mut *w, &build_diff(d))?;
    writeln!(w)?;
    Ok(())
}
