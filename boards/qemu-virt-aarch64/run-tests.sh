#!/usr/bin/env bash
# Tests of the qemu-virt-aarch64 board:
#   1. host unit tests of the safe planning code (MMU tables, page allocator);
#   2. builds every firmware and boots each under QEMU with a timeout, checking the console
#      output and the semihosting exit status:
#        hello       the example: host-function output and a computation, status 0
#        test_guard  typed traps, guard pages unmapped, victim memory bit-identical, status 0
#        test_wx     a write to published code faults outside wasm: fatal report, status 3
#        test_front_guard  a broken image (hand-made A64 storing at memory base - 4, not in the
#                    trap table) is stopped by the front guard; the guard-region rule turns the
#                    fault into `out of bounds memory access`, the board keeps running (another
#                    instance called, its memory bit-identical, the guard still unmapped), status 0
#        test_wild_store  a broken image storing outside every memory slot from wasm code: not a
#                    trap site, not a guard: fatal report with FAR = the address, status 3
#        test_guard_elided  guard-elided images in wide slots: refused without the capacity,
#                    in-bounds accesses work, out-of-bounds ones (past the end, 4 GiB - 1,
#                    offsets) trap through the guard fault, memory.grow maps or returns -1,
#                    victims bit-identical, wide slots exhausted (typed error) and reused, status 0
#        test_bounds_bench  the bounds-check cost kernel, explicit and guard-elided, gives the same
#                    results (scripts/board-bench.sh counts its instructions), status 0
#        test_xip    images flashed into the image partition (QEMU's loader as the flash tool,
#                    raw binaries from `wasm-aot compile --format bin`): the intact one executes
#                    in place with exactly its text pages executable, a corrupted copy is refused
#                    before anything becomes executable, status 0
#        test_timer  the tick interrupt (generic timer through the GIC, 1 kHz) during a long wasm
#                    computation, with a tick hook that clobbers v0-v31 and FPCR: result
#                    bit-identical to the timer-off run, many ticks in wasm code, tick count =
#                    counter time / period, none once stopped, status 0
#        demo_tasks  three wasm tasks (a fold, a CRC, an infinite loop; images compiled with epoch
#                    checks) time-sliced round robin with epochs from the 1 kHz tick, each a
#                    resumable call on a fiber stack from the board's pool that yields at its
#                    deadline: every slice printed, the two finite tasks finish with checked
#                    results, the runaway is cancelled once its tick budget is spent; then a
#                    fuel part (the image has fuel metering too): a call suspended out of fuel,
#                    refilled and resumed until it finishes, consuming exactly the fuel hosted
#                    runs consume, and the trap policy; status 0
#        runner      `wasm-aot run --board qemu-virt-aarch64` (the runner firmware booted with a
#                    run request) on cli/run.wat: results, multi-value, floats, NaN, traps (134),
#                    bad arguments and missing exports (1), and on tests/fuel/budget.wat under
#                    --fuel / --epoch-deadline; stdout, stderr and exit status must be
#                    identical to the hosted `wasm-aot run` of the same image
#        spec_bundle the WebAssembly 2.0 spec testsuite as bundles of compiled modules and commands
#                    (spec-bundle.sh): per-case outcomes identical to the same executor under
#                    qemu-aarch64 user mode, failures as listed in tests/spec-*expected-failures*
# Needs qemu-system-aarch64 (Debian: apt-get install -y qemu-system-arm).
# Usage: boards/qemu-virt-aarch64/run-tests.sh   (PROFILE=release for optimised firmware)
set -euo pipefail
cd "$(dirname "$0")"

PROFILE=${PROFILE:-dev}
TIMEOUT=${TIMEOUT:-60}
case "$PROFILE" in dev) DIR=debug ;; *) DIR=$PROFILE ;; esac
HOST=$(rustc -vV | sed -n 's/^host: //p')

echo "== unit tests (host: $HOST)"
cargo test --quiet --lib --target "$HOST"

echo "== build firmware ($PROFILE)"
cargo build --quiet --profile "$PROFILE" --examples

# The CLI, from the main workspace (this directory's .cargo/config.toml targets the board).
(cd ../.. && cargo build --quiet -p host-compiler --bin wasm-aot)
aot=../../target/debug/wasm-aot

failures=0
# Extra QEMU arguments for the next boot (flash contents), reset after each boot.
QEMU_EXTRA=()
# boot NAME EXPECTED_STATUS PATTERN... : boots the firmware; every PATTERN (fixed string) must
# appear in the console output, and the exit status must match.
boot() {
    local name=$1 expected=$2
    shift 2
    local elf="target/aarch64-unknown-none/$DIR/examples/$name"
    local log="target/$name.console.log" out status=0
    timeout "$TIMEOUT" qemu-system-aarch64 -M virt -cpu cortex-a53 -m 256M -nographic \
        -semihosting -kernel "$elf" "${QEMU_EXTRA[@]}" </dev/null >"$log" 2>&1 || status=$?
    QEMU_EXTRA=()
    out=$(tr -d '\r' <"$log")
    local ok=1
    if [ "$status" != "$expected" ]; then
        echo "FAIL $name: exit status $status, expected $expected"
        ok=0
    fi
    for pattern in "$@"; do
        if ! grep -qF -- "$pattern" <<<"$out"; then
            echo "FAIL $name: output lacks: $pattern"
            ok=0
        fi
    done
    if [ $ok = 1 ]; then
        echo "ok   $name (exit $status)"
    else
        echo "---- $name output:"
        echo "$out"
        echo "----"
        failures=$((failures + 1))
    fi
}

boot hello 0 \
    "hello from the board" \
    "hello from wasm on the board" \
    "fib(90) = 2880067194370816120"
boot test_guard 0 \
    "attacker store(65536): wasm trap: out of bounds memory access" \
    "attacker div(1, 0): wasm trap: integer divide by zero" \
    "attacker recurse(0): wasm trap: call stack exhausted" \
    "[ok] victim memory bit-identical before and after" \
    "[ok] front guard page unmapped" \
    "[ok] back guard page unmapped" \
    "guard test: passed"
boot test_wx 3 \
    "writing to published code..." \
    "fatal: synchronous exception ESR=0x9600004f" \
    "(data abort)"
boot test_front_guard 0 \
    "broken image loaded (re-sealed digest accepted)" \
    "intact poke stored 0x5a5a5a5a at address 0" \
    "[ok] front guard page below the attacker's memory unmapped" \
    "calling the broken poke (stores at memory base - 4" \
    "broken poke: wasm trap: out of bounds memory access" \
    "[ok] the unlisted store below the memory is a typed out-of-bounds trap" \
    "[ok] it went through the exception vector's guard-region rule" \
    "[ok] another instance called successfully after the trap" \
    "[ok] victim memory bit-identical before and after" \
    "[ok] front guard page still unmapped" \
    "front guard test: passed"
boot test_wild_store 3 \
    "wild image loaded (re-sealed digest accepted)" \
    "calling the wild poke (stores at 0x10000000, outside every slot)..." \
    "fatal: synchronous exception ESR=0x96000046" \
    "the faulting PC is in wasm text: not a listed trap site, not a guard-region access"
# The fault is reported at the address the firmware named, the store never returned, and it was
# not turned into a wasm trap.
wild_log=$(tr -d '\r' <target/test_wild_store.console.log)
expected_far=$(sed -n 's/^expected fault: \(FAR=0x[0-9a-f]*\)$/\1/p' <<<"$wild_log")
if [ -z "$expected_far" ] || ! grep -q "^fatal: .* $expected_far (data abort)$" <<<"$wild_log" \
    || grep -q "wild poke returned\|wasm trap" <<<"$wild_log"; then
    echo "FAIL test_wild_store: fault not reported at the expected address (${expected_far:-none})"
    failures=$((failures + 1))
else
    echo "ok   test_wild_store: fatal fault reported at $expected_far"
fi
boot test_guard_elided 0 \
    "[ok] refused with GuardReservation" \
    "[ok] guard-elided image loaded" \
    "[ok] guard-elided memory in a wide slot, explicit memory in a small slot" \
    "[ok] memory mapped to a pool page that is unmapped at its own address" \
    "[ok] in-bounds loads and stores work" \
    "attacker store(65536): wasm trap: out of bounds memory access" \
    "attacker store(0xffff_ffff) (4 GiB - 1): wasm trap: out of bounds memory access" \
    "attacker store_offset(0xffff_ffff) (offset 0xfff0): wasm trap: out of bounds memory access" \
    "[ok] each of the 6 unchecked stores faulted and was turned into a trap" \
    "[ok] memory.grow(1) maps a zeroed page that is usable" \
    "[ok] memory.grow beyond the physical pool returns -1 and keeps nothing" \
    "[ok] memory.grow that exhausts the pool half-way returns -1 and gives every page back" \
    "[ok] an unlisted store on a wide slot's front guard is a trap (guard-region rule)" \
    "[ok] wide victim memory bit-identical before and after" \
    "[ok] small victim memory bit-identical before and after" \
    "[ok] a wide memory the pool cannot back is a typed error, nothing kept" \
    "[ok] a ninth wide slot is a typed error" \
    "[ok] every pool page and wide slot is back after the stores are dropped" \
    "[ok] a reused wide slot starts zeroed" \
    "guard-elided test: passed"
boot test_timer 0 \
    "[ok] a 0 Hz rate is refused" \
    "[ok] a second start is refused while the timer runs" \
    "[ok] timer on: work(3000000) = " \
    "[ok] at least 20 ticks during the computation" \
    "[ok] most ticks interrupted wasm code" \
    "[ok] the hook ran once per tick" \
    "[ok] ticks + dropped periods" \
    "[ok] no tick once stopped" \
    "[ok] the firmware's FPCR is unchanged" \
    "timer test: passed"
boot demo_tasks 0 \
    "suspended at its deadline" \
    "spin: stopped on its deadline: cancelled after" \
    "[ok] count finished: result " \
    "[ok] crc finished: CRC-32 " \
    "[ok] count was time-sliced" \
    "[ok] crc was time-sliced" \
    "[ok] spin was time-sliced" \
    "[ok] count and crc made progress while the runaway ran" \
    "[ok] spin stopped on its deadline" \
    "[ok] the runaway's store runs a call after the cancel" \
    "[ok] each fiber stack is mapped, with an unmapped guard page below it" \
    "[ok] every fiber stack is back in the pool" \
    "fuel: crc(4) on refills of 25000: 7 suspensions out of fuel, 184385 fuel consumed" \
    "[ok] crc suspended out of fuel 7 times, was refilled and resumed, and finished" \
    "[ok] with the trap policy, half that fuel traps out of fuel" \
    "demo: passed"
boot test_bounds_bench 0 \
    "[ok] explicit and guard-elided kernels agree" \
    "bounds bench self-check: passed"

# Flash: the image as a raw binary one page into the image partition (0x4000000), and a copy
# with one text byte flipped 8 MiB in.
flash=target/flash
mkdir -p "$flash"
"$aot" compile wasm/hello.wat --target aarch64 --format bin -o "$flash/hello.bin" 2>/dev/null
python3 - "$flash/hello.bin" "$flash/hello-corrupt.bin" <<'PY'
import sys
image = bytearray(open(sys.argv[1], "rb").read())
text_offset = int.from_bytes(image[0x18:0x1C], "little")
image[text_offset + 8] ^= 0x01
open(sys.argv[2], "wb").write(image)
PY
QEMU_EXTRA=(-device "loader,file=$flash/hello.bin,addr=0x4001000,force-raw=on"
    -device "loader,file=$flash/hello-corrupt.bin,addr=0x4800000,force-raw=on")
boot test_xip 0 \
    "[ok] text executes where it was flashed" \
    "[ok] every text page is read-execute" \
    "[ok] the pages around the text stay read-only, execute-never" \
    "hello from wasm on the board" \
    "[ok] fib(90) from flash" \
    "[ok] text pages execute-never again once the module is dropped" \
    "corrupt image: invalid image: " \
    "[ok] corrupt image refused by verification" \
    "[ok] no page of the partition is executable" \
    "[ok] an image outside the partition is refused in place" \
    "[ok] the same image copied into code memory runs" \
    "xip test: passed"

echo "== wasm-aot run --board $(basename "$PWD") vs hosted wasm-aot run"
if [ "$(uname -m)" != aarch64 ]; then
    # The hosted run of an aarch64 image: wasm-aot-runner under qemu-aarch64.
    (cd ../.. && cargo build --quiet -p wasm-aot-runner --target aarch64-unknown-linux-gnu)
fi
export WASM_AOT_BOARD_RUNNER_QEMU_VIRT_AARCH64="$PWD/target/aarch64-unknown-none/$DIR/examples/runner"
cli=target/cli
mkdir -p "$cli"
"$aot" compile cli/run.wat --target aarch64 -o "$cli/run.img" 2>/dev/null
"$aot" compile ../../tests/fuel/budget.wat --target aarch64 --fuel --epoch -o "$cli/budget.img" \
    2>/dev/null
image=$cli/run.img
limits=()
# compare NAME EXPECTED_STATUS ARGS...: both runs of $image under the budget flags $limits must
# print the same stdout and stderr and exit with EXPECTED_STATUS.
compare() {
    local name=$1 expected=$2 board_status=0 hosted_status=0
    shift 2
    timeout "$TIMEOUT" "$aot" run --board qemu-virt-aarch64 --load "$load" "${limits[@]}" \
        "$image" --invoke "$name" "$@" \
        >"$cli/board.out" 2>"$cli/board.err" || board_status=$?
    timeout "$TIMEOUT" "$aot" run "${limits[@]}" "$image" --invoke "$name" "$@" \
        >"$cli/hosted.out" 2>"$cli/hosted.err" || hosted_status=$?
    if [ "$board_status" = "$expected" ] && [ "$hosted_status" = "$expected" ] \
        && cmp -s "$cli/board.out" "$cli/hosted.out" && cmp -s "$cli/board.err" "$cli/hosted.err"; then
        echo "ok   run --board --load $load ${limits[*]:+${limits[*]} }$(basename "$image") --invoke $name $* (exit $board_status): $(tr '\n' ' ' <"$cli/board.out")$(tr '\n' ' ' <"$cli/board.err")"
    else
        echo "FAIL run --board --load $load ${limits[*]:+${limits[*]} }$(basename "$image") --invoke $name $*: board exit $board_status, hosted exit $hosted_status, expected $expected"
        for f in board.out board.err hosted.out hosted.err; do
            echo "---- $f:"
            cat "$cli/$f"
        done
        failures=$((failures + 1))
    fi
}
# Executed in place from flash (the default), then copied into RAM.
load=in-place
compare add 0 2 3
compare add 0 -0x80000000 -1
compare swap 0 -0x10 2.5
compare nan 0 0
compare none 0
compare div 134 7 0
compare div 134 -2147483648 -1
compare add 1 1
compare add 1 x 1
compare missing 1
# Budgets (--fuel, --epoch-deadline): the same fuel consumed, the same stops, the same refusals.
# shellcheck source=../board-common/budget-cases.sh
source ../board-common/budget-cases.sh
load=copy
compare add 0 2 3
compare swap 0 -0x10 2.5
compare div 134 7 0
compare missing 1

echo "== spec testsuite bundle on the board vs qemu-aarch64 user mode (spec-bundle.sh)"
if ! PROFILE="$PROFILE" ./spec-bundle.sh; then
    failures=$((failures + 1))
fi

if [ $failures != 0 ]; then
    echo "qemu-virt-aarch64: $failures firmware test(s) failed"
    exit 1
fi
echo "qemu-virt-aarch64: all tests passed"
