#!/usr/bin/env bash
# End-to-end `nearmatch scan` throughput (release build): generates a tree of synthetic JPEGs
# (default 5,000 at 640x480, quality 85; reused when present), scans it against the demo PDQ set
# with --threads 1 and --threads 2, three runs each, and prints median files/s, MB/s, CPU time,
# peak RSS and the 2-thread/1-thread speed-up (wall and CPU-normalised). Files are in the page
# cache after generation: this measures decoding, hashing and matching, not the disk.
#
#   benches/scan_throughput.sh [COUNT [WIDTH HEIGHT [QUALITY]]]
#   SCAN_BENCH_DIR=/path benches/scan_throughput.sh     (default target/scan-bench)
#   SCAN_FLAGS="--fast" benches/scan_throughput.sh 500 2048 1536   (extra scan flags, e.g. the
#                                                  fast hashing mode on larger photos)
#   SCAN_PROBES="none default all" benches/scan_throughput.sh 1000
#       probe cost instead of thread scaling: per --probe list, three --threads 1 runs; prints
#       the median CPU time (user + sys) per file, files per CPU-second, PDQ probe hashes per
#       file (from the report summary) and the ratio to the first list.
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-5000}
w=${2:-640}
h=${3:-480}
q=${4:-85}
reps=3
dir=${SCAN_BENCH_DIR:-target/scan-bench}
tree="$dir/tree-${count}-${w}x${h}-q${q}"
cargo build -q --release --bin nearmatch
cargo build -q --release -p nearmatch --example bench_hash
nm=target/release/nearmatch
if [ "$(find "$tree" -type f 2>/dev/null | wc -l)" -ne "$count" ]; then
  rm -rf "$tree"
  mkdir -p "$tree"
  echo "generating $count ${w}x${h} JPEGs (q$q) in $tree" >&2
  target/release/examples/bench_hash gen "$tree" "$count" "$w" "$h" "$q" >/dev/null
fi
mkdir -p "$dir/out"
"$nm" set build -o "$dir/out/known-pdq.nmset" --algo pdq fixtures/demo/known-pdq.csv 2>/dev/null
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
echo "scan flags: ${SCAN_FLAGS:-(none)}"
echo "tree: $count files, $(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e6}') MB; nproc $(nproc); $(uname -srm)"

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

if [ -n "${SCAN_PROBES:-}" ]; then
  first=""
  for p in $SCAN_PROBES; do
    cpus=()
    for r in $(seq "$reps"); do
      code=0
      TIMEFORMAT='%U %S'
      # shellcheck disable=SC2086 # SCAN_FLAGS is a list of flags
      t=$( { time "$nm" scan "$tree" --set "$dir/out/known-pdq.nmset" -o "$dir/out/r-$p.jsonl" \
        --threads 1 -q --probe "$p" ${SCAN_FLAGS:-} 2>"$dir/out/stderr-$p.log" || code=$?; } 2>&1 )
      [ "$code" -le 1 ] || { cat "$dir/out/stderr-$p.log" >&2; echo "scan failed with exit code $code" >&2; exit 1; }
      cpus+=("$(echo "$t" | awk '{printf "%.3f", $1 + $2}')")
    done
    m=$(printf '%s\n' "${cpus[@]}" | median)
    [ -n "$first" ] || first=$m
    ph=$(tail -n 1 "$dir/out/r-$p.jsonl" | sed -n 's/.*"probe_hashes":\([0-9]*\).*/\1/p')
    awk -v p="$p" -v m="$m" -v f="$first" -v n="$count" -v ph="${ph:-0}" -v all="${cpus[*]}" 'BEGIN {
      printf "--probe %-8s CPU s %s; median %.2f s = %.2f ms/file, %.0f files/CPU-s, %.2f PDQ hashes/file, %.3fx the first\n",
        p, all, m, 1000 * m / n, n / m, (ph > 0 ? ph / n : 1), m / f }'
  done
  exit 0
fi
declare -A med
declare -A cpu
for t in 1 2; do
  times=() cpus=() rsss=()
  for r in $(seq "$reps"); do
    # Exit 1 (matches) is not an error here; 2 and up are.
    code=0
    # shellcheck disable=SC2086 # SCAN_FLAGS is a list of flags
    /usr/bin/time -f '%e %U %S %M' -o "$dir/out/time-t$t.txt" \
      "$nm" scan "$tree" --set "$dir/out/known-pdq.nmset" -o "$dir/out/r.jsonl" --threads "$t" -q ${SCAN_FLAGS:-} \
      2>"$dir/out/stderr-t$t.log" || code=$?
    # (Standard error, e.g. the read-write mount warning, goes to a log beside the report.)
    [ "$code" -le 1 ] || { cat "$dir/out/stderr-t$t.log" >&2; echo "scan failed with exit code $code" >&2; exit 1; }
    read -r wall user sys rss < "$dir/out/time-t$t.txt"
    times+=("$wall")
    cpus+=("$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')")
    rsss+=("$rss")
  done
  m=$(printf '%s\n' "${times[@]}" | median)
  c=$(printf '%s\n' "${cpus[@]}" | median)
  rss=$(printf '%s\n' "${rsss[@]}" | median)
  med[$t]=$m
  cpu[$t]=$c
  awk -v t="$t" -v m="$m" -v c="$c" -v r="$rss" -v n="$count" -v b="$bytes" -v all="${times[*]}" 'BEGIN {
    printf "--threads %s: runs %s s; median %.2f s = %.0f files/s, %.1f MB/s; CPU %.2f s (%.0f files/CPU-s, %.2f cores busy); peak RSS %.1f MB\n",
      t, all, m, n / m, b / 1e6 / m, c, n / c, c / m, r / 1024 }'
done
# CPU-normalised: the 2-thread run's files per CPU-second times its 2 cores, over the 1-thread
# run's files per CPU-second; robust to other load on a shared machine (wall speed-up is not).
awk -v a="${med[1]}" -v b="${med[2]}" -v ca="${cpu[1]}" -v cb="${cpu[2]}" 'BEGIN {
  printf "2-thread / 1-thread: wall speed-up %.2fx; CPU-normalised throughput %.2fx (2 x files per CPU-s at 2 threads / files per CPU-s at 1)\n", a / b, 2 * ca / cb }'
