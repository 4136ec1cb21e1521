//! Thousands of idle TCP connections from many loopback sources: the daemon keeps answering UDP
//! probes and the API, and its memory grows by a bounded amount per connection. The open-file
//! limit those connections need is raised at start-up.

use std::net::{IpAddr, SocketAddr, TcpStream};

use crate::support::daemon::Daemon;
use crate::support::http::{counter, curl, health, wait_for_health};
use crate::support::sip::{options, udp_client, udp_exchange};

/// Idle connections the flood test opens.
const IDLE_CONNECTIONS: usize = 3000;
/// Memory the daemon may use per idle connection: its 4 KiB read buffer, the task, the socket's
/// registration and the allocator's slack stay well under this.
const MAX_KIB_PER_IDLE_CONNECTION: u64 = 16;

/// `count` TCP connections to `to` from `from`, on source ports chosen below the kernel's
/// ephemeral range. With ports the kernel picks (bind to port 0), the peer-to-peer tests running
/// beside this one failed to connect to each other: thousands of ephemeral ports stay taken
/// for a minute after the test (TIME_WAIT).
fn connections_from(from: IpAddr, count: usize, to: SocketAddr) -> Vec<TcpStream> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .expect("ephemeral port range");
    let first_ephemeral: u16 = range
        .split_whitespace()
        .next()
        .and_then(|low| low.parse().ok())
        .expect("a port number");
    let mut ports = (first_ephemeral.saturating_sub(2_000)..first_ephemeral).rev();
    let mut connections = Vec::with_capacity(count);
    while connections.len() < count {
        let port = ports.next().expect("a free port below the ephemeral range");
        let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        if socket.bind(&SocketAddr::new(from, port).into()).is_err() {
            continue;
        }
        socket.connect(&to.into()).expect("connect");
        connections.push(socket.into());
    }
    connections
}

/// The resident memory of a process, in KiB (`VmRSS` in `/proc/<pid>/status`).
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .expect("VmRSS")
}

/// Raises this test process's open-file limit to its hard limit; returns the new soft limit.
fn raise_own_open_file_limit() -> u64 {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let raised = Rlimit {
        current: limit.maximum,
        maximum: limit.maximum,
    };
    setrlimit(Resource::Nofile, raised).expect("raise RLIMIT_NOFILE");
    raised.current.unwrap_or(u64::MAX)
}

#[test]
fn thousands_of_idle_connections_leave_udp_and_the_api_answering_in_bounded_memory() {
    let open_files = raise_own_open_file_limit();
    let connections = u64::try_from(IDLE_CONNECTIONS).expect("count");
    assert!(
        open_files >= connections + 500,
        "the open-file hard limit {open_files} is too low for {IDLE_CONNECTIONS} connections"
    );
    // 60 sources of 50 connections: the per-source cap is raised to let them in (the cap has
    // its own test); the connection cap is above the flood.
    let per_source = 50;
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args([
            "--max-connections",
            "4096",
            "--sip-max-connections-per-source",
            "64",
        ])
        .start();
    let tcp = daemon.tcp.expect("TCP listening");
    let api = daemon.api.expect("API");
    let udp = daemon.udp.expect("UDP listening");
    let client = udp_client();
    // Every path once first, so the baseline holds what the daemon needs anyway.
    let reply = udp_exchange(&client, udp, options("1", "UDP", "warm", "warm").as_bytes());
    assert!(reply.starts_with(b"SIP/2.0 200 OK"));
    health(api);
    let baseline = rss_kib(daemon.pid());

    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    for source in 0..IDLE_CONNECTIONS.div_ceil(per_source) {
        let from = IpAddr::from([127, 0, 1, u8::try_from(source + 1).expect("octet")]);
        idle.extend(connections_from(from, per_source, tcp));
    }
    let details = wait_for_health(api, |d| counter(d, "open", "TCP") == connections);
    assert_eq!(counter(&details, "over_source_cap", "TCP"), 0, "{details}");

    let reply = udp_exchange(&client, udp, options("2", "UDP", "busy", "busy").as_bytes());
    assert!(reply.starts_with(b"SIP/2.0 200 OK"), "UDP still answered");
    let check = curl(api, "/health-check", &[]);
    assert_eq!(check.status, 200, "the API still answers");
    let loaded = rss_kib(daemon.pid());
    let per_connection = loaded.saturating_sub(baseline) / connections;
    eprintln!(
        "RSS {baseline} KiB before, {loaded} KiB with {IDLE_CONNECTIONS} idle connections: \
         {per_connection} KiB each"
    );
    assert!(
        per_connection <= MAX_KIB_PER_IDLE_CONNECTION,
        "{per_connection} KiB per idle connection ({baseline} -> {loaded} KiB)"
    );

    drop(idle);
    // Each idle connection is recorded once, as an empty probe, when it closes.
    daemon.wait_for_stored(connections + 2);
    daemon.stop().assert_clean_exit();
}

/// The soft open-file limit of a running process (`/proc/<pid>/limits`).
fn soft_open_file_limit(pid: u32) -> u64 {
    let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("proc limits");
    limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|soft| soft.parse().ok())
        .expect("Max open files")
}

#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit_and_a_short_one_is_reported() {
    // The usual soft limit of 1,024 is below what the default cap of 1,024 TCP connections
    // needs next to the daemon's other files.
    let daemon = Daemon::builder()
        .wrapped(["prlimit", "--nofile=1024:4096", "--"])
        .args(["-N"])
        .start();
    assert_eq!(soft_open_file_limit(daemon.pid()), 4096);
    assert!(
        !daemon.logged("open-file limit is below"),
        "1,024 fits in 4,096"
    );
    daemon.stop().assert_clean_exit();

    let squeezed = Daemon::builder()
        .wrapped(["prlimit", "--nofile=1024:4096", "--"])
        .args(["-N", "--max-connections", "4096"])
        .start();
    assert!(
        squeezed.logged("the open-file limit is below what the connection caps allow"),
        "{}",
        squeezed.log_lines().join("\n")
    );
    squeezed.stop().assert_clean_exit();
}
