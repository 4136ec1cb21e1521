//! Faults the honeypot must survive: SIGKILL during a flood, a read-only database directory at
//! start, corrupt and foreign database files, and an unreachable webhook and peers (a full disk
//! and a file-size limit are in `disk_full.rs`). Capture goes on, nothing committed is lost,
//! nothing foreign is overwritten.
//!
//! Tests that need root skip when not root (saying why), unless `SENTRYPEER_REQUIRE_ROOT` is set,
//! which makes that a failure (CI sets it).

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::support::daemon::{Daemon, WAIT};
use crate::support::prerequisites::{is_root, mount_namespace_ready};
use crate::support::sip::{options, probe_answered, udp_client, udp_exchange};

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
        let builder = if is_root() {
            if !mount_namespace_ready("read-only directory test") {
                return;
            }
            // Permissions do not bind root: a read-only bind mount does.
            builder.in_mount_namespace(
                "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\"",
                &dir,
            )
        } else {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o555)).expect("chmod");
            builder
        };
        let stopped = builder.start().wait_exit();
        assert_eq!(stopped.status.code(), Some(1), "{}", stopped.log.join("\n"));
        let error = stopped.the_error_line();
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
        let error = stopped.the_error_line();
        assert!(
            error.contains(&db.display().to_string()) && error.contains("refusing"),
            "{what}: {error}"
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
