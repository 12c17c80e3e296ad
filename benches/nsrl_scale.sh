#!/usr/bin/env bash
# NSRL RDS v3 at scale: `nearmatch set build --format nsrl-rds` on a synthetic RDS-v3-shaped
# SQLite database, and the exact-lookup rate of the set it builds.
#
# The database (generated once per size and reused; never committed) has NIST's FILE table and
# primary key with random upper-case hex hashes: ROWS rows, each content repeated in REPEAT
# packages (default 6: the v3 modern minimal set has ~442 M rows for ~74 M distinct SHA-256), so
# the set gets ROWS / REPEAT entries. For each of "metadata" (default: first file name + package
# label) and "--no-metadata" it runs the build REPS times under /usr/bin/time -v and prints the
# median wall time, rows/s, peak RSS, the set's size and its ratio to the raw digest bytes
# (entries x digest size). Then it looks up QUERIES digests taken from the database (hits) and as
# many random ones (misses) with the exact_lookup example (HashSet::lookup_exact, the binary
# search a scan does per file) and prints ns per lookup, median of 5 passes.
#
#   NSRL_ROWS=10000000 benches/nsrl_scale.sh
#   env: NSRL_ROWS (default 300000), NSRL_REPEAT (6), NSRL_ALGO (sha1), NSRL_REPS (3),
#        NSRL_QUERIES (100000), NSRL_BENCH_DIR (target/nsrl-bench),
#        NSRL_PROFILE (release, or dev), NSRL_NO_BUILD=1 (use the binaries already built)
set -euo pipefail
cd "$(dirname "$0")/.."
rows=${NSRL_ROWS:-300000}
repeat=${NSRL_REPEAT:-6}
algo=${NSRL_ALGO:-sha1}
reps=${NSRL_REPS:-3}
queries=${NSRL_QUERIES:-100000}
dir=${NSRL_BENCH_DIR:-target/nsrl-bench}
profile=${NSRL_PROFILE:-release}
target=${CARGO_TARGET_DIR:-target}
mkdir -p "$dir"

if [ "$profile" = release ]; then
    flag=--release bin=$target/release
else
    flag= bin=$target/debug
fi
if [ -z "${NSRL_NO_BUILD:-}" ]; then
    cargo build -q $flag --bin nearmatch
    cargo build -q $flag -p nearmatch --example exact_lookup
fi
nm=$bin/nearmatch
lookup=$bin/examples/exact_lookup

db=$dir/RDS_synthetic_${rows}x${repeat}.db
if [ ! -f "$db" ]; then
    echo "generating $db ($rows rows, $repeat per content) ..." >&2
    start=$(date +%s)
    python3 - "$db" "$rows" "$repeat" <<'EOF'
import sqlite3, sys
path, rows, repeat = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
distinct = max(1, rows // repeat)
con = sqlite3.connect(path + ".tmp")
con.executescript("""
PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-262144;
CREATE TABLE FILE (
 sha256 VARCHAR NOT NULL, sha1 VARCHAR NOT NULL, md5 VARCHAR NOT NULL, crc32 VARCHAR NOT NULL,
 file_name VARCHAR NOT NULL, file_size INTEGER NOT NULL, package_id INTEGER NOT NULL,
 CONSTRAINT PK_FILE__FILE PRIMARY KEY (sha256, sha1, md5, crc32, file_name, file_size, package_id));
CREATE TABLE PKG (package_id INTEGER NOT NULL, name VARCHAR NOT NULL, version VARCHAR NOT NULL);
""")
# Contents in random order, each repeated in `repeat` packages with its own file name; inserted
# in primary-key order so the generation is an append, not millions of random B-tree inserts.
con.execute(f"""CREATE TEMP TABLE c AS
  WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < {distinct})
  SELECT i, hex(randomblob(32)) AS a, hex(randomblob(20)) AS b, hex(randomblob(16)) AS m,
         hex(randomblob(4)) AS crc FROM s""")
con.execute(f"""INSERT INTO FILE
  SELECT a, b, m, crc, 'file' || i || '-' || p || '.dll', 1000 + i % 99991, p FROM c,
    (WITH RECURSIVE r(p) AS (SELECT 1 UNION ALL SELECT p + 1 FROM r WHERE p < {repeat})
     SELECT p FROM r)
  ORDER BY a, p""")
con.execute("INSERT INTO PKG VALUES (1, 'Synthetic', '1.0')")
con.commit()
con.close()
EOF
    mv "$db.tmp" "$db"
    echo "generated in $(( $(date +%s) - start )) s" >&2
fi
db_bytes=$(stat -c %s "$db")

case $algo in md5) dbytes=16 ;; sha1) dbytes=20 ;; sha256) dbytes=32 ;; *) echo "algo?" >&2; exit 64 ;; esac

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR + 1) / 2)]}'; }

echo "database: $db, $rows rows, $db_bytes bytes; algo $algo; $reps builds each; $profile build"
printf '%-12s %10s %12s %12s %12s %14s %10s\n' variant entries "wall s" "rows/s" "peak RSS MB" "set bytes" "x digests"
for variant in metadata no-metadata; do
    flags=()
    [ "$variant" = no-metadata ] && flags=(--no-metadata)
    walls=() rss=()
    for _ in $(seq "$reps"); do
        out=$dir/nsrl-$variant.nmset
        /usr/bin/time -v "$nm" set build --algo "$algo" --format nsrl-rds "${flags[@]}" \
            -o "$out" "$db" >/dev/null 2>"$dir/time.txt"
        walls+=("$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s}' "$dir/time.txt")")
        rss+=("$(awk -F': ' '/Maximum resident set size/ {print $2}' "$dir/time.txt")")
    done
    wall=$(printf '%s\n' "${walls[@]}" | median)
    peak=$(printf '%s\n' "${rss[@]}" | median)
    entries=$("$nm" set info --json "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["entries"])')
    bytes=$(stat -c %s "$out")
    awk -v v="$variant" -v e="$entries" -v w="$wall" -v r="$rows" -v p="$peak" -v b="$bytes" -v d="$dbytes" \
        'BEGIN {printf "%-12s %10d %12.2f %12.0f %12.0f %14d %10.2f\n", v, e, w, r / w, p / 1024, b, b / (e * d)}'
    echo "  walls: ${walls[*]}; peak RSS KB: ${rss[*]}"
done

# Lookups: digests from the database (hits) and random ones (misses).
python3 - "$db" "$algo" "$queries" "$dir/hits.txt" "$dir/misses.txt" <<'EOF'
import random, sqlite3, sys
db, algo, n, hits, misses = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
con = sqlite3.connect(f"file:{db}?mode=ro&immutable=1", uri=True)
total = con.execute("SELECT max(rowid) FROM FILE").fetchone()[0]
rng = random.Random(7)
ids = [rng.randint(1, total) for _ in range(n)]
with open(hits, "w") as f:
    for i in ids:
        f.write(con.execute(f"SELECT {algo} FROM FILE WHERE rowid = ?", (i,)).fetchone()[0] + "\n")
size = {"md5": 16, "sha1": 20, "sha256": 32}[algo]
with open(misses, "w") as f:
    for _ in range(n):
        f.write(rng.randbytes(size).hex() + "\n")
EOF
for variant in metadata no-metadata; do
    echo "lookup_exact, $variant set:"
    echo -n "  hits:   "; "$lookup" "$dir/nsrl-$variant.nmset" "$dir/hits.txt"
    echo -n "  misses: "; "$lookup" "$dir/nsrl-$variant.nmset" "$dir/misses.txt"
done
