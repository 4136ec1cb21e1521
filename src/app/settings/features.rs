//! The optional parts this binary was built with (cargo features), and the one error for an
//! option that turns on a part that was not built. Every flag, variable and TOML key is parsed
//! in every build (they are a compatibility surface); only turning a missing part on fails.

use crate::config::{Config, ConfigError};

/// Stands for a part's settings when its feature is not built: no value of it exists, so that
/// part's `Option` in [`super::Settings`] is always `None`.
#[derive(Debug, Clone)]
pub enum NotBuilt {}

/// The optional parts built into this binary.
const BUILT: &[&str] = &[
    #[cfg(feature = "tls")]
    "tls",
    #[cfg(feature = "api")]
    "api",
    #[cfg(feature = "gui")]
    "gui",
    #[cfg(feature = "webhook")]
    "webhook",
    #[cfg(feature = "p2p")]
    "p2p",
    #[cfg(feature = "opendht")]
    "opendht",
    #[cfg(feature = "sip-agent")]
    "sip-agent",
    #[cfg(feature = "bgp")]
    "bgp",
];

/// Whether `feature` is built into this binary.
pub(in crate::app) fn built(feature: &str) -> bool {
    BUILT.contains(&feature)
}

/// [`ConfigError::NotBuilt`] for the first option in `config` that turns on a part `built`
/// says is missing. The TLS listener is on by default: without the `tls` feature it is off (the
/// start says so), and only a TLS address, certificate or key other than the defaults asks for it.
pub(super) fn check(config: &Config, built: impl Fn(&str) -> bool) -> Result<(), ConfigError> {
    let defaults = Config::default();
    let tls_listener = !config.sip_disable && !config.tls_disable;
    let asked = [
        ("api", "-a/--api", config.api),
        ("gui", "--web-gui", config.web_gui),
        ("webhook", "-w/--webhook-url", config.webhook_url.is_some()),
        ("p2p", "-p/--p2p", config.peer_to_peer),
        (
            "sip-agent",
            "--sip-agent-listen-address",
            config.sip_agent.listen_address.is_some(),
        ),
        ("bgp", "--bgp", config.bgp.enabled),
        ("opendht", "--opendht-proxy", config.opendht_proxy.is_some()),
        (
            "tls",
            "-z/--tls-listen-address",
            tls_listener && config.tls_listen_address != defaults.tls_listen_address,
        ),
        (
            "tls",
            "-t/--cert",
            tls_listener && config.cert != defaults.cert,
        ),
        (
            "tls",
            "-k/--key",
            tls_listener && config.key != defaults.key,
        ),
    ];
    match asked
        .into_iter()
        .find(|&(feature, _, on)| on && !built(feature))
    {
        Some((feature, option, _)) => Err(ConfigError::NotBuilt { feature, option }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn without(missing: &'static str) -> impl Fn(&str) -> bool {
        move |feature| feature != missing
    }

    #[test]
    fn an_option_for_a_part_not_built_is_one_clear_error() {
        let api = Config {
            api: true,
            ..Config::default()
        };
        let error = check(&api, without("api")).expect_err("api not built");
        assert_eq!(
            error.to_string(),
            "built without the api feature: -a/--api needs it"
        );
        assert!(check(&api, without("bgp")).is_ok());
        let gui = Config {
            web_gui: true,
            ..Config::default()
        };
        assert_eq!(
            check(&gui, without("gui")).expect_err("gui").to_string(),
            "built without the gui feature: --web-gui needs it"
        );
    }

    #[test]
    fn the_default_tls_listener_needs_no_tls_feature_but_a_chosen_certificate_does() {
        assert!(check(&Config::default(), without("tls")).is_ok());
        let cert = Config {
            cert: "/etc/sentrypeer/cert.pem".into(),
            ..Config::default()
        };
        assert_eq!(
            check(&cert, without("tls")).expect_err("tls").to_string(),
            "built without the tls feature: -t/--cert needs it"
        );
        // With the TLS listener off (-N), its files are not asked for.
        let off = Config {
            tls_disable: true,
            ..cert
        };
        assert!(check(&off, without("tls")).is_ok());
    }

    #[test]
    fn every_feature_checked_is_one_this_file_names() {
        // An unknown name counts as not built: a typo would make its option always fail.
        let mut everything = Config {
            api: true,
            web_gui: true,
            webhook_url: Some("http://127.0.0.1:1/".to_owned()),
            peer_to_peer: true,
            opendht_proxy: Some("http://127.0.0.1:1".to_owned()),
            cert: "other.pem".into(),
            ..Config::default()
        };
        everything.sip_agent.listen_address = Some(([127, 0, 0, 1], 0).into());
        everything.bgp.enabled = true;
        let names = [
            "tls",
            "api",
            "gui",
            "webhook",
            "p2p",
            "opendht",
            "sip-agent",
            "bgp",
        ];
        check(&everything, |feature| names.contains(&feature)).expect("every name known");
        let all_built = cfg!(all(
            feature = "tls",
            feature = "api",
            feature = "gui",
            feature = "webhook",
            feature = "p2p",
            feature = "opendht",
            feature = "sip-agent",
            feature = "bgp"
        ));
        assert_eq!(names.iter().all(|feature| built(feature)), all_built);
    }
}
