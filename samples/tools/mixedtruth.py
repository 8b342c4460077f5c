"""Per-expression ground truth of the mixed sample (samples/src/mixed).

usage:
  python3 mixedtruth.py SAMPLES measure LABEL FILE.json   measure.json (from MIXED_MEASURE=...) ->
                                                         truth/mixed/LABEL/measure.tsv
  python3 mixedtruth.py SAMPLES build                    truth/mixed/*/measure.tsv + the profiles ->
                                                         truth/mixed/LABEL/<profile>.tsv
(env PPROF_GO: go binary for `go tool pprof -raw`, default "go")

How a row's cause is established (samples/truth/mixed/README.md has the long form):
- at a tagged line (`// @tag` in the source), per object size: each mechanism's bytes are the
  workload's bytes minus those of the variant that removes that mechanism (measure.tsv, one
  process, MemProfileRate=1). The mechanisms must add up to the workload's bytes at every size
  (within a residual of two objects, which only the tiny allocator causes; reported).
- elsewhere (library frames, or a user line with a single allocating expression): the case's
  site rules in tools/mixed-spec.json, by function name; a rule with removed_by is checked
  against the variant that removes it (none of its bytes may be left).
Every profile byte with a workload on its stack gets a row, or generation fails.
"""
import collections, glob, json, os, re, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pprofraw

GO = os.environ.get('PPROF_GO', 'go')
ENV = dict(os.environ, PPROF_BINARY_PATH='/nonexistent')
TAG = re.compile(r'//\s*@(\w+)\s*$')
PROFILES = ['mixed.heap.rate1.pb.gz', 'mixed.heap.default.pb.gz']
# the same columns as samples/truth/stdlib/*.tsv (via and library_cause are always '-' here)
HEADER = ['workload', 'function', 'file', 'line', 'bytes', 'via', 'cause', 'also', 'library_cause',
          'mechanism', 'alloc_space', 'alloc_objects', 'how']


def fail(msg):
    raise SystemExit('mixedtruth: ' + msg)


def tags(samples):
    """(profile file, line) -> tag for every `// @tag` line of src/mixed."""
    out = {}
    for path in sorted(glob.glob(os.path.join(samples, 'src', 'mixed', '*.go'))):
        pf = 'heapdoc.dev/samples/mixed/' + os.path.basename(path)
        with open(path) as f:
            for i, l in enumerate(f, 1):
                m = TAG.search(l)
                if m:
                    out[(pf, i)] = m.group(1)
    return out


def cmd_measure(samples, label, path):
    d = json.load(open(path))
    odir = os.path.join(samples, 'truth', 'mixed', label)
    os.makedirs(odir, exist_ok=True)
    with open(os.path.join(odir, 'measure.tsv'), 'w') as w:
        w.write('# %s, MemProfileRate=1: bytes per (site, object size) of each run; written by '
                'samples/generate.sh mixed (MIXED_MEASURE)\n' % d['go_version'])
        w.write('\t'.join(['workload', 'run', 'removes', 'iterations', 'function', 'file', 'line',
                           'bytes', 'alloc_space', 'alloc_objects']) + '\n')
        for c in d['cases']:
            for r in c['runs']:
                # a run that allocates nothing still gets a line (function "-")
                for x in r['rows'] or [{'function': '-', 'file': '-', 'line': 0, 'size': 0, 'bytes': 0, 'objects': 0}]:
                    w.write('\t'.join(str(v) for v in [
                        c['workload'], r['function'], ','.join(r['removes']) or '-', c['iterations'],
                        x['function'], x['file'], x['line'], x['size'], x['bytes'], x['objects']]) + '\n')
    print('mixedtruth: wrote', os.path.join(odir, 'measure.tsv'))


def read_measure(path):
    """-> {workload: {'runs': {run: removes tuple}, 'rows': {run: [(fn, file, line, size, b, o)]}}}"""
    cases = collections.OrderedDict()
    with open(path) as f:
        lines = [l.rstrip('\n') for l in f if not l.startswith('#')]
    hdr = lines[0].split('\t')
    for l in lines[1:]:
        r = dict(zip(hdr, l.split('\t')))
        c = cases.setdefault(r['workload'], {'runs': collections.OrderedDict(), 'rows': collections.defaultdict(list)})
        c['runs'][r['run']] = tuple(x for x in r['removes'].split(',') if x != '-')
        if r['function'] == '-':
            continue
        c['rows'][r['run']].append((r['function'], r['file'], int(r['line']), int(r['bytes']),
                                    int(r['alloc_space']), int(r['alloc_objects'])))
    return cases


def solve(samples, spec, label, measure, tagmap):
    """-> {workload: {(tag, size): [(mechanism, bytes)]}}, notes"""
    out, notes = {}, []
    for wl, cs in spec['cases'].items():
        c = measure.get(wl)
        if c is None:
            out[wl] = None  # not built by this toolchain
            continue
        variants = [(fn, rem) for fn, rem in c['runs'].items() if fn != wl]
        known = set(cs['mechanisms']) | {r['removed_by'] for r in cs['sites'] if 'removed_by' in r}
        for fn, rem in variants:
            for m in rem:
                if m not in known:
                    fail('%s: variant %s removes %r, which tools/mixed-spec.json does not describe' % (wl, fn, m))

        def tagged(run):
            acc = collections.Counter()
            for fn, file, line, size, b, o in c['rows'].get(run, []):
                t = tagmap.get((file, line))
                if t is not None:
                    acc[(t, size)] += b
            return acc

        full = tagged(wl)
        per = {}
        for m in cs['mechanisms']:
            vs = [fn for fn, rem in variants if rem == (m,)]
            if len(vs) != 1:
                fail('%s: mechanism %s needs exactly one variant that removes only it' % (wl, m))
            per[m] = (vs[0], tagged(vs[0]))
        res = {}
        for key, fb in sorted(full.items()):
            # removal estimate of each mechanism: what disappears when its variant runs
            # (clamped at 0: random map overflow buckets can make a variant allocate more)
            parts = []
            for m, (vfn, vb) in per.items():
                d = max(0, fb - vb.get(key, 0))
                if d:
                    parts.append([m, d, vfn])
            total = sum(p[1] for p in parts)
            resid = fb - total
            if total == 0:
                fail('%s @%s size %d: %d bytes no variant removes' % (wl, key[0], key[1], fb))
            if len(per) == 2:
                # Two mechanisms a, b: the variant without b isolates a. A mechanism whose
                # isolating variant has no bytes of this size has none here, whatever the
                # removal estimates say: they carry the noise of the tiny allocator (which
                # allocation opens a 16-byte block depends on the block's state when the
                # run starts) and of Go 1.19's map overflow buckets (random hash seed).
                (ma, (va, vba)), (mb, (vb, vbb)) = per.items()
                zero = [m for m, iso in ((ma, vbb), (mb, vba)) if iso.get(key, 0) == 0]
                if len(zero) == 2:
                    fail('%s @%s size %d: neither mechanism alone allocates this size' % (wl, key[0], key[1]))
                if len(zero) == 1:
                    other = ma if zero[0] == mb else mb
                    vfn = per[other][0]
                    if resid or len(parts) != 1:
                        notes.append('%s %s @%s size %d: the variant isolating %s has none of this size: all %d bytes are %s (removal estimates summed to %d)'
                                     % (label, wl, key[0], key[1], zero[0], fb, other, total))
                        res[key] = [(other, fb, vfn, 'isolated')]
                    else:
                        res[key] = [(other, fb, vfn, '')]
                    continue
            if abs(resid) > 2 * key[1] and abs(resid) > fb // 100:
                fail('%s @%s size %d: mechanisms sum to %d, workload %d' % (wl, key[0], key[1], total, fb))
            if resid:
                notes.append('%s %s @%s size %d: mechanisms measured %d of %d bytes (residual %+d: tiny blocks, or Go 1.19 map overflow buckets, which follow the random hash seed); shares normalized'
                             % (label, wl, key[0], key[1], total, fb, resid))
            res[key] = [(m, d, vfn, 'normalized' if resid else '') for m, d, vfn in parts]
        # tags seen in variants but not in the workload at some size are fine (the
        # variant may move bytes); a tag of this case never seen is suspicious
        out[wl] = res
        # removed_by checks on untagged site rules
        for r in cs['sites']:
            if 'removed_by' not in r:
                continue
            vs = [fn for fn, rem in variants if r['removed_by'] in rem]
            rx = re.compile(r['function'])
            for vfn in vs:
                left = sum(b for fn, file, line, size, b, o in c['rows'].get(vfn, []) if rx.search(fn))
                if left:
                    fail('%s: %s still allocates %d bytes at %s' % (wl, vfn, left, r['function']))
            if not vs:
                fail('%s: no variant removes %s' % (wl, r['removed_by']))
    return out, notes


def split_int(total, weights):
    """Split integer total by weights; remainders to the largest weights; sums exactly."""
    s = sum(weights)
    raw = [total * w / s for w in weights]
    out = [int(x) for x in raw]
    rest = total - sum(out)
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - out[i]), i))
    for i in order[:rest]:
        out[i] += 1
    return out


def build_profile(samples, label, name, spec, solved, tagmap):
    path = os.path.join(samples, 'profiles', label, name)
    r = subprocess.run(pprofraw.pprof_cmd(GO) + ['-symbolize=none', '-raw', path], env=ENV,
                       capture_output=True, text=True, check=True)
    prof = pprofraw.parse(r.stdout)
    types = [t for t, _ in prof['sample_types']]
    ia, io = types.index('alloc_space'), types.index('alloc_objects')
    workloads = [w for w in spec['cases'] if solved.get(w) is not None]
    acc = collections.OrderedDict()
    for vals, locs, labels in prof['samples']:
        if not vals[ia]:
            continue
        fr = pprofraw.frames(prof, locs)
        on = [w for w in workloads if any(f[0] == w for f in fr)]
        if not on:
            continue
        if len(on) > 1:
            fail('%s: a stack with two workloads: %s' % (name, on))
        wl = on[0]
        m = re.search(r'bytes:\[(\d+)\]', labels)
        if not m:
            fail('%s: a sample without a bytes label' % name)
        size = int(m.group(1))
        fn, file, line = fr[0]
        k = (wl, fn, file, line, size)
        a = acc.setdefault(k, [0, 0])
        a[0] += vals[ia]
        a[1] += vals[io]
    rows = []
    for (wl, fn, file, line, size), (space, objs) in acc.items():
        cs = spec['cases'][wl]
        tag = tagmap.get((file, line))
        if tag is not None:
            parts = solved[wl].get((tag, size))
            if not parts:
                fail('%s: %s %s:%d size %d (@%s) has %d bytes the measurement never saw'
                     % (name, wl, file, line, size, tag, space))
            w = [p[1] for p in parts]
            sp, ob = split_int(space, w), split_int(objs, w)
            for (mech, d, vfn, norm), s, o in zip(parts, sp, ob):
                me = cs['mechanisms'][mech]
                how = 'measured: %s minus %s at this size' % (wl, vfn)
                if norm == 'normalized':
                    how += ' (shares normalized: tiny-block residual, notes.txt)'
                elif norm == 'isolated':
                    how += ' (the other mechanism has no bytes of this size in isolation; notes.txt)'
                rows.append([wl, fn, file, line, size, '-', me['cause'], ','.join(me.get('also', [])) or '-', '-',
                             me['what'], s, o, how])
            continue
        rule = next((r for r in cs['sites'] if re.search(r['function'], fn)), None)
        if rule is None:
            fail('%s: %s: no site rule for %s %s:%d (size %d, %d bytes)' % (name, wl, fn, file, line, size, space))
        if 'removed_by' in rule:
            how = 'site rule %s; the variant that removes %s has none of these bytes' % (rule['function'], rule['removed_by'])
        elif fn.startswith('main.'):
            how = 'site rule %s: sole allocating expression of the line' % rule['function']
        else:
            how = 'site rule %s: inside the library the line calls (stack)' % rule['function']
        rows.append([wl, fn, file, line, size, '-', rule['cause'], ','.join(rule.get('also', [])) or '-', '-',
                     rule['what'], space, objs, how])
    rows.sort(key=lambda r: (r[0], r[1], r[2], r[3], r[4], r[6]))
    return rows, prof


def cmd_build(samples):
    spec = json.load(open(os.path.join(samples, 'tools', 'mixed-spec.json')))
    tagmap = tags(samples)
    summary = []
    for mpath in sorted(glob.glob(os.path.join(samples, 'truth', 'mixed', '*', 'measure.tsv'))):
        label = os.path.basename(os.path.dirname(mpath))
        measure = read_measure(mpath)
        solved, notes = solve(samples, spec, label, measure, tagmap)
        for name in PROFILES:
            if not os.path.exists(os.path.join(samples, 'profiles', label, name)):
                continue
            rows, prof = build_profile(samples, label, name, spec, solved, tagmap)
            out = os.path.join(samples, 'truth', 'mixed', label, name[:-len('.pb.gz')] + '.tsv')
            with open(out, 'w') as w:
                w.write('# truth for profiles/%s/%s: every alloc_space byte with a workload of '
                        'src/mixed on its stack (samples/truth/mixed/README.md)\n' % (label, name))
                w.write('\t'.join(HEADER) + '\n')
                for r in rows:
                    w.write('\t'.join(str(x) for x in r) + '\n')
            tot = sum(r[10] for r in rows)
            summary.append('%s/%s: %d rows, %d bytes' % (label, name, len(rows), tot))
            if name.endswith('rate1.pb.gz'):
                # the profile's rate-1 bytes at each tagged line equal the measure run's
                diffs = compare(rows, measure, tagmap)
                notes += ['%s %s: %s' % (label, name, d) for d in diffs]
        with open(os.path.join(samples, 'truth', 'mixed', label, 'notes.txt'), 'w') as w:
            for n in notes:
                w.write(n + '\n')
    for s in summary:
        print('mixedtruth:', s)


def compare(rows, measure, tagmap):
    prof = collections.Counter()
    for r in rows:
        if tagmap.get((r[2], r[3])) is not None:
            prof[(r[0], r[2], r[3], r[4])] += r[10]
    meas = collections.Counter()
    for wl, c in measure.items():
        for fn, file, line, size, b, o in c['rows'].get(wl, []):
            if tagmap.get((file, line)) is not None:
                meas[(wl, file, line, size)] += b
    out = []
    for k in sorted(set(prof) | set(meas)):
        if prof[k] != meas[k]:
            out.append('%s %s:%d size %d: profile %d bytes, measure run %d' % (k[0], k[1], k[2], k[3], prof[k], meas[k]))
    return out


if __name__ == '__main__':
    a = sys.argv[1:]
    if len(a) == 4 and a[1] == 'measure':
        cmd_measure(a[0], a[2], a[3])
    elif len(a) == 2 and a[1] == 'build':
        cmd_build(a[0])
    else:
        fail(__doc__.strip().split('\n\n')[0])
