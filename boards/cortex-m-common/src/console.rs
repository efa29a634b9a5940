//! Console on an Arm CMSDK APB UART (the UART of the MPS2 and MPS3 FPGA images), transmit
//! only. The board names its UART with [`init`] at boot; until then output is dropped.
//! Use [`crate::println!`] / [`crate::print!`].

use core::fmt::{self, Write};

/// The UART registers, the only unsafe part of the console.
mod registers {
    use core::sync::atomic::{AtomicUsize, Ordering};

    /// Base address of the console UART (0: not initialised), set once by [`enable`].
    static BASE: AtomicUsize = AtomicUsize::new(0);

    /// Data register: a write transmits the low byte.
    const DATA: usize = 0x00;
    /// State register: bit 0 = transmit buffer full.
    const STATE: usize = 0x04;
    /// Control register: bit 0 = transmit enable.
    const CTRL: usize = 0x08;
    /// Baud rate divider (at least 16; QEMU ignores the rate but checks the minimum).
    const BAUDDIV: usize = 0x10;
    const TX_FULL: u32 = 1 << 0;
    const TX_ENABLE: u32 = 1 << 0;

    /// Enables the transmitter of the UART at `base` and makes it the console.
    ///
    /// # Safety
    /// `base` is the base address of a CMSDK APB UART that nothing else drives.
    pub unsafe fn enable(base: usize) {
        // SAFETY: guaranteed by the caller: these are the UART's registers.
        unsafe {
            core::ptr::write_volatile((base + BAUDDIV) as *mut u32, 16);
            core::ptr::write_volatile((base + CTRL) as *mut u32, TX_ENABLE);
        }
        BASE.store(base, Ordering::Release);
    }

    /// Sends one byte, waiting while the transmit buffer is full; nothing before [`enable`].
    pub fn write_byte(byte: u8) {
        let base = BASE.load(Ordering::Acquire);
        if base == 0 {
            return;
        }
        // SAFETY: `enable` stored this base, which its caller promised is a CMSDK APB UART
        // that nothing else drives; reading STATE and writing DATA only transmit.
        unsafe {
            while core::ptr::read_volatile((base + STATE) as *const u32) & TX_FULL != 0 {}
            core::ptr::write_volatile((base + DATA) as *mut u32, byte as u32);
        }
    }
}

/// Makes the CMSDK APB UART at `base` the console and enables its transmitter.
///
/// # Safety
/// `base` is the base address of a CMSDK APB UART of this board, not used by anything else.
pub unsafe fn init(base: usize) {
    // SAFETY: guaranteed by the caller.
    unsafe { registers::enable(base) };
}

/// The console; writes go straight to the UART.
#[derive(Debug, Clone, Copy)]
pub struct Console;

impl Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        write_bytes(s.as_bytes());
        Ok(())
    }
}

/// Writes raw bytes (`\n` becomes `\r\n`).
pub fn write_bytes(bytes: &[u8]) {
    for &b in bytes {
        if b == b'\n' {
            registers::write_byte(b'\r');
        }
        registers::write_byte(b);
    }
}

/// Writes formatted text.
pub fn print_fmt(args: fmt::Arguments<'_>) {
    let _ = Console.write_fmt(args);
}

/// Prints to the console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print_fmt(format_args!($($arg)*)) };
}

/// Prints a line to the console.
#[macro_export]
macro_rules! println {
    () => { $crate::console::write_bytes(b"\n") };
    ($($arg:tt)*) => {{
        $crate::console::print_fmt(format_args!($($arg)*));
        $crate::console::write_bytes(b"\n");
    }};
}
