//! Causes and rules as data: the embedded `rules.toml`, extended by `--rules FILE`.

use anyhow::{anyhow, bail, Context, Result};
use regex::Regex;
use serde::Deserialize;

use super::CauseId;

/// The built-in rules file.
pub const BUILTIN: &str = include_str!("rules.toml");

/// A cause: what it is and what to do about it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cause {
    pub name: String,
    pub description: String,
    pub advice: String,
    /// Fill color in flame graphs; None picks one by hashing the name.
    pub color: Option<(u8, u8, u8)>,
    /// Whether the cause counts in percentages (false: the profiler's own allocations).
    pub in_shares: bool,
}

/// One compiled rule: a cause and the evidence patterns that select it.
#[derive(Clone, Debug)]
pub struct Rule {
    pub cause: CauseId,
    pub anywhere: Vec<Regex>,
    pub stack: Vec<Regex>,
    /// Like `stack`, for the allocating frame itself only (the site).
    pub leaf: Vec<Regex>,
    pub runtime: Vec<Regex>,
    pub line: Vec<Regex>,
    pub escape: Vec<Regex>,
    /// Patterns on frames below the matched one, each with a note index.
    pub subrules: Vec<(Vec<Regex>, u32)>,
    pub note: Option<u32>,
}

/// All causes and rules, in priority order.
#[derive(Clone, Debug)]
pub struct RuleSet {
    pub causes: Vec<Cause>,
    pub rules: Vec<Rule>,
    pub notes: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    cause: Vec<CauseDef>,
    #[serde(default)]
    rule: Vec<RuleDef>,
    /// Goroutine rules: read by `analyze::goroutines` (issue 19).
    #[serde(default, rename = "goroutine")]
    _goroutine: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CauseDef {
    name: String,
    description: String,
    advice: String,
    #[serde(default)]
    color: Option<String>,
    #[serde(default = "yes")]
    in_shares: bool,
}

fn yes() -> bool {
    true
}

/// `#rrggbb` as RGB.
fn parse_color(s: &str) -> Option<(u8, u8, u8)> {
    let h = s.strip_prefix('#')?;
    if h.len() != 6 || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let byte = |i: usize| u8::from_str_radix(&h[i..i + 2], 16).ok();
    Some((byte(0)?, byte(2)?, byte(4)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleDef {
    cause: String,
    #[serde(default)]
    anywhere: Vec<String>,
    #[serde(default)]
    stack: Vec<String>,
    #[serde(default)]
    leaf: Vec<String>,
    #[serde(default)]
    runtime: Vec<String>,
    #[serde(default)]
    line: Vec<String>,
    #[serde(default)]
    escape: Vec<String>,
    #[serde(default)]
    subrules: Vec<SubRuleDef>,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SubRuleDef {
    stack: Vec<String>,
    note: String,
}

impl RuleSet {
    /// The built-in rules.
    pub fn builtin() -> RuleSet {
        // The embedded file is tested (tests in this module); failing here is a build defect.
        Self::from_sources(&[("built-in rules", BUILTIN)])
            .unwrap_or_else(|e| panic!("built-in rules.toml: {e:#}"))
    }

    /// The built-in rules with a user's rules file applied: its causes replace same-named
    /// built-in causes, its rules are tried first.
    pub fn with_user(text: &str, origin: &str) -> Result<RuleSet> {
        Self::from_sources(&[(origin, text), ("built-in rules", BUILTIN)])
    }

    /// Sources in priority order: earlier files' rules are tried first, and earlier files'
    /// cause definitions win.
    fn from_sources(sources: &[(&str, &str)]) -> Result<RuleSet> {
        let mut files = Vec::new();
        for (origin, text) in sources {
            let f: File = toml::from_str(text)
                .map_err(|e| anyhow!("{origin}: {}", e.to_string().replace('\n', " ")))?;
            files.push((origin, f));
        }
        let mut set = RuleSet {
            causes: Vec::new(),
            rules: Vec::new(),
            notes: Vec::new(),
        };
        // Causes: built-in order first (stable report order), then new user causes.
        for (_, f) in files.iter().rev() {
            for c in &f.cause {
                if c.name.trim().is_empty() {
                    bail!("a cause has an empty name");
                }
                let color = match &c.color {
                    Some(s) => Some(parse_color(s).ok_or_else(|| {
                        anyhow!("cause {:?}: color {s:?} is not #rrggbb", c.name)
                    })?),
                    None => None,
                };
                let cause = Cause {
                    name: c.name.clone(),
                    description: c.description.clone(),
                    advice: c.advice.clone(),
                    color,
                    in_shares: c.in_shares,
                };
                match set.causes.iter_mut().find(|x| x.name == c.name) {
                    Some(existing) => *existing = cause,
                    None => set.causes.push(cause),
                }
            }
        }
        for name in ["unclassified", "runtime"] {
            if set.cause_index(name).is_none() {
                bail!("rules must define the cause {name:?}");
            }
        }
        for (origin, f) in &files {
            for (i, r) in f.rule.iter().enumerate() {
                let ctx = || format!("{origin}: rule #{} (cause {:?})", i + 1, r.cause);
                let cause = set
                    .cause_index(&r.cause)
                    .ok_or_else(|| anyhow!("{}: unknown cause", ctx()))?;
                let compile = |pats: &[String]| -> Result<Vec<Regex>> {
                    pats.iter()
                        .map(|p| {
                            Regex::new(p).with_context(|| format!("{}: bad regex {p:?}", ctx()))
                        })
                        .collect()
                };
                let note = r.note.as_ref().map(|n| set.add_note(n));
                let mut subrules = Vec::new();
                for s in &r.subrules {
                    let pats = compile(&s.stack)?;
                    let n = set.add_note(&s.note);
                    subrules.push((pats, n));
                }
                let rule = Rule {
                    cause,
                    anywhere: compile(&r.anywhere)?,
                    stack: compile(&r.stack)?,
                    leaf: compile(&r.leaf)?,
                    runtime: compile(&r.runtime)?,
                    line: compile(&r.line)?,
                    escape: compile(&r.escape)?,
                    subrules,
                    note,
                };
                if rule.anywhere.is_empty()
                    && rule.stack.is_empty()
                    && rule.leaf.is_empty()
                    && rule.runtime.is_empty()
                    && rule.line.is_empty()
                    && rule.escape.is_empty()
                {
                    bail!(
                        "{}: has no evidence patterns (anywhere, stack, runtime, line or escape)",
                        ctx()
                    );
                }
                set.rules.push(rule);
            }
        }
        Ok(set)
    }

    fn add_note(&mut self, n: &str) -> u32 {
        self.notes.push(n.to_string());
        self.notes.len() as u32 - 1
    }

    fn cause_index(&self, name: &str) -> Option<CauseId> {
        self.causes
            .iter()
            .position(|c| c.name == name)
            .map(|i| CauseId(i as u16))
    }

    /// The id of a cause that must exist (`unclassified`, `runtime`, checked at load).
    pub fn cause_id(&self, name: &str) -> CauseId {
        self.cause_index(name).unwrap_or(CauseId(0))
    }

    /// The id of a cause by name, if defined.
    pub fn find(&self, name: &str) -> Option<CauseId> {
        self.cause_index(name)
    }

    fn first(&self, pick: impl Fn(&Rule) -> &[Regex], text: &str) -> Option<u32> {
        self.rules
            .iter()
            .position(|r| pick(r).iter().any(|re| re.is_match(text)))
            .map(|i| i as u32)
    }

    pub fn match_anywhere(&self, function: &str) -> Option<u32> {
        self.first(|r| &r.anywhere, function)
    }

    pub fn match_stack(&self, function: &str) -> Option<u32> {
        self.first(|r| &r.stack, function)
    }

    /// The first rule whose `leaf` patterns match the allocating function.
    pub fn match_leaf(&self, function: &str) -> Option<u32> {
        self.first(|r| &r.leaf, function)
    }

    pub fn match_runtime(&self, function: &str) -> Option<u32> {
        self.first(|r| &r.runtime, function)
    }

    pub fn match_line(&self, text: &str) -> Option<u32> {
        // Comments say nothing about what allocates.
        let code = text.split("//").next().unwrap_or("");
        self.first(|r| &r.line, code)
    }

    /// The first rule (in priority order) matching any of a line's compiler messages, and the
    /// message it matched.
    pub fn match_escape<'m>(&self, messages: &'m [String]) -> Option<(u32, &'m str)> {
        for (i, r) in self.rules.iter().enumerate() {
            for m in messages {
                if r.escape.iter().any(|re| re.is_match(m)) {
                    return Some((i as u32, m.as_str()));
                }
            }
        }
        None
    }

    /// The note of the first sub-rule of `rule` matching one of `inner` frames.
    pub fn sub_note<'a>(
        &self,
        rule: u32,
        inner: impl Iterator<Item = &'a str> + Clone,
    ) -> Option<u32> {
        let r = &self.rules[rule as usize];
        for (pats, note) in &r.subrules {
            if inner.clone().any(|f| pats.iter().any(|re| re.is_match(f))) {
                return Some(*note);
            }
        }
        r.note
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_rules_load_and_name_every_required_cause() {
        let r = RuleSet::builtin();
        for name in [
            "json",
            "fmt",
            "logging",
            "interface-conversion",
            "closure",
            "goroutine",
            "slice-growth",
            "map-growth",
            "string-building",
            "byte-string-conversion",
            "reflection",
            "regexp",
            "compression",
            "protobuf",
            "context-and-timers",
            "io-buffers",
            "pointer-escape",
            "profiler-overhead",
            "unclassified",
        ] {
            assert!(r.find(name).is_some(), "missing cause {name}");
        }
        assert_eq!(
            r.rules[r.match_stack("encoding/json.Unmarshal").unwrap() as usize].cause,
            r.find("json").unwrap()
        );
        assert_eq!(
            r.rules[r.match_stack("log/slog.(*Logger).Info").unwrap() as usize].cause,
            r.find("logging").unwrap()
        );
        assert_eq!(r.match_stack("main.handle"), None);
    }

    #[test]
    fn causes_carry_color_and_share_flags() {
        let r = RuleSet::builtin();
        let cause = |r: &RuleSet, n: &str| r.causes[r.find(n).unwrap().0 as usize].clone();
        assert!(!cause(&r, "profiler-overhead").in_shares);
        assert!(cause(&r, "json").in_shares);
        assert_eq!(cause(&r, "json").color, Some((0xe6, 0x55, 0x0d)));
        let user = "[[cause]]\nname = \"acme-log\"\ndescription = \"d\"\nadvice = \"a\"\ncolor = \"#010203\"\nin_shares = false\n";
        let r = RuleSet::with_user(user, "acme.toml").unwrap();
        assert_eq!(cause(&r, "acme-log").color, Some((1, 2, 3)));
        assert!(!cause(&r, "acme-log").in_shares);
        let bad = user.replace("#010203", "red");
        let e = RuleSet::with_user(&bad, "acme.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not #rrggbb"), "{e}");
    }

    #[test]
    fn user_rules_come_first_and_bad_files_are_refused() {
        let user = r#"
[[cause]]
name = "acme-logger"
description = "ACME's in-house logger"
advice = "Use acmelog.Fields"

[[rule]]
cause = "acme-logger"
stack = ['^acme\.com/log\.']
"#;
        let r = RuleSet::with_user(user, "acme.toml").unwrap();
        let hit = r.match_stack("acme.com/log.Printf").unwrap();
        assert_eq!(
            r.causes[r.rules[hit as usize].cause.0 as usize].name,
            "acme-logger"
        );
        let err = RuleSet::with_user("[[rule]]\ncause = \"nope\"\nstack = ['x']\n", "u.toml")
            .unwrap_err();
        assert!(format!("{err:#}").contains("unknown cause"), "{err:#}");
        let err = RuleSet::with_user("[[rule]]\ncause = \"json\"\nstack = ['(']\n", "u.toml")
            .unwrap_err();
        assert!(format!("{err:#}").contains("bad regex"), "{err:#}");
    }
}
