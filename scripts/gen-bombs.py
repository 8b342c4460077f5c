#!/usr/bin/env python3
"""Writes the hostile-input "bombs" of issue 16 into DIR (default target/bombs): small files
that once made heapdoc allocate far more than their decompressed size. scripts/rss-check.sh
runs heapdoc on each. Only the Python standard library; each file is a few KB to a few MB.

  scripts/gen-bombs.py [DIR]
"""
import gzip
import os
import random
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "target/bombs"
os.makedirs(out, exist_ok=True)


def varint(v):
    v &= (1 << 64) - 1
    b = bytearray()
    while v >= 0x80:
        b.append((v & 0x7F) | 0x80)
        v >>= 7
    b.append(v)
    return bytes(b)


def key(field, wire):
    return varint(field << 3 | wire)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def vi(field, v):
    return key(field, 0) + varint(v)


def packed(field, values):
    return ld(field, b"".join(varint(v) for v in values))


def write(name, data, gz=False):
    path = os.path.join(out, name)
    with open(path, "wb") as f:
        f.write(gzip.compress(data, 6) if gz else data)
    print(path)


def profile(strings, functions, locations, samples):
    """functions: [(id, name_idx, file_idx)], locations: [(id, [(fn, line)])],
    samples: [([loc ids], [values])]; sample types objects/count, space/bytes."""
    p = bytearray()
    p += ld(1, vi(1, 1) + vi(2, 2))
    p += ld(1, vi(1, 3) + vi(2, 4))
    for locs, vals in samples:
        p += ld(2, packed(1, locs) + packed(2, vals))
    for lid, lines in locations:
        body = vi(1, lid)
        for fn, line in lines:
            body += ld(4, vi(1, fn) + vi(2, line))
        p += ld(4, body)
    for fid, name, fname in functions:
        p += ld(5, vi(1, fid) + vi(2, name) + vi(3, name) + vi(4, fname))
    for s in strings:
        p += ld(6, s.encode())
    return bytes(p)


BASE = ["", "objects", "count", "space", "bytes", "/src/main.go"]

# Finding 4: a field declaring 2 GiB, then 1 MiB of zeros (1 KB gzipped).
for name, field in [("string", 6), ("sample", 2), ("unknown", 99)]:
    write(f"declared_2g_{name}.pb.gz",
          key(field, 2) + varint((1 << 31) - 100) + bytes(1 << 20), gz=True)

# Finding 3: 2000 mapping paths of 250 `$v` (4 KiB each): 2 GB expanded from 1 MB.
lines = ["heap profile: 1: 2 [ 1: 2] @ heap/1048576", "1: 2 [1: 2] @ 0x401000", "",
         "MAPPED_LIBRARIES:", "v=" + "x" * 4096]
lines += ["00400000-00800000 r-xp 00000000 00:00 0 " + "$v" * 250] * 2000
write("legacy_mapvar.txt.gz", ("\n".join(lines) + "\n").encode(), gz=True)

# Finding 8: 1M legacy records (one address each).
rec = "heap profile: 1000000: 1000000 [ 1000000: 1000000] @ heap/1\n"
body = "".join(f"1: 1 [1: 1] @ 0x{0x400000 + (i % 5000) * 16:x}\n" for i in range(1_000_000))
write("legacy_records_1m.txt.gz", (rec + body).encode(), gz=True)

# Finding 9: one valid 256 MiB string (a function name).
big = "main." + "x" * (256 << 20)
write("proto_256m_string.pb.gz",
      profile(BASE + [big], [(1, 6, 5)], [(1, [(1, 10)])], [([1], [1, 4096])]), gz=True)

# Findings 6, 7: deep recursion (200 leaves under 20000 recursive frames) and many distinct
# deep stacks (2000 stacks x 2000 frames over 5000 functions).
strings = BASE + ["main.rec"] + [f"main.leaf{i}" for i in range(200)]
funcs = [(1, 6, 5)] + [(2 + i, 7 + i, 5) for i in range(200)]
locs = [(1, [(1, 10)])] + [(2 + i, [(2 + i, 20)]) for i in range(200)]
samples = [([2 + i] + [1] * 20000, [1, 4096]) for i in range(200)]
write("flamebomb_200x20000.pb.gz", profile(strings, funcs, locs, samples), gz=True)

rnd = random.Random(16)
strings = BASE + [f"main.f{i}" for i in range(5000)]
funcs = [(1 + i, 6 + i, 5) for i in range(5000)]
locs = [(1 + i, [(1 + i, 10 + i)]) for i in range(5000)]
samples = [([rnd.randrange(1, 5001) for _ in range(2000)], [1, 4096]) for _ in range(2000)]
write("deepstacks_2000x2000.pb.gz", profile(strings, funcs, locs, samples), gz=True)
