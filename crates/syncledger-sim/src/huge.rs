//! The body of a [`crate::Fault::HugeBody`] answer: a record (`{"id":"c-1","pad":"aaa..."}`)
//! of any size, made chunk by chunk while it is sent, so a test can answer 300 MB without
//! holding them. What was handed to the connection is counted
//! ([`crate::SimSystem::huge_bytes_sent`]): a reader that stops early shows there.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use futures::Stream;

use crate::SimSystem;

const CHUNK: usize = 64 * 1024;
static PAD: [u8; CHUNK] = [b'a'; CHUNK];
const END: &[u8] = b"\"}";

/// `prefix`, padding, and the closing `"}`: `total` bytes in all (or just the three parts,
/// when `total` is shorter).
pub(crate) fn stream(
    sim: Arc<SimSystem>,
    prefix: String,
    total: u64,
) -> impl Stream<Item = Result<Bytes, Infallible>> + Send {
    let padding = total.saturating_sub((prefix.len() + END.len()) as u64);
    let parts = (Some(Bytes::from(prefix)), padding, false);
    futures::stream::unfold(parts, move |(prefix, left, ended)| {
        let sim = sim.clone();
        async move {
            let (chunk, next) = match (prefix, left, ended) {
                (Some(prefix), left, _) => (prefix, (None, left, false)),
                (None, 0, false) => (Bytes::from_static(END), (None, 0, true)),
                (None, 0, true) => return None,
                (None, left, _) => {
                    let n = left.min(CHUNK as u64) as usize;
                    (
                        Bytes::from_static(&PAD[..n]),
                        (None, left - n as u64, false),
                    )
                }
            };
            sim.huge_sent
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            Some((Ok(chunk), next))
        }
    })
}

/// The same body as text, for the in-process face (small sizes only).
pub(crate) fn text(prefix: &str, total: u64) -> String {
    let padding = total.saturating_sub((prefix.len() + END.len()) as u64) as usize;
    format!("{prefix}{}\"}}", "a".repeat(padding))
}
