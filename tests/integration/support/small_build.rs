//! The small build (`cargo build --no-default-features`): built once per test run, in the debug
//! profile, into a target directory of its own beside the main one (`<target>/minimal`), so the
//! binary the other tests run is never replaced. The first run compiles its dependencies; later
//! runs only rebuild what changed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::daemon::BINARY;

/// The small binary, built on first use.
pub(crate) fn binary() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(build)
}

fn build() -> PathBuf {
    // `<target>/debug/sentrypeer` → `<target>/minimal`.
    let target = Path::new(BINARY)
        .parent()
        .and_then(Path::parent)
        .expect("the main binary is in <target>/<profile>/")
        .join("minimal");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--locked", "--offline", "--no-default-features"])
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
        "cargo build --no-default-features failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    target.join("debug").join("sentrypeer")
}
