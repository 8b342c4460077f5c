#!/usr/bin/env bash
# Generates a large real Go heap profile (gzipped profile.proto, as the
# runtime writes it) of about SIZE_MB megabytes uncompressed, for benchmarks
# (issue 9). Uses samples/src/bigheap at MemProfileRate=1; stdlib only, built
# offline.
#
#   scripts/gen-large-profile.sh 100 /tmp/big100.pb.gz
#
# Sizes measured with go1.27.3 (uncompressed / gzipped as written by Go):
#   2 MB:   -scale 2.06  ->   2.05 MB /  0.95 MB
#   20 MB:  -scale 20.6  ->  20.0 MB  /  9.25 MB
#   100 MB: -scale 103   -> 100.2 MB  / 46.2 MB, 2.11M samples, 1.29M
#           distinct stacks, depth mean 23.6 (max 43), 438 locations
# (roughly 0.97 MB uncompressed per unit of -scale; set GO to pick a toolchain).
set -euo pipefail
if [ $# -ne 2 ]; then
  echo "usage: $0 SIZE_MB OUT" >&2
  exit 2
fi
size=$1 out=$2
GO=${GO:-go}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export GOPROXY=off GOTOOLCHAIN=local GOWORK=off GOFLAGS=-mod=mod
unset GODEBUG
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
(cd "$here/samples/src" && "$GO" build -trimpath -o "$bin/bigheap" ./bigheap)
scale=$(awk -v s="$size" 'BEGIN { printf "%.3f", s / 0.97 }')
"$bin/bigheap" -scale "$scale" -out "$out"
raw=$(gzip -dc "$out" | wc -c)
echo "$out: $(wc -c <"$out") bytes gzipped, $raw bytes uncompressed (-scale $scale)"
