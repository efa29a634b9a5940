#!/usr/bin/env bash
# Load-cost benchmark on the board: guest instructions from image bytes in flash to the first
# call's return, by stage (load, Store::try_new, instantiate, first call), for images of three
# sizes, executed in place and copied into RAM. Counted exactly by the board's performance
# monitors (INST_RETIRED) with QEMU's -icount; see examples/bench_load.rs.
#
# The images are generated modules of N functions (each: 12 arithmetic statements and a store
# loop; the same shape as tests/src/bin/bench.rs), compiled with `wasm-aot compile --format bin`
# and flashed into the image partition with QEMU's loader. A benchmark: it prints figures and
# fails only if something does not run.
# Usage: boards/qemu-virt-aarch64/bench-load.sh   (release firmware, as shipped)
set -euo pipefail
cd "$(dirname "$0")"

(cd ../.. && cargo build --quiet --release -p host-compiler --bin wasm-aot)
cargo build --quiet --release --example bench_load
aot=../../target/release/wasm-aot
dir=target/bench-load
mkdir -p "$dir"

# generate N: a module of N exported functions f0..f(N-1), (i32, i32) -> i32.
generate() {
    python3 - "$1" <<'PY'
import sys
n = int(sys.argv[1])
out = ['(module (memory 1) (global $g (mut i32) (i32.const 0))']
for k in range(n):
    out.append(f'(func $f{k} (export "f{k}") (param i32 i32) (result i32) (local i32)')
    for j in range(12):
        out.append(f'  (local.set 2 (i32.add (local.get 2) (i32.xor (i32.mul (local.get 0) '
                   f'(i32.const {j * 31 + 1})) (i32.const {j}))))')
    out.append('  (block $b (loop $l (br_if $b (i32.eqz (local.get 1)))')
    out.append('    (i32.store (i32.and (local.get 1) (i32.const 0xfffc)) (local.get 2))')
    out.append('    (local.set 1 (i32.sub (local.get 1) (i32.const 1))) (br $l)))')
    out.append('  (global.set $g (local.get 2)) (local.get 2))')
out.append(')')
print('\n'.join(out))
PY
}

flash=()
slot=(0x4000000 0x4100000 0x4400000)
i=0
for n in 1 100 3000; do
    generate "$n" >"$dir/gen$n.wat"
    "$aot" compile "$dir/gen$n.wat" --target aarch64 --format bin -o "$dir/gen$n.bin" 2>/dev/null
    echo "image gen$n: $n functions, $(stat -c %s "$dir/gen$n.bin") bytes, flashed at ${slot[$i]}"
    flash+=(-device "loader,file=$dir/gen$n.bin,addr=${slot[$i]},force-raw=on")
    i=$((i + 1))
done

status=0
timeout 300 qemu-system-aarch64 -M virt -cpu cortex-a53 -m 256M -nographic -semihosting \
    -icount shift=0 -kernel target/aarch64-unknown-none/release/examples/bench_load \
    "${flash[@]}" </dev/null | tr -d '\r' || status=$?
if [ "$status" != 0 ]; then
    echo "bench-load: firmware exited with status $status"
    exit 1
fi
