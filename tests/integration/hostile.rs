//! Hostile input, faults and crash safety (issue #7): a corpus of damaged, malicious-looking and
//! awkward files generated here from benign synthetic images, scanned by the real binary in a
//! child process whose peak memory is read from the kernel (`wait4`).
//!
//! Every expectation is what the test planted (the disposition its construction implies), never
//! what the scanner computed.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nearmatch_synth::{encode_jpeg, encode_png, generate, Scene};
use serde_json::Value;

use crate::common::repo_root;

/// Peak resident memory allowed for a scan of the hostile corpus (two threads). The largest
/// legitimate cost in the corpus is the 32 MP decompression bomb: 32 MiB of grey pixels plus
/// PDQ's full-size float luma (128 MiB); every other file is kilobytes.
const MAX_RSS_MIB: u64 = 512;

/// splitmix64: a seeded generator for flip positions and kill delays (no dependency needed).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_nearmatch"))
}

/// Runs `cmd` to completion; returns (exit code, or None when killed by a signal; peak RSS of
/// the child in KiB, from `wait4`'s rusage, which covers exactly this child).
fn run_measured(cmd: &mut Command) -> (Option<i32>, u64) {
    #[allow(clippy::zombie_processes)] // reaped by wait4 below
    let child = cmd.spawn().expect("spawn nearmatch");
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: all-zero bytes are a valid `rusage` (plain integers and timevals).
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own unreaped child (std's `Child` has not waited for it), and both
    // out-pointers are valid for writes for the duration of the call.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    // ru_maxrss is in KiB on Linux.
    (code, usage.ru_maxrss as u64)
}

/// A PDQ set with one entry nothing in these trees is near (all-ones hash).
fn dummy_set(dir: &Path) -> PathBuf {
    let list = dir.join("known.txt");
    std::fs::write(&list, format!("{}\n", "f".repeat(64))).unwrap();
    let set = dir.join("known.nmset");
    let st = bin()
        .args(["set", "build", "--algo", "pdq", "-o"])
        .arg(&set)
        .arg(&list)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    set
}

fn scan_cmd(evidence: &Path, set: &Path, out: &Path) -> Command {
    let mut c = bin();
    c.arg("scan")
        .arg(evidence)
        .arg("--set")
        .arg(set)
        .arg("-o")
        .arg(out)
        .arg("--quiet")
        .stdout(Stdio::null());
    c
}

/// The file records of a JSONL report, keyed by raw path bytes relative to `root`.
fn records(report: &Path, root: &Path) -> (BTreeMap<Vec<u8>, Value>, Value) {
    let text = std::fs::read_to_string(report).unwrap();
    let recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary = recs.last().unwrap().clone();
    assert_eq!(summary["record"], "summary");
    let mut out = BTreeMap::new();
    let prefix = root.as_os_str().as_bytes();
    for r in &recs[1..recs.len() - 1] {
        let raw = match r.get("path_b64").and_then(Value::as_str) {
            Some(b) => base64_decode(b),
            None => r["path"].as_str().unwrap().as_bytes().to_vec(),
        };
        let rel = raw
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("record outside the root: {r}"))
            .strip_prefix(b"/")
            .unwrap()
            .to_vec();
        assert!(out.insert(rel, r.clone()).is_none(), "two records for {r}");
    }
    (out, summary)
}

fn base64_decode(s: &str) -> Vec<u8> {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let (mut bits, mut n, mut out) = (0u32, 0, Vec::new());
    for c in s.bytes().filter(|&c| c != b'=') {
        bits = (bits << 6) | A.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Hand-made file formats: the bombs and lying headers are bytes no encoder would write.

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

fn png_ihdr(w: u32, h: u32, colour: u8) -> Vec<u8> {
    let mut d = w.to_be_bytes().to_vec();
    d.extend_from_slice(&h.to_be_bytes());
    d.extend_from_slice(&[8, colour, 0, 0, 0]);
    d
}

/// A zlib stream inflating to `n` zero bytes, 13 bits per 258 output bytes (one fixed-Huffman
/// block of length-258, distance-1 copies): the classic decompression bomb, about 160:1.
fn zlib_zeros(n: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u64,
        len: u32,
    }
    impl Bits {
        fn put(&mut self, v: u64, n: u32) {
            self.acc |= v << self.len;
            self.len += n;
            while self.len >= 8 {
                self.out.push(self.acc as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// Huffman codes go most significant bit first.
        fn code(&mut self, c: u64, n: u32) {
            for i in (0..n).rev() {
                self.put((c >> i) & 1, 1);
            }
        }
    }
    let mut b = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        len: 0,
    };
    b.put(1, 1); // BFINAL
    b.put(1, 2); // BTYPE = fixed Huffman
    let mut left = n;
    if left > 0 {
        b.code(0x30, 8); // literal 0
        left -= 1;
    }
    while left >= 258 {
        b.code(0xC5, 8); // length code 285 = 258
        b.code(0, 5); // distance code 0 = 1
        left -= 258;
    }
    for _ in 0..left {
        b.code(0x30, 8);
    }
    b.code(0, 7); // end of block
    let pad = (8 - b.len % 8) % 8;
    b.put(0, pad); // to a byte boundary
                   // Adler-32 of n zero bytes: a = 1, b = n (mod 65521).
    let adler = (((n % 65521) as u32) << 16) | 1;
    b.out.extend_from_slice(&adler.to_be_bytes());
    b.out
}

/// A legal 8192 x 4096 grey PNG whose 32 MiB of pixel data is a ~210 KB zlib bomb.
fn png_idat_bomb() -> Vec<u8> {
    let (w, h) = (8192u32, 4096u32);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &png_ihdr(w, h, 0));
    png_chunk(
        &mut png,
        b"IDAT",
        &zlib_zeros(u64::from(w + 1) * u64::from(h)),
    );
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// A small valid PNG carrying a compressed text chunk (`zTXt`, or `iTXt` with the compression
/// flag) that inflates to `text_bytes`.
fn png_text_bomb(itxt: bool, text_bytes: u64) -> Vec<u8> {
    let img = encode_png(&generate(Scene::Landscape, 32, 24, 77));
    let iend = img.len() - 12;
    let mut png = img[..iend].to_vec();
    let mut data = b"Comment\0".to_vec();
    if itxt {
        data.extend_from_slice(&[1, 0, 0, 0]); // compressed, deflate, "" language, "" keyword
    } else {
        data.push(0); // deflate
    }
    data.extend_from_slice(&zlib_zeros(text_bytes));
    png_chunk(&mut png, if itxt { b"iTXt" } else { b"zTXt" }, &data);
    png_chunk(&mut png, b"IEND", &[]);
    png
}

fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png_chunk(&mut png, b"IHDR", &png_ihdr(w, h, 2));
    png_chunk(&mut png, b"IDAT", &zlib_zeros(64));
    png_chunk(&mut png, b"IEND", &[]);
    png
}

/// A GIF whose screen and first frame claim 65535 x 65535.
fn gif_claiming() -> Vec<u8> {
    let mut g = b"GIF89a".to_vec();
    g.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 0, 0, 0]);
    g.push(0x2c);
    g.extend_from_slice(&[0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0]);
    g.extend_from_slice(&[8, 2, 0x00, 0x01, 0, 0x3b]);
    g
}

/// A little-endian TIFF whose only IFD claims 100000 x 100000 8-bit grey in one strip.
fn tiff_claiming() -> Vec<u8> {
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    let entries: [(u16, u16, u32); 8] = [
        (256, 4, 100_000), // ImageWidth LONG
        (257, 4, 100_000), // ImageLength
        (258, 3, 8),       // BitsPerSample SHORT
        (259, 3, 1),       // Compression none
        (262, 3, 1),       // BlackIsZero
        (273, 4, 200),     // StripOffsets
        (278, 4, 100_000), // RowsPerStrip
        (279, 4, 16),      // StripByteCounts
    ];
    t.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, ty, v) in entries {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&ty.to_le_bytes());
        t.extend_from_slice(&1u32.to_le_bytes());
        t.extend_from_slice(&v.to_le_bytes());
    }
    t.extend_from_slice(&0u32.to_le_bytes());
    t.resize(216, 0);
    t
}

/// A lossless WebP whose VP8L header claims 16383 x 16383 (VP8L's maximum; 268 MP, over the
/// 250 MP limit).
fn webp_claiming() -> Vec<u8> {
    let mut vp8l = vec![0x2f];
    let bits: u32 = 16382 | (16382 << 14); // width-1, height-1; no alpha, version 0
    vp8l.extend_from_slice(&bits.to_le_bytes());
    vp8l.extend_from_slice(&[0; 16]);
    let mut w = b"RIFF".to_vec();
    w.extend_from_slice(&((4 + 8 + vp8l.len()) as u32).to_le_bytes());
    w.extend_from_slice(b"WEBPVP8L");
    w.extend_from_slice(&(vp8l.len() as u32).to_le_bytes());
    w.extend_from_slice(&vp8l);
    w
}

/// A baseline JPEG header claiming 65500 x 65500 (libjpeg-turbo's maximum), no scan data.
fn jpeg_claiming() -> Vec<u8> {
    let mut j = vec![0xff, 0xd8];
    j.extend_from_slice(&[0xff, 0xc0, 0x00, 0x11, 8, 0xff, 0xdc, 0xff, 0xdc, 3]);
    for id in 1..=3u8 {
        j.extend_from_slice(&[id, 0x11, 0]);
    }
    // Start of scan (libjpeg reads the header up to here), then nothing but the end marker.
    j.extend_from_slice(&[0xff, 0xda, 0x00, 0x0c, 3, 1, 0, 2, 0, 3, 0, 0, 63, 0]);
    j.extend_from_slice(&[0xff, 0xd9]);
    j
}

/// Valid small files of every supported format: the decode fixtures plus synthetic encodes.
fn samples() -> Vec<(&'static str, Vec<u8>)> {
    let td = repo_root().join("crates/nearmatch/src/decode/testdata");
    let read = |n: &str| std::fs::read(td.join(n)).unwrap();
    let img = generate(Scene::Indoor, 120, 90, 5);
    vec![
        ("jpg", encode_jpeg(&img, 85)),
        ("prog.jpg", read("rgb444_prog.jpg")),
        ("png", encode_png(&img)),
        ("p.png", read("p_trns.png")),
        ("gif", read("anim.gif")),
        ("bmp", read("rgb.bmp")),
        ("tif", read("rgb_lzw.tif")),
        ("deflate.tif", read("rgba_deflate.tif")),
        ("webp", read("rgba_lossless.webp")),
    ]
}

// ---------------------------------------------------------------------------------------------

/// What a planted path must end as.
#[derive(Clone, Copy, Debug)]
enum Expect {
    Is(&'static str),
    /// Damaged content: one of the dispositions a damaged file can rightly get — never a
    /// panic, a timeout or a missing record.
    Damaged,
}

const DAMAGED: [&str; 4] = [
    "error:decode",
    "unmatched",
    "not-image",
    "skipped:dimensions",
];

struct Corpus {
    expected: BTreeMap<Vec<u8>, Expect>,
    skipped_checks: Vec<String>,
}

fn put(ev: &Path, c: &mut Corpus, rel: &str, bytes: &[u8], e: Expect) {
    let p = ev.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, bytes).unwrap();
    c.expected.insert(rel.as_bytes().to_vec(), e);
}

fn plant_corpus(ev: &Path) -> Corpus {
    let mut c = Corpus {
        expected: BTreeMap::new(),
        skipped_checks: Vec::new(),
    };
    let mut rng = Rng(0x5eed_0007);
    // Truncations of every format at fixed small offsets (inside the magic and headers) and at
    // 24 evenly spaced ones; bit flips at random positions.
    for (ext, bytes) in samples() {
        let n = bytes.len();
        let mut cuts: Vec<usize> = vec![0, 1, 2, 3, 5, 7, 8, 11, 12, 13, 17, 18, 24, 33, 64];
        cuts.extend((1..24).map(|k| n * k / 24));
        cuts.push(n - 1);
        cuts.sort_unstable();
        cuts.dedup();
        for cut in cuts.into_iter().filter(|&k| k < n) {
            let e = if cut == 0 {
                Expect::Is("not-image")
            } else {
                Expect::Damaged
            };
            put(
                ev,
                &mut c,
                &format!("trunc/{ext}-{cut:06}.{ext}"),
                &bytes[..cut],
                e,
            );
        }
        for v in 0..12 {
            let mut b = bytes.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(n as u64) as usize;
                b[at] ^= 1 << rng.below(8);
            }
            put(
                ev,
                &mut c,
                &format!("flip/{ext}-{v:02}.{ext}"),
                &b,
                Expect::Damaged,
            );
        }
        put(
            ev,
            &mut c,
            &format!("ok/sample.{ext}"),
            &bytes,
            Expect::Is("unmatched"),
        );
    }
    // Headers claiming far more pixels than the limits allow, with almost no data behind them.
    let lim = Expect::Is("skipped:dimensions");
    put(
        ev,
        &mut c,
        "dims/png-100k.png",
        &png_claiming(100_000, 100_000),
        lim,
    );
    put(ev, &mut c, "dims/gif-65535.gif", &gif_claiming(), lim);
    put(ev, &mut c, "dims/tiff-100k.tif", &tiff_claiming(), lim);
    put(ev, &mut c, "dims/webp-16384.webp", &webp_claiming(), lim);
    put(ev, &mut c, "dims/jpeg-65500.jpg", &jpeg_claiming(), lim);
    // Decompression bombs: legal dimensions, 160:1 image data; text chunks inflating to 256 MiB.
    put(
        ev,
        &mut c,
        "bomb/idat-32mp.png",
        &png_idat_bomb(),
        Expect::Is("unmatched"),
    );
    put(
        ev,
        &mut c,
        "bomb/ztxt-256mib.png",
        &png_text_bomb(false, 256 << 20),
        Expect::Is("unmatched"),
    );
    put(
        ev,
        &mut c,
        "bomb/itxt-256mib.png",
        &png_text_bomb(true, 256 << 20),
        Expect::Is("unmatched"),
    );
    // The PNG the fuzzer found (PLTE not a multiple of 3): an error, not a crash.
    let plte = repo_root().join("fuzz/regressions/decode_hash/png-plte-not-multiple-of-3.png");
    if let Ok(b) = std::fs::read(&plte) {
        put(ev, &mut c, "fuzz/plte.png", &b, Expect::Damaged);
    }
    // Zero-byte files, with and without image extensions.
    for n in ["empty", "empty.jpg", "empty.png", ".empty"] {
        put(
            ev,
            &mut c,
            &format!("zero/{n}"),
            b"",
            Expect::Is("not-image"),
        );
    }
    // A directory of 50,000 entries (zero-byte: the point is the walk and the accounting).
    let many = ev.join("many");
    std::fs::create_dir_all(&many).unwrap();
    for i in 0..50_000 {
        let rel = format!("many/{i:05}");
        std::fs::File::create(ev.join(&rel)).unwrap();
        c.expected.insert(rel.into_bytes(), Expect::Is("not-image"));
    }
    // 200 levels of nesting.
    let deep: String = (0..200).map(|i| format!("d{i}/")).collect();
    put(
        ev,
        &mut c,
        &format!("deep/{deep}leaf.txt"),
        b"deep\n",
        Expect::Is("not-image"),
    );
    // Long names and paths: 255-byte components up to just under PATH_MAX (4096).
    plant_long_paths(ev, &mut c);
    // A non-UTF-8 name.
    let raw = b"names/caf\xe9-\xff.png";
    let p = ev.join(OsStr::from_bytes(raw));
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(&p, encode_png(&generate(Scene::Gradient, 40, 30, 3))).unwrap();
    c.expected.insert(raw.to_vec(), Expect::Is("unmatched"));
    // Symbolic link loops and links to devices: recorded, never followed.
    let links = ev.join("links");
    std::fs::create_dir_all(&links).unwrap();
    for (name, target) in [
        ("a", "b"),
        ("b", "a"),
        ("self", "self"),
        ("up", ".."),
        ("root", "/"),
        ("devnull", "/dev/null"),
        ("zero", "/dev/zero"),
        ("dangling", "does-not-exist"),
    ] {
        std::os::unix::fs::symlink(target, links.join(name)).unwrap();
        c.expected.insert(
            format!("links/{name}").into_bytes(),
            Expect::Is("skipped:symlink"),
        );
    }
    // Special files: a FIFO, a socket, and a character device node when permitted.
    let sp = ev.join("special");
    std::fs::create_dir_all(&sp).unwrap();
    let fifo = std::ffi::CString::new(sp.join("fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: `fifo` is a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    c.expected
        .insert(b"special/fifo".to_vec(), Expect::Is("skipped:special"));
    let _sock = std::os::unix::net::UnixListener::bind(sp.join("socket")).unwrap();
    c.expected
        .insert(b"special/socket".to_vec(), Expect::Is("skipped:special"));
    let dev = std::ffi::CString::new(sp.join("null-dev").as_os_str().as_bytes()).unwrap();
    // SAFETY: `dev` is a valid NUL-terminated path; makedev(1, 3) is /dev/null's number.
    let made = unsafe { libc::mknod(dev.as_ptr(), libc::S_IFCHR | 0o666, libc::makedev(1, 3)) };
    if made == 0 {
        c.expected
            .insert(b"special/null-dev".to_vec(), Expect::Is("skipped:special"));
    } else {
        c.skipped_checks.push(format!(
            "char device node not created ({}); links/devnull and links/zero cover devices",
            std::io::Error::last_os_error()
        ));
    }
    // Unreadable file and directory: as root permissions do not stop reads, so check only the
    // walk accounting there.
    let ur = ev.join("unreadable");
    std::fs::create_dir_all(ur.join("dir")).unwrap();
    std::fs::write(
        ur.join("file.png"),
        encode_png(&generate(Scene::Product, 40, 30, 4)),
    )
    .unwrap();
    std::fs::write(ur.join("dir/inside.txt"), b"hidden\n").unwrap();
    std::fs::set_permissions(ur.join("file.png"), std::fs::Permissions::from_mode(0o000)).unwrap();
    std::fs::set_permissions(ur.join("dir"), std::fs::Permissions::from_mode(0o000)).unwrap();
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        c.skipped_checks.push(
            "running as root: chmod 000 does not stop reads, so unreadable/ is read normally"
                .into(),
        );
        c.expected
            .insert(b"unreadable/file.png".to_vec(), Expect::Is("unmatched"));
        c.expected.insert(
            b"unreadable/dir/inside.txt".to_vec(),
            Expect::Is("not-image"),
        );
    } else {
        c.expected
            .insert(b"unreadable/file.png".to_vec(), Expect::Is("error:open"));
        c.expected
            .insert(b"unreadable/dir".to_vec(), Expect::Is("error:walk"));
    }
    c
}

/// 255-byte directory names nested to just under PATH_MAX, a 255-byte file name at the bottom,
/// and one directory more whose path is over PATH_MAX (made with `mkdirat` relative to an open
/// directory): it cannot be opened by path, so it is reported as a walk error.
fn plant_long_paths(ev: &Path, c: &mut Corpus) {
    let comp = |ch: char| ch.to_string().repeat(255);
    let mut rel = String::from("long");
    let base = ev.as_os_str().len();
    let mut k = 0;
    while base + 1 + rel.len() + 256 + 256 < 4096 {
        rel.push('/');
        rel.push_str(&comp((b'a' + k) as char));
        k += 1;
    }
    std::fs::create_dir_all(ev.join(&rel)).unwrap();
    let file = format!("{rel}/{}", comp('z'));
    std::fs::write(ev.join(&file), b"long name\n").unwrap();
    c.expected
        .insert(file.into_bytes(), Expect::Is("not-image"));
    // Two more levels by mkdirat: the second one's full path passes PATH_MAX.
    let dir = std::fs::File::open(ev.join(&rel)).unwrap();
    let name = std::ffi::CString::new(comp('y')).unwrap();
    use std::os::fd::AsRawFd;
    // SAFETY: the fd is an open directory and `name` a valid NUL-terminated component.
    assert_eq!(
        unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) },
        0
    );
    let path1 = format!("{rel}/{}", comp('y'));
    // SAFETY: as above; the dirfd-relative path is only 511 bytes.
    let name2 = std::ffi::CString::new(format!("{}/{}", comp('y'), comp('x'))).unwrap();
    assert_eq!(
        unsafe { libc::mkdirat(dir.as_raw_fd(), name2.as_ptr(), 0o755) },
        0
    );
    let path2 = format!("{path1}/{}", comp('x'));
    assert!(base + 1 + path2.len() >= 4096, "over PATH_MAX");
    c.expected
        .insert(path2.into_bytes(), Expect::Is("error:walk"));
}

#[test]
fn hostile_corpus_gets_its_dispositions_within_the_memory_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ev = root.join("evidence");
    std::fs::create_dir_all(&ev).unwrap();
    let t0 = Instant::now();
    let corpus = plant_corpus(&ev);
    eprintln!(
        "planted {} paths in {:?}",
        corpus.expected.len(),
        t0.elapsed()
    );
    for s in &corpus.skipped_checks {
        eprintln!("note: {s}");
    }
    let set = dummy_set(root);
    let out = root.join("report.jsonl");
    let t1 = Instant::now();
    let (code, max_rss_kib) = run_measured(scan_cmd(&ev, &set, &out).args(["--threads", "2"]));
    eprintln!(
        "scan: exit {code:?}, peak RSS {} MiB (bound {MAX_RSS_MIB} MiB), {:?}",
        max_rss_kib / 1024,
        t1.elapsed()
    );
    // The same corpus on one thread: hostile input is handled identically whatever the threads.
    let out1 = root.join("report-1thread.jsonl");
    let (code1, _) = run_measured(scan_cmd(&ev, &set, &out1).args(["--threads", "1"]));
    // Restore permissions so the temporary directory can be removed.
    let ur = ev.join("unreadable");
    let _ = std::fs::set_permissions(ur.join("dir"), std::fs::Permissions::from_mode(0o755));
    assert_eq!(
        code,
        Some(2),
        "completed, some files could not be processed"
    );
    let (mut recs, summary) = records(&out, &ev);
    // The sample GIF is animated: its second frame (and that of the damaged copies whose frames
    // still decode) is a child record of its own below a planted GIF. A bit flip in a TIFF's
    // next-IFD offset gives it a second page, a child record below that TIFF (with its decode
    // error, as a rule).
    let child_at = |k: &[u8], marker: &[u8]| k.windows(marker.len()).position(|w| w == marker);
    let frames: Vec<Vec<u8>> = recs
        .keys()
        .filter(|k| {
            child_at(k, b"!/frame/")
                .or(child_at(k, b"!/page/"))
                .is_some()
        })
        .cloned()
        .collect();
    for f in &frames {
        let (at, ext): (usize, &[u8]) = match child_at(f, b"!/frame/") {
            Some(at) => (at, b".gif"),
            None => (child_at(f, b"!/page/").unwrap(), b".tif"),
        };
        assert!(
            corpus.expected.contains_key(&f[..at]) && f[..at].ends_with(ext),
            "a frame or page record below something not planted: {}",
            String::from_utf8_lossy(f)
        );
        recs.remove(f);
    }
    assert!(
        frames.iter().any(|f| f.starts_with(b"ok/sample.gif")),
        "the animated sample has its frame"
    );
    // Every planted path has exactly one record, and nothing else does.
    let planted: Vec<_> = corpus.expected.keys().collect();
    let reported: Vec<_> = recs.keys().collect();
    if planted != reported {
        let missing: Vec<_> = corpus
            .expected
            .keys()
            .filter(|k| !recs.contains_key(*k))
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .take(5)
            .collect();
        let extra: Vec<_> = recs
            .keys()
            .filter(|k| !corpus.expected.contains_key(*k))
            .map(|k| String::from_utf8_lossy(k).into_owned())
            .take(5)
            .collect();
        panic!("planted and reported paths differ: missing {missing:?}, extra {extra:?}");
    }
    let n = corpus.expected.len() as u64;
    assert_eq!(summary["files_walked"].as_u64(), Some(n));
    let frames = frames.len() as u64;
    assert_eq!(summary["files_reported"].as_u64(), Some(n + frames));
    let total: u64 = summary["dispositions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        total,
        n + frames,
        "dispositions reconcile with the walk and the frames"
    );
    let mut wrong = Vec::new();
    for (k, e) in &corpus.expected {
        let r = &recs[k];
        let d = r["disposition"].as_str().unwrap();
        let ok = match e {
            Expect::Is(want) => d == *want,
            Expect::Damaged => DAMAGED.contains(&d),
        };
        // An error names its cause.
        let explained =
            !d.starts_with("error:") || r["error"].as_str().is_some_and(|m| !m.is_empty());
        if !ok || !explained {
            wrong.push(format!(
                "{}: {d} (want {e:?}) {}",
                String::from_utf8_lossy(k),
                r["error"]
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong dispositions: {:#?}",
        wrong.len(),
        &wrong[..wrong.len().min(20)]
    );
    // The damaged inputs exercise the decoders, not just the sniffing.
    let decode_errors = recs
        .values()
        .filter(|r| r["disposition"] == "error:decode")
        .count();
    assert!(decode_errors > 100, "only {decode_errors} decode errors");
    assert_eq!(code1, code);
    // Except the atime of symbolic links: Linux updates it when a link is read (readlink has no
    // O_NOATIME), so the first scan's walk changed it for the second (a read-only or noatime
    // mount prevents that; the header warns about read-write mounts).
    let link_atime_free = |r: &Value| {
        let mut r = r.clone();
        if r["kind"] == "symlink" {
            r.as_object_mut().unwrap().remove("atime");
        }
        r
    };
    let recs1 = records(&out1, &ev).0;
    let differ: Vec<String> = recs
        .iter()
        .filter(|(k, v)| recs1.get(*k).map(link_atime_free) != Some(link_atime_free(v)))
        .map(|(k, v)| format!("{v}\n  vs {}", recs1[k]))
        .collect();
    assert!(
        differ.is_empty(),
        "1 and 2 threads differ in {} records: {:#?}",
        differ.len(),
        &differ[..differ.len().min(3)]
    );
    assert!(
        max_rss_kib < MAX_RSS_MIB * 1024,
        "peak RSS {} MiB over the {MAX_RSS_MIB} MiB bound",
        max_rss_kib / 1024
    );
}

// ---------------------------------------------------------------------------------------------

fn small_tree(ev: &Path, names: &[&str]) {
    std::fs::create_dir_all(ev).unwrap();
    for (i, n) in names.iter().enumerate() {
        let img = generate(Scene::DeadLeaves, 64, 48, 300 + i as u64);
        std::fs::write(ev.join(n), encode_png(&img)).unwrap();
    }
}

fn dispositions(report: &Path, ev: &Path) -> BTreeMap<String, (String, String)> {
    records(report, ev)
        .0
        .into_iter()
        .map(|(k, r)| {
            (
                String::from_utf8(k).unwrap(),
                (
                    r["disposition"].as_str().unwrap().to_string(),
                    r["error"].as_str().unwrap_or("").to_string(),
                ),
            )
        })
        .collect()
}

#[test]
fn decoder_panic_and_stuck_decode_become_dispositions_and_the_scan_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ev = root.join("evidence");
    small_tree(
        &ev,
        &["a.png", "b-panics.png", "c.png", "d-stuck.png", "e.png"],
    );
    let plte = repo_root().join("fuzz/regressions/decode_hash/png-plte-not-multiple-of-3.png");
    std::fs::copy(&plte, ev.join("f-plte.png")).unwrap();
    let set = dummy_set(root);
    let out = root.join("r.jsonl");
    // The stuck decode waits for a flag that never comes (the hook gives up after 120 s).
    let never = root.join("never");
    let hook = format!("panic:b-panics.png,pause:d-stuck.png:{}", never.display());
    let (code, _) = run_measured(
        scan_cmd(&ev, &set, &out)
            .args(["--threads", "1", "--decode-timeout", "2"])
            .env("NEARMATCH_TEST_HOOK", &hook)
            // A backtrace of the injected panic would only slow the run down.
            .env("RUST_BACKTRACE", "0")
            .stderr(Stdio::null()),
    );
    assert_eq!(code, Some(2));
    let d = dispositions(&out, &ev);
    assert_eq!(d["b-panics.png"].0, "error:panic");
    assert!(
        d["b-panics.png"].1.contains("injected panic"),
        "{:?}",
        d["b-panics.png"]
    );
    assert_eq!(d["d-stuck.png"].0, "error:timeout");
    assert!(d["d-stuck.png"].1.contains("--decode-timeout"));
    // A panic inside the decoder itself is caught by the decoder guard.
    assert_eq!(d["f-plte.png"].0, "error:decode", "{:?}", d["f-plte.png"]);
    for n in ["a.png", "c.png", "e.png"] {
        assert_eq!(d[n].0, "unmatched", "{n}: the scan went on");
    }
}

#[test]
fn too_many_stuck_decodes_stop_the_scan_and_resume_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ev = root.join("evidence");
    let names: Vec<String> = (0..8).map(|i| format!("s{i}.png")).collect();
    small_tree(&ev, &names.iter().map(String::as_str).collect::<Vec<_>>());
    let set = dummy_set(root);
    let out = root.join("r.jsonl");
    let never = root.join("never");
    let hook: Vec<String> = names
        .iter()
        .map(|n| format!("pause:{n}:{}", never.display()))
        .collect();
    let mut cmd = scan_cmd(&ev, &set, &out);
    cmd.args(["--threads", "1", "--decode-timeout", "0.3", "--resume"])
        .env("NEARMATCH_TEST_HOOK", hook.join(","))
        .stderr(Stdio::piped());
    let child = cmd.output().unwrap();
    assert_eq!(child.status.code(), Some(70), "stopped with a clear error");
    let err = String::from_utf8_lossy(&child.stderr);
    assert!(
        err.contains("exceeded --decode-timeout") && err.contains("--resume"),
        "{err}"
    );
    assert!(!out.exists());
    // Resume without the hook and with the default budget (a resume may change it): the four
    // timed-out files keep their records, the rest are hashed.
    let mut cmd = scan_cmd(&ev, &set, &out);
    cmd.args(["--threads", "1", "--resume"]);
    assert_eq!(cmd.status().unwrap().code(), Some(2));
    let d = dispositions(&out, &ev);
    let got: Vec<&str> = names.iter().map(|n| d[n].0.as_str()).collect();
    let mut want = vec!["error:timeout"; 4];
    want.extend(["unmatched"; 4]);
    assert_eq!(got, want);
}

#[test]
fn files_that_vanish_or_change_after_the_walk_are_reported_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ev = root.join("evidence");
    small_tree(&ev, &["a-pause.png", "h-same.png"]);
    for n in [
        "b-vanish",
        "c-grow",
        "d-shrink",
        "e-replaced",
        "f-fifo",
        "g-symlink",
        "i-same",
    ] {
        std::fs::write(ev.join(n), b"0123456789\n").unwrap();
    }
    let set = dummy_set(root);
    let out = root.join("r.jsonl");
    let flag = root.join("go");
    let mut child = scan_cmd(&ev, &set, &out)
        .args(["--threads", "1"])
        .env(
            "NEARMATCH_TEST_HOOK",
            format!("pause:a-pause.png:{}", flag.display()),
        )
        .spawn()
        .unwrap();
    // The scan has walked the tree and is held at its first file: change the rest under it.
    let waiting = root.join("go.waiting");
    let guard = Instant::now() + Duration::from_secs(120);
    while !waiting.exists() {
        assert!(
            Instant::now() < guard && child.try_wait().unwrap().is_none(),
            "hook not reached"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::remove_file(ev.join("b-vanish")).unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(ev.join("c-grow"))
        .unwrap()
        .write_all_ok(b"more\n");
    std::fs::write(ev.join("d-shrink"), b"01\n").unwrap();
    std::fs::write(root.join("new"), b"other content\n").unwrap();
    std::fs::rename(root.join("new"), ev.join("e-replaced")).unwrap();
    std::fs::remove_file(ev.join("f-fifo")).unwrap();
    let fifo = std::ffi::CString::new(ev.join("f-fifo").as_os_str().as_bytes()).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    std::fs::remove_file(ev.join("g-symlink")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", ev.join("g-symlink")).unwrap();
    std::fs::write(&flag, b"").unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(2));
    let d = dispositions(&out, &ev);
    let got: BTreeMap<&str, &str> = d.iter().map(|(k, v)| (k.as_str(), v.0.as_str())).collect();
    let want: BTreeMap<&str, &str> = [
        ("a-pause.png", "unmatched"),
        ("b-vanish", "error:open"),
        ("c-grow", "error:changed"),
        ("d-shrink", "error:changed"),
        ("e-replaced", "error:changed"),
        ("f-fifo", "error:changed"),
        ("g-symlink", "error:open"),
        ("h-same.png", "unmatched"),
        ("i-same", "not-image"),
    ]
    .into();
    assert_eq!(got, want, "{d:#?}");
    assert!(d["c-grow"].1.contains("size changed"), "{:?}", d["c-grow"]);
}

#[test]
fn a_file_that_changes_while_it_is_read_is_reported_as_changed() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ev = root.join("evidence");
    small_tree(&ev, &["img.png"]);
    std::fs::write(ev.join("log.txt"), b"first line\n").unwrap();
    let set = dummy_set(root);
    let run = |name: &str, change: &dyn Fn(&Path)| {
        let out = root.join(format!("{name}.jsonl"));
        let flag = root.join(format!("go-{name}"));
        let mut child = scan_cmd(&ev, &set, &out)
            .args(["--threads", "1"])
            .env(
                "NEARMATCH_TEST_HOOK",
                format!("pause-open:{name}:{}", flag.display()),
            )
            .spawn()
            .unwrap();
        // Held after the open and the check against the walk, before the first read.
        let waiting = root.join(format!("go-{name}.waiting"));
        let guard = Instant::now() + Duration::from_secs(120);
        while !waiting.exists() {
            assert!(Instant::now() < guard && child.try_wait().unwrap().is_none());
            std::thread::sleep(Duration::from_millis(5));
        }
        change(&ev.join(name));
        std::fs::write(&flag, b"").unwrap();
        assert_eq!(child.wait().unwrap().code(), Some(2));
        dispositions(&out, &ev)
    };
    // Growing a text file (streamed) and truncating an image (read whole) under the open file.
    let append = |p: &Path| {
        std::fs::OpenOptions::new()
            .append(true)
            .open(p)
            .unwrap()
            .write_all_ok(b"appended while the scan reads\n")
    };
    let d = run("log.txt", &append);
    assert_eq!(d["log.txt"].0, "error:changed");
    assert!(
        d["log.txt"].1.contains("while reading"),
        "{:?}",
        d["log.txt"]
    );
    assert_eq!(d["img.png"].0, "unmatched");
    let cut = |p: &Path| {
        let f = std::fs::OpenOptions::new().write(true).open(p).unwrap();
        f.set_len(100).unwrap();
    };
    let d = run("img.png", &cut);
    assert_eq!(d["img.png"].0, "error:changed", "{:?}", d["img.png"]);
    assert!(
        d["img.png"].1.contains("while reading"),
        "{:?}",
        d["img.png"]
    );
}

trait WriteAllOk {
    fn write_all_ok(self, b: &[u8]);
}

impl WriteAllOk for std::fs::File {
    fn write_all_ok(mut self, b: &[u8]) {
        use std::io::Write;
        self.write_all(b).unwrap();
    }
}

// ---------------------------------------------------------------------------------------------

/// Records minus the fields that legitimately differ between runs (times of the run itself).
fn comparable(report: &Path) -> (Vec<Value>, Value) {
    let text = std::fs::read_to_string(report).unwrap();
    let mut recs: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut summary = recs.pop().unwrap();
    for k in ["finished_utc", "elapsed_seconds"] {
        summary.as_object_mut().unwrap().remove(k);
    }
    recs.remove(0); // the header: times, command line, resume note
    (recs, summary)
}

#[test]
fn sigkill_at_random_points_eight_times_then_resume_equals_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ev = root.join("evidence");
    // A few hundred files: images, duplicates, damaged and non-image files, in nested dirs.
    let mut rng = Rng(0xdead_5eed);
    for i in 0..320u64 {
        let dir = ev.join(format!("d{}", i % 7)).join(format!("e{}", i % 3));
        std::fs::create_dir_all(&dir).unwrap();
        let img = generate(Scene::Landscape, 96, 72, 4000 + i % 250);
        let (name, bytes) = match i % 5 {
            0 | 1 => (format!("f{i}.jpg"), encode_jpeg(&img, 80)),
            2 => (format!("f{i}.png"), encode_png(&img)),
            3 => {
                let b = encode_jpeg(&img, 80);
                let cut = 1 + rng.below(b.len() as u64 - 1) as usize;
                (format!("t{i}.jpg"), b[..cut].to_vec())
            }
            _ => (format!("n{i}.txt"), format!("note {i}\n").into_bytes()),
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    }
    let set = dummy_set(root);
    let cmd = |out: &Path| {
        let mut c = scan_cmd(&ev, &set, out);
        c.args(["--threads", "2", "--resume"]).stderr(Stdio::null());
        c
    };
    let full = root.join("full.jsonl");
    let t = Instant::now();
    assert_eq!(cmd(&full).status().unwrap().code(), Some(2));
    // Kill points are drawn over the length of an uninterrupted run (choosing when to kill, not
    // asserting on time).
    let span = t.elapsed().as_micros() as u64;
    let out = root.join("killed.jsonl");
    let journal = root.join("killed.jsonl.partial");
    let (mut kills, mut progressed) = (0, 0);
    for _ in 0..8 {
        let before = std::fs::read(&journal).map_or(0, |b| b.len());
        let mut child = cmd(&out).spawn().unwrap();
        // Within the first half: resumed runs have less left to do.
        std::thread::sleep(Duration::from_micros(rng.below(span / 2)));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if status.signal() == Some(libc::SIGKILL) {
            kills += 1;
            if std::fs::read(&journal).map_or(0, |b| b.len()) > before {
                progressed += 1;
            }
        } else {
            // It finished first; the next round scans again from scratch (no journal).
            assert_eq!(status.code(), Some(2));
        }
    }
    eprintln!("kills: {kills} of 8 landed, {progressed} after fresh progress");
    // Not a timing assertion: a guard that the kills exercised something (typically 6-8 land).
    assert!(kills >= 2, "kills landed mid-scan: {kills}");
    assert_eq!(cmd(&out).status().unwrap().code(), Some(2));
    assert!(!journal.exists(), "journal removed after completion");
    let (a, b) = (comparable(&full), comparable(&out));
    assert_eq!(a.0.len(), 320);
    assert_eq!(
        a, b,
        "killed-and-resumed report equals the uninterrupted one"
    );
}

#[test]
fn killed_set_builds_leave_the_old_set_or_the_new_one_and_no_stray_temp_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let mut rng = Rng(0x5e7_b111d);
    let list = |n: usize, rng: &mut Rng| {
        let mut s = String::with_capacity(n * 65);
        for _ in 0..n {
            for _ in 0..4 {
                s.push_str(&format!("{:016x}", rng.next()));
            }
            s.push('\n');
        }
        s
    };
    std::fs::write(root.join("old.txt"), list(1000, &mut rng)).unwrap();
    std::fs::write(root.join("new.txt"), list(200_000, &mut rng)).unwrap();
    let sets = root.join("sets");
    std::fs::create_dir_all(&sets).unwrap();
    let target = sets.join("known.nmset");
    let build = |src: &str| {
        let mut c = bin();
        c.args(["set", "build", "--algo", "pdq", "-o"])
            .arg(&target)
            .arg(root.join(src))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    };
    let verify = || -> Option<u64> {
        let o = bin().args(["set", "verify"]).arg(&target).output().unwrap();
        let text = String::from_utf8_lossy(&o.stdout).into_owned();
        o.status.success().then(|| {
            let n = text.split('(').nth(1).unwrap().split(' ').next().unwrap();
            n.parse().unwrap()
        })
    };
    assert!(build("old.txt").status().unwrap().success());
    assert_eq!(verify(), Some(1000));
    // Time one complete build of the big list (to a side path) to draw kill points from.
    let probe_target = sets.join("probe.nmset");
    let t = Instant::now();
    let mut c = bin();
    c.args(["set", "build", "--algo", "pdq", "-o"])
        .arg(&probe_target)
        .arg(root.join("new.txt"))
        .stdout(Stdio::null());
    assert!(c.status().unwrap().success());
    std::fs::remove_file(&probe_target).unwrap();
    let span = t.elapsed().as_micros() as u64;
    let mut kills = 0;
    for _ in 0..8 {
        let mut child = build("new.txt").spawn().unwrap();
        std::thread::sleep(Duration::from_micros(rng.below(span)));
        let _ = child.kill();
        if child.wait().unwrap().signal() == Some(libc::SIGKILL) {
            kills += 1;
        }
        // Either the old set, whole, or the new one, whole: never anything else at the target.
        match verify() {
            Some(1000) => {}
            // The build finished before the kill: put the old set back, so the next kill again
            // tests the replacement.
            Some(200_000) => assert!(build("old.txt").status().unwrap().success()),
            other => panic!("target after a killed build: {other:?}"),
        }
    }
    eprintln!("set build kills landed: {kills} of 8");
    // A guard that the kills exercised something, not a timing assertion (typically 5-8 land).
    assert!(kills >= 2, "kills landed mid-build: {kills}");
    let strays = || {
        std::fs::read_dir(&sets)
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().as_bytes().starts_with(b".nmset-"))
            .count()
    };
    eprintln!("temporary files left by killed builds: {}", strays());
    // Kills rarely land in the short final write, so also plant what one leaves: a temporary
    // file of a dead build (the pid of a reaped child) and one of a live process (this test),
    // which must survive because its writer may still be working.
    let mut dead = bin()
        .arg("--version")
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let stale = sets.join(format!(".nmset-{dead_pid}-AbCdEf"));
    let live = sets.join(format!(".nmset-{}-GhIjKl", std::process::id()));
    std::fs::write(&stale, vec![0u8; 4096]).unwrap();
    std::fs::write(&live, vec![0u8; 4096]).unwrap();
    // The next complete build removes what killed builds left behind.
    assert!(build("new.txt").status().unwrap().success());
    assert_eq!(verify(), Some(200_000));
    assert!(
        !stale.exists(),
        "a dead build's temporary file is removed by the next build"
    );
    assert!(
        live.exists(),
        "a live writer's temporary file is left alone"
    );
    std::fs::remove_file(&live).unwrap();
    assert_eq!(
        strays(),
        0,
        "stale temporary files cleaned up by the next build"
    );
    let names: Vec<_> = std::fs::read_dir(&sets)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("known.nmset")]);
}
