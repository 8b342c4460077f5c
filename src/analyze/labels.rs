//! `--by-label KEY`: the report split by the values of one profile label (a `pprof.Do`
//! handler label on CPU and goroutine profiles, a service or pod label on profiles exported by
//! continuous profilers), with each value's total, cause mix and top sites.
//!
//! Like pprof's `-tagshow`, string and numeric labels both count; a sample without the key
//! goes to a group of its own. A sample carrying the key twice counts under its first value.

use std::collections::HashMap;

use super::attribute::{Attribution, SiteId};
use super::classify::{CauseId, Classification};
use crate::model::Profile;

/// Groups shown; the rest are summed into one "other values" group.
pub const MAX_GROUPS: usize = 20;
/// Top sites listed per group.
pub const SITES_PER_GROUP: usize = 5;

#[derive(Clone, Debug)]
pub struct LabelBreakdown {
    pub key: String,
    pub groups: Vec<LabelGroup>,
    /// Distinct values folded into [`LabelValue::Other`].
    pub folded_values: usize,
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum LabelValue {
    Value(String),
    /// Samples without the key.
    Missing,
    /// Values beyond [`MAX_GROUPS`].
    Other,
}

#[derive(Clone, Debug)]
pub struct LabelGroup {
    pub value: LabelValue,
    pub total: i64,
    pub samples: u64,
    /// Causes by descending |value|.
    pub causes: Vec<(CauseId, i64)>,
    /// Top sites by descending |value|, at most [`SITES_PER_GROUP`].
    pub sites: Vec<(SiteId, i64)>,
}

/// A numeric label's value, exact and in a form `--tagfocus KEY=VALUE` reads back
/// (`401408B`, `1500ns`, `3 requests`).
fn exact(num: i64, unit: &str) -> String {
    match unit {
        "bytes" | "byte" | "b" => format!("{num}B"),
        "nanoseconds" | "nanosecond" | "ns" => format!("{num}ns"),
        "seconds" | "second" | "s" => format!("{num}s"),
        "" => num.to_string(),
        u => format!("{num} {u}"),
    }
}

/// Splits the attributed samples by the value of label `key`.
pub fn breakdown(
    p: &Profile,
    a: &Attribution,
    c: &Classification,
    sample_index: usize,
    key: &str,
) -> LabelBreakdown {
    // The group of each distinct label set, decided once.
    let mut names: Vec<LabelValue> = Vec::new();
    let mut index: HashMap<LabelValue, u32> = HashMap::new();
    let mut intern = |v: LabelValue| -> u32 {
        *index.entry(v.clone()).or_insert_with(|| {
            names.push(v);
            (names.len() - 1) as u32
        })
    };
    let missing = intern(LabelValue::Missing);
    let num_units = super::filter::num_label_units(p);
    let set_group: Vec<u32> = (0..p.samples.label_set_count() as u32)
        .map(
            |k| match p.samples.labels(k).iter().find(|l| p.str(l.key) == key) {
                None => missing,
                Some(l) if l.str.0 != 0 => intern(LabelValue::Value(p.str(l.str).to_string())),
                Some(l) => {
                    let unit = num_units.get(key).map(String::as_str).unwrap_or("");
                    intern(LabelValue::Value(exact(l.num, unit)))
                }
            },
        )
        .collect();
    let n = names.len();
    let mut totals = vec![0i64; n];
    let mut counts = vec![0u64; n];
    let mut causes: HashMap<(u32, CauseId), i64> = HashMap::new();
    let mut sites: HashMap<(u32, SiteId), i64> = HashMap::new();
    let mut cursor = p.samples.cursor();
    while let Some(s) = cursor.next() {
        let g = set_group.get(s.labels as usize).copied().unwrap_or(missing);
        let v = s.values[sample_index];
        totals[g as usize] = totals[g as usize].saturating_add(v);
        counts[g as usize] += 1;
        if let Some(&cause) = c.stack_cause.get(s.stack as usize) {
            *causes.entry((g, cause)).or_default() += v;
        }
        if let Some(&site) = a.stack_site.get(s.stack as usize) {
            if (site.0 as usize) < a.sites.len() {
                *sites.entry((g, site)).or_default() += v;
            }
        }
    }
    // Groups by descending |total|; those beyond MAX_GROUPS fold into "other values".
    let mut order: Vec<u32> = (0..n as u32).filter(|&g| counts[g as usize] > 0).collect();
    order.sort_by(|&x, &y| {
        totals[y as usize]
            .unsigned_abs()
            .cmp(&totals[x as usize].unsigned_abs())
            .then_with(|| names[x as usize].cmp(&names[y as usize]))
    });
    let folded: Vec<u32> = order.split_off(order.len().min(MAX_GROUPS));
    let mut groups: Vec<LabelGroup> = order
        .iter()
        .map(|&g| LabelGroup {
            value: names[g as usize].clone(),
            total: totals[g as usize],
            samples: counts[g as usize],
            causes: Vec::new(),
            sites: Vec::new(),
        })
        .collect();
    let mut slot = vec![usize::MAX; n];
    for (i, &g) in order.iter().enumerate() {
        slot[g as usize] = i;
    }
    if !folded.is_empty() {
        slot_fold(&mut groups, &mut slot, &folded, &totals, &counts);
    }
    let mut group_causes: Vec<HashMap<CauseId, i64>> = vec![HashMap::new(); groups.len()];
    for ((g, cause), v) in causes {
        *group_causes[slot[g as usize]].entry(cause).or_default() += v;
    }
    let mut group_sites: Vec<HashMap<SiteId, i64>> = vec![HashMap::new(); groups.len()];
    for ((g, site), v) in sites {
        *group_sites[slot[g as usize]].entry(site).or_default() += v;
    }
    for (group, (cs, ss)) in groups
        .iter_mut()
        .zip(group_causes.into_iter().zip(group_sites))
    {
        let mut cs: Vec<(CauseId, i64)> = cs.into_iter().filter(|&(_, v)| v != 0).collect();
        cs.sort_by(|x, y| {
            y.1.unsigned_abs()
                .cmp(&x.1.unsigned_abs())
                .then(x.0 .0.cmp(&y.0 .0))
        });
        group.causes = cs;
        let mut ss: Vec<(SiteId, i64)> = ss.into_iter().filter(|&(_, v)| v != 0).collect();
        ss.sort_by(|x, y| {
            y.1.unsigned_abs()
                .cmp(&x.1.unsigned_abs())
                .then(x.0 .0.cmp(&y.0 .0))
        });
        ss.truncate(SITES_PER_GROUP);
        group.sites = ss;
    }
    LabelBreakdown {
        key: key.to_string(),
        groups,
        folded_values: folded.len(),
    }
}

/// Adds the "other values" group and points the folded groups' slots at it.
fn slot_fold(
    groups: &mut Vec<LabelGroup>,
    slot: &mut [usize],
    folded: &[u32],
    totals: &[i64],
    counts: &[u64],
) {
    let other = groups.len();
    groups.push(LabelGroup {
        value: LabelValue::Other,
        total: folded.iter().map(|&g| totals[g as usize]).sum(),
        samples: folded.iter().map(|&g| counts[g as usize]).sum(),
        causes: Vec::new(),
        sites: Vec::new(),
    });
    for &g in folded {
        slot[g as usize] = other;
    }
}
