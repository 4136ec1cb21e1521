//! What the honeypot pretends to be in responsive mode: the built-in personalities (`freepbx`,
//! `generic`, `canned`), the `[personality]` TOML table that picks one and overrides its fields,
//! and the validation of the result. Pure data: no I/O.

use std::time::Duration;

use serde::Deserialize;

use super::syntax::is_line_break;

/// The personality used when none is named.
pub const DEFAULT_PERSONALITY: &str = "freepbx";
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
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

/// Inclusive ranges of numeric extensions that "exist" (REGISTER gets a challenge, not a 404).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionPlan {
    ranges: Vec<(u64, u64)>,
}

impl ExtensionPlan {
    /// Parses entries such as `"100-199"` or `"1000"`.
    ///
    /// # Errors
    /// [`PersonalityError::BadExtension`] for an entry that is not a number or an ascending range;
    /// [`PersonalityError::BadValue`] for an empty or too long plan.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, PersonalityError> {
        if entries.is_empty() || entries.len() > MAX_PLAN_ENTRIES {
            return Err(PersonalityError::BadValue {
                key: "extensions",
                reason: format!("needs 1 to {MAX_PLAN_ENTRIES} entries"),
            });
        }
        let ranges = entries
            .iter()
            .map(|entry| parse_plan_entry(entry.as_ref()))
            .collect::<Result<_, _>>()?;
        Ok(Self { ranges })
    }

    /// Whether a user part (the `To` user of a REGISTER) is an extension of the plan: decimal
    /// digits only, written without leading zeros, inside one of the ranges.
    pub fn contains(&self, user: &[u8]) -> bool {
        let Some(number) = canonical_number(user) else {
            return false;
        };
        self.ranges
            .iter()
            .any(|&(low, high)| (low..=high).contains(&number))
    }

    /// The extension as a number, when it is in the plan.
    pub fn lookup(&self, user: &[u8]) -> Option<u64> {
        canonical_number(user).filter(|_| self.contains(user))
    }
}

/// A user part as a number: 1 to 19 decimal digits, no leading zero (except `0` itself).
fn canonical_number(user: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(user).ok()?;
    let valid = !text.is_empty()
        && text.len() <= 19
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    if valid { text.parse().ok() } else { None }
}

fn parse_plan_entry(entry: &str) -> Result<(u64, u64), PersonalityError> {
    let bad = |reason| PersonalityError::BadExtension {
        entry: entry.to_owned(),
        reason,
    };
    let number = |text: &str| canonical_number(text.trim().as_bytes());
    match entry.split_once('-') {
        None => {
            let single = number(entry).ok_or(bad("not a number without leading zeros"))?;
            Ok((single, single))
        }
        Some((low, high)) => {
            let low = number(low).ok_or(bad("range start is not a number"))?;
            let high = number(high).ok_or(bad("range end is not a number"))?;
            if low > high {
                return Err(bad("range start is after its end"));
            }
            Ok((low, high))
        }
    }
}

/// Everything a reply says about the product we pretend to be. Built from [`PersonalitySettings`].
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

/// The default extension plan: 100–199 and a few numbers scanners try first.
fn default_plan() -> ExtensionPlan {
    ExtensionPlan {
        ranges: vec![
            (100, 199),
            (200, 201),
            (300, 300),
            (1000, 1000),
            (2000, 2000),
        ],
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

    /// Whether `method` is listed in `Allow` (exact, case-sensitive as SIP methods are).
    pub fn allows(&self, method: &str) -> bool {
        self.allow.split(',').any(|listed| listed.trim() == method)
    }
}

impl Default for Personality {
    fn default() -> Self {
        freepbx()
    }
}

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

#[cfg(test)]
mod tests;
