#!/bin/sh
# Regenerates host-compiler/src/thumb/asm/golden.txt, the golden Thumb-2 encodings the Thumb
# assembler's tests compare against, with GNU as from binutils for Arm.
#
# Needs arm-none-eabi-as, -objcopy and -nm (Debian: apt-get install binutils-arm-none-eabi).
# The case list is the Rust code in host-compiler/src/thumb/asm/golden.rs; add cases there, run
# this script, review the diff of golden.txt and commit both. The tests never need binutils.
set -eu
cd "$(dirname "$0")/.."
for tool in arm-none-eabi-as arm-none-eabi-objcopy arm-none-eabi-nm; do
    command -v "$tool" >/dev/null || {
        echo "$tool not found: apt-get install binutils-arm-none-eabi" >&2
        exit 1
    }
done
THUMB_GOLDEN_REGENERATE=1 cargo test -p host-compiler --lib thumb::asm::golden::regenerate \
    -- --ignored --exact
echo "regenerated host-compiler/src/thumb/asm/golden.txt ($(grep -vc '^#' host-compiler/src/thumb/asm/golden.txt) cases)"
