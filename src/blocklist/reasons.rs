//! Which verdict-relevant facts of a key an update changed: a small set carried by each
//! `Updated` change of the stream, so consumers know why without comparing entries.

use std::ops::{BitOr, BitOrAssign};

/// Which facts an `Updated` change (see `ChangeKind`) changed (a set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Reasons(u8);

impl Reasons {
    /// Nothing.
    pub const NONE: Self = Self(0);
    /// A count (local, remote, or both together) reached one of the configured thresholds.
    pub const COUNT_THRESHOLD: Self = Self(1);
    /// An attack type not seen before for this key.
    pub const ATTACK_TYPE: Self = Self(2);
    /// A new origin: first local event, first remote event, or a new remote author.
    pub const ORIGIN: Self = Self(4);
    /// The source proved it receives our replies.
    pub const PROVEN: Self = Self(8);

    const NAMES: [(Self, &'static str); 4] = [
        (Self::COUNT_THRESHOLD, "count_threshold"),
        (Self::ATTACK_TYPE, "attack_type"),
        (Self::ORIGIN, "origin"),
        (Self::PROVEN, "proven"),
    ];

    /// Whether every reason in `other` is in `self`.
    pub fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether there is none.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The names of the reasons in the set (`count_threshold`, `attack_type`, `origin`,
    /// `proven`).
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMES
            .into_iter()
            .filter(move |(reason, _)| self.contains(*reason))
            .map(|(_, name)| name)
    }
}

impl BitOr for Reasons {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl BitOrAssign for Reasons {
    fn bitor_assign(&mut self, other: Self) {
        self.0 |= other.0;
    }
}
