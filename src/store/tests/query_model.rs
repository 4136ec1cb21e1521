//! Listings and counts against a model of the aggregates, over random events: every origin
//! filter, `since`, minimum counts, and pages of every size.

use std::cmp::Reverse;

use proptest::prelude::*;

use super::query_seen::{ORIGINS, listed, summary, ts};
use super::{PEER, call, insert, memory_db};
use crate::store;
use crate::store::query::{Cursor, ListFilter, OriginFilter, count_ips, count_numbers};

/// The events of a property case: (ip index, number index, second, local).
type Case = Vec<(usize, usize, u8, bool)>;

const IPS: [&str; 5] = ["192.0.2.1", "192.0.2.2", "192.0.2.3", "2001:db8::1", "::1"];
const NUMBERS: [&str; 6] = ["100", "0046812118532", "+44", "NOT_FOUND", "asterisk", "+"];

/// What a listing must hold, computed from the events.
fn model(case: &Case, numbers: bool, filter: &ListFilter) -> Vec<(String, String, u64)> {
    let mut seen: std::collections::BTreeMap<&str, (String, u64)> = Default::default();
    for &(ip, number, second, local) in case {
        let key = if numbers { NUMBERS[number] } else { IPS[ip] };
        let counted = match filter.origin {
            OriginFilter::Any => true,
            OriginFilter::Local => local,
            OriginFilter::Peer => !local,
            // The model's peers are libp2p peers, none is the OpenDHT bridge.
            OriginFilter::OpenDht => false,
        };
        if !counted || (numbers && !store::is_phone_number(key)) {
            continue;
        }
        let entry = seen.entry(key).or_insert((String::new(), 0));
        entry.0 = entry.0.clone().max(ts(second));
        entry.1 += 1;
    }
    let mut rows: Vec<_> = seen
        .into_iter()
        .filter(|(_, (last, count))| {
            *count >= filter.min_seen_count
                && filter.since.as_ref().is_none_or(|since| last >= since)
        })
        .map(|(key, (last, count))| (key.to_owned(), last, count))
        .collect();
    rows.sort_by(|a, b| (Reverse(&a.1), &a.0).cmp(&(Reverse(&b.1), &b.0)));
    rows
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Counts and listings match a model, and pages of any size concatenate to the full listing
    /// with no duplicates or holes, also among many equal `seen_last` values.
    #[test]
    fn listings_and_pages_match_a_model(
        case in proptest::collection::vec((0..5usize, 0..6usize, 0..4u8, any::<bool>()), 0..40),
        split in 0..40usize,
        page in 1..5usize,
        since in proptest::option::of(0..4u8),
        min_seen_count in 0..3u64,
    ) {
        let mut conn = memory_db();
        let events: Vec<_> = case
            .iter()
            .map(|&(ip, number, second, local)| {
                let event = call(IPS[ip], NUMBERS[number], second);
                if local { event } else { event.peer(PEER) }.build()
            })
            .collect();
        let (first, second) = events.split_at(split.min(events.len()));
        insert(&mut conn, first);
        insert(&mut conn, second);
        for origin in ORIGINS {
            for numbers in [false, true] {
                let filter = ListFilter { origin, since: since.map(ts), min_seen_count, attack_type: None };
                let expected = model(&case, numbers, &filter);
                let all = listed(&conn, numbers, &filter, None, None);
                prop_assert_eq!(summary(&all), expected.clone(), "{:?} numbers={}", filter, numbers);
                let count = if numbers { count_numbers(&conn, &filter) } else { count_ips(&conn, &filter) };
                prop_assert_eq!(count.expect("count"), u64::try_from(expected.len()).expect("small"));

                let mut pages = Vec::new();
                let mut cursor: Option<Cursor> = None;
                loop {
                    let got = listed(&conn, numbers, &filter, cursor.as_ref(), Some(page));
                    prop_assert!(got.len() <= page);
                    let Some(last) = got.last() else { break };
                    cursor = Some(Cursor::after(last));
                    pages.extend(got);
                }
                prop_assert_eq!(pages, all);
            }
        }
    }
}
