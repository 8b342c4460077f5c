//! Generated prost types for `proto/profile.proto` (committed; see tests/proto_codegen.rs).
#![allow(clippy::all, missing_docs)]
include!("perftools.profiles.rs");
