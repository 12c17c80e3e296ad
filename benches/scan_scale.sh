#!/usr/bin/env bash
# Scan scale (release build): peak RSS and files/s of `nearmatch scan` on a tree of many tiny
# files (default 1,000,000 one-byte files, 1,000 per directory; made once and reused), three runs
# each at --threads 1 and 2, medians. The streaming walk should keep peak RSS flat in the number
# of files: run with two COUNTs (e.g. 100000 and 1000000) to see it.
#
#   benches/scan_scale.sh [COUNT]
#   BASELINE=/path/to/an/older/nearmatch benches/scan_scale.sh     (also runs that binary on the
#       same tree in the same run and prints the ratios, e.g. the build before the streaming walk)
#   SCAN_BENCH_DIR=/path benches/scan_scale.sh                      (default target/scan-bench)
#
# Peak RSS is /usr/bin/time's maximum resident set size. Files are in the page cache after the
# first run: this measures the walk, the per-file work and the journal, not the disk.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-1000000}
reps=3
dir=${SCAN_BENCH_DIR:-target/scan-bench}
tree="$dir/tiny-$count"
cargo build -q --release --bin nearmatch
nm=target/release/nearmatch
if [ ! -f "$tree/.complete" ]; then
  rm -rf "$tree"
  echo "making $count one-byte files in $tree" >&2
  python3 - "$tree" "$count" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"d{i // 1000:04}")
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i % 1000:03}"), "wb") as f:
        f.write(bytes([i % 251]))
open(os.path.join(root, ".complete"), "w").close()
EOF
fi
mkdir -p "$dir/out"
"$nm" set build -o "$dir/out/known-pdq.nmset" --algo pdq fixtures/demo/known-pdq.csv 2>/dev/null
"$nm" set build -o "$dir/out/known-md5.nmset" --algo md5 fixtures/demo/known-md5.txt 2>/dev/null
echo "tree: $count one-byte files (+ .complete) in $((count / 1000)) directories; nproc $(nproc); $(uname -srm)"

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# run BINARY LABEL THREADS: three runs, prints medians; sets $wall and $rss.
run() {
  local bin=$1 label=$2 t=$3 walls=() rsss=()
  for r in $(seq "$reps"); do
    rm -f "$dir/out/scale.jsonl" "$dir/out/scale.jsonl.partial"
    local code=0
    /usr/bin/time -f '%e %M' -o "$dir/out/time.txt" "$bin" scan "$tree" \
      --set "$dir/out/known-pdq.nmset" --set "$dir/out/known-md5.nmset" \
      -o "$dir/out/scale.jsonl" --threads "$t" -q 2>"$dir/out/stderr.log" || code=$?
    [ "$code" -le 1 ] || { cat "$dir/out/stderr.log" >&2; echo "$label: exit code $code" >&2; exit 1; }
    walls+=("$(awk '{print $1}' "$dir/out/time.txt")")
    rsss+=("$(awk '{print $2}' "$dir/out/time.txt")")
  done
  wall=$(printf '%s\n' "${walls[@]}" | median)
  rss=$(printf '%s\n' "${rsss[@]}" | median)
  awk -v l="$label" -v t="$t" -v w="$wall" -v r="$rss" -v n="$count" -v all="${walls[*]}" 'BEGIN {
    printf "%-9s --threads %s: runs %s s; median %.1f s = %.0f files/s, peak RSS %.1f MB\n",
      l, t, all, w, (n + 1) / w, r / 1024 }'
}

for t in 1 2; do
  run "$nm" current "$t"
  cw=$wall cr=$rss
  if [ -n "${BASELINE:-}" ]; then
    run "$BASELINE" baseline "$t"
    awk -v cw="$cw" -v bw="$wall" -v cr="$cr" -v br="$rss" 'BEGIN {
      printf "  current/baseline: files/s %.2fx, peak RSS %.2fx\n", bw / cw, cr / br }'
  fi
done
