//! The live event feed behind the `event` kind of `/api/v1/stream`: a pipeline consumer task
//! that hands every captured event and accepted peer record to a bounded broadcast, with its JSON
//! form made once for every client; and the counters of the stream's clients.
//!
//! The pipeline offers the task events only while a client follows them ([`Demand`]): with none,
//! nothing is queued, made or dropped. Nothing here waits for a client. The pipeline's queue in
//! front of the task drops and counts like every consumer's (`dropped_by_consumer.stream`); a
//! client that falls more than
//! [`BROADCAST_CAPACITY`] events behind the broadcast misses the oldest ones (counted in
//! `events_missed`, and the client is told); a client that stops reading is disconnected by the
//! API (counted in `clients_dropped`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;

use crate::event::BadActor;
use crate::pipeline::{AsyncEventReceiver, Demand, Wanted};
use crate::telemetry::{Count, Readings, Report};

/// Events the broadcast keeps for clients that are behind.
pub const BROADCAST_CAPACITY: usize = 4096;

/// One event as the stream's clients get it.
#[derive(Debug)]
pub struct LiveEvent {
    /// The event.
    pub event: Arc<BadActor>,
    /// Its JSON form ([`BadActor::to_json_line`]), one line.
    pub json: Box<str>,
}

/// The broadcast and the counters of its clients. Share it as `Arc<LiveEvents>`.
#[derive(Debug)]
pub struct LiveEvents {
    sender: broadcast::Sender<Arc<LiveEvent>>,
    demand: Demand,
    published: AtomicU64,
    missed: AtomicU64,
    clients: Arc<AtomicU64>,
    clients_dropped: AtomicU64,
    clients_refused: AtomicU64,
}

impl Default for LiveEvents {
    fn default() -> Self {
        Self::new(BROADCAST_CAPACITY)
    }
}

impl LiveEvents {
    /// A feed keeping `capacity` events for clients that are behind.
    pub fn new(capacity: usize) -> Self {
        Self {
            sender: broadcast::Sender::new(capacity.max(1)),
            demand: Demand::default(),
            published: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            clients: Arc::default(),
            clients_dropped: AtomicU64::new(0),
            clients_refused: AtomicU64::new(0),
        }
    }

    /// Hands `event` to every subscriber; never waits. Without subscribers nothing is done (not
    /// even the JSON).
    pub fn publish(&self, event: Arc<BadActor>) {
        if self.sender.receiver_count() == 0 {
            return;
        }
        let json = event.to_json_line().into_boxed_str();
        // An error only means the last subscriber just left.
        if self
            .sender
            .send(Arc::new(LiveEvent { event, json }))
            .is_ok()
        {
            self.published.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Events from now on (the pipeline offers them while a subscription is held).
    pub fn subscribe(&self) -> EventSubscription {
        EventSubscription {
            receiver: self.sender.subscribe(),
            _wanted: self.demand.want(),
        }
    }

    /// Whether a client follows the events: the pipeline offers them to the feed only then.
    pub fn demand(&self) -> Demand {
        self.demand.clone()
    }

    /// A place for one more client when fewer than `max` are connected (it is given back when
    /// the slot is dropped); `None`, counted, otherwise.
    pub fn admit(&self, max: usize) -> Option<ClientSlot> {
        let max = u64::try_from(max).unwrap_or(u64::MAX);
        let admitted = self
            .clients
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |clients| {
                (clients < max).then_some(clients + 1)
            })
            .is_ok();
        if admitted {
            Some(ClientSlot {
                clients: Arc::clone(&self.clients),
            })
        } else {
            self.clients_refused.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    /// A client fell `missed` events behind the broadcast and lost them.
    pub fn count_missed(&self, missed: u64) {
        self.missed.fetch_add(missed, Ordering::Relaxed);
    }

    /// A client was disconnected for not reading fast enough.
    pub fn count_dropped_client(&self) {
        self.clients_dropped.fetch_add(1, Ordering::Relaxed);
    }

    /// Clients connected now.
    pub fn clients(&self) -> u64 {
        self.clients.count()
    }

    /// Clients disconnected for not reading fast enough, so far.
    pub fn dropped_clients(&self) -> u64 {
        self.clients_dropped.count()
    }
}

/// A client's subscription to the events.
#[derive(Debug)]
pub struct EventSubscription {
    /// The events.
    pub receiver: broadcast::Receiver<Arc<LiveEvent>>,
    /// Keeps the pipeline offering them.
    _wanted: Wanted,
}

/// A connected client's place; dropping it frees the place.
#[derive(Debug)]
pub struct ClientSlot {
    clients: Arc<AtomicU64>,
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.clients.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Publishes every event of `events` until the pipeline closes (the body of the consumer task).
pub async fn run(mut events: AsyncEventReceiver, feed: Arc<LiveEvents>) {
    while let Some(event) = events.recv().await {
        feed.publish(event);
    }
}

impl Report for LiveEvents {
    fn sections_when_off() -> &'static [&'static [&'static str]] {
        &[&["stream"]]
    }

    fn report(&self, out: &mut Readings) {
        out.gauge(
            "sentrypeer_stream_clients",
            "Clients following /api/v1/stream.",
            self.clients(),
        )
        .health_in("stream", &[]);
        #[rustfmt::skip]
        let counters = [
            ("sentrypeer_stream_events_published_total", "Events handed to /api/v1/stream clients.", &self.published),
            ("sentrypeer_stream_events_missed_total", "Events /api/v1/stream clients missed by falling behind the broadcast (each was told).", &self.missed),
            ("sentrypeer_stream_clients_dropped_total", "/api/v1/stream clients disconnected for not reading fast enough.", &self.clients_dropped),
            ("sentrypeer_stream_clients_refused_total", "/api/v1/stream clients refused because the most allowed were connected.", &self.clients_refused),
        ];
        for (name, help, counter) in counters {
            out.counter(name, help, counter.count())
                .health_in("stream", &[]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::test_support::EventBuilder;

    #[test]
    fn events_reach_subscribers_with_their_json_and_nothing_is_made_without_one() {
        let feed = LiveEvents::new(4);
        feed.publish(Arc::new(EventBuilder::new().build()));
        assert_eq!(
            feed.published.count(),
            0,
            "no subscriber, nothing published"
        );
        let mut subscription = feed.subscribe();
        let event = Arc::new(EventBuilder::new().source_ip("192.0.2.7").build());
        feed.publish(Arc::clone(&event));
        let live = subscription.receiver.try_recv().expect("published");
        assert_eq!(&*live.json, event.to_json_line());
        assert_eq!(feed.published.count(), 1);
    }

    #[test]
    fn clients_are_capped_and_counted() {
        let feed = LiveEvents::default();
        let first = feed.admit(2).expect("room");
        let second = feed.admit(2).expect("room");
        assert!(feed.admit(2).is_none());
        assert_eq!(feed.clients(), 2);
        drop(first);
        let third = feed.admit(2).expect("a place was freed");
        feed.count_dropped_client();
        let health = Readings::of(&feed).health_details();
        assert_eq!(
            serde_json::Value::Object(health)["stream"],
            serde_json::json!({
                "clients": 2,
                "events_published": 0,
                "events_missed": 0,
                "clients_dropped": 1,
                "clients_refused": 1,
            })
        );
        drop((second, third));
        assert_eq!(feed.clients(), 0);
    }
}
