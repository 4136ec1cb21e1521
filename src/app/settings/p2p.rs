//! Settings of peer-to-peer sharing: addresses, PeerId lists, the network name, limits (the
//! connection caps are lowered to fit the open-file limit when the node starts).

use std::path::PathBuf;
use std::time::Duration;

use jiff::SignedDuration;
use libp2p::Multiaddr;

use super::at_least;
use crate::config::{Config, ConfigError};
use crate::p2p::community::ShareStats;
use crate::p2p::protocol::MIN_SHARE_STATS_INTERVAL;
use crate::p2p::{self, ConnectionCaps, P2pOptions};

/// How long a new peer has to share records before gossipsub scores it down.
const FREELOADER_GRACE: Duration = Duration::from_secs(600);
/// Longest `p2p_network` name.
const MAX_NETWORK_NAME: usize = 64;

/// The P2P node's options and where its key is kept (loaded when the node starts).
#[derive(Debug, Clone)]
pub struct P2pSettings {
    /// The node's ed25519 key file.
    pub key_file: PathBuf,
    /// Everything else the node is started with.
    pub options: P2pOptions,
    /// Where the countries of its community summaries come from (`--geoip-db`; the built-in
    /// table without).
    pub geoip_db: Option<PathBuf>,
}

pub(super) fn settings(config: &Config) -> Result<P2pSettings, ConfigError> {
    let addresses = |texts: &[String]| -> Result<Vec<Multiaddr>, ConfigError> {
        texts
            .iter()
            .map(|text| p2p::parse_address(text))
            .collect::<Result<_, _>>()
            .map_err(|error| {
                ConfigError::invalid(
                    "p2p_listen_address / bootstrap_node / p2p_announce_address",
                    error.to_string(),
                )
            })
    };
    let listen = addresses(&config.p2p_listen_address)?;
    let bootstrap = addresses(&config.bootstrap_node)?;
    let announce = addresses(&config.p2p_announce_address)?;
    let peer_ids = |option: &'static str, texts: &[String]| {
        p2p::parse_peer_ids(texts).map_err(|error| ConfigError::invalid(option, error.to_string()))
    };
    let receive_only_from = peer_ids("p2p_receive_only_from", &config.p2p_receive_only_from)?;
    let deny = peer_ids("p2p_deny", &config.p2p_deny)?;
    let network = &config.p2p_network;
    let network_ok = !network.is_empty()
        && network.len() <= MAX_NETWORK_NAME
        && network
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !network_ok {
        return Err(ConfigError::invalid(
            "p2p_network",
            "1 to 64 letters, digits, '-', '_' or '.'",
        ));
    }
    for (option, value) in [
        ("p2p_max_connections", u64::from(config.p2p_max_connections)),
        (
            "p2p_max_connections_per_address",
            u64::from(config.p2p_max_connections_per_address),
        ),
        ("p2p_max_catch_up_records", config.p2p_max_catch_up_records),
    ] {
        at_least(option, value, 1, "")?;
    }
    at_least(
        "share_stats_interval_secs",
        config.share_stats_interval_secs,
        MIN_SHARE_STATS_INTERVAL.as_secs(),
        " second",
    )?;
    if config.share_stats && !config.peer_to_peer {
        tracing::warn!("--share-stats without -p; ignored");
    }
    Ok(P2pSettings {
        geoip_db: config.geoip_db.clone(),
        key_file: config
            .p2p_key_file
            .clone()
            .unwrap_or_else(|| p2p::identity::key_path_for_database(&config.db_file)),
        options: P2pOptions {
            network: network.clone(),
            listen,
            bootstrap,
            announce,
            mdns: config.p2p_mdns,
            retention: (config.retention_days > 0)
                .then(|| SignedDuration::from_hours(24 * i64::from(config.retention_days))),
            min_contribution: config.p2p_min_contribution,
            freeloader_grace: FREELOADER_GRACE,
            receive_only_from,
            deny,
            max_records_per_second: config.p2p_max_records_per_second,
            max_catch_up_records: config.p2p_max_catch_up_records,
            caps: ConnectionCaps::new(
                config.p2p_max_connections,
                config.p2p_max_connections_per_address,
            ),
            share_stats: ShareStats {
                publish: config.share_stats,
                interval: Duration::from_secs(config.share_stats_interval_secs),
            },
        },
    })
}
