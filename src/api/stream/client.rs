//! One client of the stream: a task that reads the blocklist's changes and the live events,
//! keeps what the client's filters pass, and hands the text to the response body through a
//! small bounded queue. Capture never waits for the client: when the queue is full the task
//! waits for room while the client's decisions wait in the blocklist's bounded subscription and
//! its events in the live broadcast. The client is too slow, disconnected (its connection closed
//! at once) and counted, when the queue has no room for [`STALL_TIMEOUT`] (for each chunk of a
//! resumed stream's replay, [`REPLAY_CHUNK_TIMEOUT`]) or its decisions fall more than the
//! subscription's lag behind; its events are best effort (`missed`).

use std::io;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use jiff::Timestamp;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::mpsc;

use super::filter::{PolicyChoice, StreamFilter};
use super::message;
use crate::api::ApiState;
use crate::api::serve::ConnectionControl;
use crate::blocklist::{Change, Policy, Subscription, SubscriptionEnded};
use crate::sinks::live_events::{ClientSlot, EventSubscription, LiveEvent};

/// Chunks queued for the response body; a client that lets them pile up is dropped.
pub(crate) const QUEUED_CHUNKS: usize = 64;
/// Bytes gathered into one chunk at most (one message may overshoot it).
const CHUNK_BYTES: usize = 16 * 1024;
/// How often an idle stream gets a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How long a resuming client may take to read each chunk of its replay.
const REPLAY_CHUNK_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a following client's queue may stay full. A queue of small chunks fills in
/// milliseconds when the connection's task is not scheduled (a flood on a busy machine):
/// disconnecting at once dropped readers that were keeping up.
pub(crate) const STALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The sending end of the response body.
type BodySender = mpsc::Sender<Result<Bytes, io::Error>>;

/// Why a client's stream ends.
enum End {
    /// The client left, or the server is stopping: nothing to count.
    Quietly,
    /// It did not read fast enough.
    TooSlow,
}

/// A client's task, ready to run.
pub(crate) struct Client {
    pub(crate) state: Arc<ApiState>,
    pub(crate) filter: StreamFilter,
    pub(crate) decisions: Option<Subscription>,
    pub(crate) events: Option<EventSubscription>,
    pub(crate) body: BodySender,
    pub(crate) control: ConnectionControl,
    /// Held while the client is connected.
    pub(crate) slot: ClientSlot,
}

impl Client {
    /// Sends `opening` and the `replay`, then follows the stream until the client leaves, is
    /// too slow, or the server stops.
    pub(crate) async fn run(mut self, opening: String, replay: Vec<Arc<Change>>) {
        let ended = match self.replay(opening, replay).await {
            Ok(()) => self.follow().await,
            Err(end) => end,
        };
        if let End::TooSlow = ended {
            tracing::debug!("stream client too slow; disconnected");
            self.state.live_events.count_dropped_client();
            self.control.abort();
        }
        drop(self.slot);
    }

    async fn replay(&mut self, opening: String, replay: Vec<Arc<Change>>) -> Result<(), End> {
        let mut out = opening;
        let now = Timestamp::now();
        for change in replay {
            self.write_change(&mut out, &change, now);
            if out.len() >= CHUNK_BYTES {
                self.send_waiting(std::mem::take(&mut out), REPLAY_CHUNK_TIMEOUT)
                    .await?;
            }
        }
        self.send_waiting(out, REPLAY_CHUNK_TIMEOUT).await
    }

    async fn follow(&mut self) -> End {
        let start = tokio::time::Instant::now() + KEEP_ALIVE;
        let mut keep_alive = tokio::time::interval_at(start, KEEP_ALIVE);
        loop {
            let mut out = String::new();
            let step = tokio::select! {
                () = self.control.stopping() => Err(End::Quietly),
                () = self.body.closed() => Err(End::Quietly),
                change = next_change(&mut self.decisions) => {
                    self.take_change(&mut out, change)
                }
                event = next_event(&mut self.events) => {
                    self.take_event(&mut out, event);
                    Ok(())
                }
                _ = keep_alive.tick() => {
                    message::keep_alive(&mut out);
                    Ok(())
                }
            };
            if let Err(end) = step.and_then(|()| self.take_ready(&mut out)) {
                return end;
            }
            if let Err(end) = self.send_waiting(out, STALL_TIMEOUT).await {
                return end;
            }
        }
    }

    /// Adds what is already waiting, up to a chunk.
    fn take_ready(&mut self, out: &mut String) -> Result<(), End> {
        while out.len() < CHUNK_BYTES {
            let change = match self.decisions.as_mut().map(Subscription::try_recv) {
                Some(Ok(Some(change))) => Some(Ok(change)),
                Some(Err(ended)) => Some(Err(ended)),
                Some(Ok(None)) | None => None,
            };
            let event = match self
                .events
                .as_mut()
                .map(|events| events.receiver.try_recv())
            {
                Some(Ok(event)) => Some(Ok(event)),
                Some(Err(TryRecvError::Lagged(missed))) => Some(Err(RecvError::Lagged(missed))),
                Some(Err(TryRecvError::Closed)) => Some(Err(RecvError::Closed)),
                Some(Err(TryRecvError::Empty)) | None => None,
            };
            if change.is_none() && event.is_none() {
                break;
            }
            if let Some(change) = change {
                self.take_change(out, change)?;
            }
            if let Some(event) = event {
                self.take_event(out, event);
            }
        }
        Ok(())
    }

    fn take_change(
        &mut self,
        out: &mut String,
        change: Result<Arc<Change>, SubscriptionEnded>,
    ) -> Result<(), End> {
        match change {
            Ok(change) => {
                self.write_change(out, &change, Timestamp::now());
                Ok(())
            }
            Err(SubscriptionEnded::TooSlow { .. }) => Err(End::TooSlow),
            Err(_) => Err(End::Quietly),
        }
    }

    fn take_event(&mut self, out: &mut String, event: Result<Arc<LiveEvent>, RecvError>) {
        match event {
            Ok(live) => {
                if self.filter.passes_event(&live.event) {
                    message::event(out, &live);
                }
            }
            Err(RecvError::Lagged(missed)) => {
                self.state.live_events.count_missed(missed);
                message::missed(out, missed);
            }
            Err(RecvError::Closed) => self.events = None,
        }
    }

    fn write_change(&self, out: &mut String, change: &Change, now: Timestamp) {
        if self.filter.passes_change(change, self.policy(), now) {
            message::decision(out, change, &self.state.blocklist);
        }
    }

    fn policy(&self) -> Option<&Policy> {
        self.filter.policy.map(|choice| match choice {
            PolicyChoice::Feeds => &self.state.feeds_policy,
            PolicyChoice::CrowdSec => &self.state.crowdsec_policy,
        })
    }

    /// Queues `out` for the body, waiting up to `timeout` for room.
    async fn send_waiting(&self, out: String, timeout: Duration) -> Result<(), End> {
        if out.is_empty() {
            return Ok(());
        }
        tokio::select! {
            () = self.control.stopping() => Err(End::Quietly),
            sent = tokio::time::timeout(timeout, self.body.send(Ok(Bytes::from(out)))) => match sent {
                Ok(Ok(())) => Ok(()),
                Ok(Err(_closed)) => Err(End::Quietly),
                Err(_elapsed) => Err(End::TooSlow),
            },
        }
    }
}

/// The next change, or never without a subscription.
async fn next_change(
    decisions: &mut Option<Subscription>,
) -> Result<Arc<Change>, SubscriptionEnded> {
    match decisions {
        Some(subscription) => subscription.recv().await,
        None => std::future::pending().await,
    }
}

/// The next event, or never without a receiver.
async fn next_event(events: &mut Option<EventSubscription>) -> Result<Arc<LiveEvent>, RecvError> {
    match events {
        Some(events) => events.receiver.recv().await,
        None => std::future::pending().await,
    }
}
