#!/usr/bin/env bash
# Times --explain twice on the same tree with an empty cache (issue 17): the first run builds
# goscan, runs the compiler (go build and go test -c with -gcflags=-m=2) and the typed model;
# the second reads the cached results. Fails when the second is not at least 5x faster.
#
#   scripts/explain-cache.sh [DIR PROFILE [heapdoc flags...]]
#   (default: samples/src/mixed samples/profiles/go1.27/mixed.heap.rate1.pb.gz)
#
# $HEAPDOC defaults to target/release/heapdoc. Go's own build cache is left as it is (warm
# or cold: say which when you quote the figures).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
export HEAPDOC=${HEAPDOC:-target/release/heapdoc}
exec python3 - "$@" <<'PY'
import os, subprocess, sys, tempfile, time
args = sys.argv[1:]
d = args[0] if args else 'samples/src/mixed'
prof = args[1] if len(args) > 1 else 'samples/profiles/go1.27/mixed.heap.rate1.pb.gz'
extra = args[2:]
with tempfile.TemporaryDirectory() as cache:
    env = dict(os.environ, HEAPDOC_CACHE_DIR=cache)
    times = []
    for _ in range(2):
        t0 = time.time()
        subprocess.run([os.environ['HEAPDOC'], '--format', 'json', '--top', '0', '--explain', d] + extra + [prof],
                       env=env, check=True, stdout=subprocess.DEVNULL)
        times.append(time.time() - t0)
ratio = times[0] / max(times[1], 1e-9)
print('explain-cache: %s: first %.2fs, second %.2fs, %.1fx' % (d, times[0], times[1], ratio))
if ratio < 5:
    sys.exit('explain-cache: the cached run is less than 5x faster')
PY
