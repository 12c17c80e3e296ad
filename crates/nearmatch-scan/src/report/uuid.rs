//! Name-based UUIDs (RFC 9562 version 5, SHA-1) for the identifiers of a CASE report: the same
//! scan renders the same identifiers, whether written by the scan or converted later.

use sha1::{Digest as _, Sha1};

/// nearmatch's namespace for version-5 UUIDs (a random version-4 UUID, fixed once).
pub(crate) const NEARMATCH: [u8; 16] = [
    0x4d, 0x4f, 0x8d, 0xbb, 0x42, 0xda, 0x4f, 0xdb, 0x8d, 0x05, 0x1f, 0xfa, 0x9a, 0x7f, 0x54, 0x4f,
];

/// A version-5 UUID: SHA-1 of the namespace and the name, version and variant bits set.
pub(crate) fn v5(namespace: &[u8; 16], name: &[u8]) -> [u8; 16] {
    let mut h = Sha1::new();
    h.update(namespace);
    h.update(name);
    let d = h.finalize();
    let mut u = [0u8; 16];
    u.copy_from_slice(&d[..16]);
    u[6] = (u[6] & 0x0f) | 0x50;
    u[8] = (u[8] & 0x3f) | 0x80;
    u
}

/// The canonical lower-case text form, `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub(crate) fn text(u: &[u8; 16]) -> String {
    let h = hex::encode(u);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v5_matches_rfc_9562_example() {
        // RFC 9562 appendix A.4: the DNS namespace and "www.example.com".
        let dns = [
            0x6b, 0xa7, 0xb8, 0x10, 0x9d, 0xad, 0x11, 0xd1, 0x80, 0xb4, 0x00, 0xc0, 0x4f, 0xd4,
            0x30, 0xc8,
        ];
        assert_eq!(
            text(&v5(&dns, b"www.example.com")),
            "2ed6657d-e927-568b-95e1-2665a8aea6a2"
        );
    }
}
