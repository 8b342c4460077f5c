#!/usr/bin/env bash
# Regenerate samples/profiles/stdlib/: allocation profiles of standard-library
# benchmarks (the real-code set of issue 17), made with the go on PATH:
#
#   go test -trimpath -run '^$' -bench <selected> -benchtime <n>x \
#           -memprofile <pkg>.allocs.pb.gz -memprofilerate 1 <pkg>
#
#   samples/stdlib.sh                  # all six packages
#   samples/stdlib.sh regexp fmt       # only these (names as in the table below)
#
# The test binary writes the allocs profile as gzipped profile.proto (not the
# legacy text format), MemProfileRate=1, so every allocation is in it and the
# `bytes` label is exact. -trimpath makes file names GOROOT-relative
# (encoding/json/v2/arshal.go), so `--source-root "$(go env GOROOT)/src"`
# finds them. The hand-checked truth of the top 15 sites of each profile is in
# samples/truth/stdlib/<name>.tsv (README.md there); regenerating changes line
# numbers only when the Go version changes: re-check the truth then.
set -euo pipefail

SAMPLES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT="$SAMPLES/profiles/stdlib"
export GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOWORK=off
unset GODEBUG

# name, package, -bench regexp, -benchtime (whitespace-separated)
SPECS=$(cat <<'EOF'
encoding_json encoding/json ^Benchmark(CodeUnmarshal|CodeMarshal|UnmarshalMap|MarshalMap|DecoderStream|UnicodeDecoder)$ 20x
fmt fmt ^Benchmark(Sprintf(String|Int|IntInt|Float|Stringer|Structure|HexBytes|QuoteString)|ManyArgs|ScanInts)$ 200x
html_template html/template ^Benchmark(EscapedExecute|TemplateSpecialTags|JSValEscaperWithObj|URLNormalizer|CSSEscaper|StripTags|SrcsetFilter)$ 200x
regexp regexp ^Benchmark(FindSubmatch|FindStringSubmatch|FindAllTenMatches|ReplaceAll|QuoteMetaAll|OnePassShortA|NotOnePassShortA|MatchClass)$ 2000x
go_parser go/parser ^Benchmark(Parse|Resolve)$ 2x
compress_flate compress/flate ^Benchmark(Encode|Decode)$/^(Digits|Newton)$/^(Speed|Default)$/^1e4$ 20x
EOF
)

want=${*:-}
mkdir -p "$OUT"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "$(go env GOVERSION)" > "$tmp/version"
while read -r name pkg bench benchtime; do
  [ -z "$name" ] && continue
  if [ -n "$want" ] && ! grep -qw -- "$name" <<<"$want"; then continue; fi
  echo "-- $name ($pkg): -bench '$bench' -benchtime $benchtime"
  (cd "$tmp" && go test -trimpath -run '^$' -bench "$bench" -benchtime "$benchtime" -benchmem \
      -memprofile "$name.allocs.pb.gz" -memprofilerate 1 "$pkg" > "$name.bench.txt")
  mv "$tmp/$name.allocs.pb.gz" "$OUT/"
  # what ran, for the record (timings differ run to run; allocations per op do not)
  { echo "# $(go env GOVERSION) go test -trimpath -run '^\$' -bench '$bench' -benchtime $benchtime -memprofilerate 1 $pkg"
    grep -E '^(Benchmark|ok|PASS)' "$tmp/$name.bench.txt"; } > "$OUT/$name.bench.txt"
done <<<"$SPECS"
ls -l "$OUT"
