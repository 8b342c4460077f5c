//! How a fetch reports progress: [`FetchEvent`]s to the observer the binary installs; the
//! library itself never prints.

use super::*;

/// What a fetch reports while it runs. Library code never prints: the binary installs an
/// observer that writes these to stderr ([`set_observer`]); without one they go nowhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchEvent<'a> {
    /// A request is about to go out; `expected` is the profile's own duration (`--seconds`).
    Started {
        url: &'a str,
        expected: Option<Duration>,
        timeout: Duration,
    },
    /// The answer arrived, or the request failed.
    Finished { url: &'a str },
    /// The fetched bytes were kept at this path.
    Saved(&'a Path),
    /// Something the user should know that does not stop the run.
    Warning(&'a str),
}

/// Receives [`FetchEvent`]s; shared by fetches running on several threads.
pub trait FetchObserver: Send + Sync {
    fn event(&self, e: FetchEvent<'_>);
}

pub(super) static OBSERVER: std::sync::OnceLock<Box<dyn FetchObserver>> =
    std::sync::OnceLock::new();

/// Installs the process's fetch observer (once; later calls are ignored).
pub fn set_observer(o: Box<dyn FetchObserver>) {
    let _ = OBSERVER.set(o);
}

pub(super) fn notify(e: FetchEvent<'_>) {
    if let Some(o) = OBSERVER.get() {
        o.event(e);
    }
}
