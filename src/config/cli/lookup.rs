//! Flags that look something up in the local database and exit instead of running the daemon
//! (`--query-ip`, `--query-phonenumber`, `--list-ip-addresses`, `--list-phonenumbers`, `--stats`).

use clap::Args;

/// Lookups in the local database; at most one per run.
#[derive(Debug, Args)]
#[group(id = "lookup", multiple = false)]
pub struct LookupFlags {
    /// Print what the local database holds for this IP address and exit: 0 when found, 1 when not, 2 on error
    #[arg(long = "query-ip", value_name = "IP")]
    pub query_ip: Option<String>,

    /// Print what the local database holds for this called number and exit: 0 when found, 1 when not, 2 on error
    #[arg(long = "query-phonenumber", value_name = "NUMBER")]
    pub query_phonenumber: Option<String>,

    /// Print every source IP in the local database, newest first, and exit (1 when there is none)
    #[arg(long = "list-ip-addresses")]
    pub list_ip_addresses: bool,

    /// Print every called number in the local database, newest first, and exit (1 when there is none)
    #[arg(long = "list-phonenumbers")]
    pub list_phonenumbers: bool,

    /// Print the local database's totals and counts by method and attack type, and exit
    #[arg(long = "stats")]
    pub stats: bool,
}

/// The lookup a command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// One source IP.
    Ip(String),
    /// One called number.
    Number(String),
    /// Every source IP.
    Ips,
    /// Every called number.
    Numbers,
    /// Totals and counts.
    Stats,
}

impl LookupFlags {
    /// The lookup asked for, if any (clap allows at most one).
    pub fn requested(&self) -> Option<Lookup> {
        if let Some(ip) = &self.query_ip {
            Some(Lookup::Ip(ip.clone()))
        } else if let Some(number) = &self.query_phonenumber {
            Some(Lookup::Number(number.clone()))
        } else if self.list_ip_addresses {
            Some(Lookup::Ips)
        } else if self.list_phonenumbers {
            Some(Lookup::Numbers)
        } else {
            self.stats.then_some(Lookup::Stats)
        }
    }
}
