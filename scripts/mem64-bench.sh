#!/usr/bin/env bash
# The cost of a memory64 load against a 32-bit memory's load (issue 7), in guest instructions,
# on AArch64 (Cranelift) and on Cortex-M (the Thumb-2 backend). A benchmark that prints figures;
# nothing is asserted except that every compile and run succeeds.
#
# benchmarks/mem64/*.wat: one loop, `run(n)`, whose iteration does eight `i32.load`s at
# `p + 0, 4, ..., 28` (the `-loads` modules) or nothing in their place (the `-base` modules),
# then the same address arithmetic (`p = (p + 32) & 0xffe0`, in i32 or i64) and loop control.
# mem32 declares `(memory 1)`, mem64 `(memory i64 1)` (the address is an i64; every access is
# explicitly checked, `index + offset + 4 <= length`, without wrapping in 64 bits).
#
# Each image is run by the hosted device runtime (`wasm-aot-runner IMAGE run N`, what
# `wasm-aot run` starts) under qemu-aarch64 or qemu-arm with our TCG plugin
# tools/qemu-insn-count (exact guest instruction counts), for n = N and n = 2N;
# (count(2N) - count(N)) / N is one iteration (start-up, load and printing cancel out).
# Per load = (loads - base) / 8: one load with its bounds check and the xor that consumes it,
# less the baseline's xor of a constant.
#
# Usage: scripts/mem64-bench.sh [N]   (default N = 2000)
# Needs: qemu-aarch64 and qemu-arm with their Debian sysroots (/usr/aarch64-linux-gnu,
# /usr/arm-linux-gnueabihf), the cross linkers of .cargo/config.toml, a C compiler (the plugin).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-2000}
case $N in '' | *[!0-9]* | 0) echo "usage: $0 [N > 0]" >&2; exit 2 ;; esac

plugin="$root/target/libinsn_count.so"
if [ ! -f "$plugin" ]; then
    mkdir -p "$root/target"
    cc -O2 -shared -fPIC -o "$plugin" "$root/tools/qemu-insn-count/insn_count.c"
fi

echo "== building (wasm-aot, and the runner for aarch64 and armv7, release)" >&2
(cd "$root" && cargo build --quiet --release -p host-compiler --bin wasm-aot &&
    cargo build --quiet --release -p wasm-aot-runner --target aarch64-unknown-linux-gnu &&
    cargo build --quiet --release -p wasm-aot-runner --target armv7-unknown-linux-gnueabihf)
wasm_aot="$root/target/release/wasm-aot"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# count TARGET IMAGE N: prints the guest instructions of one run.
count() {
    local target=$1 image=$2 n=$3 qemu sysroot runner
    case $target in
        aarch64) qemu=qemu-aarch64 sysroot=/usr/aarch64-linux-gnu
            runner="$root/target/aarch64-unknown-linux-gnu/release/wasm-aot-runner" ;;
        *) qemu=qemu-arm sysroot=/usr/arm-linux-gnueabihf
            runner="$root/target/armv7-unknown-linux-gnueabihf/release/wasm-aot-runner" ;;
    esac
    local out="$work/count" log="$work/log"
    if ! "$qemu" -L "$sysroot" -plugin "$plugin,out=$out" -d plugin \
        "$runner" "$image" run "$n" >/dev/null 2>"$log"; then
        echo "$image under $qemu failed: $(grep -v '^insn_count' "$log" | head -3)" >&2
        return 1
    fi
    sed -n 's/^insn_count: *//p' "$out"
}

printf '%-11s %-6s %14s %14s %10s\n' target memory "base/iter" "loads/iter" "per load"
for target in aarch64 cortex-m4f cortex-m7 cortex-m55; do
    declare -A per=()
    for mem in mem32 mem64; do
        for variant in base loads; do
            image="$work/$mem-$variant-$target.img"
            if ! "$wasm_aot" compile "$root/benchmarks/mem64/$mem-$variant.wat" \
                --target "$target" -o "$image" >/dev/null 2>"$work/compile.log"; then
                cat "$work/compile.log" >&2
                exit 1
            fi
            one=$(count "$target" "$image" "$N")
            two=$(count "$target" "$image" $((2 * N)))
            per[$mem,$variant]=$(awk -v n="$N" -v a="$one" -v b="$two" 'BEGIN { printf "%.2f", (b - a) / n }')
        done
        per_load=$(awk -v a="${per[$mem,base]}" -v b="${per[$mem,loads]}" 'BEGIN { printf "%.2f", (b - a) / 8 }')
        printf '%-11s %-6s %14s %14s %10s\n' "$target" "$mem" "${per[$mem,base]}" \
            "${per[$mem,loads]}" "$per_load"
    done
done
echo "(guest instructions per loop iteration, (count(2N) - count(N)) / N with N = $N; per load = (loads - base) / 8)"
