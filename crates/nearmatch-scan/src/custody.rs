//! Chain-of-custody facts: UTC timestamps, host, user, and the mount state of the evidence.

use std::io::Read;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::Digest as _;

/// SHA-256 (lower-case hex) of a file's bytes, streamed: identifies sets and reports in
/// chains of custody.
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut f = std::fs::File::open(path)?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

/// Who made a report: the tool, its version and the git commit it was built from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ToolInfo {
    /// Tool name (`nearmatch`).
    pub name: String,
    /// Tool version.
    pub version: String,
    /// Git commit of the build, or `unknown`.
    pub git_commit: String,
    /// Whether tracked files differed from that commit (`None`: unknown).
    pub git_dirty: Option<bool>,
}

impl Default for ToolInfo {
    /// This build of nearmatch.
    fn default() -> Self {
        ToolInfo {
            name: "nearmatch".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: env!("NEARMATCH_GIT_COMMIT").into(),
            git_dirty: match env!("NEARMATCH_GIT_DIRTY") {
                "true" => Some(true),
                "false" => Some(false),
                _ => None,
            },
        }
    }
}

/// Formats seconds (and nanoseconds) since the Unix epoch as ISO-8601 UTC
/// (`2024-05-01T12:00:00Z`, with a fraction only when it is not zero).
pub fn iso8601(secs: i64, nanos: u32) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let (hh, mm, ss) = (rem / 3600, rem / 60 % 60, rem % 60);
    let frac = if nanos == 0 {
        String::new()
    } else {
        format!(".{nanos:09}")
    };
    format!("{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{frac}Z")
}

/// Now, as ISO-8601 UTC.
pub fn now_utc() -> String {
    system_time_utc(SystemTime::now())
}

/// A `SystemTime` as ISO-8601 UTC.
pub fn system_time_utc(t: SystemTime) -> String {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => iso8601(d.as_secs() as i64, d.subsec_nanos()),
        Err(e) => {
            let d = e.duration();
            let (s, n) = (d.as_secs() as i64, d.subsec_nanos());
            if n == 0 {
                iso8601(-s, 0)
            } else {
                iso8601(-s - 1, 1_000_000_000 - n)
            }
        }
    }
}

/// Howard Hinnant's `civil_from_days`: proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The host name (from the kernel), or `"unknown"`.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The user running the scan: `name (uid N)`, the name from `/etc/passwd` or `$USER`.
pub fn user() -> String {
    // SAFETY: getuid has no preconditions and cannot fail.
    let uid = unsafe { libc::getuid() };
    let from_passwd = std::fs::read_to_string("/etc/passwd").ok().and_then(|p| {
        p.lines().find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
        })
    });
    let name = from_passwd
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "?".to_string());
    format!("{name} (uid {uid})")
}

/// The mount holding `path` (canonical) and whether it is mounted read-write, from
/// `/proc/self/mountinfo`. `None` when that file is unavailable (not Linux).
pub fn mount_of(path: &Path) -> Option<(String, bool)> {
    let info = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    let mut best: Option<(String, bool)> = None;
    for line in info.lines() {
        // Fields: id parent major:minor root mount-point options ...
        let f: Vec<&str> = line.split(' ').collect();
        if f.len() < 6 {
            continue;
        }
        let mount_point = unescape_mountinfo(f[4]);
        let rw = f[5].split(',').any(|o| o == "rw");
        if path.starts_with(&mount_point)
            && best
                .as_ref()
                .is_none_or(|(b, _)| mount_point.len() >= b.len())
        {
            best = Some((mount_point, rw));
        }
    }
    best
}

/// mountinfo escapes space, tab, newline and backslash as octal `\NNN`.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_known_instants() {
        assert_eq!(iso8601(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(iso8601(951_782_400, 0), "2000-02-29T00:00:00Z");
        assert_eq!(iso8601(1_700_000_000, 5), "2023-11-14T22:13:20.000000005Z");
        assert_eq!(iso8601(-1, 0), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape_mountinfo("/mnt/a\\040b"), "/mnt/a b");
    }
}
