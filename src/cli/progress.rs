//! How a fetch shows itself on stderr: the library reports [`FetchEvent`]s, this observer
//! prints them. Always one "fetching" line, so a CI log shows what the run waited on; on a
//! terminal the line is redrawn with the elapsed time once the wait passes a second, and
//! cleared when the answer arrives.

use std::io::{IsTerminal, Write};
use std::sync::mpsc;
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use heapdoc::render::term::escape_terminal;
use heapdoc::source::http::{secs, FetchEvent, FetchObserver};

/// A fetch under way on a terminal: its URL, the redraw thread and the channel that stops it.
type Redraw = (String, mpsc::Sender<()>, thread::JoinHandle<()>);

pub struct StderrObserver {
    terminal: bool,
    /// The redraw thread of each fetch under way, by URL.
    live: Mutex<Vec<Redraw>>,
}

impl StderrObserver {
    pub fn new() -> StderrObserver {
        StderrObserver {
            terminal: std::io::stderr().is_terminal(),
            live: Mutex::new(Vec::new()),
        }
    }
}

/// Writes one line; a closed or broken stderr is not worth dying for.
fn line(msg: &str) {
    let mut err = std::io::stderr().lock();
    let _ = writeln!(err, "heapdoc: {}", escape_terminal(msg));
}

fn notice(url: &str, expected: Option<Duration>, timeout: Duration) -> String {
    match expected {
        Some(d) => format!(
            "fetching {url} ({} of profiling, timeout {})",
            secs(d),
            secs(timeout)
        ),
        None => format!("fetching {url} (timeout {})", secs(timeout)),
    }
}

impl FetchObserver for StderrObserver {
    fn event(&self, e: FetchEvent<'_>) {
        match e {
            FetchEvent::Started {
                url,
                expected,
                timeout,
            } => {
                if !self.terminal {
                    line(&notice(url, expected, timeout));
                    return;
                }
                let (tx, rx) = mpsc::channel::<()>();
                let text = escape_terminal(&notice(url, expected, timeout)).into_owned();
                let handle = thread::spawn(move || {
                    let start = Instant::now();
                    let mut drawn = false;
                    while let Err(mpsc::RecvTimeoutError::Timeout) =
                        rx.recv_timeout(Duration::from_millis(250))
                    {
                        let elapsed = start.elapsed();
                        if elapsed < Duration::from_secs(1) {
                            continue;
                        }
                        let mut err = std::io::stderr().lock();
                        let _ = write!(err, "\r\x1b[2Kheapdoc: {text}: {} s", elapsed.as_secs());
                        let _ = err.flush();
                        drawn = true;
                    }
                    if drawn {
                        let _ = write!(std::io::stderr().lock(), "\r\x1b[2K");
                    }
                });
                if let Ok(mut live) = self.live.lock() {
                    live.push((url.to_string(), tx, handle));
                }
            }
            FetchEvent::Finished { url } => {
                let done = self.live.lock().ok().and_then(|mut live| {
                    let i = live.iter().position(|(u, _, _)| u == url)?;
                    Some(live.swap_remove(i))
                });
                if let Some((_, tx, handle)) = done {
                    drop(tx);
                    let _ = handle.join();
                }
            }
            FetchEvent::Saved(path) => {
                line(&format!("saved fetched profile to {}", path.display()))
            }
            FetchEvent::Warning(w) => line(&format!("warning: {w}")),
        }
    }
}
