//! The blocklist through the store and back: observed events, flushed by the store writer (the
//! blocklist as its aggregate source), loaded at "restart" into a fresh blocklist, give the same
//! view of every key (authors compared by name: ids are per blocklist).

use std::ops::ControlFlow;
use std::sync::mpsc;

use proptest::prelude::*;

use super::*;
use crate::event::test_support::EventBuilder;
use crate::event::{BadActor, Transport};
use crate::store::{self, AggregateSource, StoreStats, WriterOptions};
use crate::telemetry::Count;

/// A view with authors as names.
type NamedView = (EntryView, Vec<Arc<str>>, bool);

fn named(list: &Blocklist, view: EntryView) -> NamedView {
    let mut names: Vec<Arc<str>> = view
        .authors
        .ids()
        .filter_map(|id| list.author_name(id))
        .collect();
    names.sort();
    let more = view.authors.has_more();
    (
        EntryView {
            authors: AuthorSet::default(),
            ..view
        },
        names,
        more,
    )
}

/// Every IP and every number of a blocklist, with their views.
type Views = (Vec<(IpAddr, NamedView)>, Vec<(String, NamedView)>);

/// Every key of `list` with its view.
fn views(list: &Blocklist) -> Views {
    let mut ips = Vec::new();
    list.for_each_ip(|ip, view| {
        ips.push((ip, named(list, view)));
        ControlFlow::Continue(())
    });
    let mut numbers = Vec::new();
    list.for_each_number(|number, view| {
        numbers.push((number.to_owned(), named(list, view)));
        ControlFlow::Continue(())
    });
    ips.sort_by_key(|(ip, _)| *ip);
    numbers.sort_by(|a, b| a.0.cmp(&b.0));
    (ips, numbers)
}

fn observe(list: &Blocklist, event: &BadActor, proven: bool) {
    list.observe(&Observation::from_event(event, proven));
}

/// One event: (second, ip, number, transport, peer author or local, proven).
type Spec = (i64, u8, u8, usize, Option<u8>, bool);

fn event((second, ip, number, transport, author, _): Spec) -> BadActor {
    let builder = EventBuilder::new()
        .timestamp(at(second, 123))
        .source_ip(&format!("192.0.2.{ip}"))
        .number(&format!("00{number}"))
        .transport(Transport::ALL[transport]);
    match author {
        Some(author) => builder.peer(&format!("peer{author}")),
        None => builder,
    }
    .build()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn what_the_store_flushed_loads_back_the_same(
        first in proptest::collection::vec(
            (0..3600_i64, 0..6u8, 0..6u8, 0..3usize, proptest::option::of(0..7u8), any::<bool>()),
            1..50),
        second in proptest::collection::vec(
            (0..3600_i64, 0..6u8, 0..6u8, 0..3usize, proptest::option::of(0..7u8), any::<bool>()),
            0..50),
    ) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sentrypeer.db");
        let list = Arc::new(Blocklist::new(&BlocklistOptions {
            retention: None,
            ..BlocklistOptions::default()
        }));
        let (sender, receiver) = mpsc::channel();
        let options = WriterOptions {
            retention_days: 0,
            aggregate_source: Some(Arc::clone(&list) as Arc<dyn AggregateSource>),
            aggregate_flush_interval: std::time::Duration::from_millis(10),
            ..WriterOptions::default()
        };
        let stats = Arc::new(StoreStats::default());
        let writer = store::spawn_writer(
            store::open(&path).expect("open"),
            receiver,
            options,
            Arc::clone(&stats),
        )
        .expect("spawn");
        for (round, specs) in [&first, &second].into_iter().enumerate() {
            for spec in specs {
                let event = Arc::new(event(*spec));
                observe(&list, &event, spec.5);
                // Only some events reach the store: aggregates must not depend on them.
                if round == 0 {
                    sender.send(event).expect("queue");
                }
            }
        }
        drop(sender);
        writer.join().expect("thread").expect("writer");

        let restarted = Blocklist::new(&BlocklistOptions::default());
        let conn = store::open_read_only(&path).expect("reopen");
        restarted.load_from_store(&conn, None).expect("load");
        prop_assert_eq!(views(&restarted), views(&list));
        prop_assert_eq!(stats.aggregate_rows_lost.count(), 0);
    }
}
