"""Parse the text of `go tool pprof -raw` (standard library only).

parse(text) -> dict with keys
  sample_types: [(name, unit)], default_index, period_type, period,
  samples: [(values[list of int], loc_ids[leaf first], labels str)],
  locations: {id: [(function, file, line)]}  innermost (inlined) frame first.
"""
import re

_LOC = re.compile(r'^\s*(\d+): (0x[0-9a-f]+) M=(\d+)(?: (.*))?$')
_FRAME = re.compile(r'^(.*) (\S*):(-?\d+):(-?\d+)(?: s=(-?\d+))?$')


def _frame(s):
    s = s.strip()
    m = _FRAME.match(s)
    if not m:
        return (s, '', 0)
    return (m.group(1), m.group(2), int(m.group(3)))


def parse(text):
    lines = text.split('\n')
    out = {'sample_types': [], 'default_index': None, 'samples': [], 'locations': {},
           'period_type': None, 'period': None}
    i = 0
    while i < len(lines) and not lines[i].startswith('Samples:'):
        l = lines[i]
        if l.startswith('PeriodType: '):
            out['period_type'] = l[len('PeriodType: '):]
        elif l.startswith('Period: '):
            out['period'] = int(l[len('Period: '):])
        i += 1
    i += 1
    hdr = lines[i].split()
    for j, h in enumerate(hdr):
        if h.endswith('[dflt]'):
            out['default_index'] = j
            h = h[:-len('[dflt]')]
        name, _, unit = h.partition('/')
        out['sample_types'].append((name, unit))
    i += 1
    cur = None
    while i < len(lines) and not lines[i].startswith('Locations'):
        l = lines[i]
        if ':' in l and l.strip() and l.strip()[0].isdigit() or (l.strip().startswith('-') and ':' in l):
            vals, _, locs = l.partition(':')
            cur = [[int(v) for v in vals.split()], [int(x) for x in locs.split()], '']
            out['samples'].append(cur)
        elif l.strip() and cur is not None:
            cur[2] += l.strip() + ' '
        i += 1
    i += 1
    last = None
    while i < len(lines) and not lines[i].startswith('Mappings'):
        l = lines[i]
        m = _LOC.match(l)
        if m:
            last = int(m.group(1))
            rest = m.group(4)
            out['locations'][last] = [_frame(rest)] if rest else []
        elif l.strip() and last is not None:
            out['locations'][last].append(_frame(l))
        i += 1
    return out


def frames(prof, loc_ids):
    """Expanded stack, leaf first: [(function, file, line)]."""
    fr = []
    for lid in loc_ids:
        fr.extend(prof['locations'].get(lid, []))
    return fr


def pprof_cmd(go='go'):
    """Command prefix for go tool pprof. Go >= 1.24 prints the cached pprof
    binary's path with `go tool -n pprof`; calling it directly saves a
    go-command start-up per call."""
    import os, subprocess
    try:
        r = subprocess.run([go, 'tool', '-n', 'pprof'], capture_output=True, text=True)
        path = r.stdout.strip().splitlines()[-1] if r.returncode == 0 and r.stdout.strip() else ''
        if path and os.access(path, os.X_OK):
            return [path]
    except OSError:
        pass
    return [go, 'tool', 'pprof']
