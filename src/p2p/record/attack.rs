//! Reading a record's optional attack fields back into an [`Attack`], with the checks a record
//! from the network goes through.

use super::RecordError;
use crate::event::{Attack, Credentials};
use crate::p2p::protocol::{MAX_FIELD_BYTES, RecordBody};
use crate::sip::AttackType;

impl RecordBody {
    /// The attack type and evidence the record carries, or, for a record from a node that
    /// predates them (no `attack_type`), what its `sip_message` shows.
    pub(super) fn attack(&self) -> Result<Attack, RecordError> {
        let details = [
            ("auth_scheme", &self.auth_scheme),
            ("auth_username", &self.auth_username),
            ("auth_realm", &self.auth_realm),
            ("auth_nonce", &self.auth_nonce),
            ("auth_uri", &self.auth_uri),
            ("auth_response", &self.auth_response),
            ("auth_algorithm", &self.auth_algorithm),
            ("auth_qop", &self.auth_qop),
            ("auth_cnonce", &self.auth_cnonce),
            ("auth_nc", &self.auth_nc),
            ("from_user", &self.from_user),
            ("contact", &self.contact),
            ("p_asserted_identity", &self.p_asserted_identity),
        ];
        let Some(name) = &self.attack_type else {
            if details.iter().any(|(_, detail)| detail.is_some()) {
                return Err(RecordError::InvalidField("attack_type"));
            }
            return Ok(Attack::from_message(self.sip_message.as_bytes()));
        };
        if let Some((field, _)) = details.iter().find(|(_, detail)| {
            detail
                .as_ref()
                .is_some_and(|text| text.len() > MAX_FIELD_BYTES)
        }) {
            return Err(RecordError::InvalidField(field));
        }
        let attack_type =
            AttackType::from_name(name).ok_or(RecordError::InvalidField("attack_type"))?;
        let credentials = details
            .iter()
            .filter(|(field, _)| field.starts_with("auth_"))
            .any(|(_, detail)| detail.is_some())
            .then(|| Credentials {
                scheme: self.auth_scheme.clone(),
                username: self.auth_username.clone(),
                realm: self.auth_realm.clone(),
                nonce: self.auth_nonce.clone(),
                uri: self.auth_uri.clone(),
                response: self.auth_response.clone(),
                algorithm: self.auth_algorithm.clone(),
                qop: self.auth_qop.clone(),
                cnonce: self.auth_cnonce.clone(),
                nc: self.auth_nc.clone(),
            });
        Ok(Attack {
            attack_type,
            credentials,
            from_user: self.from_user.clone(),
            contact: self.contact.clone(),
            p_asserted_identity: self.p_asserted_identity.clone(),
        })
    }
}
