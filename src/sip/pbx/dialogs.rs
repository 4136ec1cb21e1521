//! INVITE dialogs: the `407` challenge, `100 Trying` and `180`/`183` at once, the final response
//! after the ring time, our `BYE` after the call time; `ACK`, `BYE` and `CANCEL` from the caller.
//!
//! - A challenged INVITE creates no state and gets exactly one reply.
//! - Timers name their dialog and its id: a dialog that hung up, was cancelled, re-created or
//!   evicted makes its old timers do nothing.
//! - Our `BYE` goes only after the caller's `ACK` confirmed the dialog (a spoofed INVITE never
//!   gets one), always to the address the INVITE came from: the `Contact` URI is only written in
//!   the request line, never used to pick a destination.
//! - Every later datagram obeys the size limit of the request that started the dialog.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{
    Inbound, Keep, Pbx, ReplyPlan, Timer, has_credentials, no_such_dialog, sdp, server_of,
};
use crate::sip::parse::Probe;
use crate::sip::personality::{CallOutcome, Personality, Progress};
use crate::sip::respond::{Body, Field, Response, Transaction, write_header, write_response};
use crate::sip::syntax::starts_with_ignore_case;
use crate::sip::uri::{find_param, split_address};

/// How long a dialog outlives its last expected message (64 × T1, RFC 3261 timer B).
const DIALOG_GRACE: Duration = Duration::from_secs(32);

/// Identifies a dialog from the caller's side: `Call-ID` and `From` tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct DialogKey {
    call_id: Vec<u8>,
    from_tag: Vec<u8>,
}

impl DialogKey {
    pub(crate) fn of(probe: &Probe<'_>) -> Self {
        let from_tag = probe
            .from()
            .and_then(|from| find_param(split_address(from).params, b"tag"))
            .unwrap_or_default();
        Self {
            call_id: probe.call_id().unwrap_or_default().to_vec(),
            from_tag: from_tag.to_vec(),
        }
    }
}

/// What a timer does when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Step {
    /// Send the final response of a ringing INVITE.
    Final,
    /// Hang up an answered call.
    Bye,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// `100`/`180`/`183` sent, final response pending.
    Ringing,
    /// `200 OK` sent; `confirmed` once the caller's `ACK` arrived.
    Answered { confirmed: bool },
    /// A non-2xx final response (`code`) sent; waiting for the `ACK`.
    Rejected { code: u16 },
}

/// One call.
#[derive(Debug)]
pub(crate) struct Dialog {
    id: u64,
    state: State,
    invite: Transaction,
    max_reply_bytes: Option<usize>,
    local: SocketAddr,
    transport: &'static str,
    remote_target: Option<Vec<u8>>,
    answer: Body,
    seed: u64,
    pub(crate) expires: Instant,
}

impl Pbx {
    /// Whether a live dialog matches the request's `Call-ID` and `From` tag.
    pub(super) fn has_dialog(&self, probe: &Probe<'_>, now: Instant) -> bool {
        self.dialogs
            .peek(&DialogKey::of(probe))
            .is_some_and(|dialog| dialog.expires > now)
    }

    pub(super) fn invite(
        &mut self,
        inbound: &Inbound<'_, '_>,
        transaction: Transaction,
        now: Instant,
    ) -> ReplyPlan {
        let probe = inbound.probe;
        let limit = inbound.max_reply_bytes;
        let key = DialogKey::of(probe);
        let personality = &self.personality;
        if let Some(dialog) = self.dialogs.peek(&key).filter(|d| d.expires > now) {
            let (response, answered_for) = if dialog.invite.cseq() == transaction.cseq() {
                // A retransmission: repeat where the call stands.
                (standing_response(personality, dialog), &dialog.invite)
            } else if matches!(dialog.state, State::Answered { .. }) {
                // A re-INVITE (session refresh, hold): same media, new transaction.
                (final_response(personality, dialog), &transaction)
            } else {
                let pending = Response::new(491, "Request Pending").with(server_of(personality));
                (pending, &transaction)
            };
            return ReplyPlan::single(
                write_response(answered_for, &response, limit),
                response.code,
            );
        }
        if personality.invite.challenge && !has_credentials(probe) {
            let challenge = self.challenge(407, inbound.source.ip().to_canonical(), now);
            return ReplyPlan::single(write_response(&transaction, &challenge, limit), 407);
        }
        if transaction.held_bytes() > super::MAX_DIALOG_HEADER_BYTES {
            let busy = Response::new(486, "Busy Here").with(server_of(personality));
            return ReplyPlan::single(write_response(&transaction, &busy, limit), 486);
        }
        let id = self.next_dialog_id;
        self.next_dialog_id = id.wrapping_add(1);
        let seed = self
            .keyed
            .hash(b"dialog", &[&key.call_id, &key.from_tag, &id.to_le_bytes()]);
        let local = SocketAddr::new(inbound.local.ip().to_canonical(), inbound.local.port());
        let behaviour = personality.invite;
        let dialog = Dialog {
            id,
            state: State::Ringing,
            invite: transaction,
            max_reply_bytes: limit,
            local,
            transport: inbound.transport,
            remote_target: remote_target(probe),
            answer: sdp::answer(probe.body, local.ip(), &personality.sdp_session_name, seed),
            seed,
            expires: now + behaviour.ring + behaviour.call + DIALOG_GRACE,
        };
        let mut plan = ReplyPlan::default();
        let trying = Response::new(100, "Trying").with(server_of(personality));
        plan.push(write_response(&dialog.invite, &trying, limit), Some(100));
        let progress = progress_response(personality, &dialog);
        let code = progress.code;
        plan.push(write_response(&dialog.invite, &progress, limit), Some(code));
        plan.timers.push(Timer {
            after: behaviour.ring,
            dialog: key.clone(),
            id,
            step: Step::Final,
        });
        self.dialogs.put(key, dialog);
        plan
    }

    pub(super) fn ack(&mut self, probe: &Probe<'_>, now: Instant) {
        let key = DialogKey::of(probe);
        let Some(dialog) = self.dialogs.peek_mut(&key) else {
            return;
        };
        match dialog.state {
            State::Answered { .. } if dialog.expires > now => {
                dialog.state = State::Answered { confirmed: true };
            }
            State::Rejected { .. } => {
                self.dialogs.pop(&key);
            }
            _ => {}
        }
    }

    /// `200 OK` and the end of the dialog, or `481` when there is none.
    pub(super) fn bye(&mut self, probe: &Probe<'_>, now: Instant) -> Response {
        let server = server_of(&self.personality);
        match self.dialogs.pop(&DialogKey::of(probe)) {
            Some(dialog) if dialog.expires > now => Response::new(200, "OK").with(server),
            _ => no_such_dialog().with(server),
        }
    }

    /// `200 OK` to the CANCEL and `487 Request Terminated` to a ringing INVITE; `481` without a
    /// dialog.
    pub(super) fn cancel(
        &mut self,
        inbound: &Inbound<'_, '_>,
        transaction: &Transaction,
        now: Instant,
    ) -> ReplyPlan {
        let limit = inbound.max_reply_bytes;
        let personality = &self.personality;
        let Some(dialog) = self
            .dialogs
            .peek_mut(&DialogKey::of(inbound.probe))
            .filter(|dialog| dialog.expires > now)
        else {
            let missing = no_such_dialog().with(server_of(personality));
            return ReplyPlan::single(write_response(transaction, &missing, limit), 481);
        };
        let ok = Response::new(200, "OK").with(server_of(personality));
        let mut plan = ReplyPlan::single(write_response(transaction, &ok, limit), 200);
        if dialog.state == State::Ringing {
            dialog.state = State::Rejected { code: 487 };
            dialog.expires = now + DIALOG_GRACE;
            // Sent because of the CANCEL: no bigger than the CANCEL or the INVITE.
            let limit = match (limit, dialog.max_reply_bytes) {
                (Some(cancel), Some(invite)) => Some(cancel.min(invite)),
                (cancel, invite) => cancel.or(invite),
            };
            let terminated = rejection(personality, 487);
            plan.push(
                write_response(&dialog.invite, &terminated, limit),
                Some(487),
            );
        }
        plan
    }

    pub(super) fn fire_dialog_timer(&mut self, timer: &Timer, now: Instant) -> ReplyPlan {
        let personality = &self.personality;
        let Some(dialog) = self
            .dialogs
            .peek_mut(&timer.dialog)
            .filter(|dialog| dialog.id == timer.id && dialog.expires > now)
        else {
            return ReplyPlan::default();
        };
        match (timer.step, dialog.state) {
            (Step::Final, State::Ringing) => {
                let response = final_response(personality, dialog);
                let code = response.code;
                let bytes = write_response(&dialog.invite, &response, dialog.max_reply_bytes);
                let mut plan = ReplyPlan::single(bytes, code);
                if code == 200 {
                    let call = personality.invite.call;
                    dialog.state = State::Answered { confirmed: false };
                    dialog.expires = now + call + DIALOG_GRACE;
                    plan.timers.push(Timer {
                        after: call,
                        dialog: timer.dialog.clone(),
                        id: dialog.id,
                        step: Step::Bye,
                    });
                } else {
                    dialog.state = State::Rejected { code };
                    dialog.expires = now + DIALOG_GRACE;
                }
                plan
            }
            (Step::Bye, State::Answered { confirmed }) => {
                let bye = if confirmed {
                    bye_request(personality, dialog)
                } else {
                    None
                };
                self.dialogs.pop(&timer.dialog);
                let mut plan = ReplyPlan::default();
                plan.push(bye, None);
                plan
            }
            _ => ReplyPlan::default(),
        }
    }
}

/// The response a retransmitted INVITE gets: where the call stands now.
fn standing_response(personality: &Personality, dialog: &Dialog) -> Response {
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

fn progress_response(personality: &Personality, dialog: &Dialog) -> Response {
    let fields = call_fields(personality, dialog);
    match personality.invite.progress {
        Progress::Ringing => Response::new(180, "Ringing").with(fields),
        Progress::SessionProgress => Response::new(183, "Session Progress")
            .with(fields)
            .with_body(dialog.answer.clone()),
    }
}

fn final_response(personality: &Personality, dialog: &Dialog) -> Response {
    match personality.invite.outcome {
        CallOutcome::Answer => Response::new(200, "OK")
            .with(call_fields(personality, dialog))
            .with_body(dialog.answer.clone()),
        CallOutcome::Busy => rejection(personality, 486),
        CallOutcome::Unavailable => rejection(personality, 503),
        CallOutcome::Decline => rejection(personality, 603),
    }
}

fn rejection(personality: &Personality, code: u16) -> Response {
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
fn bye_request(personality: &Personality, dialog: &Dialog) -> Option<Vec<u8>> {
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
fn remote_target(probe: &Probe<'_>) -> Option<Vec<u8>> {
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
