//! Pure SIP handling: framing of byte streams, lenient parsing into a [`Probe`], what a probe was
//! after ([`classify()`]), and the reply policy. Nothing in here does I/O, touches tokio, a socket
//! or the store.

pub mod classify;
pub mod digest;
pub mod framing;
pub mod parse;
pub mod respond;
mod start_line;
mod syntax;
mod uri;
mod via;

pub use classify::{AttackType, Classification, classify};
pub use framing::{FrameCheck, check_frame};
pub use parse::{Header, MAX_HEADERS, MessageKind, ParseDefect, Probe, parse};
pub use respond::{Personality, ReplyContext, is_answerable_source, respond};

#[cfg(test)]
mod tests;
