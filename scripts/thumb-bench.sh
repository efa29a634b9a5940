#!/usr/bin/env bash
# The Thumb-2 backend against rustc on real code (issue 5): guest instructions, text size and
# compile throughput on six compute kernels typical of firmware (benchmarks/kernels: CRC-32,
# SHA-256 compression, i32 16x16 matrix multiply, heapsort of 256 u32, 32-tap f32 FIR filter, a
# key=value parser state machine). A benchmark that prints figures; no goal is asserted. The one
# check: every build of a kernel must return the same checksum, or the script fails.
#
# The same Rust source is built twice by rustc 1.95 with the same profile (opt-level 3, or
# $THUMB_BENCH_OPT_LEVEL, e.g. s; LTO, one codegen unit, panic=abort):
#   native: for thumbv7em-none-eabihf (rustc's default CPU for the triple: ARMv7E-M + FPv4-SP),
#           a static Linux executable (`_start`, exit through `svc #0`) that qemu-arm runs
#           directly: `bench-kernels-native KERNEL N`;
#   wasm:   for wasm32-unknown-unknown, one module per kernel (a kernel the backend refuses does
#           not take the others with it; the refusal is printed with the compiler's error),
#           compiled by `wasm-aot compile --target cortex-m4f` and `--target cortex-m7`, and run
#           by the hosted device runtime (`wasm-aot-runner IMAGE KERNEL N`, what `wasm-aot run`
#           starts) under qemu-arm.
# Each kernel is `KERNEL(n) -> checksum`: setup, then n iterations, each one whole kernel
# invocation (a CRC over 1 KiB, one SHA-256 block, one matrix product, one sort, one filtered
# block of 256 samples, one parse of 512 bytes) that feeds on the previous one's result.
#
# What is counted: every guest instruction qemu-arm executes for the process, with our TCG
# plugin tools/qemu-insn-count (exact, independent of the host's load), for n = N and n = 2N.
# (count(2N) - count(N)) / N is the cost of one iteration: process start, image load and
# instantiation (wasm), setup and printing cancel out, and the two builds are measured the same
# way. The printing of a different checksum leaves a difference of a few instructions, under
# 0.1 per iteration at N = 100. Ratio = wasm / native (goal: at most 1.4x).
#
# Sizes: "wasm code" is the module's code section (function bodies), "image text" the image's
# text section (function bodies, instance entries, trampolines), goal at most 1.6x; "native
# text" is the size of rustc's Thumb functions of that kernel's module (`nm`), for reference.
# Compile throughput: `bench thumb-modules` (tests/src/bin/bench.rs), host-compiler in release
# on one thread, best single compile, MB of the whole .wasm file per second (goal >= 20).
#
# With --profile, each kernel is also run under benchmarks/insn-profile (the same counts split
# by instruction address, again as count(2N) - count(N)) natively and on cortex-m4f, and
# benchmarks/insn-profile/classify.py prints where the extra instructions of the wasm build go
# (bounds checks, address arithmetic, core<->FP moves, copies, constants, ...).
#
# Usage: [THUMB_BENCH_OPT_LEVEL=3|s|z|2] scripts/thumb-bench.sh [--profile] [N]   (default N = 100)
# Needs: the rust-toolchain.toml targets (wasm32-unknown-unknown, thumbv7em-none-eabihf,
# armv7-unknown-linux-gnueabihf), qemu-arm with the armhf sysroot in /usr/arm-linux-gnueabihf,
# arm-linux-gnueabihf-gcc (links the runner), a C compiler (the plugin), arm-none-eabi-nm or
# llvm-nm (optional: native text sizes), python3 (only for --profile).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=false
if [ "${1:-}" = --profile ]; then
    profile=true
    shift
fi
N=${1:-100}
case $N in '' | *[!0-9]* | 0) echo "usage: $0 [N > 0]" >&2; exit 2 ;; esac
targets=(cortex-m4f cortex-m7)
opt_level=${THUMB_BENCH_OPT_LEVEL:-3}
sysroot=/usr/arm-linux-gnueabihf

plugin="$root/target/libinsn_count.so"
if [ ! -f "$plugin" ]; then
    mkdir -p "$root/target"
    cc -O2 -shared -fPIC -o "$plugin" "$root/tools/qemu-insn-count/insn_count.c"
fi

echo "== building (host-compiler and bench in release, armv7 runner in release, kernels)" >&2
(cd "$root" && cargo build --quiet --release -p host-compiler --bin wasm-aot &&
    cargo build --quiet --release -p wasm-aot-runner --target armv7-unknown-linux-gnueabihf &&
    cargo build --quiet --release -p tests --bin bench)
kernels_target="$root/target/thumb-bench"
(cd "$root/benchmarks/kernels" && export CARGO_TARGET_DIR="$kernels_target" &&
    export CARGO_PROFILE_RELEASE_OPT_LEVEL="$opt_level" &&
    cargo build --quiet --release --target wasm32-unknown-unknown -p bench-kernels-wasm --examples &&
    cargo build --quiet --release --target thumbv7em-none-eabihf -p bench-kernels-native)
wasm_aot="$root/target/release/wasm-aot"
runner="$root/target/armv7-unknown-linux-gnueabihf/release/wasm-aot-runner"
bench="$root/target/release/bench"
native="$kernels_target/thumbv7em-none-eabihf/release/bench-kernels-native"
modules="$kernels_target/wasm32-unknown-unknown/release/examples"
nm=$(command -v arm-none-eabi-nm || command -v llvm-nm || true)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# run NAME PROGRAM ARGS...: runs PROGRAM under qemu-arm with the counting plugin; sets $count
# and $result (its stdout), or prints the failure and returns 1.
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

# per_iteration N COUNT(N) COUNT(2N)
per_iteration() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.1f", (b - a) / n }'; }

# native_text KERNEL: bytes of rustc's functions in bench_kernels::KERNEL (all inlined helpers
# included), or "-" without nm.
native_text() {
    if [ -z "$nm" ]; then
        echo -
        return
    fi
    "$nm" -C -S --radix=d "$native" | awk -v k="bench_kernels::$1::" \
        '$3 ~ /^[tT]$/ && index($0, k) { s += $2 } END { print s + 0 }'
}

mapfile -t kernels < <(qemu-arm "$native")
status=0
declare -A row
for k in "${kernels[@]}"; do
    run "native-$k-1" "$native" "$k" "$N" || { status=1; continue; }
    native_result=$result one=$count
    run "native-$k-2" "$native" "$k" $((2 * N)) || { status=1; continue; }
    native_result2=$result
    row[$k,native]=$(per_iteration "$N" "$one" "$count")
    row[$k,native_text]=$(native_text "$k")
    for t in "${targets[@]}"; do
        image="$work/$k-$t.img"
        if ! info=$("$wasm_aot" compile "$modules/$k.wasm" --target "$t" -o "$image" 2>&1); then
            row[$k,$t]="refused"
            echo "$k on $t: refused by the compiler: $info" >&2
            continue
        fi
        # "IMAGE: B bytes (T of text for C bytes of wasm code), ..."
        row[$k,text]=$(sed -n 's/.*(\([0-9]*\) of text for.*/\1/p' <<<"$info")
        row[$k,code]=$(sed -n 's/.*of text for \([0-9]*\) bytes of wasm code.*/\1/p' <<<"$info")
        if ! run "$k-$t-1" "$runner" "$image" "$k" "$N"; then
            row[$k,$t]="failed" status=1
            continue
        fi
        wasm_result=$result one=$count
        run "$k-$t-2" "$runner" "$image" "$k" $((2 * N)) || { row[$k,$t]="failed" status=1; continue; }
        if [ "$wasm_result" != "$native_result" ] || [ "$result" != "$native_result2" ]; then
            echo "MISMATCH: $k on $t returns $wasm_result / $result, natively $native_result / $native_result2" >&2
            row[$k,$t]="mismatch" status=1
            continue
        fi
        row[$k,$t]=$(per_iteration "$N" "$one" "$count")
    done
done

ratio() { awk -v w="$1" -v n="$2" 'BEGIN { if (w + 0 > 0 && n + 0 > 0) printf "%.2fx", w / n; else print "-" }'; }
echo "== Thumb-2 backend vs rustc thumbv7em-none-eabihf (opt-level $opt_level, LTO), guest instructions per iteration"
echo "   qemu-arm + tools/qemu-insn-count, (count(2N) - count(N)) / N with N = $N; goal: wasm/native <= 1.4x"
printf '%-9s %11s %11s %7s %11s %7s %8s %8s %8s %9s\n' kernel native cortex-m4f ratio cortex-m7 ratio \
    "native" "wasm" "image" "text/"
printf '%-9s %11s %11s %7s %11s %7s %8s %8s %8s %9s\n' "" insns insns "" insns "" text code text code
declare -A logsum
declare -A counted
for k in "${kernels[@]}"; do
    n=${row[$k,native]:--}
    m4=${row[$k,cortex-m4f]:--}
    m7=${row[$k,cortex-m7]:--}
    text=${row[$k,text]:--}
    code=${row[$k,code]:--}
    printf '%-9s %11s %11s %7s %11s %7s %8s %8s %8s %9s\n' "$k" "$n" "$m4" "$(ratio "$m4" "$n")" \
        "$m7" "$(ratio "$m7" "$n")" "${row[$k,native_text]:--}" "$code" "$text" "$(ratio "$text" "$code")"
    for t in "${targets[@]}"; do
        if awk -v w="${row[$k,$t]:-x}" -v n="$n" 'BEGIN { exit !(w + 0 > 0 && n + 0 > 0) }'; then
            logsum[$t]=$(awk -v s="${logsum[$t]:-0}" -v w="${row[$k,$t]}" -v n="$n" 'BEGIN { print s + log(w / n) }')
            counted[$t]=$((${counted[$t]:-0} + 1))
        fi
    done
done
for t in "${targets[@]}"; do
    if [ "${counted[$t]:-0}" -gt 0 ]; then
        awk -v s="${logsum[$t]}" -v c="${counted[$t]}" -v t="$t" \
            'BEGIN { printf "geometric mean of the ratios on %s: %.2fx (%d kernels)\n", t, exp(s / c), c }'
    fi
done

echo
echo "== compile throughput and text size, rustc-built kernel modules (bench thumb-modules; goals >= 20 MB/s, <= 1.6x)"
files=()
for k in "${kernels[@]}" all; do files+=("$modules/$k.wasm"); done
"$bench" thumb-modules "${files[@]}"

if $profile; then
    profiler="$root/target/libinsn_profile.so"
    cc -O2 -shared -fPIC -o "$profiler" "$root/benchmarks/insn-profile/insn_profile.c"
    echo
    echo "== where one iteration's instructions go, native vs cortex-m4f (benchmarks/insn-profile, N = $N)"
    for k in "${kernels[@]}"; do
        image="$work/$k-cortex-m4f.img"
        [ -f "$image" ] || continue
        for n in "$N" $((2 * N)); do
            qemu-arm -plugin "$profiler,out=$work/$k-native-$n.profile" -d plugin "$native" "$k" "$n" \
                >/dev/null 2>&1
            qemu-arm -L "$sysroot" -plugin "$profiler,out=$work/$k-wasm-$n.profile" -d plugin \
                "$runner" "$image" "$k" "$n" >/dev/null 2>&1
        done
        python3 "$root/benchmarks/insn-profile/classify.py" "$k" "$N" \
            "$work/$k-native-$N.profile" "$work/$k-native-$((2 * N)).profile" \
            "$work/$k-wasm-$N.profile" "$work/$k-wasm-$((2 * N)).profile"
    done
fi

if [ "$status" != 0 ]; then
    echo "error: a kernel failed or returned a different checksum than natively (see above)" >&2
fi
exit "$status"
