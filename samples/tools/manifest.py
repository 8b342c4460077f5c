"""Build samples/manifest.json from spec.json, the profiles and their sidecars.

usage: python3 manifest.py SAMPLES_DIR   (env PPROF_GO: go binary, default "go")

Everything observed is computed from `go tool pprof -raw` of the committed
profiles. It also checks the ground truth: in each rate-1 heap profile every
sample that has a workload function on its stack must show the workload's
cause (evidence 'line': all frames from the leaf up to the workload are
user code, i.e. start with "main."; evidence 'stack': the frame the workload
calls starts with one of expect_callee). Violations are printed and make the
script exit non-zero.
"""
import collections, json, os, re, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pprofraw

GO = os.environ.get('PPROF_GO', 'go')
ENV = dict(os.environ, PPROF_BINARY_PATH='/nonexistent')
PPROF = pprofraw.pprof_cmd(GO)
CAUSES = ['json', 'fmt', 'logging', 'interface-conversion', 'closure', 'goroutine', 'slice-growth',
          'map-growth', 'string-building', 'byte-string-conversion', 'reflection', 'regexp',
          'compression', 'context-and-timers', 'io-buffers', 'pointer-escape']
_raw_cache = {}


def raw(path):
    if path not in _raw_cache:
        r = subprocess.run(PPROF + ['-symbolize=none', '-raw', path], env=ENV,
                           capture_output=True, text=True, check=True)
        _raw_cache[path] = pprofraw.parse(r.stdout)
    return _raw_cache[path]


def ver_tuple(v):
    return tuple(int(x) for x in re.findall(r'\d+', v)[:2])


def describe(name):
    """File name -> (program, variant, kind, role)."""
    prog, rest = name.split('.', 1)
    variant = 'base'
    if prog.endswith('-fixed'):
        prog, variant = prog[:-len('-fixed')], 'fixed'
    role = None
    if rest.endswith('.debug1.txt'):
        kind = 'heap-text'
    elif rest.startswith('cpu'):
        kind = 'cpu'
    elif rest.startswith('heap'):
        kind = 'heap'
    elif rest.startswith('allocs'):
        kind = 'allocs'
    else:
        return None
    m = re.match(r'(heap|allocs|cpu)\.(window-start|window-end|window|fetch-delta|fetch)\.pb\.gz$', rest)
    if m:
        role = m.group(2)
    return prog, variant, kind, role


def text_header(path):
    with open(path) as f:
        first = f.readline()
    m = re.match(r'heap profile: (\d+): (\d+) \[(\d+): (\d+)\] @ heap/(\d+)', first)
    if not m:
        return None
    v = [int(x) for x in m.groups()]
    return {'inuse_objects': v[0], 'inuse_bytes': v[1], 'alloc_objects': v[2], 'alloc_bytes': v[3],
            'heap_period': v[4], 'note': 'unscaled record counts from the first line; memprofilerate = heap_period / 2'}


def observe(prof, fn, spec):
    """Samples with fn on the stack: totals, user lines, callees, check errors."""
    names = [t for t, _ in prof['sample_types']]
    tot = [0] * len(names)
    wl_lines = collections.Counter()
    leaf_user = collections.Counter()
    callees = collections.Counter()
    files = set()
    errors = []
    n = 0
    for vals, locs, _ in prof['samples']:
        fr = pprofraw.frames(prof, locs)
        ks = [k for k, x in enumerate(fr) if x[0] == fn]
        if not ks or not any(vals):
            continue
        n += 1
        k = ks[0]
        for i, v in enumerate(vals):
            tot[i] += v
        ai = names.index('alloc_space')
        wl_lines[fr[k][2]] += vals[ai]
        files.add(fr[k][1])
        if k > 0:
            callees[fr[k - 1][0]] += vals[ai]
        if all(x[0].startswith('main.') for x in fr[:k + 1]):
            leaf_user['%s %s:%d' % fr[0]] += vals[ai]
        if spec['evidence'] == 'line':
            if not all(x[0].startswith('main.') for x in fr[:k + 1]):
                errors.append('non-user frame below %s: %s' % (fn, ' <- '.join('%s:%d' % (x[0], x[2]) for x in fr[:k + 1])))
        else:
            if k == 0 or not any(fr[k - 1][0].startswith(p) for p in spec['expect_callee']):
                errors.append('%s allocates without %s: %s' % (fn, spec['expect_callee'], ' <- '.join('%s:%d' % (x[0], x[2]) for x in fr[:k + 1])))
    return {
        'samples': n,
        'totals': dict(zip(names, tot)),
        'file': sorted(files)[0] if files else None,
        'workload_lines': [{'line': l, 'alloc_space': b} for l, b in sorted(wl_lines.items())],
        'user_leaf_sites': [{'site': s, 'alloc_space': b} for s, b in sorted(leaf_user.items(), key=lambda x: -x[1])],
        'callees': [{'function': c, 'alloc_space': b} for c, b in sorted(callees.items(), key=lambda x: -x[1])],
    }, errors


def main(samples):
    spec = json.load(open(os.path.join(samples, 'tools', 'spec.json')))
    # profiles/<goX.Y>/ only (profiles/stdlib/ is samples/stdlib.sh's)
    labels = sorted((l for l in os.listdir(os.path.join(samples, 'profiles')) if re.match(r'go\d+\.\d+$', l)),
                    key=ver_tuple, reverse=True)
    go_versions = {}
    profiles = []
    sidecars = {}
    for label in labels:
        pdir = os.path.join(samples, 'profiles', label)
        for name in sorted(os.listdir(pdir)):
            if name.endswith('.json'):
                d = json.load(open(os.path.join(pdir, name)))
                go_versions[label] = d['go_version']
                sidecars.setdefault(label, {})[name] = d
    for label in labels:
        pdir = os.path.join(samples, 'profiles', label)
        tdir = os.path.join(samples, 'truth', label)
        for name in sorted(os.listdir(pdir)):
            if name.endswith('.json'):
                continue
            d = describe(name)
            if d is None:
                continue
            prog, variant, kind, role = d
            rel = 'profiles/%s/%s' % (label, name)
            e = {'path': rel, 'program': prog, 'variant': variant, 'kind': kind,
                 'go_version': go_versions.get(label), 'toolchain': label}
            if role:
                e['role'] = role
            if kind == 'heap-text':
                h = text_header(os.path.join(pdir, name))
                e['memprofilerate'] = h['heap_period'] // 2 if h else None
                e['header'] = h
                e['written_with'] = "pprof.Lookup(\"heap\").WriteTo(w, 1), right after the heap and allocs .pb.gz of the same run"
            else:
                p = raw(os.path.join(samples, rel))
                e['memprofilerate'] = p['period'] if kind != 'cpu' else None
                if kind == 'cpu':
                    e['period_ns'] = p['period']
                e['period_type'] = p['period_type']
                e['sample_types'] = [{'name': t, 'unit': u} for t, u in p['sample_types']]
                di = p['default_index']
                e['default_sample_type'] = p['sample_types'][di if di is not None else -1][0]
                e['num_samples'] = len(p['samples'])
                e['num_nonzero_samples'] = sum(1 for s in p['samples'] if any(s[0]))
                e['raw_totals'] = {t: sum(s[0][i] for s in p['samples']) for i, (t, _) in enumerate(p['sample_types'])}
                truth = sorted(f for f in os.listdir(tdir) if f.startswith(name + '.')) if os.path.isdir(tdir) else []
                e['truth'] = ['truth/%s/%s' % (label, f) for f in truth]
            if role == 'fetch-delta':
                e['note'] = 'GET /debug/pprof/allocs?seconds=2 from the in-process server under a bounded loopback load: a delta profile (the server subtracts a first snapshot); inuse values can be negative'
            elif role == 'fetch':
                e['note'] = 'GET /debug/pprof/profile?seconds=2 (cpu) or /debug/pprof/heap?gc=1 (heap) from the in-process server'
            elif role in ('window-start', 'window-end', 'window'):
                e['note'] = 'measured window: allocs snapshots at its start and end (each after runtime.GC) and a CPU profile over the same requests; see service.default.memstats.json'
            profiles.append(e)

    errors = []
    programs = []
    for ps in spec['programs']:
        prog = ps['name']
        src = sorted(os.path.relpath(os.path.join(dp, f), samples)
                     for dp, _, fs in os.walk(os.path.join(samples, 'src', prog)) for f in fs if f.endswith('.go'))
        pe = {'name': prog, 'description': ps['description'], 'sources': src, 'workloads': []}
        built = {}
        for w in ps['workloads']:
            we = {k: v for k, v in w.items()}
            we['observed'] = {}
            we['present_in'] = []
            for label in labels:
                variant = w.get('variant', 'base')
                fname = '%s%s.heap.rate1.pb.gz' % (prog, '-fixed' if variant == 'fixed' else '')
                path = os.path.join(samples, 'profiles', label, fname)
                if not os.path.exists(path):
                    continue
                built[label] = go_versions.get(label)
                if 'min_go' in w and ver_tuple(go_versions[label]) < ver_tuple(w['min_go']):
                    we.setdefault('absent_in', []).append(label)
                    continue
                obs, errs = observe(raw(path), w['function'], w)
                obs['profile'] = 'profiles/%s/%s' % (label, fname)
                if obs['samples'] == 0:
                    errs.append('%s: no samples with %s' % (obs['profile'], w['function']))
                errors += ['%s: %s' % (obs['profile'], x) for x in errs[:5]]
                if len(errs) > 5:
                    errors.append('%s: ... %d more' % (obs['profile'], len(errs) - 5))
                we['present_in'].append(label)
                we['observed'][label] = obs
                if obs['file'] and 'file' not in we:
                    we['file'] = obs['file']
                    we['source'] = 'src/' + obs['file'].split('heapdoc.dev/samples/', 1)[-1]
            pe['workloads'].append(we)
        pe['built_with'] = built
        programs.append(pe)

    # The service diff pair and memstats sidecars.
    service = {'diff': {'base': 'service', 'fixed': 'service-fixed', 'differs_in_cause': 'json',
                        'base_function': 'main.decodeIntoMap', 'fixed_function': 'main.decodeIntoStruct',
                        'description': 'the fixed run decodes the request body into a struct instead of map[string]interface{}; everything else is identical'},
               'memstats': {}}
    for label in labels:
        for name, d in sorted(sidecars.get(label, {}).items()):
            if name.endswith('.memstats.json'):
                service['memstats']['profiles/%s/%s' % (label, name)] = d

    out = {
        'schema_version': 1,
        'generated_by': 'samples/generate.sh',
        'causes': CAUSES,
        'go_versions': go_versions,
        'path_conventions': {
            'user_code_file': 'heapdoc.dev/samples/<program>/<file>.go (module path + directory; built with -trimpath)',
            'stdlib_file': '<import path>/<file>.go, e.g. encoding/json/decode.go, runtime/malloc.go (no GOROOT prefix)',
            'user_function': 'main.<name> (main.<name>.func<N> for closures)',
            'mapping_file': '/tmp/heapdoc-samples/<toolchain>/bin/<program> (the executable that ran)',
        },
        'programs': programs,
        'service': service,
        'profiles': profiles,
        'ground_truth_rule': 'every byte allocated with a workload function on the stack has that workload\'s cause; checked by tools/manifest.py on every rate-1 heap profile',
    }
    with open(os.path.join(samples, 'manifest.json'), 'w') as f:
        json.dump(out, f, indent=1, sort_keys=False)
        f.write('\n')
    print('manifest: %d programs, %d profiles' % (len(programs), len(profiles)))
    if errors:
        print('GROUND TRUTH VIOLATIONS:', file=sys.stderr)
        for e in errors:
            print('  ' + e, file=sys.stderr)
        sys.exit(1)


if __name__ == '__main__':
    main(sys.argv[1])
