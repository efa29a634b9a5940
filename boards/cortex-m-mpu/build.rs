//! Sets `cfg(armv8m)` when building for an ARMv8-M target, so that the `TT` instruction
//! (`v8::test_target`) is only assembled where it exists.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(armv8m)");
    println!("cargo::rerun-if-changed=build.rs");
    let target = std::env::var("TARGET").unwrap_or_default();
    if target.starts_with("thumbv8m") {
        println!("cargo::rustc-cfg=armv8m");
    }
}
