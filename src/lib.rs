//! heapdoc: what a Go service allocates, where, why, and what to do about it.
//!
//! The pipeline (DESIGN.md, docs/architecture.md), data flowing one way:
//! [`source`] (bytes from files, stdin, pprof over HTTP) -> [`decode`] (gzip, profile.proto,
//! legacy text) -> [`model`] (the normalized profile) -> [`analyze`] (attribution,
//! classification with the [`evidence`], cost, diff, listing: typed results) -> [`render`]
//! (text, JSON, Markdown, flame graphs). [`pipeline`] runs the stages for one report from plain
//! options; the command line lives in the binary only.

pub mod analyze;
pub mod decode;
pub mod evidence;
pub mod model;
pub mod output;
pub mod par;
pub mod pb;
pub mod pipeline;
pub mod render;
pub mod source;
pub mod units;
