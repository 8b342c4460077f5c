//! Which characters from a profile are unsafe in which output, in one place (issues 10, 16).
//! Every format escapes control characters; besides those:
//! - bidirectional overrides, embeddings, isolates and marks ([`is_bidi`]) can make a name
//!   display as something else ("Trojan Source", CVE-2021-42574): escaped in the terminal,
//!   Markdown, SVG and folded output;
//! - code points XML 1.0 forbids ([`is_xml_invalid`]: U+FFFE, U+FFFF and C0 controls) make
//!   an SVG not well-formed;
//! - in Markdown, GFM's extended autolinks (`https://…`, `www.…`, `user@host`) turn names
//!   into live links ([`markdown_autolink_char`]).

/// Bidirectional formatting characters: LRE, RLE, PDF, LRO, RLO, LRI, RLI, FSI, PDI, LRM,
/// RLM and ALM.
pub fn is_bidi(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}' | '\u{061c}'
    )
}

/// Not a `Char` of XML 1.0: C0 controls other than tab, LF and CR, and U+FFFE, U+FFFF
/// (Rust's `char` has no surrogates).
pub fn is_xml_invalid(c: char) -> bool {
    (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || matches!(c, '\u{fffe}' | '\u{ffff}')
}

/// Characters shown as `\u{..}` text rather than as themselves in every text output:
/// controls, bidi formatting characters and XML-invalid code points.
pub fn is_unsafe_text(c: char) -> bool {
    c.is_control() || is_bidi(c) || is_xml_invalid(c)
}

/// In Markdown, whether the character at byte `i` of `s` must be backslash-escaped so that no
/// GFM extended autolink starts there: the `:` of `scheme://` (`http://`, `https://`,
/// `ftp://`) and of `mailto:`/`xmpp:`, every `@` (email autolinks) and the `.` after `www`.
/// A backslash escape renders as the character itself (copy-paste from the rendered page is
/// unchanged) and splits the text node cmark-gfm's autolinker scans. Other `:` (`file.go:12`)
/// are left alone.
pub fn markdown_autolink_char(s: &str, i: usize) -> bool {
    let b = s.as_bytes();
    // Bytes, so a long name with many dots costs no more than its length.
    let ends_with = |w: &str| i >= w.len() && b[i - w.len()..i].eq_ignore_ascii_case(w.as_bytes());
    match b[i] {
        b':' => b[i + 1..].starts_with(b"//") || ends_with("mailto") || ends_with("xmpp"),
        b'@' => true,
        b'.' => ends_with("www"),
        _ => false,
    }
}

/// `s` as literal Markdown text, safe in a paragraph, a list item and a table cell.
pub fn markdown(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for (i, c) in s.char_indices() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '&' | '|' | '~' | '#' | '!' | '$' => {
                out.push('\\');
                out.push(c);
            }
            // No GFM autolink (`https://`, `www.`, `user@host`) starts in a name (issue 16).
            ':' | '@' | '.' if markdown_autolink_char(s, i) => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            // A space that starts the text or follows another is an entity, so runs of
            // spaces never indent a line into a code block (issue 16, finding 13).
            ' ' if out.is_empty() || out.ends_with(' ') || out.ends_with("&#32;") => {
                out.push_str("&#32;")
            }
            c if is_unsafe_text(c) => {
                out.push_str(&c.escape_unicode().to_string().replace('\\', "\\\\"))
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert!(is_bidi('\u{202e}') && is_bidi('\u{2067}') && !is_bidi('a'));
        assert!(is_xml_invalid('\u{ffff}') && is_xml_invalid('\u{fffe}'));
        assert!(is_xml_invalid('\u{1}') && !is_xml_invalid('\t') && !is_xml_invalid('\u{fdd0}'));
        assert!(is_unsafe_text('\u{ffff}') && is_unsafe_text('\u{200f}') && !is_unsafe_text('é'));
        let s = "see https://x and www.y and WWW.z a.b f.go:12 mailto:a@b";
        let hits: Vec<usize> = (0..s.len())
            .filter(|&i| markdown_autolink_char(s, i))
            .collect();
        assert_eq!(hits, vec![9, 21, 31, 52, 54]);
    }
}
