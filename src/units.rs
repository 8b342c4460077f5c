//! Numbers for people: units, digit groups, percentages, signed deltas. A leaf: used by
//! render/ and by the messages of the diff gate.

/// [`human`] for a normalized (fractional) value; a `/s` suffix on the unit is kept.
pub fn human_f(v: f64, unit: &str) -> String {
    let (base, per) = match unit.strip_suffix("/s") {
        Some(u) => (u, "/s"),
        None => (unit, ""),
    };
    let r = v.round();
    let r = if r.is_finite() {
        r.clamp(i64::MIN as f64, i64::MAX as f64) as i64
    } else {
        0
    };
    format!("{}{per}", human(r, base))
}

/// A relative change as `+12.34%`, or `new` when the base was 0.
pub fn relative(r: Option<f64>) -> String {
    match r {
        Some(r) => format!("{:+.2}%", r * 100.0),
        None => "new".to_string(),
    }
}

/// Formats a value in its unit for people: 1.50 MiB, 12.3 ms, 4,096.
pub fn human(v: i64, unit: &str) -> String {
    let neg = v < 0;
    let a = v.unsigned_abs() as f64;
    let s = match unit {
        "bytes" => {
            const U: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
            let mut x = a;
            let mut i = 0;
            while x >= 1024.0 && i < U.len() - 1 {
                x /= 1024.0;
                i += 1;
            }
            if i == 0 {
                format!("{} B", v.unsigned_abs())
            } else {
                format!("{x:.2} {}", U[i])
            }
        }
        "nanoseconds" | "microseconds" | "milliseconds" | "seconds" => {
            let ns = match unit {
                "microseconds" => a * 1e3,
                "milliseconds" => a * 1e6,
                "seconds" => a * 1e9,
                _ => a,
            };
            if ns >= 1e9 {
                format!("{:.2} s", ns / 1e9)
            } else if ns >= 1e6 {
                format!("{:.2} ms", ns / 1e6)
            } else if ns >= 1e3 {
                format!("{:.2} µs", ns / 1e3)
            } else {
                format!("{ns:.0} ns")
            }
        }
        _ => group(v.unsigned_abs()),
    };
    if neg {
        format!("-{s}")
    } else {
        s
    }
}

/// 1234567 -> "1,234,567".
pub fn group(v: u64) -> String {
    let digits = v.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Percentage of `v` in `total`, 0 when the total is 0.
pub fn percent(v: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        v as f64 * 100.0 / total as f64
    }
}

/// `+` in front of a non-negative formatted amount.
pub fn signed(s: String) -> String {
    if s.starts_with('-') {
        s
    } else {
        format!("+{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_units() {
        assert_eq!(human(512, "bytes"), "512 B");
        assert_eq!(human(1536, "bytes"), "1.50 KiB");
        assert_eq!(human(-3 * 1024 * 1024, "bytes"), "-3.00 MiB");
        assert_eq!(human(1_710_000_000, "nanoseconds"), "1.71 s");
        assert_eq!(human(1234567, "count"), "1,234,567");
    }
}
