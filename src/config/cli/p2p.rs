//! Flags of peer-to-peer sharing, and how they merge over the file.

use std::path::PathBuf;

use clap::Args;

use super::merge::{set_if_not_empty, set_if_some};
use crate::config::Config;

/// Peer-to-peer sharing.
#[derive(Debug, Args)]
pub struct P2pFlags {
    /// Enable Peer to Peer mode or use SENTRYPEER_PEER_TO_PEER env
    #[arg(short = 'p', long = "p2p", visible_alias = "peer-to-peer")]
    pub p2p: bool,

    /// Set Peer to Peer bootstrap node (repeatable) or use SENTRYPEER_BOOTSTRAP_NODE env
    #[arg(
        short = 'b',
        long = "bootstrap",
        visible_alias = "bootstrap-node",
        env = "SENTRYPEER_BOOTSTRAP_NODE",
        value_name = "BOOTSTRAP_NODE",
        value_delimiter = ','
    )]
    pub bootstrap: Vec<String>,

    /// Peer-to-peer listen address, host:port or multiaddr, repeatable (default 0.0.0.0:4222) or use SENTRYPEER_P2P_LISTEN_ADDRESS env
    #[arg(
        long = "p2p-listen-address",
        env = "SENTRYPEER_P2P_LISTEN_ADDRESS",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    pub p2p_listen_address: Vec<String>,

    /// Address announced for OpenDHT discovery, host:port or multiaddr, repeatable; port 0 stands for the port the node listens on (only public listen addresses are announced otherwise) or use SENTRYPEER_P2P_ANNOUNCE_ADDRESS env
    #[arg(
        long = "p2p-announce-address",
        env = "SENTRYPEER_P2P_ANNOUNCE_ADDRESS",
        value_name = "ADDR",
        value_delimiter = ','
    )]
    pub p2p_announce_address: Vec<String>,

    /// Find peers on the local network with mDNS or use SENTRYPEER_P2P_MDNS env
    #[arg(long = "p2p-mdns")]
    pub p2p_mdns: bool,

    /// Peer-to-peer community name; nodes of different networks never talk (default sentrypeer) or use SENTRYPEER_P2P_NETWORK env
    #[arg(
        long = "p2p-network",
        env = "SENTRYPEER_P2P_NETWORK",
        value_name = "NAME"
    )]
    pub p2p_network: Option<String>,

    /// The node's ed25519 key file (default next to the database) or use SENTRYPEER_P2P_KEY_FILE env
    #[arg(
        long = "p2p-key-file",
        env = "SENTRYPEER_P2P_KEY_FILE",
        value_name = "FILE"
    )]
    pub p2p_key_file: Option<PathBuf>,

    /// Only accept records captured by these PeerIds (repeatable) or use SENTRYPEER_P2P_RECEIVE_ONLY_FROM env
    #[arg(
        long = "p2p-receive-only-from",
        env = "SENTRYPEER_P2P_RECEIVE_ONLY_FROM",
        value_name = "PEER_ID",
        value_delimiter = ','
    )]
    pub p2p_receive_only_from: Vec<String>,

    /// Refuse records from, and disconnect, these PeerIds (repeatable) or use SENTRYPEER_P2P_DENY env
    #[arg(
        long = "p2p-deny",
        env = "SENTRYPEER_P2P_DENY",
        value_name = "PEER_ID",
        value_delimiter = ','
    )]
    pub p2p_deny: Vec<String>,

    /// Records a peer must have shared before it gets catch-up (default 10) or use SENTRYPEER_P2P_MIN_CONTRIBUTION env
    #[arg(
        long = "p2p-min-contribution",
        env = "SENTRYPEER_P2P_MIN_CONTRIBUTION",
        value_name = "N"
    )]
    pub p2p_min_contribution: Option<u64>,

    /// Records per second accepted from one peer (default 1000) or use SENTRYPEER_P2P_MAX_RECORDS_PER_SECOND env
    #[arg(
        long = "p2p-max-records-per-second",
        env = "SENTRYPEER_P2P_MAX_RECORDS_PER_SECOND",
        value_name = "N"
    )]
    pub p2p_max_records_per_second: Option<u32>,

    /// Records one peer may send in one catch-up; beyond, it is cut off (default 2000000) or use SENTRYPEER_P2P_MAX_CATCH_UP_RECORDS env
    #[arg(
        long = "p2p-max-catch-up-records",
        env = "SENTRYPEER_P2P_MAX_CATCH_UP_RECORDS",
        value_name = "N"
    )]
    pub p2p_max_catch_up_records: Option<u64>,

    /// Peer-to-peer connections, both ways (default 128) or use SENTRYPEER_P2P_MAX_CONNECTIONS env
    #[arg(
        long = "p2p-max-connections",
        env = "SENTRYPEER_P2P_MAX_CONNECTIONS",
        value_name = "N"
    )]
    pub p2p_max_connections: Option<u32>,

    /// Publish this node's hourly community summary (counts only: events, distinct IPs and numbers, by attack type, method and country; needs -p) or use SENTRYPEER_SHARE_STATS env
    #[arg(long = "share-stats")]
    pub share_stats: bool,

    /// Seconds between checks that this node's hourly summary is due (default 3600; for tests) or use SENTRYPEER_SHARE_STATS_INTERVAL_SECS env
    #[arg(
        long = "share-stats-interval-secs",
        env = "SENTRYPEER_SHARE_STATS_INTERVAL_SECS",
        value_name = "SECONDS",
        hide = true
    )]
    pub share_stats_interval_secs: Option<u64>,

    /// Incoming peer-to-peer connections from one IP address once half full (default 32) or use SENTRYPEER_P2P_MAX_CONNECTIONS_PER_ADDRESS env
    #[arg(
        long = "p2p-max-connections-per-address",
        env = "SENTRYPEER_P2P_MAX_CONNECTIONS_PER_ADDRESS",
        value_name = "N"
    )]
    pub p2p_max_connections_per_address: Option<u32>,
}

impl P2pFlags {
    /// Merges these flags and their boolean variables (`env_is_set`) over `config`.
    pub(super) fn merge_into(self, config: &mut Config, env_is_set: &impl Fn(&str) -> bool) {
        config.peer_to_peer |= self.p2p || env_is_set("SENTRYPEER_PEER_TO_PEER");
        config.p2p_mdns |= self.p2p_mdns || env_is_set("SENTRYPEER_P2P_MDNS");
        config.share_stats |= self.share_stats || env_is_set("SENTRYPEER_SHARE_STATS");
        set_if_some(
            &mut config.share_stats_interval_secs,
            self.share_stats_interval_secs,
        );
        set_if_not_empty(&mut config.bootstrap_node, self.bootstrap);
        set_if_not_empty(&mut config.p2p_listen_address, self.p2p_listen_address);
        set_if_not_empty(&mut config.p2p_announce_address, self.p2p_announce_address);
        set_if_not_empty(
            &mut config.p2p_receive_only_from,
            self.p2p_receive_only_from,
        );
        set_if_not_empty(&mut config.p2p_deny, self.p2p_deny);
        set_if_some(&mut config.p2p_network, self.p2p_network);
        set_if_some(&mut config.p2p_min_contribution, self.p2p_min_contribution);
        set_if_some(
            &mut config.p2p_max_records_per_second,
            self.p2p_max_records_per_second,
        );
        set_if_some(
            &mut config.p2p_max_catch_up_records,
            self.p2p_max_catch_up_records,
        );
        set_if_some(&mut config.p2p_max_connections, self.p2p_max_connections);
        set_if_some(
            &mut config.p2p_max_connections_per_address,
            self.p2p_max_connections_per_address,
        );
        if self.p2p_key_file.is_some() {
            config.p2p_key_file = self.p2p_key_file;
        }
    }
}
