#!/usr/bin/env bash
# Runs each fuzz target for a while (issue 10). Not part of CI yet.
#
#   scripts/fuzz-smoke.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 30); targets default to all: decode, legacy_text, end_to_end,
# stream.
# One fuzzer at a time, one process each (libFuzzer's default; the machine is shared).
# Needs cargo-fuzz (`cargo install cargo-fuzz`). It uses nightly-only flags; on a stable
# toolchain this script sets RUSTC_BOOTSTRAP=1. Seeds come from scripts/fuzz-seed.sh.
#
# Environment:
#   FUZZ_SANITIZER  cargo fuzz --sanitizer (default none: the code under test is safe Rust,
#                   and without ASan the targets run several times faster; use `address`
#                   to check the unsafe code in dependencies)
#   FUZZ_ARGS       extra libFuzzer flags
#
# A crash is saved under fuzz/artifacts/<target>/ and the script exits non-zero. Turn each
# one into a regression test: copy the input to tests/data/regress/ and add a case to
# tests/regress.rs.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
secs="${1:-30}"
shift || true
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=(decode legacy_text end_to_end stream)
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"
sanitizer="${FUZZ_SANITIZER:-none}"

scripts/fuzz-seed.sh
status=0
for t in "${targets[@]}"; do
    echo "== fuzz $t for ${secs}s (sanitizer: $sanitizer)"
    # -timeout: an input that takes 10 s is a hang; -max_len: the largest seed is ~400 KiB.
    # shellcheck disable=SC2086
    if ! cargo fuzz run -s "$sanitizer" "$t" "fuzz/corpus/$t" -- \
        -max_total_time="$secs" -timeout=10 -max_len=524288 -rss_limit_mb=2048 \
        -print_final_stats=1 ${FUZZ_ARGS:-}; then
        echo "== $t: CRASH, see fuzz/artifacts/$t/" >&2
        status=1
    fi
done
exit "$status"
