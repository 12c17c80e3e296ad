#!/usr/bin/env bash
# Report conversion at scale (release build): time and peak RSS of `nearmatch report convert`
# from a generated JSON Lines report of COUNT records (default 10,000,000) to every format. The
# writers stream, so peak RSS should stay flat in COUNT: run with two COUNTs (e.g. 1000000 and
# 10000000) to see it. Not part of the test run.
#
#   benches/report_convert.sh [COUNT] [FORMATS]      (FORMATS default: "csv vics dfxml case html")
#   NEARMATCH_BIN=/path/to/nearmatch benches/report_convert.sh 1000000
#   REPORT_BENCH_DIR=/path benches/report_convert.sh  (default target/report-bench; the report is
#       generated once per COUNT and reused)
#
# The generated records look like a scan's (the scanner's field order, hashes, times, sizes,
# dimensions, PDQ): 1 % matched (one match each, with labels, against two sets), 0.1 % with a
# decode error, 2 % not images, 0.5 % later duplicates. Peak RSS is /usr/bin/time's maximum
# resident set size; the report is in the page cache after the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000000}
formats=${2:-"csv vics dfxml case html"}
dir=${REPORT_BENCH_DIR:-target/report-bench}
if [ -n "${NEARMATCH_BIN:-}" ]; then
  nm=$NEARMATCH_BIN
else
  cargo build -q --release --bin nearmatch
  nm=${CARGO_TARGET_DIR:-target}/release/nearmatch
fi
mkdir -p "$dir"
report="$dir/records-$count.jsonl"
if [ ! -f "$report.complete" ]; then
  echo "generating $report ($count records)" >&2
  python3 - "$report" "$count" <<'EOF'
import json, random, sys

path, n = sys.argv[1], int(sys.argv[2])
rng = random.Random(1)
hexn = lambda bits: f"{rng.getrandbits(bits):0{bits // 4}x}"
sets = ["/cases/sets/known-pdq.nmset", "/cases/sets/known-md5.nmset"]
header = {"record": "header", "tool": "nearmatch", "version": "bench", "git_commit": "bench",
          "git_dirty": False, "command_line": ["nearmatch", "scan", "/evidence"],
          "started_utc": "2026-01-01T00:00:00Z", "resumed": None, "host": "bench",
          "user": "bench (uid 1000)", "noatime_refused": False, "warnings": [],
          "evidence": [{"path": "/evidence", "canonical": "/evidence", "mount": "/evidence",
                        "read_write": False}],
          "sets": [{"path": sets[0], "sha256": "a" * 64, "algorithm": "pdq", "entries": 1000000,
                    "radius": 31, "probe_radius": 31, "provenance": {}},
                   {"path": sets[1], "sha256": "b" * 64, "algorithm": "md5", "entries": 1000000,
                    "radius": 0, "probe_radius": None, "provenance": {}}],
          "options": {"algorithms": ["pdq"], "hash_mode": "exact", "probes": ["trim"]}}
disp, by_set, matches = {}, {}, 0
dup = 0
with open(path, "w") as f:
    f.write(json.dumps(header, separators=(",", ":"), sort_keys=True) + "\n")
    for i in range(n):
        u = rng.random()
        t = f"2024-{1 + i % 12:02}-{1 + i % 28:02}T{i % 24:02}:{i % 60:02}:{(i // 60) % 60:02}.{i % 1000000000:09}Z"
        r = {"record": "file", "index": i,
             "path": f"/evidence/DCIM/{i // 1000:05}/IMG_{i:08}.jpg", "kind": "file",
             "size": 200000 + i % 300000, "mtime": t, "ctime": t, "atime": t,
             "md5": hexn(128), "sha1": hexn(160), "sha256": hexn(256)}
        if u < 0.001:
            r.update({"type": "jpeg", "extension_mismatch": False, "disposition": "error:decode",
                      "error": "decode: Corrupt JPEG data: premature end of data segment",
                      "matches": []})
        elif u < 0.021:
            r["path"] = r["path"][:-4] + ".txt"
            r.update({"type": "text", "extension_mismatch": False, "disposition": "not-image",
                      "matches": []})
        else:
            r.update({"type": "jpeg", "extension_mismatch": False, "width": 4000, "height": 3000,
                      "hashes": {"pdq": hexn(256)}, "pdq_quality": 50 + i % 50,
                      "hash_mode": "exact", "probe_hashes": 1})
            if u < 0.031:
                s = 0 if u < 0.029 else 1
                m = {"set": sets[s], "set_sha256": ("a" if s == 0 else "b") * 64,
                     "entry": f"K{rng.randrange(1000000):07}", "entry_index": rng.randrange(1000000),
                     "labels": [{"scheme": "caid", "value": str(1 + i % 3)},
                                {"scheme": "category", "value": "bench"}],
                     "note": "", "algorithm": "pdq" if s == 0 else "md5",
                     "distance": rng.randrange(32) if s == 0 else 0}
                if s == 0:
                    m["orientation"] = "orig"
                    m["probe"] = "plain"
                r["disposition"] = "matched"
                r["matches"] = [m]
                matches += 1
                by_set[m["set"]] = by_set.get(m["set"], 0) + 1
            else:
                r["disposition"] = "unmatched"
                r["matches"] = []
            if 0.031 <= u < 0.036 and i > 0:
                r["duplicate_of"] = "/evidence/DCIM/00000/IMG_00000000.jpg"
                r["duplicate_of_index"] = 0
                dup += 1
        # The scanner's field order: disposition, error, duplicates, then matches last.
        order = ["record", "index", "path", "kind", "size", "mtime", "ctime", "atime", "md5",
                 "sha1", "sha256", "type", "extension_mismatch", "width", "height", "hashes",
                 "pdq_quality", "hash_mode", "probe_hashes", "disposition", "error",
                 "duplicate_of", "duplicate_of_index", "matches"]
        f.write(json.dumps({k: r[k] for k in order if k in r}, separators=(",", ":")) + "\n")
        disp[r["disposition"]] = disp.get(r["disposition"], 0) + 1
    by_class = {}
    for k, v in disp.items():
        by_class[k.split(":")[0]] = by_class.get(k.split(":")[0], 0) + v
    summary = {"record": "summary", "files_walked": n, "directories": n // 1000 + 1,
               "files_reported": n, "dispositions": disp, "by_class": by_class,
               "matched_files": disp.get("matched", 0), "matches": matches,
               "matches_by_set": by_set, "low_quality": 0, "extension_mismatch": 0,
               "duplicate_files": dup, "bytes_hashed": 0, "probe_hashes": n,
               "matches_by_probe": {}, "finished_utc": "2026-01-02T00:00:00Z",
               "elapsed_seconds": 86400.0}
    f.write(json.dumps(summary, separators=(",", ":"), sort_keys=True) + "\n")
EOF
  touch "$report.complete"
fi
size=$(stat -c %s "$report")
echo "report: $count records, $((size / 1048576)) MiB; nproc $(nproc); $(uname -srm)"
printf '%-6s %10s %12s %14s %12s\n' format records seconds "peak RSS MiB" "out MiB"
for f in $formats; do
  out="$dir/out-$count.$f"
  /usr/bin/time -f "%e %M" -o "$dir/time.txt" "$nm" report convert -q "$report" --to "$f" -o "$out"
  read -r secs kib < "$dir/time.txt"
  printf '%-6s %10s %12s %14s %12s\n' "$f" "$count" "$secs" \
    "$(awk -v k="$kib" 'BEGIN { printf "%.1f", k / 1024 }')" "$(( $(stat -c %s "$out") / 1048576 ))"
  rm -f "$out" "$out.sha256" "$out.header.json"
done
