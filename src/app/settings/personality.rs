//! The `[personality]` table applied: the built-in personality it names, with its overrides,
//! validated by the personality itself.

use std::time::Duration;

use crate::config::{CallOutcomeSetting, PersonalitySettings, ProgressSetting};
use crate::sip::personality::{ExtensionPlan, ReplyStyle};
use crate::sip::{CallOutcome, Personality, PersonalityError, Progress};

/// The built-in personality named by `settings`, with the overrides applied and checked.
///
/// # Errors
/// An unknown name, an override of `canned`, a bad extension entry or a bad value (see
/// [`Personality::validate`]).
pub(crate) fn resolve(settings: &PersonalitySettings) -> Result<Personality, PersonalityError> {
    let mut personality = Personality::builtin(&settings.name)?;
    if personality.style == ReplyStyle::Canned {
        return match settings.first_override() {
            Some(key) => Err(PersonalityError::CannedOverride { key }),
            None => Ok(personality),
        };
    }
    let texts = [
        (&settings.server, &mut personality.server),
        (&settings.allow, &mut personality.allow),
        (&settings.supported, &mut personality.supported),
        (&settings.accept, &mut personality.accept),
        (&settings.accept_encoding, &mut personality.accept_encoding),
        (&settings.accept_language, &mut personality.accept_language),
        (&settings.allow_events, &mut personality.allow_events),
        (&settings.realm, &mut personality.realm),
        (
            &settings.sdp_session_name,
            &mut personality.sdp_session_name,
        ),
    ];
    for (value, slot) in texts {
        if let Some(value) = value {
            value.clone_into(slot);
        }
    }
    if let Some(entries) = &settings.extensions {
        personality.extensions = ExtensionPlan::parse(entries)?;
    }
    if let Some(attempts) = settings.auth_attempts {
        personality.auth_attempts = attempts;
    }
    let invite = &mut personality.invite;
    invite.challenge = settings.invite_challenge.unwrap_or(invite.challenge);
    if let Some(progress) = settings.progress {
        invite.progress = match progress {
            ProgressSetting::Ringing => Progress::Ringing,
            ProgressSetting::SessionProgress => Progress::SessionProgress,
        };
    }
    if let Some(outcome) = settings.call_outcome {
        invite.outcome = match outcome {
            CallOutcomeSetting::Answer => CallOutcome::Answer,
            CallOutcomeSetting::Busy => CallOutcome::Busy,
            CallOutcomeSetting::Unavailable => CallOutcome::Unavailable,
            CallOutcomeSetting::Decline => CallOutcome::Decline,
        };
    }
    for (value, slot) in [
        (settings.ring_ms, &mut invite.ring),
        (settings.call_ms, &mut invite.call),
    ] {
        if let Some(millis) = value {
            *slot = Duration::from_millis(millis);
        }
    }
    personality.validate()?;
    Ok(personality)
}
