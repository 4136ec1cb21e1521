//! Pure SIP handling: framing of byte streams, lenient parsing into a [`Probe`], what a probe was
//! after ([`classify()`]), the personality the responder presents and its reply state machine.
//! Nothing in here does I/O, touches tokio, a socket or the store.

pub mod classify;
pub mod digest;
pub mod framing;
pub mod parse;
pub mod pbx;
pub mod personality;
pub mod redirect;
pub mod respond;
mod start_line;
mod syntax;
mod uri;
mod via;

pub use classify::{AttackType, Classification, classify};
pub use framing::{FrameCheck, StreamFramer, check_frame};
pub use parse::{Header, MAX_HEADERS, MessageKind, ParseDefect, Probe, parse};
pub use pbx::{Inbound, Outgoing, Pbx, ReplyPlan, Screening, StateLimits, Timer};
pub use personality::{CallOutcome, Personality, PersonalityError, Progress};
pub use respond::{CANNED_REPLY, is_answerable_source};

#[cfg(test)]
mod tests;
