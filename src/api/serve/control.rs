//! What a long-lived response (`/api/v1/stream`) knows of its connection: when the server is
//! stopping, and how to close the connection at once.

use tokio_util::sync::CancellationToken;

/// A connection's controls, carried by each of its requests as an extension: when the server is
/// stopping (end the body, so the connection can close gracefully), and how to close the
/// connection at once (a client that stopped reading: a body nobody reads never ends, and hyper
/// stops polling it while the socket is full). The default is a connection nothing stops (tests
/// driving the router without a server).
#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionControl {
    stopping: CancellationToken,
    abort: CancellationToken,
}

impl ConnectionControl {
    /// Controls for a connection of a server that stops on `stopping`.
    pub(super) fn new(stopping: CancellationToken) -> Self {
        Self {
            stopping,
            abort: CancellationToken::new(),
        }
    }

    /// Waits until the server is stopping.
    pub(crate) async fn stopping(&self) {
        self.stopping.cancelled().await;
    }

    /// Closes the connection now, whatever is in flight on it.
    pub(crate) fn abort(&self) {
        self.abort.cancel();
    }

    /// Waits until a handler asked for the connection to close.
    pub(super) async fn aborted(&self) {
        self.abort.cancelled().await;
    }
}
