"""Write go tool pprof's output for every committed profile to samples/truth/.

usage: python3 truth.py SAMPLES_DIR      (env PPROF_GO: go binary, default "go")

Mirrors /work/shared/corpus/truth: every command runs as
`PPROF_BINARY_PATH=/nonexistent go tool pprof -symbolize=none ...` and its
stdout is stored:
  <file>.raw.txt                   -raw
  <file>.<type>.lines.top.txt      -top -lines -nodecount=30 -sample_index=<type>   (heap/allocs)
  <file>.<type>.top.txt            -top -nodecount=30 -sample_index=<type>          (cpu)
The allocs.rate1/allocs.default profiles hold the same records as the heap
profile written just before them (only the default sample type differs and
rows whose counts are all zero), so they get no truth files; their exact
totals are in manifest.json.
"""
import os, re, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pprofraw

GO = os.environ.get('PPROF_GO', 'go')
ENV = dict(os.environ, PPROF_BINARY_PATH='/nonexistent')
PPROF = pprofraw.pprof_cmd(GO)


def pprof(*args):
    r = subprocess.run(PPROF + ['-symbolize=none'] + list(args), env=ENV,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit('go tool pprof %s failed: %s' % (' '.join(args), r.stderr))
    return r.stdout


def wants_truth(name):
    return not (name.endswith('.allocs.rate1.pb.gz') or name.endswith('.allocs.default.pb.gz'))


def main(samples):
    for label in sorted(l for l in os.listdir(os.path.join(samples, 'profiles')) if re.match(r'go\d+\.\d+$', l)):
        pdir = os.path.join(samples, 'profiles', label)
        tdir = os.path.join(samples, 'truth', label)
        os.makedirs(tdir, exist_ok=True)
        for f in os.listdir(tdir):
            os.remove(os.path.join(tdir, f))
        for name in sorted(os.listdir(pdir)):
            if not name.endswith('.pb.gz') or not wants_truth(name):
                continue
            path = os.path.join(pdir, name)
            raw = pprof('-raw', path)
            with open(os.path.join(tdir, name + '.raw.txt'), 'w') as w:
                w.write(raw)
            prof = pprofraw.parse(raw)
            lines = '.cpu.' not in name
            for t, _ in prof['sample_types']:
                args = ['-top', '-nodecount=30', '-sample_index=' + t]
                suffix = '.top.txt'
                if lines:
                    args.insert(1, '-lines')
                    suffix = '.lines.top.txt'
                with open(os.path.join(tdir, '%s.%s%s' % (name, t, suffix)), 'w') as w:
                    w.write(pprof(*(args + [path])))
        print('truth:', label, len(os.listdir(tdir)), 'files')


if __name__ == '__main__':
    main(sys.argv[1])
