//! Every default of the configuration, stated once: [`Config::default`] is built from these, and
//! modules whose option structs have a `Default` (for tests and library users) take the same
//! constants from here.

use std::net::SocketAddr;
use std::path::PathBuf;

use super::Config;
use super::personality::PersonalitySettings;

/// UDP and TCP SIP listen address (the original's).
pub const SIP_LISTEN_ADDRESS: SocketAddr = SocketAddr::new(UNSPECIFIED_V4, 5060);
/// TLS SIP listen address (the original's).
pub const TLS_LISTEN_ADDRESS: SocketAddr = SocketAddr::new(UNSPECIFIED_V4, 5061);
/// REST API listen address (the original's).
pub const API_LISTEN_ADDRESS: SocketAddr = SocketAddr::new(UNSPECIFIED_V4, 8082);
/// Largest SIP message accepted on a stream (TCP/TLS), and the largest UDP datagram.
pub const MAX_MESSAGE_BYTES: usize = 65_536;
/// Replies per second to one source IP in responsive mode (twice that as a burst).
pub const SIP_REPLY_RATE_LIMIT: u32 = 50;
/// Seconds a silent TCP/TLS connection stays open.
pub const TCP_IDLE_TIMEOUT_SECS: u64 = 30;
/// Seconds a TLS handshake may take.
pub const TLS_HANDSHAKE_TIMEOUT_SECS: u64 = 10;
/// Seconds a TCP/TLS message may take from its first byte to its end.
pub const SIP_HEADER_TIMEOUT_SECS: u64 = 10;
/// Concurrent TCP and TLS connections, each.
pub const MAX_CONNECTIONS: usize = 1024;
/// Concurrent TCP and TLS connections from one source, each.
pub const SIP_MAX_CONNECTIONS_PER_SOURCE: usize = 32;
/// IPv6 sources are grouped by this prefix for the per-source caps (an ISP hands out /64s).
pub const SOURCE_IPV6_PREFIX: u8 = 64;
/// Concurrent API connections from one source (a browser opens 6, a script 1).
pub const API_MAX_CONNECTIONS_PER_SOURCE: usize = 32;
/// Seconds an API response write may wait for its client.
pub const API_WRITE_TIMEOUT_SECS: u64 = 10;
/// Events that may wait for each consumer.
pub const EVENT_QUEUE_CAPACITY: usize = 8_192;
/// Events that may wait for the store writer: more than the other consumers get, because the
/// writer pauses while it writes a second's aggregate rows (up to half a second under a flood
/// calling 250,000 numbers) and while it checkpoints. A 50,000/s flood overflows a queue of
/// 8,192 in each pause; a longer one holds the backlog, which the writer stores afterwards.
/// Measured (README "Lossless aggregates under floods"), together with the reaper thread and the
/// lookups' own threads: raw rows stored during a paced 50,000/s flood 1.38x those with 8,192
/// and neither of the others (median of 3, same hour).
pub const STORE_QUEUE_CAPACITY: usize = 65_536;
/// Bytes of events (see `pipeline::event_bytes`) the store writer's queue holds at most: about
/// 50,000 typical probes (a second of that flood), or 768 maximal datagrams. It bounds the
/// memory a flood of maximal datagrams takes (README "Limits and faults"): 128 MiB held about
/// a second more of the flood but took the daemon's peak RSS past 200 MiB under maximal
/// datagrams.
pub const STORE_QUEUE_BYTES: usize = 48 * 1024 * 1024;
/// Days of events kept in the database.
pub const RETENTION_DAYS: u32 = 7;
/// Most source IPs the live blocklist holds: 2^20 (about 100 MB at the cap).
pub const BLOCKLIST_MAX_IPS: usize = 1 << 20;
/// Most called numbers the live blocklist holds: 5 × 2^20 (about 500 MB at the cap).
pub const BLOCKLIST_MAX_NUMBERS: usize = 5 << 20;
/// Distinct untrusted peers that must report a key before their reports count.
pub const PEER_QUORUM: usize = 2;
/// How long a CrowdSec decision lasts after the IP was last seen.
pub const CROWDSEC_BAN_DURATION: &str = "24h";
/// Peer-to-peer listen address: the original's DHT port.
pub const P2P_LISTEN_ADDRESS: &str = "0.0.0.0:4222";
/// Peer-to-peer community name.
pub const P2P_NETWORK: &str = "sentrypeer";
/// Records a peer must have shared before it is served catch-up.
pub const P2P_MIN_CONTRIBUTION: u64 = 10;
/// Records per second accepted from one peer.
pub const P2P_MAX_RECORDS_PER_SECOND: u32 = 1000;
/// Records one peer may send in one catch-up pass: a week of a busy community (a million
/// records is the benchmark's) twice over.
pub const P2P_MAX_CATCH_UP_RECORDS: u64 = 2_000_000;
/// Peer-to-peer connections, both ways: a node dials up to 24 peers and others dial it; this
/// leaves room for five times that, at about 50 KB each.
pub const P2P_MAX_CONNECTIONS: u32 = 128;
/// Incoming peer-to-peer connections from one IP address once the node is half full: room for
/// a few dozen nodes behind one NAT or on one host, while one address cannot take a node's
/// every connection.
pub const P2P_MAX_CONNECTIONS_PER_ADDRESS: u32 = 32;
/// Seconds between checks that the hourly community summary is due: an hour, so a summary goes
/// out an hour after start and then once an hour.
pub const SHARE_STATS_INTERVAL_SECS: u64 = 3600;
/// SentryPeerHQ's OAuth2 token endpoint (the original's hard-coded one).
pub const OAUTH2_TOKEN_URL: &str = "https://authz.sentrypeer.com/oauth/token";
/// SentryPeerHQ's API audience (the original's hard-coded one).
pub const OAUTH2_AUDIENCE: &str = "https://sentrypeer.com/api";
/// Events per webhook POST (1: a JSON object per event, as the original).
pub const WEBHOOK_BATCH: usize = 1;
/// Seconds one webhook or token request may take.
pub const WEBHOOK_TIMEOUT_SECS: u64 = 10;
/// Attempts per webhook POST before its events are dropped and counted.
pub const WEBHOOK_MAX_ATTEMPTS: u32 = 6;
/// The BGP speaker's AS number: the first private one (RFC 6996).
pub const BGP_LOCAL_AS: u32 = 64_512;
/// A BGP peer's port.
pub const BGP_PORT: u16 = 179;
/// TTL of our packets to a BGP peer: any number of hops (multihop, as Team Cymru's feeds).
pub const BGP_MULTIHOP_TTL: u8 = 255;
/// Hold time proposed to a BGP peer, in seconds (RFC 4271's suggestion).
pub const BGP_HOLD_TIME: u16 = 90;
/// Next hop of announced IPv4 routes: a discard address in TEST-NET-1 (RFC 5737).
pub const BGP_NEXT_HOP_V4: std::net::Ipv4Addr = std::net::Ipv4Addr::new(192, 0, 2, 1);
/// Next hop of announced IPv6 routes: in the discard-only prefix (RFC 6666).
pub const BGP_NEXT_HOP_V6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 1);
/// Communities of announced routes: RFC 7999 BLACKHOLE and NO_EXPORT.
pub const BGP_COMMUNITIES: [&str; 2] = ["65535:666", "no-export"];
/// Most routes the BGP speaker announces.
pub const BGP_MAX_ROUTES: usize = 100_000;
/// Events put on OpenDHT per second at most.
pub const OPENDHT_PUBLISH_RATE: u32 = 10;
/// The personality of responsive mode when none is named.
pub const PERSONALITY: &str = "freepbx";
/// Who may ask the SIP agent: loopback only (a proxy on the same host).
pub const SIP_AGENT_ALLOW: [&str; 2] = ["127.0.0.0/8", "::1/128"];
/// The header a proxy adds with the caller's IP for the SIP agent.
pub const SIP_AGENT_SOURCE_IP_HEADER: &str = "X-Source-IP";
/// The SIP agent's answer to a blocked call: `603 Decline`.
pub const SIP_AGENT_BLOCK_RESPONSE: u16 = 603;
/// Requests per second one source may send the SIP agent (a busy SBC's call attempts, with room).
pub const SIP_AGENT_RATE_LIMIT: u32 = 50_000;
/// How long a token from `POST /oauth/token` is valid (SentryPeerHQ's tokens: 24 hours).
pub const API_TOKEN_LIFETIME: &str = "24h";

const UNSPECIFIED_V4: std::net::IpAddr = std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

impl Default for Config {
    fn default() -> Self {
        Self {
            sip_listen_address: SIP_LISTEN_ADDRESS,
            tls_listen_address: TLS_LISTEN_ADDRESS,
            cert: PathBuf::from("cert.pem"),
            key: PathBuf::from("key.pem"),
            sip_disable: false,
            tls_disable: false,
            sip_responsive: false,
            sip_reply_rate_limit: SIP_REPLY_RATE_LIMIT,
            max_message_bytes: MAX_MESSAGE_BYTES,
            tcp_idle_timeout_secs: TCP_IDLE_TIMEOUT_SECS,
            tls_handshake_timeout_secs: TLS_HANDSHAKE_TIMEOUT_SECS,
            sip_header_timeout_secs: SIP_HEADER_TIMEOUT_SECS,
            max_connections: MAX_CONNECTIONS,
            sip_max_connections_per_source: SIP_MAX_CONNECTIONS_PER_SOURCE,
            source_ipv6_prefix: SOURCE_IPV6_PREFIX,
            event_queue_capacity: EVENT_QUEUE_CAPACITY,
            store_queue_capacity: STORE_QUEUE_CAPACITY,
            db_file: PathBuf::from("sentrypeer.db"),
            retention_days: RETENTION_DAYS,
            blocklist_max_ips: BLOCKLIST_MAX_IPS,
            blocklist_max_numbers: BLOCKLIST_MAX_NUMBERS,
            verdicts: super::VerdictsConfig::default(),
            sip_agent: super::SipAgentConfig::default(),
            json_log: false,
            json_log_file: PathBuf::from("sentrypeer_json.log"),
            json_log_include_peer_data: false,
            syslog: false,
            syslog_address: None,
            syslog_include_peer_data: false,
            verbose: false,
            debug: false,
            api: false,
            api_listen_address: API_LISTEN_ADDRESS,
            api_token: None,
            api_token_file: None,
            api_max_connections_per_source: API_MAX_CONNECTIONS_PER_SOURCE,
            api_write_timeout_secs: API_WRITE_TIMEOUT_SECS,
            api_client: Vec::new(),
            api_token_lifetime: API_TOKEN_LIFETIME.to_owned(),
            crowdsec_api_key: Vec::new(),
            crowdsec_ban_duration: CROWDSEC_BAN_DURATION.to_owned(),
            web_gui: false,
            geoip_db: None,
            peer_to_peer: false,
            bootstrap_node: Vec::new(),
            p2p_listen_address: vec![P2P_LISTEN_ADDRESS.to_owned()],
            p2p_announce_address: Vec::new(),
            p2p_mdns: false,
            p2p_network: P2P_NETWORK.to_owned(),
            p2p_key_file: None,
            p2p_receive_only_from: Vec::new(),
            p2p_deny: Vec::new(),
            p2p_min_contribution: P2P_MIN_CONTRIBUTION,
            p2p_max_records_per_second: P2P_MAX_RECORDS_PER_SECOND,
            p2p_max_catch_up_records: P2P_MAX_CATCH_UP_RECORDS,
            p2p_max_connections: P2P_MAX_CONNECTIONS,
            p2p_max_connections_per_address: P2P_MAX_CONNECTIONS_PER_ADDRESS,
            share_stats: false,
            share_stats_interval_secs: SHARE_STATS_INTERVAL_SECS,
            webhook_url: None,
            oauth2_client_id: None,
            oauth2_client_secret: None,
            oauth2_token_url: OAUTH2_TOKEN_URL.to_owned(),
            oauth2_audience: OAUTH2_AUDIENCE.to_owned(),
            webhook_batch: WEBHOOK_BATCH,
            webhook_skip_empty: false,
            webhook_include_peer_data: false,
            webhook_timeout_secs: WEBHOOK_TIMEOUT_SECS,
            webhook_max_attempts: WEBHOOK_MAX_ATTEMPTS,
            opendht_proxy: None,
            opendht_publish: false,
            opendht_publish_rate: OPENDHT_PUBLISH_RATE,
            opendht_verdicts: false,
            personality: PersonalitySettings::default(),
            bgp: super::BgpConfig::default(),
        }
    }
}

impl Default for PersonalitySettings {
    fn default() -> Self {
        Self {
            name: PERSONALITY.to_owned(),
            server: None,
            allow: None,
            supported: None,
            accept: None,
            accept_encoding: None,
            accept_language: None,
            allow_events: None,
            realm: None,
            sdp_session_name: None,
            extensions: None,
            auth_attempts: None,
            invite_challenge: None,
            progress: None,
            ring_ms: None,
            call_outcome: None,
            call_ms: None,
        }
    }
}
