#!/usr/bin/env bash
# Quick start, part 2: every test, on every executor this machine has.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

step() { echo; echo "== $*"; }

step "shared-types depends on no code generator or parser"
if cargo tree -p shared-types -e normal --prefix none | grep -Eq '^(cranelift|wasmparser|wasmtime|wast|wat) '; then
    echo "shared-types pulls in a codegen or parser crate" >&2; exit 1
fi

step "formatting and lints (warnings are errors)"
cargo fmt --all --check
cargo clippy -q --workspace --all-targets -- -D warnings
cargo clippy -q -p device-runtime --target thumbv7em-none-eabihf -- -D warnings
# The compiler without Cranelift (the Thumb-2 backend alone, as the Cortex-M boards build it).
cargo clippy -q -p host-compiler --no-default-features --all-targets -- -D warnings
cargo clippy -q -p device-runtime -p wasm-aot-runner --all-targets --target armv7-unknown-linux-gnueabihf -- -D warnings

step "no_std builds of shared-types and device-runtime"
for t in thumbv7em-none-eabihf thumbv8m.main-none-eabihf aarch64-unknown-none; do
    cargo build -q -p shared-types -p device-runtime --target "$t"
done

step "tests on x86_64 (host simulation)"
cargo test -q --workspace

step "tests on aarch64 under qemu-aarch64"
cargo test -q -p device-runtime -p tests --target aarch64-unknown-linux-gnu

step "tests on 32-bit Arm under qemu-arm (Thumb-2 Cortex-M images on the hosted runtime)"
cargo test -q -p device-runtime --features hosted --target armv7-unknown-linux-gnueabihf
# The spec testsuite compiled by the Thumb-2 backend for every profile (qemu-arm's default
# ARMv8-A CPU runs all four; about a minute each on 2 cores; expectations in
# tests/spec-expected-failures-cortex-m*.txt).
for core in cortex-m7 cortex-m4f cortex-m55 cortex-m33; do
    TESTS_CORTEX_M=$core cargo test -q -p tests --test spec --target armv7-unknown-linux-gnueabihf
done
# Fuel and epochs on Thumb code: the cross-target fuel golden (all four profiles in one run),
# instrumented spec modules against uninstrumented ones, and resumable calls on fibers
# (yields of host functions, of fuel and of epochs) with cortex-m7 and cortex-m4f images.
cargo test -q -p tests --test fuel --test fuel_instrumented --target armv7-unknown-linux-gnueabihf
for core in cortex-m7 cortex-m4f; do
    TESTS_CORTEX_M=$core cargo test -q -p tests --test preemption --target armv7-unknown-linux-gnueabihf
done
# Several memories, 1-byte pages, memory64 addresses above 4 GiB and reserved growth through
# the embedder API, on every profile.
for core in cortex-m7 cortex-m4f cortex-m55 cortex-m33; do
    TESTS_CORTEX_M=$core cargo test -q -p tests --test memories --target armv7-unknown-linux-gnueabihf
done

step "board firmware parts shared by every board (run request, demo results), host tests"
(cd boards/board-common && cargo fmt --check \
    && cargo clippy -q --all-targets --target "$(rustc -vV | sed -n 's/^host: //p')" -- -D warnings \
    && cargo test -q --target "$(rustc -vV | sed -n 's/^host: //p')")

step "bare-metal board qemu-virt-aarch64 (qemu-system-aarch64)"
boards/qemu-virt-aarch64/run-tests.sh

step "Cortex-M MPU planner (PMSAv7, PMSAv8), host tests"
(cd boards/cortex-m-mpu && cargo test -q --lib --target "$(rustc -vV | sed -n 's/^host: //p')")

step "bare-metal board mps2-an386, Cortex-M4F (qemu-system-arm)"
boards/mps2-an386/run-tests.sh

step "bare-metal board mps3-an547, Cortex-M55 (qemu-system-arm)"
boards/mps3-an547/run-tests.sh

step "example end to end"
scripts/example.sh
