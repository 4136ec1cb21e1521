//! The original's two list bodies, `/ip-addresses` and `/numbers`, streamed in its exact
//! formatting (jansson, 2-space indent, `seen_count` as a string), most recently seen first.
//!
//! ```text
//! {
//!   "ip_addresses_total": 2,
//!   "ip_addresses": [
//!     {
//!       "ip_address": "192.0.2.7",
//!       "seen_last": "2026-11-21 13:56:00.699034123",
//!       "seen_count": "3"
//!     },
//!     …
//!   ]
//! }
//! ```

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;
use rusqlite::Connection;

use super::body::{JSON, fixed_json, json_string};
use super::params::Params;
use super::reader::{EACH_IP, EACH_NUMBER, EachRecord, ListFormat, RecordList};
use super::{ApiError, ApiState};
use crate::store::StoreError;
use crate::store::query::{self, ListFilter, SeenRecord};

/// What differs between the two lists.
#[derive(Debug)]
pub(crate) struct OriginalList {
    total_key: &'static str,
    array_key: &'static str,
    item_key: &'static str,
    empty_body: &'static str,
    count: fn(&Connection, &ListFilter) -> Result<u64, StoreError>,
    each: EachRecord,
}

/// `/ip-addresses`.
pub(crate) const IP_ADDRESSES: OriginalList = OriginalList {
    total_key: "ip_addresses_total",
    array_key: "ip_addresses",
    item_key: "ip_address",
    empty_body: r#"{"message": "No bad actors found"}"#,
    count: query::count_ips,
    each: EACH_IP,
};

/// `/numbers`.
pub(crate) const NUMBERS: OriginalList = OriginalList {
    total_key: "called_numbers_total",
    array_key: "called_numbers",
    item_key: "called_number",
    empty_body: r#"{"message": "No phone numbers found"}"#,
    count: query::count_numbers,
    each: EACH_NUMBER,
};

impl OriginalList {
    /// The whole list (`?origin=` may restrict it), or the original's 404 body when empty.
    pub(crate) async fn respond(
        &'static self,
        state: Arc<ApiState>,
        mut params: Params,
    ) -> Result<Response, ApiError> {
        let filter = ListFilter {
            origin: params.origin()?,
            ..ListFilter::default()
        };
        params.finish()?;
        let counted = filter.clone();
        let count = self.count;
        let total = state.reader.run(move |conn| count(conn, &counted)).await?;
        if total == 0 {
            return Ok(fixed_json(StatusCode::NOT_FOUND, self.empty_body));
        }
        let format = OriginalFormat {
            list: self,
            total,
            written: 0,
        };
        let list = RecordList {
            each: self.each,
            filter,
            format: Box::new(format),
        };
        Ok(state.reader.stream(JSON, list))
    }

    /// One array element, with the separator that precedes it.
    fn item(&self, record: &SeenRecord, index: usize) -> String {
        let separator = if index == 0 { "\n" } else { ",\n" };
        format!(
            "{separator}    {{\n      \"{}\": {},\n      \"seen_last\": {},\n      \"seen_count\": {}\n    }}",
            self.item_key,
            json_string(&record.key),
            json_string(&record.seen_last),
            json_string(&record.seen_count.to_string()),
        )
    }
}

/// The original's list body, written as records arrive.
struct OriginalFormat {
    list: &'static OriginalList,
    total: u64,
    written: usize,
}

impl ListFormat for OriginalFormat {
    fn head(&mut self) -> String {
        format!(
            "{{\n  \"{}\": {},\n  \"{}\": [",
            self.list.total_key, self.total, self.list.array_key
        )
    }

    fn record(&mut self, record: &SeenRecord) -> String {
        let item = self.list.item(record, self.written);
        self.written += 1;
        item
    }

    fn finish(&mut self, written: usize) -> String {
        String::from(if written == 0 { "]\n}" } else { "\n  ]\n}" })
    }
}
