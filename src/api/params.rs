//! Query parameters of the `/api/v1/` routes and feeds: strict parsing, every error names the
//! parameter (400), unknown parameters are rejected rather than silently ignored.

use std::collections::BTreeMap;

use axum::extract::Query;
use axum::extract::rejection::QueryRejection;
use jiff::Timestamp;

use super::ApiError;
use crate::config::parse_duration;
use crate::event::{Transport, format_timestamp};
use crate::sip::AttackType;
use crate::store::query::{Cursor, EventMatch, ListFilter, OriginFilter};

/// Most rows one page may hold.
pub(crate) const MAX_PAGE: usize = 1000;
/// Rows per page when `limit` is not given.
pub(crate) const DEFAULT_PAGE: usize = 100;

/// The query string, taken apart parameter by parameter.
pub(crate) struct Params {
    values: BTreeMap<String, String>,
}

impl Params {
    /// Reads the extracted query string; a malformed one is a 400.
    pub(crate) fn new(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ) -> Result<Self, ApiError> {
        let Query(pairs) = query.map_err(|rejection| ApiError::BadParameter {
            name: "query".to_owned(),
            reason: rejection.body_text(),
        })?;
        let mut values = BTreeMap::new();
        for (name, value) in pairs {
            if values.insert(name.clone(), value).is_some() {
                return Err(bad(&name, "given more than once"));
            }
        }
        Ok(Self { values })
    }

    /// A query string that may hold `origin` and nothing else (the point lookups).
    pub(crate) fn origin_only(
        query: Result<Query<Vec<(String, String)>>, QueryRejection>,
    ) -> Result<OriginFilter, ApiError> {
        let mut params = Self::new(query)?;
        let origin = params.origin()?;
        params.finish()?;
        Ok(origin)
    }

    /// Removes and returns a raw parameter.
    pub(crate) fn take(&mut self, name: &str) -> Option<String> {
        self.values.remove(name)
    }

    /// Fails on any parameter that was not taken.
    pub(crate) fn finish(self) -> Result<(), ApiError> {
        match self.values.into_keys().next() {
            Some(name) => Err(bad(&name, "unknown parameter")),
            None => Ok(()),
        }
    }

    /// `since`: an RFC 3339 timestamp, or a duration back from now (`30m`, `24h`, `7d`, `2w`),
    /// as the stored timestamp text it compares with.
    pub(crate) fn since(&mut self) -> Result<Option<String>, ApiError> {
        Ok(self.since_time()?.map(format_timestamp))
    }

    /// `since`, as a time.
    pub(crate) fn since_time(&mut self) -> Result<Option<Timestamp>, ApiError> {
        self.take("since")
            .map(|text| {
                parse_since(&text, Timestamp::now()).ok_or_else(|| {
                    bad(
                        "since",
                        "expected an RFC 3339 timestamp or a duration such as 24h, 7d, 30m",
                    )
                })
            })
            .transpose()
    }

    /// `origin`: `local`, `peer` (the OpenDHT bridge's included), `opendht` or `any` (default).
    pub(crate) fn origin(&mut self) -> Result<OriginFilter, ApiError> {
        match self.take("origin").as_deref() {
            None | Some("any") => Ok(OriginFilter::Any),
            Some("local") => Ok(OriginFilter::Local),
            Some("peer") => Ok(OriginFilter::Peer),
            Some(crate::event::OPENDHT_ORIGIN) => Ok(OriginFilter::OpenDht),
            Some(_) => Err(bad("origin", "expected local, peer, opendht or any")),
        }
    }

    /// A non-negative integer parameter.
    pub(crate) fn unsigned(&mut self, name: &str) -> Result<Option<u64>, ApiError> {
        self.take(name)
            .map(|text| {
                text.parse::<u64>()
                    .map_err(|_| bad(name, "expected a non-negative integer"))
            })
            .transpose()
    }

    /// `limit`: 1 to [`MAX_PAGE`], default [`DEFAULT_PAGE`].
    pub(crate) fn limit(&mut self) -> Result<usize, ApiError> {
        match self.unsigned("limit")? {
            None => Ok(DEFAULT_PAGE),
            Some(0) => Err(bad("limit", "must be at least 1")),
            Some(n) => usize::try_from(n)
                .ok()
                .filter(|&n| n <= MAX_PAGE)
                .ok_or_else(|| bad("limit", &format!("must be at most {MAX_PAGE}"))),
        }
    }

    /// `transport`: UDP, TCP or TLS in any case, as stored (upper case).
    pub(crate) fn transport(&mut self) -> Result<Option<String>, ApiError> {
        Ok(self
            .transport_kind()?
            .map(|transport| transport.as_str().to_owned()))
    }

    /// `transport`, as a [`Transport`].
    pub(crate) fn transport_kind(&mut self) -> Result<Option<Transport>, ApiError> {
        self.take("transport")
            .map(|text| {
                Transport::from_name(&text.to_ascii_uppercase())
                    .ok_or_else(|| bad("transport", "expected UDP, TCP or TLS"))
            })
            .transpose()
    }

    /// `attack_type`: one of the [`AttackType`] names.
    pub(crate) fn attack_type(&mut self) -> Result<Option<AttackType>, ApiError> {
        self.take("attack_type")
            .map(|text| {
                AttackType::from_name(&text).ok_or_else(|| {
                    bad(
                        "attack_type",
                        "expected scan, extension_enumeration, password_cracking, call_attempt, \
                         malformed or other",
                    )
                })
            })
            .transpose()
    }

    /// Event attributes a listing can be narrowed by: `method`, `user_agent`, `transport`.
    pub(crate) fn event_match(&mut self) -> Result<EventMatch, ApiError> {
        Ok(EventMatch {
            method: self.take("method"),
            user_agent: self.take("user_agent"),
            transport: self.transport()?,
        })
    }

    /// The filters shared by listings and feeds: `origin`, `since`, `min_seen_count`.
    pub(crate) fn list_filter(&mut self) -> Result<ListFilter, ApiError> {
        Ok(ListFilter {
            origin: self.origin()?,
            since: self.since()?,
            min_seen_count: self.unsigned("min_seen_count")?.unwrap_or(0),
            attack_type: None,
        })
    }

    /// `cursor` of an IP or number listing (opaque: returned as `next_cursor`).
    pub(crate) fn list_cursor(&mut self) -> Result<Option<Cursor>, ApiError> {
        self.take("cursor")
            .map(|text| {
                decode_cursor(&text).ok_or_else(|| bad("cursor", "not a cursor this API returned"))
            })
            .transpose()
    }
}

/// The 400 for one parameter.
pub(crate) fn bad(name: &str, reason: &str) -> ApiError {
    ApiError::BadParameter {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Parses `since` relative to `now`.
pub(crate) fn parse_since(text: &str, now: Timestamp) -> Option<Timestamp> {
    if let Ok(at) = text.parse::<Timestamp>() {
        return Some(at);
    }
    let duration = parse_duration(text)?;
    now.checked_sub(duration).ok()
}

/// Opaque cursor text: hex of `seen_last` TAB `key`.
pub(crate) fn encode_cursor(cursor: &Cursor) -> String {
    hex::encode(format!("{}\t{}", cursor.seen_last, cursor.key))
}

fn decode_cursor(text: &str) -> Option<Cursor> {
    if text.len() > 1024 {
        return None;
    }
    let decoded = String::from_utf8(hex::decode(text).ok()?).ok()?;
    let (seen_last, key) = decoded.split_once('\t')?;
    Some(Cursor {
        seen_last: seen_last.to_owned(),
        key: key.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_accepts_timestamps_and_durations() {
        let now: Timestamp = "2026-11-21T12:00:00Z".parse().expect("ts");
        assert_eq!(parse_since("24h", now), "2026-11-20T12:00:00Z".parse().ok());
        assert_eq!(parse_since("7d", now), "2026-11-14T12:00:00Z".parse().ok());
        assert_eq!(parse_since("30m", now), "2026-11-21T11:30:00Z".parse().ok());
        assert_eq!(
            parse_since("2026-11-01T00:00:00Z", now),
            "2026-11-01T00:00:00Z".parse().ok()
        );
        for bad in ["", "h", "24", "24x", "-1h", "1.5h", "99999999999999999999d"] {
            assert_eq!(parse_since(bad, now), None, "{bad}");
        }
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_rejected() {
        let cursor = Cursor {
            seen_last: "2026-11-21 12:00:00.000000001".to_owned(),
            key: "+441234".to_owned(),
        };
        assert_eq!(decode_cursor(&encode_cursor(&cursor)), Some(cursor));
        for garbage in ["zz", "abc", "00", "616263"] {
            assert_eq!(decode_cursor(garbage), None, "{garbage}");
        }
    }
}
