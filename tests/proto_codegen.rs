//! The prost code in `src/pb/` is committed so a fresh machine needs no `protoc` and no
//! build script. This test regenerates it in pure Rust (protox parses the .proto, prost-build
//! writes the code) and fails when the committed file is stale.
//! Re-bless with `HEAPDOC_BLESS=1 cargo test --test proto_codegen`.

use std::path::Path;

#[test]
fn generated_protobuf_code_is_current() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let fds = protox::compile([root.join("proto/profile.proto")], [root.join("proto")])
        .expect("proto/profile.proto must parse");
    let out = tempfile::tempdir().unwrap();
    prost_build::Config::new()
        .out_dir(out.path())
        .compile_fds(fds)
        .expect("prost-build must generate code");
    let fresh = std::fs::read_to_string(out.path().join("perftools.profiles.rs")).unwrap();
    let committed_path = root.join("src/pb/perftools.profiles.rs");
    if std::env::var_os("HEAPDOC_BLESS").is_some() {
        std::fs::write(&committed_path, &fresh).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    assert!(
        committed == fresh,
        "src/pb/perftools.profiles.rs is stale: run HEAPDOC_BLESS=1 cargo test --test proto_codegen"
    );
}
