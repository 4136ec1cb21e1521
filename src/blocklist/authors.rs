//! Remote authors (P2P PeerIds, feed names) interned as 16-bit ids, so an entry keeps up to
//! [`MAX_TRACKED_AUTHORS`] of them in 8 bytes. The table is bounded: past [`MAX_AUTHORS`] names
//! (or for a name longer than [`MAX_AUTHOR_NAME_BYTES`]) an event still counts, but not as an
//! author, which can only keep a key *out* of a verdict (quorums need distinct authors).

use std::collections::HashMap;
use std::num::NonZeroU16;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

/// Distinct authors an entry records; a fifth and later one only sets a flag ("more"). Quorums
/// above this cannot be told apart, so `peer_quorum` is capped at `MAX_TRACKED_AUTHORS + 1`.
pub const MAX_TRACKED_AUTHORS: usize = 4;

/// Author names the table holds (ids are 16 bits, 0 = empty slot): about 6 MiB at most.
pub const MAX_AUTHORS: usize = u16::MAX as usize;

/// Longest author name kept (a libp2p PeerId in base58 is 52 characters).
pub const MAX_AUTHOR_NAME_BYTES: usize = 128;

/// An interned author name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AuthorId(NonZeroU16);

impl AuthorId {
    /// The id from its raw value.
    pub(crate) fn from_raw(raw: NonZeroU16) -> Self {
        Self(raw)
    }

    /// The raw value (never 0).
    pub(crate) fn get(self) -> u16 {
        self.0.get()
    }
}

/// The distinct remote authors of a key, as the entry keeps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AuthorSet {
    ids: [u16; MAX_TRACKED_AUTHORS],
    more: bool,
}

impl AuthorSet {
    /// The set of raw `ids` (0 = empty), `more` when further authors were seen.
    pub(crate) fn new(ids: [u16; MAX_TRACKED_AUTHORS], more: bool) -> Self {
        Self { ids, more }
    }

    /// The authors recorded, in the order they first reported the key.
    pub fn ids(&self) -> impl Iterator<Item = AuthorId> + '_ {
        self.ids
            .iter()
            .filter_map(|raw| NonZeroU16::new(*raw).map(AuthorId))
    }

    /// Whether more authors reported the key than are recorded.
    pub fn has_more(&self) -> bool {
        self.more
    }

    /// A lower bound of the number of distinct authors: exact up to [`MAX_TRACKED_AUTHORS`].
    pub fn distinct_at_least(&self) -> usize {
        self.ids().count() + usize::from(self.more)
    }

    /// Whether `id` is recorded.
    pub fn contains(&self, id: AuthorId) -> bool {
        self.ids.contains(&id.get())
    }
}

/// The author table.
#[derive(Default)]
pub(crate) struct Authors {
    names: RwLock<Names>,
    /// Names not interned (table full or name too long).
    refused: AtomicU64,
}

#[derive(Default)]
struct Names {
    ids: HashMap<Arc<str>, AuthorId>,
    by_id: Vec<Arc<str>>,
}

/// Counts only: the names are up to [`MAX_AUTHORS`] strings from outside.
impl std::fmt::Debug for Authors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authors")
            .field("names", &self.len())
            .field("refused", &self.refused())
            .finish()
    }
}

impl Authors {
    /// The id of `name`, added when new; `None` (counted) when the table is full or the name
    /// is too long or empty.
    pub(crate) fn intern(&self, name: &str) -> Option<AuthorId> {
        if let Some(id) = self.read().ids.get(name) {
            return Some(*id);
        }
        if name.is_empty() || name.len() > MAX_AUTHOR_NAME_BYTES {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        let mut names = self.names.write().unwrap_or_else(PoisonError::into_inner);
        if let Some(id) = names.ids.get(name) {
            return Some(*id);
        }
        let next = u16::try_from(names.by_id.len() + 1)
            .ok()
            .and_then(NonZeroU16::new);
        let Some(raw) = next.filter(|_| names.by_id.len() < MAX_AUTHORS) else {
            self.refused.fetch_add(1, Ordering::Relaxed);
            return None;
        };
        let name: Arc<str> = name.into();
        names.by_id.push(Arc::clone(&name));
        names.ids.insert(name, AuthorId(raw));
        Some(AuthorId(raw))
    }

    /// The name of `id`.
    pub(crate) fn name(&self, id: AuthorId) -> Option<Arc<str>> {
        self.read().by_id.get(usize::from(id.get() - 1)).cloned()
    }

    /// Names refused so far.
    pub(crate) fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Names held.
    pub(crate) fn len(&self) -> usize {
        self.read().by_id.len()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Names> {
        self.names.read().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_intern_to_stable_ids() {
        let authors = Authors::default();
        let a = authors.intern("12D3KooWA").expect("room");
        let b = authors.intern("opendht").expect("room");
        assert_ne!(a, b);
        assert_eq!(authors.intern("12D3KooWA"), Some(a));
        assert_eq!(authors.name(b).as_deref(), Some("opendht"));
        assert_eq!(authors.len(), 2);
    }

    #[test]
    fn the_table_is_bounded_and_refusals_are_counted() {
        let authors = Authors::default();
        assert_eq!(authors.intern(""), None);
        assert_eq!(authors.intern(&"x".repeat(MAX_AUTHOR_NAME_BYTES + 1)), None);
        for n in 0..MAX_AUTHORS {
            assert!(authors.intern(&n.to_string()).is_some());
        }
        assert_eq!(authors.intern("one too many"), None);
        assert_eq!(authors.intern("0").map(AuthorId::get), Some(1));
        assert_eq!(authors.refused(), 3);
        assert_eq!(authors.len(), MAX_AUTHORS);
    }
}
