#!/usr/bin/env bash
# The cost of fuel metering and epoch checks in Thumb-2 images (issue 6; goals: fuel at most 8%,
# epochs at most 4% extra guest instructions on compute kernels). A benchmark that prints
# figures; no goal is asserted. The one check: every image of a kernel returns the same
# checksum, or the script fails.
#
# The kernels are scripts/thumb-bench.sh's (benchmarks/kernels, built by rustc for
# wasm32-unknown-unknown), each compiled four times by the Thumb-2 backend for cortex-m4f and
# cortex-m7 (`wasm-aot compile --target T [--fuel] [--epoch]`): plain, with fuel, with epochs,
# with both. The images run on
# the hosted runtime under qemu-arm (`wasm-aot-runner IMAGE KERNEL N`; a store starts with
# u64::MAX fuel and no epoch deadline, so the instrumented code never leaves its fast path),
# counted by tools/qemu-insn-count as (count(2N) - count(N)) / N guest instructions per
# iteration, exactly as scripts/thumb-bench.sh counts. Overhead = instrumented / plain - 1.
#
# Usage: scripts/thumb-fuel-bench.sh [N]   (default N = 100)
# Needs what scripts/thumb-bench.sh needs (except nm and python3).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
N=${1:-100}
case $N in '' | *[!0-9]* | 0) echo "usage: $0 [N > 0]" >&2; exit 2 ;; esac
targets=(cortex-m4f cortex-m7)
variants=(plain fuel epochs both)
sysroot=/usr/arm-linux-gnueabihf

plugin="$root/target/libinsn_count.so"
if [ ! -f "$plugin" ]; then
    mkdir -p "$root/target"
    cc -O2 -shared -fPIC -o "$plugin" "$root/tools/qemu-insn-count/insn_count.c"
fi

echo "== building (wasm-aot and the armv7 runner in release, kernels)" >&2
# Only the Thumb-2 backend is needed: without Cranelift it builds in a fraction of the time.
(cd "$root" && cargo build --quiet --release -p host-compiler --no-default-features --bin wasm-aot)
(cd "$root" && cargo build --quiet --release -p wasm-aot-runner --target armv7-unknown-linux-gnueabihf)
kernels_target="$root/target/thumb-bench"
(cd "$root/benchmarks/kernels" && export CARGO_TARGET_DIR="$kernels_target" &&
    export CARGO_PROFILE_RELEASE_OPT_LEVEL=3 &&
    cargo build --quiet --release --target wasm32-unknown-unknown -p bench-kernels-wasm --examples &&
    cargo build --quiet --release --target thumbv7em-none-eabihf -p bench-kernels-native)
runner="$root/target/armv7-unknown-linux-gnueabihf/release/wasm-aot-runner"
wasm_aot="$root/target/release/wasm-aot"
native="$kernels_target/thumbv7em-none-eabihf/release/bench-kernels-native"
modules="$kernels_target/wasm32-unknown-unknown/release/examples"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run NAME PROGRAM ARGS...: as in scripts/thumb-bench.sh.
run() {
    local name=$1
    shift
    local out="$work/$name.count" log="$work/$name.log"
    if ! result=$(timeout 600 qemu-arm -L "$sysroot" -plugin "$plugin,out=$out" -d plugin "$@" \
        2>"$log"); then
        echo "$name failed: $(grep -v '^insn_count' "$log" | head -3) $result" >&2
        return 1
    fi
    count=$(sed -n 's/^insn_count: *//p' "$out")
}
per_iteration() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", (b - a) / n }'; }
overhead() { awk -v i="$1" -v p="$2" 'BEGIN { if (i + 0 > 0 && p + 0 > 0) printf "%+.1f%%", 100 * (i / p - 1); else print "-" }'; }

mapfile -t kernels < <(qemu-arm "$native")
status=0
declare -A row
for k in "${kernels[@]}"; do
    for t in "${targets[@]}"; do
        expected=""
        for v in "${variants[@]}"; do
            case $v in
                plain) flags=() ;; fuel) flags=(--fuel) ;; epochs) flags=(--epoch) ;; both) flags=(--fuel --epoch) ;;
            esac
            image="$work/$k-$t-$v.img"
            if ! "$wasm_aot" compile "$modules/$k.wasm" --target "$t" "${flags[@]}" -o "$image" \
                >"$work/compile.log" 2>&1; then
                echo "$k on $t ($v): $(cat "$work/compile.log")" >&2
                row[$k,$t,$v]=refused
                continue
            fi
            run "$k-$t-$v-1" "$runner" "$image" "$k" "$N" || { row[$k,$t,$v]=failed status=1; continue; }
            first=$result one=$count
            run "$k-$t-$v-2" "$runner" "$image" "$k" $((2 * N)) || { row[$k,$t,$v]=failed status=1; continue; }
            if [ -z "$expected" ]; then
                expected="$first/$result"
            elif [ "$expected" != "$first/$result" ]; then
                echo "MISMATCH: $k on $t ($v) returns $first / $result, plain $expected" >&2
                row[$k,$t,$v]=mismatch status=1
                continue
            fi
            row[$k,$t,$v]=$(per_iteration "$N" "$one" "$count")
        done
    done
done

echo "== fuel and epoch instrumentation, Thumb-2 backend: guest instructions per iteration"
echo "   qemu-arm + tools/qemu-insn-count, (count(2N) - count(N)) / N with N = $N; goals: fuel <= +8%, epochs <= +4%"
printf '%-9s %-10s %11s %11s %8s %11s %8s %11s %8s\n' kernel target plain fuel "" epochs "" both ""
declare -A logsum counted
for k in "${kernels[@]}"; do
    for t in "${targets[@]}"; do
        p=${row[$k,$t,plain]:--}
        printf '%-9s %-10s %11s' "$k" "$t" "$p"
        for v in fuel epochs both; do
            i=${row[$k,$t,$v]:--}
            printf ' %11s %8s' "$i" "$(overhead "$i" "$p")"
            if awk -v i="$i" -v p="$p" 'BEGIN { exit !(i + 0 > 0 && p + 0 > 0) }'; then
                logsum[$t,$v]=$(awk -v s="${logsum[$t,$v]:-0}" -v i="$i" -v p="$p" 'BEGIN { print s + log(i / p) }')
                counted[$t,$v]=$((${counted[$t,$v]:-0} + 1))
            fi
        done
        echo
    done
done
for t in "${targets[@]}"; do
    for v in fuel epochs both; do
        if [ "${counted[$t,$v]:-0}" -gt 0 ]; then
            awk -v s="${logsum[$t,$v]}" -v c="${counted[$t,$v]}" -v t="$t" -v v="$v" \
                'BEGIN { printf "geometric mean overhead on %s with %s: %+.1f%% (%d kernels)\n", t, v, 100 * (exp(s / c) - 1), c }'
        fi
    done
done
if [ "$status" != 0 ]; then
    echo "error: a kernel failed or returned a different checksum (see above)" >&2
fi
exit "$status"
