//! `nearmatch set build --format nsrl-rds` and `scan --ignore-set`: an ignore set built from a
//! synthetic NSRL RDS v3 database (random hashes, plus the SHA-1s that the `sha1sum` program
//! computed for some evidence files) marks exactly those files `known-good`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use nearmatch_synth::{encode_png, generate, Scene};
use rusqlite::Connection;
use serde_json::Value;

use crate::common::{nearmatch, parse};

/// An RDS-v3-shaped `FILE` table (NIST's `schema.sql` columns and primary key) and `PKG`.
const SCHEMA: &str = "CREATE TABLE FILE (
    sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL,
    crc32 VARCHAR NOT NULL, file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL,
    package_id INTEGER NOT NULL,
    CONSTRAINT PK_FILE__FILE PRIMARY KEY (sha256, sha1, md5, crc32, file_name, file_size, package_id));
  CREATE TABLE PKG (package_id INTEGER NOT NULL, name VARCHAR NOT NULL, version VARCHAR NOT NULL);
  INSERT INTO PKG VALUES (41, 'Synthetic Office', '1.0'), (42, 'Synthetic OS', '2.0');";

/// The standard output of a tool run in `dir` on `files`.
fn tool(dir: &Path, prog: &str, files: &[&str]) -> String {
    let out = Command::new(prog)
        .current_dir(dir)
        .args(files)
        .output()
        .expect("coreutils");
    assert!(out.status.success(), "{prog}");
    String::from_utf8(out.stdout).unwrap()
}

/// digest (upper case, as NSRL writes it) per file, from `sha1sum`/`sha256sum`/`md5sum` output.
fn sums(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .map(|l| {
            let (h, p) = l.split_once("  ").unwrap();
            (p.to_string(), h.to_uppercase())
        })
        .collect()
}

#[test]
fn nsrl_rds_ignore_set_marks_the_listed_files_known_good() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    let ev = root.join("evidence");
    std::fs::create_dir_all(ev.join("sys")).unwrap();
    let png = |scene, seed| encode_png(&generate(scene, 96, 72, seed));
    std::fs::write(ev.join("sys/logo.png"), png(Scene::Product, 11)).unwrap();
    std::fs::write(ev.join("sys/logo-copy.png"), png(Scene::Product, 11)).unwrap();
    std::fs::write(ev.join("sys/help.txt"), b"synthetic help text\n").unwrap();
    std::fs::write(ev.join("photo.png"), png(Scene::Landscape, 12)).unwrap();
    std::fs::write(ev.join("notes.txt"), b"case notes\n").unwrap();
    let listed = ["sys/logo.png", "sys/help.txt"];
    let sha1 = sums(&tool(&ev, "sha1sum", &listed));
    let sha256 = sums(&tool(&ev, "sha256sum", &listed));
    let md5 = sums(&tool(&ev, "md5sum", &listed));

    // The database: the listed files, each in two packages (NSRL's repetition), random
    // others, and a row with a broken SHA-1.
    let db = root.join("RDS_synthetic_minimal.db");
    let mut c = Connection::open(&db).unwrap();
    c.execute_batch(SCHEMA).unwrap();
    let tx = c.transaction().unwrap();
    {
        let mut ins = tx
            .prepare("INSERT INTO FILE VALUES (?1, ?2, ?3, 'DEADBEEF', ?4, 1, ?5)")
            .unwrap();
        for f in listed {
            let name = Path::new(f).file_name().unwrap().to_str().unwrap();
            for pkg in [42, 41] {
                ins.execute(rusqlite::params![sha256[f], sha1[f], md5[f], name, pkg])
                    .unwrap();
            }
        }
        let mut x = 0x1234_5678_9abc_def0_u64;
        let mut hex = |n: usize| {
            let mut s = String::new();
            while s.len() < n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push_str(&format!("{x:016X}"));
            }
            s.truncate(n);
            s
        };
        for i in 0..500 {
            let row = (hex(64), hex(40), hex(32), format!("random{i}.dll"), 41);
            ins.execute(rusqlite::params![row.0, row.1, row.2, row.3, row.4])
                .unwrap();
        }
        ins.execute(rusqlite::params![
            hex(64),
            "NOT-A-SHA1",
            hex(32),
            "bad.sys",
            41
        ])
        .unwrap();
    }
    tx.commit().unwrap();
    drop(c);
    let db_bytes = std::fs::read(&db).unwrap();

    // Built with the format named, and again detected from the SQLite magic: the same set.
    let set = root.join("nsrl.nmset");
    let build = nearmatch()
        .args([
            "set", "build", "--algo", "sha1", "--format", "nsrl-rds", "-o",
        ])
        .arg(&set)
        .arg(&db)
        .assert()
        .success();
    let err = String::from_utf8_lossy(&build.get_output().stderr).into_owned();
    assert!(
        err.contains("nsrl-rds format, 502 imported, 3 rejected")
            && err.contains("repeated-digest 2")
            && err.contains("bad-hex 1")
            && err.contains("FILE rowid 505: bad-hex"),
        "{err}"
    );
    let detected = root.join("detected.nmset");
    nearmatch()
        .args(["set", "build", "--algo", "sha1", "-o"])
        .arg(&detected)
        .arg(&db)
        .assert()
        .success();
    assert_eq!(
        std::fs::read(&db).unwrap(),
        db_bytes,
        "the database is never written"
    );

    let info = nearmatch()
        .args(["set", "info", "--json"])
        .arg(&set)
        .assert()
        .success();
    let info: Value = serde_json::from_slice(&info.get_output().stdout).unwrap();
    assert_eq!(info["entries"], 502);
    let src = &info["provenance"]["sources"][0];
    assert_eq!(src["format"], "nsrl-rds");
    assert_eq!(src["bytes"], db_bytes.len() as u64);
    let db_sha = tool(root, "sha256sum", &["RDS_synthetic_minimal.db"]);
    assert_eq!(src["sha256"], db_sha.split_whitespace().next().unwrap());
    assert_eq!(src["rejected"]["repeated-digest"], 2);

    // The scan: the listed file, its identical copy and nothing else are known-good.
    for ignore in [&set, &detected] {
        let out = root.join("r.jsonl");
        nearmatch()
            .arg("scan")
            .arg(&ev)
            .arg("--ignore-set")
            .arg(ignore)
            .arg("-o")
            .arg(&out)
            .assert()
            .code(0);
        let rep = parse(&std::fs::read_to_string(&out).unwrap());
        let by: BTreeMap<String, &Value> = rep
            .files
            .iter()
            .map(|r| {
                let p = r["path"].as_str().unwrap();
                let rel = p.strip_prefix(&format!("{}/", ev.display())).unwrap_or(p);
                (rel.to_string(), r)
            })
            .collect();
        let known: Vec<&str> = by
            .iter()
            .filter(|(_, r)| r["disposition"] == "known-good")
            .map(|(k, _)| k.as_str())
            .collect();
        assert_eq!(known, ["sys/help.txt", "sys/logo-copy.png", "sys/logo.png"]);
        for k in &known {
            let hit = &by[*k]["known_good"][0];
            assert_eq!(hit["algorithm"], "sha1");
            // The first row of that content (package 42 was inserted first).
            assert_eq!(hit["labels"][0]["scheme"], "nsrl-package", "{hit}");
            assert_eq!(hit["labels"][0]["value"], "42", "{hit}");
            assert_eq!(
                by[*k]["sha1"].as_str().unwrap().to_uppercase(),
                sha1[if k.ends_with(".txt") {
                    "sys/help.txt"
                } else {
                    "sys/logo.png"
                }]
            );
        }
        assert_eq!(by["sys/logo.png"]["known_good"][0]["entry"], "logo.png");
        assert_eq!(by["photo.png"]["disposition"], "unmatched");
        assert_eq!(by["notes.txt"]["disposition"], "not-image");
    }
}

#[test]
fn nsrl_errors_name_the_database() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("cases.db");
    Connection::open(&db)
        .unwrap()
        .execute_batch("CREATE TABLE evidence (id INTEGER);")
        .unwrap();
    let a = nearmatch()
        .args(["set", "build", "--algo", "md5", "-o"])
        .arg(tmp.path().join("x.nmset"))
        .arg(&db)
        .assert()
        .code(65);
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("cases.db") && err.contains("no FILE table") && err.contains("evidence"),
        "{err}"
    );
    assert!(!tmp.path().join("x.nmset").exists());
}

#[test]
fn nsrl_legacy_text_is_detected_and_folded() {
    let tmp = tempfile::tempdir().unwrap();
    let list = tmp.path().join("NSRLFile.txt");
    // CRLF and quoted as NIST writes it; one content in two products, a name with a comma.
    std::fs::write(
        &list,
        "\"SHA-1\",\"MD5\",\"CRC32\",\"FileName\",\"FileSize\",\"ProductCode\",\"OpSystemCode\",\"SpecialCode\"\r\n\
         \"00000000000000000000000000000000000000AA\",\"000000000000000000000000000000AA\",\"0000AAAA\",\"setup, final.exe\",10,7001,\"WIN\",\"\"\r\n\
         \"00000000000000000000000000000000000000AA\",\"000000000000000000000000000000AA\",\"0000AAAA\",\"setup.exe\",10,7002,\"WIN\",\"\"\r\n\
         \"00000000000000000000000000000000000000BB\",\"000000000000000000000000000000BB\",\"0000BBBB\",\"b.dll\",20,7001,\"WIN\",\"\"\r\n",
    )
    .unwrap();
    let set = tmp.path().join("legacy.nmset");
    let a = nearmatch()
        .args(["set", "build", "--algo", "md5", "-o"])
        .arg(&set)
        .arg(&list)
        .assert()
        .success();
    let err = String::from_utf8_lossy(&a.get_output().stderr).into_owned();
    assert!(
        err.contains("nsrl-legacy format, 2 imported, 1 rejected (repeated-digest 1)")
            && err.contains("line 3: repeated-digest"),
        "{err}"
    );
    let m = nearmatch()
        .args(["match", "--set"])
        .arg(&set)
        .write_stdin("000000000000000000000000000000aa\n")
        .assert()
        .code(1);
    let hit: Value = serde_json::from_slice(&m.get_output().stdout).unwrap();
    assert_eq!(hit["entry"], "setup, final.exe");
    assert_eq!(hit["labels"][0]["scheme"], "nsrl-package");
    assert_eq!(hit["labels"][0]["value"], "7001");
}
