//! Sample filters applied before attribution: pprof's `-focus`/`-ignore` (frames) and
//! `-tagfocus`/`-tagignore` (labels), with pprof's semantics so totals agree with
//! `go tool pprof` (checked against it in tests/labels.rs).
//!
//! Every filter is decided once per distinct stack or label set, then applied to the samples
//! in one pass: no per-sample allocation.

use anyhow::Result;

use super::Pattern;
use crate::model::{Label, Profile};
use crate::units;

/// A label filter in pprof's `-tagfocus` syntax: `[KEY=]VALUE`, where VALUE is either a
/// comma-separated list of regular expressions or a numeric range (`32kb`, `:64kb`, `4mb:`,
/// `12kb:64mb`).
#[derive(Clone, Debug)]
pub struct TagFilter {
    source: String,
    key: Option<String>,
    test: TagTest,
}

#[derive(Clone, Debug)]
enum TagTest {
    /// String labels. Without a key pprof requires every expression to match some
    /// `key:value` of the sample; with a key, any expression matching a value of that key.
    Regex(Vec<regex::Regex>),
    /// Numeric labels, compared in the unit of the filter's number.
    Range {
        lo: Option<f64>,
        hi: Option<f64>,
        unit: String,
    },
}

impl PartialEq for TagFilter {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

impl Eq for TagFilter {}

impl std::str::FromStr for TagFilter {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() {
            return Err("empty label filter: want [KEY=]REGEX or [KEY=]RANGE".into());
        }
        let (key, value) = match s.split_once('=') {
            Some((k, v)) => (Some(k.to_string()), v),
            None => (None, s),
        };
        let test = match parse_range(value)? {
            Some(t) => t,
            None => TagTest::Regex(
                value
                    .split(',')
                    .map(|r| {
                        regex::Regex::new(r)
                            .map_err(|e| format!("{r:?}: {}", e.to_string().replace('\n', " ")))
                    })
                    .collect::<Result<_, _>>()?,
            ),
        };
        Ok(TagFilter {
            source: s.to_string(),
            key,
            test,
        })
    }
}

impl TagFilter {
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Does a sample with these labels match? `num_unit` gives each numeric key's unit the
    /// way pprof infers it ([`num_label_units`]).
    fn matches(&self, p: &Profile, labels: &[Label], num_unit: &dyn Fn(&str) -> String) -> bool {
        let key_of = |l: &Label| p.str(l.key);
        match &self.test {
            TagTest::Regex(res) => {
                let strings = labels.iter().filter(|l| l.str.0 != 0);
                match &self.key {
                    None => res.iter().all(|re| {
                        strings.clone().any(|l| {
                            // pprof matches "key:value" when no key is given.
                            let (k, v) = (key_of(l), p.str(l.str));
                            let mut kv = String::with_capacity(k.len() + v.len() + 1);
                            kv.push_str(k);
                            kv.push(':');
                            kv.push_str(v);
                            re.is_match(&kv)
                        })
                    }),
                    Some(key) => strings
                        .filter(|l| key_of(l) == key)
                        .any(|l| res.iter().any(|re| re.is_match(p.str(l.str)))),
                }
            }
            TagTest::Range { lo, hi, unit } => labels
                .iter()
                .filter(|l| is_numeric(l))
                .filter(|l| self.key.as_deref().is_none_or(|k| key_of(l) == k))
                .any(|l| {
                    let (v, u) = scale(l.num, &num_unit(key_of(l)), unit);
                    u == *unit && lo.is_none_or(|lo| v >= lo) && hi.is_none_or(|hi| v <= hi)
                }),
        }
    }
}

/// A numeric label, as pprof reads labels: no string value, and a number or a unit (a label
/// with neither is dropped by pprof's decoder).
fn is_numeric(l: &Label) -> bool {
    l.str.0 == 0 && (l.num != 0 || l.unit.0 != 0)
}

/// pprof's range syntax; `Ok(None)` when VALUE is not a range (then it is a regex list).
fn parse_range(value: &str) -> Result<Option<TagTest>, String> {
    let num = regex::Regex::new(r"([+-]?[0-9]+)([[:alpha:]]+)?").expect("valid");
    let found: Vec<regex::Captures> = num.captures_iter(value).take(2).collect();
    let Some(first) = found.first() else {
        return Ok(None);
    };
    let number = |c: &regex::Captures| -> Result<(f64, String), String> {
        let v: i64 = c[1]
            .parse()
            .map_err(|_| format!("{:?} is out of range", &c[1]))?;
        let u = c.get(2).map_or("", |m| m.as_str());
        Ok(scale(v, u, u))
    };
    let m0 = first.get(0).expect("whole match").as_str();
    let (v, unit) = number(first)?;
    if found.len() == 1 {
        let (lo, hi) = if value == m0 {
            (Some(v), Some(v))
        } else if value == format!("{m0}:") {
            (Some(v), None)
        } else if value == format!(":{m0}") {
            (None, Some(v))
        } else {
            return Ok(None);
        };
        return Ok(Some(TagTest::Range { lo, hi, unit }));
    }
    let m1 = found[1].get(0).expect("whole match").as_str();
    if value != format!("{m0}:{m1}") {
        return Ok(None);
    }
    let v2: i64 = found[1][1]
        .parse()
        .map_err(|_| format!("{:?} is out of range", &found[1][1]))?;
    let (v2, unit2) = scale(v2, found[1].get(2).map_or("", |m| m.as_str()), &unit);
    if unit2 != unit {
        return Ok(None);
    }
    Ok(Some(TagTest::Range {
        lo: Some(v),
        hi: Some(v2),
        unit,
    }))
}

/// pprof's unit families: (canonical name, aliases, factor to the base unit).
const FAMILIES: &[&[(&str, &[&str], f64)]] = &[
    &[
        ("B", &["b", "byte"], 1.0),
        ("kB", &["kb", "kbyte", "kilobyte"], 1024.0),
        ("MB", &["mb", "mbyte", "megabyte"], 1048576.0),
        ("GB", &["gb", "gbyte", "gigabyte"], 1073741824.0),
        ("TB", &["tb", "tbyte", "terabyte"], 1099511627776.0),
        ("PB", &["pb", "pbyte", "petabyte"], 1125899906842624.0),
    ],
    &[
        ("ns", &["ns", "nanosecond"], 1.0),
        ("us", &["μs", "us", "microsecond"], 1e3),
        ("ms", &["ms", "millisecond"], 1e6),
        ("s", &["s", "sec", "second"], 1e9),
        ("hrs", &["hour", "hr"], 3.6e12),
    ],
];

/// The family's default unit (pprof: bytes for memory, seconds for time).
const DEFAULTS: &[usize] = &[0, 3];

fn sniff(family: &[(&str, &[&str], f64)], unit: &str) -> Option<usize> {
    let mut u = unit.to_lowercase();
    if u.chars().count() > 2 {
        if let Some(t) = u.strip_suffix('s') {
            u = t.to_string();
        }
    }
    family
        .iter()
        .position(|(_, aliases, _)| aliases.contains(&u.as_str()))
}

/// pprof's `measurement.Scale`: `value` in `from` expressed in `to` (or in the family's
/// default unit when `to` is not of the family); unknown units compare raw.
fn scale(value: i64, from: &str, to: &str) -> (f64, String) {
    for (fam, &default) in FAMILIES.iter().zip(DEFAULTS) {
        if let Some(f) = sniff(fam, from) {
            let base = value as f64 * fam[f].2;
            let t = sniff(fam, to).unwrap_or(default);
            return (base / fam[t].2, fam[t].0.to_string());
        }
    }
    match to {
        "count" | "sample" | "unit" | "minimum" | "auto" => (value as f64, String::new()),
        _ => (value as f64, to.to_string()),
    }
}

/// Each numeric label key's unit, as pprof infers it: the first unit given for the key,
/// else `bytes` for `alignment` and `request`, else the key itself.
pub(crate) fn num_label_units(p: &Profile) -> std::collections::HashMap<String, String> {
    let mut units = std::collections::HashMap::new();
    for k in 0..p.samples.label_set_count() {
        for l in p.samples.labels(k as u32) {
            if !is_numeric(l) {
                continue;
            }
            let key = p.str(l.key);
            let unit = p.str(l.unit);
            match units.get_mut(key) {
                None => {
                    units.insert(key.to_string(), unit.to_string());
                }
                Some(u) if u.is_empty() => *u = unit.to_string(),
                Some(_) => {}
            }
        }
    }
    for (key, unit) in units.iter_mut() {
        if unit.is_empty() {
            *unit = match key.as_str() {
                "alignment" | "request" => "bytes".to_string(),
                _ => key.clone(),
            };
        }
    }
    units
}

/// The sample filters of one analysis.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    /// `--focus`: keep only samples with a frame whose function or file matches.
    pub focus: Option<Pattern>,
    /// `--ignore`: drop samples with a frame whose function or file matches.
    pub ignore: Option<Pattern>,
    /// `--tagfocus`: keep only samples whose labels match.
    pub tag_focus: Option<TagFilter>,
    /// `--tagignore`: drop samples whose labels match.
    pub tag_ignore: Option<TagFilter>,
}

impl Filters {
    pub fn is_empty(&self) -> bool {
        self.focus.is_none()
            && self.ignore.is_none()
            && self.tag_focus.is_none()
            && self.tag_ignore.is_none()
    }

    fn flags(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (flag, v) in [("--focus", &self.focus), ("--ignore", &self.ignore)] {
            if let Some(re) = v {
                out.push(format!("{flag}={}", re.0.as_str()));
            }
        }
        for (flag, v) in [
            ("--tagfocus", &self.tag_focus),
            ("--tagignore", &self.tag_ignore),
        ] {
            if let Some(t) = v {
                out.push(format!("{flag}={}", t.as_str()));
            }
        }
        out
    }

    /// Drops the samples the filters reject; returns a note saying how much was kept of the
    /// `sample_index` total, or None when no filter was given.
    pub fn apply(&self, profile: &mut Profile, sample_index: usize) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let before = profile.totals();
        let focus = self
            .focus
            .as_ref()
            .map(|re| profile.locations_matching(&re.0));
        let ignore = self
            .ignore
            .as_ref()
            .map(|re| profile.locations_matching(&re.0));
        let stacks = &profile.samples;
        let keep_stack: Vec<bool> = (0..stacks.stack_count() as u32)
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
        let units = num_label_units(profile);
        let unit_of = |k: &str| units.get(k).cloned().unwrap_or_else(|| k.to_string());
        let keep_labels: Vec<bool> = (0..profile.samples.label_set_count() as u32)
            .map(|k| {
                let labels = profile.samples.labels(k);
                self.tag_focus
                    .as_ref()
                    .is_none_or(|t| t.matches(profile, labels, &unit_of))
                    && self
                        .tag_ignore
                        .as_ref()
                        .is_none_or(|t| !t.matches(profile, labels, &unit_of))
            })
            .collect();
        // A sample without labels has the empty set, which `keep_labels` may not cover when
        // the store has no label set at all.
        let tag_empty = self.tag_focus.is_none();
        profile.retain_samples(|s| {
            keep_stack[s.stack as usize]
                && keep_labels
                    .get(s.labels as usize)
                    .copied()
                    .unwrap_or(tag_empty)
        });
        let after = profile.totals();
        let i = sample_index;
        let flags = self.flags().join(" ");
        Some(if before[i] == 0 {
            format!(
                "{flags}: the profile's {} is zero",
                profile.sample_type_name(i)
            )
        } else {
            format!(
                "{flags} kept {:.2}% of {} ({} of {})",
                units::percent(after[i], before[i]),
                profile.sample_type_name(i),
                units::human(after[i], profile.sample_type_unit(i)),
                units::human(before[i], profile.sample_type_unit(i)),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_parse_as_pprof_reads_them() {
        let r = |s: &str| match s.parse::<TagFilter>().unwrap().test {
            TagTest::Range { lo, hi, unit } => Some((lo, hi, unit)),
            TagTest::Regex(_) => None,
        };
        assert_eq!(r("32kb"), Some((Some(32.0), Some(32.0), "kB".into())));
        assert_eq!(r("bytes=:64kb"), Some((None, Some(64.0), "kB".into())));
        assert_eq!(r("4mb:"), Some((Some(4.0), None, "MB".into())));
        assert_eq!(
            r("12kb:64mb"),
            Some((Some(12.0), Some(65536.0), "kB".into()))
        );
        // Not a range: a regex list.
        assert_eq!(r("handler=/api/v1"), None);
        assert_eq!(r("slow,fast"), None);
    }

    #[test]
    fn scale_follows_pprof_units() {
        assert_eq!(scale(2048, "bytes", "kb"), (2.0, "kB".to_string()));
        assert_eq!(scale(1500, "ms", "s"), (1.5, "s".to_string()));
        // Unknown unit: raw value, the target unit kept.
        assert_eq!(
            scale(7, "requests", "requests"),
            (7.0, "requests".to_string())
        );
        assert_eq!(scale(7, "", ""), (7.0, String::new()));
    }

    #[test]
    fn bad_filters_are_refused_with_the_reason() {
        let e = "k=(".parse::<TagFilter>().unwrap_err();
        assert!(e.contains("\"(\""), "{e}");
        assert!("".parse::<TagFilter>().is_err());
        let e = "99999999999999999999".parse::<TagFilter>().unwrap_err();
        assert!(e.contains("out of range"), "{e}");
    }
}
