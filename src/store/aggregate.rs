//! The aggregate tables `ip_addresses` and `called_numbers`: one row per source IP and per called
//! phone number, written only from [`AggregateFlush`]es, and read back at start-up.
//!
//! # Where the rows come from
//!
//! In the daemon the live blocklist counts every event it observes, stored or shed, and the
//! writer pulls its coalesced changes ([`AggregateSource::take`]) every flush interval and once
//! more at shutdown, and writes each flush in one transaction of its own. So `seen_count` counts
//! every event received, including those the event queue shed before they became `honey` rows.
//! Without a source (tools, benchmarks, tests), the writer counts the events of each batch it
//! stores, in that batch's transaction: `seen_count` then counts stored events only.
//!
//! # What the counters mean
//!
//! A row lives from the first event of its key until retention finds its `last_seen` older than
//! the window. `seen_count` counts the key's events since that row was created, so for a key that
//! stays active within the window it keeps counting events that retention has already deleted
//! from `honey`. The local and peer halves follow the same rule on their own: retention resets
//! `local_count`/`local_last_seen` (or the peer pair) to 0/NULL when that side has been silent for
//! longer than the window. `attack_types` (for IPs and, since schema 7, numbers) is the set of
//! `AttackType::bit`s seen; `transports` the transports of local events (UDP 1, TCP 2, TLS 4);
//! `proven` whether a local event proved the source receives our replies (any TCP or TLS event
//! does; never for numbers); `peer_authors` a JSON array of up to [`MAX_ROW_AUTHORS`] peers that
//! reported the key, in the order they first did, and `more_peer_authors` whether more did.
//!
//! # Losslessness
//!
//! A flush once taken is the writer's to keep: written, or, when the write fails (disk full,
//! read-only file, I/O error), held and merged with the next flushes and tried again every
//! interval. While the store fails, the held rows are bounded by
//! [`MAX_PENDING_AGGREGATE_KEYS`] keys: rows of further new keys are dropped and counted
//! (`sentrypeer_aggregate_rows_lost_total`), and whatever is still held when the writer stops is
//! lost and counted the same way. Those keys stay in the live blocklist until it restarts.

mod load;
mod pending;
mod row;
mod stored;
mod write;

pub use load::{AggregateLoad, LOAD_CHUNK_ROWS, load_ips, load_numbers};
pub use row::{AggregateFlush, AggregateRow, AggregateSource, MAX_ROW_AUTHORS};

pub(crate) use pending::PendingRows;
pub(crate) use stored::parse_stored;
pub(crate) use write::{RowsWritten, write_rows};

/// Keys a failing store holds for a later write (about 200 MB at most; see the module docs).
pub const MAX_PENDING_AGGREGATE_KEYS: usize = 1 << 20;
