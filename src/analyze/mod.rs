//! The analyses: attribution of samples to sites, classification into causes, and what is
//! built on them (cost, diff, listing). Every result is a typed value ([`Report`],
//! [`diff::Diff`], [`listing::Listing`]) that `render` formats; nothing here prints or formats
//! prose for people except the notes' numbers (through [`crate::units`]).

pub mod attribute;
pub mod classify;
pub mod cost;
pub mod diff;
pub mod filter;
pub mod goroutines;
pub mod labels;
pub mod listing;
pub mod own;
pub mod report;

use anyhow::{bail, Result};

use crate::model::{Kind, Profile};
use crate::units;
use attribute::{top_order, AttributeOptions, Granularity};
use classify::{ClassifyInputs, ClassifyOptions};

pub use report::Report;

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
    /// `--focus`, `--ignore`, `--tagfocus`, `--tagignore`.
    pub filters: filter::Filters,
    /// `--leaf-sites`: attribute to the leaf frame even when it is a runtime frame, exactly
    /// like go tool pprof's flat (by default memory profiles skip leading runtime frames).
    pub leaf_sites: bool,
    /// `--by-label KEY`: split the report by the values of this label.
    pub by_label: Option<String>,
    pub classify: ClassifyOptions,
}

impl Default for AnalyzeOptions {
    fn default() -> Self {
        AnalyzeOptions {
            sample_index: None,
            top: 10,
            granularity: Granularity::Lines,
            filters: filter::Filters::default(),
            leaf_sites: false,
            by_label: None,
            classify: ClassifyOptions::default(),
        }
    }
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

/// Runs attribution and classification with the given evidence and assembles the report.
pub fn analyze(
    profile: Profile,
    inputs: Vec<String>,
    opts: &AnalyzeOptions,
    evidence: &ClassifyInputs,
) -> Result<Report> {
    if profile.sample_types.is_empty() {
        // Named, since several inputs may be merged (issue 16, finding 24).
        bail!("{}: the profile has no sample types", inputs.join(", "));
    }
    let (sample_index, sample_index_reason) =
        choose_sample_index(&profile, opts.sample_index.as_deref())?;
    let mut profile = profile;
    let mut notes = evidence.notes.clone();
    if let Some(note) = opts.filters.apply(&mut profile, sample_index) {
        notes.push(note);
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
        evidence.rules.clone(),
        &opts.classify,
        evidence.escapes.as_ref(),
        evidence.lines(),
        evidence.typed.as_ref(),
    );
    let (mut attribution, decided, locals) =
        attribute::attribute_visiting(&profile, &attr_opts, table, &classifier);
    let mut classification = classifier.finish(
        &attribution,
        decided,
        locals,
        sample_index,
        attr_opts.objects_index,
    );
    check_sums(
        &profile,
        (sample_index, attr_opts.objects_index),
        &attribution,
        &classification,
    )?;
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
                units::human(totals[other], profile.sample_type_unit(other))
            ));
        }
    }
    if attribution.unattributed != 0 {
        notes.push(format!(
            "{} is in samples without a stack and has no site",
            units::human(
                attribution.unattributed,
                profile.sample_type_unit(sample_index)
            )
        ));
    }
    // The built-in advice for unclassified lines asks for the compiler's evidence; when it
    // was given, say what is still missing instead.
    if evidence.escapes.is_some() || evidence.typed.is_some() {
        let id = classification.rules.cause_id("unclassified");
        let cause = &mut classification.rules.causes[id.0 as usize];
        if cause.advice.contains("--explain") {
            cause.advice = if evidence.typed.is_some() {
                "The typed model found no allocating expression on these lines and the compiler no reason: check that --explain DIR holds the profiled version of the code; lines of the standard library or the module cache are modelled when --module names their packages.".to_string()
            } else {
                "The compiler's messages say nothing about these lines: check that --escapes comes from a build of the profiled version, or use --explain DIR for the typed model of each line.".to_string()
            };
        }
    }
    if classification.typed_sites == Some(0) {
        notes.push(
            "--explain: the profile names no code under the explained directory; --explain the directory of the profiled program, or name your packages with --module (e.g. --module encoding/json for the standard library's)"
                .to_string(),
        );
    }
    if !classification.ambiguous_paths.is_empty() {
        notes.push(format!(
            "escape analysis not joined for {} (matches several compiler files equally well; pass the right --escapes file)",
            classification.ambiguous_paths.join(", ")
        ));
    }
    let cpu =
        (kind == Kind::Cpu).then(|| attribute::cpu_costs(&profile, &attribution, sample_index));
    // The shown sites' source lines are read now, so rendering reads no files.
    let site_lines: std::collections::HashMap<attribute::SiteId, String> = match evidence.lines() {
        Some(src) => order
            .iter()
            .filter_map(|&id| {
                let s = &attribution.sites[id.0 as usize];
                let text = src.line(profile.str(s.file), s.line)?;
                Some((id, text))
            })
            .collect(),
        None => Default::default(),
    };
    let by_label = opts
        .by_label
        .as_deref()
        .map(|key| labels::breakdown(&profile, &attribution, &classification, sample_index, key));
    let own = kind.is_memory().then(|| {
        own::own_code(
            &profile,
            &attribution,
            &classification,
            sample_index,
            attr_opts.objects_index,
            &opts.classify.modules,
            opts.top,
        )
    });
    // The own lines' source text too, when a source tree is at hand.
    let mut site_lines = site_lines;
    if let (Some(Some(o)), Some(src)) = (&own, evidence.lines()) {
        for l in &o.lines {
            let s = &attribution.sites[l.site.0 as usize];
            if let std::collections::hash_map::Entry::Vacant(e) = site_lines.entry(l.site) {
                if let Some(text) = src.line(profile.str(s.file), s.line) {
                    e.insert(text);
                }
            }
        }
    }
    // An unclassified shown site says which evidence it lacks (issue 17), instead of only
    // "no evidence".
    let unclassified = classification.rules.find("unclassified");
    for &id in &order {
        let Some(sc) = classification.site_cause[id.0 as usize].as_mut() else {
            continue;
        };
        if Some(sc.cause) != unclassified
            || sc.evidence != classify::Evidence::None
            || sc.note.is_some()
        {
            continue;
        }
        let s = &attribution.sites[id.0 as usize];
        let (name, file) = (profile.str(s.name), profile.str(s.file));
        let mut missing = Vec::new();
        if !site_lines.contains_key(&id) {
            missing.push(format!(
                "its source line ({file}:{} is under no source root: --source-root DIR)",
                s.line
            ));
        }
        let user = classify::is_user(name, file, &opts.classify.modules);
        missing.push(if !user {
            // A library's line: --explain models it only when --module names its package.
            format!(
                "the compiler's reason for a library line (--explain DIR --module {})",
                attribute::go_package(name)
            )
        } else if evidence.typed.is_some() {
            "an allocating expression on this line in the typed model (--module PREFIX models a dependency's packages)".to_string()
        } else if evidence.escapes.is_some() {
            "a compiler message for this line (is --escapes from this build?)".to_string()
        } else {
            "the compiler's reason (--explain DIR or --escapes FILE)".to_string()
        });
        sc.note = Some(format!("missing: {}", missing.join("; ")));
    }
    Ok(Report {
        own: own.flatten(),
        by_label,
        cost: None,
        rates: None,
        site_lines,
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

/// Refuses a profile whose per-site or per-cause sums do not fit in 64 bits (the profile's
/// total does, or decoding refused it): a clamped number would be silently wrong (issue 16,
/// finding 21). Cause totals are clamped in the classification; only when one sits at a bound
/// are they summed again exactly, in one pass over the samples.
fn check_sums(
    profile: &Profile,
    (sample_index, objects_index): (usize, Option<usize>),
    a: &attribute::Attribution,
    c: &classify::Classification,
) -> Result<()> {
    let refuse = |what: &str| {
        anyhow::anyhow!(
            "the {} values of {what} sum past 64 bits (a corrupt or crafted profile); heapdoc cannot report them exactly",
            profile.sample_type_name(sample_index)
        )
    };
    if a.overflowed {
        return Err(refuse("one allocation site"));
    }
    let at_bound = |v: i64| v == i64::MAX || v == i64::MIN;
    if !c
        .totals
        .iter()
        .any(|t| at_bound(t.value) || at_bound(t.objects))
    {
        return Ok(());
    }
    let mut exact = vec![(0i128, 0i128); c.totals.len()];
    let mut cur = profile.samples.cursor();
    while let Some(s) = cur.next() {
        if a.stack_site[s.stack as usize] == attribute::SiteId::NONE {
            continue;
        }
        let e = &mut exact[c.stack_cause[s.stack as usize].0 as usize];
        e.0 += s.values[sample_index] as i128;
        e.1 += objects_index.map_or(0, |o| s.values[o] as i128);
    }
    let fits = |v: i128| i64::try_from(v).is_ok();
    if exact.iter().any(|&(v, o)| !fits(v) || !fits(o)) {
        return Err(refuse("one cause"));
    }
    Ok(())
}
