//! What a connection holds while it is open: its slot under `server.max_connections`, and its
//! place in the [`Registry`] of the connections waiting between requests, the first to go when a
//! new one needs the slot.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The connections being served, each idle (between requests, or before its first) or busy.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    next: u64,
    open: HashMap<u64, Entry>,
}

#[derive(Debug)]
struct Entry {
    /// `None` while a request is being handled.
    idle_since: Option<Instant>,
    evict: CancellationToken,
}

impl Registry {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new connection, idle from now, until the returned handle drops.
    pub(crate) fn register(self: &Arc<Self>) -> Registered {
        let evict = CancellationToken::new();
        let mut state = self.lock();
        let id = state.next;
        state.next += 1;
        let entry = Entry {
            idle_since: Some(Instant::now()),
            evict: evict.clone(),
        };
        state.open.insert(id, entry);
        Registered {
            mark: Mark {
                registry: self.clone(),
                id,
            },
            evict,
        }
    }

    /// Asks the connection idle the longest to close (hyper closes it at once if it has not
    /// started a request); false when every connection is busy.
    pub(crate) fn evict_oldest_idle(&self) -> bool {
        let state = self.lock();
        let oldest = state
            .open
            .values()
            .filter(|entry| !entry.evict.is_cancelled())
            .filter_map(|entry| Some((entry.idle_since?, &entry.evict)))
            .min_by_key(|(since, _)| *since);
        match oldest {
            Some((_, evict)) => {
                evict.cancel();
                true
            }
            None => false,
        }
    }
}

/// A connection's place in the registry; dropping it removes the connection.
pub(crate) struct Registered {
    pub(crate) mark: Mark,
    /// Cancelled when the connection is asked to make room.
    pub(crate) evict: CancellationToken,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.mark.registry.lock().open.remove(&self.mark.id);
    }
}

/// Marks one connection busy or idle.
#[derive(Debug, Clone)]
pub(crate) struct Mark {
    registry: Arc<Registry>,
    id: u64,
}

impl Mark {
    pub(crate) fn busy(&self) {
        if let Some(entry) = self.registry.lock().open.get_mut(&self.id) {
            entry.idle_since = None;
        }
    }

    pub(crate) fn idle(&self) {
        if let Some(entry) = self.registry.lock().open.get_mut(&self.id) {
            entry.idle_since = Some(Instant::now());
        }
    }
}

/// A connection's socket with its slot: the slot is free again when the socket closes, whoever
/// holds it then (hyper, or a WebSocket task after an upgrade).
pub(crate) struct Counted {
    pub(crate) stream: TcpStream,
    pub(crate) _slot: OwnedSemaphorePermit,
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_oldest_idle_connection_is_evicted_and_busy_ones_never() {
        let registry = Arc::new(Registry::default());
        let first = registry.register();
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let second = registry.register();
        let third = registry.register();
        third.mark.busy();
        assert!(registry.evict_oldest_idle());
        assert!(first.evict.is_cancelled() && !second.evict.is_cancelled());
        assert!(registry.evict_oldest_idle());
        assert!(second.evict.is_cancelled());
        assert!(!registry.evict_oldest_idle(), "only a busy one is left");
        assert!(!third.evict.is_cancelled());
        third.mark.idle();
        drop(first);
        assert!(registry.evict_oldest_idle());
        assert!(third.evict.is_cancelled());
        assert_eq!(registry.lock().open.len(), 2);
    }
}
