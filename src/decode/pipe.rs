//! Decompression on a second core (issue 9): a scoped thread runs the gzip decoder and hands
//! filled chunks to the protobuf decoder through a bounded channel, so inflating and decoding
//! overlap instead of adding up. Chunks are recycled, so the steady state allocates nothing, and
//! the producer never runs more than [`IN_FLIGHT`] chunks ahead: a gzip bomb still stops at the
//! consumer's `--max-size` check, which drops the channel and ends the producer.

use std::io::{self, Read};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

/// Bytes per chunk handed over.
const CHUNK: usize = 256 << 10;
/// Chunks the producer may fill ahead of the consumer.
const IN_FLIGHT: usize = 4;

/// Whether a second core is there to decompress on (and `$HEAPDOC_THREADS` is not 1).
pub fn worth_it() -> bool {
    match crate::par::threads_override() {
        Some(n) => n > 1,
        None => std::thread::available_parallelism().is_ok_and(|n| n.get() > 1),
    }
}

/// A reader of `inner`'s bytes, read ahead by a thread of `scope`.
pub fn spawn_reader<'scope, R>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    mut inner: R,
) -> ChunkReader
where
    R: Read + Send + 'scope,
{
    let (full_tx, full_rx) = sync_channel::<io::Result<Vec<u8>>>(IN_FLIGHT);
    let (empty_tx, empty_rx) = sync_channel::<Vec<u8>>(IN_FLIGHT + 2);
    scope.spawn(move || {
        loop {
            let mut buf = empty_rx.try_recv().unwrap_or_default();
            buf.resize(CHUNK, 0);
            let mut n = 0;
            let mut failed = None;
            while n < CHUNK {
                match inner.read(&mut buf[n..]) {
                    Ok(0) => break,
                    Ok(k) => n += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        failed = Some(e);
                        break;
                    }
                }
            }
            buf.truncate(n);
            let done = n == 0 || failed.is_some();
            if n > 0 && full_tx.send(Ok(buf)).is_err() {
                return; // the consumer stopped
            }
            if let Some(e) = failed {
                let _ = full_tx.send(Err(e));
                return;
            }
            if done {
                return; // dropping the sender is the end of stream
            }
        }
    });
    ChunkReader {
        full: full_rx,
        empty: empty_tx,
        cur: Vec::new(),
        pos: 0,
        done: false,
    }
}

/// The consumer's end: a [`Read`] over the chunks in order.
pub struct ChunkReader {
    full: Receiver<io::Result<Vec<u8>>>,
    empty: SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl Read for ChunkReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.full.recv() {
                Ok(Ok(next)) => {
                    let used = std::mem::replace(&mut self.cur, next);
                    self.pos = 0;
                    // Recycled unless the producer is gone or has enough spares.
                    let _ = self.empty.try_send(used);
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Ok(0);
                }
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}
