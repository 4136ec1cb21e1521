//! SentryPeer: a SIP honeypot that records the IP addresses bad actors come from and the phone
//! numbers they try to call, and turns that into data operators act on.
//!
//! # Layout
//!
//! - [`app`]: wiring: binds sockets, starts services, owns the shutdown order.
//! - [`cli`] and [`config`]: flags, `SENTRYPEER_*` variables and the TOML file, merged.
//! - [`shutdown`]: the one shutdown signal.
//! - [`event`]: [`event::BadActor`], the one record every consumer receives, and its JSON form.
//! - [`sip`]: pure SIP handling (framing, parsing, credentials, attack classification,
//!   personalities, the reply writer and the PBX state machine); no I/O.
//! - [`transport`]: UDP, TCP and TLS listeners, and the probe handler they share.
//! - [`pipeline`]: bounded fan-out of events to consumers, with drop counters.
//! - [`store`]: SQLite schema, migrations, the writer thread, retention and the read side.
//! - [`blocklist`]: the live in-memory verdicts (IPs, numbers), their change stream and the
//!   verdict policy.
//! - [`api`]: the REST API (original routes, `/api/v1/`, feeds, CrowdSec stream, metrics).
//! - [`sinks`]: JSON log, syslog and webhook.
//! - [`p2p`]: peer-to-peer sharing of signed records over rust-libp2p.
//! - [`node_id`]: the node's persistent id.
//! - [`fuzzing`]: the fuzz targets' bodies (`fuzz/`), shared with the corpus replay test.
//! - [`thread_priority`]: background threads (the store writer) give way to capture.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod app;
pub mod blocklist;
pub mod cli;
pub mod config;
pub mod event;
pub mod fuzzing;
pub mod node_id;
pub mod p2p;
pub mod pipeline;
pub mod shutdown;
pub mod sinks;
pub mod sip;
pub mod store;
pub mod thread_priority;
pub mod transport;
