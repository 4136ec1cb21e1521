//! SentryPeer: a SIP honeypot that records the IP addresses bad actors come from and the phone
//! numbers they try to call, and turns that into data operators act on.
//!
//! # Layout
//!
//! Layers, from the top; a module imports only from layers below it, and there are no import
//! circles (`python3 ../shared/tools/import_graph.py src` checks both):
//!
//! - [`app`]: the only module that knows every other: [`app::settings`] validates the
//!   configuration and builds each module's options; `run` binds, opens, starts every
//!   long-running part as a service and stops them in order.
//! - [`api`]: the REST API (the original's routes, `/api/v1/`, feeds, CrowdSec stream, metrics).
//! - [`sinks`] (JSON log, syslog, webhook) and [`p2p`] (signed sharing over rust-libp2p):
//!   consumers of the pipeline; [`bridge`]: the original's OpenDHT community through
//!   OpenDHT's REST proxy.
//! - [`transport`]: UDP, TCP and TLS listeners, and the probe handler they share.
//! - [`blocklist`]: the live in-memory verdicts (IPs, numbers), their change stream and the
//!   verdict policy.
//! - [`store`]: SQLite schema, migrations, the writer thread, retention, the read pool and
//!   queries; the files kept next to the database.
//! - [`pipeline`]: bounded fan-out of events to consumers, with drop counters.
//! - [`event`]: [`event::BadActor`], the one record every consumer receives, and its JSON form.
//! - [`sip`]: pure SIP handling (framing, parsing, credentials, attack classification,
//!   personalities, the reply writer and the PBX state machine); no I/O.
//!
//! Leaf utilities, importing no feature module: [`config`] (the TOML tree with every default;
//! flags and `SENTRYPEER_*` variables merged over it), [`telemetry`] (each part names its
//! counters once; `/api/v1/health` and `/metrics` render them), [`shutdown`] (the one shutdown
//! signal), [`countries`] (the country of a source IP, offline), [`thread_priority`] (background threads give way to capture), [`logging`] (stderr
//! logs, one line per event whatever attackers put in the values). `fuzzing` holds the
//! fuzz targets' bodies, shared with the corpus replay test (compiled only for tests and with the
//! `fuzzing` feature, which the fuzz crate enables).
//!
//! # Features
//!
//! The optional parts are cargo features, all on by default: `tls` (the TLS listener in
//! [`transport`]), `api`, `gui`, `webhook` (in [`sinks`]), `p2p`, `opendht` ([`bridge`]),
//! `sip-agent` and `bgp`. Only this file, [`transport`] (TLS), [`sinks`] (the webhook),
//! [`telemetry`] (Prometheus text for the API) and `app` name them; the API's BGP route
//! is served only when `bgp` is built. `app::settings` turns a flag whose feature is not built
//! into one configuration error.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "api")]
pub mod api;
pub mod app;
#[cfg(feature = "bgp")]
pub mod bgp;
pub mod blocklist;
#[cfg(feature = "opendht")]
pub mod bridge;
pub mod config;
#[cfg(any(feature = "gui", feature = "p2p"))]
pub mod countries;
pub mod event;
#[cfg(any(test, feature = "fuzzing"))]
pub mod fuzzing;
#[cfg(feature = "gui")]
pub mod gui;
pub mod logging;
#[cfg(feature = "p2p")]
pub mod p2p;
pub mod pipeline;
pub mod shutdown;
pub mod sinks;
pub mod sip;
#[cfg(feature = "sip-agent")]
pub mod sip_agent;
pub mod store;
pub mod telemetry;
pub mod thread_priority;
pub mod transport;
