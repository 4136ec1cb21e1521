//! Blocklist feeds that existing tools read as they are: plain text (one IP or number per line),
//! `ipset restore` input and an `nft -f` file. All take `since`, `min_seen_count` and `origin`,
//! and stream, so a feed of any size never builds one string in memory.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;

use super::body::TEXT;
use super::params::{Params, bad};
use super::reader::{EACH_IP, EACH_NUMBER, EachRecord, ListFormat, RecordList};
use super::{ApiError, ApiState};
use crate::store::query::SeenRecord;

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
    let list = RecordList {
        each,
        filter,
        format: Box::new(Lines),
    };
    Ok(state.reader.stream(TEXT, list))
}

/// One key per line.
struct Lines;

impl ListFormat for Lines {
    fn head(&mut self) -> String {
        String::new()
    }

    fn record(&mut self, record: &SeenRecord) -> String {
        format!("{}\n", record.key)
    }

    fn finish(&mut self, _written: usize) -> String {
        String::new()
    }
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
    let list = RecordList {
        each: EACH_IP,
        filter,
        format: Box::new(Ipset { set }),
    };
    Ok(state.reader.stream(TEXT, list))
}

/// `ipset restore` input for the set `set`.
struct Ipset {
    set: String,
}

impl ListFormat for Ipset {
    fn head(&mut self) -> String {
        let set = &self.set;
        let mut text = String::new();
        for (suffix, family) in [("v4", "inet"), ("v6", "inet6")] {
            for name in [format!("{set}-{suffix}"), format!("{set}-{suffix}-new")] {
                text.push_str(&format!(
                    "create {name} hash:ip family {family} maxelem 1048576 -exist\n"
                ));
            }
            text.push_str(&format!("flush {set}-{suffix}-new\n"));
        }
        text
    }

    fn record(&mut self, record: &SeenRecord) -> String {
        let set = &self.set;
        match record.key.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => format!("add {set}-v4-new {} -exist\n", record.key),
            Ok(IpAddr::V6(_)) => format!("add {set}-v6-new {} -exist\n", record.key),
            Err(_) => String::new(),
        }
    }

    fn finish(&mut self, _written: usize) -> String {
        let set = &self.set;
        ["v4", "v6"]
            .map(|suffix| {
                format!("swap {set}-{suffix}-new {set}-{suffix}\ndestroy {set}-{suffix}-new\n")
            })
            .concat()
    }
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
    let format = Nftables {
        table,
        set,
        pending: [Vec::new(), Vec::new()],
    };
    let list = RecordList {
        each: EACH_IP,
        filter,
        format: Box::new(format),
    };
    Ok(state.reader.stream(TEXT, list))
}

/// An `nft -f` file for table `table`, sets `set`: elements gathered per family and written
/// [`NFT_ELEMENTS_PER_STATEMENT`] to an `add element` statement.
struct Nftables {
    table: String,
    set: String,
    pending: [Vec<String>; 2],
}

impl Nftables {
    fn statement(&self, family: usize) -> String {
        format!(
            "add element inet {} {}_{} {{ {} }}\n",
            self.table,
            self.set,
            if family == 0 { "v4" } else { "v6" },
            self.pending[family].join(", ")
        )
    }
}

impl ListFormat for Nftables {
    fn head(&mut self) -> String {
        let (table, set) = (&self.table, &self.set);
        format!(
            "table inet {table} {{\n\tset {set}_v4 {{\n\t\ttype ipv4_addr\n\t}}\n\tset {set}_v6 {{\n\t\ttype ipv6_addr\n\t}}\n}}\n\
             flush set inet {table} {set}_v4\nflush set inet {table} {set}_v6\n"
        )
    }

    fn record(&mut self, record: &SeenRecord) -> String {
        let family = match record.key.parse::<IpAddr>() {
            Ok(IpAddr::V4(_)) => 0,
            Ok(IpAddr::V6(_)) => 1,
            Err(_) => return String::new(),
        };
        self.pending[family].push(record.key.clone());
        if self.pending[family].len() < NFT_ELEMENTS_PER_STATEMENT {
            return String::new();
        }
        let text = self.statement(family);
        self.pending[family].clear();
        text
    }

    fn finish(&mut self, _written: usize) -> String {
        (0..2)
            .filter(|family| !self.pending[*family].is_empty())
            .map(|family| self.statement(family))
            .collect()
    }
}
