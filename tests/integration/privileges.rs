//! Least privilege: the files the daemon creates are private, the systemd unit in
//! `contrib/systemd/` keeps its promises, and the real binary runs as an unprivileged user holding
//! only `CAP_NET_BIND_SERVICE` on the standard ports (in a network namespace of its own, so the
//! fixed ports 5060, 5061 and 80 cannot collide with anything).
//!
//! The parts that need root (`setpriv`, network namespaces) or `systemd-analyze` skip, saying why
//! on stderr, when those are missing; `SENTRYPEER_REQUIRE_ROOT=1` (set by `.ci/run`) makes
//! that a failure instead.

use std::collections::BTreeMap;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::support::daemon::{BINARY, Daemon, TEST_LOG, WAIT};
use crate::support::namespaces::{NetNs, NsProcess, send_udp_from};
use crate::support::prerequisites::{REQUIRE_ROOT, on_path, ready, root_ready};
use crate::support::sip::{options, udp_client};

/// What the tests that run the daemon as [`NOBODY`] in a namespace need besides root.
const NOBODY_TOOLS: &[&str] = &["ip", "setpriv", "curl"];
/// `nobody`/`nogroup`: an unprivileged user and group that exist everywhere.
const NOBODY: u32 = 65534;
/// Where the package installs the binary the unit starts.
const PACKAGED_BINARY: &str = "/usr/bin/sentrypeer";
/// `CAP_NET_BIND_SERVICE` is capability 10: the only bit set in a `Cap*` mask holding only it.
const NET_BIND_SERVICE_MASK: &str = "0000000000000400";

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

/// The files a daemon with TLS, P2P and the JSON log on creates, and the mode each must have.
const PRIVATE_FILES: [(&str, u32); 8] = [
    ("sentrypeer.db", 0o600),
    ("sentrypeer.db-wal", 0o600),
    ("sentrypeer.db-shm", 0o600),
    ("sentrypeer.node_id", 0o600),
    ("sentrypeer.p2p_key", 0o600),
    ("key.pem", 0o600),
    ("cert.pem", 0o644),
    ("sentrypeer_json.log", 0o640),
];

#[test]
fn files_the_daemon_creates_are_private() {
    let daemon = Daemon::builder()
        .args(["-j", "-p", "--p2p-listen-address", "127.0.0.1:0"])
        .start();
    let udp = daemon.udp.expect("UDP listening");
    udp_client()
        .send_to(options("100", "UDP", "perm-test", "perm-1").as_bytes(), udp)
        .expect("send probe");
    daemon.wait_for_stored(1);
    // While it runs, so the WAL and shared-memory files exist.
    for (name, expected) in PRIVATE_FILES {
        let actual = mode(&daemon.path(name));
        assert_eq!(
            actual, expected,
            "{name} is {actual:o}, expected {expected:o}"
        );
    }
    daemon.stop().assert_clean_exit();
}

/// `Key=value` lines of the unit's `[Service]` section (continuation lines joined; repeated keys
/// joined with a space).
fn service_section(unit: &str) -> BTreeMap<String, String> {
    let joined = unit.replace("\\\n", " ");
    let mut in_service = false;
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    for line in joined.lines().map(str::trim) {
        if line.starts_with('[') {
            in_service = line == "[Service]";
            continue;
        }
        if !in_service || line.starts_with('#') {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let entry = keys.entry(key.to_owned()).or_default();
            if !entry.is_empty() {
                entry.push(' ');
            }
            entry.push_str(value.trim());
        }
    }
    keys
}

fn unit_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("contrib/systemd/sentrypeer.service")
}

#[test]
fn the_systemd_unit_sandboxes_an_unprivileged_user_with_one_capability() {
    let unit = std::fs::read_to_string(unit_path()).expect("contrib/systemd/sentrypeer.service");
    let service = service_section(&unit);
    let value = |key: &str| service.get(key).map(String::as_str).unwrap_or_default();
    for (key, expected) in [
        ("User", "sentrypeer"),
        ("AmbientCapabilities", "CAP_NET_BIND_SERVICE"),
        ("CapabilityBoundingSet", "CAP_NET_BIND_SERVICE"),
        ("NoNewPrivileges", "yes"),
        ("ProtectSystem", "strict"),
        ("ProtectHome", "yes"),
        ("PrivateTmp", "yes"),
        ("UMask", "0077"),
        ("StateDirectory", "sentrypeer"),
        ("StateDirectoryMode", "0700"),
    ] {
        assert_eq!(value(key), expected, "{key}=");
    }
    assert!(value("SystemCallFilter").contains("@system-service"));
    // The packaged configuration (valid, its files in ReadWritePaths: tests/integration/
    // packaging.rs), and the original package's OPTIONS.
    let exec: Vec<&str> = value("ExecStart").split_whitespace().collect();
    assert_eq!(
        exec,
        [
            PACKAGED_BINARY,
            "--config",
            "/etc/sentrypeer/sentrypeer.toml",
            "$OPTIONS"
        ]
    );
    assert_eq!(value("EnvironmentFile"), "-/etc/default/sentrypeer");

    // The user the unit names is the one the sysusers snippet creates.
    let sysusers = std::fs::read_to_string(unit_path().with_file_name("sentrypeer.sysusers"))
        .expect("sysusers snippet");
    assert!(
        sysusers
            .lines()
            .any(|line| line.split_whitespace().take(2).eq(["u", "sentrypeer"]))
    );

    // systemd itself finds nothing to complain about (it warns on stderr and still exits 0).
    let missing: Vec<String> = (!on_path("systemd-analyze"))
        .then(|| "systemd-analyze (apt-get install systemd)".to_owned())
        .into_iter()
        .collect();
    if !ready("systemd-analyze verify", REQUIRE_ROOT, &missing) {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("sentrypeer.service");
    std::fs::write(&copy, unit.replace(PACKAGED_BINARY, BINARY)).expect("write unit copy");
    let verified = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&copy)
        .output()
        .expect("run systemd-analyze");
    let complaints = String::from_utf8_lossy(&verified.stderr);
    assert!(
        verified.status.success() && complaints.trim().is_empty(),
        "systemd-analyze verify: {complaints}"
    );
}

/// Arguments of a daemon on the standard ports with every file in `dir`.
fn standard_ports_args(dir: &Path) -> Vec<String> {
    let path = |name: &str| dir.join(name).display().to_string();
    [
        "-r",
        "-j",
        "-a",
        "--sip-listen-address",
        "0.0.0.0:5060",
        "-z",
        "0.0.0.0:5061",
        "--api-listen-address",
        "127.0.0.1:80",
    ]
    .into_iter()
    .map(str::to_owned)
    .chain([
        "-f".to_owned(),
        path("sentrypeer.db"),
        "-t".to_owned(),
        path("cert.pem"),
        "-k".to_owned(),
        path("key.pem"),
        "-l".to_owned(),
        path("sentrypeer_json.log"),
    ])
    .collect()
}

/// A data directory owned by [`NOBODY`].
fn nobody_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::os::unix::fs::chown(dir.path(), Some(NOBODY), Some(NOBODY)).expect("chown data dir");
    dir
}

/// `setpriv` switching to [`NOBODY`] with no supplementary groups and no new privileges, keeping
/// exactly `capabilities` (`-all` or `-all,+net_bind_service`), then the daemon.
fn as_nobody(ns: &NetNs, dir: &Path, capabilities: &str) -> Command {
    let mut command = ns.command("setpriv");
    command
        .args([
            format!("--reuid={NOBODY}"),
            format!("--regid={NOBODY}"),
            "--clear-groups".to_owned(),
            "--no-new-privs".to_owned(),
            format!("--inh-caps={capabilities}"),
            format!("--ambient-caps={capabilities}"),
            format!("--bounding-set={capabilities}"),
            "--".to_owned(),
            BINARY.to_owned(),
        ])
        .args(standard_ports_args(dir))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", dir)
        .env("RUST_LOG", TEST_LOG);
    command
}

/// The `Name:` line of `/proc/<pid>/status`, without the name.
fn proc_status(pid: u32, name: &str) -> String {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .map(|value| value.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

#[test]
fn an_unprivileged_user_with_only_cap_net_bind_service_serves_the_standard_ports() {
    if !root_ready("unprivileged-user test", NOBODY_TOOLS) {
        return;
    }
    let ns = NetNs::new().expect("network namespace");
    let dir = nobody_dir();
    let mut daemon = NsProcess::spawn(
        &ns,
        "sentrypeer",
        as_nobody(&ns, dir.path(), "-all,+net_bind_service"),
        false,
    );
    let deadline = Instant::now() + WAIT;
    assert!(
        daemon.wait_for_line("sentrypeer ready", deadline),
        "{}",
        daemon.log_text()
    );

    // It is nobody, holds CAP_NET_BIND_SERVICE and nothing else, and cannot gain more.
    let pid = daemon.pid();
    assert_eq!(proc_status(pid, "Uid"), "65534 65534 65534 65534");
    assert_eq!(proc_status(pid, "Gid"), "65534 65534 65534 65534");
    assert_eq!(proc_status(pid, "Groups"), "");
    for mask in ["CapEff", "CapPrm", "CapBnd", "CapAmb"] {
        assert_eq!(proc_status(pid, mask), NET_BIND_SERVICE_MASK, "{mask}");
    }
    assert_eq!(proc_status(pid, "NoNewPrivs"), "1");

    // A probe to port 5060 is captured and served by the API on port 80.
    let probe = options("100", "UDP", "unprivileged-test", "unpriv-1");
    send_udp_from(&ns, "127.0.0.1:5060".parse().expect("address"), &probe).expect("send probe");
    assert!(
        daemon.wait_for_lines(deadline, |lines| lines
            .iter()
            .any(|line| line.contains("stored_total=1"))),
        "{}",
        daemon.log_text()
    );
    let api = ns.run(
        "curl",
        &[
            "-s",
            "-w",
            "\n%{http_code}",
            "http://127.0.0.1:80/ip-addresses",
        ],
    );
    let answer = String::from_utf8_lossy(&api.stdout);
    assert!(
        answer.ends_with("\n200") && answer.contains("127.0.0.1"),
        "API on port 80: {answer}\n{}",
        daemon.log_text()
    );

    // Everything it wrote belongs to nobody and is private.
    for (name, expected) in [
        ("sentrypeer.db", 0o600),
        ("sentrypeer.node_id", 0o600),
        ("key.pem", 0o600),
        ("sentrypeer_json.log", 0o640),
    ] {
        let path = dir.path().join(name);
        assert_eq!(mode(&path), expected, "{name}");
        assert_eq!(std::fs::metadata(&path).expect("metadata").uid(), NOBODY);
    }
    let status = daemon.terminate(WAIT);
    assert!(status.success(), "{status:?}\n{}", daemon.log_text());
}

#[test]
fn without_the_capability_the_standard_ports_fail_saying_what_is_missing() {
    if !root_ready("no-capability test", NOBODY_TOOLS) {
        return;
    }
    let ns = NetNs::new().expect("network namespace");
    let dir = nobody_dir();
    let daemon = NsProcess::spawn(&ns, "sentrypeer", as_nobody(&ns, dir.path(), "-all"), false);
    let status = daemon
        .wait_exit(Instant::now() + WAIT)
        .expect("daemon exits");
    assert_eq!(status.code(), Some(1), "{}", daemon.log_text());
    let log = daemon.log_text();
    assert!(
        log.contains("is below 1024: run as root or with CAP_NET_BIND_SERVICE")
            && log.contains("Permission denied"),
        "{log}"
    );
    assert!(
        !dir.path().join("sentrypeer.db").exists(),
        "no database is created when the ports cannot be bound"
    );
}
