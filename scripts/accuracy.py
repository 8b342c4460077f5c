"""How often heapdoc names the right cause, measured against the committed ground truth.

Run through scripts/accuracy.sh (see there for usage). For each truth set (mixed: the
service-style sample with measured per-expression truth; stdlib: hand-checked top sites of
standard-library benchmarks) and each evidence mode (profile: the profile alone; source:
plus the source tree; explain: plus the compiler's escape analysis), it runs

    $HEAPDOC --format json --top 0 [mode flags] PROFILE

and scores every truth byte:
  right        heapdoc's cause for those bytes is the true cause, one of `also`, or (in a
               mode that does not declare the package as the user's code with --module)
               the `library_cause` a user of that package should see;
  wrong        another cause, stated with confidence (today every classified site);
  hedged       another cause whose part has confidence `mixed` (future `parts` field);
  unclassified `unclassified`, or no heapdoc site at that function/file/line.
A site with a `parts` array ([{cause, value, size, confidence}], confidence certain |
likely | mixed) is scored per part, matched to the truth rows of the same object size
(`size` null: the whole site); otherwise the whole site's bytes go to its `cause`.

The floor file (scripts/accuracy-floor.tsv) holds the last accepted figures per set, mode,
profile and workload; the run fails (exit 1) when `right` drops or `wrong` rises by more
than 0.05 points anywhere, and --update rewrites it with the current figures.
"""
import argparse, collections, json, os, subprocess, sys, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = os.path.join(ROOT, 'samples')
EPS = 0.05  # percentage points

# stdlib profile name -> (package dir under GOROOT/src, --module prefixes: the package and
# the implementation packages its benchmarks spend their bytes in)
STDLIB = collections.OrderedDict([
    ('encoding_json', ('encoding/json', ['encoding/json'])),
    ('fmt', ('fmt', ['fmt'])),
    ('html_template', ('html/template', ['html/template', 'text/template'])),
    ('regexp', ('regexp', ['regexp'])),
    ('go_parser', ('go/parser', ['go/parser', 'go/scanner', 'go/ast', 'go/token'])),
    ('compress_flate', ('compress/flate', ['compress/flate'])),
])
MODES = ['profile', 'source', 'explain']


def read_truth(path):
    rows = []
    with open(path) as f:
        hdr = None
        for l in f:
            l = l.rstrip('\n')
            if l.startswith('#') or not l:
                continue
            cells = l.split('\t')
            if hdr is None:
                hdr = cells
                continue
            r = dict(zip(hdr, cells))
            r['line'] = int(r['line'])
            r['alloc_space'] = int(r['alloc_space'])
            r['size'] = None if r['bytes'] == '*' else int(r['bytes'].split(':')[0])
            r['also'] = [] if r['also'] == '-' else r['also'].split(',')
            rows.append(r)
    return rows


def jobs(sets, goroot):
    """-> [(set, profile label, workload-or-None, profile path, truth path, {mode: flags}, modules)]"""
    out = []
    if 'mixed' in sets:
        for label in ('go1.27', 'go1.19'):
            for kind in ('rate1', 'default'):
                prof = os.path.join(SAMPLES, 'profiles', label, 'mixed.heap.%s.pb.gz' % kind)
                truth = os.path.join(SAMPLES, 'truth', 'mixed', label, 'mixed.heap.%s.tsv' % kind)
                if not os.path.exists(truth):
                    continue
                flags = {'profile': [],
                         'source': ['--source-root', os.path.join(SAMPLES, 'src')],
                         'explain': ['--explain', os.path.join(SAMPLES, 'src', 'mixed')]}
                out.append(('mixed', '%s/%s' % (label, kind), prof, truth, flags, False))
    if 'stdlib' in sets:
        for name, (pkg, mods) in STDLIB.items():
            prof = os.path.join(SAMPLES, 'profiles', 'stdlib', name + '.allocs.pb.gz')
            truth = os.path.join(SAMPLES, 'truth', 'stdlib', name + '.tsv')
            m = sum((['--module', x] for x in mods), [])
            flags = {'profile': [],
                     'source': ['--source-root', os.path.join(goroot, 'src')] + m,
                     'explain': ['--explain', os.path.join(goroot, 'src', pkg)] + m}
            out.append(('stdlib', name, prof, truth, flags, True))
    return out


def stdlib_go_version():
    """The Go version that wrote profiles/stdlib (first word after '#' in its bench.txt files)."""
    d = os.path.join(SAMPLES, 'profiles', 'stdlib')
    vs = {open(os.path.join(d, f)).readline().split()[1] for f in os.listdir(d) if f.endswith('.bench.txt')}
    if len(vs) != 1:
        raise SystemExit('accuracy: profiles/stdlib/*.bench.txt name %s Go versions' % (sorted(vs) or 'no'))
    return vs.pop()


def run_heapdoc(heapdoc, flags, prof):
    cmd = [heapdoc, '--format', 'json', '--top', '0', '--color', 'never'] + flags + [prof]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit('accuracy: %s failed (exit %d): %s' % (' '.join(cmd), r.returncode, r.stderr.strip()[:500]))
    return json.loads(r.stdout), time.time() - t0


def site_parts(site):
    """[(cause, value, size or None, confidence)] for a heapdoc site."""
    parts = site.get('parts')
    if parts:
        return [(p['cause'], float(p['value']), p.get('size'), p.get('confidence') or 'certain') for p in parts]
    return [(site['cause'], float(site['flat']), None, 'certain')]


def score_group(rows, parts, library_ok):
    """Score truth rows (one site, one size or the whole site) against heapdoc parts of the
    same scope. -> Counter(right, wrong, hedged, unclassified) in bytes."""
    out = collections.Counter()
    total = sum(r['alloc_space'] for r in rows)
    if total == 0:
        return out
    hv = sum(p[1] for p in parts)
    if not parts or hv <= 0:
        out['unclassified'] += total
        return out
    # each part claims its share of the truth bytes; match claims to rows that accept them
    cap = [r['alloc_space'] for r in rows]

    def accepts(r, c):
        return c == r['cause'] or c in r['also'] or (library_ok and r['library_cause'] not in ('-', '') and c == r['library_cause'])
    claims = []
    for cause, value, size, conf in parts:
        claims.append([cause, total * value / hv, conf])
    # exact-cause matches first, then alternatives
    for exact in (True, False):
        for cl in claims:
            for i, r in enumerate(rows):
                if cl[1] <= 0:
                    break
                ok = (cl[0] == r['cause']) if exact else accepts(r, cl[0])
                if ok and cap[i] > 0:
                    t = min(cap[i], cl[1])
                    cap[i] -= t
                    cl[1] -= t
                    out['right'] += t
    for cause, left, conf in claims:
        if left <= 1e-9:
            continue
        if cause == 'unclassified':
            out['unclassified'] += left
        elif conf == 'mixed':
            out['hedged'] += left
        else:
            out['wrong'] += left
    return out


def score(report, truth, library_ok):
    """-> {workload: Counter}, plus the number of truth rows without a heapdoc site."""
    sites = {}
    for s in report['sites']:
        sites[(s['function'], s['file'], s['line'])] = s
    by_site = collections.OrderedDict()
    for r in truth:
        by_site.setdefault((r['function'], r['file'], r['line']), []).append(r)
    res = collections.defaultdict(collections.Counter)
    missing = 0
    for key, rows in by_site.items():
        s = sites.get(key)
        if s is None:
            missing += 1
            for r in rows:
                res[r['workload']]['unclassified'] += r['alloc_space']
                res[r['workload']]['bytes'] += r['alloc_space']
            continue
        parts = site_parts(s)
        sized = [p for p in parts if p[2] is not None]
        groups = []
        if sized and len(sized) == len(parts):
            # per object size; truth rows of size `*` take the sizes no row names, with
            # heapdoc's own bytes at those sizes
            named = {r['size'] for r in rows if r['size'] is not None}
            for size in sorted({p[2] for p in parts} | named):
                rs = [r for r in rows if r['size'] == size]
                ps = [p for p in parts if p[2] == size]
                if not rs:
                    star = [r for r in rows if r['size'] is None]
                    if not star:
                        continue
                    v = sum(p[1] for p in ps)
                    rs = [dict(r, alloc_space=v * r['alloc_space'] / max(1, sum(x['alloc_space'] for x in star))) for r in star]
                groups.append((rs, ps))
        else:
            groups.append((rows, parts))
        for rs, ps in groups:
            # split the group's score among its rows' workloads by their bytes
            c = score_group(rs, ps, library_ok)
            tot = sum(r['alloc_space'] for r in rs)
            for r in rs:
                w = r['alloc_space'] / tot if tot else 0
                for k, v in c.items():
                    res[r['workload']][k] += v * w
                res[r['workload']]['bytes'] += r['alloc_space']
    return res, missing


def pct(c, k):
    return 100.0 * c[k] / c['bytes'] if c['bytes'] else 0.0


def fmt_row(name, c):
    return '%-28s %14d %7.2f %7.2f %7.2f %7.2f' % (name[:28], c['bytes'], pct(c, 'right'), pct(c, 'wrong'),
                                                   pct(c, 'hedged'), pct(c, 'unclassified'))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--set', action='append', choices=['mixed', 'stdlib'])
    ap.add_argument('--mode', action='append', choices=MODES)
    ap.add_argument('--floor', default=os.path.join(ROOT, 'scripts', 'accuracy-floor.tsv'))
    ap.add_argument('--update', action='store_true', help='write the current figures to the floor file')
    ap.add_argument('--no-floor', action='store_true', help='only print the tables')
    a = ap.parse_args()
    sets = a.set or ['mixed', 'stdlib']
    modes = a.mode or MODES
    heapdoc = os.environ.get('HEAPDOC', os.path.join(ROOT, 'target', 'release', 'heapdoc'))
    if not os.access(heapdoc, os.X_OK):
        raise SystemExit('accuracy: no heapdoc at %s (set $HEAPDOC or cargo build --release)' % heapdoc)
    goroot, skip = '', set()
    if 'stdlib' in sets:
        goroot = subprocess.run(['go', 'env', 'GOROOT'], capture_output=True, text=True, check=True).stdout.strip()
        have = subprocess.run(['go', 'env', 'GOVERSION'], capture_output=True, text=True, check=True).stdout.strip()
        want = stdlib_go_version()
        if have != want:
            # the stdlib truth names lines of that version's source; another GOROOT would
            # feed heapdoc different lines
            print('accuracy: SKIPPED stdlib source and explain modes: go on PATH is %s, the stdlib profiles are %s' % (have, want))
            skip = {('stdlib', 'source'), ('stdlib', 'explain')}
    results = []  # (set, mode, profile, workload, Counter)
    header = '%-28s %14s %7s %7s %7s %7s' % ('workload', 'truth bytes', 'right%', 'wrong%', 'hedged%', 'uncl%')
    for st in sets:
        for mode in modes:
            if (st, mode) in skip:
                continue
            js = [j for j in jobs([st], goroot)]
            print('\n== %s, mode %s' % (st, mode))
            print(header)
            overall = collections.Counter()
            per_profile = []
            worst = None
            for (sname, label, prof, truthp, flags, lib_when_no_module) in js:
                report, secs = run_heapdoc(heapdoc, flags[mode], prof)
                truth = read_truth(truthp)
                library_ok = lib_when_no_module and '--module' not in flags[mode]
                res, missing = score(report, truth, library_ok)
                tot = collections.Counter()
                for wl, c in res.items():
                    tot.update(c)
                    results.append((st, mode, label, wl, c))
                results.append((st, mode, label, 'ALL', tot))
                if st == 'mixed':
                    if label == 'go1.27/rate1':
                        for wl in sorted(res):
                            print(fmt_row(wl, res[wl]))
                            if worst is None or pct(res[wl], 'right') < pct(worst[1], 'right'):
                                worst = (wl, res[wl])
                    per_profile.append((label, tot, secs, missing))
                else:
                    print(fmt_row(label, tot) + ('   (%.1fs%s)' % (secs, ', %d truth sites absent' % missing if missing else '')))
                    if worst is None or pct(tot, 'right') < pct(worst[1], 'right'):
                        worst = (label, tot)
                    overall.update(tot)
            if st == 'mixed':
                for label, tot, secs, missing in per_profile:
                    print(fmt_row('ALL ' + label, tot) + ('   (%.1fs%s)' % (secs, ', %d truth sites absent' % missing if missing else '')))
            else:
                print(fmt_row('ALL (bytes-weighted)', overall))
                results.append((st, mode, 'all', 'ALL', overall))
            if worst:
                print(fmt_row('worst: ' + worst[0], worst[1]))
    if a.no_floor:
        return 0
    if a.update:
        keep = []
        if os.path.exists(a.floor):
            done = {(r[0], r[1]) for r in results}
            for l in open(a.floor):
                c = l.rstrip('\n').split('\t')
                if l.startswith('#') or c[0] == 'set' or (c[0], c[1]) in done:
                    continue
                keep.append(l.rstrip('\n'))
        with open(a.floor, 'w') as w:
            w.write('# the accepted accuracy of heapdoc per truth set, evidence mode, profile and workload (percent of truth bytes); scripts/accuracy.sh fails when right drops or wrong rises by more than %.2f points; --update rewrites it\n' % EPS)
            w.write('set\tmode\tprofile\tworkload\tright\twrong\n')
            for l in keep:
                w.write(l + '\n')
            for st, mode, label, wl, c in results:
                w.write('%s\t%s\t%s\t%s\t%.2f\t%.2f\n' % (st, mode, label, wl, pct(c, 'right'), pct(c, 'wrong')))
        print('\naccuracy: wrote %s' % os.path.relpath(a.floor, ROOT))
        return 0
    if not os.path.exists(a.floor):
        raise SystemExit('accuracy: no floor file %s (run with --update once)' % a.floor)
    floor = {}
    for l in open(a.floor):
        c = l.rstrip('\n').split('\t')
        if l.startswith('#') or c[0] == 'set':
            continue
        floor[tuple(c[:4])] = (float(c[4]), float(c[5]))
    drops = []
    for st, mode, label, wl, c in results:
        f = floor.get((st, mode, label, wl))
        if f is None:
            continue
        r, w = round(pct(c, 'right'), 2), round(pct(c, 'wrong'), 2)
        if r < f[0] - EPS:
            drops.append('%s/%s %s %s: right %.2f%% < floor %.2f%%' % (st, mode, label, wl, r, f[0]))
        if w > f[1] + EPS:
            drops.append('%s/%s %s %s: wrong %.2f%% > floor %.2f%%' % (st, mode, label, wl, w, f[1]))
    if drops:
        print('\naccuracy: %d drop(s) against %s:' % (len(drops), os.path.relpath(a.floor, ROOT)))
        for d in drops:
            print('  ' + d)
        return 1
    print('\naccuracy: no drop against %s' % os.path.relpath(a.floor, ROOT))
    return 0


if __name__ == '__main__':
    sys.exit(main())
