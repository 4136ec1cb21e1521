//! What the integration tests share, and the only place they import from: the daemon under test
//! ([`daemon`]), child processes and their output ([`process`]), HTTP ([`http`]), raw SIP
//! ([`sip`]), the SIP tools ([`sip_tools`]), Kamailio and a SIPp UAS in the background
//! ([`switch`]), OpenDHT's dhtnode and python3-opendht ([`dhtnode`]), load and what it costs
//! ([`load`]), large databases made in seconds ([`seed`]), the peer-to-peer helpers ([`p2p`]),
//! network namespaces ([`namespaces`]), BGP routers and their namespaces ([`bgp`]), the CrowdSec
//! bouncer ([`bouncer`]), the webhook receiver ([`webhook_receiver`]), a Server-Sent Events
//! client ([`sse`]) and what a test needs to be able to run ([`prerequisites`]).

pub(crate) mod bgp;
pub(crate) mod bouncer;
pub(crate) mod daemon;
pub(crate) mod dhtnode;
pub(crate) mod http;
pub(crate) mod load;
pub(crate) mod namespaces;
pub(crate) mod p2p;
pub(crate) mod prerequisites;
pub(crate) mod process;
pub(crate) mod seed;
pub(crate) mod sip;
pub(crate) mod sip_tools;
pub(crate) mod small_build;
pub(crate) mod sse;
pub(crate) mod switch;
pub(crate) mod webhook_receiver;

/// The environment variable that makes this test binary act as a child process inside a
/// network namespace (see [`netns_child`]).
const CHILD_ENV: &str = "SENTRYPEER_NETNS_CHILD";

/// The libtest name of [`netns_child`] (module path without the crate).
fn child_test_name() -> String {
    let module = module_path!();
    let module = module.split_once("::").map_or(module, |(_, rest)| rest);
    format!("{module}::netns_child")
}

/// Entry point of the processes [`namespaces::self_child`] starts inside a namespace; does
/// nothing in a normal test run.
#[test]
#[ignore = "entry point for the child processes the firewall tests start in a namespace"]
fn netns_child() {
    let Ok(role) = std::env::var(CHILD_ENV) else {
        return;
    };
    match role.as_str() {
        "lapi-stub" => bouncer::lapi_stub::serve(),
        "udp-send" => namespaces::send_udp_as_child(),
        "probe-send" => bgp::send_probe_as_child(),
        other => panic!("unknown child role {other}"),
    }
}
