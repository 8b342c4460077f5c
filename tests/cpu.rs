//! CPU profiles: allocation CPU (runtime.mallocgc and its size-class variants) and GC CPU,
//! measured on the real Go 1.27 CPU profile of the samples' service.

use std::path::Path;

use heapdoc::analyze::AnalyzeOptions;
use heapdoc::decode::DecodeOptions;

fn report(rel: &str) -> heapdoc::analyze::Report {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let (p, n) = heapdoc::source::load(
        &[path.to_string_lossy().into_owned()],
        &DecodeOptions::default(),
        &Default::default(),
    )
    .unwrap();
    heapdoc::analyze::analyze(p, n, &AnalyzeOptions::default(), &Default::default()).unwrap()
}

#[test]
fn allocation_cpu_reconciles_with_pprof_focus_mallocgc() {
    for rel in [
        "samples/profiles/go1.27/service.cpu.window.pb.gz",
        "samples/profiles/go1.27/json.cpu.pb.gz",
    ] {
        let r = report(rel);
        let c = r.cpu.as_ref().expect("a CPU profile has CPU costs");
        // go tool pprof -focus=mallocgc keeps samples with any frame whose name matches.
        let p = &r.profile;
        let mut focus = 0i64;
        let mut cur = p.samples.cursor();
        while let Some(s) = cur.next() {
            if p.samples.stack(s.stack).iter().any(|l| {
                p.frames(l)
                    .iter()
                    .any(|f| p.func_name(f.func).contains("mallocgc"))
            }) {
                focus += s.values[r.sample_index];
            }
        }
        assert!(focus > 0, "{rel}: no mallocgc samples");
        assert_eq!(c.alloc, focus, "{rel}");
        // Every allocation nanosecond is attributed to a line above mallocgc.
        let attributed: i64 = c.by_site.iter().map(|(_, _, v)| v).sum();
        assert_eq!(attributed, c.alloc, "{rel}");
        for (site, _, _) in &c.by_site {
            assert!(!heapdoc::analyze::attribute::is_runtime(
                p.str(r.attribution.sites[site.0 as usize].name)
            ));
        }
        assert!(
            c.gc() > 0 && c.gc() + c.alloc <= r.total(),
            "{rel}: gc {} alloc {}",
            c.gc(),
            c.alloc
        );
    }
}
