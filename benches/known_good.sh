#!/usr/bin/env bash
# Cost of known-good exclusion (`nearmatch scan --ignore-set`, release build).
#
# Generates a tree of small synthetic JPEGs (default 3,000 at 320x240, q85; reused when present)
# and an MD5 ignore set of ENTRIES random digests (default 1,000,000), then runs `scan --threads 1`
# REPS times (default 5) in each of these configurations and prints the median CPU time (user +
# sys) and wall time of each, and their ratios to the first:
#   none       no ignore set (the baseline)
#   miss       the 1M-entry set, no file in it: the pure cost of looking every file up, plus
#              opening, verifying and fingerprinting (SHA-256) the set once
#   half       the same random digests plus the MD5 of every other file (computed by `md5sum`):
#              those files are `known-good` and not decoded
# The per-file cost of the lookup is (miss - none) / files after the fixed cost of opening the set
# is taken off; that fixed cost is measured by the same pair of scans of a one-file tree.
# Files are in the page cache: this measures hashing and decoding, not the disk.
#
#   benches/known_good.sh [FILES [ENTRIES [REPS]]]
#   KG_BENCH_DIR=/path benches/known_good.sh     (default target/known-good-bench)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3000}
entries=${2:-1000000}
reps=${3:-5}
dir=${KG_BENCH_DIR:-target/known-good-bench}
tree="$dir/tree-$count"
one="$dir/one"
cargo build -q --release --bin nearmatch
cargo build -q --release -p nearmatch --example bench_hash
nm=target/release/nearmatch
if [ "$(find "$tree" -type f 2>/dev/null | wc -l)" -ne "$count" ]; then
  rm -rf "$tree"
  mkdir -p "$tree"
  echo "generating $count 320x240 JPEGs in $tree" >&2
  target/release/examples/bench_hash gen "$tree" "$count" 320 240 85 >/dev/null
fi
rm -rf "$one" && mkdir -p "$one" && cp "$(find "$tree" -type f | sort | head -n 1)" "$one/"
mkdir -p "$dir/out"
if [ ! -s "$dir/random-$entries.txt" ]; then
  python3 -c "
import os, sys
out = sys.stdout
for _ in range($entries):
    out.write(os.urandom(16).hex() + '\n')
" > "$dir/random-$entries.txt"
fi
# Every other file (sorted by name), by md5sum, added to the random digests.
find "$tree" -type f | sort | awk 'NR % 2 == 1' | xargs md5sum | awk '{print $1}' > "$dir/half.txt"
"$nm" set build -o "$dir/out/miss.nmset" --algo md5 "$dir/random-$entries.txt" >/dev/null 2>&1
"$nm" set build -o "$dir/out/half.nmset" --algo md5 "$dir/random-$entries.txt" "$dir/half.txt" >/dev/null 2>&1
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
echo "tree: $count files, $(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e6}') MB; ignore set: $entries random MD5s ($(stat -c %s "$dir/out/miss.nmset") bytes); nproc $(nproc); $(uname -srm)"

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

# run NAME EVIDENCE [FLAGS...]: sets cpu_NAME and wall_NAME to the medians over $reps runs.
declare -A cpu wall
run() {
  local name=$1 ev=$2
  shift 2
  local cpus=() walls=()
  for _ in $(seq "$reps"); do
    local code=0
    /usr/bin/time -f '%e %U %S' -o "$dir/out/time.txt" \
      "$nm" scan "$ev" -o "$dir/out/r-$name.jsonl" --threads 1 -q "$@" 2>"$dir/out/stderr-$name.log" || code=$?
    [ "$code" -le 1 ] || { cat "$dir/out/stderr-$name.log" >&2; echo "scan failed with exit code $code" >&2; exit 1; }
    read -r w u s < "$dir/out/time.txt"
    cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.3f", u + s}')")
    walls+=("$w")
  done
  cpu[$name]=$(printf '%s\n' "${cpus[@]}" | median)
  wall[$name]=$(printf '%s\n' "${walls[@]}" | median)
  local kg
  kg=$(tail -n 1 "$dir/out/r-$name.jsonl" | grep -o '"known-good":[0-9]*' | cut -d: -f2 || true)
  printf '%-10s CPU s %s (median %.3f), wall median %.3f s, known-good files: %s\n' \
    "$name" "${cpus[*]}" "${cpu[$name]}" "${wall[$name]}" "${kg:-0}"
}

run one-none "$one"
run one-miss "$one" --ignore-set "$dir/out/miss.nmset"
run none "$tree"
run miss "$tree" --ignore-set "$dir/out/miss.nmset"
run half "$tree" --ignore-set "$dir/out/half.nmset"

awk -v n="$count" -v on="${cpu[one-none]}" -v om="${cpu[one-miss]}" \
    -v c0="${cpu[none]}" -v c1="${cpu[miss]}" -v c2="${cpu[half]}" \
    -v w0="${wall[none]}" -v w1="${wall[miss]}" -v w2="${wall[half]}" 'BEGIN {
  fixed = om - on
  printf "fixed cost of opening the ignore set (one-file tree): %.3f s CPU\n", fixed
  printf "miss/none: CPU %.3fx, wall %.3fx; per file after the fixed cost: %.1f us CPU (%.1f%% of the %.2f ms a file costs)\n",
    c1 / c0, w1 / w0, 1e6 * (c1 - c0 - fixed) / n, 100 * (c1 - c0 - fixed) / c0, 1000 * c0 / n
  printf "half/none: CPU %.3fx, wall %.3fx (every other file known-good, not decoded)\n", c2 / c0, w2 / w0
}'
