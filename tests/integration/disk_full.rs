//! The database refusing writes at run time: a file-size limit (`RLIMIT_FSIZE`, any user) and a
//! full disk (a tmpfs in a private mount namespace, root only). The error is reported once per
//! outage, capture goes on, failed events are counted, and storing resumes when writes work again.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::support::daemon::{Daemon, WAIT};
use crate::support::http::{curl, health, wait_for_health};
use crate::support::prerequisites::mount_namespace_ready;
use crate::support::sip::probe_answered;

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
    let metrics = curl(api, "/metrics", &[]).body;
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
    if !mount_namespace_ready("disk-full test") {
        return;
    }
    let builder = Daemon::builder();
    let mount_point = builder.dir().join("db");
    std::fs::create_dir(&mount_point).expect("mount point");
    let db = mount_point.join("sentrypeer.db");
    let mount = format!("mount -t tmpfs -o {TMPFS_SIZE},mode=0700 sentrypeer-test \"$0\"");
    let daemon = builder
        .in_mount_namespace(&mount, &mount_point)
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
