//! Importer tests on small hand-written lists (benign fake hashes).

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn run(input: &str, alg: Algorithm) -> (ImportReport, Vec<ImportRecord>) {
    let mut sink = MemorySink::default();
    let report = import_reader(
        input.as_bytes(),
        "test/list",
        &ImportOptions::new(alg),
        &mut sink,
    )
    .unwrap();
    (report, sink.records)
}

fn counts(pairs: &[(RejectReason, u64)]) -> BTreeMap<RejectReason, u64> {
    pairs.iter().copied().collect()
}

const MD5_A: &str = "0123456789abcdef0123456789abcdef";
const MD5_B: &str = "00112233445566778899aabbccddeeff";
const SHA1_A: &str = "0123456789abcdef0123456789abcdef01234567";
const PDQ_A: &str = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22";
const PDQ_B: &str = "0000000000000000000000000000000000000000000000000000000000000001";

#[test]
fn plain_counts_every_reason() {
    let input = format!(
        "# a comment\n\n{MD5_A}\n{}  file name.jpg\nd41d8cd98f00b204e9800998ecf8427e\n{MD5_A}\nxyz\n0123\n{MD5_B}*\n",
        MD5_B.to_uppercase()
    );
    let (r, recs) = run(&input, Algorithm::Md5);
    assert_eq!(r.format, Format::Plain);
    assert_eq!(r.imported, 2);
    assert_eq!(
        r.rejected,
        counts(&[
            (RejectReason::BadHex, 2),
            (RejectReason::WrongLength, 1),
            (RejectReason::Duplicate, 1),
            (RejectReason::EmptyFileHash, 1)
        ])
    );
    assert_eq!(recs[1].digest, hex::decode(MD5_B).unwrap());
    assert_eq!(recs[1].note, "file name.jpg");
    assert_eq!(recs[1].line, 4);
    let dup = r
        .examples
        .iter()
        .find(|e| e.reason == RejectReason::Duplicate)
        .unwrap();
    assert_eq!(dup.line, 6);
    let lines: Vec<u64> = r
        .examples
        .iter()
        .filter(|e| e.reason == RejectReason::BadHex)
        .map(|e| e.line)
        .collect();
    assert_eq!(lines, [7, 9]);
    // The report's SHA-256 is of the bytes read.
    assert_eq!(
        r.sha256,
        crate::hash::crypto::CryptoHashes::of(input.as_bytes()).sha256_hex()
    );
    assert_eq!(r.bytes, input.len() as u64);
}

#[test]
fn empty_file_hashes_rejected_for_every_crypto_algorithm() {
    for alg in [Algorithm::Md5, Algorithm::Sha1, Algorithm::Sha256] {
        let empty = crate::hash::crypto::CryptoHashes::of(b"");
        let hex = match alg {
            Algorithm::Md5 => empty.md5_hex(),
            Algorithm::Sha1 => empty.sha1_hex(),
            _ => empty.sha256_hex(),
        };
        let (r, _) = run(&hex.to_uppercase(), alg);
        assert_eq!(
            r.rejected,
            counts(&[(RejectReason::EmptyFileHash, 1)]),
            "{alg}"
        );
    }
}

#[test]
fn strict_names_file_line_and_reason() {
    let mut sink = MemorySink::default();
    let mut opts = ImportOptions::new(Algorithm::Md5);
    opts.strict = true;
    let err = import_reader(
        format!("{MD5_A}\n\nnothex\n").as_bytes(),
        "lists/k.txt",
        &opts,
        &mut sink,
    )
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("lists/k.txt") && msg.contains("line 3") && msg.contains("bad-hex"),
        "{msg}"
    );
}

#[test]
fn csv_with_header_id_and_labels() {
    let input = format!(
        "id,MD5,sha1,caid,Notes\n\
         a1,{MD5_A},{SHA1_A},A,first\n\
         a2,{MD5_B},,B,\n\
         a3,notahash,,A,\n\
         a1,{MD5_A},{SHA1_A},A,first\n\
         a4\n"
    );
    let (r, recs) = run(&input, Algorithm::Md5);
    assert_eq!(r.format, Format::Csv);
    assert_eq!(r.imported, 2);
    assert_eq!(
        r.rejected,
        counts(&[
            (RejectReason::BadHex, 1),
            (RejectReason::Duplicate, 1),
            (RejectReason::Malformed, 1)
        ])
    );
    assert_eq!(recs[0].id, "a1");
    assert_eq!(recs[0].note, "first");
    assert_eq!(
        recs[0].labels,
        vec![Label::new("sha1", SHA1_A), Label::new("caid", "A")]
    );
    assert_eq!(recs[1].labels, vec![Label::new("caid", "B")]);
    assert_eq!(recs[1].line, 3);
    // The same file gives a SHA-1 set from the other column.
    let (r, recs) = run(&input, Algorithm::Sha1);
    assert_eq!(r.imported, 1);
    assert_eq!(recs[0].digest, hex::decode(SHA1_A).unwrap());
    // No column for the algorithm: a clear error.
    let mut sink = MemorySink::default();
    let e = import_reader(
        input.as_bytes(),
        "x.csv",
        &ImportOptions::new(Algorithm::Pdq),
        &mut sink,
    )
    .unwrap_err();
    assert!(e.to_string().contains("no pdq or hash column"), "{e}");
}

#[test]
fn tsv_with_algorithm_column() {
    let input = format!("hash\ttype\tlabel\n{PDQ_A}\tpdq\tx\n{MD5_A}\tmd5\ty\n{PDQ_B}\tPDQ\t\n");
    let (r, recs) = run(&input, Algorithm::Pdq);
    assert_eq!(r.format, Format::Csv);
    assert_eq!(r.imported, 2);
    assert_eq!(r.rejected, counts(&[(RejectReason::WrongAlgorithm, 1)]));
    assert_eq!(recs[0].labels, vec![Label::new("label", "x")]);
    assert!(recs[1].labels.is_empty());
}

#[test]
fn threatexchange_pdq_forms() {
    let input = format!(
        "{PDQ_A},100,dir/a.jpg\n\
         hash={},quality=49,filename=b.png\n\
         {PDQ_A},100,dir/a.jpg\n\
         {}\n\
         hash=abc,quality=90\n",
        PDQ_B.to_uppercase(),
        &PDQ_A[..60]
    );
    let (r, recs) = run(&input, Algorithm::Pdq);
    assert_eq!(r.format, Format::ThreatExchange);
    assert_eq!(r.imported, 2);
    assert_eq!(
        r.rejected,
        counts(&[(RejectReason::Duplicate, 1), (RejectReason::WrongLength, 2)])
    );
    assert_eq!(recs[0].labels, vec![Label::new("pdq-quality", "100")]);
    assert_eq!(recs[0].note, "dir/a.jpg");
    assert_eq!(recs[1].labels, vec![Label::new("quality", "49")]);
    assert_eq!(recs[1].note, "b.png");
    let mut sink = MemorySink::default();
    let mut opts = ImportOptions::new(Algorithm::Md5);
    opts.format = Some(Format::ThreatExchange);
    assert!(import_reader(input.as_bytes(), "te.txt", &opts, &mut sink).is_err());
}

const VICS_12: &str = r#"{
  "odata.metadata": "http://github.com/ICSE-Forensics/ProjectVic/DataModels/1.2.xml/$metadata#Cases",
  "value": [
    {
      "CaseID": "case-1",
      "Media": [
        {"MediaID": 1, "Category": 1, "MD5": "0123456789ABCDEF0123456789ABCDEF", "SHA1": "0123456789abcdef0123456789abcdef01234567", "PhotoDNA": "AAECAw==", "IsPrecategorized": true, "VictimIdentified": "false"},
        {"MediaID": 2, "Category": 0, "SHA1": "0123456789abcdef0123456789abcdef01234568"},
        {"MediaID": 3, "Category": 2, "MD5": "d41d8cd98f00b204e9800998ecf8427e"},
        {"MediaID": 4, "Category": 2, "MD5": "0123"}
      ]
    }
  ]
}"#;

#[test]
fn vics_1_2_default_profile() {
    let (r, recs) = run(VICS_12, Algorithm::Md5);
    assert_eq!(r.format, Format::Vics);
    assert_eq!(r.imported, 1);
    assert_eq!(
        r.rejected,
        counts(&[
            (RejectReason::WrongLength, 1),
            (RejectReason::EmptyFileHash, 1),
            (RejectReason::WrongAlgorithm, 1)
        ])
    );
    let rec = &recs[0];
    assert_eq!(rec.id, "1");
    assert_eq!(rec.digest, hex::decode(MD5_A).unwrap());
    assert_eq!(
        rec.labels,
        vec![
            Label::new("vics-Default", "1"),
            Label::new("vics:IsPrecategorized", "true"),
            Label::new("vics:VictimIdentified", "false"),
            // Hash fields of a VICS item come in key order (serde_json's map is sorted).
            Label::new("photodna", "AAECAw=="),
            Label::new("sha1", SHA1_A),
        ]
    );
    assert_eq!(rec.line, 7);
    let (r, _) = run(VICS_12, Algorithm::Sha1);
    assert_eq!(r.imported, 2);
    assert_eq!(r.rejected, counts(&[(RejectReason::WrongAlgorithm, 2)]));
}

#[test]
fn vics_1_3_us_profile_with_bom() {
    let input = "\u{feff}{\"odata.metadata\":\"http://github.com/VICSDATAMODEL/ProjectVic/DataModels/1.3.xml/US/$metadata#Cases\",\
        \"value\":[{\"Media\":[{\"MediaID\":\"m-9\",\"Category\":\"3\",\"MD5\":\"00112233445566778899AABBCCDDEEFF\",\"VictimIdentified\":\"True\"},\
        {\"MediaID\":\"m-9\",\"Category\":\"3\",\"MD5\":\"00112233445566778899aabbccddeeff\",\"VictimIdentified\":true}]},\
        {\"Media\":[{\"MediaID\":\"m-10\",\"Category\":1,\"MD5\":\"0123456789abcdef0123456789abcdeX\"}]}]}";
    let (r, recs) = run(input, Algorithm::Md5);
    assert_eq!(r.format, Format::Vics);
    assert_eq!(r.imported, 1);
    // Upper/lower case hex and JSON/string booleans are the same record.
    assert_eq!(
        r.rejected,
        counts(&[(RejectReason::Duplicate, 1), (RejectReason::BadHex, 1)])
    );
    assert_eq!(recs[0].labels[0], Label::new("vics-US", "3"));
    assert_eq!(
        recs[0].labels[1],
        Label::new("vics:VictimIdentified", "true")
    );
}

const VICS_20: &str = r#"{
  "@odata.context": "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Cases",
  "value": [{
    "CaseNumber": "c-2",
    "Media": [
      {"MediaID": "a", "Category": "1", "IsPrecategorized": "true",
       "MediaFiles": [
         {"FileName": "one.jpg", "MD5": "0123456789abcdef0123456789abcdef", "SHA1": "0123456789abcdef0123456789abcdef01234567"},
         {"FileName": "two.jpg", "MD5": "00112233445566778899aabbccddeeff", "PhotoDNA": "BAUGBw=="}
       ]},
      {"MediaID": "b", "Category": "2", "MediaFiles": [{"PhotoDNA": "CAkKCw=="}]},
      {"MediaID": "c", "Category": "2", "MediaFiles": []},
      "not an object"
    ]
  }]
}"#;

#[test]
fn vics_2_0_media_files() {
    let (r, recs) = run(VICS_20, Algorithm::Md5);
    assert_eq!(r.imported, 2);
    assert_eq!(
        r.rejected,
        counts(&[
            (RejectReason::WrongAlgorithm, 2),
            (RejectReason::Malformed, 1)
        ])
    );
    assert_eq!(recs[0].note, "one.jpg");
    assert_eq!(recs[0].id, "a");
    assert_eq!(recs[0].labels[0], Label::new("vics-UK", "1"));
    assert!(recs[1].labels.contains(&Label::new("photodna", "BAUGBw==")));
    // Truncated JSON is a file error, not a panic.
    let mut sink = MemorySink::default();
    let e = import_reader(
        &VICS_20.as_bytes()[..200],
        "v.json",
        &ImportOptions::new(Algorithm::Md5),
        &mut sink,
    );
    assert!(matches!(e, Err(Error::Import { .. })));
}

#[test]
fn profile_segment() {
    assert_eq!(
        vics::profile_of("http://x/DataModels/1.3.xml/US/$metadata#Cases"),
        "US"
    );
    assert_eq!(
        vics::profile_of("http://x/DataModels/2.0.xml/CUSTOM/$metadata#Cases"),
        "CUSTOM"
    );
    assert_eq!(
        vics::profile_of("http://x/DataModels/2.0.xml/$metadata#Cases"),
        "Default"
    );
    assert_eq!(
        vics::profile_of("http://github.com/ICSE-Forensics/VICS/$metadata#Cases"),
        "Default"
    );
    assert_eq!(vics::profile_of("garbage"), "Default");
}

#[test]
fn detection() {
    assert_eq!(detect(b"  {\"value\": []}"), Format::Vics);
    assert_eq!(
        detect(format!("# x\n{PDQ_A},100\n").as_bytes()),
        Format::ThreatExchange
    );
    assert_eq!(detect(b"hash=abc,quality=1\n"), Format::ThreatExchange);
    assert_eq!(detect(b"id,md5\n1,2\n"), Format::Csv);
    assert_eq!(detect(b"PDQ Hash\tname\n"), Format::Csv);
    assert_eq!(detect(format!("{MD5_A}\n").as_bytes()), Format::Plain);
    assert_eq!(
        detect(format!("{MD5_A}  a,b.jpg\n").as_bytes()),
        Format::Plain
    );
}

#[test]
fn writer_catches_duplicates_across_files() {
    let dir = std::env::temp_dir().join(format!("nmimp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (a, b) = (dir.join("a.txt"), dir.join("b.txt"));
    std::fs::write(&a, format!("{MD5_A}\n{MD5_B}\n")).unwrap();
    std::fs::write(&b, format!("{MD5_B}\nd41d8cd98f00b204e9800998ecf8427e\n")).unwrap();
    let mut w = crate::hashset::SetWriter::create(dir.join("s.nmset"), Algorithm::Md5).unwrap();
    let opts = ImportOptions::new(Algorithm::Md5);
    assert_eq!(w.import_file(&a, &opts).unwrap().imported, 2);
    let rb = w.import_file(&b, &opts).unwrap();
    assert_eq!(rb.imported, 0);
    assert_eq!(
        rb.rejected,
        counts(&[
            (RejectReason::Duplicate, 1),
            (RejectReason::EmptyFileHash, 1)
        ])
    );
    let s = w.finish().unwrap();
    assert_eq!(s.entries, 2);
    let set = crate::hashset::HashSet::open(dir.join("s.nmset")).unwrap();
    let p = set.provenance().unwrap();
    assert_eq!(p.sources[1], rb);
    assert_eq!(p.sources[0].sha256.len(), 64);
    std::fs::remove_dir_all(dir).unwrap();
}

/// Runs one reader function on `input` into a [`MemorySink`]: the report (or the error's
/// message) and the records kept.
fn run_reader(
    input: &[u8],
    opts: &ImportOptions,
    read: impl FnOnce(&mut dyn BufRead, &mut Ctx<'_>) -> Result<()>,
) -> (std::result::Result<ImportReport, String>, Vec<ImportRecord>) {
    let mut sink = MemorySink::default();
    let mut ctx = Ctx {
        opts,
        path: "test/list".into(),
        report: ImportReport {
            name: "list".into(),
            path: "test/list".into(),
            sha256: String::new(),
            bytes: 0,
            format: Format::Plain,
            algorithm: opts.algorithm.name().into(),
            imported: 0,
            rejected: BTreeMap::new(),
            examples: Vec::new(),
        },
        sink: &mut sink,
    };
    let mut r = input;
    let res = read(&mut r, &mut ctx).map_err(|e| e.to_string());
    let report = ctx.report;
    (res.map(|()| report), sink.records)
}

/// A few MD5 digests, so that random lists repeat them.
fn md5_of(i: u8) -> String {
    format!(
        "{:032x}",
        u128::from(i) * 0x0101_0101_0101_0101_0101_0101_0101_0101 + 7
    )
}

/// A plain-list line: hashes (repeated, upper case, with notes), every kind of bad line,
/// comments, blanks and invalid UTF-8.
fn plain_line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => (0..6u8).prop_map(|i| md5_of(i).into_bytes()),
        1 => (0..6u8).prop_map(|i| md5_of(i).to_uppercase().into_bytes()),
        2 => (0..6u8, "[a-z.]{1,6}").prop_map(|(i, n)| format!(" {}  {n} ", md5_of(i)).into_bytes()),
        1 => (0..6u8, "[a-z]{1,4}").prop_map(|(i, n)| format!("{}\t*{n}", md5_of(i)).into_bytes()),
        1 => Just(b"zz".to_vec()),
        1 => Just(b"0123".to_vec()),
        1 => Just(b"D41D8CD98F00B204E9800998ECF8427E".to_vec()),
        1 => Just(b"# comment".to_vec()),
        1 => Just(b"".to_vec()),
        1 => Just(b"   ".to_vec()),
        1 => Just(b"\xff\xfe0123".to_vec()),
        1 => (0..6u8).prop_map(|i| { let mut l = md5_of(i).into_bytes(); l.extend_from_slice(b" caf\xe9"); l }),
    ]
}

/// Joins lines with `\n` or `\r\n` (per line), the last one maybe without an ending.
fn join_lines(lines: &[(Vec<u8>, bool)], final_newline: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, (l, crlf)) in lines.iter().enumerate() {
        out.extend_from_slice(l);
        if k + 1 < lines.len() || final_newline {
            out.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
        }
    }
    out
}

/// A CSV cell for the id/note column: plain text, empty, or quoted (with a delimiter, a
/// doubled quote or a newline inside), which forces the reader onto its sequential path.
fn csv_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-z0-9]{0,5}",
        1 => Just("\"a,b;c\"".to_string()),
        1 => Just("\"say \"\"hi\"\"\"".to_string()),
        1 => Just("\"two\nlines\"".to_string()),
    ]
}

/// A CSV row for a `hash, id, type` layout (some rows short, some of another algorithm).
fn csv_row() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        8 => (plain_hash(), csv_cell(), prop::sample::select(vec!["", "md5", "MD5", "sha1"]))
            .prop_map(|(h, c, t)| vec![h, c, t.to_string()]),
        1 => Just(vec!["# comment".to_string()]),
        1 => Just(vec![String::new()]),
        1 => plain_hash().prop_map(|h| vec![h]),
    ]
}

fn plain_hash() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => (0..6u8).prop_map(md5_of),
        1 => (0..6u8).prop_map(|i| md5_of(i).to_uppercase()),
        1 => Just("nothex".to_string()),
        1 => Just("abc".to_string()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The block-parallel plain reader, with blocks forced down to a few bytes (so lines
    /// straddle blocks and blocks hold one line or none), gives exactly what reading line by
    /// line gives: records, counts, examples and line numbers, and the same first error when
    /// strict.
    #[test]
    fn plain_blocks_equal_line_by_line(
        lines in prop::collection::vec((plain_line(), any::<bool>()), 0..50),
        final_newline in any::<bool>(),
        block in 1usize..160,
        strict in any::<bool>(),
        digests_only in any::<bool>(),
    ) {
        let input = join_lines(&lines, final_newline);
        let mut opts = ImportOptions::new(Algorithm::Md5);
        opts.strict = strict;
        opts.digests_only = digests_only;
        opts.max_examples = 3;
        let want = run_reader(&input, &opts, text::read_plain_sequential);
        let got = run_reader(&input, &opts, |r, c| text::read_plain_blocks(r, c, block));
        prop_assert_eq!(got, want);
    }

    /// The same for CSV, with quoted cells (a delimiter, doubled quotes or a newline inside)
    /// that send the rest of the list down the sequential path, comments, blank lines, short
    /// rows, rows of another algorithm, CRLF and each delimiter.
    #[test]
    fn csv_blocks_equal_row_by_row(
        lead in prop::collection::vec(prop::sample::select(vec!["", "# exported", "\r"]), 0..3),
        delim in prop::sample::select(vec![",", "\t", ";"]),
        rows in prop::collection::vec((csv_row(), any::<bool>()), 0..40),
        final_newline in any::<bool>(),
        block in 1usize..200,
        strict in any::<bool>(),
    ) {
        let mut lines: Vec<(Vec<u8>, bool)> = lead.iter().map(|l| (l.as_bytes().to_vec(), false)).collect();
        lines.push((["md5", "media_id", "type"].join(delim).into_bytes(), false));
        for (row, crlf) in &rows {
            lines.push((row.join(delim).into_bytes(), *crlf));
        }
        let input = join_lines(&lines, final_newline);
        let mut opts = ImportOptions::new(Algorithm::Md5);
        opts.strict = strict;
        opts.max_examples = 3;
        let want = run_reader(&input, &opts, csvlist::read_csv_sequential);
        let got = run_reader(&input, &opts, |r, c| csvlist::read_csv_blocks(r, c, block));
        prop_assert_eq!(got, want);
    }
}

/// The sequential reference reads as the CSV reader did before blocks (a spot check: a quoted
/// multi-line cell, and line numbers as the `csv` crate counts them).
#[test]
fn csv_reference_reads_quoted_multiline_cells() {
    let input = "md5,id,type\n# c\n0123456789abcdef0123456789abcdef,\"a\nb\",md5\nzz,x,md5\n";
    let (report, records) = run_reader(
        input.as_bytes(),
        &ImportOptions::new(Algorithm::Md5),
        csvlist::read_csv_sequential,
    );
    let report = report.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].id, "a\nb");
    // The CSV reader numbers a record where its read started: the comment line before it.
    assert_eq!(records[0].line, 2);
    assert_eq!(report.examples[0].line, 5);
}
