#!/usr/bin/env bash
# Quick start, part 1: compile the example module for AArch64 and run it under QEMU.
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
echo "== ok"
