//! The threads the store writer starts beside itself (the checkpointer, the reaper): each
//! [`BACKGROUND_NICENESS`](crate::thread_priority::BACKGROUND_NICENESS) nice steps below the
//! thread that starts it, with a channel whose sending end it keeps, and stopped and joined when
//! dropped: the channel closes first, which ends the thread's loop.

use std::io;
use std::thread::{self, JoinHandle};

use tracing::warn;

/// A helper thread and the sending end of its channel.
#[derive(Debug)]
pub(super) struct HelperThread<S> {
    name: &'static str,
    channel: Option<S>,
    thread: Option<JoinHandle<()>>,
}

impl<S> HelperThread<S> {
    /// Runs `body` on a thread named `name`; `channel` is the sending end of the channel `body`
    /// reads until it closes.
    ///
    /// # Errors
    ///
    /// The OS could not start the thread.
    pub(super) fn spawn(
        name: &'static str,
        channel: S,
        body: impl FnOnce() + Send + 'static,
    ) -> io::Result<Self> {
        let thread = thread::Builder::new().name(name.into()).spawn(move || {
            crate::thread_priority::lower_current_thread(
                crate::thread_priority::BACKGROUND_NICENESS,
            );
            body();
        })?;
        Ok(Self {
            name,
            channel: Some(channel),
            thread: Some(thread),
        })
    }

    /// The sending end of the thread's channel.
    pub(super) fn channel(&self) -> Option<&S> {
        self.channel.as_ref()
    }
}

impl<S> Drop for HelperThread<S> {
    fn drop(&mut self) {
        drop(self.channel.take());
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            warn!(thread = self.name, "a store helper thread panicked");
        }
    }
}
