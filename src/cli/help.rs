//! Long help texts: examples and the method behind `diff`.

pub const EXAMPLES: &str = "\
Examples:
  heapdoc profile.pb.gz                      causes and top allocation sites
  heapdoc --sample-index inuse_space heap.pb.gz
  heapdoc --format json --top 20 allocs.pb.gz
  heapdoc localhost:6060                     fetch http://localhost:6060/debug/pprof/heap; run
                                             inside the service's Go module, it reads the
                                             source and runs the escape analysis by itself
  heapdoc --seconds 30 localhost:6060/debug/pprof/allocs
                                             what was allocated during 30 s (a delta profile)
  heapdoc --seconds 20 https://svc:8443/debug/pprof/profile
                                             a 20 s CPU profile
  curl -s localhost:6060/debug/pprof/heap | heapdoc -
  heapdoc pod1.pb.gz pod2.pb.gz             merge (sum) several profiles
  heapdoc --explain ./cmd/server allocs.pb.gz
                                             join the compiler's escape analysis (needs go)
  heapdoc list 'main\\.handle' --explain . allocs.pb.gz
                                             annotated source: each line's cause and reason
  heapdoc end.pb.gz --base start.pb.gz --cpu cpu.pb.gz --requests 400
                                             CPU cost per cause (an estimate), bytes/request
  heapdoc flame allocs.pb.gz -o flame.svg    flame graph, allocation sites colored by cause
  heapdoc --format markdown -o summary.md allocs.pb.gz
                                             a PR-ready summary, written atomically
  heapdoc diff base.pb.gz new.pb.gz          what changed, per cause and per site
  heapdoc diff --fail-on 'total>+10%' --fail-on 'cause:json>+5%' base.pb.gz new.pb.gz
                                             CI gate: exit 1 naming each breached rule
  heapdoc diff --fail-on 'cum:main.handle>+5%' --svg diff.svg base.pb.gz new.pb.gz
                                             a handler with its callees; a diff flame graph
  heapdoc completions bash > heapdoc.bash    shell completions (bash, zsh, fish, ...)
  heapdoc man > heapdoc.1                    the man page

Fetched profiles are kept as fetched in $HEAPDOC_SAVE_DIR, else ~/.heapdoc/profiles, named
heapdoc.<host_port>.<endpoint>.<UTC time>.pb.gz (--save FILE, --no-save). A bearer token in
$HEAPDOC_BEARER_TOKEN is sent as `Authorization: Bearer ...`. Proxies come from ALL_PROXY,
HTTPS_PROXY, HTTP_PROXY and NO_PROXY.

Threads: heapdoc decompresses on a second core and splits its per-stack passes over all
cores (at most 8); HEAPDOC_THREADS=N sets the number (1: one thread). Results do not depend on it.

Color: --color auto (the default) colors text output only on a terminal and never when
NO_COLOR is set; JSON and Markdown are never colored.

Exit codes: 0 ok, 1 a --fail-on rule of `heapdoc diff` was breached, 2 bad input or usage.";

pub const DIFF_HELP: &str = "\
Sampling error: Go samples heap allocations as a Poisson process, on average one every
`period` bytes (MemProfileRate, 512 KiB by default), and scales each record up by 1/p, where
p = 1 - exp(-s/period) is the chance an object of s bytes is sampled. A record of scaled value
X, scaled object count O and average object size s = space/O holds n = O * p sampled objects.
The two profiles come from two runs whose allocation counts vary too: taking each count as
Poisson, the sampled count is Poisson as well, and Var(X) = X^2 / n, a relative standard
error of 1/sqrt(n) (n = O for rate-1 profiles). Variances add over the records of a site or
cause and over the two profiles: SE(delta) = sqrt(Var_base + Var_new), both scaled like the
values by the normalization. A change counts only when |delta| > K * SE(delta) (--sigma K).
CPU profiles count Poisson samples (Var = value * period); other profiles are taken as exact.

Normalization (--normalize): auto = per second when both profiles have a duration
(duration_nanos, e.g. ?seconds=N delta profiles), else none; total = NEW scaled to BASE's
total; none = raw values.

Matching: a site is a function's lines of one cause in one file, the file taken in its
module-relative form (what -trimpath writes: example.com/svc/api/handler.go, runtime/map.go,
a module cache path without its version). Sites match by function, file and cause, never by
absolute path or line, so a fix built in another directory or with lines moved compares;
the line shown is NEW's (`(was :N)` when BASE's differs).

--fail-on RULE (repeatable): TARGET>+LIMIT, where TARGET is `total`, `cause:NAME`,
`site:FILE:LINE` (FILE a path suffix, LINE the line a site shows in NEW or BASE),
`site:FUNCTION` (exact name, its own lines summed: what it allocates itself) or
`cum:FUNCTION` (everything allocated while FUNCTION is on the stack, its callees included,
like pprof's cum: a handler whose callees allocate), and LIMIT is a percentage (`10%`),
bytes (`512B`, `64KiB`, `1MiB`, `1GiB`; KB, MB, GB are powers of 1000) or a plain count. A
rule is breached when its target grew by more than LIMIT and the growth is significant
(beyond K standard errors). A rule whose LIMIT lies inside its target's noise band (K
standard errors) gets a warning: growth between the limit and the band is never reported.
Per-second normalization makes amounts per second. Breached rules are printed on stderr, one
line each, after the report, and the exit code is 1.

--svg FILE: a differential flame graph. Widths are NEW's, red where a stack grew, blue where it
shrank, grey where a stack in both profiles changed less than its allocation site's noise
band; stacks only in BASE (vanished) are drawn under a `[vanished: only in BASE]` root, at
BASE's width, in blue.

Examples:
  heapdoc diff base.pb.gz new.pb.gz
  heapdoc diff --format markdown -o diff.md base.pb.gz new.pb.gz
  heapdoc diff --fail-on 'total>+10%' --fail-on 'site:handler.go:42>+1MiB' base.pb.gz new.pb.gz
  heapdoc diff --fail-on 'cum:main.handleOrder>+20%' --svg diff.svg base.pb.gz new.pb.gz

Exit codes: 0 no rule breached, 1 a --fail-on rule breached, 2 bad input or usage.";
