//! The `[personality]` TOML table: a built-in name and overrides of its fields, resolved into a
//! validated [`Personality`].

use std::time::Duration;

use serde::Deserialize;

use super::{
    CallOutcome, DEFAULT_PERSONALITY, ExtensionPlan, MAX_CALL_PHASE, Personality, PersonalityError,
    Progress, ReplyStyle,
};
use crate::sip::syntax::is_line_break;

/// The `[personality]` TOML table: a built-in `name` and optional overrides of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersonalitySettings {
    /// Built-in personality: `freepbx` (default), `generic` or `canned`.
    pub name: String,
    /// `Server` header.
    pub server: Option<String>,
    /// `Allow` header.
    pub allow: Option<String>,
    /// `Supported` header.
    pub supported: Option<String>,
    /// `Accept` header.
    pub accept: Option<String>,
    /// `Accept-Encoding` header (empty: not sent).
    pub accept_encoding: Option<String>,
    /// `Accept-Language` header (empty: not sent).
    pub accept_language: Option<String>,
    /// `Allow-Events` header (empty: not sent).
    pub allow_events: Option<String>,
    /// Digest realm.
    pub realm: Option<String>,
    /// SDP session name.
    pub sdp_session_name: Option<String>,
    /// Extension plan entries: `"100-199"`, `"1000"`.
    pub extensions: Option<Vec<String>>,
    /// Authorized REGISTER that is accepted (at least 1).
    pub auth_attempts: Option<u32>,
    /// Challenge INVITEs without credentials with `407`.
    pub invite_challenge: Option<bool>,
    /// `ringing` (180) or `session_progress` (183 with SDP).
    pub progress: Option<Progress>,
    /// Milliseconds between the INVITE and its final response.
    pub ring_ms: Option<u64>,
    /// `answer`, `busy`, `unavailable` or `decline`.
    pub call_outcome: Option<CallOutcome>,
    /// Milliseconds of an answered call before our `BYE`.
    pub call_ms: Option<u64>,
}

impl Default for PersonalitySettings {
    fn default() -> Self {
        Self {
            name: DEFAULT_PERSONALITY.to_owned(),
            server: None,
            allow: None,
            supported: None,
            accept: None,
            accept_encoding: None,
            accept_language: None,
            allow_events: None,
            realm: None,
            sdp_session_name: None,
            extensions: None,
            auth_attempts: None,
            invite_challenge: None,
            progress: None,
            ring_ms: None,
            call_outcome: None,
            call_ms: None,
        }
    }
}

impl PersonalitySettings {
    /// The built-in personality with the overrides applied, validated.
    ///
    /// # Errors
    /// An unknown name, an override of `canned`, a bad extension entry, `auth_attempts = 0`, a
    /// ring or call time over an hour, a header value with a line break, an empty `server`, or a
    /// realm or session name that is empty or holds `"` or `\`.
    pub fn resolve(&self) -> Result<Personality, PersonalityError> {
        let mut personality = Personality::builtin(&self.name)?;
        if personality.style == ReplyStyle::Canned {
            if let Some(key) = self.first_override() {
                return Err(PersonalityError::CannedOverride { key });
            }
            return Ok(personality);
        }
        let texts = [
            ("server", &self.server, &mut personality.server),
            ("allow", &self.allow, &mut personality.allow),
            ("supported", &self.supported, &mut personality.supported),
            ("accept", &self.accept, &mut personality.accept),
            (
                "accept_encoding",
                &self.accept_encoding,
                &mut personality.accept_encoding,
            ),
            (
                "accept_language",
                &self.accept_language,
                &mut personality.accept_language,
            ),
            (
                "allow_events",
                &self.allow_events,
                &mut personality.allow_events,
            ),
            ("realm", &self.realm, &mut personality.realm),
            (
                "sdp_session_name",
                &self.sdp_session_name,
                &mut personality.sdp_session_name,
            ),
        ];
        for (key, value, slot) in texts {
            if let Some(value) = value {
                if value.bytes().any(is_line_break) {
                    return Err(bad_value(key, "holds a line break"));
                }
                value.clone_into(slot);
            }
        }
        if personality.server.trim().is_empty() {
            return Err(bad_value("server", "must not be empty"));
        }
        for (key, value) in [
            ("realm", &personality.realm),
            ("sdp_session_name", &personality.sdp_session_name),
        ] {
            if value.is_empty() || value.contains(['"', '\\']) || value.bytes().any(is_line_break) {
                return Err(bad_value(key, "must be non-empty, without '\"' or '\\'"));
            }
        }
        if let Some(entries) = &self.extensions {
            personality.extensions = ExtensionPlan::parse(entries)?;
        }
        if let Some(attempts) = self.auth_attempts {
            if attempts == 0 {
                return Err(bad_value("auth_attempts", "must be at least 1"));
            }
            personality.auth_attempts = attempts;
        }
        let invite = &mut personality.invite;
        invite.challenge = self.invite_challenge.unwrap_or(invite.challenge);
        invite.progress = self.progress.unwrap_or(invite.progress);
        invite.outcome = self.call_outcome.unwrap_or(invite.outcome);
        for (key, value, slot) in [
            ("ring_ms", self.ring_ms, &mut invite.ring),
            ("call_ms", self.call_ms, &mut invite.call),
        ] {
            if let Some(millis) = value {
                let duration = Duration::from_millis(millis);
                if duration > MAX_CALL_PHASE {
                    return Err(bad_value(key, "must be at most 3600000 (one hour)"));
                }
                *slot = duration;
            }
        }
        Ok(personality)
    }

    /// The first field set besides `name`, if any.
    fn first_override(&self) -> Option<&'static str> {
        let set = [
            ("server", self.server.is_some()),
            ("allow", self.allow.is_some()),
            ("supported", self.supported.is_some()),
            ("accept", self.accept.is_some()),
            ("accept_encoding", self.accept_encoding.is_some()),
            ("accept_language", self.accept_language.is_some()),
            ("allow_events", self.allow_events.is_some()),
            ("realm", self.realm.is_some()),
            ("sdp_session_name", self.sdp_session_name.is_some()),
            ("extensions", self.extensions.is_some()),
            ("auth_attempts", self.auth_attempts.is_some()),
            ("invite_challenge", self.invite_challenge.is_some()),
            ("progress", self.progress.is_some()),
            ("ring_ms", self.ring_ms.is_some()),
            ("call_outcome", self.call_outcome.is_some()),
            ("call_ms", self.call_ms.is_some()),
        ];
        set.into_iter()
            .find(|(_, is_set)| *is_set)
            .map(|(key, _)| key)
    }
}

fn bad_value(key: &'static str, reason: &str) -> PersonalityError {
    PersonalityError::BadValue {
        key,
        reason: reason.to_owned(),
    }
}
