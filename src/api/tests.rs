//! Router tests: the whole API driven with `oneshot` against a temp-file database seeded through
//! the store's own writer.

mod attack_types;
mod compat;
mod crowdsec;
mod feeds;
mod header_case;
mod placeholders;
mod read_only;
mod sentrypeerhq;
mod serve;
mod stream;
mod v1;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use jiff::SignedDuration;
use tempfile::TempDir;
use tower::ServiceExt;
use uuid::Uuid;

use super::{ApiLimits, ApiReader, ApiState, CrowdSecKeys, OAuthClients, router};
use crate::blocklist::{
    Blocklist, BlocklistOptions, ConsumerOptions, Observation, Policy, VerdictOptions,
};
use crate::config::Secret;
use crate::event::test_support::EventBuilder;
use crate::event::{BadActor, format_timestamp};
use crate::p2p::P2pStats;
use crate::pipeline::PipelineMonitor;
use crate::sinks::live_events::LiveEvents;
use crate::sinks::webhook::WebhookStats;
use crate::store::{self, StoreStats};
use crate::telemetry::Registry;
use crate::transport::udp_drops::UdpDropMonitor;
use crate::transport::{ConnectionCounters, TransportCounters};

/// A database in a temp dir, the live blocklist fed the same events, and a way to build
/// routers on them.
struct Fixture {
    dir: TempDir,
    blocklist: Arc<Blocklist>,
    live_events: Arc<LiveEvents>,
}

impl Fixture {
    /// An empty (migrated) database.
    fn empty() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        store::open(&dir.path().join("sentrypeer.db")).expect("create database");
        Self {
            dir,
            blocklist: Arc::new(Blocklist::new(&BlocklistOptions::default())),
            live_events: Arc::new(LiveEvents::default()),
        }
    }

    /// The original's test row (`104.149.141.214`, number `100`, INVITE, `friendly-scanner`).
    fn original() -> Self {
        let fixture = Self::empty();
        fixture.insert(&[EventBuilder::new().seconds_ago(60).build()]);
        fixture
    }

    /// The fixture with a blocklist sized by `options`.
    fn with_blocklist(options: &BlocklistOptions) -> Self {
        Self {
            blocklist: Arc::new(Blocklist::new(options)),
            ..Self::empty()
        }
    }

    /// Stores `events` and counts them in the blocklist, as capture does.
    fn insert(&self, events: &[BadActor]) {
        let mut conn = store::open(&self.dir.path().join("sentrypeer.db")).expect("open");
        let events: Vec<Arc<BadActor>> = events.iter().cloned().map(Arc::new).collect();
        store::writer::insert_events(&mut conn, &events).expect("insert");
        for event in &events {
            self.blocklist
                .observe(&Observation::from_event(event, false));
        }
    }

    fn router(&self) -> Router {
        self.router_with(None, Vec::new())
    }

    fn router_with(&self, token: Option<&str>, crowdsec_keys: Vec<&str>) -> Router {
        self.router_with_clients(token, crowdsec_keys, OAuthClients::none())
    }

    fn router_with_clients(
        &self,
        token: Option<&str>,
        crowdsec_keys: Vec<&str>,
        oauth: OAuthClients,
    ) -> Router {
        // The fixtures' addresses are documentation addresses (special-purpose): let them be
        // verdicts, as `--verdict-include-special-addresses` does.
        let verdicts = VerdictOptions {
            include_special_addresses: true,
            ..VerdictOptions::default()
        };
        self.router_with_verdicts(token, crowdsec_keys, &verdicts, oauth)
    }

    fn router_with_verdicts(
        &self,
        token: Option<&str>,
        crowdsec_keys: Vec<&str>,
        verdicts: &VerdictOptions,
        oauth: OAuthClients,
    ) -> Router {
        let blocklist = &self.blocklist;
        let policy = |consumer| Policy::new(verdicts, &consumer, blocklist);
        let state = ApiState {
            feeds_policy: policy(ConsumerOptions::feeds()),
            crowdsec_policy: policy(ConsumerOptions::crowdsec()),
            blocklist: Arc::clone(blocklist),
            live_events: Arc::clone(&self.live_events),
            reader: ApiReader::new(store::ReadPool::new(self.dir.path().join("sentrypeer.db"))),
            // Only the store counts; every other part is off.
            telemetry: Registry::default()
                .off::<PipelineMonitor>()
                .with(Some(Arc::new(StoreStats::default())))
                .off::<UdpDropMonitor>()
                .off::<P2pStats>()
                .off::<WebhookStats>()
                .off::<TransportCounters>()
                .off::<ConnectionCounters>(),
            node_id: Uuid::from_u128(42),
            started: Instant::now(),
            token: token.map(Secret::new),
            session_check: Some(|headers, token| {
                headers
                    .get("cookie")
                    .and_then(|value| value.to_str().ok())
                    .is_some_and(|value| value == format!("dashboard_session={}", token.expose()))
            }),
            crowdsec: CrowdSecKeys::new(crowdsec_keys.into_iter().map(Secret::new).collect()),
            crowdsec_ban: SignedDuration::from_hours(24),
            oauth,
            call_policy: policy(ConsumerOptions::sip_agent()),
            bgp: None,
            community: None,
            connected_peers: None,
        };
        router(Arc::new(state), ApiLimits::default(), Router::new())
    }
}

/// A local UDP request from `ip` calling `number`, `seconds_ago` old.
fn event(ip: &str, number: &str, method: &str, agent: &str, seconds_ago: i64) -> BadActor {
    EventBuilder::new()
        .source_ip(ip)
        .number(number)
        .method(method)
        .user_agent(agent)
        .seconds_ago(seconds_ago)
        .build()
}

/// The stored text of an event's timestamp.
fn stored_timestamp(event: &BadActor) -> String {
    format_timestamp(event.event_timestamp)
}

/// A response's status, headers and body text.
struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("JSON body")
    }
}

async fn send(router: &Router, request: Request<Body>) -> Answer {
    let response = router.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response
        .into_body()
        .collect()
        .await
        .expect("whole body")
        .to_bytes();
    Answer {
        status,
        headers,
        body: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
    }
}

async fn get(router: &Router, uri: &str) -> Answer {
    send(
        router,
        Request::get(uri).body(Body::empty()).expect("request"),
    )
    .await
}

/// Asserts the original's headers.
fn assert_common_headers(answer: &Answer) {
    assert_eq!(answer.header("access-control-allow-origin"), "*");
    assert_eq!(answer.header("x-powered-by"), "SentryPeer");
    assert_eq!(
        answer.header("x-sentrypeer-version"),
        env!("CARGO_PKG_VERSION")
    );
}
