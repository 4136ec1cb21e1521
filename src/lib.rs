//! SentryPeer: a SIP honeypot that records the IP addresses bad actors come from and the phone
//! numbers they try to call, and turns that into data operators act on.
//!
//! # Layout
//!
//! - [`sip`]: pure SIP handling (framing, parsing, reply policy); no I/O.
//! - [`event`]: [`event::BadActor`], the one record every consumer receives.
//! - [`store`]: SQLite schema, migrations, the writer thread and retention.
#![warn(missing_docs)]

pub mod event;
pub mod sip;
pub mod store;
