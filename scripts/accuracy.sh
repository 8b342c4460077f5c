#!/usr/bin/env bash
# How often heapdoc names the right cause (issue 17), on the two committed truth sets:
#   mixed   samples/truth/mixed/   service-style lines that allocate several ways at once,
#                                  truth measured per object size (Go 1.27 and 1.19 profiles)
#   stdlib  samples/truth/stdlib/  the top 15 sites of six standard-library benchmarks,
#                                  checked by hand against the Go source
# in three evidence modes: profile (the profile alone), source (--source-root; for stdlib
# with --module <the benchmarked packages>), explain (--explain, same --module).
# Prints, per workload and overall, the share of truth bytes with the right cause,
# confidently wrong, hedged (wrong but marked mixed) and unclassified, and fails (exit 1)
# when any figure is worse than scripts/accuracy-floor.tsv.
#
#   scripts/accuracy.sh                        # everything (needs go on PATH for explain/stdlib)
#   scripts/accuracy.sh --set mixed --mode profile
#   scripts/accuracy.sh --update               # accept the current figures as the new floor
#   HEAPDOC=target/debug/heapdoc scripts/accuracy.sh
#
# $HEAPDOC defaults to target/release/heapdoc. Details: scripts/accuracy.py.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export GOPROXY=${GOPROXY:-off} GOFLAGS=${GOFLAGS:--mod=mod} GOTOOLCHAIN=${GOTOOLCHAIN:-local}
exec python3 scripts/accuracy.py "$@"
