#!/usr/bin/env bash
# Prints the device runtime's code size: the `.text` a firmware keeps when it links the runtime
# and uses its API (boards/size-probe, opt-level "z", LTO, --gc-sections), per target.
set -euo pipefail
cd "$(dirname "$0")/../boards/size-probe"
printf '%-24s %10s %10s %10s\n' target .text .rodata .bss
for t in thumbv7em-none-eabihf aarch64-unknown-none; do
    cargo build -q --release --target "$t"
    elf=target/$t/release/size-probe
    case $t in thumb*) size=arm-linux-gnueabihf-size ;; *) size=aarch64-linux-gnu-size ;; esac
    # The probe's own 4 KiB image buffer and 16 KiB store arena are in .bss; they are the
    # firmware's choice, not the runtime's.
    $size -A "$elf" | awk -v t="$t" '$1==".text"{x=$2} $1==".rodata"{r=$2} $1==".bss"{b=$2} END{printf "%-24s %10d %10d %10d\n", t, x, r, b}'
done
echo
echo "Both are the complete runtime (loader, instantiation, libcalls, API); the probe declares a"
echo "Cortex-M4F core on thumbv7em."
