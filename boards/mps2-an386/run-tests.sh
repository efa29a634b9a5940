#!/usr/bin/env bash
# Tests of the mps2-an386 board (Cortex-M4F):
#   1. host unit tests: cortex-m-common (fault decisions, pools, platform) and this crate (memory
#      map, MPU plans of every state the platform can ask for);
#   2. builds every firmware and boots each under QEMU with a timeout, checking the console
#      output and the semihosting exit status:
#        hello             the example: host-function output over UART0, fib and an f32 on the FPU, status 0
#        test_guard        typed traps through the UsageFault handler (udf trap sites: bounds,
#                          division, overflow, stack limit; a trap with the extended FP frame keeps
#                          s16-s31), victim memory bit-identical, cortex-m7
#                          and aarch64 images refused with WrongTarget, a corrupt image refused, status 0
#        test_front_guard  a broken image (hand-made Thumb-2 storing at memory base - 4, not in the
#                          trap table) is stopped by the MPU front guard; MemManage -> out of bounds
#                          memory access, the board keeps running, victim bit-identical, status 0
#        test_wild_store   a broken image storing outside every slot: precise BusFault from wasm
#                          text, fatal report with BFAR, status 3 (never a trap)
#        test_wx           a write to published code: MemManage from firmware code, fatal, status 3
#        test_stack_guard  firmware recursion into the program stack's MPU guard: MemManage with
#                          MSTKERR reported from the main stack (no frame), fatal, status 3
#        test_unexpected_exception  an SVCall reaches DefaultHandler: reported by number, status 3
#        test_timer        SysTick at 1 kHz (cortex-m-common::timer) during a long wasm FPU computation,
#                          with a tick hook that clobbers s0-s15 and FPSCR: result bit-identical to
#                          the timer-off run, ticks in wasm code with the extended FP frame, none
#                          once stopped, status 0
#        test_memories     a 300-byte memory of 1-byte pages beside a 64 KiB-page memory and a
#                          64-bit one (cortex-m-common::memories_test): the slot planner's RAM for
#                          each printed, bounds per memory, copy between them, growth in own pages
#                          without moving, memory64 addresses above 4 GiB trap, a memory64
#                          minimum above 4 GiB refused with MemoryTooLarge, status 0
#        demo_tasks        three wasm tasks (a fold, a CRC, an infinite loop; images compiled with
#                          epoch checks) time-sliced round robin with epochs from SysTick at 1 kHz,
#                          each a resumable call on a fiber stack from the board's pool that yields
#                          at its deadline: every slice printed, the two finite tasks finish with
#                          checked results, the runaway is cancelled once its tick budget is spent;
#                          then a fuel part (the image has fuel metering too): a call suspended out
#                          of fuel, refilled and resumed until it finishes, consuming exactly the
#                          fuel hosted runs consume, and the trap policy; status 0
#        runner            `wasm-aot run --board mps2-an386` on cli/run.wat: results, multi-value,
#                          floats, NaN, traps (134), bad arguments and missing exports (1), and on
#                          tests/fuel/budget.wat under --fuel / --epoch-deadline; stdout,
#                          stderr and exit status identical to the hosted `wasm-aot run` of the same
#                          image (wasm-aot-runner for armv7-unknown-linux-gnueabihf under qemu-arm)
#        spec_bundle       the WebAssembly 2.0 spec testsuite compiled for cortex-m4f as bundles
#                          (spec-bundle.sh): per-case outcomes identical to the same executor under
#                          qemu-arm outside the board-only failures, failures as listed
# Needs qemu-system-arm and qemu-arm (Debian: qemu-system-arm, qemu-user).
# Usage: boards/mps2-an386/run-tests.sh   (PROFILE=release for optimised firmware)
set -euo pipefail
cd "$(dirname "$0")"

PROFILE=${PROFILE:-dev}
TIMEOUT=${TIMEOUT:-60}
case "$PROFILE" in dev) DIR=debug ;; *) DIR=$PROFILE ;; esac
HOST=$(rustc -vV | sed -n 's/^host: //p')

echo "== unit tests (host: $HOST)"
(cd ../cortex-m-common && cargo test --quiet --target "$HOST")
cargo test --quiet --lib --target "$HOST"

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
    local elf="target/thumbv7em-none-eabihf/$DIR/examples/$name"
    local log="target/$name.console.log" out status=0
    timeout "$TIMEOUT" qemu-system-arm -M mps2-an386 -nographic \
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
    "hello from the Cortex-M4F board (FPU enabled: true)" \
    "hello from wasm on the Cortex-M4F" \
    "fib(40) = 102334155" \
    "hypot(3, 4) = 5" \
    "MPU: 4 of 8 regions in use with one memory slot guarded"
boot test_guard 0 \
    "[ok] front guard below the victim's memory is live" \
    "attacker store(65536): wasm trap: out of bounds memory access" \
    "attacker store(-4): wasm trap: out of bounds memory access" \
    "attacker div(1, 0): wasm trap: integer divide by zero" \
    "attacker div(i32::MIN, -1): wasm trap: integer overflow" \
    "attacker recurse(0): wasm trap: call stack exhausted" \
    "[ok] every trap went through the UsageFault handler (a udf trap site each)" \
    "attacker fp_trap(2.0): wasm trap: unreachable" \
    "[ok] the trap was taken with the extended (FP) exception frame" \
    "[ok] s16-s31 intact across the trap (AAPCS callee-saved FP registers)" \
    "[ok] victim memory bit-identical before and after" \
    "cortex-m7 image: image compiled for cortex-m7, this runtime runs cortex-m4f code" \
    "aarch64 image: image compiled for aarch64, this runtime runs cortex-m4f code" \
    "corrupt image: invalid image: image digest mismatch" \
    "[ok] refused images took no code memory" \
    "guard test: passed"
boot test_front_guard 0 \
    "broken image loaded (re-sealed digest accepted)" \
    "intact poke stored 0x5a5a5a5a at address 0" \
    "[ok] the attacker's front guard is live (an MPU no-access region)" \
    "calling the broken poke (stores at memory base - 4" \
    "broken poke: wasm trap: out of bounds memory access" \
    "[ok] the unlisted store below the memory is a typed out-of-bounds trap" \
    "[ok] it went through the MemManage handler's guard-region rule" \
    "[ok] another instance called successfully after the trap" \
    "[ok] victim memory bit-identical before and after" \
    "[ok] front guard still live" \
    "front guard test: passed"
boot test_wild_store 3 \
    "wild image loaded (re-sealed digest accepted)" \
    "calling the wild poke (stores at 0x30000000, outside every slot)..." \
    "fatal: BusFault CFSR=0x00008200" \
    "BFAR=0x30000000" \
    "(PRECISERR BFARVALID)" \
    "the faulting PC is in wasm text: not a listed trap site, not a guard-region access"
if grep -q "wild poke returned\|wasm trap" <(tr -d '\r' <target/test_wild_store.console.log); then
    echo "FAIL test_wild_store: the wild store returned or became a trap"
    failures=$((failures + 1))
fi
boot test_wx 3 \
    "published code runs: div(42, 6) = Ok(7)" \
    "writing to published code at 0x200000..." \
    "fatal: MemManage CFSR=0x00000082" \
    "(DACCVIOL MMARVALID)"
if grep -q "FAIL" <(tr -d '\r' <target/test_wx.console.log); then
    echo "FAIL test_wx: the write to published code succeeded"
    failures=$((failures + 1))
fi

boot test_stack_guard 3 \
    "recursing until the program stack reaches its guard..." \
    "fatal: MemManage CFSR=0x00000092" \
    "(no frame: stacking failed)" \
    "(DACCVIOL MSTKERR MMARVALID)"
# The faulting address lies in the guard, 0x20100000..0x20100400 (where depends on the frames).
if ! grep -qE 'MMFAR=0x20100[0-3][0-9a-f]{2} ' <(tr -d '\r' <target/test_stack_guard.console.log); then
    echo "FAIL test_stack_guard: MMFAR not in the program stack guard"
    failures=$((failures + 1))
fi

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
boot test_unexpected_exception 3 \
    "raising SVCall..." \
    "fatal: unexpected SVCall (exception 11)"

echo "== wasm-aot run --board mps2-an386 vs hosted wasm-aot run (qemu-arm)"
export WASM_AOT_BOARD_RUNNER_MPS2_AN386="$PWD/target/thumbv7em-none-eabihf/$DIR/examples/runner"
export WASM_AOT_RUNNER_ARMV7="$PWD/../../target/armv7-unknown-linux-gnueabihf/debug/wasm-aot-runner"
cli=target/cli
mkdir -p "$cli"
"$aot" compile cli/run.wat --target cortex-m4f -o "$cli/run.img" 2>/dev/null
"$aot" compile ../../tests/fuel/budget.wat --target cortex-m4f --fuel --epoch -o "$cli/budget.img" \
    2>/dev/null
image=$cli/run.img
limits=()
# compare NAME EXPECTED_STATUS ARGS...: both runs of $image under the budget flags $limits must
# print the same stdout and stderr and exit with EXPECTED_STATUS.
compare() {
    local name=$1 expected=$2 board_status=0 hosted_status=0
    shift 2
    timeout "$TIMEOUT" "$aot" run --board mps2-an386 "${limits[@]}" "$image" --invoke "$name" "$@" \
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
in_place=$("$aot" run --board mps2-an386 --load in-place "$cli/run.img" --invoke none 2>&1) \
    || in_place_status=$?
if [ "$in_place_status" = 1 ] && grep -q "has no image partition" <<<"$in_place"; then
    echo "ok   run --board mps2-an386 --load in-place refused"
else
    echo "FAIL run --board mps2-an386 --load in-place was not refused"
    failures=$((failures + 1))
fi

echo "== spec testsuite bundle on the board vs qemu-arm user mode (spec-bundle.sh)"
if ! PROFILE="$PROFILE" ./spec-bundle.sh; then
    failures=$((failures + 1))
fi

if [ $failures != 0 ]; then
    echo "mps2-an386: $failures firmware test(s) failed"
    exit 1
fi
echo "mps2-an386: all tests passed"
