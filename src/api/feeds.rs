//! Blocklist feeds that existing tools read as they are: plain text (one IP or number per line),
//! `ipset restore` input and an `nft -f` file. All take `since`, `min_seen_count` and `origin`,
//! and stream, so a feed of any size never builds one string in memory.

use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use rusqlite::Connection;

use super::body::{ChunkWriter, TEXT};
use super::params::{Params, bad};
use super::reader::{EACH_IP, EACH_NUMBER, EachRecord, write_records};
use super::{ApiError, ApiState};
use crate::store::query::ListFilter;

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

async fn ips_text(state: State<Arc<ApiState>>, query: RawQuery) -> Result<Response, ApiError> {
    text_feed(state, query, EACH_IP)
}

async fn numbers_text(state: State<Arc<ApiState>>, query: RawQuery) -> Result<Response, ApiError> {
    text_feed(state, query, EACH_NUMBER)
}

/// One key per line.
fn text_feed(
    State(state): State<Arc<ApiState>>,
    query: RawQuery,
    each: EachRecord,
) -> Result<Response, ApiError> {
    let mut params = Params::new(query)?;
    let filter = params.list_filter()?;
    params.finish()?;
    Ok(state.reader.stream(TEXT, move |conn, out| {
        write_records(
            out,
            |visit| each(conn, &filter, visit),
            |record, _| format!("{}\n", record.key),
        )
        .map(drop)
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
    let mut params = Params::new(query)?;
    let filter = params.list_filter()?;
    let set = name_param(&mut params, "set", "sentrypeer")?;
    params.finish()?;
    Ok(state
        .reader
        .stream(TEXT, move |conn, out| write_ipset(conn, &filter, &set, out)))
}

fn write_ipset(
    conn: &Connection,
    filter: &ListFilter,
    set: &str,
    out: &mut ChunkWriter,
) -> io::Result<()> {
    for (suffix, family) in [("v4", "inet"), ("v6", "inet6")] {
        for name in [format!("{set}-{suffix}"), format!("{set}-{suffix}-new")] {
            out.write(&format!(
                "create {name} hash:ip family {family} maxelem 1048576 -exist\n"
            ))?;
        }
        out.write(&format!("flush {set}-{suffix}-new\n"))?;
    }
    write_records(
        out,
        |visit| EACH_IP(conn, filter, visit),
        |record, _| match record.key.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => format!("add {set}-v4-new {} -exist\n", record.key),
            Ok(IpAddr::V6(_)) => format!("add {set}-v6-new {} -exist\n", record.key),
            Err(_) => String::new(),
        },
    )?;
    for suffix in ["v4", "v6"] {
        out.write(&format!(
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
    let mut params = Params::new(query)?;
    let filter = params.list_filter()?;
    let table = name_param(&mut params, "table", "sentrypeer")?;
    let set = name_param(&mut params, "set", "sentrypeer")?;
    params.finish()?;
    Ok(state.reader.stream(TEXT, move |conn, out| {
        write_nftables(conn, &filter, &table, &set, out)
    }))
}

fn write_nftables(
    conn: &Connection,
    filter: &ListFilter,
    table: &str,
    set: &str,
    out: &mut ChunkWriter,
) -> io::Result<()> {
    out.write(&format!(
        "table inet {table} {{\n\tset {set}_v4 {{\n\t\ttype ipv4_addr\n\t}}\n\tset {set}_v6 {{\n\t\ttype ipv6_addr\n\t}}\n}}\n\
         flush set inet {table} {set}_v4\nflush set inet {table} {set}_v6\n"
    ))?;
    let mut pending: [Vec<String>; 2] = [Vec::new(), Vec::new()];
    let statement = |family: usize, elements: &[String]| {
        format!(
            "add element inet {table} {set}_{} {{ {} }}\n",
            if family == 0 { "v4" } else { "v6" },
            elements.join(", ")
        )
    };
    write_records(
        out,
        |visit| EACH_IP(conn, filter, visit),
        |record, _| {
            let family = match record.key.parse::<IpAddr>() {
                Ok(IpAddr::V4(_)) => 0,
                Ok(IpAddr::V6(_)) => 1,
                Err(_) => return String::new(),
            };
            pending[family].push(record.key.clone());
            if pending[family].len() < NFT_ELEMENTS_PER_STATEMENT {
                return String::new();
            }
            let text = statement(family, &pending[family]);
            pending[family].clear();
            text
        },
    )?;
    for (family, elements) in pending.iter().enumerate() {
        if !elements.is_empty() {
            out.write(&statement(family, elements))?;
        }
    }
    Ok(())
}
