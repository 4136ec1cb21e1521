//! The real CrowdSec firewall bouncer (Debian 12 `crowdsec-firewall-bouncer` 0.0.25) and the real
//! firewall tools (`nft`, `ipset`), run only inside network namespaces the tests create, never
//! against the host's rules.
//!
//! The bouncer and the LAPI it polls run **in the same namespace** and talk over that
//! namespace's loopback (`http://127.0.0.1:PORT/`, port 0 chosen by the kernel). The test
//! process stays in the host namespace, so anything that must listen inside the namespace is a
//! child process: the daemon under test (`namespaces::daemon_in`), or this test binary started
//! again inside the namespace as a tiny std-only LAPI stub ([`lapi_stub::LapiStub`]). Only the
//! state of the firewall (an external thing) is polled, every 50 ms, up to a deadline.
//!
//! # What the bouncer needs
//!
//! - It only ever calls `GET /v1/decisions/stream?startup=true` once, then
//!   `GET /v1/decisions/stream?` (empty query, trailing `?`) every `update_frequency`; with
//!   `scopes`/`origins`/`scenarios_containing` configured they are added as comma-joined,
//!   URL-encoded values (`scopes=ip%2Crange`). Headers: `X-Api-Key`, `User-Agent:
//!   crowdsec-firewall-bouncer/-` (Debian build: version `-`), `Accept-Encoding: gzip`. No
//!   heartbeat, no `/v1/usage-metrics` (newer upstream releases also POST usage metrics).
//! - A non-2xx answer (or a refused connection, or a body that is not the JSON object) to the
//!   *startup* call ends it: it logs `API error: <message>`, removes its tables and exits with
//!   status 0. Errors on later polls are logged and the poll goes on.
//! - Body: `{"new":[...]|null,"deleted":[...]|null}`; `{}` and `[]` are fine too. Each decision
//!   needs `value`, `type` and `duration` (a missing `type` or `duration` is a nil-pointer
//!   panic, in `deleted` too); `id` must be an integer if present; `scope`, `origin`,
//!   `scenario` are optional and other fields are ignored. `type` is matched case-insensitively
//!   against `supported_decisions_types` (`ban`).
//! - `duration` is a Go duration (`167h59m10s`, `1h30m0.5s`) and becomes the nft/ipset timeout;
//!   an unparsable one silently becomes 4h, and a negative one a set element with **no**
//!   timeout. One bad `value` makes the whole nftables batch fail (netlink EINVAL): no address
//!   of that poll goes in. In nftables mode a `Range` value such as `198.51.100.0/24` is cut to
//!   its first address; ipset mode keeps the CIDR. Send only single addresses, scope `Ip`.
//!   `::ffff:a.b.c.d` lands in the IPv4 set.
//! - nftables mode: `table ip crowdsec` / set `crowdsec-blacklists` (`ipv4_addr`, timeouts) /
//!   chain `crowdsec-chain` (input hook, `ip saddr @crowdsec-blacklists counter drop`), and
//!   `table ip6 crowdsec6` / `crowdsec6-blacklists` / `crowdsec6-chain`.
//!   ipset mode: only fills the sets, which must exist already with timeout support (this
//!   module creates them). iptables mode: creates the sets and `-I INPUT -m set ...` rules
//!   (needs the `iptables` package).

pub(crate) mod lapi_stub;

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Output};
use std::time::{Duration, Instant};

use super::namespaces::{NetNs, NsProcess};

/// The bouncer's binary.
pub(crate) const BOUNCER: &str = "crowdsec-firewall-bouncer";

/// nftables names the bouncer uses (from the template, which keeps the package's defaults).
pub(crate) const NFT_TABLE_V4: &str = "crowdsec";
pub(crate) const NFT_TABLE_V6: &str = "crowdsec6";
pub(crate) const NFT_CHAIN_V4: &str = "crowdsec-chain";
/// Set names, the same in nftables and ipset/iptables modes.
pub(crate) const SET_V4: &str = "crowdsec-blacklists";
pub(crate) const SET_V6: &str = "crowdsec6-blacklists";

/// A fixture file in `tests/fixtures/crowdsec/`.
pub(crate) fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/crowdsec")
        .join(name)
}

/// The bouncer's firewall backend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BouncerMode {
    /// Own tables `ip crowdsec` / `ip6 crowdsec6` with sets and drop chains.
    Nftables,
    /// Only fills the ipsets (created here beforehand).
    Ipset,
    /// Creates the ipsets and iptables/ip6tables INPUT rules (needs `iptables`).
    Iptables,
}

impl BouncerMode {
    fn as_config(self) -> &'static str {
        match self {
            BouncerMode::Nftables => "nftables",
            BouncerMode::Ipset => "ipset",
            BouncerMode::Iptables => "iptables",
        }
    }

    /// The tools this mode needs besides the bouncer.
    pub(crate) fn tools(self) -> &'static [&'static str] {
        match self {
            BouncerMode::Nftables => &[BOUNCER, "nft"],
            BouncerMode::Ipset => &[BOUNCER, "ipset"],
            BouncerMode::Iptables => &[BOUNCER, "ipset", "iptables", "ip6tables"],
        }
    }
}

/// Settings for [`run_bouncer_with`].
#[derive(Clone, Debug)]
pub(crate) struct BouncerConfig {
    pub(crate) api_url: String,
    pub(crate) api_key: String,
    pub(crate) mode: BouncerMode,
    /// A Go duration; how often it polls after the start-up call.
    pub(crate) update_frequency: String,
    /// `debug` logs every request and response body.
    pub(crate) log_level: String,
    /// YAML appended to the config (e.g. `scopes:\n  - ip\n`).
    pub(crate) extra_yaml: String,
}

impl BouncerConfig {
    /// Defaults: poll every 200 ms, info log.
    pub(crate) fn new(api_url: &str, api_key: &str, mode: BouncerMode) -> BouncerConfig {
        BouncerConfig {
            api_url: api_url.to_owned(),
            api_key: api_key.to_owned(),
            mode,
            update_frequency: "200ms".to_owned(),
            log_level: "info".to_owned(),
            extra_yaml: String::new(),
        }
    }

    /// The config text, from `tests/fixtures/crowdsec/crowdsec-firewall-bouncer.yaml.in`.
    pub(crate) fn render(&self, work_dir: &Path) -> String {
        let template = std::fs::read_to_string(fixture("crowdsec-firewall-bouncer.yaml.in"))
            .expect("bouncer config template");
        let mut text = template
            .replace("@MODE@", self.mode.as_config())
            .replace("@API_URL@", &self.api_url)
            .replace("@API_KEY@", &self.api_key)
            .replace("@UPDATE_FREQUENCY@", &self.update_frequency)
            .replace("@LOG_LEVEL@", &self.log_level)
            .replace("@WORK_DIR@", &work_dir.display().to_string());
        text.push_str(&self.extra_yaml);
        assert!(!text.contains('@'), "unfilled placeholder in:\n{text}");
        text
    }
}

/// A running bouncer; stopped (SIGTERM: it removes its tables and rules) on drop.
pub(crate) struct BouncerProcess<'ns> {
    pub(crate) process: NsProcess<'ns>,
    ns: &'ns NetNs,
    /// Holds its config file.
    _dir: tempfile::TempDir,
}

/// Starts the bouncer in `ns` against `api_url` with the defaults of [`BouncerConfig::new`].
pub(crate) fn run_bouncer<'ns>(
    ns: &'ns NetNs,
    api_url: &str,
    api_key: &str,
    mode: BouncerMode,
) -> BouncerProcess<'ns> {
    run_bouncer_with(ns, &BouncerConfig::new(api_url, api_key, mode))
}

/// Starts the bouncer in `ns` with `config` (written to a temporary directory).
pub(crate) fn run_bouncer_with<'ns>(ns: &'ns NetNs, config: &BouncerConfig) -> BouncerProcess<'ns> {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("crowdsec-firewall-bouncer.yaml");
    std::fs::write(&path, config.render(dir.path())).expect("write bouncer config");
    if config.mode == BouncerMode::Ipset {
        // ipset mode manages the sets' content only; they must exist, with timeout support
        // (without it every add fails silently).
        for args in [
            ["create", SET_V4, "hash:net", "timeout", "0", "-exist"].as_slice(),
            [
                "create", SET_V6, "hash:net", "family", "inet6", "timeout", "0", "-exist",
            ]
            .as_slice(),
        ] {
            let output = ns.run("ipset", args);
            assert!(
                output.status.success(),
                "ipset {args:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let mut command = ns.command(BOUNCER);
    command.arg("-c").arg(&path).current_dir(dir.path());
    let process = NsProcess::spawn(ns, "bouncer", command, false);
    BouncerProcess {
        process,
        ns,
        _dir: dir,
    }
}

impl BouncerProcess<'_> {
    /// Waits until `ip` is in its firewall set (false on deadline or if it exited).
    pub(crate) fn wait_for_blocked(&self, ip: IpAddr, deadline: Instant) -> bool {
        self.wait_firewall(ip, true, deadline)
    }

    /// Waits until `ip` is no longer in its firewall set.
    pub(crate) fn wait_for_unblocked(&self, ip: IpAddr, deadline: Instant) -> bool {
        self.wait_firewall(ip, false, deadline)
    }

    fn wait_firewall(&self, ip: IpAddr, blocked: bool, deadline: Instant) -> bool {
        poll_until(deadline, || {
            self.process.exit_status().is_none() && is_blocked(self.ns, ip) == blocked
        })
    }

    /// Its output so far, for failure messages.
    pub(crate) fn log_text(&self) -> String {
        self.process.log_text()
    }

    /// SIGTERM and wait: with `daemonize: true` it removes its tables/rules and exits 0.
    pub(crate) fn stop(mut self) -> (ExitStatus, Vec<String>) {
        let status = self.process.terminate(Duration::from_secs(10));
        (status, self.process.lines())
    }
}

/// Calls `done` every 50 ms until it holds (true) or `deadline` passes (false).
pub(crate) fn poll_until(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        // The firewall is external state with nothing to wait on: poll it.
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Whether `ip` is in the bouncer's set in `ns`: the nftables set (`nft get element`) or the
/// ipset (`ipset test`), whichever the mode made. IPv4-mapped IPv6 counts as IPv4.
pub(crate) fn is_blocked(ns: &NetNs, ip: IpAddr) -> bool {
    let ip = ip.to_canonical();
    let (family, table, set) = match ip {
        IpAddr::V4(_) => ("ip", NFT_TABLE_V4, SET_V4),
        IpAddr::V6(_) => ("ip6", NFT_TABLE_V6, SET_V6),
    };
    let element = format!("{{ {ip} }}");
    let in_nft = ns
        .run("nft", &["get", "element", family, table, set, &element])
        .status
        .success();
    in_nft
        || ns
            .run("ipset", &["test", set, &ip.to_string()])
            .status
            .success()
}

/// The packet count of the first `counter` in an nftables chain (the bouncer's drop rule), or
/// None when the chain is not there.
pub(crate) fn nft_chain_packets(ns: &NetNs, family: &str, table: &str, chain: &str) -> Option<u64> {
    let output = ns.run("nft", &["list", "chain", family, table, chain]);
    if !output.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&output.stdout);
    let rest = text.split("counter packets ").nth(1)?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The whole nftables ruleset of `ns`.
pub(crate) fn nft_ruleset(ns: &NetNs) -> String {
    String::from_utf8_lossy(&ns.run("nft", &["list", "ruleset"]).stdout).into_owned()
}

fn result_of(output: Output) -> Result<(), String> {
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim(),
            String::from_utf8_lossy(&output.stdout).trim()
        ))
    }
}

/// Loads `text` with `ipset restore` in `ns` (it changes that namespace's sets; ipset has no
/// dry run). Err carries ipset's message, with the failing line number.
pub(crate) fn ipset_restore_accepts(ns: &NetNs, text: &str) -> Result<(), String> {
    result_of(ns.run_with_input("ipset", &["restore"], text))
}

/// Checks `text` with `nft -c -f -` in `ns`: parsed and validated by the kernel against that
/// namespace's ruleset, nothing applied. Note that nft resolves names it does not parse as
/// addresses through DNS; in a namespace with only our links nothing can leave.
pub(crate) fn nft_check_accepts(ns: &NetNs, text: &str) -> Result<(), String> {
    result_of(ns.run_with_input("nft", &["-c", "-f", "-"], text))
}

/// Applies `text` with `nft -f -` in `ns`.
pub(crate) fn nft_apply(ns: &NetNs, text: &str) -> Result<(), String> {
    result_of(ns.run_with_input("nft", &["-f", "-"], text))
}

/// One LAPI decision as the bouncer wants it (`type`, `duration` and `value` are the fields it
/// cannot do without).
pub(crate) fn decision_json(id: i64, ip: IpAddr, duration: &str) -> serde_json::Value {
    serde_json::json!({
        "duration": duration,
        "id": id,
        "origin": "sentrypeer",
        "scenario": "sentrypeer/sip-probe",
        "scope": "Ip",
        "type": "ban",
        "value": ip.to_string(),
    })
}

/// A `/v1/decisions/stream` body; an empty list is sent as `null`, like CrowdSec's LAPI.
pub(crate) fn stream_body(new: &[serde_json::Value], deleted: &[serde_json::Value]) -> String {
    let list = |items: &[serde_json::Value]| {
        if items.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::Value::Array(items.to_vec())
        }
    };
    serde_json::json!({ "new": list(new), "deleted": list(deleted) }).to_string()
}
