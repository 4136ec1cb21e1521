//! Flags of the OpenDHT bridge, and how they merge over the file.

use clap::Args;

use super::merge::set_if_some;
use crate::config::Config;

/// The OpenDHT bridge.
#[derive(Debug, Args)]
pub struct OpenDhtFlags {
    /// Join the original SentryPeer's OpenDHT community through this OpenDHT REST proxy (dhtnode --proxyserver), e.g. http://127.0.0.1:8000, or use SENTRYPEER_OPENDHT_PROXY env
    #[arg(
        long = "opendht-proxy",
        env = "SENTRYPEER_OPENDHT_PROXY",
        value_name = "URL"
    )]
    pub opendht_proxy: Option<String>,

    /// Also put each event this node captures under the OpenDHT key bad_actors (off by default) or use SENTRYPEER_OPENDHT_PUBLISH env
    #[arg(long = "opendht-publish")]
    pub opendht_publish: bool,

    /// Events put on OpenDHT per second at most, the rest counted (default 10) or use SENTRYPEER_OPENDHT_PUBLISH_RATE env
    #[arg(
        long = "opendht-publish-rate",
        env = "SENTRYPEER_OPENDHT_PUBLISH_RATE",
        value_name = "N"
    )]
    pub opendht_publish_rate: Option<u32>,

    /// Let OpenDHT values (unsigned) count toward verdicts as reports of the author 'opendht' (off by default) or use SENTRYPEER_OPENDHT_VERDICTS env
    #[arg(long = "opendht-verdicts")]
    pub opendht_verdicts: bool,
}

impl OpenDhtFlags {
    /// Merges these flags and their boolean variables (`env_is_set`) over `config`.
    pub(super) fn merge_into(self, config: &mut Config, env_is_set: &impl Fn(&str) -> bool) {
        config.opendht_publish |= self.opendht_publish || env_is_set("SENTRYPEER_OPENDHT_PUBLISH");
        config.opendht_verdicts |=
            self.opendht_verdicts || env_is_set("SENTRYPEER_OPENDHT_VERDICTS");
        if self.opendht_proxy.is_some() {
            config.opendht_proxy = self.opendht_proxy;
        }
        set_if_some(&mut config.opendht_publish_rate, self.opendht_publish_rate);
    }
}
