//! Settings of the live blocklist (its caps and retention) and of the verdict policy (the
//! node-wide options and each consumer's thresholds), checked and built from `[verdicts]`.

use std::net::IpAddr;
use std::time::Duration;

use super::{in_range, network_or_address};
use crate::blocklist::{
    BlocklistOptions, ConsumerOptions, CountedOrigins, NeverList, UdpOnlySources, VerdictOptions,
};
use crate::config::{
    Config, ConfigError, ConsumerConfig, OriginSetting, UdpOnlySetting, parse_duration,
};
#[cfg(feature = "p2p")]
use crate::p2p;

/// Most distinct peers a quorum can ask for (the blocklist tracks four reporting peers per key
/// and whether there were more).
const MAX_PEER_QUORUM: u64 = 5;

/// The verdict policy: the node's options and each consumer's.
#[derive(Debug, Clone)]
pub struct VerdictSettings {
    /// The same for every consumer (the node's own addresses are added at start).
    pub node: VerdictOptions,
    /// The blocklist feeds.
    pub feeds: ConsumerOptions,
    /// The CrowdSec decision stream.
    pub crowdsec: ConsumerOptions,
    /// The SIP verdict agent.
    pub sip_agent: ConsumerOptions,
    /// The BGP blackhole feed.
    pub bgp: ConsumerOptions,
}

/// The blocklist's options: its caps, the retention window, and a change at every consumer's
/// minimum count (so a key reaching it is pushed). When no running part reads the change log
/// (`changes_read` false: neither the API nor the BGP feed is on), it keeps one change: its
/// broadcast buffer alone takes 512 KiB at the default lag, written at start, and its replay
/// ring grows to about 7 MB under attack.
pub(super) fn blocklist(
    config: &Config,
    verdicts: &VerdictSettings,
    changes_read: bool,
) -> Result<BlocklistOptions, ConfigError> {
    for (option, cap) in [
        ("blocklist_max_ips", config.blocklist_max_ips),
        ("blocklist_max_numbers", config.blocklist_max_numbers),
    ] {
        in_range(option, cap as u64, 1, 1 << 32)?;
    }
    let mut options = BlocklistOptions {
        max_ips: config.blocklist_max_ips,
        max_numbers: config.blocklist_max_numbers,
        retention: (config.retention_days > 0)
            .then(|| Duration::from_secs(u64::from(config.retention_days) * 86_400)),
        ..BlocklistOptions::default()
    };
    if !changes_read {
        options.replay_window = 1;
        options.subscriber_lag = 1;
    }
    let consumers = [
        &verdicts.feeds,
        &verdicts.crowdsec,
        &verdicts.sip_agent,
        &verdicts.bgp,
    ];
    options.count_thresholds.extend(
        consumers
            .iter()
            .map(|consumer| u32::try_from(consumer.min_count).unwrap_or(u32::MAX)),
    );
    Ok(options)
}

/// The verdict policy of `[verdicts]` and its flags.
pub(super) fn verdicts(config: &Config) -> Result<VerdictSettings, ConfigError> {
    let table = &config.verdicts;
    in_range(
        "verdicts.peer_quorum",
        table.peer_quorum as u64,
        1,
        MAX_PEER_QUORUM,
    )?;
    // PeerIds are libp2p's format: checked where it is built.
    #[cfg(feature = "p2p")]
    p2p::parse_peer_ids(&table.trusted_peers)
        .map_err(|error| ConfigError::invalid("verdicts.trusted_peers", error.to_string()))?;
    let node = VerdictOptions {
        include_special_addresses: table.include_special_addresses,
        own_addresses: listen_addresses(config),
        never: never_list("verdicts.never", &table.never)?,
        trusted_authors: table.trusted_peers.clone(),
        peer_quorum: table.peer_quorum,
    };
    Ok(VerdictSettings {
        node,
        feeds: consumer("verdicts.feeds", &table.feeds, ConsumerOptions::feeds())?,
        crowdsec: consumer(
            "verdicts.crowdsec",
            &table.crowdsec,
            ConsumerOptions::crowdsec(),
        )?,
        sip_agent: consumer(
            "verdicts.sip_agent",
            &table.sip_agent,
            ConsumerOptions::sip_agent(),
        )?,
        bgp: consumer("verdicts.bgp", &table.bgp, ConsumerOptions::bgp())?,
    })
}

/// The addresses the node listens on (those that name one address): never a verdict.
fn listen_addresses(config: &Config) -> Vec<IpAddr> {
    [
        config.sip_listen_address,
        config.tls_listen_address,
        config.api_listen_address,
    ]
    .iter()
    .chain(config.sip_agent.listen_address.as_ref())
    .map(|address| address.ip())
    .filter(|ip| !ip.is_unspecified())
    .collect()
}

/// `defaults` with what `table` overrides; its never-list is added to the defaults' own.
fn consumer(
    option: &'static str,
    table: &ConsumerConfig,
    defaults: ConsumerOptions,
) -> Result<ConsumerOptions, ConfigError> {
    let max_age = match &table.max_age {
        None => defaults.max_age,
        Some(text) => Some(
            parse_duration(text)
                .filter(|duration| duration.is_positive())
                .map(|duration| duration.unsigned_abs())
                .ok_or_else(|| {
                    ConfigError::invalid(
                        option,
                        format!("max_age {text:?} is not a duration such as 30m, 24h or 7d"),
                    )
                })?,
        ),
    };
    let origins = match &table.origins {
        None => defaults.origins,
        Some(origins) if origins.is_empty() => {
            return Err(ConfigError::invalid(
                option,
                "origins: name local, peers or both",
            ));
        }
        Some(origins) => CountedOrigins {
            local: origins.contains(&OriginSetting::Local),
            remote: origins.contains(&OriginSetting::Peers),
        },
    };
    let mut never = defaults.never;
    let added = never_list(option, &table.never)?;
    never.networks.extend(added.networks);
    never.numbers.extend(added.numbers);
    Ok(ConsumerOptions {
        min_count: table.min_count.unwrap_or(defaults.min_count).max(1),
        max_age,
        origins,
        udp_only: match table.udp_only {
            None => defaults.udp_only,
            Some(UdpOnlySetting::List) => UdpOnlySources::List,
            Some(UdpOnlySetting::Proven) => UdpOnlySources::RequireProof,
        },
        never,
    })
}

/// Networks (`10.0.0.0/8`, or one address) and numbers or prefixes (`112`, `0900*`).
fn never_list(option: &'static str, entries: &[String]) -> Result<NeverList, ConfigError> {
    let mut never = NeverList::default();
    for entry in entries {
        if let Some(network) = network_or_address(entry) {
            never.networks.push(network);
        } else {
            let rule = entry.parse().map_err(|_| {
                ConfigError::invalid(
                    option,
                    format!("{entry:?} is not a network, an address, a number or a prefix (0900*)"),
                )
            })?;
            never.numbers.push(rule);
        }
    }
    Ok(never)
}
