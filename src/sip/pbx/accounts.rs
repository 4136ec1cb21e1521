//! Accounts: REGISTER's `404`/`401`/`403`/`200` with per-source, per-extension attempt counts,
//! the `401` for methods that need an account, and the digest challenges. Credentials count only
//! when they answer our nonce (`pbx/proof.rs`); others get the challenge again.

use std::net::IpAddr;
use std::time::Instant;

use super::{Attempts, Credentials, Inbound, MAX_REGISTRATION_SECS, Pbx, REGISTRATION_IDLE_EXPIRY};
use crate::sip::respond::{Field, Keep, Response, is_safe_header_value};
use crate::sip::syntax::parse_decimal;
use crate::sip::uri::{find_param, split_address};

impl Pbx {
    pub(super) fn register(
        &mut self,
        inbound: &Inbound<'_, '_>,
        credentials: Credentials,
        now: Instant,
    ) -> Response {
        let probe = inbound.probe;
        let extension = probe
            .called_number()
            .and_then(|user| self.personality.extensions.lookup(user));
        let Some(extension) = extension else {
            return Response::new(404, "Not Found").with(self.server());
        };
        let source = inbound.source.ip().to_canonical();
        if !credentials.are_ours() {
            return self.challenge(401, source, now);
        }
        let attempts = self
            .registrations
            .get_or_insert_mut((source, extension), || Attempts {
                authorized: 0,
                last_seen: now,
            });
        if now.saturating_duration_since(attempts.last_seen) >= REGISTRATION_IDLE_EXPIRY {
            attempts.authorized = 0;
        }
        attempts.authorized = attempts.authorized.saturating_add(1);
        attempts.last_seen = now;
        if attempts.authorized < self.personality.auth_attempts {
            return Response::new(403, "Forbidden").with(self.server());
        }
        let expires = probe
            .header("Expires")
            .and_then(parse_decimal)
            .map_or(MAX_REGISTRATION_SECS, |secs| {
                (secs as u64).min(MAX_REGISTRATION_SECS)
            });
        let contacts = probe
            .headers_named("Contact")
            .filter(|contact| is_safe_header_value(contact) && contact.trim_ascii() != b"*")
            .map(|contact| {
                let params = split_address(contact).params;
                let value = if find_param(params, b"expires").is_some() {
                    contact.to_vec()
                } else {
                    [contact, format!(";expires={expires}").as_bytes()].concat()
                };
                Field::bytes("Contact", value, Keep::Always)
            })
            .collect::<Vec<_>>();
        let expires = Field::bytes("Expires", expires.to_string().into_bytes(), Keep::Always);
        Response::new(200, "OK").with(contacts.into_iter().chain([expires]).chain(self.server()))
    }

    /// Methods that need an account: a challenge without credentials (or with credentials that
    /// do not answer our nonce), `403` with them.
    pub(super) fn account_required(
        &self,
        credentials: Credentials,
        source: IpAddr,
        now: Instant,
    ) -> Response {
        if credentials.are_ours() {
            Response::new(403, "Forbidden").with(self.server())
        } else {
            self.challenge(401, source.to_canonical(), now)
        }
    }

    /// A digest challenge (`401` with `WWW-Authenticate`, `407` with `Proxy-Authenticate`). The
    /// smallest reply form keeps only realm and nonce.
    pub(super) fn challenge(&self, code: u16, source: IpAddr, now: Instant) -> Response {
        let nonce = self.nonce(source, now);
        let realm = &self.personality.realm;
        let full =
            format!("Digest realm=\"{realm}\", nonce=\"{nonce}\", algorithm=MD5, qop=\"auth\"");
        let short = format!("Digest realm=\"{realm}\",nonce=\"{nonce}\"");
        let (name, reason) = if code == 407 {
            ("Proxy-Authenticate", "Proxy Authentication Required")
        } else {
            ("WWW-Authenticate", "Unauthorized")
        };
        let field =
            Field::bytes(name, full.into_bytes(), Keep::Always).with_short(short.into_bytes());
        Response::new(code, reason).with(std::iter::once(field).chain(self.server()))
    }
}
