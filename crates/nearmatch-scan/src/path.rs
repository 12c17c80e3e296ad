//! Lossless path rendering: seized media routinely holds names that are not UTF-8.

use std::path::Path;

/// A path as reports carry it: a readable form, and the raw bytes when the readable form loses
/// information.
pub struct ReportPath {
    /// UTF-8 text; invalid bytes appear as `\xNN` escapes (and a literal backslash as `\\` only
    /// when escapes were needed, so ordinary names print unchanged).
    pub display: String,
    /// Base64 of the raw path bytes, present only when the name is not valid UTF-8.
    pub raw_b64: Option<String>,
}

impl ReportPath {
    /// Renders `path`.
    pub fn new(path: &Path) -> Self {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        match std::str::from_utf8(bytes) {
            Ok(s) => ReportPath {
                display: s.to_string(),
                raw_b64: None,
            },
            Err(_) => {
                let mut display = String::with_capacity(bytes.len() + 8);
                for chunk in bytes.utf8_chunks() {
                    for c in chunk.valid().chars() {
                        if c == '\\' {
                            display.push_str("\\\\");
                        } else {
                            display.push(c);
                        }
                    }
                    for b in chunk.invalid() {
                        display.push_str(&format!("\\x{b:02x}"));
                    }
                }
                ReportPath {
                    display,
                    raw_b64: Some(base64_encode(bytes)),
                }
            }
        }
    }
}

/// Standard base64 with padding (RFC 4648); a dozen lines do not justify a dependency.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        for (input, want) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input.as_bytes()), want);
        }
    }

    #[test]
    fn non_utf8_names_are_escaped_and_kept() {
        use std::ffi::OsStr;
        use std::os::unix::ffi::OsStrExt;
        let p = Path::new(OsStr::from_bytes(b"dir/caf\xe9\\x.jpg"));
        let r = ReportPath::new(p);
        assert_eq!(r.display, "dir/caf\\xe9\\\\x.jpg");
        assert_eq!(
            r.raw_b64.as_deref(),
            Some(base64_encode(b"dir/caf\xe9\\x.jpg").as_str())
        );
        let plain = ReportPath::new(Path::new("a\\b.png"));
        assert_eq!(plain.display, "a\\b.png");
        assert!(plain.raw_b64.is_none());
    }
}
