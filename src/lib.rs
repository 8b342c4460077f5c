//! heapdoc: what a Go service allocates, where, why, and what to do about it.
//!
//! The pipeline (DESIGN.md): [`source`] -> [`decode`] -> [`model`] -> [`attribute`] ->
//! report. Each stage is a function of the one before; I/O happens only in `source` and when
//! the binary writes the rendered output.

pub mod attribute;
pub mod classify;
pub mod cli;
pub mod cost;
pub mod decode;
pub mod diff;
pub mod fetch;
pub mod flame;
pub mod model;
pub mod output;
pub mod par;
pub mod pb;
pub mod report;
pub mod source;
#[doc(hidden)]
pub mod synth;

use anyhow::{bail, Context, Result};

use attribute::{top_order, AttributeOptions, Granularity};
use classify::{ClassifyOptions, EscapeIndex, RuleSet};
use decode::DecodeOptions;
use fetch::FetchOptions;
use model::{Kind, Profile};
use report::Report;

/// A compiled regular expression that compares equal by its source text, so option structs
/// holding one stay comparable (the bare-parse-equals-defaults test).
#[derive(Clone, Debug)]
pub struct Pattern(pub regex::Regex);

impl PartialEq for Pattern {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_str() == other.0.as_str()
    }
}

impl Eq for Pattern {}

impl std::str::FromStr for Pattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        regex::Regex::new(s)
            .map(Pattern)
            .map_err(|e| e.to_string().replace('\n', " "))
    }
}

/// Options of the analysis stages, built once from the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AnalyzeOptions {
    /// `--sample-index`: a sample type name (or pprof's numeric index); None picks the default.
    pub sample_index: Option<String>,
    /// `--top`: number of sites shown (0 = all).
    pub top: usize,
    pub granularity: Granularity,
    /// `--focus`: keep only samples with a frame whose function or file matches.
    pub focus: Option<Pattern>,
    /// `--ignore`: drop samples with a frame whose function or file matches.
    pub ignore: Option<Pattern>,
    /// `--leaf-sites`: attribute to the leaf frame even when it is a runtime frame, exactly
    /// like go tool pprof's flat (by default memory profiles skip leading runtime frames).
    pub leaf_sites: bool,
    pub classify: ClassifyOptions,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            sample_index: None,
            top: 10,
            granularity: Granularity::Lines,
            focus: None,
            ignore: None,
            leaf_sites: false,
            classify: ClassifyOptions::default(),
        }
    }
}

/// Evidence beyond the profile itself, loaded once by the caller (the only I/O besides the
/// profile): the rules, the compiler's escape analysis and the source tree.
#[derive(Clone)]
pub struct Evidence {
    pub rules: RuleSet,
    pub escapes: Option<EscapeIndex>,
    pub sources: Option<source::SourceRoot>,
}

impl Default for Evidence {
    fn default() -> Self {
        Evidence {
            rules: RuleSet::builtin(),
            escapes: None,
            sources: None,
        }
    }
}

/// Reads and decodes every input, then merges them (summing samples) when there are several.
/// URL inputs are fetched with the default [`FetchOptions`].
pub fn load(specs: &[String], opts: &DecodeOptions) -> Result<(Profile, Vec<String>)> {
    load_with(specs, opts, &FetchOptions::default())
}

/// [`load`] with the options for URL inputs.
pub fn load_with(
    specs: &[String],
    opts: &DecodeOptions,
    fetch: &FetchOptions,
) -> Result<(Profile, Vec<String>)> {
    if let fetch::Save::File(path) = &fetch.save {
        let urls = specs.iter().filter(|s| source::is_url(s)).count();
        if urls > 1 {
            bail!("--save {} keeps one fetched profile, but {urls} inputs are URLs; drop --save to keep timestamped copies (see --help)", path.display());
        }
    }
    let load_one = |spec: &String| -> Result<(Profile, String)> {
        // A gzipped file is decoded while it is decompressed, never held whole (issue 9).
        if !source::is_url(spec) {
            if let Some(open) = source::gzip_file(spec, opts.max_size)? {
                let p = decode::decode_gzip(open, opts).with_context(|| spec.clone())?;
                return Ok((p, spec.clone()));
            }
        }
        let input = source::open(spec, opts.max_size, fetch)?;
        let p = decode::decode(&input.bytes, opts).with_context(|| input.name.clone())?;
        Ok((p, input.name))
    };
    // Inputs are read and decoded in parallel (issue 8): worker w takes inputs w, w+k, ...,
    // and results go back to their input's slot, so the merge order (and the first error
    // reported) is the command line's whatever the timing.
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(specs.len());
    let mut results: Vec<Option<Result<(Profile, String)>>> = Vec::new();
    if workers <= 1 {
        results.extend(specs.iter().map(|s| Some(load_one(s))));
    } else {
        results.resize_with(specs.len(), || None);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|w| {
                    let load_one = &load_one;
                    scope.spawn(move || {
                        (w..specs.len())
                            .step_by(workers)
                            .map(|i| (i, load_one(&specs[i])))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            for h in handles {
                match h.join() {
                    Ok(done) => {
                        for (i, r) in done {
                            results[i] = Some(r);
                        }
                    }
                    Err(panic) => std::panic::resume_unwind(panic),
                }
            }
        });
    }
    let mut profiles = Vec::with_capacity(specs.len());
    let mut names = Vec::with_capacity(specs.len());
    for r in results {
        let (p, name) = r.context("an input was not loaded")??;
        profiles.push(p);
        names.push(name);
    }
    let merged = model::merge(profiles).context("merging inputs")?;
    Ok((merged, names))
}

/// The sample type a report uses, and why when heapdoc chose it.
pub fn choose_sample_index(
    p: &Profile,
    requested: Option<&str>,
) -> Result<(usize, Option<String>)> {
    let n = p.sample_types.len();
    if n == 0 {
        bail!("the profile has no sample types");
    }
    if let Some(name) = requested {
        return match p.sample_type_index(name) {
            Some(i) => Ok((i, None)),
            None => {
                let valid: Vec<&str> = (0..n).map(|i| p.sample_type_name(i)).collect();
                bail!(
                    "--sample-index {name:?} is not in this profile; valid: {}",
                    valid.join(", ")
                )
            }
        };
    }
    let kind = p.kind();
    if matches!(kind, Kind::Heap | Kind::Allocs) {
        if let Some(i) = p.sample_type_index("alloc_space") {
            let why = match kind {
                Kind::Heap => "heapdoc's default for Go heap profiles: GC pressure follows the allocation rate; go tool pprof shows inuse_space, use --sample-index=inuse_space for live memory",
                _ => "the allocs profile's default: GC pressure follows the allocation rate",
            };
            return Ok((i, Some(why.to_string())));
        }
    }
    if let Some(i) = p.default_sample_type {
        return Ok((i, Some("the profile's default_sample_type".to_string())));
    }
    Ok((
        n - 1,
        (n > 1).then(|| "the last sample type, as go tool pprof chooses".to_string()),
    ))
}

/// The object-count type paired with a space type (alloc_space -> alloc_objects).
fn objects_index(p: &Profile, index: usize) -> Option<usize> {
    let name = p.sample_type_name(index);
    let paired = if let Some(prefix) = name.strip_suffix("_space") {
        format!("{prefix}_objects")
    } else if name == "space" {
        "objects".to_string()
    } else if name == "alloc_size" {
        "alloc_samples".to_string()
    } else {
        return None;
    };
    p.sample_type_index(&paired)
}

/// Runs attribution and assembles the report data.
pub fn analyze(profile: Profile, inputs: Vec<String>, opts: &AnalyzeOptions) -> Result<Report> {
    analyze_with(profile, inputs, opts, Evidence::default())
}

/// [`analyze`] with evidence from rules, escape analysis and sources.
pub fn analyze_with(
    profile: Profile,
    inputs: Vec<String>,
    opts: &AnalyzeOptions,
    evidence: Evidence,
) -> Result<Report> {
    let (sample_index, sample_index_reason) =
        choose_sample_index(&profile, opts.sample_index.as_deref())?;
    let mut profile = profile;
    let mut notes = Vec::new();
    if opts.focus.is_some() || opts.ignore.is_some() {
        let before = profile.totals();
        let focus = opts
            .focus
            .as_ref()
            .map(|re| profile.locations_matching(&re.0));
        let ignore = opts
            .ignore
            .as_ref()
            .map(|re| profile.locations_matching(&re.0));
        // Decided once per distinct stack, then applied to the samples.
        let stacks = &profile.samples;
        let keep: Vec<bool> = (0..stacks.stack_count() as u32)
            .map(|k| {
                let stack = stacks.stack(k);
                focus
                    .as_ref()
                    .is_none_or(|m| stack.iter().any(|l| m[l.0 as usize]))
                    && ignore
                        .as_ref()
                        .is_none_or(|m| !stack.iter().any(|l| m[l.0 as usize]))
            })
            .collect();
        profile.retain_samples(|s| keep[s.stack as usize]);
        let after = profile.totals();
        let flags: Vec<String> = [("--focus", &opts.focus), ("--ignore", &opts.ignore)]
            .iter()
            .filter_map(|(f, re)| re.as_ref().map(|re| format!("{f}={}", re.0.as_str())))
            .collect();
        let i = sample_index;
        if before[i] != 0 {
            notes.push(format!(
                "{} kept {:.2}% of {} ({} of {})",
                flags.join(" "),
                report::percent(after[i], before[i]),
                profile.sample_type_name(i),
                report::human(after[i], profile.sample_type_unit(i)),
                report::human(before[i], profile.sample_type_unit(i)),
            ));
        }
    }
    let kind = profile.kind();
    let totals = profile.totals();
    let attr_opts = AttributeOptions {
        granularity: opts.granularity,
        sample_index,
        objects_index: if kind.is_memory() {
            objects_index(&profile, sample_index)
        } else {
            None
        },
        skip_runtime: attribute::skips_runtime(kind) && !opts.leaf_sites,
    };
    // Attribution and classification share one pass over the stacks (issue 9).
    let table = attribute::site_table(&profile, &attr_opts);
    let classifier = classify::Classifier::new(
        &profile,
        &table.sites,
        evidence.rules,
        &opts.classify,
        evidence.escapes.as_ref(),
        evidence
            .sources
            .as_ref()
            .map(|s| s as &dyn classify::LineSource),
    );
    let (mut attribution, decided, locals) =
        attribute::attribute_visiting(&profile, &attr_opts, table, &classifier);
    let classification = classifier.finish(
        &attribution,
        decided,
        locals,
        sample_index,
        attr_opts.objects_index,
    );
    let mut order = top_order(&profile, &attribution);
    // Sites with nothing attributed (only on stacks as callers) are not allocation sites.
    order.retain(|id| {
        let s = &attribution.sites[id.0 as usize];
        s.flat != 0 || s.samples > 0
    });
    let site_count = order.len();
    if opts.top > 0 {
        order.truncate(opts.top);
    }
    attribution.mark_inline(&profile, sample_index, &order);
    if totals[sample_index] == 0 {
        // Prefer a type in the same unit (inuse_space -> alloc_space).
        let unit = profile.sample_type_unit(sample_index);
        let nonzero = |i: &usize| totals[*i] != 0;
        let other = (0..totals.len())
            .filter(nonzero)
            .find(|&i| profile.sample_type_unit(i) == unit)
            .or_else(|| (0..totals.len()).find(nonzero));
        if let Some(other) = other {
            notes.push(format!(
                "{} totals 0 (inuse values are 0 before the first GC); --sample-index={} shows {}",
                profile.sample_type_name(sample_index),
                profile.sample_type_name(other),
                report::human(totals[other], profile.sample_type_unit(other))
            ));
        }
    }
    if attribution.unattributed != 0 {
        notes.push(format!(
            "{} is in samples without a stack and has no site",
            report::human(
                attribution.unattributed,
                profile.sample_type_unit(sample_index)
            )
        ));
    }
    if !classification.ambiguous_paths.is_empty() {
        notes.push(format!(
            "escape analysis not joined for {} (matches several compiler files equally well; pass the right --escapes file)",
            classification.ambiguous_paths.join(", ")
        ));
    }
    let cpu =
        (kind == Kind::Cpu).then(|| attribute::cpu_costs(&profile, &attribution, sample_index));
    Ok(Report {
        cost: None,
        rates: None,
        sources: evidence.sources,
        cpu,
        classification,
        kind,
        sample_index,
        sample_index_reason,
        totals,
        attribution,
        top: order,
        site_count,
        notes,
        inputs,
        profile,
    })
}

/// The whole default report from command-line arguments: load (subtracting `--base`),
/// analyze, and add the cost estimate (`--cpu`) and rates (`--requests`, `--rps`).
pub fn run_report(profiles: &[String], args: &cli::AnalysisArgs) -> Result<Report> {
    run_report_with(profiles, args, args.evidence()?)
}

/// [`run_report`] with evidence already loaded, so a caller analyzing several inputs (`diff`)
/// reads the rules and escape analysis, and runs `--explain`'s build, once.
pub fn run_report_with(
    profiles: &[String],
    args: &cli::AnalysisArgs,
    evidence: Evidence,
) -> Result<Report> {
    // The CPU profile of `--cpu` is classified with the same rules and compiler reasons.
    let cpu_evidence = args.cpu.as_ref().map(|_| evidence.clone());
    let (decode, fetch) = (args.decode_options(), args.fetch_options());
    let (mut profile, names) = load_with(profiles, &decode, &fetch)?;
    if let Some(base) = &args.base_profile {
        let (b, _) = load_with(std::slice::from_ref(base), &decode, &fetch)?;
        profile = model::subtract(profile, b).with_context(|| format!("--base {base}"))?;
    }
    let opts = args.analyze_options();
    let mut report = analyze_with(profile, names, &opts, evidence)?;
    if let Some(cpu) = &args.cpu {
        let (p, n) = load_with(std::slice::from_ref(cpu), &decode, &fetch)?;
        if p.kind() != Kind::Cpu {
            bail!(
                "--cpu {cpu}: a {} profile, not a CPU profile",
                p.kind().describe()
            );
        }
        let cpu_opts = AnalyzeOptions {
            sample_index: None,
            focus: None,
            ignore: None,
            ..opts.clone()
        };
        let cpu_report = analyze_with(p, n, &cpu_opts, cpu_evidence.unwrap_or_default())?;
        report.cost = cost::estimate(&report, &cpu_report);
    }
    if report.kind.is_memory() {
        report.rates = cost::rates(&report, args.requests, args.rps);
    }
    Ok(report)
}
