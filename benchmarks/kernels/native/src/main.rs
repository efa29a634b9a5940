//! The benchmark kernels compiled natively by rustc for `thumbv7em-none-eabihf`, as a static
//! Linux executable that `qemu-arm` runs directly: no C library, no allocator, two system
//! calls.
//!
//! `bench-kernels-native KERNEL N` runs `N` iterations of `KERNEL` and prints its checksum as
//! a signed decimal i32 (the way `wasm-aot run` prints the wasm export's result), then exits
//! with status 0; with no arguments it lists the kernels, one per line. Bad arguments exit
//! with status 2.
//!
//! Linux starts the process at `_start` with `sp` pointing at `argc`, then `argv[0..argc]`. The
//! system calls are the ARM EABI ones: number in r7, `svc #0`. rustc reserves r7 (the Thumb
//! frame pointer) in inline assembly, so they are two small assembly functions instead.

#![no_std]
#![no_main]

use bench_kernels::KERNELS;

core::arch::global_asm!(
    ".section .text._start,\"ax\",%progbits",
    ".global _start",
    ".type _start,%function",
    ".thumb_func",
    "_start:",
    "    mov r0, sp",
    "    bl {main}",
    "    udf #0",
    "",
    ".section .text.sys_write,\"ax\",%progbits",
    ".global bench_sys_write",
    ".type bench_sys_write,%function",
    ".thumb_func",
    "bench_sys_write:",
    "    push {{r7, lr}}",
    "    movs r7, #4",
    "    svc #0",
    "    pop {{r7, pc}}",
    "",
    ".section .text.sys_exit,\"ax\",%progbits",
    ".global bench_sys_exit",
    ".type bench_sys_exit,%function",
    ".thumb_func",
    "bench_sys_exit:",
    "    movs r7, #1",
    "    svc #0",
    "    b bench_sys_exit",
    main = sym start,
);

unsafe extern "C" {
    /// Linux `write(fd, buf, len)` (EABI system call 4); returns bytes written or `-errno`.
    fn bench_sys_write(fd: i32, buf: *const u8, len: usize) -> isize;
    /// Linux `exit(status)` (EABI system call 1).
    fn bench_sys_exit(status: i32) -> !;
}

fn write(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is a live slice, so `write` reads only memory we own.
        let n = unsafe { bench_sys_write(fd, bytes.as_ptr(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[(n as usize).min(bytes.len())..];
    }
}

fn exit(status: i32) -> ! {
    // SAFETY: `exit` ends the process; it has no memory-safety preconditions.
    unsafe { bench_sys_exit(status) }
}

/// The NUL-terminated string at `p` (a Linux argument).
///
/// # Safety
///
/// `p` points at a NUL-terminated string that stays valid and unchanged for the rest of the
/// process (the kernel's argument strings do).
unsafe fn c_str(p: *const u8) -> &'static [u8] {
    let mut len = 0;
    // SAFETY: the caller guarantees a NUL within the string, so every byte up to it is readable.
    while unsafe { *p.add(len) } != 0 {
        len += 1;
    }
    // SAFETY: `len` bytes from `p` were just read and stay valid (caller's guarantee).
    unsafe { core::slice::from_raw_parts(p, len) }
}

fn parse_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() {
        return None;
    }
    s.iter().try_fold(0u32, |acc, &c| {
        c.is_ascii_digit()
            .then_some(())
            .and_then(|()| acc.checked_mul(10)?.checked_add(u32::from(c - b'0')))
    })
}

/// `value` in signed decimal followed by a newline.
fn format_i32(value: i32, buf: &mut [u8; 12]) -> &[u8] {
    let mut at = buf.len() - 1;
    buf[at] = b'\n';
    let mut v = value.unsigned_abs();
    loop {
        at -= 1;
        buf[at] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    if value < 0 {
        at -= 1;
        buf[at] = b'-';
    }
    &buf[at..]
}

/// Called by `_start` with the initial stack pointer.
extern "C" fn start(stack: *const usize) -> ! {
    // SAFETY: Linux starts a process with `argc` at `sp`, followed by `argc` pointers to
    // NUL-terminated argument strings that live as long as the process.
    let args = unsafe { core::slice::from_raw_parts(stack.add(1) as *const *const u8, *stack) };
    if args.len() < 2 {
        for k in KERNELS {
            write(1, k.name.as_bytes());
            write(1, b"\n");
        }
        exit(0);
    }
    // SAFETY: as above, every argument pointer is a NUL-terminated string.
    let arg = |i: usize| unsafe { c_str(args[i]) };
    let kernel = KERNELS.iter().find(|k| k.name.as_bytes() == arg(1));
    let n = args.get(2).and_then(|_| parse_u32(arg(2)));
    let (Some(kernel), Some(n)) = (kernel, n) else {
        write(2, b"usage: bench-kernels-native [KERNEL N]\n");
        exit(2);
    };
    let result = (kernel.run)(n) as i32;
    write(1, format_i32(result, &mut [0; 12]));
    exit(0)
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    write(2, b"panic\n");
    exit(101)
}
