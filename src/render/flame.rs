//! Folded stacks and SVG flame graphs colored by cause (issue 6). Formatting only: the stacks,
//! values and causes all come from the [`Report`]; nothing is recomputed (DESIGN.md).
//!
//! Coloring: a function can allocate under several causes (and be a caller elsewhere), so
//! coloring by function name would be ambiguous. Instead the leaf-most frame of every stack
//! (the allocation site) carries its sample's cause as a suffix, `main.f «json»`, and is
//! filled with that cause's fixed color; every caller frame is neutral grey. Stacks that reach
//! the same site under two causes become two sibling leaf frames, each exactly colored. The
//! suffix is part of the folded output too, so the folded file is what inferno renders.
//!
//! Names are made safe before folding: `;` (the folded separator, present in Go generic
//! names like `main.Box[go.shape.struct { A int; B string }]`) becomes `∶` (U+2236 RATIO),
//! control characters become visible `\xNN` text, and surrounding whitespace is trimmed.
//! inferno escapes XML specials, truncates text to the frame width, and keeps the full name in
//! the tooltip.

use std::collections::{BTreeMap, HashMap};

use rustc_hash::FxHashMap;
use std::cmp::Reverse;
use std::io::Write;

use anyhow::{Context, Result};
use inferno::flamegraph::color::{BackgroundColor, Color, PaletteMap};
use inferno::flamegraph::{self, Direction};

use crate::analyze::classify::{Cause, CauseId};
use crate::analyze::Report;
use crate::model::{LocId, Profile};
use crate::units::human;

/// Options of the flame graph, built once from the command line.
#[derive(Clone, Debug, PartialEq)]
pub struct FlameOptions {
    /// `--lines`: frames are `func file:line` instead of function names.
    pub lines: bool,
    /// `--inverted`: an icicle graph (roots at the top, growing down).
    pub inverted: bool,
    /// `--min-width`: frames narrower than this many pixels are left out (inferno's option).
    pub min_width: f64,
    /// `--no-javascript`: a static SVG without inferno's search and zoom script (for
    /// review systems that strip scripts, and for golden files).
    pub no_javascript: bool,
}

impl Default for FlameOptions {
    fn default() -> Self {
        FlameOptions {
            lines: false,
            inverted: false,
            min_width: flamegraph::defaults::MIN_WIDTH,
            no_javascript: false,
        }
    }
}

/// Fill of every non-leaf (caller) frame.
pub const NEUTRAL: (u8, u8, u8) = (0xdc, 0xdc, 0xdc);

/// Colors for causes whose rules give none (`color` in rules.toml), picked by a stable hash of
/// the name.
const EXTRA_COLORS: &[(u8, u8, u8)] = &[
    (0x66, 0xc2, 0xa5),
    (0x8d, 0xa0, 0xcb),
    (0xa6, 0xd8, 0x54),
    (0xe5, 0xc4, 0x94),
    (0xb3, 0xb3, 0xff),
    (0xff, 0x7f, 0x50),
    (0x40, 0xe0, 0xd0),
    (0xda, 0xa5, 0x20),
];

/// The fill color of a cause: its rules' `color`, else picked by an FNV-1a hash of its name.
pub fn cause_color(cause: &Cause) -> (u8, u8, u8) {
    cause.color.unwrap_or_else(|| hashed_color(&cause.name))
}

fn hashed_color(name: &str) -> (u8, u8, u8) {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    EXTRA_COLORS[(h % EXTRA_COLORS.len() as u64) as usize]
}

/// A name made safe for the folded format and for XML (see the module docs).
pub fn safe_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.trim().chars() {
        match c {
            ';' => out.push('∶'),
            // Controls, bidi formatting and XML-invalid code points (U+FFFE, U+FFFF) would
            // break the SVG or disguise a name (issue 16).
            c if super::escape::is_unsafe_text(c) => {
                let n = c as u32;
                if n <= 0xff {
                    out.push_str(&format!("\\x{n:02x}"));
                } else {
                    out.push_str(&format!("\\u{{{n:x}}}"));
                }
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return "<unknown>".to_string();
    }
    // inferno skips lines starting with "# " as comments; a root frame must not look like one.
    if out.starts_with("# ") {
        out.replace_range(0..1, "＃");
    }
    out
}

fn suffix(cause: &str) -> String {
    format!(" «{}»", safe_name(cause))
}

/// The frames of one location, innermost first, as display names.
fn loc_names(p: &Profile, loc: LocId, lines: bool, out: &mut Vec<String>) {
    let frames = p.frames(loc);
    if frames.is_empty() {
        let l = &p.locations[loc.0 as usize];
        let label = l
            .mapping
            .map(|m| p.str(p.mappings[m.0 as usize].label))
            .unwrap_or("");
        out.push(if label.is_empty() {
            format!("0x{:x}", l.address)
        } else {
            format!("{label} 0x{:x}", l.address)
        });
        return;
    }
    for f in frames {
        let func = p.function(f.func);
        let name = p.str(func.name);
        if lines {
            out.push(format!("{name} {}:{}", p.str(func.filename), f.line));
        } else {
            out.push(name.to_string());
        }
    }
}

/// Folded stacks: root first, `;`-separated, one line per distinct (stack, cause) with its
/// summed value for the report's sample index, sorted. Stacks summing to zero or less (inuse
/// values in delta profiles can be negative) have no width and are left out; their sum is
/// returned second.
///
/// With `min_width_px > 0`, frames narrower than that many pixels of inferno's image are cut
/// first (see [`prune`]): the work is done on interned frame ids, and strings are built only
/// for the lines that remain, which bounds time and memory on fleet-sized profiles (issue 9:
/// a 100 MB profile has 1.2M distinct stacks, ~1 GB as folded text).
pub fn folded(
    report: &Report,
    opts: &FlameOptions,
    min_width_px: f64,
) -> (Vec<(String, i64)>, i64) {
    folded_for(report, opts, min_width_px, min_width_px > 0.0, &mut false)
}

/// [`folded`]; `draw`: the lines are for inferno's drawing, which shows at most
/// [`MAX_FRAMES`] frames (the widest; `--min-width 0` included).
fn folded_for(
    report: &Report,
    opts: &FlameOptions,
    min_width_px: f64,
    draw: bool,
    capped: &mut bool,
) -> (Vec<(String, i64)>, i64) {
    let p = &report.profile;
    let c = &report.classification;
    // Values per distinct stack first (a cause is a stack's): a line per sample was the cost
    // on 1M+ sample profiles.
    let mut stack_v = vec![0i128; p.samples.stack_count()];
    let mut stack_nz = vec![false; p.samples.stack_count()];
    let mut cur = p.samples.cursor();
    while let Some(s) = cur.next() {
        let v = s.values[report.sample_index];
        if v != 0 {
            stack_v[s.stack as usize] += v as i128;
            stack_nz[s.stack as usize] = true;
        }
    }
    let per = (0..p.samples.stack_count())
        .filter(|&k| stack_nz[k])
        .map(|k| {
            let v = stack_v[k].clamp(i64::MIN as i128, i64::MAX as i128) as i64;
            ((k as u32, c.stack_cause[k]), v)
        });
    // Frame names interned once; each location's frames as ids, root-most first.
    let mut names = FrameNames::default();
    let mut loc_ids: Vec<Option<Vec<u32>>> = vec![None; p.locations.len()];
    let mut scratch = Vec::new();
    // Every path, root first, concatenated in `flat` (no allocation per path).
    let mut flat: Vec<u32> = Vec::new();
    let mut ends: Vec<u32> = Vec::new();
    let mut vals: Vec<i64> = Vec::new();
    let mut path = Vec::new();
    // (leaf frame, cause) -> the id of `leaf «cause»`, formatted once.
    let mut leaf_ids: FxHashMap<(u32, CauseId), u32> = FxHashMap::default();
    for ((stack, cause), v) in per {
        path.clear();
        for loc in p.samples.stack(stack).iter().rev() {
            let frag = loc_ids[loc.0 as usize].get_or_insert_with(|| {
                scratch.clear();
                loc_names(p, loc, opts.lines, &mut scratch);
                scratch
                    .iter()
                    .rev()
                    .map(|n| names.intern(safe_name(n)))
                    .collect()
            });
            path.extend_from_slice(frag);
        }
        // The leaf carries its cause, so a site reached under two causes is two frames.
        let leaf = match path.pop() {
            Some(id) => id,
            None => names.intern(safe_name("<no stack>")),
        };
        let id = *leaf_ids.entry((leaf, cause)).or_insert_with(|| {
            let name = format!(
                "{}{}",
                names.list[leaf as usize],
                suffix(&c.cause(cause).name)
            );
            names.intern(name)
        });
        path.push(id);
        flat.extend_from_slice(&path);
        ends.push(flat.len() as u32);
        vals.push(v);
    }
    if draw && vals.iter().all(|&v| v >= 0) {
        // The usual case: cut while building the tree top down (see `prune_top_down`).
        let total: i64 = vals.iter().sum();
        let merged = names.intern(MERGED.to_string());
        let keep: Vec<u32> = (0..vals.len() as u32)
            .filter(|&i| vals[i as usize] > 0)
            .collect();
        let min_value = total as f64 * min_width_px / 1180.0;
        let paths = prune_top_down(&flat, &ends, &vals, keep, min_value, merged, capped);
        drop((flat, ends, vals));
        return (lines_of(paths, &names), 0);
    }
    let mut paths: Vec<(Vec<u32>, i64)> = (0..vals.len())
        .map(|i| {
            let start = if i == 0 { 0 } else { ends[i - 1] as usize };
            (flat[start..ends[i] as usize].to_vec(), vals[i])
        })
        .collect();
    drop((flat, ends, vals));
    // Equal paths (function granularity, or one stack under several ids) summed: sorted, they
    // are adjacent. No hashing of whole paths.
    paths.sort_unstable();
    paths.dedup_by(|b, a| {
        if a.0 == b.0 {
            a.1 += b.1;
            true
        } else {
            false
        }
    });
    let mut dropped = 0;
    paths.retain(|&(_, v)| {
        if v <= 0 {
            dropped += v;
        }
        v > 0
    });
    let total: i64 = paths.iter().map(|(_, v)| *v).sum();
    if min_width_px > 0.0 {
        // inferno's drawing width: its 1200-pixel image less 2 x 10 pixels of margin.
        let merged = names.intern(MERGED.to_string());
        paths = prune(paths, total as f64 * min_width_px / 1180.0, merged);
    }
    (lines_of(paths, &names), dropped)
}

/// The folded lines of `paths`, equal lines summed, in string order.
fn lines_of(paths: Vec<(Vec<u32>, i64)>, names: &FrameNames) -> Vec<(String, i64)> {
    let mut acc: BTreeMap<String, i64> = BTreeMap::new();
    for (path, v) in paths {
        let line = path
            .iter()
            .map(|&id| names.list[id as usize].as_str())
            .collect::<Vec<_>>()
            .join(";");
        *acc.entry(line).or_insert(0) += v;
    }
    acc.into_iter().collect()
}

/// [`prune`] for paths of positive values, without materializing or sorting whole paths:
/// the tree is built top down, grouping the paths (`keep`, indexes into `ends` and `vals`;
/// path `i` is `flat[ends[i-1]..ends[i]]`) by their frame at each depth, and descending only
/// into frames at least `min_value` wide (and every first frame). A narrow frame's paths
/// end there as one `…` line per caller; a path that ends at a kept frame is a line as it
/// is. Work is proportional to the frames drawn, not to the profile's distinct stacks
/// (issue 9: the flame graph of a 100 MB profile within 3x the report's time).
fn prune_top_down(
    flat: &[u32],
    ends: &[u32],
    vals: &[i64],
    mut keep: Vec<u32>,
    min_value: f64,
    merged: u32,
    capped: &mut bool,
) -> Vec<(Vec<u32>, i64)> {
    const END: u32 = u32::MAX;
    let start = |i: usize| if i == 0 { 0 } else { ends[i - 1] as usize };
    let mut out = Vec::new();
    let mut keys: Vec<u64> = Vec::new();
    // Widest frame first, shallower first among equals, then in the order found: (width,
    // depth reversed, sequence reversed, range of `keep`, depth, the frames above). At most
    // MAX_FRAMES frames are drawn; past that, the remaining frames are cut like narrow ones
    // (issue 16, finding 6: 4M frames made a 757 MB SVG and GiBs of memory).
    let total: i64 = keep.iter().map(|&i| vals[i as usize]).sum();
    let mut seq = 0u64;
    let mut work: std::collections::BinaryHeap<Pending> = std::collections::BinaryHeap::new();
    work.push((total, Reverse(0), Reverse(0), 0, keep.len(), Vec::new()));
    let mut drawn = 0usize;
    while let Some((group_width, Reverse(depth), _, a, b, prefix)) = work.pop() {
        if depth > 0 {
            if drawn >= MAX_FRAMES {
                *capped = true;
                let mut p = prefix;
                p.pop();
                p.push(merged);
                out.push((p, group_width));
                continue;
            }
            drawn += 1;
        }
        // Sort the group by its frame at `depth` (END for the paths that end above it).
        keys.clear();
        keys.extend(keep[a..b].iter().map(|&i| {
            let at = start(i as usize) + depth;
            let key = if at < ends[i as usize] as usize {
                flat[at]
            } else {
                END
            };
            (u64::from(key) << 32) | u64::from(i)
        }));
        keys.sort_unstable();
        for (slot, kv) in keep[a..b].iter_mut().zip(&keys) {
            *slot = *kv as u32;
        }
        let mut cut = 0i64;
        let mut j = 0;
        while j < keys.len() {
            let key = (keys[j] >> 32) as u32;
            let mut e = j;
            let mut width = 0i64;
            while e < keys.len() && (keys[e] >> 32) as u32 == key {
                width += vals[keys[e] as u32 as usize];
                e += 1;
            }
            if key == END {
                out.push((prefix.clone(), width));
            } else if depth >= 1 && (width as f64) < min_value {
                cut += width;
            } else {
                let mut p = prefix.clone();
                p.push(key);
                seq += 1;
                work.push((width, Reverse(depth + 1), Reverse(seq), a + j, a + e, p));
            }
            j = e;
        }
        if cut > 0 {
            let mut p = prefix;
            p.push(merged);
            out.push((p, cut));
        }
    }
    out
}

/// A group of paths waiting in [`prune_top_down`]: (width, depth reversed, sequence
/// reversed, range of `keep`, depth, the frames above).
type Pending = (i64, Reverse<usize>, Reverse<u64>, usize, usize, Vec<u32>);

/// The frame standing for the frames `--min-width` cut from one caller.
pub const MERGED: &str = "…";

/// The most frames a flame graph draws: the widest are kept, the rest cut into `…` frames
/// like those narrower than `--min-width`. 1180 pixels hold far fewer distinguishable frames
/// per level; the cap bounds the SVG (and inferno's memory) whatever the profile.
pub const MAX_FRAMES: usize = 50_000;

/// Frame names, each stored once and named by its index.
#[derive(Default)]
struct FrameNames {
    list: Vec<String>,
    ids: HashMap<String, u32>,
}

impl FrameNames {
    fn intern(&mut self, n: String) -> u32 {
        if let Some(&id) = self.ids.get(&n) {
            return id;
        }
        self.list.push(n.clone());
        self.ids.insert(n, self.list.len() as u32 - 1);
        self.list.len() as u32 - 1
    }
}

/// Cuts each path after its last frame at least `min_value` wide (a frame's width is the sum
/// of the paths through it) and merges paths that become equal. The widths of the frames kept
/// do not change: a cut path's value stays with its last kept frame, as that frame's own
/// value. The first frame is always kept, so the total does not change either; inferno leaves
/// the narrower frames out anyway.
fn prune(mut paths: Vec<(Vec<u32>, i64)>, min_value: f64, merged: u32) -> Vec<(Vec<u32>, i64)> {
    if min_value <= 0.0 {
        return paths;
    }
    // Sorted frame by frame, the paths through any prefix are contiguous, so one walk with a
    // stack of open prefixes numbers them (in opening order) and sums their widths; no hashing.
    paths.sort_unstable();
    let mut width: Vec<i64> = Vec::new();
    let mut open: Vec<(u32, usize)> = Vec::new(); // (frame, prefix number)
    let walk = |path: &[u32], open: &mut Vec<(u32, usize)>, next: &mut usize| {
        let common = open
            .iter()
            .zip(path)
            .take_while(|((f, _), p)| f == *p)
            .count();
        open.truncate(common);
        for &f in &path[common..] {
            open.push((f, *next));
            *next += 1;
        }
    };
    let mut next = 0usize;
    for (path, v) in &paths {
        walk(path, &mut open, &mut next);
        width.resize(next, 0);
        for &(_, n) in open.iter() {
            width[n] += v;
        }
    }
    // The same walk again, cutting each path at its first narrow frame (never the first).
    let (mut open, mut next) = (Vec::new(), 0usize);
    let mut out: Vec<(Vec<u32>, i64)> = Vec::with_capacity(paths.len() / 4);
    for (path, v) in &paths {
        walk(path, &mut open, &mut next);
        let keep = open
            .iter()
            .skip(1)
            .position(|&(_, n)| (width[n] as f64) < min_value)
            .map_or(path.len(), |k| k + 1);
        // A cut path ends in one `…` frame: its value drawn as the merged small frames, and
        // no line ends at a caller frame (inferno's string-sorted merge would split a caller
        // `f` around a sibling leaf `f «cause»` if a line ended at `f`).
        let mut cut = path[..keep].to_vec();
        if keep < path.len() {
            cut.push(merged);
        }
        // Equal cuts next to each other merge here; the rest merge when lines are built.
        match out.last_mut() {
            Some((last, lv)) if *last == cut => *lv += v,
            _ => out.push((cut, *v)),
        }
    }
    out
}

/// Writes the folded stacks (`stack value` lines).
pub fn write_folded(report: &Report, opts: &FlameOptions, w: &mut dyn Write) -> Result<()> {
    // The folded text is complete: other tools choose their own minimum width.
    for (stack, v) in folded(report, opts, 0.0).0 {
        writeln!(w, "{stack} {v}")?;
    }
    Ok(())
}

/// inferno's name for what the values count, from the sample type's unit.
fn count_name(unit: &str) -> String {
    match unit {
        "count" | "" => "objects".to_string(),
        u => safe_name(u),
    }
}

/// Writes the SVG flame graph with a title, subtitle and a legend of the causes shown.
pub fn write_svg(report: &Report, opts: &FlameOptions, w: &mut dyn Write) -> Result<()> {
    let c = &report.classification;
    let mut capped = false;
    let (lines, dropped) = folded_for(report, opts, opts.min_width, true, &mut capped);

    // Every frame name gets a color up front, so inferno never picks one (no randomness).
    let mut palette = PaletteMap::default();
    let neutral = rgb(NEUTRAL);
    let mut shown: BTreeMap<String, (u8, u8, u8)> = BTreeMap::new();
    // inferno's root frame ("all") is looked up by the empty name.
    palette.insert("", neutral);
    // Callers grey, and so is the last frame of a line cut by `prune`; leaves (the frames with
    // a cause suffix) get their cause's color below.
    for (stack, _) in &lines {
        for f in stack.split(';') {
            palette.insert(f, neutral);
        }
    }
    for id in c.cause_order() {
        let name = &c.cause(id).name;
        let sfx = suffix(name);
        let color = cause_color(c.cause(id));
        let mut used = false;
        for (stack, _) in &lines {
            if stack.ends_with(&sfx) {
                let leaf = stack.rsplit(';').next().unwrap_or(stack);
                palette.insert(leaf, rgb(color));
                used = true;
            }
        }
        if used {
            shown.insert(name.clone(), color);
        }
    }
    // Legend in cause order (largest first).
    let legend: Vec<(String, (u8, u8, u8))> = c
        .cause_order()
        .into_iter()
        .filter_map(|id| {
            let n = &c.cause(id).name;
            shown.get(n).map(|col| (safe_name(n), *col))
        })
        .collect();

    let unit = report.unit();
    let mut subtitle = format!(
        "{} ({}), total {}; leaf frames colored by cause, callers grey; from {}",
        safe_name(report.sample_name()),
        safe_name(unit),
        human(report.total(), unit),
        report
            .inputs
            .iter()
            .map(|s| safe_name(s))
            .collect::<Vec<_>>()
            .join(", ")
    );
    if dropped != 0 {
        subtitle.push_str(&format!(
            "; {} in stacks with negative net values not drawn",
            human(dropped, unit)
        ));
    }
    if capped {
        // Said, so a cut graph never passes for the whole profile (issue 16, finding 6).
        subtitle.push_str(&format!(
            "; the {MAX_FRAMES} widest frames drawn, narrower ones merged into {MERGED}"
        ));
    }

    let mut o = inferno_options(
        format!("heapdoc: {} profile", report.kind.name()),
        subtitle,
        unit,
        opts,
    );
    o.palette_map = Some(&mut palette);

    // The lines become inferno's input in place: deep stacks make long lines, and a second
    // copy of each was the flame graph's peak (issue 16, finding 6).
    let text: Vec<String> = lines
        .into_iter()
        .map(|(mut s, v)| {
            s.push(' ');
            s.push_str(&v.to_string());
            s
        })
        .collect();

    let mut svg = Vec::new();
    flamegraph::from_lines(&mut o, text.iter().map(|s| s.as_str()), &mut svg)
        .context("rendering the flame graph")?;
    drop(text);
    let svg = String::from_utf8(svg).context("inferno wrote non-UTF-8 SVG")?;
    w.write_all(add_legend(&svg, &legend).as_bytes())?;
    Ok(())
}

/// inferno's options shared by every heapdoc flame graph: white background, no randomness
/// (a name missing from a palette is hashed), the unit as the count name.
pub(crate) fn inferno_options(
    title: String,
    subtitle: String,
    unit: &str,
    opts: &FlameOptions,
) -> flamegraph::Options<'static> {
    let mut o = flamegraph::Options::default();
    o.title = title;
    o.subtitle = Some(subtitle);
    o.count_name = count_name(unit);
    o.name_type = "Function:".to_string();
    o.min_width = opts.min_width;
    o.no_javascript = opts.no_javascript;
    o.direction = if opts.inverted {
        Direction::Inverted
    } else {
        Direction::Straight
    };
    o.bgcolors = Some(BackgroundColor::Flat(rgb((0xff, 0xff, 0xff))));
    o.deterministic = true;
    o
}

pub(crate) fn rgb((r, g, b): (u8, u8, u8)) -> Color {
    Color { r, g, b }
}

const LEGEND_ROW: usize = 18;

/// inferno has no legend: grows the SVG by the legend's height and draws one swatch and name
/// per cause below the graph.
pub(crate) fn add_legend(svg: &str, legend: &[(String, (u8, u8, u8))]) -> String {
    if legend.is_empty() {
        return svg.to_string();
    }
    let Some((width, height)) = svg_size(svg) else {
        return svg.to_string();
    };
    let per_row = (width / 240).max(1);
    let rows = legend.len().div_ceil(per_row);
    let extra = rows * LEGEND_ROW + 8;
    let new_height = height + extra;
    let mut out = svg.replacen(
        &format!("height=\"{height}\""),
        &format!("height=\"{new_height}\""),
        1,
    );
    out = out.replacen(
        &format!("viewBox=\"0 0 {width} {height}\""),
        &format!("viewBox=\"0 0 {width} {new_height}\""),
        1,
    );
    let mut g = format!(
        "<g id=\"heapdoc-legend\"><rect x=\"0\" y=\"{height}\" width=\"{width}\" height=\"{extra}\" fill=\"#ffffff\"/>"
    );
    for (k, (name, (r, gr, b))) in legend.iter().enumerate() {
        let x = 10 + (k % per_row) * 240;
        let y = height + 4 + (k / per_row) * LEGEND_ROW;
        g.push_str(&format!(
            "<rect x=\"{x}\" y=\"{y}\" width=\"14\" height=\"14\" fill=\"#{r:02x}{gr:02x}{b:02x}\" stroke=\"#333333\" stroke-width=\"0.5\"/><text x=\"{}\" y=\"{}\" font-family=\"monospace\" font-size=\"12\">{}</text>",
            x + 20,
            y + 12,
            xml_escape(name)
        ));
    }
    g.push_str("</g>\n");
    match out.rfind("</svg>") {
        Some(i) => {
            out.insert_str(i, &g);
            out
        }
        None => svg.to_string(),
    }
}

/// The root element's width and height (inferno writes integers).
fn svg_size(svg: &str) -> Option<(usize, usize)> {
    let start = svg.find("<svg ")?;
    let tag = &svg[start..start + svg[start..].find('>')?];
    let attr = |name: &str| -> Option<usize> {
        let i = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        tag[i..].split('"').next()?.parse().ok()
    };
    Some((attr("width")?, attr("height")?))
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if super::escape::is_unsafe_text(c) => out.extend(c.escape_unicode()),
            c => out.push(c),
        }
    }
    out
}

/// Differential flame graph of two analyzed profiles (`heapdoc diff --svg`): frame widths are
/// NEW's values, colors the change from BASE (red grew, blue shrank, saturation by size of the
/// change; inferno's differential mode). Both sides' values are scaled by the diff's
/// normalization first. Stacks only in BASE have no width in NEW: their total and the largest
/// vanished sites are named in the subtitle so nothing disappears silently.
pub fn write_diff_svg(
    base: &Report,
    new: &Report,
    d: &crate::analyze::diff::Diff,
    opts: &FlameOptions,
    w: &mut dyn Write,
) -> Result<()> {
    // Not pruned: a frame narrow in one profile may be wide in the other.
    let (lb, _) = folded(base, opts, 0.0);
    let (ln, _) = folded(new, opts, 0.0);
    let mut merged: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let scale = |v: i64, f: f64| (v as f64 * f).round() as i64;
    for (s, v) in lb {
        merged.entry(s).or_default().0 = scale(v, d.base.factor);
    }
    for (s, v) in ln {
        merged.entry(s).or_default().1 = scale(v, d.new.factor);
    }
    // A leaf is `function «cause»`; its change counts when a site of that function and cause
    // changed beyond the noise band (the diff's own test). Other stacks present in both
    // profiles are drawn with BASE set to NEW: no change, inferno's neutral grey (issue 18).
    // Stacks only in NEW keep their red: the stack is new even when its site's total is not.
    let significant: std::collections::HashSet<(String, String)> = d
        .sites
        .iter()
        .filter(|s| s.delta.significant)
        .map(|s| (safe_name(&s.function), safe_name(&s.cause)))
        .collect();
    let counts = |stack: &str| -> bool {
        let leaf = stack.rsplit(';').next().unwrap_or(stack);
        match leaf.rsplit_once(" «") {
            Some((name, cause)) => {
                significant.contains(&(name.to_string(), cause.trim_end_matches('»').to_string()))
            }
            None => false,
        }
    };
    let vanished_total: i64 = merged
        .values()
        .filter(|(b, n)| *n <= 0 && *b > 0)
        .map(|(b, _)| *b)
        .sum();
    let vanished_count = merged.values().filter(|(b, n)| *n <= 0 && *b > 0).count();
    let unit = if d.unit.is_empty() {
        "count".to_string()
    } else {
        d.unit.clone()
    };
    let base_unit = unit.trim_end_matches("/s");
    let mut subtitle = format!(
        "{}: width = NEW, red = grew, blue = shrank, grey = within the {}σ noise band",
        safe_name(&d.sample_index),
        d.sigma
    );
    if vanished_count > 0 {
        subtitle.push_str(&format!(
            "; {VANISHED}: {} in {} stacks, at BASE's width",
            human(vanished_total, base_unit),
            vanished_count,
        ));
    }
    let short = |inputs: &[String]| -> String {
        inputs
            .iter()
            .map(|s| safe_name(s.rsplit('/').next().unwrap_or(s)))
            .collect::<Vec<_>>()
            .join("+")
    };
    let title = format!(
        "heapdoc diff: {} → {}",
        short(&d.base.inputs),
        short(&d.new.inputs)
    );
    let mut o = inferno_options(title, subtitle, base_unit, opts);
    // Differential lines: `stack BASE NEW`. Negative values (delta profiles) are clamped at 0:
    // a frame cannot have negative width. Vanished stacks go under their own root at BASE's
    // width (drawn, then colored blue below).
    let text: Vec<String> = merged
        .iter()
        .map(|(s, (b, n))| {
            let (b, n) = (*b.max(&0), *n.max(&0));
            if n == 0 && b > 0 {
                format!("{VANISHED};{s} {b} {b}")
            } else if b == 0 || counts(s) {
                format!("{s} {b} {n}")
            } else {
                format!("{s} {n} {n}")
            }
        })
        .collect();
    let mut svg = Vec::new();
    flamegraph::from_lines(&mut o, text.iter().map(|s| s.as_str()), &mut svg)
        .context("rendering the differential flame graph")?;
    let svg = String::from_utf8(svg).context("inferno wrote invalid UTF-8")?;
    w.write_all(color_subtree(&svg, VANISHED, VANISHED_FILL).as_bytes())?;
    Ok(())
}

/// The root frame under which `diff --svg` draws the stacks only in BASE.
pub const VANISHED: &str = "[vanished: only in BASE]";
/// Their fill: inferno's blue for a full shrink.
const VANISHED_FILL: &str = "rgb(120,120,255)";

/// Sets the fill of the root frame named `root` and of every frame above it (inferno's
/// frames are `<g><title>NAME (...)</title><rect ... fill="..." fg:x="X" fg:w="W"/>`: the
/// frames of its subtree lie within its [X, X+W) and are no wider).
fn color_subtree(svg: &str, root: &str, fill: &str) -> String {
    let attr = |g: &str, name: &str| -> Option<u64> {
        let at = g.find(&format!("{name}=\""))? + name.len() + 2;
        g[at..].split('"').next()?.parse().ok()
    };
    let head = format!("<g><title>{root} (");
    let Some(range) = svg.split("<g>").find_map(|g| {
        let g = format!("<g>{g}");
        if !g.starts_with(&head) {
            return None;
        }
        Some((attr(&g, "fg:x")?, attr(&g, "fg:w")?))
    }) else {
        return svg.to_string();
    };
    let (x0, w0) = range;
    let mut out = String::with_capacity(svg.len());
    for (i, g) in svg.split("<g>").enumerate() {
        if i > 0 {
            out.push_str("<g>");
        }
        let inside = !g.starts_with("<title>all (")
            && matches!((attr(g, "fg:x"), attr(g, "fg:w")), (Some(x), Some(w)) if x >= x0 && x < x0 + w0 && w <= w0);
        match (inside, g.find("fill=\"rgb(")) {
            (true, Some(at)) => {
                let end = g[at + 6..].find('"').map_or(g.len(), |e| at + 6 + e + 1);
                out.push_str(&g[..at]);
                out.push_str(&format!("fill=\"{fill}\""));
                out.push_str(&g[end..]);
            }
            _ => out.push_str(g),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        assert_eq!(
            safe_name("main.Box[go.shape.struct { A int; B string }]"),
            "main.Box[go.shape.struct { A int∶ B string }]"
        );
        assert_eq!(safe_name("a\x1b[31mb\0"), "a\\x1b[31mb\\x00");
        assert_eq!(safe_name("  "), "<unknown>");
        assert_eq!(safe_name("# x"), "＃ x");
    }

    #[test]
    fn colors_come_from_the_rules() {
        let rules = crate::analyze::classify::RuleSet::builtin();
        let json = &rules.causes[rules.find("json").unwrap().0 as usize];
        assert_eq!(cause_color(json), (0xe6, 0x55, 0x0d));
        // Every built-in cause has its own color.
        let mut seen = std::collections::HashSet::new();
        for c in &rules.causes {
            assert!(c.color.is_some(), "{} has no color", c.name);
            assert!(seen.insert(cause_color(c)), "{} shares a color", c.name);
        }
        assert_eq!(hashed_color("my-cause"), hashed_color("my-cause"));
    }

    #[test]
    fn legend_grows_the_svg() {
        let svg =
            "<svg version=\"1.1\" width=\"1200\" height=\"100\" viewBox=\"0 0 1200 100\"></svg>";
        let out = add_legend(svg, &[("a<b".to_string(), (1, 2, 3))]);
        assert!(out.contains("height=\"126\""), "{out}");
        assert!(out.contains("viewBox=\"0 0 1200 126\""));
        assert!(out.contains("a&lt;b"));
        assert!(out.contains("#010203"));
    }

    /// Every prefix at least `min` wide keeps its exact width after pruning, the total is
    /// unchanged, and no path keeps a frame narrower than `min` (beyond its first).
    #[test]
    fn prune_keeps_the_width_of_every_frame_it_keeps() {
        use std::collections::HashMap;
        let widths = |paths: &[(Vec<u32>, i64)]| -> HashMap<Vec<u32>, i64> {
            let mut w = HashMap::new();
            for (p, v) in paths {
                for k in 1..=p.len() {
                    *w.entry(p[..k].to_vec()).or_insert(0) += v;
                }
            }
            w
        };
        // A deterministic pseudo-random forest of paths: frame ids 0..6, depth 1..8.
        let mut rnd = heapdoc_synth::rng(0x9e3779b97f4a7c15);
        let mut paths: Vec<(Vec<u32>, i64)> = Vec::new();
        for _ in 0..3000 {
            let depth = 1 + rnd(8) as usize;
            let path: Vec<u32> = (0..depth).map(|_| rnd(6) as u32).collect();
            paths.push((path, 1 + rnd(1000) as i64));
        }
        let total: i64 = paths.iter().map(|p| p.1).sum();
        let before = widths(&paths);
        for min in [1.0, 500.0, 5_000.0, 50_000.0] {
            let pruned = prune(paths.clone(), min, u32::MAX);
            assert_eq!(pruned.iter().map(|p| p.1).sum::<i64>(), total);
            let after = widths(&pruned);
            for (prefix, w) in &before {
                if *w as f64 >= min && after.contains_key(prefix) {
                    assert_eq!(
                        after[prefix], *w,
                        "width of {prefix:?} changed at min {min}"
                    );
                }
                // A wide prefix whose every ancestor is wide must survive.
                let ancestors_wide = (1..prefix.len()).all(|k| before[&prefix[..k]] as f64 >= min);
                if *w as f64 >= min && ancestors_wide {
                    assert!(after.contains_key(prefix), "{prefix:?} lost at min {min}");
                }
            }
            // Every kept frame is wide; a cut path ends in the one merged frame.
            for (p, _) in &pruned {
                let real = p.iter().take_while(|&&f| f != u32::MAX).count();
                assert!(real == p.len() || real + 1 == p.len());
                for k in 2..=real {
                    assert!(
                        before[&p[..k]] as f64 >= min,
                        "{:?} kept at min {min}",
                        &p[..k]
                    );
                }
            }
        }
    }

    /// The top-down cut gives the same lines as `prune` on whole sorted paths, including
    /// equal paths (summed) and paths that end where others go on.
    #[test]
    fn top_down_cut_equals_prune() {
        let mut rnd = heapdoc_synth::rng(0x2545_f491_4f6c_dd1d);
        let mut flat = Vec::new();
        let mut ends = Vec::new();
        let mut vals = Vec::new();
        for _ in 0..4000 {
            let depth = 1 + rnd(9) as usize;
            flat.extend((0..depth).map(|_| rnd(5) as u32));
            ends.push(flat.len() as u32);
            vals.push(1 + rnd(1000) as i64);
        }
        let paths: Vec<(Vec<u32>, i64)> = (0..vals.len())
            .map(|i| {
                let start = if i == 0 { 0 } else { ends[i - 1] as usize };
                (flat[start..ends[i] as usize].to_vec(), vals[i])
            })
            .collect();
        let summed = |mut ps: Vec<(Vec<u32>, i64)>| -> Vec<(Vec<u32>, i64)> {
            ps.sort();
            ps.dedup_by(|b, a| {
                if a.0 == b.0 {
                    a.1 += b.1;
                    true
                } else {
                    false
                }
            });
            ps
        };
        for min in [0.0, 1.0, 700.0, 9_000.0, 90_000.0, 1e12] {
            let keep: Vec<u32> = (0..vals.len() as u32).collect();
            let top_down = summed(prune_top_down(
                &flat, &ends, &vals, keep, min, 99, &mut false,
            ));
            let reference = summed(prune(summed(paths.clone()), min, 99));
            assert_eq!(top_down, reference, "min {min}");
        }
    }
}
