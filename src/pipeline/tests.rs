//! The pipeline's drop-and-count semantics, by count and by bytes, for thread and task
//! consumers.

use super::*;
use crate::event::Transport;
use crate::event::test_support::EventBuilder;

/// An event that arrived over TCP (the per-transport counts tell it apart).
fn tcp_event() -> BadActor {
    EventBuilder::new().transport(Transport::Tcp).build()
}

#[test]
fn a_full_consumer_drops_and_counts_without_starving_the_others() {
    let mut builder = Pipeline::builder();
    let slow = builder.consumer("slow", 1, PeerRecords::Taken);
    let fast = builder.consumer("fast", 10, PeerRecords::Taken);
    let pipeline = builder.build();
    for _ in 0..3 {
        pipeline.submit(tcp_event());
    }
    let stats = pipeline.stats();
    assert_eq!(stats.received, [0, 3, 0]);
    assert_eq!(stats.consumers[0].delivered, 1);
    assert_eq!(stats.consumers[0].dropped, 2);
    assert_eq!(stats.consumers[1].delivered, 3);
    assert_eq!(stats.consumers[1].dropped, 0);
    drop(pipeline);
    assert_eq!(slow.iter().count(), 1);
    assert_eq!(
        fast.iter().count(),
        3,
        "queue drains then closes when the pipeline is dropped"
    );
}

#[tokio::test]
async fn an_async_consumer_has_the_same_drop_and_count_semantics() {
    let mut builder = Pipeline::builder();
    let mut task = builder.async_consumer("task", 2, PeerRecords::Taken);
    let thread = builder.consumer("thread", 10, PeerRecords::Taken);
    let pipeline = builder.build();
    for _ in 0..5 {
        pipeline.submit(tcp_event());
    }
    let stats = pipeline.stats();
    assert_eq!(stats.consumers[0].name, "task");
    assert_eq!(stats.consumers[0].delivered, 2);
    assert_eq!(stats.consumers[0].dropped, 3);
    assert_eq!(stats.consumers[1].delivered, 5);
    assert_eq!(stats.dropped(), 3);
    drop(pipeline);
    let mut received = 0;
    while task.recv().await.is_some() {
        received += 1;
    }
    assert_eq!(
        received, 2,
        "queue drains then closes when the pipeline is dropped"
    );
    assert_eq!(thread.iter().count(), 5);
}

#[test]
fn a_stopped_async_consumer_is_counted_as_dropping() {
    let mut builder = Pipeline::builder();
    drop(builder.async_consumer("gone", 4, PeerRecords::Taken));
    let pipeline = builder.build();
    pipeline.submit(tcp_event());
    assert_eq!(pipeline.stats().consumers[0].dropped, 1);
    assert_eq!(pipeline.stats().consumers[0].delivered, 0);
}

/// An event whose raw message is `bytes` long.
fn sized(bytes: usize) -> BadActor {
    EventBuilder::new()
        .transport(Transport::Tcp)
        .message(&"x".repeat(bytes))
        .build()
}

#[test]
fn a_queue_holding_too_many_bytes_drops_and_counts_until_events_are_taken() {
    let one = event_bytes(&sized(10_000));
    let mut builder = Pipeline::builder().queue_bytes(3 * one);
    let big = builder.consumer("big", 100, PeerRecords::Taken);
    let pipeline = builder.build();
    for _ in 0..5 {
        pipeline.submit(sized(10_000));
    }
    let stats = pipeline.stats();
    assert_eq!(
        (stats.consumers[0].delivered, stats.consumers[0].dropped),
        (3, 2)
    );
    // Taking one event frees its bytes: the next fits again, and no more.
    big.try_recv().expect("queued event");
    pipeline.submit(sized(10_000));
    pipeline.submit(sized(10_000));
    let stats = pipeline.stats();
    assert_eq!(
        (stats.consumers[0].delivered, stats.consumers[0].dropped),
        (4, 3)
    );
    drop(pipeline);
    assert_eq!(big.iter().count(), 3);
}

#[test]
fn a_consumer_with_a_byte_bound_of_its_own_holds_that_many_bytes_and_no_more() {
    let one = event_bytes(&sized(10_000));
    let mut builder = Pipeline::builder().queue_bytes(2 * one);
    let _sink = builder.consumer("sink", 100, PeerRecords::Taken);
    let _store = builder.consumer_with_byte_bound("store", 100, 5 * one, PeerRecords::Taken);
    let pipeline = builder.build();
    for _ in 0..7 {
        pipeline.submit(sized(10_000));
    }
    let stats = pipeline.stats();
    let counts = |index: usize| {
        let consumer = &stats.consumers[index];
        (consumer.name, consumer.delivered, consumer.dropped)
    };
    assert_eq!(counts(0), ("sink", 2, 5), "the pipeline's bound");
    assert_eq!(counts(1), ("store", 5, 2), "its own bound");
}

#[test]
fn an_event_larger_than_the_bound_is_queued_when_the_queue_is_empty() {
    let mut builder = Pipeline::builder().queue_bytes(100);
    let queue = builder.consumer("queue", 10, PeerRecords::Taken);
    let pipeline = builder.build();
    pipeline.submit(sized(65_536));
    pipeline.submit(sized(65_536));
    assert_eq!(pipeline.stats().consumers[0].delivered, 1);
    assert_eq!(pipeline.stats().consumers[0].dropped, 1);
    assert_eq!(queue.recv().expect("queued").sip_message.len(), 65_536);
    pipeline.submit(sized(65_536));
    assert_eq!(
        pipeline.stats().consumers[0].delivered,
        2,
        "room again once taken"
    );
}

#[tokio::test]
async fn an_async_queue_has_the_same_byte_bound() {
    let one = event_bytes(&sized(10_000));
    let mut builder = Pipeline::builder().queue_bytes(2 * one);
    let mut task = builder.async_consumer("task", 100, PeerRecords::Taken);
    let pipeline = builder.build();
    for _ in 0..3 {
        pipeline.submit(sized(10_000));
    }
    assert_eq!(pipeline.stats().consumers[0].dropped, 1);
    task.recv().await.expect("queued");
    pipeline.submit(sized(10_000));
    assert_eq!(pipeline.stats().consumers[0].delivered, 3);
    assert!(task.try_recv().is_ok());
}

#[test]
fn a_stopped_consumer_is_counted_as_dropping() {
    let mut builder = Pipeline::builder();
    drop(builder.consumer("gone", 4, PeerRecords::Taken));
    let pipeline = builder.build();
    pipeline.submit(tcp_event());
    assert_eq!(pipeline.stats().consumers[0].dropped, 1);
}

#[test]
fn a_local_only_consumer_is_never_offered_peer_records() {
    let mut builder = Pipeline::builder();
    let everything = builder.consumer("store", 10, PeerRecords::Taken);
    let local_only = builder.consumer("json_log", 10, PeerRecords::LeftOut);
    let pipeline = builder.build();
    pipeline.submit(EventBuilder::new().build());
    pipeline.submit_from_peer(EventBuilder::new().peer("12D3KooWPeer").build());
    drop(pipeline);
    let origins = |queue: &EventReceiver| {
        std::iter::from_fn(|| queue.recv().ok())
            .map(|event| event.origin.is_local())
            .collect::<Vec<_>>()
    };
    assert_eq!(origins(&everything), [true, false]);
    assert_eq!(origins(&local_only), [true], "the peer record is left out");
}

#[test]
fn room_for_peer_records_is_what_their_fullest_consumer_has_left() {
    let one = event_bytes(&sized(10_000));
    let mut builder = Pipeline::builder().queue_bytes(8 * one);
    let store = builder.consumer("store", 100, PeerRecords::Taken);
    let _local_only = builder.consumer("json_log", 1, PeerRecords::LeftOut);
    let pipeline = builder.build();
    // The local-only queue is full after one: it does not matter to peer records.
    pipeline.submit(sized(10_000));
    assert!(pipeline.has_room_for_peer_records(), "1 of 8 queued");
    pipeline.submit(sized(10_000));
    assert!(!pipeline.has_room_for_peer_records(), "2 of 8 is a quarter");
    store.recv().expect("taken");
    assert!(pipeline.has_room_for_peer_records());
}

#[tokio::test]
async fn a_consumer_on_demand_is_offered_events_only_while_they_are_wanted() {
    let demand = Demand::default();
    let mut builder = Pipeline::builder();
    let mut stream =
        builder.async_consumer_on_demand("stream", 1, PeerRecords::Taken, demand.clone());
    let pipeline = builder.build();
    pipeline.submit(EventBuilder::new().build());
    let wanted = demand.want();
    pipeline.submit(EventBuilder::new().source_ip("192.0.2.2").build());
    pipeline.submit(EventBuilder::new().build());
    drop(wanted);
    pipeline.submit(EventBuilder::new().build());
    let stats = pipeline.stats();
    drop(pipeline);
    assert_eq!(
        (stats.consumers[0].delivered, stats.consumers[0].dropped),
        (1, 1),
        "offered twice while wanted (the queue holds one); never otherwise"
    );
    let event = stream.recv().await.expect("the wanted one");
    assert_eq!(event.source.ip().to_string(), "192.0.2.2");
    assert!(stream.recv().await.is_none());
}

#[test]
fn a_consumer_thread_queue_frees_a_place_for_each_event_taken() {
    let mut builder = Pipeline::builder();
    let queue = builder.consumer("queue", 2, PeerRecords::Taken);
    let pipeline = builder.build();
    for _ in 0..3 {
        pipeline.submit(tcp_event());
    }
    assert_eq!(
        pipeline.stats().consumers[0].dropped,
        1,
        "full at two events"
    );
    assert!(queue.try_recv().is_ok());
    pipeline.submit(tcp_event());
    pipeline.submit(tcp_event());
    let stats = pipeline.stats();
    assert_eq!(
        (stats.consumers[0].delivered, stats.consumers[0].dropped),
        (3, 2)
    );
    assert_eq!(queue.try_iter().count(), 2);
    pipeline.submit(tcp_event());
    assert_eq!(pipeline.stats().consumers[0].delivered, 4);
}
