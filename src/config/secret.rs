//! [`Secret`]: a configured secret (tokens, keys, client secrets) that `Debug` and `Serialize`
//! never reveal.

use std::fmt;

use serde::{Deserialize, Serialize, Serializer};

/// A secret string (OAuth2 client secret, API tokens): never printed by `Debug`, serialised as
/// [`Secret::MASK`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// What `Debug` and `Serialize` write in place of the secret.
    pub const MASK: &'static str = "****";

    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, for the one place that must send or compare it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({})", Self::MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(Self::MASK)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_is_masked_in_debug() {
        let secret = Secret::new("hunter2");
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn secret_is_masked_when_serialised() {
        let shown = serde_json::to_string(&Secret::new("hunter2")).expect("serialise");
        assert_eq!(shown, format!("\"{}\"", Secret::MASK));
    }
}
