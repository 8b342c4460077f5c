"""Check and fill the hand-written truth of the standard-library set.

usage: python3 stdlibtruth.py SAMPLES [NAME...]      (env PPROF_GO: go binary, default "go")

samples/truth/stdlib/NAME.tsv is written BY HAND (cause, mechanism and the reason, checked
against the Go source) for the top 15 sites of profiles/stdlib/NAME.allocs.pb.gz by flat
alloc_space at line granularity (what `go tool pprof -top -lines` and heapdoc list). This
script only fills in the measured columns alloc_space and alloc_objects from the profile and
checks the file:
- every top-15 site has rows, and every row matches bytes in the profile;
- the rows of a site cover all its bytes (a `*` row takes the sizes not listed).
A row's `bytes` is an object size (the profile's `bytes` label), SIZE:N (exactly N objects of
that size, when two expressions share a size but their counts are known) or `*`; `via` is `-` or a
regex that some frame above the site must match (function name), for a site whose bytes
have different causes depending on its caller. A sample goes to the first row that fits, in
this order: SIZE:N (until N objects), size and via, size, via, `*`.
"""
import collections, os, re, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pprofraw

GO = os.environ.get('PPROF_GO', 'go')
ENV = dict(os.environ, PPROF_BINARY_PATH='/nonexistent')
HEADER = ['workload', 'function', 'file', 'line', 'bytes', 'via', 'cause', 'also', 'library_cause',
          'mechanism', 'alloc_space', 'alloc_objects', 'how']
TOP = 15


def fail(msg):
    raise SystemExit('stdlibtruth: ' + msg)


def load_profile(path):
    r = subprocess.run(pprofraw.pprof_cmd(GO) + ['-symbolize=none', '-raw', path], env=ENV,
                       capture_output=True, text=True, check=True)
    prof = pprofraw.parse(r.stdout)
    types = [t for t, _ in prof['sample_types']]
    ia, io = types.index('alloc_space'), types.index('alloc_objects')
    out = []  # (site, size, callers, alloc_space, alloc_objects)
    for vals, locs, labels in prof['samples']:
        if not vals[ia]:
            continue
        fr = pprofraw.frames(prof, locs)
        m = re.search(r'bytes:\[(\d+)\]', labels)
        out.append((fr[0], int(m.group(1)) if m else 0, [f[0] for f in fr[1:]], vals[ia], vals[io]))
    return out


def top_sites(samples_):
    flat = collections.Counter()
    for site, size, callers, b, o in samples_:
        flat[site] += b
    # pprof -top: flat descending, then name
    return [s for s, _ in sorted(flat.items(), key=lambda x: (-x[1], '%s %s:%d' % x[0]))[:TOP]], flat


def read_rows(path):
    rows, comments = [], []
    with open(path) as f:
        for l in f:
            l = l.rstrip('\n')
            if l.startswith('#') or not l.strip():
                comments.append(l)
                continue
            cells = l.split('\t')
            if cells == HEADER:
                continue
            if len(cells) != len(HEADER):
                fail('%s: %d cells, want %d: %s' % (path, len(cells), len(HEADER), l[:80]))
            rows.append(dict(zip(HEADER, cells)))
    return rows, comments


def fill(samples, name):
    path = os.path.join(samples, 'truth', 'stdlib', name + '.tsv')
    prof = load_profile(os.path.join(samples, 'profiles', 'stdlib', name + '.allocs.pb.gz'))
    rows, comments = read_rows(path)
    top, flat = top_sites(prof)
    by_site = collections.defaultdict(list)
    for r in rows:
        by_site[(r['function'], r['file'], int(r['line']))].append(r)
        r['_b'], r['_o'] = 0, 0
    missing = [s for s in top if s not in by_site]
    if missing:
        fail('%s: top-%d sites without truth rows:\n  %s' % (name, TOP, '\n  '.join('%s %s:%d (%d B)' % (s + (flat[s],)) for s in missing)))
    for r in rows:
        # SIZE:N = exactly N objects of that size (for two expressions of one size whose
        # counts are known, e.g. a struct and a []byte that can both be 48 bytes)
        sz, _, n = r['bytes'].partition(':')
        r['_size'] = None if sz == '*' else int(sz)
        r['_quota'] = int(n) if n else None
    for site, size, callers, b, o in prof:
        rs = by_site.get(site)
        if not rs:
            continue

        def fits(r, quota, want_size, want_via):
            if (r['_quota'] is not None) != quota or (r['_quota'] is not None and r['_quota'] == 0):
                return False
            if want_size != (r['_size'] is not None) or want_via != (r['via'] != '-'):
                return False
            if want_size and r['_size'] != size:
                return False
            if want_via and not any(re.search(r['via'], c) for c in callers):
                return False
            return True
        left = o
        while left > 0:
            r = None
            for q, ws, wv in ((True, True, True), (True, True, False), (False, True, True),
                              (False, True, False), (False, False, True), (False, False, False)):
                r = next((r for r in rs if fits(r, q, ws, wv)), None)
                if r is not None:
                    break
            if r is None:
                fail('%s: %s %s:%d size %d (%d B) fits no row' % (name, site[0], site[1], site[2], size, b))
            take = left if r['_quota'] is None else min(left, r['_quota'])
            if r['_quota'] is not None:
                r['_quota'] -= take
            r['_b'] += b * take // o
            r['_o'] += take
            left -= take
    for r in rows:
        if r['_quota']:
            fail('%s: %s %s:%s: %s objects of size %s not in the profile' % (name, r['function'], r['file'], r['line'], r['_quota'], r['_size']))
    for r in rows:
        if r['_b'] == 0:
            fail('%s: row with no bytes: %s %s:%s size %s via %s' % (name, r['function'], r['file'], r['line'], r['bytes'], r['via']))
        r['alloc_space'], r['alloc_objects'] = str(r['_b']), str(r['_o'])
    covered = sum(flat[s] for s in by_site)
    total = sum(flat.values())
    with open(path, 'w') as w:
        for c in comments:
            w.write(c + '\n')
        w.write('\t'.join(HEADER) + '\n')
        for r in rows:
            w.write('\t'.join(r[h] for h in HEADER) + '\n')
    print('stdlibtruth: %s: %d rows, %d sites, %d of %d bytes (%.1f%%)' % (name, len(rows), len(by_site), covered, total, 100.0 * covered / total))


def main(argv):
    samples = argv[0]
    names = argv[1:] or sorted(f[:-len('.tsv')] for f in os.listdir(os.path.join(samples, 'truth', 'stdlib')) if f.endswith('.tsv'))
    for n in names:
        fill(samples, n)


if __name__ == '__main__':
    main(sys.argv[1:])
