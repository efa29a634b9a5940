#!/usr/bin/env bash
# Quick start, part 1: compile the example module for AArch64 and run it under QEMU: on the
# emulated bare-metal board qemu-virt-aarch64 (qemu-system-aarch64) and under qemu-aarch64 user
# mode, with the same results.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

echo "== building wasm-aot (host) and wasm-aot-runner (aarch64 Linux, device runtime only)"
cargo build -q -p host-compiler --bin wasm-aot
cargo build -q -p wasm-aot-runner --target aarch64-unknown-linux-gnu
aot=target/debug/wasm-aot
out=target/example
mkdir -p "$out"

echo "== wasm-aot compile examples/primes.wat --target aarch64"
"$aot" compile examples/primes.wat --target aarch64 -o "$out/primes.img"
echo "== wasm-aot inspect (summary)"
"$aot" inspect "$out/primes.img" | sed -n "1,10p"
echo "== wasm-aot run --invoke count_primes primes.img 100000   (qemu-aarch64)"
"$aot" run --invoke count_primes "$out/primes.img" 100000
echo "== wasm-aot run --invoke fib primes.img 30"
"$aot" run --invoke fib "$out/primes.img" 30
echo "== wasm-aot run --invoke checked_div primes.img 7 0   (traps: exit status 134 expected)"
set +e
"$aot" run --invoke checked_div "$out/primes.img" 7 0
status=$?
set -e
[ "$status" = 134 ] || { echo "expected exit status 134 for a trap, got $status" >&2; exit 1; }

echo "== bare-metal board: cd boards/qemu-virt-aarch64 && cargo run --example hello   (qemu-system-aarch64)"
(cd boards/qemu-virt-aarch64 && cargo run -q --example hello)
echo "== building the board's runner firmware (cargo build --example runner)"
(cd boards/qemu-virt-aarch64 && cargo build -q --example runner)
export WASM_AOT_BOARD_RUNNER_QEMU_VIRT_AARCH64="$PWD/boards/qemu-virt-aarch64/target/aarch64-unknown-none/debug/examples/runner"
echo "== wasm-aot run --board qemu-virt-aarch64 --invoke count_primes primes.img 100000"
"$aot" run --board qemu-virt-aarch64 --invoke count_primes "$out/primes.img" 100000
echo "== wasm-aot run --board qemu-virt-aarch64 --invoke fib primes.img 30"
"$aot" run --board qemu-virt-aarch64 --invoke fib "$out/primes.img" 30
echo "== wasm-aot run --board qemu-virt-aarch64 --invoke checked_div primes.img 7 0   (traps: 134)"
set +e
"$aot" run --board qemu-virt-aarch64 --invoke checked_div "$out/primes.img" 7 0
status=$?
set -e
[ "$status" = 134 ] || { echo "expected exit status 134 for a trap on the board, got $status" >&2; exit 1; }
echo "== ok"
