#!/usr/bin/env bash
# The WebAssembly 2.0 spec testsuite on the board, compiled for cortex-m55 (called by
# run-tests.sh; runs alone too):
#   1. builds the spec bundles on the host (tests bin `spec_bundle build --target cortex-m55`:
#      every module compiled by the Thumb-2 backend with the hosted spec test's settings;
#      assert_invalid/assert_malformed checked there, on the host), at most 4 MiB each (the
#      board's loader region, ISRAM);
#   2. boots the spec_bundle firmware once per bundle (QEMU's loader places it at 0x21000000,
#      ISRAM seen through the system address space; the firmware reads it at 0x31000000);
#   3. checks the board's report lines with `spec_bundle check` against the expected failures:
#      tests/spec-expected-failures.txt + spec-expected-failures-cortex-m7.txt (the list for
#      cortex-m55 bundles) + this board's spec-expected-failures.txt. No hosted platform runs
#      cortex-m55 images (they are refused under qemu-arm), so unlike qemu-virt-aarch64 there is
#      no byte-for-byte comparison with a hosted run: the expectations are the reference.
#   4. requires each boot's exit status to be 0 exactly when its totals show no failure.
# Usage: boards/mps3-an547/spec-bundle.sh   (PROFILE=release for optimised firmware)
set -euo pipefail
cd "$(dirname "$0")"

PROFILE=${PROFILE:-dev}
TIMEOUT=${TIMEOUT:-600}
case "$PROFILE" in dev) DIR=debug ;; *) DIR=$PROFILE ;; esac
out=target/spec-bundle
rm -rf "$out/bundles"
mkdir -p "$out"
start=$(date +%s)

echo "== spec bundle: build (host) and firmware"
(cd ../.. && cargo build --quiet -p tests --bin spec_bundle)
cargo build --quiet --profile "$PROFILE" --example spec_bundle
t0=$(date +%s)
../../target/debug/spec_bundle build "$out/bundles" --target cortex-m55 --max-bytes 4194304 \
    | tee "$out/build.log"
t1=$(date +%s)

echo "== spec bundle: boot the board once per bundle"
elf="target/thumbv8m.main-none-eabihf/$DIR/examples/spec_bundle"
: >"$out/board.out"
board_status=0
boots=0
while bundle="$out/bundles/spec-bundle-$boots.bin" && [ -f "$bundle" ]; do
    status=0
    timeout "$TIMEOUT" qemu-system-arm -M mps3-an547 -nographic \
        -semihosting-config enable=on,target=native -kernel "$elf" \
        -device loader,file="$bundle",addr=0x21000000,force-raw=on \
        </dev/null >"$out/board.console.log" 2>&1 || status=$?
    boots=$((boots + 1))
    tr -d '\r' <"$out/board.console.log" | grep -E '^(spec-bundle: |file |FAIL |LEAK |BAD FILE )' \
        >>"$out/board.out" || true
    echo "boot $boots: $(basename "$bundle") ($(stat -c %s "$bundle") bytes), exit status $status"
    # Status 0 exactly when this boot's totals show no failure.
    expected=1
    if tr -d '\r' <"$out/board.console.log" \
        | grep -q '^spec-bundle: batch .* total: board [0-9]* passed 0 failed .* host [0-9]* passed 0 failed$'; then
        expected=0
    fi
    if ! tr -d '\r' <"$out/board.console.log" | grep -q '^spec-bundle: batch .* total: '; then
        echo "FAIL spec bundle: boot $boots printed no totals (crash or timeout?):"
        tail -5 "$out/board.console.log"
        board_status=1
    elif [ "$status" != "$expected" ]; then
        echo "FAIL spec bundle: boot $boots exit status $status, expected $expected"
        board_status=1
    fi
done
t2=$(date +%s)

echo "== spec bundle: the board's failures against the expectations"
check_status=0
../../target/debug/spec_bundle check "$out/board.out" "$out/bundles" \
    --expectations spec-expected-failures.txt || check_status=$?
grep ' total: ' "$out/board.out" || true
echo "spec bundle: $boots boot(s); build $((t1 - t0))s, board $((t2 - t1))s, stage total $((t2 - start))s (incl. cargo builds)"
if [ "$check_status" != 0 ] || [ "$board_status" != 0 ] || [ "$boots" = 0 ]; then
    echo "FAIL spec bundle"
    exit 1
fi
echo "ok   spec bundle: every failure expected (board limits only)"
