#!/usr/bin/env bash
# Per-case stage costs (decode, count, derive, distances, write) of the sample datasets, from
# --timings, for the cluster cost model in docs/cluster.md; and the merge cost and report bytes
# per case of N small cases split in 4 shards.
# Usage: bench/per_case_costs.sh MASKEVAL [N]   (N small cases for the merge, default 20000)
set -euo pipefail
bin="$1"
n="${2:-20000}"
src="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/maskeval-costs.XXXXXX")"
trap 'rm -rf "$work"' EXIT
d="$src/data"
run() {  # NAME CASES ARGS...: a line of per-case milliseconds per stage
  local name="$1" cases="$2"
  shift 2
  local t
  t=$("$bin" "$@" -q --timings --threads 1 -o "$work/out" 2>&1 >/dev/null | grep 'timings (s' || true)
  rm -rf "$work/out"
  echo "$t" | awk -v name="$name" -v n="$cases" -F'[ ,]+' '{
    for (i = 1; i <= NF; ++i) v[$i] = $(i + 1)
    printf "| %s | %d | %.1f | %.1f | %.1f | %.1f | %.1f |\n", name, n, 1000 * v["decode"] / n,
      1000 * v["count"] / n, 1000 * v["derive"] / n, 1000 * v["distances"] / n, 1000 * v["write"] / n
  }'
}
echo "| workload | cases | decode ms | count ms | derive ms | distances ms | write ms |"
echo "|---|---|---|---|---|---|---|"
run "BU-BIL agree, 3 raters 1300x1030 PNG" 8 agree --cases "$d/bu-bil" --raters 'experts/*.png' \
  --foreground '<128'
run "BU-BIL agree --distances" 8 agree --cases "$d/bu-bil" --raters 'experts/*.png' \
  --foreground '<128' --distances
run "CamVid score, 360x480 label maps, distances" 6 score --prediction "$d/camvid/prediction" \
  --reference "$d/camvid/reference" --labels "$d/camvid/labels.csv" --include-background \
  --ignore-label 11
run "KiTS23 fuse majority, 3 annotators, 3D .nii.gz" 1 fuse --manifest "$d/kits23/manifest.csv" \
  --paint-order 1,3,2
run "KiTS23 score, 3 annotators vs official, distances" 1 score --manifest \
  "$d/kits23/manifest.csv" --labels "$d/kits23/labels.json"

# The merge: N small cases (32 x 32, 3 raters and a reference, hard links of 64) in 4 shards.
python3 - "$work/seed" <<'PY'
import os, struct, sys, zlib
root = sys.argv[1]
def png(path, px):
    raw = b"".join(b"\0" + bytes(px[y * 32:(y + 1) * 32]) for y in range(32))
    def chunk(t, b):
        return struct.pack(">I", len(b)) + t + b + struct.pack(">I", zlib.crc32(t + b) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 32, 32, 8, 0, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
for c in range(64):
    os.makedirs(os.path.join(root, "c%02d" % c))
    for r, name in enumerate(["a", "b", "c", "ref"]):
        s = (c + 3 * r) % 7
        png(os.path.join(root, "c%02d" % c, name + ".png"),
            [1 if 4 + s <= x < 20 + s and 6 <= y < 22 else 0 for y in range(32) for x in range(32)])
PY
mkdir -p "$work/data"
for ((i = 0; i < n; i++)); do
  seed="$work/seed/c$(printf %02d $((i % 64)))"
  mkdir "$work/data/case$i"
  ln "$seed"/*.png "$work/data/case$i/"
done
args=(agree --cases "$work/data" --raters '[abc].png' --reference ref.png -q --no-maps --threads 2)
start=$(date +%s.%N)
"$bin" "${args[@]}" -o "$work/single" >/dev/null
single=$(echo "$(date +%s.%N) - $start" | bc)
for i in 0 1 2 3; do "$bin" "${args[@]}" --shard "$i/4" -o "$work/s$i" >/dev/null; done
start=$(date +%s.%N)
"$bin" merge -q -o "$work/merged" "$work"/s0 "$work"/s1 "$work"/s2 "$work"/s3 >/dev/null
merge=$(echo "$(date +%s.%N) - $start" | bc)
bytes=$(stat -c %s "$work/single/report.json")
records=$(stat -c %s "$work/single/records.jsonl")
echo
echo "| $n small cases | single run s | merge of 4 shards s | merge ms per case | report.json bytes per case | records.jsonl bytes per case |"
echo "|---|---|---|---|---|---|"
awk -v n="$n" -v s="$single" -v m="$merge" -v b="$bytes" -v r="$records" 'BEGIN {
  printf "| | %.2f | %.2f | %.3f | %d | %d |\n", s, m, 1000 * m / n, b / n, r / n }'
