#!/usr/bin/env bash
# The WebAssembly 2.0 spec testsuite on the mps3-an547 board, compiled for cortex-m55 (called by
# run-tests.sh; runs alone too), the Cortex-M55 counterpart of boards/mps2-an386/spec-bundle.sh:
#   1. builds the spec bundles on the host (tests bin `spec_bundle build --target cortex-m55`:
#      every module compiled by the Thumb-2 backend with the hosted spec test's settings;
#      assert_invalid/assert_malformed checked there, on the host), at most 4 MiB each (the
#      board's loader region, ISRAM);
#   2. boots the spec_bundle firmware once per bundle (QEMU's loader places it at 0x21000000,
#      ISRAM seen through the system address space; the firmware reads it at 0x31000000);
#   3. runs the same executor over the same bundles hosted on armv7-unknown-linux-gnueabihf under
#      qemu-arm (whose ARMv8-A CPU runs cortex-m55 images) with the engine limits the board
#      printed, checking its failures against tests/spec-expected-failures.txt +
#      spec-expected-failures-cortex-m7.txt (the list for cortex-m55 bundles, which holds the
#      board engine's memory.grow limits too);
#   4. checks the board's own failures against the same lists plus spec-board-only-failures.txt
#      (platform resources the hosted run cannot mirror: MPU regions for guards);
#   5. requires the board's report lines (per-file counts, per-case outcome digests, failing
#      cases) to be byte-identical to the hosted ones, except the files with board-only failures
#      and the totals line, and each boot's exit status to be 0 exactly when its totals show no
#      failure;
#   6. runs the bundles hosted once more with the hosted spec test's engine, which must pass as
#      the hosted spec test does (a check of the segment planner itself).
# Needs qemu-system-arm and qemu-arm (Debian: qemu-system-arm, qemu-user).
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
hosted_runner=../../target/armv7-unknown-linux-gnueabihf/debug/spec_bundle

echo "== spec bundle: build (host) and firmware"
(cd ../.. && cargo build --quiet -p tests --bin spec_bundle \
    && cargo build --quiet -p tests --bin spec_bundle --target armv7-unknown-linux-gnueabihf)
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

echo "== spec bundle: the same bundles hosted (qemu-arm user mode)"
engine=$(grep -m1 '^spec-bundle: engine ' "$out/board.out" || true)
if [ -z "$engine" ]; then
    echo "FAIL spec bundle: the board printed no engine line"
    engine="spec-bundle: engine missing"
fi
hosted_status=0
qemu-arm -L /usr/arm-linux-gnueabihf "$hosted_runner" run "$out/bundles" --engine "$engine" \
    >"$out/hosted.out" 2>"$out/hosted.err" || hosted_status=$?
cat "$out/hosted.err"
check_status=0
../../target/debug/spec_bundle check "$out/board.out" "$out/bundles" \
    --expectations spec-board-only-failures.txt >"$out/check.out" 2>&1 || check_status=$?
sed 's/^/board: /' "$out/check.out"
default_status=0
qemu-arm -L /usr/arm-linux-gnueabihf "$hosted_runner" run "$out/bundles" --default-engine \
    >"$out/hosted-default.out" 2>"$out/hosted-default.err" || default_status=$?
sed 's/^/default engine: /' "$out/hosted-default.err"
t3=$(date +%s)

# The files with board-only failures, left out of the line comparison with the totals.
board_only=$(grep -v '^#' spec-board-only-failures.txt | sed -n 's/^\([^: ]*\.wast\):.*/\1/p' | sort -u)
filter() {
    local pattern='^spec-bundle: batch .* total: '
    for f in $board_only; do
        pattern="$pattern|^FAIL $f:|^file $f: "
    done
    grep -vE "$pattern" "$1" || true
}
failures=0
if [ ! -s "$out/hosted.out" ] || ! cmp -s <(filter "$out/board.out") <(filter "$out/hosted.out"); then
    echo "FAIL spec bundle: board and hosted outcomes differ (outside $(echo $board_only)):"
    diff <(filter "$out/board.out") <(filter "$out/hosted.out") | head -40 || true
    failures=$((failures + 1))
fi
if [ "$hosted_status" != 0 ]; then
    echo "FAIL spec bundle: hosted run exit status $hosted_status (expectations disagree, or an error)"
    failures=$((failures + 1))
fi
if [ "$check_status" != 0 ]; then
    echo "FAIL spec bundle: the board's failures disagree with the expectations"
    failures=$((failures + 1))
fi
if [ "$default_status" != 0 ]; then
    echo "FAIL spec bundle: with the hosted spec test's engine the bundle does not pass as the spec test does"
    grep '^FAIL\|^BAD' "$out/hosted-default.out" | head -20 || true
    failures=$((failures + 1))
fi
if [ "$board_status" != 0 ] || [ "$boots" = 0 ]; then
    failures=$((failures + 1))
fi
grep ' total: ' "$out/board.out" || true
echo "spec bundle: $boots boot(s); build $((t1 - t0))s, board $((t2 - t1))s, hosted $((t3 - t2))s, stage total $((t3 - start))s (incl. cargo builds)"
if [ $failures != 0 ]; then
    echo "FAIL spec bundle"
    exit 1
fi
echo "ok   spec bundle: board outcomes identical to qemu-arm user mode outside the board-only failures, expectations agree"
