//! Settings of the OpenDHT bridge: the proxy's URL (absolute `http(s)://` with a host, no path
//! beyond `/`), the publish rate in range; retention from the store's.

use std::num::NonZeroU32;
use std::time::Duration;

use super::{http_url, in_range};
use crate::bridge::BridgeOptions;
use crate::config::{Config, ConfigError};

/// Most puts a second accepted.
const MAX_PUBLISH_RATE: u64 = 10_000;
/// One put or get through the proxy may take this long.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// The bridge's options; `None` when no proxy is set (the other options are still checked).
pub(super) fn settings(config: &Config) -> Result<Option<BridgeOptions>, ConfigError> {
    in_range(
        "opendht_publish_rate",
        u64::from(config.opendht_publish_rate),
        1,
        MAX_PUBLISH_RATE,
    )?;
    let Some(proxy) = config.opendht_proxy.as_deref() else {
        if config.opendht_publish || config.opendht_verdicts {
            tracing::warn!(
                "--opendht-publish / --opendht-verdicts without --opendht-proxy; ignored"
            );
        }
        return Ok(None);
    };
    let url = http_url("opendht_proxy", proxy)?;
    if url.path() != "/" || url.query().is_some() {
        return Err(ConfigError::invalid(
            "opendht_proxy",
            "give the proxy's base URL, such as http://127.0.0.1:8000",
        ));
    }
    Ok(Some(BridgeOptions {
        proxy: url.as_str().trim_end_matches('/').to_owned(),
        publish: config.opendht_publish,
        publish_rate: NonZeroU32::new(config.opendht_publish_rate).unwrap_or(NonZeroU32::MIN),
        counts_toward_verdicts: config.opendht_verdicts,
        retention: (config.retention_days > 0)
            .then(|| Duration::from_secs(u64::from(config.retention_days) * 86_400)),
        request_timeout: REQUEST_TIMEOUT,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(configure: impl FnOnce(&mut Config)) -> Result<Option<BridgeOptions>, ConfigError> {
        let mut config = Config::default();
        configure(&mut config);
        settings(&config)
    }

    #[test]
    fn the_proxy_is_a_base_url_and_the_rate_is_in_range() {
        assert_eq!(with(|_| ()).expect("valid"), None);
        let options = with(|config| {
            config.opendht_proxy = Some("http://127.0.0.1:8000/".to_owned());
            config.opendht_publish = true;
        })
        .expect("valid")
        .expect("on");
        assert_eq!(options.proxy, "http://127.0.0.1:8000");
        assert!(options.publish && !options.counts_toward_verdicts);
        assert_eq!(options.publish_rate.get(), 10);
        for bad in ["127.0.0.1:8000", "ftp://host", "http://host/key/bad_actors"] {
            let error = with(|config| config.opendht_proxy = Some(bad.to_owned())).expect_err(bad);
            assert!(error.to_string().contains("opendht_proxy"), "{error}");
        }
        let error = with(|config| config.opendht_publish_rate = 0).expect_err("rate 0");
        assert!(
            error.to_string().contains("opendht_publish_rate"),
            "{error}"
        );
    }
}
