#!/usr/bin/env bash
# The WebAssembly 2.0 spec testsuite on the board (called by run-tests.sh; runs alone too):
#   1. builds the spec bundles on the host (tests bin `spec_bundle build`: every module compiled
#      for AArch64 with the hosted spec test's settings; assert_invalid/assert_malformed checked
#      there, on the host);
#   2. boots the spec_bundle firmware once per bundle (QEMU's loader places it at 0x4c000000,
#      the last 64 MiB of RAM) with -m 256M;
#   3. runs the same executor over the same bundles hosted on aarch64-unknown-linux-gnu under
#      qemu-aarch64 user mode (tests bin `spec_bundle run`), which also compares the failures with
#      tests/spec-expected-failures*.txt and tests/spec-bundle-expected-failures-qemu-virt-aarch64.txt;
#   4. runs the same bundles hosted with the hosted spec test's engine (no board limits), which
#      must pass exactly as the hosted spec test does: a check of the segment planner itself;
#   5. checks the board's own failures against the same lists plus spec-board-only-failures.txt
#      (platform resources the hosted run cannot mirror: the wide memory slots);
#   6. requires the board's report lines (per-file counts, per-case outcome digests, failing
#      cases) to be byte-identical to the hosted ones, except the files with board-only failures
#      and the totals line, the hosted expectations check to pass, and the board's exit status
#      to be 0 exactly when nothing failed.
# Prints the figures (boots, bundle bytes, files, commands, cases) and the wall time of each step.
# Usage: boards/qemu-virt-aarch64/spec-bundle.sh   (PROFILE=release for optimised firmware,
#        SPEC_BUNDLE_MAX_BYTES=N to cut the suite into bundles of at most N bytes)
set -euo pipefail
cd "$(dirname "$0")"

PROFILE=${PROFILE:-dev}
TIMEOUT=${TIMEOUT:-300}
case "$PROFILE" in dev) DIR=debug ;; *) DIR=$PROFILE ;; esac
out=target/spec-bundle
mkdir -p "$out"
start=$(date +%s)

echo "== spec bundle: build (host) and firmware"
(cd ../.. && cargo build --quiet -p tests --bin spec_bundle \
    && cargo build --quiet -p tests --bin spec_bundle --target aarch64-unknown-linux-gnu)
cargo build --quiet --profile "$PROFILE" --example spec_bundle
t0=$(date +%s)
# SPEC_BUNDLE_MAX_BYTES: a smaller bundle limit than the 64 MiB the board takes (to exercise
# batching: one boot per bundle).
../../target/debug/spec_bundle build "$out/bundles" ${SPEC_BUNDLE_MAX_BYTES:+--max-bytes "$SPEC_BUNDLE_MAX_BYTES"} \
    | tee "$out/build.log"
t1=$(date +%s)

echo "== spec bundle: boot the board once per bundle"
elf="target/aarch64-unknown-none/$DIR/examples/spec_bundle"
: >"$out/board.out"
board_status=0
boots=0
while bundle="$out/bundles/spec-bundle-$boots.bin" && [ -f "$bundle" ]; do
    status=0
    timeout "$TIMEOUT" qemu-system-aarch64 -M virt -cpu cortex-a53 -m 256M -nographic \
        -semihosting -kernel "$elf" \
        -device loader,file="$bundle",addr=0x4c000000,force-raw=on \
        </dev/null >"$out/board.console.log" 2>&1 || status=$?
    boots=$((boots + 1))
    tr -d '\r' <"$out/board.console.log" | grep -E '^(spec-bundle: |file |FAIL |LEAK |BAD FILE )' \
        >>"$out/board.out" || true
    echo "boot $boots: $(basename "$bundle") ($(stat -c %s "$bundle") bytes), exit status $status"
    # Status 0 exactly when this boot's totals (compared with the hosted run below) show no
    # failure.
    expected=1
    if tr -d '\r' <"$out/board.console.log" \
        | grep -q '^spec-bundle: batch .* total: board [0-9]* passed 0 failed .* host [0-9]* passed 0 failed$'; then
        expected=0
    fi
    if [ "$status" != "$expected" ]; then
        echo "FAIL spec bundle: boot $boots exit status $status, expected $expected"
        board_status=1
    fi
done
t2=$(date +%s)

echo "== spec bundle: the same bundles hosted (qemu-aarch64 user mode)"
hosted_status=0
# The board's engine limits, as its firmware printed them (first report line).
engine=$(grep -m1 '^spec-bundle: engine ' "$out/board.out" || true)
if [ -z "$engine" ]; then
    echo "FAIL spec bundle: the board printed no engine line"
    engine="spec-bundle: engine missing"
fi
qemu-aarch64 -L /usr/aarch64-linux-gnu \
    ../../target/aarch64-unknown-linux-gnu/debug/spec_bundle run "$out/bundles" --engine "$engine" \
    --expectations ../../tests/spec-bundle-expected-failures-qemu-virt-aarch64.txt \
    >"$out/hosted.out" 2>"$out/hosted.err" || hosted_status=$?
cat "$out/hosted.err"
# The bundle itself, checked without board limits: with the hosted spec test's engine the same
# bundles must pass exactly as the hosted spec test does (validates segment cuts and replays).
default_status=0
qemu-aarch64 -L /usr/aarch64-linux-gnu \
    ../../target/aarch64-unknown-linux-gnu/debug/spec_bundle run "$out/bundles" --default-engine \
    >"$out/hosted-default.out" 2>"$out/hosted-default.err" || default_status=$?
sed 's/^/default engine: /' "$out/hosted-default.err"
# The board's own failures against the same lists plus spec-board-only-failures.txt (platform
# resources the hosted run cannot mirror: the wide memory slots).
check_status=0
../../target/debug/spec_bundle check "$out/board.out" "$out/bundles" \
    --expectations ../../tests/spec-bundle-expected-failures-qemu-virt-aarch64.txt \
    --expectations spec-board-only-failures.txt \
    >"$out/check.out" 2>&1 || check_status=$?
sed 's/^/board: /' "$out/check.out"
t3=$(date +%s)

# The files with board-only failures, left out of the line comparison with the totals.
board_only=$(grep -v '^#' spec-board-only-failures.txt | sed -n 's/^\([^ ]*\.wast\):.*/\1/p' | sort -u)
filter() {
    local pattern='^spec-bundle: batch .* total: '
    for f in $board_only; do
        pattern="$pattern|^FAIL $f:|^file $f: "
    done
    grep -vE "$pattern" "$1" || true
}
failures=0
if ! cmp -s <(filter "$out/board.out") <(filter "$out/hosted.out"); then
    echo "FAIL spec bundle: board and hosted outcomes differ (outside $(echo $board_only)):"
    diff <(filter "$out/board.out") <(filter "$out/hosted.out") | head -40 || true
    failures=$((failures + 1))
fi
if [ "$check_status" != 0 ]; then
    echo "FAIL spec bundle: the board's failures disagree with the expectations"
    failures=$((failures + 1))
fi
if [ "$hosted_status" != 0 ]; then
    echo "FAIL spec bundle: hosted run exit status $hosted_status (expectations disagree, or an error)"
    failures=$((failures + 1))
fi
if [ "$default_status" != 0 ]; then
    echo "FAIL spec bundle: with the hosted spec test's engine the bundle does not pass as the spec test does"
    grep '^FAIL\|^BAD' "$out/hosted-default.out" | head -20 || true
    failures=$((failures + 1))
fi
if [ "$board_status" != 0 ]; then
    failures=$((failures + 1))
fi
grep ' total: ' "$out/board.out" || true
echo "spec bundle: $boots boot(s); build $((t1 - t0))s, board $((t2 - t1))s, hosted $((t3 - t2))s, stage total $((t3 - start))s (incl. cargo builds)"
if [ $failures != 0 ]; then
    exit 1
fi
echo "ok   spec bundle: board outcomes identical to qemu-aarch64 user mode outside the board-only failures, expectations agree"
