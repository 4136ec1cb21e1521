//! What a test needs to be able to run (root, network namespaces, programs on the PATH). A test
//! that cannot run skips, saying why on stderr, unless its `SENTRYPEER_REQUIRE_*` variable is
//! set (`.ci/run` sets them all), which makes a missing prerequisite a failure.

use std::process::{Command, Stdio};

/// Set to make a missing firewall prerequisite a failure instead of a skip.
pub(crate) const REQUIRE_FIREWALL: &str = "SENTRYPEER_REQUIRE_FIREWALL";
/// Set to make a missing root prerequisite a failure instead of a skip.
pub(crate) const REQUIRE_ROOT: &str = "SENTRYPEER_REQUIRE_ROOT";

/// Whether `tool` is on the PATH.
pub(crate) fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Set to make a missing browser (Chromium, chromedriver, Selenium) a failure instead of a skip.
pub(crate) const REQUIRE_BROWSER: &str = "SENTRYPEER_REQUIRE_BROWSER";

/// Whether the dashboard's browser tests can run: `/usr/bin/chromium`, `/usr/bin/chromedriver`
/// and Python's `selenium` module for `/usr/bin/python3` ([`REQUIRE_BROWSER`]).
pub(crate) fn browser_ready(what: &str) -> bool {
    let mut missing: Vec<String> = ["/usr/bin/chromium", "/usr/bin/chromedriver"]
        .into_iter()
        .filter(|path| !std::path::Path::new(path).exists())
        .map(str::to_owned)
        .collect();
    let selenium = Command::new("/usr/bin/python3")
        .args(["-c", "import selenium"])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !selenium {
        missing.push("python3-selenium".to_owned());
    }
    ready(
        &format!("{what} (apt-get install chromium chromium-driver python3-selenium)"),
        REQUIRE_BROWSER,
        &missing,
    )
}

/// Whether this process runs as root.
pub(crate) fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

/// True when nothing is `missing`; otherwise says why `what` skips (or panics when `require`
/// is set in the environment) and returns false.
pub(crate) fn ready(what: &str, require: &str, missing: &[String]) -> bool {
    if missing.is_empty() {
        return true;
    }
    let why = format!("{what} skipped, missing: {}", missing.join(", "));
    assert!(std::env::var_os(require).is_none(), "{why}");
    eprintln!("{why}");
    false
}

/// The tools of `tools` that are not on the PATH.
fn missing_tools(tools: &[&str]) -> Vec<String> {
    tools
        .iter()
        .filter(|tool| !on_path(tool))
        .map(|tool| (*tool).to_owned())
        .collect()
}

/// Whether a firewall test can run: root (to create network namespaces), `ip` and every tool in
/// `tools` ([`REQUIRE_FIREWALL`]).
pub(crate) fn firewall_ready(tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root (CAP_NET_ADMIN, to create network namespaces)".to_owned());
    }
    missing.extend(missing_tools(&[&["ip"], tools].concat()));
    ready(
        "firewall test (apt-get install --no-install-recommends crowdsec-firewall-bouncer \
         ipset nftables iproute2)",
        REQUIRE_FIREWALL,
        &missing,
    )
}

/// Whether `what` can run as root with `tools` ([`REQUIRE_ROOT`]).
pub(crate) fn root_ready(what: &str, tools: &[&str]) -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root".to_owned());
    }
    missing.extend(missing_tools(tools));
    ready(what, REQUIRE_ROOT, &missing)
}

/// Whether `what` can run as root in a private mount namespace (`unshare --mount` works)
/// ([`REQUIRE_ROOT`]).
pub(crate) fn mount_namespace_ready(what: &str) -> bool {
    if !root_ready(what, &["unshare"]) {
        return false;
    }
    let works = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .status()
        .is_ok_and(|status| status.success());
    ready(
        what,
        REQUIRE_ROOT,
        &(!works)
            .then(|| "a working `unshare --mount` (util-linux)".to_owned())
            .into_iter()
            .collect::<Vec<_>>(),
    )
}
