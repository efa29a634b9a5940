//! PL011 UART console at `0x0900_0000` (QEMU `virt`; `-nographic` connects it to stdio).
//!
//! QEMU's PL011 transmits without any setup; a real PL011 would need baud rate and enable
//! bits first. Use [`crate::println!`] / [`crate::print!`].

use core::fmt::{self, Write};

/// The PL011 data register and flag register, the only unsafe part of the console.
mod registers {
    const UART_BASE: usize = 0x0900_0000;
    const DATA: usize = 0x00;
    const FLAGS: usize = 0x18;
    const TX_FULL: u32 = 1 << 5;

    /// Sends one byte, waiting while the transmit FIFO is full.
    pub fn write_byte(byte: u8) {
        // SAFETY: the PL011 of the `virt` machine is at UART_BASE, mapped as device memory by
        // the board's page tables (or accessed with the MMU off, where every access is device
        // memory); reading FR and writing DR have no effect beyond the UART.
        unsafe {
            while core::ptr::read_volatile((UART_BASE + FLAGS) as *const u32) & TX_FULL != 0 {}
            core::ptr::write_volatile((UART_BASE + DATA) as *mut u32, byte as u32);
        }
    }
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
