//! Frees stored batches off the writer's thread: a batch's events are the last references to
//! their records, and freeing them (a dozen allocations per event) took 7% of the writer's time
//! under a 50,000/s flood (profile of `bench/run.sh --only persist`), time the writer then did
//! not spend storing. A thread below the writer's priority takes the batches over a short
//! queue; when that queue is full (the thread did not get the CPU), or the thread could not be
//! started, the writer frees the batch itself, so nothing waits and nothing grows.

use std::sync::Arc;
use std::sync::mpsc::{self, SyncSender};

use tracing::warn;

use crate::event::BadActor;
use crate::store::helper_thread::HelperThread;

/// Batches waiting to be freed: one (up to 8 MiB of events, see `writer::BATCH_MAX_BYTES`), so
/// the reaper holds at most two batches' memory.
const QUEUED_BATCHES: usize = 1;

/// The reaper thread (`None`: it could not be started); stopped (after freeing what it was
/// given) and joined when dropped.
#[derive(Debug)]
pub(super) struct Reaper {
    thread: Option<HelperThread<SyncSender<Vec<Arc<BadActor>>>>>,
}

impl Reaper {
    /// Starts the thread, [`BACKGROUND_NICENESS`](crate::thread_priority::BACKGROUND_NICENESS)
    /// nice steps below its caller (the writer, itself that far below capture: so the lowest
    /// priority there is); without it, [`Reaper::free`] frees on the caller's thread.
    pub(super) fn start() -> Self {
        let (batches, taken) = mpsc::sync_channel::<Vec<Arc<BadActor>>>(QUEUED_BATCHES);
        let thread = HelperThread::spawn("store-reaper", batches, move || {
            for batch in taken {
                drop(batch);
            }
        });
        match thread {
            Ok(thread) => Self {
                thread: Some(thread),
            },
            Err(err) => {
                warn!(error = %err, "no reaper thread: the store writer frees its batches itself");
                Self { thread: None }
            }
        }
    }

    /// Hands `batch` to the thread, or frees it here when the thread is busy or absent.
    pub(super) fn free(&self, batch: Vec<Arc<BadActor>>) {
        if let Some(batches) = self.thread.as_ref().and_then(HelperThread::channel) {
            // A full queue or a stopped thread hands the batch back in the error: freed here.
            let _ = batches.try_send(batch);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_support::EventBuilder;

    #[test]
    fn every_batch_is_freed_by_the_time_the_reaper_is_dropped() {
        let event = Arc::new(EventBuilder::new().build());
        let reaper = Reaper::start();
        for _ in 0..(QUEUED_BATCHES * 3) {
            reaper.free(vec![Arc::clone(&event); 10]);
        }
        drop(reaper);
        assert_eq!(
            Arc::strong_count(&event),
            1,
            "only the test's own reference is left"
        );
    }
}
