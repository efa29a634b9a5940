#!/usr/bin/env bash
# Tests of the mps3-an547 board (Cortex-M55, PMSAv8 MPU):
#   1. host unit tests: the board's memory map and the worst case of its MPU plan
#      (and the MPU planner itself, boards/cortex-m-mpu);
#   2. builds every firmware and boots each under QEMU with a timeout, checking the console
#      output and the semihosting exit status:
#        hello             the example: host-function output, fib in i64, an f64 hypot, status 0
#        test_guard        typed traps (out of bounds, divide by zero, stack exhausted), the
#                          board keeps running, victim memory bit-identical, the live MPU
#                          (TT instruction) refuses the front guard and the program stack's
#                          guard, status 0
#        test_front_guard  a broken image (hand-made Thumb-2 storing at memory base - 4, not in
#                          the trap table) is stopped by the MPU front guard; the MemManage
#                          handler's guard rule makes it `out of bounds memory access`, the board
#                          keeps running, victim memory bit-identical, status 0
#        test_wild_store   a broken image storing from wasm code outside every slot (memory no
#                          MPU region covers): fatal report with MMFAR = the address, status 3
#        test_wx           a write to published code from firmware faults (read-only region):
#                          fatal report, status 3
#        test_stack_guard  firmware recursion runs into the program stack's guard: fatal report
#                          from the main stack, status 3
#        test_timer        SysTick at 1 kHz (cortex-m-common::timer, 32 MHz core clock) during a long
#                          wasm FPU computation, with a tick hook that clobbers s0-s15 and FPSCR:
#                          result bit-identical to the timer-off run, ticks in wasm code with the
#                          extended FP frame, none once stopped, status 0
#        test_memories     a 300-byte memory of 1-byte pages beside a 64 KiB-page memory and a
#                          64-bit one (cortex-m-common::memories_test): the slot planner's RAM for
#                          each printed, bounds per memory, copy between them, growth in own pages
#                          without moving, memory64 addresses above 4 GiB trap, a memory64
#                          minimum above 4 GiB refused with MemoryTooLarge, status 0
#        demo_tasks        the three-task epoch demo (as on mps2-an386): a fold, a CRC and an
#                          infinite loop time-sliced round robin with epochs from SysTick, each on
#                          a fiber stack; results checked, the runaway cancelled at its budget;
#                          then the fuel part (a call suspended out of fuel, refilled and resumed,
#                          the hosted runs' fuel consumption, the trap policy); status 0
#        runner            `wasm-aot run --board mps3-an547` on cli/run.wat: results, multi-value,
#                          f32 and f64, NaN, traps (134), bad arguments and missing exports (1),
#                          and on tests/fuel/budget.wat under --fuel / --epoch-deadline;
#                          stdout, stderr and exit status identical to the hosted `wasm-aot run` of
#                          the same image (wasm-aot-runner for armv7-unknown-linux-gnueabihf under
#                          qemu-arm)
#        spec_bundle       the WebAssembly 2.0 spec testsuite compiled for cortex-m55
#                          (spec-bundle.sh): per-case outcomes identical to the same executor
#                          under qemu-arm outside the board-only failures, failures as listed
# Needs qemu-system-arm with the mps3-an547 machine (QEMU >= 6.0; Debian: qemu-system-arm) and,
# for the CLI comparison, qemu-arm (Debian: qemu-user).
# Usage: boards/mps3-an547/run-tests.sh   (PROFILE=release for optimised firmware)
set -euo pipefail
cd "$(dirname "$0")"

PROFILE=${PROFILE:-dev}
TIMEOUT=${TIMEOUT:-60}
case "$PROFILE" in dev) DIR=debug ;; *) DIR=$PROFILE ;; esac
HOST=$(rustc -vV | sed -n 's/^host: //p')
TARGET=thumbv8m.main-none-eabihf

echo "== unit tests (host: $HOST)"
cargo test --quiet --lib --target "$HOST"
(cd ../cortex-m-mpu && cargo test --quiet --lib --target "$HOST")

echo "== build firmware ($PROFILE)"
cargo build --quiet --profile "$PROFILE" --examples

# The CLI and the hosted runner, from the main workspace (this directory's .cargo/config.toml
# targets the board).
(cd ../.. && cargo build --quiet -p host-compiler --bin wasm-aot \
    && cargo build --quiet -p wasm-aot-runner --target armv7-unknown-linux-gnueabihf)
aot=../../target/debug/wasm-aot

failures=0
# boot NAME EXPECTED_STATUS PATTERN... : boots the firmware; every PATTERN (fixed string) must
# appear in the console output, and the exit status must match.
boot() {
    local name=$1 expected=$2
    shift 2
    local elf="target/$TARGET/$DIR/examples/$name"
    local log="target/$name.console.log" out status=0
    timeout "$TIMEOUT" qemu-system-arm -M mps3-an547 -nographic \
        -semihosting-config enable=on,target=native -kernel "$elf" </dev/null >"$log" 2>&1 \
        || status=$?
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
    "hello from the Cortex-M55 board (FPU enabled: true)" \
    "hello from wasm on the Cortex-M55" \
    "fib(90) = 2880067194370816120" \
    "hypot(3, 4) = 5"
boot test_guard 0 \
    "[ok] program stack guard inaccessible (MPU)" \
    "[ok] front guard below the memory inaccessible (MPU)" \
    "[ok] memory read-write (MPU)" \
    "attacker store(65536): wasm trap: out of bounds memory access" \
    "attacker store(-4): wasm trap: out of bounds memory access" \
    "attacker div(1, 0): wasm trap: integer divide by zero" \
    "attacker recurse(0): wasm trap: call stack exhausted" \
    "[ok] attacker instance still runs after its traps" \
    "[ok] victim memory bit-identical before and after" \
    "guard test: passed"
boot test_front_guard 0 \
    "broken image loaded (re-sealed digest accepted)" \
    "intact poke stored 0x5a5a5a5a at address 0" \
    "[ok] front guard below the attacker's memory inaccessible (MPU)" \
    "calling the broken poke (stores at memory base - 4" \
    "broken poke: wasm trap: out of bounds memory access" \
    "[ok] the unlisted store below the memory is a typed out-of-bounds trap" \
    "[ok] it went through the MemManage handler's guard rule" \
    "[ok] another instance called successfully after the trap" \
    "[ok] victim memory bit-identical before and after" \
    "[ok] front guard still inaccessible" \
    "front guard test: passed"
boot test_wild_store 3 \
    "MPU at the wild address: readable false, writable false" \
    "calling the wild poke (stores at 0x111ffff0, outside every slot)..." \
    "fatal: MemManage CFSR=0x00000082" \
    "MMFAR=0x111ffff0" \
    "the faulting PC is in wasm text: not a listed trap site, not a guard-region access"
if grep -q "wild poke returned\|wasm trap" target/test_wild_store.console.log; then
    echo "FAIL test_wild_store: the wild store returned or became a trap"
    failures=$((failures + 1))
fi
boot test_wx 3 \
    "readable true, writable false" \
    "writing to published code..." \
    "fatal: MemManage CFSR=0x00000082" \
    "MMFAR=0x11000000"
boot test_stack_guard 3 \
    "program stack guard at 0x30000000: readable false, writable false" \
    "recursing until the program stack reaches its guard..." \
    "fatal: MemManage" \
    "MMFAR=0x300003"
boot test_timer 0 \
    "[ok] a 0 Hz rate is refused" \
    "[ok] a second start is refused while the timer runs" \
    "[ok] FP context preserved on exceptions, lazily" \
    "[ok] timer on: work(1000000) = " \
    "[ok] at least 20 ticks during the computation" \
    "[ok] most ticks interrupted wasm code" \
    "[ok] most of those interrupted it with active FP state (extended frame)" \
    "[ok] the hook ran once per tick" \
    "[ok] no tick once stopped" \
    "[ok] the firmware's FPSCR control bits are unchanged" \
    "timer test: passed"
boot test_memories 0 \
    "slot planner: memory of 300 pages of 1 B (max Some(400)): 300 B accessible" \
    "slot planner: memory of 1 pages of 65536 B (max Some(2)): 65536 B accessible" \
    "[ok] a 1-byte-page memory takes less RAM than a 64 KiB-page one" \
    "[ok] sizes in each memory's own pages (300 x 1 B, 1 x 64 KiB, 1 x 64 KiB)" \
    "[ok] data segments landed in their own memories" \
    "[ok] each memory is bounded by its own length (byte 300: small traps, big reads)" \
    "[ok] memory.copy from the big memory into the small one, bounds of each checked" \
    "[ok] memory.grow in 1-byte pages to the maximum, -1 past it, the memory never moves" \
    "[ok] memory64: addresses above 4 GiB trap, never wrap, on the 32-bit core" \
    "[ok] memory64: memory.size and memory.grow in 64 bits, the maximum holds" \
    "[ok] a memory64 minimum above 4 GiB is refused with MemoryTooLarge" \
    "[ok] every memory-pool and arena block is back once the stores are dropped" \
    "memories test: passed"
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
    "[ok] every fiber stack is back in the pool" \
    "fuel: crc(4) on refills of 25000: 7 suspensions out of fuel, 184385 fuel consumed" \
    "[ok] crc suspended out of fuel 7 times, was refilled and resumed, and finished" \
    "[ok] with the trap policy, half that fuel traps out of fuel" \
    "demo: passed"

echo "== wasm-aot run --board mps3-an547 vs hosted wasm-aot run (qemu-arm)"
export WASM_AOT_BOARD_RUNNER_MPS3_AN547="$PWD/target/$TARGET/$DIR/examples/runner"
export WASM_AOT_RUNNER_ARMV7="$PWD/../../target/armv7-unknown-linux-gnueabihf/debug/wasm-aot-runner"
cli=target/cli
mkdir -p "$cli"
"$aot" compile cli/run.wat --target cortex-m55 -o "$cli/run.img" 2>/dev/null
"$aot" compile ../../tests/fuel/budget.wat --target cortex-m55 --fuel --epoch -o "$cli/budget.img" \
    2>/dev/null
image=$cli/run.img
limits=()
# compare NAME EXPECTED_STATUS ARGS...: both runs of $image under the budget flags $limits must
# print the same stdout and stderr and exit with EXPECTED_STATUS.
compare() {
    local name=$1 expected=$2 board_status=0 hosted_status=0
    shift 2
    timeout "$TIMEOUT" "$aot" run --board mps3-an547 "${limits[@]}" "$image" --invoke "$name" "$@" \
        >"$cli/board.out" 2>"$cli/board.err" || board_status=$?
    timeout "$TIMEOUT" "$aot" run "${limits[@]}" "$image" --invoke "$name" "$@" \
        >"$cli/hosted.out" 2>"$cli/hosted.err" || hosted_status=$?
    if [ "$board_status" = "$expected" ] && [ "$hosted_status" = "$expected" ] \
        && cmp -s "$cli/board.out" "$cli/hosted.out" && cmp -s "$cli/board.err" "$cli/hosted.err"; then
        echo "ok   run --board ${limits[*]:+${limits[*]} }$(basename "$image") --invoke $name $* (exit $board_status): $(tr '\n' ' ' <"$cli/board.out")$(tr '\n' ' ' <"$cli/board.err")"
    else
        echo "FAIL run --board ${limits[*]:+${limits[*]} }$(basename "$image") --invoke $name $*: board exit $board_status, hosted exit $hosted_status, expected $expected"
        for f in board.out board.err hosted.out hosted.err; do
            echo "---- $f:"
            cat "$cli/$f"
        done
        failures=$((failures + 1))
    fi
}
compare add 0 2 3
compare add 0 -0x80000000 -1
compare swap 0 -0x10 2.5
compare nan 0 0
compare hypot 0 3 4
compare none 0
compare div 134 7 0
compare div 134 -2147483648 -1
compare oob 134 65536
compare add 1 1
compare add 1 x 1
compare missing 1
# Budgets (--fuel, --epoch-deadline): the same fuel consumed, the same stops, the same refusals.
# shellcheck source=../board-common/budget-cases.sh
source ../board-common/budget-cases.sh
# The board has no image partition: execution in place is refused before booting.
in_place_status=0
in_place=$("$aot" run --board mps3-an547 --load in-place "$cli/run.img" --invoke none 2>&1) \
    || in_place_status=$?
if [ "$in_place_status" = 1 ] && grep -q "has no image partition" <<<"$in_place"; then
    echo "ok   run --board mps3-an547 --load in-place refused"
else
    echo "FAIL run --board mps3-an547 --load in-place was not refused"
    failures=$((failures + 1))
fi

echo "== spec testsuite bundle on the board vs qemu-arm user mode (spec-bundle.sh)"
if ! PROFILE="$PROFILE" ./spec-bundle.sh; then
    failures=$((failures + 1))
fi

if [ "$failures" != 0 ]; then
    echo "$failures firmware(s) failed"
    exit 1
fi
echo "all board tests passed"
