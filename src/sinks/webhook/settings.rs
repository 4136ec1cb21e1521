//! Checks of the webhook options in [`Config`], run by `Config::validate`.

use reqwest::Url;

use crate::config::{Config, ConfigError, MAX_WEBHOOK_BATCH, Secret};

/// Most attempts one POST may be given.
const MAX_ATTEMPTS_LIMIT: u32 = 100;
/// Longest request timeout accepted, in seconds.
const MAX_TIMEOUT_SECS: u64 = 3_600;

/// Validates the webhook and OAuth2 options: URLs are absolute `http(s)://` URLs with a host,
/// client id and secret come together and are not empty, numbers are in range.
///
/// # Errors
/// [`ConfigError::Invalid`] naming the option; the message never repeats a URL or a secret.
pub(crate) fn validate_config(config: &Config) -> Result<(), ConfigError> {
    if let Some(url) = &config.webhook_url {
        check_http_url("webhook_url", url)?;
    }
    check_http_url("oauth2_token_url", &config.oauth2_token_url)?;
    let id = config.oauth2_client_id.as_deref();
    let secret = config.oauth2_client_secret.as_ref().map(Secret::expose);
    match (id, secret) {
        (Some(""), _) => return Err(invalid("oauth2_client_id", "empty client id")),
        (_, Some("")) => return Err(invalid("oauth2_client_secret", "empty client secret")),
        (None, Some(_)) => {
            return Err(invalid(
                "oauth2_client_id",
                "a client secret needs a client id (-i)",
            ));
        }
        (Some(_), None) => {
            return Err(invalid(
                "oauth2_client_secret",
                "a client id needs a client secret (-c)",
            ));
        }
        (None, None) | (Some(_), Some(_)) => {}
    }
    check_range(
        "webhook_batch",
        config.webhook_batch as u64,
        1,
        MAX_WEBHOOK_BATCH as u64,
    )?;
    check_range(
        "webhook_timeout_secs",
        config.webhook_timeout_secs,
        1,
        MAX_TIMEOUT_SECS,
    )?;
    check_range(
        "webhook_max_attempts",
        u64::from(config.webhook_max_attempts),
        1,
        u64::from(MAX_ATTEMPTS_LIMIT),
    )
}

fn check_range(option: &'static str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        Ok(())
    } else {
        Err(invalid(
            option,
            &format!("{value} is outside {min}..={max}"),
        ))
    }
}

fn invalid(option: &'static str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        option,
        reason: reason.to_owned(),
    }
}

/// An absolute `http://` or `https://` URL with a host. The URL is not repeated in the error:
/// it may carry credentials.
fn check_http_url(option: &'static str, url: &str) -> Result<(), ConfigError> {
    let parsed =
        Url::parse(url).map_err(|error| invalid(option, &format!("not a URL ({error})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            option,
            "only http:// and https:// URLs are supported",
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(option, "the URL has no host"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::DEFAULT_OAUTH2_TOKEN_URL;

    fn with(change: impl FnOnce(&mut Config)) -> Result<(), ConfigError> {
        let mut config = Config::default();
        change(&mut config);
        config.validate()
    }

    fn rejected(result: Result<(), ConfigError>, name: &str) -> String {
        match result {
            Err(ConfigError::Invalid { option, reason }) => {
                assert_eq!(option, name, "{reason}");
                reason
            }
            other => panic!("{name}: expected Invalid, got {other:?}"),
        }
    }

    #[test]
    fn urls_must_be_absolute_http_or_https_with_a_host() {
        assert!(with(|c| c.webhook_url = Some("https://hq.example/api/events".into())).is_ok());
        assert!(with(|c| c.webhook_url = Some("http://127.0.0.1:4000/e".into())).is_ok());
        rejected(
            with(|c| c.webhook_url = Some("hq.example/api".into())),
            "webhook_url",
        );
        rejected(
            with(|c| c.webhook_url = Some("http://".into())),
            "webhook_url",
        );
        let reason = rejected(
            with(|c| c.webhook_url = Some("ftp://user:hunter2@hq.example/".into())),
            "webhook_url",
        );
        assert!(!reason.contains("hunter2"), "{reason}");
        rejected(
            with(|c| c.oauth2_token_url = "nope".into()),
            "oauth2_token_url",
        );
    }

    #[test]
    fn numbers_are_range_checked() {
        rejected(with(|c| c.webhook_batch = 0), "webhook_batch");
        rejected(with(|c| c.webhook_batch = 1001), "webhook_batch");
        assert!(with(|c| c.webhook_batch = 1000).is_ok());
        rejected(with(|c| c.webhook_timeout_secs = 0), "webhook_timeout_secs");
        rejected(with(|c| c.webhook_max_attempts = 0), "webhook_max_attempts");
        assert!(with(|c| c.webhook_max_attempts = 1).is_ok());
    }

    #[test]
    fn client_id_and_secret_come_together_and_are_not_empty() {
        rejected(
            with(|c| c.oauth2_client_id = Some("id".into())),
            "oauth2_client_secret",
        );
        rejected(
            with(|c| c.oauth2_client_secret = Some(Secret::new("s"))),
            "oauth2_client_id",
        );
        rejected(
            with(|c| {
                c.oauth2_client_id = Some("id".into());
                c.oauth2_client_secret = Some(Secret::new(""));
            }),
            "oauth2_client_secret",
        );
        rejected(
            with(|c| {
                c.oauth2_client_id = Some(String::new());
                c.oauth2_client_secret = Some(Secret::new("s"));
            }),
            "oauth2_client_id",
        );
        assert!(
            with(|c| {
                c.oauth2_client_id = Some("id".into());
                c.oauth2_client_secret = Some(Secret::new("s"));
            })
            .is_ok()
        );
    }

    #[test]
    fn webhook_keys_parse_from_toml_with_the_documented_defaults() {
        let text = "webhook_url = \"http://127.0.0.1:4000/api/events\"\nwebhook_batch = 50\n\
                    webhook_skip_empty = true\nwebhook_include_peer_data = true\n\
                    webhook_timeout_secs = 3\nwebhook_max_attempts = 2\n\
                    oauth2_token_url = \"http://127.0.0.1:4001/t\"\noauth2_audience = \"aud\"\n";
        let config = Config::from_toml(text, Path::new("t.toml")).expect("valid config");
        assert_eq!(config.webhook_batch, 50);
        assert!(config.webhook_skip_empty && config.webhook_include_peer_data);
        assert_eq!(config.webhook_timeout_secs, 3);
        assert_eq!(config.webhook_max_attempts, 2);
        assert_eq!(config.oauth2_token_url, "http://127.0.0.1:4001/t");
        assert_eq!(config.oauth2_audience, "aud");
        assert!(config.validate().is_ok());
        let defaults = Config::default();
        assert_eq!(defaults.oauth2_token_url, DEFAULT_OAUTH2_TOKEN_URL);
        assert_eq!(defaults.oauth2_audience, "https://sentrypeer.com/api");
        assert_eq!(defaults.webhook_batch, 1);
        assert_eq!(defaults.webhook_timeout_secs, 10);
        assert_eq!(defaults.webhook_max_attempts, 6);
        assert!(!defaults.webhook_skip_empty && !defaults.webhook_include_peer_data);
    }
}
