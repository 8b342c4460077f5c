#!/usr/bin/env bash
# heapdoc's default report vs `go tool pprof -top -sample_index=alloc_space` on
# generated Go heap profiles of ~2, ~20 and ~100 MB uncompressed (issue 9).
# Both tools run alternately in one hyperfine run per size; peak RSS comes
# from /usr/bin/time -v. Prints the time and memory ratios and heapdoc's time
# per MB (the slope across sizes). Profiles are generated into $DIR (default
# /tmp/heapdoc-bench, reused when present; not committed).
#
#   scripts/bench-vs-pprof.sh                 # 2 20 100
#   SIZES="2 20" RUNS=5 WARMUP=1 scripts/bench-vs-pprof.sh
#
# Needs: go, hyperfine (apt-get install -y hyperfine), GNU time
# (apt-get install -y time), and a release build (cargo build --release).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SIZES=${SIZES:-"2 20 100"}
RUNS=${RUNS:-3}
WARMUP=${WARMUP:-1}
DIR=${DIR:-/tmp/heapdoc-bench}
HEAPDOC=${HEAPDOC:-$here/target/release/heapdoc}
GO=${GO:-go}
mkdir -p "$DIR"
[ -x "$HEAPDOC" ] || { echo "build first: cargo build --release" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "needs hyperfine (apt-get install -y hyperfine)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install -y time)" >&2; exit 2; }
export GOTOOLCHAIN=local

peak_kb() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident set size/ { print $2 }'; }

echo "machine: $(nproc) cores; load: $(uptime | sed 's/.*load average: //')"
summary=()
for mb in $SIZES; do
  prof=$DIR/big$mb.pb.gz
  [ -f "$prof" ] || "$here/scripts/gen-large-profile.sh" "$mb" "$prof" >&2
  raw=$(gzip -dc "$prof" | wc -c)
  echo
  echo "== $prof: $(wc -c <"$prof") bytes gzipped, $raw bytes uncompressed"
  json=$DIR/hyperfine-$mb.json
  hyperfine --runs "$RUNS" --warmup "$WARMUP" --export-json "$json" --style basic \
    -n heapdoc "$HEAPDOC $prof" \
    -n pprof "$GO tool pprof -top -sample_index=alloc_space $prof" >&2
  t_h=$(python3 -c "import json,sys; r=json.load(open('$json'))['results']; print(r[0]['mean'])")
  t_p=$(python3 -c "import json,sys; r=json.load(open('$json'))['results']; print(r[1]['mean'])")
  rss_h=$(peak_kb "$HEAPDOC" "$prof")
  rss_p=$(peak_kb "$GO" tool pprof -top -sample_index=alloc_space "$prof")
  line=$(python3 - "$mb" "$raw" "$t_h" "$t_p" "$rss_h" "$rss_p" <<'PY'
import sys
mb, raw, th, tp, rh, rp = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
rawmb = raw / 1e6
print(f"{mb:>4} MB: heapdoc {th:.3f} s ({th / rawmb * 1000:.2f} ms/MB), peak RSS {rh / 1024:.0f} MiB "
      f"= {rh * 1024 / raw:.2f}x uncompressed; pprof {tp:.2f} s, peak RSS {rp / 1024:.0f} MiB; "
      f"heapdoc {tp / th:.0f}x faster, {rp / rh:.1f}x less memory")
PY
)
  echo "$line"
  summary+=("$line")
done
echo
echo "== summary (mean of $RUNS runs each, alternating)"
printf '%s\n' "${summary[@]}"
