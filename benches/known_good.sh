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
# The fixed cost of opening the set is measured by the same pair of scans of a one-file tree. The
# lookup itself is too small to see beside decoding, so it is measured on a tree of TEXT (default
# 20,000) one-line text files (crypto hashes only, nothing decoded): (txt-miss - txt-none - fixed)
# / TEXT.
# Files are in the page cache: this measures hashing and decoding, not the disk.
#
#   benches/known_good.sh [FILES [ENTRIES [REPS [TEXT]]]]
#   KG_BENCH_DIR=/path benches/known_good.sh     (default target/known-good-bench)
#   KG_CALLGRIND=300 benches/known_good.sh       also count instructions (valgrind's callgrind,
#       deterministic whatever the machine's load) of scans of the one-file tree and of the
#       first 300 images, without and with the set: the lookups' cost is the second difference
#       minus the first. (Under valgrind SHA-256 runs without SHA-NI, so the fixed cost counts
#       more instructions than it takes natively.)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-3000}
entries=${2:-1000000}
reps=${3:-5}
ntext=${4:-20000}
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
txt="$dir/text-$ntext"
if [ "$(find "$txt" -type f 2>/dev/null | wc -l)" -ne "$ntext" ]; then
  rm -rf "$txt" && mkdir -p "$txt"
  python3 -c "
for i in range($ntext):
    open(f'$txt/f{i}.txt', 'w').write(f'text file {i}\\n')
"
fi
rm -rf "$one" && mkdir -p "$one" && cp "$(find "$tree" -type f | sort | sed -n 1p)" "$one/"
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

# The configurations: name, evidence, flags. Runs are interleaved (one of each per round, REPS
# rounds), so a load that comes and goes on a shared machine falls on all of them alike.
names=(one-none one-miss txt-none txt-miss none miss half)
declare -A ev flags
ev[one-none]=$one; flags[one-none]=""
ev[one-miss]=$one; flags[one-miss]="--ignore-set $dir/out/miss.nmset"
ev[txt-none]=$txt; flags[txt-none]=""
ev[txt-miss]=$txt; flags[txt-miss]="--ignore-set $dir/out/miss.nmset"
ev[none]=$tree; flags[none]=""
ev[miss]=$tree; flags[miss]="--ignore-set $dir/out/miss.nmset"
ev[half]=$tree; flags[half]="--ignore-set $dir/out/half.nmset"
declare -A cpus walls cpu wall
for _ in $(seq "$reps"); do
  for name in "${names[@]}"; do
    code=0
    # shellcheck disable=SC2086 # flags is a list of flags
    /usr/bin/time -f '%e %U %S' -o "$dir/out/time.txt" \
      "$nm" scan "${ev[$name]}" -o "$dir/out/r-$name.jsonl" --threads 1 -q ${flags[$name]} 2>"$dir/out/stderr-$name.log" || code=$?
    [ "$code" -le 1 ] || { cat "$dir/out/stderr-$name.log" >&2; echo "scan failed with exit code $code" >&2; exit 1; }
    read -r w u s < "$dir/out/time.txt"
    cpus[$name]+="$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.3f", u + s}') "
    walls[$name]+="$w "
  done
done
for name in "${names[@]}"; do
  # shellcheck disable=SC2086 # a list of numbers
  cpu[$name]=$(printf '%s\n' ${cpus[$name]} | median)
  # shellcheck disable=SC2086
  wall[$name]=$(printf '%s\n' ${walls[$name]} | median)
  kg=$(tail -n 1 "$dir/out/r-$name.jsonl" | grep -o '"known-good":[0-9]*' | head -n 1 | cut -d: -f2 || true)
  printf '%-9s CPU s %s(median %.3f), wall median %.3f s, known-good files: %s\n' \
    "$name" "${cpus[$name]}" "${cpu[$name]}" "${wall[$name]}" "${kg:-0}"
done

awk -v n="$count" -v nt="$ntext" -v on="${cpu[one-none]}" -v om="${cpu[one-miss]}" \
    -v t0="${cpu[txt-none]}" -v t1="${cpu[txt-miss]}" \
    -v c0="${cpu[none]}" -v c1="${cpu[miss]}" -v c2="${cpu[half]}" \
    -v w0="${wall[none]}" -v w1="${wall[miss]}" -v w2="${wall[half]}" 'BEGIN {
  fixed = om - on
  printf "fixed cost of opening, verifying and fingerprinting the ignore set (one-file tree): %.3f s CPU\n", fixed
  printf "lookup per file (text tree, %d files): %.1f us CPU (txt-miss/txt-none %.3fx)\n",
    nt, 1e6 * (t1 - t0 - fixed) / nt, t1 / t0
  printf "images, miss/none: CPU %.3fx, wall %.3fx (a file costs %.2f ms CPU without the set)\n",
    c1 / c0, w1 / w0, 1000 * c0 / n
  printf "images, half/none: CPU %.3fx, wall %.3fx (every other file known-good, not decoded)\n", c2 / c0, w2 / w0
}'

if [ -n "${KG_CALLGRIND:-}" ]; then
  sub="$dir/sub-$KG_CALLGRIND"
  rm -rf "$sub" && mkdir -p "$sub"
  find "$tree" -type f | sort | sed -n "1,${KG_CALLGRIND}p" | xargs cp -t "$sub"
  declare -A ins
  for e in one sub; do
    for f in none miss; do
      evd=$one; [ "$e" = sub ] && evd=$sub
      extra=""; [ "$f" = miss ] && extra="--ignore-set $dir/out/miss.nmset"
      # shellcheck disable=SC2086
      ins[$e-$f]=$(valgrind --tool=callgrind --callgrind-out-file=/dev/null "$nm" scan "$evd" \
        -o "$dir/out/cg.jsonl" --threads 1 --decode-timeout 0 -q $extra 2>&1 | sed -n 's/.*Collected : \([0-9]*\).*/\1/p')
    done
  done
  awk -v n="$KG_CALLGRIND" -v a="${ins[one-none]}" -v b="${ins[one-miss]}" -v c="${ins[sub-none]}" -v d="${ins[sub-miss]}" 'BEGIN {
    printf "callgrind: one file %.0f -> %.0f instructions (fixed cost %.0f); %d images %.0f -> %.0f (%.0f)\n", a, b, b - a, n, c, d, d - c
    printf "callgrind: lookup per file %.0f instructions; an image costs %.0f\n", ((d - c) - (b - a)) / (n - 1), (c - a) / (n - 1)
  }'
fi
