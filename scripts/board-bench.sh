#!/usr/bin/env bash
# Bounds-check cost on the qemu-virt-aarch64 board: guest instructions per element of the same
# memory-heavy kernel (boards/qemu-virt-aarch64/wasm/kernel.wat: read, update, write back and
# sum an i32 array in linear memory) compiled with explicit bounds checks and guard-elided,
# run bare metal by the board's `test_bounds_bench` firmware (release build).
#
# Counted by our plugin tools/qemu-insn-count under qemu-system-aarch64 (exact, independent of
# the host's load). Difference method: each variant is booted with N and with 2N elements, and
# (count(2N) - count(N)) / N is its cost per element: boot, load, instantiation and the call
# itself cancel out. A benchmark that prints figures; nothing is asserted.
#
# Usage: scripts/board-bench.sh [N]   (default N = 65536; 2N must be <= 262144)
# Needs qemu-system-aarch64 and a C compiler (for the plugin).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
board="$root/boards/qemu-virt-aarch64"
N=${1:-65536}

plugin="$root/target/libinsn_count.so"
if [ ! -f "$plugin" ]; then
    mkdir -p "$root/target"
    cc -O2 -shared -fPIC -o "$plugin" "$root/tools/qemu-insn-count/insn_count.c"
fi
(cd "$board" && cargo build --quiet --release --example test_bounds_bench)
elf="$board/target/aarch64-unknown-none/release/examples/test_bounds_bench"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# count VARIANT N: guest instructions of one boot that runs the kernel once over N elements.
count() {
    local out="$work/$1-$2.count" log="$work/$1-$2.log"
    if ! timeout 300 qemu-system-aarch64 -M virt -cpu cortex-a53 -m 256M -nographic \
        -semihosting-config "enable=on,target=native,arg=test_bounds_bench,arg=$1,arg=$2" \
        -kernel "$elf" -plugin "$plugin,out=$out" -d plugin </dev/null >"$log" 2>&1; then
        echo "boot $1 $2 failed:" >&2
        cat "$log" >&2
        exit 1
    fi
    sed -n 's/^insn_count: *//p' "$out"
}

echo "== bounds-check cost on qemu-virt-aarch64 (cortex-a53, bare metal, release firmware)"
echo "   kernel: a[i] = a[i] * 3 + i; sum += a[i]   (one i32 load + one i32 store per element)"
echo "   guest instructions, tools/qemu-insn-count; per element = (count(2N) - count(N)) / N, N = $N"
printf '%-14s %14s %14s %12s\n' "bounds checks" "count(N)" "count(2N)" "per element"
declare -A per
for variant in explicit elided; do
    one=$(count "$variant" "$N")
    two=$(count "$variant" $((2 * N)))
    per[$variant]=$(awk -v a="$one" -v b="$two" -v n="$N" 'BEGIN { printf "%.3f", (b - a) / n }')
    name=$variant
    [ "$variant" = elided ] && name=guard-elided
    printf '%-14s %14s %14s %12s\n' "$name" "$one" "$two" "${per[$variant]}"
done
awk -v e="${per[explicit]}" -v g="${per[elided]}" 'BEGIN {
    printf "explicit checks cost %.3f instructions per element more (%.2fx the guard-elided loop)\n",
        e - g, e / g }'
