//! INVITE dialogs: the `407` challenge, `100 Trying` and `180`/`183` at once, the final response
//! after the ring time, our `BYE` after the call time; `ACK`, `BYE` and `CANCEL` from the caller.
//!
//! - A challenged INVITE creates no state and gets exactly one reply; credentials that do not
//!   answer our nonce count as none.
//! - Timers name their dialog and its id: a dialog that hung up, was cancelled, re-created or
//!   evicted makes its old timers do nothing.
//! - `ACK`, `BYE` and in-dialog requests touch a dialog only when they carry our `To` tag, which
//!   only a caller that received our responses knows.
//! - Our `BYE` goes only after the caller's `ACK` confirmed the dialog (a spoofed INVITE never
//!   gets one), always to the address the INVITE came from: the `Contact` URI is only written in
//!   the request line, never used to pick a destination.
//! - Every later datagram obeys the size limit of the request that started the dialog, and until
//!   the caller is proven all of them together obey its byte budget (`pbx/budget.rs`).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use super::budget::Budget;
use super::{Credentials, Inbound, Pbx, ReplyPlan, Timer, no_such_dialog, sdp, server_of};
use crate::sip::parse::Probe;
use crate::sip::respond::{Body, Response, Transaction, write_response};
use crate::sip::uri::{find_param, split_address};

mod messages;

use messages::{
    bye_request, final_response, progress_response, rejection, remote_target, standing_response,
};

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
    /// What may still be sent before the caller is proven.
    budget: Budget,
    pub(crate) expires: Instant,
}

impl Pbx {
    /// Whether a live dialog matches the request's `Call-ID` and `From` tag, and the request
    /// carries our `To` tag.
    pub(super) fn has_dialog(&self, probe: &Probe<'_>, source: IpAddr, now: Instant) -> bool {
        self.live_dialog(probe, now) && self.has_our_to_tag(probe, source)
    }

    fn live_dialog(&self, probe: &Probe<'_>, now: Instant) -> bool {
        self.dialogs
            .peek(&DialogKey::of(probe))
            .is_some_and(|dialog| dialog.expires > now)
    }

    pub(super) fn invite(
        &mut self,
        inbound: &Inbound<'_, '_>,
        transaction: Transaction,
        credentials: Credentials,
        proven: bool,
        now: Instant,
    ) -> ReplyPlan {
        let probe = inbound.probe;
        let limit = inbound.max_reply_bytes;
        let key = DialogKey::of(probe);
        let personality = &self.personality;
        if let Some(dialog) = self.dialogs.peek_mut(&key).filter(|d| d.expires > now) {
            if dialog.invite.cseq() == transaction.cseq() {
                // A retransmission: repeat where the call stands, within the dialog's budget.
                dialog.budget.credit(limit.unwrap_or_default());
                let response = standing_response(personality, dialog);
                let bytes = write_response(&dialog.invite, &response, limit);
                let mut plan = ReplyPlan::default();
                let is_final = dialog.state != State::Ringing;
                plan.push_within(&mut dialog.budget, bytes, Some(response.code), is_final);
                return plan;
            }
            let response = if matches!(dialog.state, State::Answered { .. }) {
                // A re-INVITE (session refresh, hold): same media, new transaction.
                final_response(personality, dialog)
            } else {
                Response::new(491, "Request Pending").with(server_of(personality))
            };
            return ReplyPlan::single(
                write_response(&transaction, &response, limit),
                response.code,
            );
        }
        if personality.invite.challenge && !credentials.are_ours() {
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
        let mut dialog = Dialog {
            id,
            state: State::Ringing,
            invite: transaction,
            max_reply_bytes: limit,
            local,
            transport: inbound.transport,
            remote_target: remote_target(probe),
            answer: sdp::answer(probe.body, local.ip(), &personality.sdp_session_name, seed),
            seed,
            budget: Budget::new(proven, limit),
            expires: now + behaviour.ring + behaviour.call + DIALOG_GRACE,
        };
        if dialog.budget != Budget::Proven {
            // Provisional responses only if the final one still fits after them.
            let answer =
                write_response(&dialog.invite, &final_response(personality, &dialog), limit);
            dialog.budget.reserve(answer.map_or(0, |bytes| bytes.len()));
        }
        let mut plan = ReplyPlan::default();
        let trying = Response::new(100, "Trying").with(server_of(personality));
        let trying = write_response(&dialog.invite, &trying, limit);
        plan.push_within(&mut dialog.budget, trying, Some(100), false);
        let progress = progress_response(personality, &dialog);
        let code = progress.code;
        let progress = write_response(&dialog.invite, &progress, limit);
        plan.push_within(&mut dialog.budget, progress, Some(code), false);
        plan.timers.push(Timer {
            after: behaviour.ring,
            dialog: key.clone(),
            id,
            step: Step::Final,
        });
        self.dialogs.put(key, dialog);
        plan
    }

    /// Confirms an answered call or ends a rejected one. False when the `ACK` matches a dialog
    /// but its `To` tag is not ours (a blind `ACK`): the dialog is left as it was.
    pub(super) fn ack(&mut self, probe: &Probe<'_>, source: IpAddr, now: Instant) -> bool {
        let key = DialogKey::of(probe);
        let ours = self.has_our_to_tag(probe, source);
        let Some(dialog) = self.dialogs.peek_mut(&key) else {
            return true;
        };
        if !ours {
            return false;
        }
        dialog.budget.prove();
        match dialog.state {
            State::Answered { .. } if dialog.expires > now => {
                dialog.state = State::Answered { confirmed: true };
            }
            State::Rejected { .. } => {
                self.dialogs.pop(&key);
            }
            _ => {}
        }
        true
    }

    /// `200 OK` and the end of the dialog, or `481` when there is none. With a `To` tag that is
    /// not ours the dialog stays, and the second value is false.
    pub(super) fn bye(
        &mut self,
        probe: &Probe<'_>,
        source: IpAddr,
        now: Instant,
    ) -> (Response, bool) {
        let server = server_of(&self.personality);
        if !self.has_our_to_tag(probe, source) {
            let matched = self.live_dialog(probe, now);
            return (no_such_dialog().with(server), !matched);
        }
        let response = match self.dialogs.pop(&DialogKey::of(probe)) {
            Some(dialog) if dialog.expires > now => Response::new(200, "OK").with(server),
            _ => no_such_dialog().with(server),
        };
        (response, true)
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
            let terminated = write_response(&dialog.invite, &terminated, limit);
            plan.push_within(&mut dialog.budget, terminated, Some(487), true);
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
        let mut plan = ReplyPlan {
            source_proven: dialog.budget == Budget::Proven,
            ..ReplyPlan::default()
        };
        match (timer.step, dialog.state) {
            (Step::Final, State::Ringing) => {
                let response = final_response(personality, dialog);
                let code = response.code;
                let bytes = write_response(&dialog.invite, &response, dialog.max_reply_bytes);
                plan.push_within(&mut dialog.budget, bytes, Some(code), true);
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
                plan.push_within(&mut dialog.budget, bye, None, true);
                self.dialogs.pop(&timer.dialog);
                plan
            }
            _ => plan,
        }
    }
}
