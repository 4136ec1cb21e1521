//! What the honeypot pretends to be in responsive mode: the built-in personalities (`freepbx`,
//! `generic`, `canned`) and the validation of a personality whose fields an operator changed
//! (the `[personality]` table, applied by `app::settings`). Pure data: no I/O.

use std::time::Duration;

mod plan;

pub use plan::ExtensionPlan;
use plan::default_plan;

use super::syntax::is_line_break;

/// Every built-in personality name.
pub const PERSONALITY_NAMES: [&str; 3] = ["freepbx", "generic", "canned"];
/// Longest ring or call time a personality may ask for.
pub const MAX_CALL_PHASE: Duration = Duration::from_secs(3600);
/// Most extension plan entries (single numbers or ranges).
pub const MAX_PLAN_ENTRIES: usize = 256;

/// Why a `[personality]` table cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PersonalityError {
    /// `name` is not a built-in personality.
    #[error("unknown personality {name:?}; known: freepbx, generic, canned")]
    UnknownName {
        /// The name asked for.
        name: String,
    },
    /// An `extensions` entry is not a number or a `low-high` range of numbers.
    #[error("extensions entry {entry:?}: {reason}")]
    BadExtension {
        /// The entry as written.
        entry: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A field is out of its range or holds characters a header cannot carry.
    #[error("{key}: {reason}")]
    BadValue {
        /// The TOML key.
        key: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// The `canned` personality sends fixed bytes, so overriding its fields has no effect.
    #[error(
        "{key} has no effect with the canned personality (it always sends the original's fixed 200 OK)"
    )]
    CannedOverride {
        /// The TOML key that was set.
        key: &'static str,
    },
}

/// How replies are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyStyle {
    /// A PBX: per-method replies, digest challenges, dialogs.
    Pbx,
    /// The original SentryPeer's fixed `200 OK` (729 bytes) to every request.
    Canned,
}

/// What an answered-or-not INVITE ends in after the ring time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    /// `200 OK` with SDP, then our `BYE` after the call time.
    Answer,
    /// `486 Busy Here`.
    Busy,
    /// `503 Service Unavailable`.
    Unavailable,
    /// `603 Decline`.
    Decline,
}

/// The provisional response sent while "ringing".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// `180 Ringing`.
    Ringing,
    /// `183 Session Progress` with an SDP body (early media, as an outbound trunk gives).
    SessionProgress,
}

/// How INVITEs are handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InviteBehaviour {
    /// Whether an INVITE without `Proxy-Authorization`/`Authorization` gets `407`.
    pub challenge: bool,
    /// The provisional response after `100 Trying`.
    pub progress: Progress,
    /// Time between the INVITE and its final response.
    pub ring: Duration,
    /// The final response.
    pub outcome: CallOutcome,
    /// Time between our `200 OK` and our `BYE`, unless the caller hangs up first.
    pub call: Duration,
}

/// Everything a reply says about the product we pretend to be: a built-in one, with the fields an
/// operator changed, checked by [`Personality::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Personality {
    /// Built-in name this personality started from.
    pub name: String,
    /// PBX replies or the original's fixed bytes.
    pub style: ReplyStyle,
    /// `Server` header of replies and `User-Agent` of our own requests (`BYE`).
    pub server: String,
    /// `Allow`: the methods we claim; other known methods get `405`.
    pub allow: String,
    /// `Supported`.
    pub supported: String,
    /// `Accept`.
    pub accept: String,
    /// `Accept-Encoding` (empty: not sent).
    pub accept_encoding: String,
    /// `Accept-Language` (empty: not sent).
    pub accept_language: String,
    /// `Allow-Events` (empty: not sent).
    pub allow_events: String,
    /// Digest realm of `401`/`407` challenges.
    pub realm: String,
    /// SDP session name (`s=`) of our answers.
    pub sdp_session_name: String,
    /// Extensions that exist.
    pub extensions: ExtensionPlan,
    /// The authorized REGISTER (per source IP and extension) that is accepted: 1 accepts the
    /// first password, 3 rejects two with `403` and accepts the third.
    pub auth_attempts: u32,
    /// INVITE handling.
    pub invite: InviteBehaviour,
}

/// FreePBX 16 on Asterisk 18 (chan_pjsip): the headers of the original SentryPeer's reply.
fn freepbx() -> Personality {
    Personality {
        name: "freepbx".to_owned(),
        style: ReplyStyle::Pbx,
        server: "FPBX-16.0.33(18.13.0)".to_owned(),
        allow: "OPTIONS, SUBSCRIBE, NOTIFY, PUBLISH, INVITE, ACK, BYE, CANCEL, UPDATE, PRACK, \
                REGISTER, REFER, MESSAGE"
            .to_owned(),
        supported: "100rel, timer, replaces, norefersub".to_owned(),
        accept:
            "application/sdp, application/dialog-info+xml, application/simple-message-summary, \
                 application/xpidf+xml, application/cpim-pidf+xml, application/pidf+xml, \
                 application/pidf+xml, application/dialog-info+xml, \
                 application/simple-message-summary, message/sipfrag;version=2.0"
                .to_owned(),
        accept_encoding: "text/plain".to_owned(),
        accept_language: "en".to_owned(),
        allow_events: String::new(),
        realm: "asterisk".to_owned(),
        sdp_session_name: "Asterisk".to_owned(),
        extensions: default_plan(),
        auth_attempts: 3,
        invite: InviteBehaviour {
            challenge: true,
            progress: Progress::SessionProgress,
            ring: Duration::from_secs(3),
            outcome: CallOutcome::Answer,
            call: Duration::from_secs(20),
        },
    }
}

/// A softswitch taking guest calls without a challenge (FreeSWITCH's public profile headers).
fn generic() -> Personality {
    Personality {
        name: "generic".to_owned(),
        style: ReplyStyle::Pbx,
        server: "FreeSWITCH-mod_sofia/1.10.9-release~64bit".to_owned(),
        allow: "INVITE, ACK, BYE, CANCEL, OPTIONS, MESSAGE, INFO, UPDATE, REGISTER, REFER, \
                NOTIFY, PUBLISH, SUBSCRIBE"
            .to_owned(),
        supported: "timer, path, replaces".to_owned(),
        accept: "application/sdp".to_owned(),
        accept_encoding: String::new(),
        accept_language: "en".to_owned(),
        allow_events: "talk, hold, conference, presence, as-feature-event, dialog, line-seize, \
                       call-info, sla, include-session-description, presence.winfo, \
                       message-summary, refer"
            .to_owned(),
        realm: "voip".to_owned(),
        sdp_session_name: "FreeSWITCH".to_owned(),
        extensions: default_plan(),
        auth_attempts: 3,
        invite: InviteBehaviour {
            challenge: false,
            progress: Progress::Ringing,
            ring: Duration::from_secs(2),
            outcome: CallOutcome::Answer,
            call: Duration::from_secs(10),
        },
    }
}

/// The original SentryPeer's fixed reply; only `name` and `style` matter.
fn canned() -> Personality {
    Personality {
        name: "canned".to_owned(),
        style: ReplyStyle::Canned,
        ..freepbx()
    }
}

impl Personality {
    /// The built-in personality called `name`.
    ///
    /// # Errors
    /// [`PersonalityError::UnknownName`].
    pub fn builtin(name: &str) -> Result<Self, PersonalityError> {
        match name {
            "freepbx" => Ok(freepbx()),
            "generic" => Ok(generic()),
            "canned" => Ok(canned()),
            _ => Err(PersonalityError::UnknownName {
                name: name.to_owned(),
            }),
        }
    }

    /// Checks what replies will carry: header values without line breaks, a non-empty `Server`,
    /// a realm and SDP session name that are non-empty and hold no `"` or `\`, at least one
    /// authorization attempt, ring and call times of at most [`MAX_CALL_PHASE`].
    ///
    /// # Errors
    /// [`PersonalityError::BadValue`] naming the TOML key of the first bad field.
    pub fn validate(&self) -> Result<(), PersonalityError> {
        let headers = [
            ("server", &self.server),
            ("allow", &self.allow),
            ("supported", &self.supported),
            ("accept", &self.accept),
            ("accept_encoding", &self.accept_encoding),
            ("accept_language", &self.accept_language),
            ("allow_events", &self.allow_events),
            ("realm", &self.realm),
            ("sdp_session_name", &self.sdp_session_name),
        ];
        for (key, value) in headers {
            if value.bytes().any(is_line_break) {
                return Err(bad_value(key, "holds a line break"));
            }
        }
        if self.server.trim().is_empty() {
            return Err(bad_value("server", "must not be empty"));
        }
        for (key, value) in [
            ("realm", &self.realm),
            ("sdp_session_name", &self.sdp_session_name),
        ] {
            if value.is_empty() || value.contains(['"', '\\']) {
                return Err(bad_value(key, "must be non-empty, without '\"' or '\\'"));
            }
        }
        if self.auth_attempts == 0 {
            return Err(bad_value("auth_attempts", "must be at least 1"));
        }
        for (key, value) in [("ring_ms", self.invite.ring), ("call_ms", self.invite.call)] {
            if value > MAX_CALL_PHASE {
                return Err(bad_value(key, "must be at most 3600000 (one hour)"));
            }
        }
        Ok(())
    }

    /// Whether `method` is listed in `Allow` (exact, case-sensitive as SIP methods are).
    pub fn allows(&self, method: &str) -> bool {
        self.allow.split(',').any(|listed| listed.trim() == method)
    }
}

fn bad_value(key: &'static str, reason: &str) -> PersonalityError {
    PersonalityError::BadValue {
        key,
        reason: reason.to_owned(),
    }
}

impl Default for Personality {
    fn default() -> Self {
        freepbx()
    }
}

#[cfg(test)]
mod tests;
