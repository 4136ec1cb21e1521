//! Builds with fewer parts (`cargo build --no-default-features`, with some features or none):
//! each built once per test run, in the debug profile, into a target directory of their own
//! beside the main one (`<target>/minimal`), so the binary the other tests run is never
//! replaced. The first run compiles their dependencies; later runs only rebuild what changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};

use super::daemon::BINARY;

/// The small binary (no optional part), built on first use.
pub(crate) fn binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("small", &[]))
}

/// A binary with the API and no other optional part, built on first use.
pub(crate) fn api_only_binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| build("api-only", &["api"]))
}

/// Builds with `features` only and keeps the binary as `<target>/minimal/debug/sentrypeer-NAME`
/// (the builds share the directory and their dependencies, and cargo writes each binary to the
/// same path: one build and copy at a time).
fn build(name: &str, features: &[&str]) -> PathBuf {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _building = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // `<target>/debug/sentrypeer` → `<target>/minimal`.
    let target = Path::new(BINARY)
        .parent()
        .and_then(Path::parent)
        .expect("the main binary is in <target>/<profile>/")
        .join("minimal");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command.args(["build", "--locked", "--offline", "--no-default-features"]);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let output = command
        // No debug info: nothing here needs a backtrace, and the directory takes 0.5 GB instead
        // of 0.8 GB.
        .args(["--config", "profile.dev.debug=0"])
        .args(["--config", r#"profile.dev.package."*".debug=0"#])
        .args(["--bin", "sentrypeer", "--manifest-path"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target)
        .output()
        .expect("run cargo build");
    assert!(
        output.status.success(),
        "cargo build --no-default-features --features {features:?} failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let built = target.join("debug").join("sentrypeer");
    let kept = target.join("debug").join(format!("sentrypeer-{name}"));
    std::fs::copy(&built, &kept).expect("keep the binary");
    kept
}
