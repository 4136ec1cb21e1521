//! Lossless aggregates: a daemon whose store queue holds one event, probed from hundreds of
//! sources to hundreds of numbers at once, has every distinct IP and number in the database and
//! the API with exact `seen_count`s (the live blocklist counts every event; the writer flushes its
//! changes), however many raw rows it shed; after a restart the blocklist is loaded back from the
//! database and counts on from there.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::daemon::{Daemon, Stopped, WAIT};
use crate::support::http::{curl, get_json, health};
use crate::support::sip::{options, udp_exchange};

/// Threads sending at once, each with its own sources.
const SENDERS: usize = 8;
/// Sources per thread (all in 127.1.0.0/16).
const SOURCES_PER_SENDER: usize = 40;
/// Probes from each source.
const PROBES_PER_SOURCE: usize = 5;
/// Distinct numbers called (fewer than probes: some are called several times).
const NUMBERS: usize = 700;
/// Probes a thread has in flight (one per source socket), few enough that the socket's
/// receive buffer never overflows: the kernel drops nothing, so every count is exact.
const WINDOW: usize = 8;

/// Source `index`'s address.
fn source(index: usize) -> IpAddr {
    let index = u32::try_from(index).expect("small");
    IpAddr::V4(Ipv4Addr::from(
        u32::from(Ipv4Addr::new(127, 1, 0, 1)) + index,
    ))
}

/// The number probe `probe` of source `index` calls.
fn number(index: usize, probe: usize) -> String {
    format!(
        "00{}",
        4_600_000_000_usize + (index * PROBES_PER_SOURCE + probe) % NUMBERS
    )
}

/// Key -> probes sent to or from it.
type Counts = BTreeMap<String, u64>;

/// Every source sends its probes, each answered before that socket sends the next, `WINDOW`
/// sockets of a thread at a time; the counts each IP and number must end with.
fn flood(udp: SocketAddr) -> (Counts, Counts) {
    let threads: Vec<_> = (0..SENDERS)
        .map(|sender| {
            std::thread::spawn(move || {
                let first = sender * SOURCES_PER_SENDER;
                let sockets: Vec<(usize, UdpSocket)> = (first..first + SOURCES_PER_SENDER)
                    .map(|index| {
                        let socket =
                            UdpSocket::bind((source(index), 0)).expect("bind a loopback address");
                        socket.set_read_timeout(Some(WAIT)).expect("timeout");
                        (index, socket)
                    })
                    .collect();
                for probe in 0..PROBES_PER_SOURCE {
                    for window in sockets.chunks(WINDOW) {
                        for (index, socket) in window {
                            let message = options(
                                &number(*index, probe),
                                "UDP",
                                "lossless",
                                &format!("l-{index}-{probe}"),
                            );
                            socket.send_to(message.as_bytes(), udp).expect("send");
                        }
                        for (_, socket) in window {
                            let mut reply = [0u8; 4096];
                            socket.recv_from(&mut reply).expect("every probe answered");
                        }
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("sender");
    }
    let (mut ips, mut numbers) = (Counts::new(), Counts::new());
    for index in 0..SENDERS * SOURCES_PER_SENDER {
        *ips.entry(source(index).to_string()).or_default() += PROBES_PER_SOURCE as u64;
        for probe in 0..PROBES_PER_SOURCE {
            *numbers.entry(number(index, probe)).or_default() += 1;
        }
    }
    (ips, numbers)
}

/// Every item of a paginated `/api/v1/{route}` listing: `key_field` -> `seen_count`.
fn listed(api: SocketAddr, route: &str, key_field: &str) -> Counts {
    let mut counts = Counts::new();
    let mut cursor = String::new();
    loop {
        let page = get_json(api, &format!("/api/v1/{route}?limit=1000{cursor}"));
        for item in page["items"].as_array().expect("items") {
            let key = item[key_field].as_str().expect("key").to_owned();
            counts.insert(key, item["seen_count"].as_u64().expect("seen_count"));
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = format!("&cursor={next}"),
            None => return counts,
        }
    }
}

/// Waits until the API lists `expected` IPs and numbers (the writer flushes every second).
fn wait_until_listed(api: SocketAddr, expected: &(Counts, Counts)) -> (Counts, Counts) {
    let deadline = Instant::now() + WAIT;
    loop {
        let served = (
            listed(api, "ip-addresses", "ip_address"),
            listed(api, "numbers", "called_number"),
        );
        if served == *expected || Instant::now() > deadline {
            return served;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `SELECT key, seen_count FROM table` of the database at `path`.
fn stored(path: &Path, table: &str, key: &str) -> Counts {
    let db = rusqlite::Connection::open(path).expect("open database");
    let mut statement = db
        .prepare(&format!("SELECT {key}, seen_count FROM {table}"))
        .expect("prepare");
    statement
        .query_map([], |row| {
            Ok((
                row.get(0)?,
                u64::try_from(row.get::<_, i64>(1)?).expect("count"),
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows")
}

/// `key=N` from the shutdown line.
fn logged_total(stopped: &Stopped, key: &str) -> u64 {
    let line = (stopped.log.iter().rev())
        .find(|line| line.contains(" stopped "))
        .expect("totals at shutdown");
    let marker = format!(" {key}=");
    let rest = line.split(&marker).nth(1).expect("key in line");
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse().ok())
        .expect("a number")
}

#[test]
fn a_tiny_store_queue_keeps_every_ip_and_number_with_exact_counts() {
    let builder =
        Daemon::builder().config_file("event_queue_capacity = 1\nstore_queue_capacity = 1\n");
    let daemon = builder
        .args(["-N", "-r", "--sip-reply-rate-limit", "0"])
        .args([
            "-a",
            "--api-listen-address",
            "127.0.0.1:0",
            "--retention-days",
            "0",
        ])
        .env("RUST_LOG", "info")
        .start();
    let api = daemon.api.expect("API");
    let expected = flood(daemon.udp.expect("UDP"));
    let probes: u64 = expected.0.values().sum();

    let served = wait_until_listed(api, &expected);
    assert_eq!(served.0, expected.0, "every IP served with its exact count");
    assert_eq!(
        served.1, expected.1,
        "every number served with its exact count"
    );
    // The original's point lookups answer for every key too (a sample of them).
    for ip in expected.0.keys().step_by(37) {
        let answer = curl(api, &format!("/ip-addresses/{ip}"), &[]);
        assert_eq!(answer.status, 200, "/ip-addresses/{ip}: {}", answer.body);
    }
    for number in expected.1.keys().step_by(61) {
        let answer = curl(api, &format!("/numbers/{number}"), &[]);
        assert_eq!(answer.status, 200, "/numbers/{number}: {}", answer.body);
    }

    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    let db = stopped.path("sentrypeer.db");
    assert_eq!(
        logged_total(&stopped, "kernel_dropped"),
        0,
        "nothing lost before capture"
    );
    let rows: Vec<i64> = stopped.rows("SELECT COUNT(*) FROM honey", |row| row.get(0));
    let rows = u64::try_from(rows[0]).expect("count");
    let shed = logged_total(&stopped, "dropped");
    assert_eq!(rows + shed, probes, "raw rows: stored + shed = received");
    eprintln!("{probes} probes: {rows} raw rows stored, {shed} shed by the store queue");
    assert_eq!(stored(&db, "ip_addresses", "source_ip"), expected.0);
    assert_eq!(stored(&db, "called_numbers", "called_number"), expected.1);
}

#[test]
fn a_restart_loads_the_blocklist_and_counts_on() {
    let first = Daemon::builder()
        .args(["-N", "-r", "--sip-reply-rate-limit", "0"])
        .start();
    let udp = first.udp.expect("UDP");
    for index in 0..3 {
        let socket = UdpSocket::bind((source(index), 0)).expect("bind");
        socket.set_read_timeout(Some(WAIT)).expect("timeout");
        for probe in 0..2 {
            let message = options(&number(index, probe), "UDP", "restart", "r");
            udp_exchange(&socket, udp, message.as_bytes());
        }
    }
    let first = first.stop();
    first.assert_clean_exit();
    let db = first.path("sentrypeer.db");
    let before = stored(&db, "ip_addresses", "source_ip");
    assert_eq!(before.len(), 3, "{before:?}");
    let second = Daemon::builder()
        .args(["-N", "-r", "--sip-reply-rate-limit", "0", "-f"])
        .args([db.display().to_string()])
        .args(["-a", "--api-listen-address", "127.0.0.1:0"])
        .start();
    let loaded = health(second.api.expect("API"));
    assert_eq!(loaded["blocklist"]["ips"], 3, "{loaded}");
    assert_eq!(loaded["blocklist"]["numbers"], 6, "{loaded}");
    assert!(second.logged("blocklist loaded from the database"));
    // One more probe from the first source: its row counts on from the loaded count.
    let socket = UdpSocket::bind((source(0), 0)).expect("bind");
    socket.set_read_timeout(Some(WAIT)).expect("timeout");
    let message = options(&number(0, 0), "UDP", "restart", "r2");
    udp_exchange(&socket, second.udp.expect("UDP"), message.as_bytes());
    let second = second.stop();
    second.assert_clean_exit();
    let after = stored(&db, "ip_addresses", "source_ip");
    let first_ip = source(0).to_string();
    assert_eq!(after[&first_ip], before[&first_ip] + 1, "{after:?}");
    assert_eq!(after.len(), 3);
    let numbers = stored(&db, "called_numbers", "called_number");
    assert_eq!(numbers[&number(0, 0)], 2, "{numbers:?}");
}
