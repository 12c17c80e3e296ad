//! Text escaping shared by the markup writers (DFXML, HTML), and the lossless-path rule they
//! share: when the rendered text cannot give back the exact path bytes (the name is not UTF-8,
//! or holds characters the format cannot carry or that a reader would not see), the raw bytes go
//! beside it in base64.

use crate::path::base64_encode;
use crate::record::FileRecord;

/// Whether XML 1.0 allows `c` in a document at all (escaped or not): tab, line feed, carriage
/// return and U+0020 onwards, less U+FFFE and U+FFFF (surrogates cannot occur in a `str`).
pub(crate) fn xml_allowed(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r') || (c >= ' ' && c != '\u{fffe}' && c != '\u{ffff}')
}

/// `\xNN` for a character below U+0100, `\u{N}` otherwise: how a character that cannot be shown
/// as itself is written (the same form the readable path uses for bytes that are not UTF-8).
fn visible_escape(out: &mut String, c: char) {
    let n = u32::from(c);
    if n < 0x100 {
        out.push_str(&format!("\\x{n:02x}"));
    } else {
        out.push_str(&format!("\\u{{{n:x}}}"));
    }
}

/// Escapes `s` for XML character data (`attr`: for a double-quoted attribute value). Characters
/// XML cannot carry are written `\xNN`; returns whether any was (the text is then lossy).
/// A carriage return is written `&#13;` (a parser would turn a raw one into a line feed), and in
/// attributes tab and line feed are character references too (a parser would make them
/// spaces). `>` is always escaped, so `]]>` never appears.
pub(crate) fn xml_escape(s: &str, attr: bool) -> (String, bool) {
    let mut out = String::with_capacity(s.len() + 8);
    let mut lossy = false;
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if attr => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            '\t' if attr => out.push_str("&#9;"),
            '\n' if attr => out.push_str("&#10;"),
            c if !xml_allowed(c) => {
                lossy = true;
                visible_escape(&mut out, c);
            }
            c => out.push(c),
        }
    }
    (out, lossy)
}

/// Characters a person reading a page would not see, or that reorder what they see: C0 and C1
/// controls, DEL, and the Unicode bidirectional formatting characters (a right-to-left override
/// can make `gpj.exe` read as `exe.jpg`).
fn invisible(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Escapes `s` for HTML text or a double-quoted attribute; invisible characters (see
/// [`invisible`]) are written `\xNN` / `\u{N}`. Returns whether any was (the text is then lossy).
pub(crate) fn html_escape(s: &str) -> (String, bool) {
    let mut out = String::with_capacity(s.len() + 8);
    let mut lossy = false;
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if invisible(c) => {
                lossy = true;
                visible_escape(&mut out, c);
            }
            c => out.push(c),
        }
    }
    (out, lossy)
}

/// [`html_escape`] when the loss does not matter (labels, messages): the escaped text only.
pub(crate) fn html(s: &str) -> String {
    html_escape(s).0
}

/// [`xml_escape`] for text when the loss does not matter: the escaped text only.
pub(crate) fn xml(s: &str) -> String {
    xml_escape(s, false).0
}

/// [`xml_escape`] for an attribute value when the loss does not matter.
pub(crate) fn xml_attr(s: &str) -> String {
    xml_escape(s, true).0
}

/// The base64 of a record's raw path bytes, when `lossy` rendering (or a name that is not UTF-8)
/// needs it: the report's `path_b64` if it has one, else the bytes of the (UTF-8) path.
pub(crate) fn path_b64(r: &FileRecord, lossy: bool) -> Option<String> {
    match &r.path_b64 {
        Some(b) => Some(b.clone()),
        None if lossy => Some(base64_encode(r.path.as_bytes())),
        None => None,
    }
}

/// The base64 of a link target's raw bytes, on the same rule as [`path_b64`].
pub(crate) fn link_b64(r: &FileRecord, lossy: bool) -> Option<String> {
    match (&r.link_target_b64, &r.link_target) {
        (Some(b), _) => Some(b.clone()),
        (None, Some(t)) if lossy => Some(base64_encode(t.as_bytes())),
        _ => None,
    }
}

/// A command line as one string: arguments joined by spaces, each quoted for a POSIX shell
/// when it holds anything but plain characters.
pub(crate) fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| {
            let plain = !a.is_empty()
                && a.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c));
            if plain {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Whether `s` is an `xs:dateTime` the schema accepts as written by the scan: a four-digit year
/// from 0001 on (a timestamp outside years 1-9999 goes to the writer's own vocabulary instead).
pub(crate) fn xsd_datetime(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && &b[..4] != b"0000"
        && b[4] == b'-'
        && b[10] == b'T'
        && s.ends_with('Z')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_escapes_markup_and_keeps_what_parsers_would_normalise() {
        assert_eq!(xml_escape("a<&>]]>\"b", false).0, "a&lt;&amp;&gt;]]&gt;\"b");
        assert_eq!(xml_escape("\"x\"", true).0, "&quot;x&quot;");
        assert_eq!(
            xml_escape("a\rb\tc\nd", false),
            ("a&#13;b\tc\nd".into(), false)
        );
        assert_eq!(xml_escape("a\tb\nc", true).0, "a&#9;b&#10;c");
        assert_eq!(xml_escape("bell\u{7}", false), ("bell\\x07".into(), true));
        assert_eq!(xml_escape("\u{fffe}", false), ("\\u{fffe}".into(), true));
        // Allowed in XML 1.0 even if unusual: kept as they are.
        assert_eq!(
            xml_escape("\u{85}\u{7f}", false),
            ("\u{85}\u{7f}".into(), false)
        );
    }

    #[test]
    fn html_makes_invisible_characters_visible() {
        assert_eq!(
            html_escape("<a href='x'>&"),
            ("&lt;a href=&#39;x&#39;&gt;&amp;".into(), false)
        );
        assert_eq!(html_escape("a\u{1}b"), ("a\\x01b".into(), true));
        assert_eq!(
            html_escape("x\u{202e}gpj.exe"),
            ("x\\u{202e}gpj.exe".into(), true)
        );
        assert_eq!(html_escape("tab\tcr\r"), ("tab\\x09cr\\x0d".into(), true));
        assert_eq!(html_escape("café ✓"), ("café ✓".into(), false));
    }

    #[test]
    fn datetimes_the_schemas_accept() {
        assert!(xsd_datetime("2024-05-01T12:00:00Z"));
        assert!(xsd_datetime("1969-12-31T23:59:59.000000001Z"));
        assert!(!xsd_datetime("0000-01-01T00:00:00Z"));
        assert!(!xsd_datetime("-001-01-01T00:00:00Z"));
        assert!(!xsd_datetime("10000-01-01T00:00:00Z"));
        assert!(!xsd_datetime(""));
    }

    #[test]
    fn shell_join_quotes_only_what_needs_it() {
        let args = ["nearmatch", "scan", "a b", "it's", "-o", "r.jsonl"].map(String::from);
        assert_eq!(
            shell_join(&args),
            r"nearmatch scan 'a b' 'it'\''s' -o r.jsonl"
        );
    }
}
