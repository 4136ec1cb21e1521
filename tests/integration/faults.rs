//! Faults the honeypot must survive: SIGKILL during a flood, a full disk (tmpfs in a private
//! mount namespace, root only), a file-size limit (`RLIMIT_FSIZE`, any user), a read-only
//! database directory at start, corrupt and foreign database files, and an unreachable webhook
//! and peers. Capture goes on, nothing committed is lost, nothing foreign is overwritten.
//!
//! Tests that need root skip when not root (saying why), unless `SENTRYPEER_REQUIRE_ROOT` is set,
//! which makes that a failure (CI sets it).

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::harness::{Daemon, WAIT, options, udp_client, udp_exchange};
use crate::limits::{health, wait_for_health};

/// Set to make a skipped root-only test a failure instead.
const REQUIRE_ROOT_ENV: &str = "SENTRYPEER_REQUIRE_ROOT";

/// Whether this process can run root-only tests (root, and `unshare` makes a mount namespace);
/// when not, says why on stderr and returns false, or panics if [`REQUIRE_ROOT_ENV`] is set.
fn root_ready(test: &str) -> bool {
    let missing = if !rustix::process::geteuid().is_root() {
        Some("root".to_owned())
    } else {
        let works = Command::new("unshare")
            .args(["--mount", "--propagation", "private", "true"])
            .status()
            .is_ok_and(|status| status.success());
        (!works).then(|| "a working `unshare --mount` (util-linux)".to_owned())
    };
    let Some(missing) = missing else {
        return true;
    };
    let why = format!("{test} skipped: needs {missing}");
    assert!(std::env::var_os(REQUIRE_ROOT_ENV).is_none(), "{why}");
    eprintln!("{why}");
    false
}

/// Sends OPTIONS probes to `udp` from one socket as fast as it can until stopped (or a bound
/// is reached), on its own thread; returns how many it sent.
struct Flood {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<u64>,
}

impl Flood {
    const MAX_PROBES: u64 = 2_000_000;

    fn start(udp: SocketAddr) -> Flood {
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            let socket = UdpSocket::bind("127.0.0.1:0").expect("bind flood socket");
            let deadline = Instant::now() + 3 * WAIT;
            let mut sent = 0;
            while !stopping.load(Ordering::Relaxed)
                && sent < Self::MAX_PROBES
                && Instant::now() < deadline
            {
                let probe = options(&format!("{sent}"), "UDP", "flood", &format!("f-{sent}"));
                if socket.send_to(probe.as_bytes(), udp).is_ok() {
                    sent += 1;
                }
            }
            sent
        });
        Flood { stop, thread }
    }

    fn stop(self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("flood thread")
    }
}

fn count_rows(db: &rusqlite::Connection) -> u64 {
    let count: i64 = db
        .query_row("SELECT count(*) FROM honey", [], |row| row.get(0))
        .expect("count");
    u64::try_from(count).expect("a count")
}

#[test]
fn kill_9_during_a_flood_leaves_a_whole_database_with_every_committed_batch() {
    let daemon = Daemon::builder().args(["-N"]).start();
    let udp = daemon.udp.expect("UDP listening");
    let flood = Flood::start(udp);
    // Several batches committed, more on their way.
    daemon.wait_for_stored(3_000);
    let stopped = daemon.kill();
    let sent = flood.stop();
    assert!(
        !stopped.status.success(),
        "killed, not stopped: {:?}",
        stopped.status
    );
    let committed = stopped.stored_total_logged();
    assert!(committed >= 3_000, "the writer logged its total");

    let db = stopped.db();
    let integrity: String = db
        .query_row("PRAGMA integrity_check", [], |row| row.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    let rows = count_rows(&db);
    assert!(
        rows >= committed,
        "{rows} rows, but {committed} were logged as committed ({sent} sent)"
    );
    drop(db);

    // The same file serves a new daemon, which adds to it.
    let db_path = stopped.path("sentrypeer.db");
    let again = Daemon::builder()
        .args(["-r", "-N", "-f", db_path.to_str().expect("path")])
        .start();
    let reply = udp_exchange(
        &udp_client(),
        again.udp.expect("UDP listening"),
        options("42", "UDP", "after-kill", "after-kill").as_bytes(),
    );
    assert!(reply.starts_with(b"SIP/2.0 200 OK"));
    again.wait_for_stored(1);
    again.stop().assert_clean_exit();
    let db = rusqlite::Connection::open(&db_path).expect("open");
    assert_eq!(count_rows(&db), rows + 1);
}

/// Probes `count` times over UDP (each answered), numbering the called numbers from `first`.
fn probe_answered(udp: SocketAddr, first: u64, count: u64) {
    let client = udp_client();
    for number in first..first + count {
        let probe = options(&number.to_string(), "UDP", "outage", &format!("o-{number}"));
        let reply = udp_exchange(&client, udp, probe.as_bytes());
        assert!(
            reply.starts_with(b"SIP/2.0 200 OK"),
            "probe {number} answered"
        );
    }
}

/// Drives a daemon whose database can be made to refuse writes: `fill` makes writes fail,
/// `free` lets them through again. Checks the error is reported clearly (once per outage),
/// probes are still answered, failed events are counted, and storing resumes after `free`.
fn outage_and_recovery(daemon: &Daemon, fill: impl FnOnce(), free: impl FnOnce()) {
    let udp = daemon.udp.expect("UDP listening");
    let api = daemon.api.expect("API");
    probe_answered(udp, 1, 5);
    daemon.wait_for_stored(5);

    fill();
    // Keep probing until a batch fails.
    let mut sent = 5;
    let deadline = Instant::now() + WAIT;
    while !daemon.logged("cannot store events in the database") {
        assert!(
            Instant::now() < deadline,
            "no store failure; log:\n{}",
            daemon.log_lines().join("\n")
        );
        probe_answered(udp, sent + 1, 50);
        sent += 50;
    }
    // Capture goes on during the outage: probes are answered and counted as failed or queued.
    probe_answered(udp, sent + 1, 20);
    sent += 20;
    let during = health(api);
    let store_failed = during["events"]["store_failed"]
        .as_u64()
        .expect("store_failed");
    assert!(store_failed >= 1, "{during}");
    let metrics = crate::api::curl(api, "/metrics", &[]).body;
    let in_metrics: u64 = metrics
        .lines()
        .find_map(|line| line.strip_prefix("sentrypeer_events_store_failed_total "))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("store failures in the metrics: {metrics}"));
    assert!(in_metrics >= store_failed, "{metrics}");

    free();
    probe_answered(udp, sent + 1, 5);
    sent += 5;
    // Every probe is accounted for: stored, failed with its batch, or dropped at the full queue.
    let accounted = |details: &serde_json::Value| {
        let events = &details["events"];
        let count = |value: &serde_json::Value| value.as_u64().unwrap_or_default();
        count(&events["stored"])
            + count(&events["store_failed"])
            + count(&events["dropped_by_consumer"]["store"])
    };
    let after = wait_for_health(api, |details| accounted(details) == sent);
    assert_eq!(after["events"]["received"]["UDP"], sent, "{after}");
    // A nearly full disk may let a small batch through now and then: each outage is reported
    // once when it begins and once when it ends, never once per batch.
    let outages = daemon.count_logged("cannot store events in the database");
    assert!(outages >= 1);
    daemon.wait_for_logged("database takes writes again", outages);
    assert_eq!(
        daemon.count_logged("database takes writes again"),
        outages,
        "every outage ended once space returned"
    );
    let failed_batches = after["events"]["store_failed"].as_u64().unwrap_or_default();
    assert!(failed_batches >= 1, "{after}");
}

#[test]
fn a_file_size_limit_fails_batches_without_killing_the_daemon_and_storing_resumes() {
    // The soft limit stops the database files growing past 256 KiB; the hard limit stays
    // unlimited so the test can lift it again. A write past it raises SIGXFSZ, which kills a
    // process by default.
    let daemon = Daemon::builder()
        .wrapped(["prlimit", "--fsize=262144:unlimited", "--"])
        .args(["-r", "-N", "-a", "--api-listen-address", "127.0.0.1:0"])
        .args(["--sip-reply-rate-limit", "0"])
        .start();
    let pid = daemon.pid().to_string();
    outage_and_recovery(
        &daemon,
        || {},
        || {
            let lifted = Command::new("prlimit")
                .args(["--pid", &pid, "--fsize=unlimited:unlimited"])
                .status()
                .expect("run prlimit");
            assert!(lifted.success());
        },
    );
    assert!(daemon.logged("file-size limit (SIGXFSZ)"));
    daemon.stop().assert_clean_exit();
}

/// The size of the tmpfs mounted on `<dir>/db` in a private mount namespace the daemon runs in
/// (the test reaches it through `/proc/<pid>/root`): room for the database and its WAL to grow
/// once the filler file is gone.
const TMPFS_SIZE: &str = "size=64m";

#[test]
fn a_full_disk_fails_batches_capture_goes_on_and_storing_resumes_when_space_returns() {
    if !root_ready("disk-full test") {
        return;
    }
    let builder = Daemon::builder();
    let mount_point = builder.dir().join("db");
    std::fs::create_dir(&mount_point).expect("mount point");
    let db = mount_point.join("sentrypeer.db");
    let mount =
        format!("mount -t tmpfs -o {TMPFS_SIZE},mode=0700 sentrypeer-test \"$0\" && exec \"$@\"");
    let daemon = builder
        .wrapped([
            "unshare",
            "--mount",
            "--propagation",
            "private",
            "--",
            "sh",
            "-c",
            &mount,
            mount_point.to_str().expect("path"),
        ])
        .args([
            "-r",
            "-N",
            "-j",
            "-a",
            "--api-listen-address",
            "127.0.0.1:0",
        ])
        .args(["--sip-reply-rate-limit", "0"])
        .args(["-f", db.to_str().expect("path")])
        .start();
    // The daemon's view of the tmpfs (the test's own view of the directory is the empty
    // directory under it).
    let inside = PathBuf::from(format!("/proc/{}/root", daemon.pid()))
        .join(mount_point.strip_prefix("/").expect("absolute temp dir"));
    assert!(
        inside.join("sentrypeer.db").exists(),
        "database on the tmpfs"
    );
    assert!(!db.exists(), "not on the test's file system");
    let filler = inside.join("filler");
    outage_and_recovery(
        &daemon,
        || fill_up(&filler),
        || {
            std::fs::remove_file(&filler).expect("free the space");
        },
    );
    let stopped = daemon.stop();
    stopped.assert_clean_exit();
    // The JSON log is on the test's file system: it has every probe, outage or not.
    let received: u64 = stopped
        .log
        .iter()
        .filter(|line| line.contains("sentrypeer::app: stopped"))
        .find_map(|line| {
            let rest = line.split("received=").nth(1)?;
            rest.split(|c: char| !c.is_ascii_digit())
                .next()?
                .parse()
                .ok()
        })
        .expect("stop line");
    assert_eq!(
        u64::try_from(stopped.json_log().len()).expect("count"),
        received
    );
}

/// Writes zeros to `path` until the file system is full.
fn fill_up(path: &Path) {
    use std::io::Write;
    let mut file = std::fs::File::create(path).expect("create filler");
    let block = vec![0u8; 64 * 1024];
    loop {
        match file.write_all(&block) {
            Ok(()) => {}
            Err(error) if error.raw_os_error() == Some(28 /* ENOSPC */) => break,
            Err(error) => panic!("filling the tmpfs: {error}"),
        }
    }
    let _ = file.sync_all();
}

#[test]
fn a_read_only_database_directory_stops_start_up_with_a_clear_error() {
    for existing_database in [false, true] {
        let builder = Daemon::builder();
        let dir = builder.dir().join("ro");
        std::fs::create_dir(&dir).expect("dir");
        let db = dir.join("sentrypeer.db");
        if existing_database {
            drop(sentrypeer::store::open(&db).expect("create a database"));
        }
        let before = std::fs::read(&db).ok();
        let builder = builder.args(["-N", "-f", db.to_str().expect("path")]);
        let builder = if rustix::process::geteuid().is_root() {
            if !root_ready("read-only directory test") {
                return;
            }
            // Permissions do not bind root: a read-only bind mount does.
            let remount =
                "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\"";
            builder.wrapped([
                "unshare",
                "--mount",
                "--propagation",
                "private",
                "--",
                "sh",
                "-c",
                remount,
                dir.to_str().expect("path"),
            ])
        } else {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
            builder
        };
        let stopped = builder.start().wait_exit();
        assert_eq!(stopped.status.code(), Some(1), "{}", stopped.log.join("\n"));
        let error = stopped
            .log
            .iter()
            .find(|line| line.starts_with("sentrypeer: "))
            .unwrap_or_else(|| panic!("one error line; log:\n{}", stopped.log.join("\n")));
        assert!(error.contains(&db.display().to_string()), "{error}");
        assert!(error.contains("database"), "{error}");
        assert!(
            !stopped
                .log
                .iter()
                .any(|line| line.contains("sentrypeer ready"))
        );
        assert_eq!(std::fs::read(&db).ok(), before, "left as it was");
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755));
    }
}

/// Database files that are not this program's to write: (what, bytes of the file).
fn unusable_databases(scratch: &Path) -> Vec<(&'static str, Vec<u8>)> {
    let noise: Vec<u8> = (0..256)
        .flat_map(|_| *uuid::Uuid::new_v4().as_bytes())
        .collect();
    let sqlite_file = |name: &str, sql: &str| {
        let path = scratch.join(name);
        rusqlite::Connection::open(&path)
            .expect("create")
            .execute_batch(sql)
            .expect("schema");
        std::fs::read(&path).expect("read")
    };
    let rows: String = (0..300)
        .map(|i| format!("INSERT INTO foo (bar) VALUES ('{i:0>200}');"))
        .collect();
    let whole = sqlite_file(
        "big.db",
        &format!("CREATE TABLE foo (id INTEGER PRIMARY KEY, bar TEXT); {rows}"),
    );
    let truncated = whole[..whole.len() / 2].to_vec();
    vec![
        ("random bytes", noise),
        ("a truncated SQLite file", truncated),
        (
            "another program's database",
            sqlite_file(
                "foreign.db",
                "CREATE TABLE foo (id INTEGER PRIMARY KEY, bar TEXT);",
            ),
        ),
        (
            "a honey table of another shape",
            sqlite_file(
                "honey.db",
                "CREATE TABLE honey (id INTEGER PRIMARY KEY, jar TEXT);",
            ),
        ),
    ]
}

#[test]
fn corrupt_and_foreign_database_files_stop_start_up_and_are_left_byte_for_byte() {
    let scratch = tempfile::tempdir().expect("scratch");
    for (what, bytes) in unusable_databases(scratch.path()) {
        let builder = Daemon::builder().args(["-N"]);
        let db = builder.dir().join("sentrypeer.db");
        std::fs::write(&db, &bytes).expect("write the file");
        let stopped = builder.start().wait_exit();
        assert_eq!(stopped.status.code(), Some(1), "{what}: {:?}", stopped.log);
        let errors: Vec<&String> = stopped
            .log
            .iter()
            .filter(|line| line.starts_with("sentrypeer: "))
            .collect();
        assert_eq!(errors.len(), 1, "{what}: one error line: {:?}", stopped.log);
        assert!(
            errors[0].contains(&db.display().to_string()) && errors[0].contains("refusing"),
            "{what}: {}",
            errors[0]
        );
        assert!(
            std::fs::read(&db).expect("still there") == bytes,
            "{what}: the file was changed"
        );
        let beside: Vec<_> = std::fs::read_dir(stopped.path(""))
            .expect("list")
            .filter_map(Result::ok)
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .filter(|name| name.starts_with("sentrypeer.db"))
            .collect();
        assert_eq!(
            beside,
            ["sentrypeer.db"],
            "{what}: no WAL or node id beside it"
        );
    }
}

#[test]
fn a_hanging_webhook_and_unreachable_peers_do_not_touch_capture() {
    // A webhook that accepts connections and never answers, and a bootstrap peer on a closed
    // port.
    let hanging = TcpListener::bind("127.0.0.1:0").expect("bind webhook");
    let webhook = format!("http://{}/events", hanging.local_addr().expect("addr"));
    let stop = Arc::new(AtomicBool::new(false));
    let stopping = Arc::clone(&stop);
    let held = std::thread::spawn(move || {
        let mut connections = Vec::new();
        let deadline = Instant::now() + 2 * WAIT;
        hanging.set_nonblocking(true).expect("nonblocking");
        while !stopping.load(Ordering::Relaxed)
            && Instant::now() < deadline
            && connections.len() < 64
        {
            match hanging.accept() {
                Ok((stream, _)) => connections.push(stream),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        connections.len()
    });
    let closed = TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let daemon = Daemon::builder()
        .args(["-r", "-N", "-w", &webhook, "--webhook-timeout", "30"])
        .args(["--sip-reply-rate-limit", "0"])
        .args(["-p", "--p2p-listen-address", "127.0.0.1:0"])
        .args(["-b", &closed.to_string()])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    probe_answered(udp, 1, 50);
    daemon.wait_for_stored(50);
    let stopped = daemon.stop();
    stop.store(true, Ordering::Relaxed);
    stopped.assert_clean_exit();
    let db = stopped.db();
    assert_eq!(count_rows(&db), 50);
    assert!(
        held.join().expect("webhook thread") >= 1,
        "the webhook was tried"
    );
}
