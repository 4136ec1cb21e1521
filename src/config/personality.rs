//! The `[personality]` TOML table: a built-in personality's `name` and overrides of its fields.
//! Only the shape lives here (its default in `defaults`); `app::settings` applies the overrides to the
//! built-in personality and validates the result.

use serde::{Deserialize, Serialize};

/// The `[personality]` TOML table: a built-in `name` and optional overrides of its fields.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
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
    pub progress: Option<ProgressSetting>,
    /// Milliseconds between the INVITE and its final response.
    pub ring_ms: Option<u64>,
    /// `answer`, `busy`, `unavailable` or `decline`.
    pub call_outcome: Option<CallOutcomeSetting>,
    /// Milliseconds of an answered call before our `BYE`.
    pub call_ms: Option<u64>,
}

/// `progress` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressSetting {
    /// `180 Ringing`.
    Ringing,
    /// `183 Session Progress` with SDP.
    SessionProgress,
}

/// `call_outcome` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallOutcomeSetting {
    /// `200 OK`, then our `BYE`.
    Answer,
    /// `486 Busy Here`.
    Busy,
    /// `503 Service Unavailable`.
    Unavailable,
    /// `603 Decline`.
    Decline,
}

impl PersonalitySettings {
    /// The first field set besides `name`, if any.
    pub fn first_override(&self) -> Option<&'static str> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_and_bad_enum_values_are_rejected_by_toml() {
        for text in [
            "bogus = 1",
            r#"call_outcome = "hangup""#,
            r#"progress = "early""#,
            "auth_attempts = -1",
        ] {
            assert!(
                toml::from_str::<PersonalitySettings>(text).is_err(),
                "{text}"
            );
        }
        let empty: PersonalitySettings = toml::from_str("").expect("empty table");
        assert_eq!(empty.name, "freepbx");
        assert_eq!(empty.first_override(), None);
        let overridden: PersonalitySettings = toml::from_str("call_ms = 5").expect("valid table");
        assert_eq!(overridden.first_override(), Some("call_ms"));
    }
}
