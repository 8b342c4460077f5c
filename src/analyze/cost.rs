//! What allocation costs: CPU spent allocating and collecting, per site and per cause, and
//! allocation rates per second and per request (issue 11).
//!
//! Method (an estimate, and labelled so everywhere it is shown):
//! - From a CPU profile of the same service and window: allocation CPU is the time under
//!   `runtime.mallocgc*` (GC assists included), GC CPU is background marking, assists outside
//!   malloc, and sweeping (see `attribute::cpu_costs`).
//! - Allocation CPU goes to the heap profile's sites directly where the CPU profile attributes
//!   it to the same function and line; what the CPU profile attributes to lines the heap
//!   profile does not have is spread over all sites by their share of allocated bytes.
//! - GC CPU goes to sites by their share of allocated bytes: GC work scales with the
//!   allocation rate (each byte allocated brings the next cycle closer).
//! - Per-cause figures are the sums over each site's dominant cause.
//!
//! The per-site estimates therefore sum to exactly the measured allocation + GC CPU.

use std::collections::HashMap;

use crate::analyze::attribute::{CpuCosts, SiteId, SiteKey};
use crate::analyze::classify::CauseId;
use crate::analyze::Report;

/// CPU and rate figures for a heap/allocs report.
#[derive(Clone, Debug, Default)]
pub struct Cost {
    /// CPU profile total, in its unit (nanoseconds for Go).
    pub cpu_total: i64,
    pub alloc_cpu: i64,
    pub gc_cpu: i64,
    /// Per heap site: (site, estimated CPU, of which attributed directly). By estimate, descending.
    pub sites: Vec<(SiteId, f64, i64)>,
    /// Per cause: (cause, estimated CPU, measured allocation CPU of that cause in the CPU
    /// profile's mallocgc samples). By estimate, descending.
    pub causes: Vec<(CauseId, f64, i64)>,
    /// Allocation CPU the CPU profile attributes to lines the heap profile lacks (spread by bytes).
    pub unmatched_alloc_cpu: i64,
}

impl Cost {
    pub fn share(&self, v: f64) -> f64 {
        if self.cpu_total == 0 {
            0.0
        } else {
            v / self.cpu_total as f64
        }
    }
}

/// Estimates per-site and per-cause CPU for `heap` from `cpu` (both analyzed reports).
pub fn estimate(heap: &Report, cpu: &Report) -> Option<Cost> {
    let costs: &CpuCosts = cpu.cpu.as_ref()?;
    let bytes_total: f64 = heap
        .attribution
        .sites
        .iter()
        .map(|s| s.flat.max(0) as f64)
        .sum();
    // CPU allocation time by site key (function, file, line).
    let mut direct_by_key: HashMap<SiteKey, i64> = HashMap::new();
    for (site, _, v) in &costs.by_site {
        *direct_by_key
            .entry(SiteKey::of(
                &cpu.profile,
                &cpu.attribution.sites[site.0 as usize],
            ))
            .or_insert(0) += v;
    }
    let mut matched = 0i64;
    let mut direct = vec![0i64; heap.attribution.sites.len()];
    for (i, s) in heap.attribution.sites.iter().enumerate() {
        if s.flat == 0 {
            continue;
        }
        if let Some(v) = direct_by_key.remove(&SiteKey::of(&heap.profile, s)) {
            direct[i] = v;
            matched += v;
        }
    }
    let unmatched = costs.alloc - matched;
    let gc = costs.gc();
    let mut sites = Vec::new();
    for (i, s) in heap.attribution.sites.iter().enumerate() {
        let share = if bytes_total > 0.0 {
            s.flat.max(0) as f64 / bytes_total
        } else {
            0.0
        };
        let est = direct[i] as f64 + (unmatched + gc) as f64 * share;
        if est != 0.0 {
            sites.push((SiteId(i as u32), est, direct[i]));
        }
    }
    sites.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    // Measured allocation CPU per cause: the CPU profile's mallocgc samples, classified.
    let mut measured: HashMap<String, i64> = HashMap::new();
    let p = &cpu.profile;
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        let under_malloc = p.samples.stack(s.stack).iter().any(|l| {
            p.frames(l)
                .iter()
                .any(|f| p.func_name(f.func).starts_with("runtime.mallocgc"))
        });
        if under_malloc {
            let c = cpu
                .classification
                .cause(cpu.classification.stack_cause[s.stack as usize])
                .name
                .clone();
            *measured.entry(c).or_insert(0) += s.values[cpu.sample_index];
        }
    }
    let mut by_cause: HashMap<CauseId, f64> = HashMap::new();
    for (site, est, _) in &sites {
        if let Some(sc) = &heap.classification.site_cause[site.0 as usize] {
            *by_cause.entry(sc.cause).or_insert(0.0) += est;
        }
    }
    let mut causes: Vec<(CauseId, f64, i64)> = by_cause
        .into_iter()
        .map(|(c, v)| {
            (
                c,
                v,
                measured
                    .get(&heap.classification.cause(c).name)
                    .copied()
                    .unwrap_or(0),
            )
        })
        .collect();
    causes.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    Some(Cost {
        cpu_total: cpu.total(),
        alloc_cpu: costs.alloc,
        gc_cpu: gc,
        sites,
        causes,
        unmatched_alloc_cpu: unmatched,
    })
}

/// Standard error of a Go heap profile's byte total from its Poisson sampling.
///
/// Go samples an allocation of `s` bytes with probability `p = 1 - exp(-s/period)` and
/// scales each record by `1/p`. A record (one stack and size) that reports `B` bytes from `k`
/// sampled objects has variance `s^2 k (1-p) / p^2 = B s (1-p) / p`; records are independent,
/// so variances add. Zero for unsampled profiles (`period <= 1`) and for records of objects
/// at least ~20x the period (always sampled).
pub fn heap_sampling_stderr(p: &crate::model::Profile, bytes: usize, objects: usize) -> f64 {
    let period = p.period as f64;
    if period <= 1.0 {
        return 0.0;
    }
    let mut var = 0.0f64;
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        let v = s.values;
        let (b, n) = (v[bytes] as f64, v[objects] as f64);
        if b <= 0.0 || n <= 0.0 {
            continue;
        }
        let size = b / n;
        let prob = crate::model::heap_sample_probability(size, period);
        if prob > 0.0 {
            var += b * size * (1.0 - prob) / prob;
        }
    }
    var.sqrt()
}

/// Allocation rates of a heap report over its duration, and per request.
#[derive(Clone, Debug, PartialEq)]
pub struct Rates {
    pub seconds: Option<f64>,
    pub bytes_per_second: Option<f64>,
    pub objects_per_second: Option<f64>,
    pub requests: Option<f64>,
    pub bytes_per_request: Option<f64>,
    pub objects_per_request: Option<f64>,
    /// Standard error of the byte total from heap sampling (same unit as the total).
    pub bytes_stderr: f64,
}

/// `requests`: `--requests N`, or `--rps R` times the duration.
pub fn rates(heap: &Report, requests: Option<f64>, rps: Option<f64>) -> Option<Rates> {
    let seconds =
        (heap.profile.duration_nanos > 0).then(|| heap.profile.duration_nanos as f64 / 1e9);
    let requests = requests.or_else(|| Some(rps? * seconds?));
    if seconds.is_none() && requests.is_none() {
        return None;
    }
    let bytes = heap.total() as f64;
    let objects = heap.attribution.total_objects.map(|o| o as f64);
    let name = heap.profile.sample_type_name(heap.sample_index);
    let paired = name.strip_suffix("_space").map(|p| format!("{p}_objects"));
    let stderr = paired
        .and_then(|o| heap.profile.sample_type_index(&o))
        .map_or(0.0, |oi| {
            heap_sampling_stderr(&heap.profile, heap.sample_index, oi)
        });
    Some(Rates {
        seconds,
        bytes_per_second: seconds.map(|s| bytes / s),
        objects_per_second: seconds.and_then(|s| Some(objects? / s)),
        requests,
        bytes_per_request: requests.map(|n| bytes / n),
        objects_per_request: requests.and_then(|n| Some(objects? / n)),
        bytes_stderr: stderr,
    })
}
