#!/usr/bin/env bash
# Peak memory of heapdoc on every test input (issue 16): tests/data/regress, samples/profiles,
# the shared corpus (../shared/corpus or $HEAPDOC_CORPUS) and the bombs of
# scripts/gen-bombs.py (written to target/bombs). Each input runs as the report and as a
# flame graph (bombs also with --top 0 and `list .`) under /usr/bin/time -v; the peak RSS must
# be at most 2 x the input's decompressed size + 64 MiB. Prints one line per run and exits 1
# when any run is over its budget, was killed, or took over $RSS_TIMEOUT seconds (default 120).
# Exit 2 from heapdoc (a refused input) is fine: the budget is what matters.
#
#   HEAPDOC=target/release/heapdoc scripts/rss-check.sh     (default: target/debug/heapdoc)
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
heapdoc="${HEAPDOC:-target/debug/heapdoc}"
[ -x "$heapdoc" ] || { echo "rss-check: no heapdoc binary (cargo build first)" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "rss-check: needs /usr/bin/time (GNU time)" >&2; exit 1; }
timeout_s="${RSS_TIMEOUT:-120}"
corpus="${HEAPDOC_CORPUS:-$root/../shared/corpus}"
bombs="$root/target/bombs"
python3 scripts/gen-bombs.py "$bombs" >/dev/null

inputs=()
while IFS= read -r f; do inputs+=("$f"); done < <(
    find tests/data/regress samples/profiles -type f \
        \( -name '*.pb' -o -name '*.pb.gz' -o -name '*.txt' -o -name '*.pprof' \) | sort
    if [ -d "$corpus" ]; then
        find "$corpus" -maxdepth 1 -type f ! -name 'MANIFEST*' ! -name '*.md' | sort
    fi
)
bomb_inputs=()
while IFS= read -r f; do bomb_inputs+=("$f"); done < <(find "$bombs" -type f | sort)

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fail=0
runs=0
max_ratio=""
printf '%-10s %12s %12s %12s  %-6s %s\n' mode decompr_B peak_KiB budget_KiB result input

size_of() { # decompressed size in bytes
    if [ "$(head -c 2 "$1" | od -An -tx1 | tr -d ' \n')" = "1f8b" ]; then
        gzip -dc "$1" 2>/dev/null | wc -c
    else
        stat -c %s "$1"
    fi
}

run() { # run MODE FILE ARGS...
    local mode="$1" f="$2"
    shift 2
    local size budget peak rc result
    size=$(size_of "$f")
    budget=$(( (2 * size + 64 * 1024 * 1024) / 1024 ))
    /usr/bin/time -v -o "$tmp/time" timeout -s KILL "$timeout_s" "$heapdoc" "$@" \
        >/dev/null 2>"$tmp/err"
    rc=$?
    peak=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$tmp/time")
    result=ok
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 1 ] && [ "$rc" -ne 2 ]; then
        result="rc=$rc"
        fail=1
    elif [ "${peak:-0}" -gt "$budget" ]; then
        result=OVER
        fail=1
    fi
    runs=$((runs + 1))
    printf '%-10s %12d %12d %12d  %-6s %s\n' "$mode" "$size" "${peak:-0}" "$budget" "$result" "$f"
}

for f in "${inputs[@]}" "${bomb_inputs[@]}"; do
    run report "$f" "$f"
    run flame "$f" flame "$f"
done
for f in "${bomb_inputs[@]}"; do
    run top0 "$f" "$f" --top 0
    run list "$f" list . "$f"
done
echo "rss-check: $runs runs, $( [ $fail -eq 0 ] && echo 'all within 2 x decompressed size + 64 MiB' || echo 'FAILURES above')"
exit "$fail"
