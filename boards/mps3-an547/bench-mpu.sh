#!/usr/bin/env bash
# Instructions per MPU state change on the board (replan of the whole PMSAv8 map plus applying
# it: examples/bench_mpu.rs), counted exactly by the project's QEMU plugin
# (tools/qemu-insn-count) as the difference of runs with N and 2N changes, so boot and setup
# cancel out. Prints the figure; asserts nothing about it.
# Usage: boards/mps3-an547/bench-mpu.sh   (PROFILE=release by default; N=200)
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)

PROFILE=${PROFILE:-release}
N=${N:-200}
case "$PROFILE" in dev) DIR=debug ;; *) DIR=$PROFILE ;; esac
plugin="$root/target/libinsn_count.so"
if [ ! -f "$plugin" ] || [ "$root/tools/qemu-insn-count/insn_count.c" -nt "$plugin" ]; then
    cc -O2 -shared -fPIC -o "$plugin" "$root/tools/qemu-insn-count/insn_count.c"
fi
cargo build --quiet --profile "$PROFILE" --example bench_mpu
elf="target/thumbv8m.main-none-eabihf/$DIR/examples/bench_mpu"

# count ITERATIONS MODE
count() {
    local out
    out=$(mktemp)
    timeout 120 qemu-system-arm -M mps3-an547 -nographic -icount shift=0 \
        -semihosting-config enable=on,target=native -kernel "$elf" \
        -device loader,addr=0x21000000,data="$1",data-len=4 \
        -device loader,addr=0x21000004,data="$2",data-len=4 \
        -plugin "$plugin,out=$out" -d plugin </dev/null >/dev/null 2>&1
    sed -n 's/^insn_count: *//p' "$out"
    rm -f "$out"
}

for mode in 0 1 2; do
    one=$(count "$N" $mode)
    two=$(count $((2 * N)) $mode)
    what=("MPU state change (replan + apply)" "plan alone (v8::plan)"
        "PMSAv7 plan of the same map (v7::plan, the mps2-an386 planner)")
    echo "bench-mpu ($PROFILE): $(((two - one) / (2 * N))) instructions per ${what[$mode]}," \
        "2 live guards ($N -> $one, $((2 * N)) -> $two)"
done
