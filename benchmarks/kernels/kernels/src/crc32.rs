//! CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320), table-driven, one byte per step: the
//! checksum of firmware updates and network frames.

use crate::scratch::with_scratch;

/// Bytes checksummed per iteration.
pub const LEN: usize = 1024;

/// The 256-entry table, computed at compile time (read-only data natively, a data segment in
/// wasm).
static TABLE: [u32; 256] = table();

const fn table() -> [u32; 256] {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
            bit += 1;
        }
        table[i] = c;
        i += 1;
    }
    table
}

/// The CRC-32 of `data`.
pub fn checksum(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc = TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    !crc
}

/// `n` iterations: each checksums the buffer, then stirs the result into one byte of it.
pub fn run(n: u32) -> u32 {
    with_scratch(|s| {
        for (i, b) in s.bytes.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(31).wrapping_add(7);
        }
        let mut crc = 0;
        for k in 0..n {
            crc = checksum(&s.bytes);
            s.bytes[k as usize % LEN] ^= crc as u8;
        }
        crc
    })
    .unwrap_or(0)
}
