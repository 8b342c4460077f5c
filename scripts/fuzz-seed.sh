#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from real profiles (issue 10). The seed files are not
# committed (fuzz/corpus is git-ignored): they are copied here at run time from
#   $HEAPDOC_CORPUS   (default ../shared/corpus: the real-world corpus tests/corpus.rs uses)
#   $HEAPDOC_SAMPLES  (default samples/profiles: the committed Go sample profiles)
# Gzipped profiles are also seeded gunzipped, so mutations reach the protobuf reader
# instead of failing gzip's CRC. Missing directories are skipped with a message.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${HEAPDOC_CORPUS:-$root/../shared/corpus}"
samples="${HEAPDOC_SAMPLES:-$root/samples/profiles}"
max_bytes=$((512 * 1024))

proto_dirs=("$root/fuzz/corpus/decode" "$root/fuzz/corpus/end_to_end" "$root/fuzz/corpus/stream")
text_dir="$root/fuzz/corpus/legacy_text"
mkdir -p "${proto_dirs[@]}" "$text_dir"

n=0
seed() { # seed FILE NAME: copy FILE (and its gunzipped content) into the right corpora
    local f="$1" name="$2" size
    size=$(stat -c %s "$f")
    [ "$size" -le "$max_bytes" ] || return 0
    if head -c 64 "$f" | grep -aqE '^(heap profile:|goroutine profile:)'; then
        cp "$f" "$text_dir/$name"
    fi
    for d in "${proto_dirs[@]}"; do cp "$f" "$d/$name"; done
    n=$((n + 1))
    if [ "$(head -c 2 "$f" | od -An -tx1 | tr -d ' \n')" = "1f8b" ]; then
        local raw
        raw="$(mktemp)"
        if gzip -dc <"$f" >"$raw" 2>/dev/null && [ "$(stat -c %s "$raw")" -le "$max_bytes" ]; then
            for d in "${proto_dirs[@]}"; do cp "$raw" "$d/$name.raw"; done
            n=$((n + 1))
        fi
        rm -f "$raw"
    fi
}

if [ -d "$corpus" ]; then
    for f in "$corpus"/*; do
        [ -f "$f" ] || continue
        case "$(basename "$f")" in MANIFEST.tsv | README.md) continue ;; esac
        seed "$f" "corpus-$(basename "$f")"
    done
else
    echo "fuzz-seed: $corpus not found, skipped (set HEAPDOC_CORPUS)" >&2
fi
if [ -d "$samples" ]; then
    while IFS= read -r f; do
        rel="${f#"$samples"/}"
        seed "$f" "samples-${rel//\//-}"
    done < <(find "$samples" -type f \( -name '*.pb.gz' -o -name '*.txt' \) | sort)
else
    echo "fuzz-seed: $samples not found, skipped (set HEAPDOC_SAMPLES)" >&2
fi
echo "fuzz-seed: $n seed files; legacy_text has $(ls "$text_dir" | wc -l)" >&2
