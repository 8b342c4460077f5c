#!/usr/bin/env python3
"""Writes a large goroutine dump in Go's debug=2 format (issue 19's benchmark input).

    scripts/gen-goroutine-dump.py N OUT      # N goroutines, e.g. 1000000 /tmp/g1m.txt

The stacks are those of samples/goroutines/t2.debug2.txt (a real Go 1.27 service with
planted leaks), repeated with varying goroutine ids, argument values and wait times, so the
dump has what a real one has: many goroutines, few distinct stacks, arguments that differ
per goroutine. Deterministic (a fixed seed)."""
import random
import re
import sys


def blocks(path):
    text = open(path).read()
    out = []
    for b in text.strip().split("\n\n"):
        lines = b.split("\n")
        m = re.match(r"goroutine \d+ \[([^\],]+)", lines[0])
        if not m or m.group(1) == "running":
            continue
        out.append((m.group(1), lines[1:]))
    return out


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    src = sys.argv[3] if len(sys.argv) > 3 else "samples/goroutines/t2.debug2.txt"
    rnd = random.Random(19)
    templates = blocks(src)
    # Weights: the leaking groups dominate, as in a service that leaked for hours.
    hexarg = re.compile(r"0x[0-9a-f]+")
    with open(out, "w", buffering=1 << 20) as f:
        f.write("goroutine 1 [running]:\nmain.main()\n\t/src/app/main.go:10 +0x1d\n\n")
        for i in range(n - 1):
            state, lines = templates[rnd.randrange(len(templates))]
            wait = rnd.choice(["", "", ", 3 minutes", ", 17 minutes", ", 240 minutes"])
            f.write(f"goroutine {i + 2} [{state}{wait}]:\n")
            for ln in lines:
                if not ln.startswith("\t") and not ln.startswith("created by"):
                    ln = hexarg.sub(lambda _: hex(rnd.getrandbits(40)), ln)
                f.write(ln + "\n")
            f.write("\n")


if __name__ == "__main__":
    main()
