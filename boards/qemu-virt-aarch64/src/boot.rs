//! Reset entry, the board's `main` call and the panic handler.
//!
//! `_start` runs with the MMU and caches off, at EL1 or EL2 (QEMU's `virt` machine starts an
//! ELF kernel at EL1 unless `virtualization=on`; at EL2 we drop to EL1 first). Registers it
//! sets: `HCR_EL2.RW` (EL2 only), `VBAR_EL1`, `CPACR_EL1.FPEN` (FP/SIMD usable: Rust and wasm
//! code use the vector registers), `SP_EL1` = exception stack, then `SPSel = 0` and `SP_EL0` =
//! program stack. `.bss` (which also holds the page tables; the pools are outside it, see
//! [`crate::memory_map`]) is zeroed with the 16-byte stores below before any Rust code runs;
//! the linker script aligns its bounds to 16.

use crate::{console, mmu, semihosting};

core::arch::global_asm!(
    ".section .text.boot, \"ax\"",
    ".globl _start",
    ".type _start, %function",
    "_start:",
    "    mrs x0, CurrentEL",
    "    ubfx x0, x0, #2, #2",
    "    cmp x0, #2",
    "    b.ne 1f",
    // EL2 -> EL1: EL1 is AArch64, timers accessible from EL1, return to EL1h with DAIF masked.
    "    mov x0, #(1 << 31)",
    "    msr hcr_el2, x0",
    "    mov x0, #3",
    "    msr cnthctl_el2, x0",
    "    msr cntvoff_el2, xzr",
    "    mov x0, #0x3c5",
    "    msr spsr_el2, x0",
    "    adr x0, 1f",
    "    msr elr_el2, x0",
    "    eret",
    "1:",
    "    msr spsel, #1",
    "    adrp x0, __exception_stack_top",
    "    add x0, x0, :lo12:__exception_stack_top",
    "    mov sp, x0",
    "    adrp x0, board_vectors",
    "    add x0, x0, :lo12:board_vectors",
    "    msr vbar_el1, x0",
    "    mov x0, #(3 << 20)",
    "    msr cpacr_el1, x0",
    "    isb",
    "    adrp x0, __bss_start",
    "    add x0, x0, :lo12:__bss_start",
    "    adrp x1, __bss_end",
    "    add x1, x1, :lo12:__bss_end",
    "2:",
    "    cmp x0, x1",
    "    b.hs 3f",
    "    stp xzr, xzr, [x0], #16",
    "    b 2b",
    "3:",
    "    msr spsel, #0",
    "    adrp x0, __stack_top",
    "    add x0, x0, :lo12:__stack_top",
    "    mov sp, x0",
    "    bl board_start",
    "4:",
    "    wfe",
    "    b 4b",
    ".size _start, . - _start",
);

unsafe extern "Rust" {
    /// Defined by the firmware with [`crate::entry!`].
    fn __qemu_virt_aarch64_main() -> u32;
}

#[unsafe(no_mangle)]
extern "C" fn board_start() -> ! {
    mmu::init();
    // SAFETY: `entry!` defines this symbol with exactly this signature; a firmware that does
    // not use `entry!` fails to link.
    let status = unsafe { __qemu_virt_aarch64_main() };
    semihosting::exit(status)
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    console::print_fmt(format_args!("panic: {info}\n"));
    semihosting::exit(101)
}
