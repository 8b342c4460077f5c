//! "Your code" (issue 18): each of the engineer's own lines with everything allocated below
//! it. A Go engineer asks "which of my lines", and the allocation site is usually a library
//! frame (`compress/flate.newFastEnc` under `gzip.Writer.Write`, `reflect.mapassign` under
//! `json.Unmarshal`). Every stack is credited to its innermost frame in the engineer's own
//! code (the first from the leaf), so the lines' values add up to what the own code
//! allocates, each counted once; each line keeps its cause mix and the library sites that
//! allocate for it.
//!
//! Own code is what the classifier calls the user's ([`is_user`]): the main package plus the
//! `--module` prefixes; without them, every package outside the standard library and the
//! module cache (`/pkg/mod/`, `@v` in `-trimpath` paths, `/vendor/`), which for a service
//! built from its checkout is its main module (and any local `replace`d module).

use std::collections::HashMap;

use crate::analyze::attribute::{Attribution, SiteId};
use crate::analyze::classify::is_user;
use crate::analyze::classify::{CauseId, Classification};
use crate::model::Profile;

/// Library sites kept per own line (the rest are counted in `other_sites`).
pub const SITES_PER_LINE: usize = 3;

/// One own line and what is allocated below it.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnLine {
    /// The own frame's site (function, file, line).
    pub site: SiteId,
    /// The value of every sample whose innermost own frame this is.
    pub value: i64,
    /// The paired object count (alloc_objects for alloc_space), when the profile has one.
    pub objects: i64,
    /// Its cause mix: per cause, the value, largest first.
    pub causes: Vec<(CauseId, i64)>,
    /// The allocation sites below it (the line itself when it allocates directly), largest
    /// first, at most [`SITES_PER_LINE`].
    pub sites: Vec<(SiteId, i64)>,
    /// Allocation sites not in `sites`.
    pub other_sites: usize,
}

/// The "your code" view of a report.
#[derive(Clone, Debug, PartialEq)]
pub struct OwnCode {
    /// The `--module` prefixes own code was recognized by (with `main`); empty: the default,
    /// `main` and every package outside the standard library and the module cache.
    pub modules: Vec<String>,
    /// The value of every sample with an own frame on its stack.
    pub total: i64,
    /// Own lines before the `--top` cut.
    pub count: usize,
    /// Own lines by value descending (then site order), cut to `--top`.
    pub lines: Vec<OwnLine>,
}

/// Builds the view: each stack credited to its innermost own frame. None when no stack has
/// an own frame (a profile of a library, or one without symbols).
pub fn own_code(
    p: &Profile,
    a: &Attribution,
    c: &Classification,
    sample_index: usize,
    objects_index: Option<usize>,
    modules: &[String],
    top: usize,
) -> Option<OwnCode> {
    let own: Vec<bool> = a
        .sites
        .iter()
        .map(|s| s.func.is_some() && is_user(p.str(s.name), p.str(s.file), modules))
        .collect();
    if !own.iter().any(|&o| o) {
        return None;
    }
    // Per distinct stack: the value and objects (nothing allocated per sample).
    let n = p.samples.stack_count();
    let (mut value, mut objects) = (vec![0i128; n], vec![0i128; n]);
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        let k = s.stack as usize;
        value[k] += s.values[sample_index] as i128;
        if let Some(oi) = objects_index {
            objects[k] += s.values[oi] as i128;
        }
    }
    struct Acc {
        value: i128,
        objects: i128,
        causes: HashMap<CauseId, i128>,
        sites: HashMap<SiteId, i128>,
    }
    let mut by_line: HashMap<SiteId, Acc> = HashMap::new();
    let mut total = 0i128;
    for k in 0..n {
        let site = a.stack_site[k];
        if site == SiteId::NONE || (value[k] == 0 && objects[k] == 0) {
            continue;
        }
        let line = p
            .samples
            .stack(k as u32)
            .iter()
            .flat_map(|l| a.sites_of(l).iter().copied())
            .find(|s| own[s.0 as usize]);
        let Some(line) = line else {
            continue;
        };
        total += value[k];
        let e = by_line.entry(line).or_insert_with(|| Acc {
            value: 0,
            objects: 0,
            causes: HashMap::new(),
            sites: HashMap::new(),
        });
        e.value += value[k];
        e.objects += objects[k];
        *e.causes.entry(c.stack_cause[k]).or_insert(0) += value[k];
        *e.sites.entry(site).or_insert(0) += value[k];
    }
    let clamp = |x: i128| x.clamp(i64::MIN as i128, i64::MAX as i128) as i64;
    let mut lines: Vec<OwnLine> = by_line
        .into_iter()
        .filter(|(_, e)| e.value != 0)
        .map(|(site, e)| {
            let mut causes: Vec<(CauseId, i64)> = e
                .causes
                .into_iter()
                .map(|(c, v)| (c, clamp(v)))
                .filter(|c| c.1 != 0)
                .collect();
            causes.sort_by(|x, y| {
                y.1.unsigned_abs()
                    .cmp(&x.1.unsigned_abs())
                    .then(x.0 .0.cmp(&y.0 .0))
            });
            let mut sites: Vec<(SiteId, i64)> = e
                .sites
                .into_iter()
                .map(|(s, v)| (s, clamp(v)))
                .filter(|s| s.1 != 0)
                .collect();
            sites.sort_by(|x, y| {
                y.1.unsigned_abs()
                    .cmp(&x.1.unsigned_abs())
                    .then(x.0.cmp(&y.0))
            });
            let other_sites = sites.len().saturating_sub(SITES_PER_LINE);
            sites.truncate(SITES_PER_LINE);
            OwnLine {
                site,
                value: clamp(e.value),
                objects: clamp(e.objects),
                causes,
                sites,
                other_sites,
            }
        })
        .collect();
    // Ties broken by the site's strings, so the order does not depend on ids.
    let key = |s: SiteId| {
        let site = &a.sites[s.0 as usize];
        (p.str(site.name), p.str(site.file), site.line)
    };
    lines.sort_by(|x, y| {
        y.value
            .unsigned_abs()
            .cmp(&x.value.unsigned_abs())
            .then_with(|| key(x.site).cmp(&key(y.site)))
    });
    let count = lines.len();
    if top > 0 {
        lines.truncate(top);
    }
    Some(OwnCode {
        modules: modules.to_vec(),
        total: clamp(total),
        count,
        lines,
    })
}
