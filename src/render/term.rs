//! Terminal safety: names from a profile are escaped before they reach a terminal.

/// Escapes control characters (ANSI escapes, NUL, C1 controls) so a crafted function name
/// cannot drive the terminal.
pub fn escape_terminal(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(unsafe_for_terminal) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if unsafe_for_terminal(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// Control characters, and the bidirectional overrides and isolates that can make a name
/// display as something else ("Trojan Source", CVE-2021-42574).
fn unsafe_for_terminal(c: char) -> bool {
    super::escape::is_unsafe_text(c)
}
