//! Link options of the `small` profile (README "Small build"), which cargo cannot set per
//! profile on stable: identical code folding and packed relative relocations (DT_RELR, glibc
//! 2.36 or musl 1.2.4 at run time), together 0.16 MB of the small binary. Only where the linker
//! is known to be LLD (Rust's default on x86_64-unknown-linux-gnu); the small profile is the one
//! at `opt-level = "z"`, which the build script sees (it is not told the profile's name).

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let small_profile = std::env::var("OPT_LEVEL").is_ok_and(|level| level == "z");
    let lld_by_default =
        std::env::var("TARGET").is_ok_and(|target| target == "x86_64-unknown-linux-gnu");
    if small_profile && lld_by_default {
        println!("cargo::rustc-link-arg-bins=-Wl,--icf=all");
        println!("cargo::rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}
