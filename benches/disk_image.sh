#!/usr/bin/env bash
# Disk-image scanning throughput (release build, issue #18): the same synthetic JPEGs scanned
# from a directory, from a raw NTFS image holding them, and from an E01 of that image, in one
# run: a first untimed pass of each (warms the page cache: dropping it needs root), then REPS
# rounds alternating directory / raw / E01 so drift and other load hit all three alike. Prints
# per pass and as medians: wall seconds, files/s, MB/s (picture bytes, the same for all three),
# CPU seconds (user + sys) and CPU per file, and the ratios image/directory and E01/raw (wall
# throughput, and per CPU-second).
#
# Built once and reused in the data directory: COUNT JPEGs from the repository's synthetic
# generator (`bench_hash gen`, scenes of shapes, gradients and noise; default 3,400 at
# 2048x1536 q92, about 1 GB), an NTFS image made with mkntfs + ntfscp (nothing mounted; all
# files in the root directory, as ntfscp cannot make directories) and an E01 made with
# `ewfacquire -u` (deflate `fast` compression, EnCase 6 format, 64-sector chunks: the
# defaults but for the level; JPEG chunks do not compress, so they are stored as written).
#
#   benches/disk_image.sh [--data DIR] [COUNT [WIDTH HEIGHT [QUALITY]]]
#   DISK_BENCH_DIR=/path benches/disk_image.sh        (default /tmp/nearmatch-disk-bench)
#   DISK_BENCH_REPS=5 DISK_BENCH_THREADS=2 benches/disk_image.sh   (the defaults)
#   DISK_BENCH_PREPARE=1 benches/disk_image.sh        (only build the data, e.g. while busy)
# Needs mkntfs, ntfscp (ntfs-3g) and ewfacquire (ewf-tools): scripts/ensure-build-deps.
set -euo pipefail
cd "$(dirname "$0")/.."
data=${DISK_BENCH_DIR:-/tmp/nearmatch-disk-bench}
if [ "${1:-}" = "--data" ]; then
  data=$2
  shift 2
fi
count=${1:-3400}
w=${2:-2048}
h=${3:-1536}
q=${4:-92}
reps=${DISK_BENCH_REPS:-5}
threads=${DISK_BENCH_THREADS:-2}
for t in mkntfs ntfscp ewfacquire; do
  command -v "$t" >/dev/null || { echo "needs $t (scripts/ensure-build-deps)" >&2; exit 1; }
done
cargo build -q --release --bin nearmatch
cargo build -q --release -p nearmatch --example bench_hash
tdir=${CARGO_TARGET_DIR:-target}
nm=$tdir/release/nearmatch
tree="$data/tree-${count}-${w}x${h}-q${q}"
img="$data/ntfs-${count}-${w}x${h}-q${q}.img"
e01="$data/ntfs-${count}-${w}x${h}-q${q}"
out="$data/out"
mkdir -p "$data" "$out"
if [ "$(find "$tree" -type f 2>/dev/null | wc -l)" -ne "$count" ]; then
  rm -rf "$tree" "$img" "$e01".E*
  mkdir -p "$tree"
  echo "generating $count ${w}x${h} JPEGs (q$q) in $tree" >&2
  "$tdir/release/examples/bench_hash" gen "$tree" "$count" "$w" "$h" "$q" >/dev/null
fi
bytes=$(find "$tree" -type f -printf '%s\n' | awk '{s += $1} END {print s}')
if [ ! -f "$img" ]; then
  echo "building $img with mkntfs + ntfscp" >&2
  # The pictures, their MFT records and index, and room to spare: 12% + 64 MiB.
  size=$(awk -v b="$bytes" 'BEGIN {printf "%d", (b * 1.12 + 64 * 2^20) / 2^20}')
  truncate -s "${size}M" "$img.tmp"
  mkntfs -F -Q -q "$img.tmp" 2>/dev/null  # (its warnings about booting Windows)
  find "$tree" -type f -printf '%f\n' | sort | while read -r f; do
    ntfscp -q "$img.tmp" "$tree/$f" "$f"
  done
  mv "$img.tmp" "$img"
fi
if [ ! -f "$e01.E01" ]; then
  echo "building $e01.E01 with ewfacquire (deflate fast)" >&2
  ewfacquire -u -q -c deflate:fast -f encase6 -S 4GiB -C bench -D "synthetic JPEGs on NTFS" \
    -E 1 -e nearmatch -N "benches/disk_image.sh" -t "$e01" "$img" >/dev/null
fi
[ -z "${DISK_BENCH_PREPARE:-}" ] || { echo "data ready in $data"; exit 0; }
"$nm" set build -o "$out/known-pdq.nmset" --algo pdq fixtures/demo/known-pdq.csv 2>/dev/null
e01_bytes=$(stat -c %s "$e01".E01)
cpu_model=$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)
echo "$count ${w}x${h} q$q JPEGs, $(awk -v b="$bytes" 'BEGIN {printf "%.1f", b / 1e6}') MB;" \
  "NTFS image $(stat -c %s "$img") bytes; E01 $e01_bytes bytes (deflate fast)"
echo "nproc $(nproc); $cpu_model; $(uname -srm); --threads $threads; $reps rounds after one warm-up pass"

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

declare -A src=([dir]=$tree [raw]=$img [e01]=$e01.E01)
declare -A walls cpus
# One pass: scan $1, check it, print and keep wall and CPU seconds.
pass() {
  local what=$1 round=$2 code=0
  /usr/bin/time -f '%e %U %S %M' -o "$out/time.txt" "$nm" scan "${src[$what]}" \
    --set "$out/known-pdq.nmset" -o "$out/$what.jsonl" --threads "$threads" -q \
    2>"$out/$what.stderr" || code=$?
  [ "$code" -le 1 ] || { cat "$out/$what.stderr" >&2; echo "$what: exit code $code" >&2; exit 1; }
  local wall user sys rss
  read -r wall user sys rss < <(tail -n 1 "$out/time.txt")
  # Every picture must have been hashed, from whichever source.
  local hashed
  hashed=$(grep -c '"pdq":' "$out/$what.jsonl" || true)
  [ "$hashed" -eq "$count" ] || { echo "$what: $hashed of $count pictures hashed" >&2; exit 1; }
  local cpu
  cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN {printf "%.2f", u + s}')
  awk -v l="$what" -v r="$round" -v w="$wall" -v c="$cpu" -v n="$count" -v b="$bytes" -v m="$rss" 'BEGIN {
    printf "  %-4s %-6s %7.2f s wall %7.1f files/s %7.1f MB/s  CPU %7.2f s %6.2f ms/file  RSS %d MB\n",
      l, r, w, n / w, b / 1e6 / w, c, 1000 * c / n, m / 1024 }'
  if [ "$round" != warm ]; then
    walls[$what]+="$wall "
    cpus[$what]+="$cpu "
  fi
}
for what in dir raw e01; do pass "$what" warm; done
for r in $(seq "$reps"); do
  for what in dir raw e01; do pass "$what" "r$r"; done
done
declare -A mw mc
echo "medians of $reps:"
for what in dir raw e01; do
  mw[$what]=$(printf '%s\n' ${walls[$what]} | median)
  mc[$what]=$(printf '%s\n' ${cpus[$what]} | median)
  awk -v l="$what" -v w="${mw[$what]}" -v c="${mc[$what]}" -v n="$count" -v b="$bytes" 'BEGIN {
    printf "  %-4s %7.2f s wall %7.1f files/s %7.1f MB/s  CPU %7.2f s %6.2f ms/file %6.1f files per CPU-s\n",
      l, w, n / w, b / 1e6 / w, c, 1000 * c / n, n / c }'
done
awk -v d="${mw[dir]}" -v r="${mw[raw]}" -v e="${mw[e01]}" \
  -v dc="${mc[dir]}" -v rc="${mc[raw]}" -v ec="${mc[e01]}" 'BEGIN {
  printf "raw image / directory throughput: %.2f wall, %.2f per CPU-second (target >= 0.80)\n", d / r, dc / rc
  printf "E01 / raw image throughput:       %.2f wall, %.2f per CPU-second\n", r / e, rc / ec
  printf "E01 / directory throughput:       %.2f wall, %.2f per CPU-second\n", d / e, dc / ec }'
