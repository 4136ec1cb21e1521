//! Whether anyone wants a consumer's events right now. A consumer registered with a [`Demand`]
//! (the live stream's feed) is offered events only while at least one [`Wanted`] guard of it
//! is held (a client following the events); events offered to nobody are not drops.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The count of those who want a consumer's events. Cheap to clone; clones share the count.
#[derive(Debug, Clone, Default)]
pub struct Demand(Arc<AtomicUsize>);

impl Demand {
    /// Wants the events until the guard is dropped.
    pub fn want(&self) -> Wanted {
        self.0.fetch_add(1, Ordering::AcqRel);
        Wanted(Arc::clone(&self.0))
    }

    /// Whether anyone wants them now.
    pub(super) fn is_wanted(&self) -> bool {
        self.0.load(Ordering::Acquire) > 0
    }
}

/// One who wants a consumer's events; dropping it says it no longer does.
#[derive(Debug)]
pub struct Wanted(Arc<AtomicUsize>);

impl Drop for Wanted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}
