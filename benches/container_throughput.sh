#!/usr/bin/env bash
# Container throughput (release build): the same synthetic JPEGs scanned loose and as the
# members of one ZIP (stored, as camera and chat exports are), three runs each at --threads 2,
# medians of wall and CPU time, members per second and the zip/loose ratio; then the time and
# peak RSS to reject a decompression bomb (a ZIP of ZIPs expanding to 4 GB of zeros) at the
# default limits. Needs python3 (zipfile) to build the archives once.
#
#   benches/container_throughput.sh [COUNT]      (default 10,000 640x480 q85 JPEGs, reused)
set -euo pipefail
cd "$(dirname "$0")/.."
count=${1:-10000}
reps=3
dir=${SCAN_BENCH_DIR:-target/scan-bench}
tree="$dir/tree-${count}-640x480-q85"
cargo build -q --release --bin nearmatch
cargo build -q --release -p nearmatch --example bench_hash
nm=target/release/nearmatch
if [ "$(find "$tree" -type f 2>/dev/null | wc -l)" -ne "$count" ]; then
  rm -rf "$tree"
  mkdir -p "$tree"
  target/release/examples/bench_hash gen "$tree" "$count" 640 480 85 >/dev/null
fi
zipdir="$dir/zip-$count"
bombdir="$dir/bomb"
mkdir -p "$zipdir" "$bombdir" "$dir/out"
if [ ! -f "$zipdir/all.zip" ]; then
  python3 - "$tree" "$zipdir/all.zip" <<'EOF'
import os, sys, zipfile
src, dst = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(dst + ".tmp", "w", compression=zipfile.ZIP_STORED) as z:
    for root, _, files in sorted(os.walk(src)):
        for f in sorted(files):
            p = os.path.join(root, f)
            z.write(p, os.path.relpath(p, src))
os.rename(dst + ".tmp", dst)
EOF
fi
if [ ! -f "$bombdir/bomb.zip" ]; then
  python3 - "$bombdir/bomb.zip" <<'EOF'
import io, sys, zipfile
inner = io.BytesIO()
with zipfile.ZipFile(inner, "w", compression=zipfile.ZIP_DEFLATED) as z:
    z.writestr("zeros.bin", bytes(256 << 20))
with zipfile.ZipFile(sys.argv[1], "w", compression=zipfile.ZIP_STORED) as z:
    for i in range(16):
        z.writestr(f"part{i:02}.zip", inner.getvalue())
EOF
fi
"$nm" set build -o "$dir/out/known-pdq.nmset" --algo pdq fixtures/demo/known-pdq.csv 2>/dev/null
echo "$count 640x480 JPEGs; zip $(stat -c %s "$zipdir/all.zip") bytes; nproc $(nproc); $(uname -srm)"

median() { sort -g | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }

declare -A wall cpu
for what in loose zip; do
  src=$tree
  [ "$what" = zip ] && src=$zipdir
  ws=() cs=()
  for r in $(seq "$reps"); do
    code=0
    /usr/bin/time -f '%e %U %S %M' -o "$dir/out/time.txt" "$nm" scan "$src" \
      --set "$dir/out/known-pdq.nmset" -o "$dir/out/c.jsonl" --threads 2 -q 2>"$dir/out/stderr.log" || code=$?
    [ "$code" -le 1 ] || { cat "$dir/out/stderr.log" >&2; echo "$what: exit code $code" >&2; exit 1; }
    read -r w u s _ < <(tail -n 1 "$dir/out/time.txt")
    ws+=("$w")
    cs+=("$(awk -v u="$u" -v s="$s" 'BEGIN {printf "%.2f", u + s}')")
  done
  wall[$what]=$(printf '%s\n' "${ws[@]}" | median)
  cpu[$what]=$(printf '%s\n' "${cs[@]}" | median)
  awk -v l="$what" -v w="${wall[$what]}" -v c="${cpu[$what]}" -v n="$count" -v all="${ws[*]}" 'BEGIN {
    printf "%-5s: runs %s s; median %.2f s wall = %.0f images/s; CPU %.2f s = %.0f images per CPU-s\n", l, all, w, n / w, c, n / c }'
done
awk -v lw="${wall[loose]}" -v zw="${wall[zip]}" -v lc="${cpu[loose]}" -v zc="${cpu[zip]}" 'BEGIN {
  printf "zip / loose throughput: %.2f wall, %.2f per CPU-second (target >= 0.90)\n", lw / zw, lc / zc }'
/usr/bin/time -f '%e %M' -o "$dir/out/time.txt" "$nm" scan "$bombdir" -o "$dir/out/bomb.jsonl" -q 2>/dev/null || true
# (time writes "Command exited with non-zero status N" first when the scan exits 2.)
read -r w rss < <(tail -n 1 "$dir/out/time.txt")
lim=$(grep -c 'skipped:limit' "$dir/out/bomb.jsonl" || true)
echo "bomb ($(stat -c %s "$bombdir/bomb.zip") bytes, 4 GiB of zeros inside): rejected in ${w} s, peak RSS $((rss / 1024)) MB, ${lim} records skipped:limit"
