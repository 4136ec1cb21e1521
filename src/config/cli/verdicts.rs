//! Flags of the verdict policy (what of the live blocklist feeds, CrowdSec, the SIP agent and
//! BGP act on), and how they merge over the file's `[verdicts]` table.

use clap::Args;

use super::merge::{set_if_not_empty, set_if_some};
use crate::config::Config;

/// The verdict policy.
#[derive(Debug, Args)]
pub struct VerdictFlags {
    /// Let special-purpose addresses (private, loopback, documentation, multicast...) become verdicts, for labs and tests, or use SENTRYPEER_VERDICT_INCLUDE_SPECIAL_ADDRESSES env
    #[arg(long = "verdict-include-special-addresses")]
    pub verdict_include_special_addresses: bool,

    /// A network, address, number or number prefix (0900*) no verdict includes (repeatable) or use SENTRYPEER_VERDICT_NEVER env
    #[arg(
        long = "verdict-never",
        env = "SENTRYPEER_VERDICT_NEVER",
        value_name = "CIDR_OR_NUMBER",
        value_delimiter = ','
    )]
    pub verdict_never: Vec<String>,

    /// A peer whose reports count toward verdicts on their own (repeatable) or use SENTRYPEER_P2P_TRUST env
    #[arg(
        long = "p2p-trust",
        env = "SENTRYPEER_P2P_TRUST",
        value_name = "PEER_ID",
        value_delimiter = ','
    )]
    pub p2p_trust: Vec<String>,

    /// Distinct untrusted peers that must report a key before it counts (default 2) or use SENTRYPEER_PEER_QUORUM env
    #[arg(long = "peer-quorum", env = "SENTRYPEER_PEER_QUORUM", value_name = "N")]
    pub peer_quorum: Option<usize>,
}

impl VerdictFlags {
    /// Merges these flags and their boolean variables (`env_is_set`) over `config`.
    pub(super) fn merge_into(self, config: &mut Config, env_is_set: &impl Fn(&str) -> bool) {
        let verdicts = &mut config.verdicts;
        verdicts.include_special_addresses |= self.verdict_include_special_addresses
            || env_is_set("SENTRYPEER_VERDICT_INCLUDE_SPECIAL_ADDRESSES");
        set_if_not_empty(&mut verdicts.never, self.verdict_never);
        set_if_not_empty(&mut verdicts.trusted_peers, self.p2p_trust);
        set_if_some(&mut verdicts.peer_quorum, self.peer_quorum);
    }
}
