//! The container image: `--health-check` (its `HEALTHCHECK`) against the real daemon, and the
//! image built from `Dockerfile` with Podman and no pulls (`--build-arg BINARY=prebuilt`, the tree
//! `contrib/container/build-rootfs` makes around this test's binary), its contents read back with
//! `podman create` + `podman export` and its settings with `podman image inspect`.
//!
//! Running the image needs the statically linked release build: `contrib/container/test-image`
//! (run by `.ci/run`) does that. Without `podman` the image test says why and skips;
//! `SENTRYPEER_REQUIRE_ROOT=1` (set by `.ci/run`) makes that a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support::daemon::Daemon;

/// Set to make a missing `podman` a test failure instead of a skip.
const REQUIRE_ENV: &str = "SENTRYPEER_REQUIRE_ROOT";
/// The user and group the image runs as.
const IMAGE_USER: u64 = 10001;

fn health_check(address: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sentrypeer"))
        .args(["--health-check", "--api-listen-address", address])
        .env_clear()
        .output()
        .expect("run sentrypeer --health-check")
}

#[test]
fn health_check_mode_is_healthy_while_the_api_answers_and_says_why_not_after() {
    // A token guards every route but /health-check, which the probe asks.
    let daemon = Daemon::builder()
        .args([
            "-a",
            "--api-listen-address",
            "127.0.0.1:0",
            "--api-token",
            "t0ken",
        ])
        .start();
    let api = daemon.api.expect("API listening").to_string();
    let healthy = health_check(&api);
    assert!(
        healthy.status.success() && healthy.stderr.is_empty(),
        "{healthy:?}"
    );
    // 0.0.0.0 is asked on loopback, as a container's HEALTHCHECK does with the default address.
    let port = api.rsplit_once(':').expect("port").1;
    assert!(health_check(&format!("0.0.0.0:{port}")).status.success());
    daemon.stop().assert_clean_exit();

    let unhealthy = health_check(&api);
    assert_eq!(unhealthy.status.code(), Some(1));
    let said = String::from_utf8_lossy(&unhealthy.stderr);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.starts_with("sentrypeer: health check: no answer from the API at 127.0.0.1:"),
        "{said}"
    );
}

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// Podman with a storage of its own in a temporary directory: the images, layers, containers
/// and volumes the test makes vanish with it, and nothing of the machine's is touched.
struct Podman {
    storage: tempfile::TempDir,
}

impl Podman {
    fn new() -> Self {
        Self {
            storage: tempfile::tempdir().expect("podman storage"),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        let dir = self.storage.path();
        Command::new("podman")
            .arg(format!("--root={}", dir.join("root").display()))
            .arg(format!("--runroot={}", dir.join("run").display()))
            .args(args)
            .output()
            .expect("run podman")
    }

    fn ok(&self, args: &[&str]) -> Vec<u8> {
        let output = self.run(args);
        assert!(
            output.status.success(),
            "podman {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    fn text(&self, args: &[&str]) -> String {
        String::from_utf8_lossy(&self.ok(args)).trim().to_owned()
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        // Containers first (their mounts), then the storage goes with the directory.
        let _ = self.run(&["rm", "--all", "--force", "--volumes"]);
        let _ = self.run(&["rmi", "--all", "--force"]);
    }
}

/// A build context holding the Dockerfile and the tree `build-rootfs` makes around this test's
/// binary (stripped of its debug info, if `strip` is here, to keep the image small).
fn build_context() -> (tempfile::TempDir, Vec<u8>) {
    let context = tempfile::tempdir().expect("build context");
    std::fs::copy(repo_path("Dockerfile"), context.path().join("Dockerfile")).expect("Dockerfile");
    let binary = context.path().join("sentrypeer");
    let stripped = Command::new("strip")
        .arg("--strip-debug")
        .arg("-o")
        .arg(&binary)
        .arg(env!("CARGO_BIN_EXE_sentrypeer"))
        .status()
        .is_ok_and(|status| status.success());
    if !stripped {
        std::fs::copy(env!("CARGO_BIN_EXE_sentrypeer"), &binary).expect("copy binary");
    }
    let rootfs = context.path().join("target/container-rootfs");
    let built = Command::new(repo_path("contrib/container/build-rootfs"))
        .arg(&rootfs)
        .arg(&binary)
        .output()
        .expect("run build-rootfs");
    assert!(
        built.status.success(),
        "build-rootfs: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    let bytes = std::fs::read(&binary).expect("binary");
    std::fs::remove_file(&binary).expect("binary out of the context");
    (context, bytes)
}

/// Every entry of a tar stream: path (without `./`) → (mode, uid, gid, contents of files).
fn tar_entries(tar: &[u8]) -> BTreeMap<String, (u32, u64, u64, Vec<u8>)> {
    let mut entries = BTreeMap::new();
    let mut at = 0;
    while at + 512 <= tar.len() && tar[at..at + 512].iter().any(|byte| *byte != 0) {
        let header = &tar[at..at + 512];
        let text = |from: usize, len: usize| {
            String::from_utf8_lossy(&header[from..from + len])
                .trim_matches(|c: char| c == '\0' || c == ' ')
                .to_owned()
        };
        let octal = |from: usize, len: usize| u64::from_str_radix(&text(from, len), 8).unwrap_or(0);
        let name = format!("{}{}", text(345, 155), text(0, 100));
        let size = usize::try_from(octal(124, 12)).expect("entry size");
        let body = tar[at + 512..at + 512 + size].to_vec();
        let kind = header[156];
        at += 512 + size.div_ceil(512) * 512;
        if kind == b'x' || kind == b'g' {
            continue; // PAX headers: nothing the checks below need.
        }
        let mode = u32::try_from(octal(100, 8)).expect("mode");
        let path = name
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_owned();
        entries.insert(path, (mode, octal(108, 8), octal(116, 8), body));
    }
    entries
}

fn podman_ready() -> bool {
    let found = Command::new("podman").arg("--version").output().is_ok();
    if found {
        return true;
    }
    let why = "container image test skipped, missing: podman (apt-get install podman)";
    assert!(std::env::var_os(REQUIRE_ENV).is_none(), "{why}");
    eprintln!("{why}");
    false
}

#[test]
fn the_image_holds_the_binary_alone_run_by_an_unprivileged_user() {
    if !podman_ready() {
        return;
    }
    let (context, binary) = build_context();
    let podman = Podman::new();
    let image = "localhost/sentrypeer:test";
    let context_dir = context.path().display().to_string();
    // The docker format: the OCI format has no HEALTHCHECK.
    podman.ok(&[
        "build",
        "--format",
        "docker",
        "--pull=never",
        "--build-arg",
        "BINARY=prebuilt",
        "--tag",
        image,
        &context_dir,
    ]);

    let inspected: serde_json::Value =
        serde_json::from_str(&podman.text(&["image", "inspect", image])).expect("inspect JSON");
    let config = &inspected[0]["Config"];
    assert_eq!(config["User"], "10001:10001");
    assert_eq!(config["WorkingDir"], "/var/lib/sentrypeer");
    assert!(
        config["Volumes"]["/var/lib/sentrypeer"].is_object(),
        "{config}"
    );
    assert_eq!(
        config["Entrypoint"],
        serde_json::json!(["/usr/bin/sentrypeer"])
    );
    assert_eq!(config["Cmd"], serde_json::json!(["-r", "-a", "-j"]));
    assert_eq!(config["StopSignal"], "SIGTERM");
    for port in ["5060/udp", "5060/tcp", "5061/tcp", "8082/tcp", "4222/tcp"] {
        assert!(config["ExposedPorts"][port].is_object(), "{port}: {config}");
    }
    assert_eq!(
        config["Labels"]["org.opencontainers.image.version"],
        env!("CARGO_PKG_VERSION")
    );
    assert_eq!(
        config["Labels"]["org.opencontainers.image.licenses"],
        "GPL-2.0-only OR GPL-3.0-only"
    );
    assert_eq!(
        inspected[0]["Healthcheck"]["Test"],
        serde_json::json!(["CMD", "/usr/bin/sentrypeer", "--health-check"]),
        "{}",
        inspected[0]
    );

    // The files: the binary, who the user is, where it may write, the CA roots; nothing else
    // (no shell, no libc).
    let container = podman.text(&["create", image]);
    let entries = tar_entries(&podman.ok(&["export", &container]));
    let files: Vec<&str> = entries
        .iter()
        .filter(|(_, (_, _, _, body))| !body.is_empty())
        .map(|(path, _)| path.as_str())
        .collect();
    assert_eq!(
        files,
        [
            "etc/group",
            "etc/passwd",
            "etc/ssl/certs/ca-certificates.crt",
            "usr/bin/sentrypeer"
        ]
        .into_iter()
        .filter(|path| *path != "etc/ssl/certs/ca-certificates.crt"
            || Path::new("/etc/ssl/certs/ca-certificates.crt").exists())
        .collect::<Vec<_>>(),
        "{:?}",
        entries.keys().collect::<Vec<_>>()
    );
    let (mode, uid, _, body) = &entries["usr/bin/sentrypeer"];
    assert_eq!((*mode & 0o7777, *uid), (0o755, 0), "root's, executable");
    assert!(*body == binary, "the binary given");
    let passwd = String::from_utf8_lossy(&entries["etc/passwd"].3).into_owned();
    assert!(
        passwd
            .lines()
            .any(|line| line.starts_with("sentrypeer:x:10001:10001:")
                && line.ends_with(":/sbin/nologin")),
        "{passwd}"
    );
    for dir in ["var/lib/sentrypeer", "var/log/sentrypeer"] {
        let (_, uid, gid, _) = entries
            .get(dir)
            .unwrap_or_else(|| panic!("{dir} in the image"));
        assert_eq!(
            (*uid, *gid),
            (IMAGE_USER, IMAGE_USER),
            "{dir} is the user's"
        );
    }
    for root_owned in ["etc/passwd", "var", "var/lib", "var/log"] {
        assert_eq!(entries[root_owned].1, 0, "{root_owned} is root's");
    }
}
