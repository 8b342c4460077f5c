#!/usr/bin/env bash
# Regenerate everything under samples/ from samples/src: profiles, escape
# analysis output, go tool pprof truth files and manifest.json.
#
#   samples/generate.sh                 # everything, both Go toolchains (see below)
#   samples/generate.sh goroutine json  # only these programs (other files stay)
#   KINDS=default samples/generate.sh   # only the default-rate runs
#   GO_TOOLCHAINS="go" samples/generate.sh   # only the one on PATH
#   samples/generate.sh mixed           # the mixed sample, its variant measurements and
#                                       # truth/mixed/ (tools/mixedtruth.py)
#
# Toolchains: $GO_TOOLCHAINS, a space-separated list of go binaries
# (default: "go /usr/lib/go-1.19/bin/go"; Debian's golang-go package provides
# Go 1.19 there). Each toolchain's profiles go to profiles/<goX.Y>/.
# $PPROF_GO is the go used for `go tool pprof` truth files (default: go).
# Builds are offline (GOPROXY=off, GOTOOLCHAIN=local) and use -trimpath.
# The binaries are run from the fixed directory $WORK (default
# /tmp/heapdoc-samples) because the executable's path is recorded in the
# profiles' mappings.
set -euo pipefail

SAMPLES=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GO_TOOLCHAINS=${GO_TOOLCHAINS:-"go /usr/lib/go-1.19/bin/go"}
PPROF_GO=${PPROF_GO:-go}
WORK=${WORK:-/tmp/heapdoc-samples}
CPU_DURATION=${CPU_DURATION:-1500ms}
# Which runs to redo: rate1 (MemProfileRate=1), default (default rate, and
# the service's window/fetch files), cpu. Only those programs' files of those
# kinds are replaced when programs or KINDS are given.
ALL_KINDS="rate1 default cpu"
KINDS=${KINDS:-$ALL_KINDS}
# The default-rate runs do DEFAULT_SCALE times the workload iterations, so
# that a 512 KiB sampling period still yields a useful number of samples.
DEFAULT_SCALE=${DEFAULT_SCALE:-20}
# rate-1 debug=1 text dumps are large (every runtime-init stack); keep them
# only for these programs. The default-rate debug=1 dump is kept for all.
DEBUG1_RATE1_KEEP=${DEBUG1_RATE1_KEEP:-"boxing"}
export GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOWORK=off GONOSUMDB='*' GOFLAGS=-mod=mod
unset GODEBUG

ALL=$(cd "$SAMPLES/src" && for d in */main.go; do dirname "$d"; done | grep -v -e '^internal$' -e '^bigheap$' -e '^leaky$')
PROGRAMS=${*:-$ALL}
for p in $PROGRAMS; do
  [ -f "$SAMPLES/src/$p/main.go" ] || { echo "generate.sh: no program $p" >&2; exit 2; }
done

has() { case " $KINDS " in *" $1 "*) return 0 ;; esac; return 1; }

for GO in $GO_TOOLCHAINS; do
  ver=$("$GO" env GOVERSION)                     # e.g. go1.27.3
  label=$(echo "$ver" | sed -E 's/^(go[0-9]+\.[0-9]+).*/\1/')   # go1.27
  echo "== $ver ($GO) -> $label"
  bin="$WORK/$label/bin"
  prof="$SAMPLES/profiles/$label"
  esc="$SAMPLES/escapes/$label"
  rm -rf "$bin"
  if [ $# -eq 0 ] && [ "$KINDS" = "$ALL_KINDS" ]; then
    rm -rf "$prof" "$esc"
  else
    for p in $PROGRAMS; do
      rm -rf "$esc/$p".*
      for q in "$p" "$p-fixed"; do
        has rate1 && rm -f "$prof/$q".*rate1.*
        has default && rm -f "$prof/$q".*default.* "$prof/$q".*window* "$prof/$q".*fetch*
        has cpu && rm -f "$prof/$q".cpu.pb.gz
      done
    done
  fi
  mkdir -p "$bin" "$prof" "$esc"
  (cd "$SAMPLES/src" && "$GO" build -trimpath -o "$bin/" ./...)

  for p in $PROGRAMS; do
    # Escape analysis: -m=2 text (the compiler writes it to stderr) and the
    # -json=0,DIR optimizer-detail output, for the main package only.
    (cd "$SAMPLES/src" && "$GO" build -trimpath -gcflags=-m=2 -o /dev/null "./$p" 2> "$esc/$p.m2.txt") || true
    jtmp=$(mktemp -d)
    (cd "$SAMPLES/src" && "$GO" build -trimpath -gcflags="-json=0,file://$jtmp" -o /dev/null "./$p")
    # layout: <p>.json/<package name>/<source file base>.json, one per source
    # file with diagnostics (inlined stdlib files too). With -trimpath the
    # file names and URIs inside are already relative; the sed is a guard.
    (cd "$jtmp" && find . -name '*.json') | while read -r f; do
      mkdir -p "$esc/$p.json/$(dirname "$f")"
      sed -e "s#$SAMPLES/src/#heapdoc.dev/samples/#g" "$jtmp/$f" > "$esc/$p.json/$f"
    done
    rm -rf "$jtmp"

    echo "-- $p"
    rate1() { (cd "$bin" && GODEBUG=memprofilerate=1 SAMPLES_MEMPROFILERATE=1 "$@"); }
    if [ "$p" = service ]; then
      if has rate1; then
        rate1 ./service -out "$prof" -requests 100 -warmup 20
        rate1 ./service -fixed -out "$prof" -requests 100 -warmup 20
      fi
      if has default; then
        (cd "$bin" && ./service -out "$prof" -requests 400)
        (cd "$bin" && ./service -fixed -out "$prof" -requests 400)
      fi
    else
      if has rate1; then rate1 "./$p" -out "$prof"; fi
      if [ "$p" = mixed ] && has rate1; then
        # The variants of every mixed line, measured in one process (truth/mixed/README.md).
        rate1 env MIXED_MEASURE="$WORK/$label/mixed.measure.json" ./mixed
        python3 "$SAMPLES/tools/mixedtruth.py" "$SAMPLES" measure "$label" "$WORK/$label/mixed.measure.json"
      fi
      if has default; then (cd "$bin" && "./$p" -scale "$DEFAULT_SCALE" -out "$prof"); fi
      if has cpu; then (cd "$bin" && "./$p" -mode cpu -duration "$CPU_DURATION" -out "$prof"); fi
    fi
  done
  for f in "$prof"/*.heap.rate1.debug1.txt; do
    [ -e "$f" ] || continue
    b=$(basename "$f" .heap.rate1.debug1.txt); b=${b%-fixed}
    case " $DEBUG1_RATE1_KEEP " in *" $b "*) ;; *) rm -f "$f" ;; esac
  done
done

# Truth files and manifest.json (needs go tool pprof and python3).
PPROF_GO="$PPROF_GO" python3 "$SAMPLES/tools/truth.py" "$SAMPLES"
python3 "$SAMPLES/tools/manifest.py" "$SAMPLES"
# Per-expression truth of the mixed sample, from the committed measurements and profiles.
PPROF_GO="$PPROF_GO" python3 "$SAMPLES/tools/mixedtruth.py" "$SAMPLES" build
echo "done: $(du -sh "$SAMPLES" | cut -f1) in $SAMPLES"
