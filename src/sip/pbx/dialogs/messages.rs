//! The messages of a call: the responses a dialog sends (provisional, final, rejection), our
//! `BYE`, and the URI it is addressed to.

use super::{Dialog, State};
use crate::sip::parse::Probe;
use crate::sip::pbx::server_of;
use crate::sip::personality::{CallOutcome, Personality, Progress};
use crate::sip::respond::{Field, Keep, Response, write_header};
use crate::sip::syntax::starts_with_ignore_case;
use crate::sip::uri::split_address;

/// The response a retransmitted INVITE gets: where the call stands now.
pub(super) fn standing_response(personality: &Personality, dialog: &Dialog) -> Response {
    match dialog.state {
        State::Ringing => Response::new(100, "Trying").with(server_of(personality)),
        State::Answered { .. } => final_response(personality, dialog),
        State::Rejected { code } => rejection(personality, code),
    }
}

/// `Contact`, `Allow`, `Supported`, `Server`: the headers of a call's responses.
fn call_fields(personality: &Personality, dialog: &Dialog) -> Vec<Field> {
    let mut contact = format!("<sip:{}", dialog.local).into_bytes();
    if dialog.transport != "UDP" {
        contact.extend_from_slice(b";transport=");
        contact.extend(
            dialog
                .transport
                .bytes()
                .map(|byte| byte.to_ascii_lowercase()),
        );
    }
    contact.push(b'>');
    [
        Some(Field::bytes("Contact", contact, Keep::Always)),
        Field::text("Allow", &personality.allow, Keep::Optional),
        Field::text("Supported", &personality.supported, Keep::Optional),
        server_of(personality),
    ]
    .into_iter()
    .flatten()
    .collect()
}

pub(super) fn progress_response(personality: &Personality, dialog: &Dialog) -> Response {
    let fields = call_fields(personality, dialog);
    match personality.invite.progress {
        Progress::Ringing => Response::new(180, "Ringing").with(fields),
        Progress::SessionProgress => Response::new(183, "Session Progress")
            .with(fields)
            .with_body(dialog.answer.clone()),
    }
}

pub(super) fn final_response(personality: &Personality, dialog: &Dialog) -> Response {
    match personality.invite.outcome {
        CallOutcome::Answer => Response::new(200, "OK")
            .with(call_fields(personality, dialog))
            .with_body(dialog.answer.clone()),
        CallOutcome::Busy => rejection(personality, 486),
        CallOutcome::Unavailable => rejection(personality, 503),
        CallOutcome::Decline => rejection(personality, 603),
    }
}

pub(super) fn rejection(personality: &Personality, code: u16) -> Response {
    let reason = match code {
        486 => "Busy Here",
        487 => "Request Terminated",
        503 => "Service Unavailable",
        _ => "Decline",
    };
    Response::new(code, reason).with(server_of(personality))
}

/// Our `BYE`, within the INVITE's size limit (without `User-Agent` if need be); `None` without a
/// usable target URI or when it cannot fit.
pub(super) fn bye_request(personality: &Personality, dialog: &Dialog) -> Option<Vec<u8>> {
    let target = dialog.remote_target.as_deref()?;
    let write = |with_agent: bool| {
        let mut request = Vec::with_capacity(512);
        request.extend_from_slice(b"BYE ");
        request.extend_from_slice(target);
        request.extend_from_slice(b" SIP/2.0\r\n");
        let via = format!(
            "SIP/2.0/{} {};branch=z9hG4bK{:016x};rport",
            dialog.transport,
            dialog.local,
            dialog.seed.rotate_left(17)
        );
        write_header(&mut request, "Via", via.as_bytes(), false);
        write_header(&mut request, "Max-Forwards", b"70", false);
        write_header(&mut request, "From", dialog.invite.to(), false);
        write_header(&mut request, "To", dialog.invite.from(), false);
        write_header(&mut request, "Call-ID", dialog.invite.call_id(), false);
        let cseq = format!("{} BYE", 100 + dialog.seed % 900);
        write_header(&mut request, "CSeq", cseq.as_bytes(), false);
        if let Some(agent) = Field::text("User-Agent", &personality.server, Keep::Identity)
            && with_agent
        {
            write_header(&mut request, agent.name, &agent.value, false);
        }
        write_header(&mut request, "Content-Length", b"0", false);
        request.extend_from_slice(b"\r\n");
        request
    };
    [true, false].into_iter().map(write).find(|request| {
        dialog
            .max_reply_bytes
            .is_none_or(|limit| request.len() <= limit)
    })
}

/// The URI our `BYE` is addressed to: the INVITE's `Contact`, else its `From`, when it is a plain
/// `sip:`/`sips:` URI of printable characters.
pub(super) fn remote_target(probe: &Probe<'_>) -> Option<Vec<u8>> {
    let usable = |uri: &[u8]| {
        (starts_with_ignore_case(uri, b"sip:") || starts_with_ignore_case(uri, b"sips:"))
            && uri.len() <= 256
            && uri
                .iter()
                .all(|byte| byte.is_ascii_graphic() && !matches!(byte, b'<' | b'>' | b'"'))
    };
    probe
        .header("Contact")
        .into_iter()
        .chain(probe.from())
        .map(|value| split_address(value).uri)
        .find(|uri| usable(uri))
        .map(<[u8]>::to_vec)
}
