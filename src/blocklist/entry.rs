//! One key's facts in the live table (32 bytes: times in whole seconds, counts saturating at
//! `u32::MAX`), how an observation updates them, and [`EntryView`], their public copy.

use std::num::NonZeroU16;

use jiff::Timestamp;

use super::authors::{AuthorId, AuthorSet, MAX_TRACKED_AUTHORS};
use super::reasons::Reasons;
use crate::event::Transport;
use crate::sip::AttackType;

/// `Entry::flags`: the source proved it receives our replies.
const PROVEN: u8 = 1;
/// `Entry::flags`: more distinct peer authors reported the key than `authors` holds.
const MORE_AUTHORS: u8 = 2;

/// Who saw an observed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObservedOrigin<'a> {
    /// This node's listeners.
    Local {
        /// The transport it came on.
        transport: Transport,
        /// Whether this event proved that the source receives our replies: it echoed our
        /// challenge's nonce or our To-tag. A TCP or TLS event is proof by itself (the
        /// handshake cannot be completed from a spoofed address), whatever this says.
        proven: bool,
    },
    /// Another node or feed, named by its author: a P2P PeerId, or a feed's name such as
    /// `opendht` (feeds without signatures are one author each, so they count only through
    /// trust or a quorum like any peer).
    Remote {
        /// The author's name.
        author: &'a str,
    },
}

/// The interned form of [`ObservedOrigin`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    /// Seen here, on a transport (its bit), with or without proof.
    Local { transport_bit: u8, proven: bool },
    /// Reported by an author (`None` when the author table was full or the name too long).
    Remote { author: Option<AuthorId> },
}

/// One event, ready to apply to an entry.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Update {
    /// When it happened, in seconds ([`to_seconds`]).
    pub(crate) at: u32,
    /// Its attack type's bit.
    pub(crate) attack_bit: u8,
    /// Who saw it.
    pub(crate) side: Side,
}

/// A key's facts in the live table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry {
    /// Oldest event, seconds.
    first: u32,
    /// Newest local event, seconds; 0 when none.
    local_last: u32,
    /// Newest remote event, seconds; 0 when none.
    remote_last: u32,
    /// Local events, saturating.
    local_count: u32,
    /// Remote events, saturating.
    remote_count: u32,
    /// Distinct remote authors, 0 = empty slot.
    authors: [u16; MAX_TRACKED_AUTHORS],
    /// `AttackType::bit`s seen.
    attack_types: u8,
    /// Bits `1 << Transport::index()` of local events.
    transports: u8,
    /// [`PROVEN`], [`MORE_AUTHORS`].
    flags: u8,
}

impl Entry {
    /// The entry of a key's first event.
    pub(crate) fn new(update: &Update) -> Self {
        let mut entry = Self {
            first: update.at,
            local_last: 0,
            remote_last: 0,
            local_count: 0,
            remote_count: 0,
            authors: [0; MAX_TRACKED_AUTHORS],
            attack_types: 0,
            transports: 0,
            flags: 0,
        };
        entry.apply(update, &[]);
        entry
    }

    /// An entry with the given facts (for loading from the database).
    pub(crate) fn loaded(view: &EntryView) -> Self {
        let last = |at: Option<Timestamp>, count: u32| match (at, count) {
            (_, 0) => 0,
            (Some(at), _) => to_seconds(at),
            (None, _) => to_seconds(view.last_seen),
        };
        let mut authors = [0; MAX_TRACKED_AUTHORS];
        for (slot, id) in authors.iter_mut().zip(view.authors.ids()) {
            *slot = id.get();
        }
        let mut flags = if view.proven { PROVEN } else { 0 };
        if view.authors.has_more() {
            flags |= MORE_AUTHORS;
        }
        Self {
            first: to_seconds(view.first_seen),
            local_last: last(view.local_last_seen, view.local_count),
            remote_last: last(view.remote_last_seen, view.remote_count),
            local_count: view.local_count,
            remote_count: view.remote_count,
            authors,
            attack_types: view.attack_types,
            transports: view.transports,
            flags,
        }
    }

    /// Adds `other`'s facts (the same key loaded twice).
    pub(crate) fn merge(&mut self, other: &Self) {
        self.first = self.first.min(other.first);
        self.local_last = self.local_last.max(other.local_last);
        self.remote_last = self.remote_last.max(other.remote_last);
        self.local_count = self.local_count.saturating_add(other.local_count);
        self.remote_count = self.remote_count.saturating_add(other.remote_count);
        for id in other.authors.iter().filter_map(|raw| NonZeroU16::new(*raw)) {
            self.add_author(AuthorId::from_raw(id));
        }
        self.attack_types |= other.attack_types;
        self.transports |= other.transports;
        self.flags |= other.flags;
    }

    /// Newest event, seconds (what expiry and eviction go by).
    pub(crate) fn last(&self) -> u32 {
        self.local_last.max(self.remote_last)
    }

    /// Counts one event and says which verdict-relevant facts changed: the attack type, the
    /// origin (first local event, first remote event, a new author), proof, or a count
    /// (local, remote or their sum) reaching one of `thresholds`.
    pub(crate) fn apply(&mut self, update: &Update, thresholds: &[u32]) -> Reasons {
        let mut reasons = Reasons::NONE;
        self.first = self.first.min(update.at);
        if self.attack_types & update.attack_bit == 0 {
            self.attack_types |= update.attack_bit;
            reasons |= Reasons::ATTACK_TYPE;
        }
        let side_count = match update.side {
            Side::Local {
                transport_bit,
                proven,
            } => {
                if self.local_count == 0 {
                    reasons |= Reasons::ORIGIN;
                }
                self.transports |= transport_bit;
                if proven && self.flags & PROVEN == 0 {
                    self.flags |= PROVEN;
                    reasons |= Reasons::PROVEN;
                }
                self.local_last = self.local_last.max(update.at);
                self.local_count = self.local_count.saturating_add(1);
                self.local_count
            }
            Side::Remote { author } => {
                let new_author = author.is_some_and(|id| self.add_author(id));
                if self.remote_count == 0 || new_author {
                    reasons |= Reasons::ORIGIN;
                }
                self.remote_last = self.remote_last.max(update.at);
                self.remote_count = self.remote_count.saturating_add(1);
                self.remote_count
            }
        };
        let total = self.local_count.saturating_add(self.remote_count);
        if [side_count, total]
            .iter()
            .any(|count| thresholds.binary_search(count).is_ok())
        {
            reasons |= Reasons::COUNT_THRESHOLD;
        }
        reasons
    }

    /// Adds an author; whether it was new (a fifth and later author only sets the overflow
    /// flag, once).
    fn add_author(&mut self, id: AuthorId) -> bool {
        let id = id.get();
        if self.authors.contains(&id) {
            return false;
        }
        if let Some(slot) = self.authors.iter_mut().find(|slot| **slot == 0) {
            *slot = id;
            return true;
        }
        let new = self.flags & MORE_AUTHORS == 0;
        self.flags |= MORE_AUTHORS;
        new
    }

    /// The public copy.
    pub(crate) fn view(&self) -> EntryView {
        let at = |seconds: u32| (seconds != 0).then(|| from_seconds(seconds));
        EntryView {
            first_seen: from_seconds(self.first),
            last_seen: from_seconds(self.last()),
            local_count: self.local_count,
            local_last_seen: at(self.local_last),
            remote_count: self.remote_count,
            remote_last_seen: at(self.remote_last),
            attack_types: self.attack_types,
            transports: self.transports,
            proven: self.flags & PROVEN != 0,
            authors: AuthorSet::new(self.authors, self.flags & MORE_AUTHORS != 0),
        }
    }
}

/// What the blocklist knows about one key, to whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryView {
    /// Oldest event.
    pub first_seen: Timestamp,
    /// Newest event, local or remote.
    pub last_seen: Timestamp,
    /// Events this node captured (saturates at `u32::MAX`; the database's counters do not).
    pub local_count: u32,
    /// Newest event this node captured.
    pub local_last_seen: Option<Timestamp>,
    /// Events reported by peers and feeds (saturating).
    pub remote_count: u32,
    /// Newest reported event.
    pub remote_last_seen: Option<Timestamp>,
    /// Attack types seen, as `AttackType::bit`s.
    pub attack_types: u8,
    /// Transports of local events, as bits `1 << Transport::index()` (for a number: the
    /// transports it was dialled over).
    pub transports: u8,
    /// Whether the source proved it receives our replies (IPs only).
    pub proven: bool,
    /// Distinct remote authors.
    pub authors: AuthorSet,
}

impl EntryView {
    /// All events, local and remote (saturating).
    pub fn count(&self) -> u64 {
        u64::from(self.local_count) + u64::from(self.remote_count)
    }

    /// The attack types seen.
    pub fn attack_types(&self) -> impl Iterator<Item = AttackType> {
        AttackType::in_bits(self.attack_types)
    }

    /// Whether a local event came on `transport`.
    pub fn seen_on(&self, transport: Transport) -> bool {
        self.transports & transport_bit(transport) != 0
    }
}

/// A transport's bit in [`EntryView::transports`].
pub fn transport_bit(transport: Transport) -> u8 {
    1 << transport.index()
}

/// A time as the live table keeps it: whole seconds since the Unix epoch, clamped to
/// `1..=u32::MAX` (1970 to 2106; 0 means "never").
pub(crate) fn to_seconds(at: Timestamp) -> u32 {
    u32::try_from(at.as_second().max(1)).unwrap_or(u32::MAX)
}

/// The time of [`to_seconds`]' value.
pub(crate) fn from_seconds(seconds: u32) -> Timestamp {
    Timestamp::from_second(i64::from(seconds)).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local(at: u32, proven: bool) -> Update {
        Update {
            at,
            attack_bit: AttackType::Scan.bit(),
            side: Side::Local {
                transport_bit: transport_bit(Transport::Udp),
                proven,
            },
        }
    }

    fn remote(at: u32, author: u16) -> Update {
        Update {
            at,
            attack_bit: AttackType::Scan.bit(),
            side: Side::Remote {
                author: NonZeroU16::new(author).map(AuthorId::from_raw),
            },
        }
    }

    #[test]
    fn the_entry_fits_in_32_bytes() {
        assert_eq!(size_of::<Entry>(), 32);
    }

    #[test]
    fn each_verdict_relevant_fact_is_reported_once() {
        let mut entry = Entry::new(&local(100, false));
        assert_eq!(entry.apply(&local(101, false), &[]), Reasons::NONE);
        let mut call = local(102, false);
        call.attack_bit = AttackType::CallAttempt.bit();
        assert_eq!(entry.apply(&call, &[]), Reasons::ATTACK_TYPE);
        assert_eq!(entry.apply(&call, &[]), Reasons::NONE);
        assert_eq!(entry.apply(&local(103, true), &[]), Reasons::PROVEN);
        assert_eq!(entry.apply(&local(103, true), &[]), Reasons::NONE);
        assert_eq!(entry.apply(&remote(104, 7), &[]), Reasons::ORIGIN);
        assert_eq!(entry.apply(&remote(104, 7), &[]), Reasons::NONE);
        assert_eq!(entry.apply(&remote(104, 8), &[]), Reasons::ORIGIN);
        let view = entry.view();
        assert_eq!(
            (view.local_count, view.remote_count, view.count()),
            (6, 3, 9)
        );
        assert!(view.proven && view.seen_on(Transport::Udp) && !view.seen_on(Transport::Tcp));
        assert_eq!(
            view.authors.ids().map(AuthorId::get).collect::<Vec<_>>(),
            [7, 8]
        );
    }

    #[test]
    fn thresholds_fire_when_a_side_or_the_total_reaches_them() {
        let thresholds = [2, 5];
        let mut entry = Entry::new(&local(1, false));
        assert!(
            entry
                .apply(&local(1, false), &thresholds)
                .contains(Reasons::COUNT_THRESHOLD)
        );
        for _ in 0..2 {
            assert!(
                !entry
                    .apply(&local(1, false), &thresholds)
                    .contains(Reasons::COUNT_THRESHOLD)
            );
        }
        // local 4 + remote 1 = 5: the total reaches 5.
        let reasons = entry.apply(&remote(1, 3), &thresholds);
        assert!(reasons.contains(Reasons::COUNT_THRESHOLD | Reasons::ORIGIN));
        // remote 2 reaches 2.
        assert!(
            entry
                .apply(&remote(1, 3), &thresholds)
                .contains(Reasons::COUNT_THRESHOLD)
        );
    }

    #[test]
    fn a_fifth_author_sets_the_overflow_flag_once() {
        let mut entry = Entry::new(&remote(1, 1));
        for author in 2..=4 {
            assert_eq!(entry.apply(&remote(1, author), &[]), Reasons::ORIGIN);
        }
        assert!(!entry.view().authors.has_more());
        assert_eq!(entry.apply(&remote(1, 5), &[]), Reasons::ORIGIN);
        assert_eq!(entry.apply(&remote(1, 6), &[]), Reasons::NONE);
        let authors = entry.view().authors;
        assert!(authors.has_more());
        assert_eq!(authors.distinct_at_least(), 5);
        // An author the table could not intern counts as an event, not as an author.
        assert_eq!(entry.apply(&remote(1, 0), &[]), Reasons::NONE);
    }

    #[test]
    fn times_keep_first_and_newest_per_side() {
        let mut entry = Entry::new(&local(500, false));
        entry.apply(&local(400, false), &[]);
        entry.apply(&remote(450, 1), &[]);
        let view = entry.view();
        assert_eq!(view.first_seen.as_second(), 400);
        assert_eq!(view.last_seen.as_second(), 500);
        assert_eq!(view.local_last_seen.map(|at| at.as_second()), Some(500));
        assert_eq!(view.remote_last_seen.map(|at| at.as_second()), Some(450));
        assert_eq!(Entry::loaded(&view), entry);
    }

    #[test]
    fn counts_saturate() {
        let mut entry = Entry::new(&local(1, false));
        entry.local_count = u32::MAX;
        entry.apply(&local(2, false), &[u32::MAX]);
        assert_eq!(entry.view().local_count, u32::MAX);
    }

    #[test]
    fn seconds_clamp_to_the_representable_range() {
        assert_eq!(to_seconds(Timestamp::UNIX_EPOCH), 1);
        assert_eq!(to_seconds(Timestamp::MIN), 1);
        assert_eq!(to_seconds(Timestamp::MAX), u32::MAX);
        let at = Timestamp::from_second(1_700_000_000).expect("valid");
        assert_eq!(from_seconds(to_seconds(at)), at);
    }
}
