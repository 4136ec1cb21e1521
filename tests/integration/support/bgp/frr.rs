//! FRR's `bgpd` as a router for the BGP tests: run in the router namespace without zebra (`-Z`:
//! what it learns stays in its BGP RIB), as the `frr` user the package creates, with its config
//! and vty socket in a directory of its own; `vtysh` asks it.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use super::super::daemon::WAIT;
use super::super::namespaces::{NetNs, NsProcess};

/// Where Debian's `frr` package puts the daemon.
pub(crate) const BGPD: &str = "/usr/lib/frr/bgpd";

/// `bgpd` running in a namespace.
pub(crate) struct Frr<'ns> {
    ns: &'ns NetNs,
    process: NsProcess<'ns>,
    dir: PathBuf,
}

impl<'ns> Frr<'ns> {
    /// Starts `bgpd` with `config` (written to a directory under `dir` that the `frr` user owns),
    /// listening on `address`; returns once `vtysh` gets an answer from it.
    pub(crate) fn start(ns: &'ns NetNs, dir: &Path, config: &str, address: &str) -> Frr<'ns> {
        let own = dir.join("frr");
        std::fs::create_dir_all(&own).expect("FRR directory");
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))
            .expect("let the frr user through");
        std::fs::write(own.join("frr.conf"), config).expect("write frr.conf");
        let chown = std::process::Command::new("chown")
            .args(["-R", "frr:frr"])
            .arg(&own)
            .status()
            .expect("chown");
        assert!(chown.success(), "chown frr:frr {}", own.display());
        let mut command = ns.command(BGPD);
        command
            .arg("-Z")
            .arg("-f")
            .arg(own.join("frr.conf"))
            .arg("-i")
            .arg(own.join("bgpd.pid"))
            .arg("--vty_socket")
            .arg(&own)
            .args(["-u", "frr", "-g", "frr", "-l", address]);
        let process = NsProcess::spawn(ns, "bgpd", command, false);
        let frr = Frr {
            ns,
            process,
            dir: own,
        };
        let deadline = Instant::now() + WAIT;
        while !frr.vtysh("show bgp summary").contains("local AS") {
            assert!(
                Instant::now() < deadline,
                "bgpd did not answer\n{}",
                frr.log_text()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        frr
    }

    /// `vtysh -c <command>`, its output.
    pub(crate) fn vtysh(&self, command: &str) -> String {
        let socket = self.dir.to_str().expect("utf-8 path");
        let output = self
            .ns
            .run("vtysh", &["--vty_socket", socket, "-c", command]);
        String::from_utf8_lossy(&output.stdout).into_owned()
            + &String::from_utf8_lossy(&output.stderr)
    }

    /// The RIB entry for `prefix` (`family` `ipv4` or `ipv6`) as JSON; `Null` when there is none.
    pub(crate) fn route(&self, family: &str, prefix: &str) -> serde_json::Value {
        let text = self.vtysh(&format!("show bgp {family} unicast {prefix} json"));
        let route: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if route["paths"]
            .as_array()
            .is_some_and(|paths| !paths.is_empty())
        {
            route
        } else {
            serde_json::Value::Null
        }
    }

    /// Everything `bgpd` printed.
    pub(crate) fn log_text(&self) -> String {
        self.process.log_text()
    }
}
