//! Blocklist feeds that existing tools read as they are: plain text (one IP or number per line),
//! `ipset restore` input and an `nft -f` file. They list the live blocklist's keys that the
//! feeds' verdict policy (`[verdicts.feeds]`) makes verdicts, never reading SQLite, in no
//! particular order; all take `since`, `min_seen_count`, `origin` and `transport`, and stream,
//! so a feed of any size never builds one string in memory.

use std::net::IpAddr;
use std::ops::ControlFlow;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use jiff::Timestamp;

use super::body::{ChunkSender, ClientGone, TEXT, streamed_blocking};
use super::params::{Params, bad};
use super::{ApiError, ApiState};
use crate::blocklist::{AuthorId, Blocklist, EntryView, Policy, Verdict};
use crate::event::{OPENDHT_ORIGIN, Transport};
use crate::store::query::OriginFilter;

/// Elements per `add element` statement in the nftables feed.
const NFT_ELEMENTS_PER_STATEMENT: usize = 512;
/// Longest set or table name accepted (ipset allows 31 bytes, with room for our suffixes).
const MAX_NAME_LENGTH: usize = 20;

pub(crate) fn routes() -> Router<Arc<ApiState>> {
    Router::new()
        .route("/api/v1/feeds/ips.txt", get(ips_text))
        .route("/api/v1/feeds/numbers.txt", get(numbers_text))
        .route("/api/v1/feeds/ipset", get(ipset))
        .route("/api/v1/feeds/nftables", get(nftables))
}

type RawQuery = Result<Query<Vec<(String, String)>>, QueryRejection>;

/// What a feed request keeps of the policy's verdicts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FeedFilter {
    /// Newest counted event at or after this (whole seconds, as the blocklist keeps times).
    since: Option<i64>,
    /// Counted events.
    min_seen_count: u64,
    /// `local` or `peer`: only keys whose events from that side count (the policy decides
    /// whether peers' do), with that side's count and newest time.
    origin: OriginFilter,
    /// The blocklist's author of OpenDHT values (for `origin=opendht`).
    opendht_author: Option<AuthorId>,
    /// Only keys this node saw over this transport (for numbers: dialled over it).
    transport: Option<Transport>,
}

impl FeedFilter {
    /// `since`, `min_seen_count`, `origin`, `transport`.
    pub(crate) fn take(params: &mut Params, blocklist: &Blocklist) -> Result<Self, ApiError> {
        Ok(Self {
            origin: params.origin()?,
            opendht_author: blocklist.author_id(OPENDHT_ORIGIN),
            since: params.since_time()?.map(|at| at.as_second()),
            min_seen_count: params.unsigned("min_seen_count")?.unwrap_or(0),
            transport: params.transport_kind()?,
        })
    }

    /// Whether `verdict` (on a key whose facts are `entry`) is listed.
    fn keeps(&self, verdict: &Verdict, entry: &EntryView) -> bool {
        let side = match self.origin {
            OriginFilter::Any => Some((verdict.count, verdict.last_seen)),
            OriginFilter::Local => verdict.local.then(|| {
                let last = entry.local_last_seen.unwrap_or(entry.last_seen);
                (u64::from(entry.local_count), last)
            }),
            OriginFilter::Peer => verdict.remote.then(|| {
                let last = entry.remote_last_seen.unwrap_or(entry.last_seen);
                (u64::from(entry.remote_count), last)
            }),
            // Values from the OpenDHT community reach the list only when they count toward
            // verdicts (`--opendht-verdicts`), as reports of the one author `opendht`.
            OriginFilter::OpenDht => (verdict.remote
                && self
                    .opendht_author
                    .is_some_and(|author| entry.authors.contains(author)))
            .then(|| {
                let last = entry.remote_last_seen.unwrap_or(entry.last_seen);
                (u64::from(entry.remote_count), last)
            }),
        };
        side.is_some_and(|(count, last_seen)| {
            count >= self.min_seen_count
                && self
                    .since
                    .is_none_or(|since| last_seen.as_second() >= since)
                && self
                    .transport
                    .is_none_or(|transport| entry.seen_on(transport))
        })
    }
}

/// Calls `write` with each IP the feeds list, until it fails (the client went away).
fn each_listed_ip(
    state: &ApiState,
    filter: FeedFilter,
    mut write: impl FnMut(IpAddr) -> Result<(), ClientGone>,
) -> Result<(), ClientGone> {
    let now = Timestamp::now();
    let policy: &Policy = &state.feeds_policy;
    write_listed(
        |visit| state.blocklist.for_each_ip(|ip, entry| visit(&ip, entry)),
        |ip, entry| {
            policy
                .decide_ip(*ip, entry, now)
                .is_ok_and(|verdict| filter.keeps(&verdict, entry))
        },
        |ip| write(*ip),
    )
}

/// Calls `write` with each number the feeds list, until it fails.
fn each_listed_number(
    state: &ApiState,
    filter: FeedFilter,
    write: impl FnMut(&str) -> Result<(), ClientGone>,
) -> Result<(), ClientGone> {
    let now = Timestamp::now();
    let policy: &Policy = &state.feeds_policy;
    write_listed(
        |visit| state.blocklist.for_each_number(visit),
        |number, entry| {
            policy
                .decide_number(number, entry, now)
                .is_ok_and(|verdict| filter.keeps(&verdict, entry))
        },
        write,
    )
}

/// Walks the list with `walk`, writing each key `listed` keeps, until a write fails.
fn write_listed<K: ?Sized>(
    walk: impl FnOnce(&mut dyn FnMut(&K, EntryView) -> ControlFlow<()>),
    listed: impl Fn(&K, &EntryView) -> bool,
    mut write: impl FnMut(&K) -> Result<(), ClientGone>,
) -> Result<(), ClientGone> {
    let mut result = Ok(());
    walk(&mut |key, entry| {
        if listed(key, &entry)
            && let Err(error) = write(key)
        {
            result = Err(error);
            return ControlFlow::Break(());
        }
        ControlFlow::Continue(())
    });
    result
}

/// A feed's query: the filter, then what `more` takes; unknown parameters are refused.
fn feed_params<T>(
    state: &ApiState,
    query: RawQuery,
    more: impl FnOnce(&mut Params) -> Result<T, ApiError>,
) -> Result<(FeedFilter, T), ApiError> {
    let mut params = Params::new(query)?;
    let filter = FeedFilter::take(&mut params, &state.blocklist)?;
    let extra = more(&mut params)?;
    params.finish()?;
    Ok((filter, extra))
}

/// `ips.txt`: one IP per line.
async fn ips_text(
    State(state): State<Arc<ApiState>>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (filter, ()) = feed_params(&state, query, |_| Ok(()))?;
    Ok(streamed_blocking(TEXT, move |out| {
        each_listed_ip(&state, filter, |ip| out.write_blocking(&format!("{ip}\n")))
    }))
}

/// `numbers.txt`: one number per line.
async fn numbers_text(
    State(state): State<Arc<ApiState>>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (filter, ()) = feed_params(&state, query, |_| Ok(()))?;
    Ok(streamed_blocking(TEXT, move |out| {
        each_listed_number(&state, filter, |number| {
            out.write_blocking(&format!("{number}\n"))
        })
    }))
}

/// A set or table name from the query: letters, digits, `_` and `-`.
fn name_param(params: &mut Params, name: &str, default: &str) -> Result<String, ApiError> {
    let value = params.take(name).unwrap_or_else(|| default.to_owned());
    let valid = !value.is_empty()
        && value.len() <= MAX_NAME_LENGTH
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(value)
    } else {
        Err(bad(
            name,
            &format!("1 to {MAX_NAME_LENGTH} letters, digits, _ or -"),
        ))
    }
}

/// `ipset restore` input that replaces the sets `<set>-v4` and `<set>-v6` atomically: fills
/// `<set>-v4-new`, swaps it in, destroys the old one.
///
/// ```text
/// create sentrypeer-v4 hash:ip family inet maxelem 1048576 -exist
/// create sentrypeer-v4-new hash:ip family inet maxelem 1048576 -exist
/// flush sentrypeer-v4-new
/// … same for -v6 with family inet6 …
/// add sentrypeer-v4-new 192.0.2.7
/// add sentrypeer-v6-new 2001:db8::7
/// swap sentrypeer-v4-new sentrypeer-v4
/// destroy sentrypeer-v4-new
/// … same for -v6 …
/// ```
pub(crate) async fn ipset(
    State(state): State<Arc<ApiState>>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (filter, set) = feed_params(&state, query, |params| {
        name_param(params, "set", "sentrypeer")
    })?;
    Ok(streamed_blocking(TEXT, move |out| {
        write_ipset(&state, filter, &set, out)
    }))
}

fn write_ipset(
    state: &ApiState,
    filter: FeedFilter,
    set: &str,
    out: &mut ChunkSender,
) -> Result<(), ClientGone> {
    for (suffix, family) in [("v4", "inet"), ("v6", "inet6")] {
        for name in [format!("{set}-{suffix}"), format!("{set}-{suffix}-new")] {
            out.write_blocking(&format!(
                "create {name} hash:ip family {family} maxelem 1048576 -exist\n"
            ))?;
        }
        out.write_blocking(&format!("flush {set}-{suffix}-new\n"))?;
    }
    each_listed_ip(state, filter, |ip| {
        let suffix = if ip.is_ipv4() { "v4" } else { "v6" };
        out.write_blocking(&format!("add {set}-{suffix}-new {ip} -exist\n"))
    })?;
    for suffix in ["v4", "v6"] {
        out.write_blocking(&format!(
            "swap {set}-{suffix}-new {set}-{suffix}\ndestroy {set}-{suffix}-new\n"
        ))?;
    }
    Ok(())
}

/// An `nft -f` file that (re)creates table `inet <table>` with sets `<set>_v4` and `<set>_v6` and
/// replaces their elements in one transaction. Use them from your own rules, e.g.
/// `ip saddr @sentrypeer_v4 drop`.
async fn nftables(
    State(state): State<Arc<ApiState>>,
    query: RawQuery,
) -> Result<Response, ApiError> {
    let (filter, (table, set)) = feed_params(&state, query, |params| {
        let table = name_param(params, "table", "sentrypeer")?;
        Ok((table, name_param(params, "set", "sentrypeer")?))
    })?;
    Ok(streamed_blocking(TEXT, move |out| {
        write_nftables(&state, filter, &table, &set, out)
    }))
}

fn write_nftables(
    state: &ApiState,
    filter: FeedFilter,
    table: &str,
    set: &str,
    out: &mut ChunkSender,
) -> Result<(), ClientGone> {
    out.write_blocking(&format!(
        "table inet {table} {{\n\tset {set}_v4 {{\n\t\ttype ipv4_addr\n\t}}\n\tset {set}_v6 {{\n\t\ttype ipv6_addr\n\t}}\n}}\n\
         flush set inet {table} {set}_v4\nflush set inet {table} {set}_v6\n"
    ))?;
    let mut pending: [Vec<IpAddr>; 2] = [Vec::new(), Vec::new()];
    let statement = |family: usize, elements: &[IpAddr]| {
        let elements: Vec<String> = elements.iter().map(IpAddr::to_string).collect();
        format!(
            "add element inet {table} {set}_{} {{ {} }}\n",
            if family == 0 { "v4" } else { "v6" },
            elements.join(", ")
        )
    };
    each_listed_ip(state, filter, |ip| {
        let family = usize::from(ip.is_ipv6());
        pending[family].push(ip);
        if pending[family].len() < NFT_ELEMENTS_PER_STATEMENT {
            return Ok(());
        }
        let text = statement(family, &pending[family]);
        pending[family].clear();
        out.write_blocking(&text)
    })?;
    for (family, elements) in pending.iter().enumerate() {
        if !elements.is_empty() {
            out.write_blocking(&statement(family, elements))?;
        }
    }
    Ok(())
}
