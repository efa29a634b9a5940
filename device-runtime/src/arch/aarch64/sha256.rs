//! SHA-256 block function on the Armv8 cryptographic extension (FEAT_SHA256: `SHA256H`,
//! `SHA256H2`, `SHA256SU0`, `SHA256SU1`), for image verification. The digest is most of the
//! cost of loading an image; these instructions do a 64-byte block in about 70 instructions
//! instead of about 2,000.
//!
//! [`compress`] uses them when the CPU has them and falls back to the portable function
//! otherwise. Detection, once: compiled-in (`target_feature = "sha2"`); with `std`, the
//! operating system's report (`is_aarch64_feature_detected!`); bare metal, `ID_AA64ISAR0_EL1`
//! (the runtime runs at EL1 there).

use core::arch::aarch64::{
    vaddq_u32, vld1q_u8, vld1q_u32, vreinterpretq_u32_u8, vrev32q_u8, vsha256h2q_u32,
    vsha256hq_u32, vsha256su0q_u32, vsha256su1q_u32, vst1q_u32,
};
use core::sync::atomic::{AtomicU8, Ordering};

use shared_types::header::compress_portable;

/// Round constants (FIPS 180-4, 4.2.2).
const K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

const UNKNOWN: u8 = 0;
const ABSENT: u8 = 1;
const PRESENT: u8 = 2;
static DETECTED: AtomicU8 = AtomicU8::new(UNKNOWN);

/// Whether the CPU implements the SHA-256 instructions.
pub fn has_sha256() -> bool {
    match DETECTED.load(Ordering::Relaxed) {
        PRESENT => true,
        ABSENT => false,
        _ => {
            let present = detect();
            DETECTED.store(if present { PRESENT } else { ABSENT }, Ordering::Relaxed);
            present
        }
    }
}

#[cfg(target_feature = "sha2")]
fn detect() -> bool {
    true
}

#[cfg(all(not(target_feature = "sha2"), feature = "std"))]
fn detect() -> bool {
    std::arch::is_aarch64_feature_detected!("sha2")
}

#[cfg(all(not(target_feature = "sha2"), not(feature = "std"), target_os = "none"))]
fn detect() -> bool {
    let isar0: u64;
    // SAFETY: reading an ID register has no side effect; bare metal, the runtime runs at EL1,
    // where ID_AA64ISAR0_EL1 is readable.
    unsafe {
        core::arch::asm!("mrs {}, id_aa64isar0_el1", out(reg) isar0, options(nomem, nostack))
    };
    // Bits [15:12]: SHA2; 1 = SHA256H/H2/SU0/SU1 implemented.
    (isar0 >> 12) & 0xf >= 1
}

#[cfg(all(
    not(target_feature = "sha2"),
    not(feature = "std"),
    not(target_os = "none")
))]
fn detect() -> bool {
    false
}

/// SHA-256 block function for [`shared_types::header::ImageHeader::verify_digest_with`]: the
/// SHA-256 instructions when present, the portable code otherwise.
pub fn compress(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    if has_sha256() {
        // SAFETY: the CPU implements FEAT_SHA256 (checked above), the only requirement of the
        // `sha2` target feature the function is compiled with.
        unsafe { compress_sha256(state, blocks) }
    } else {
        compress_portable(state, blocks)
    }
}

/// # Safety
/// The CPU implements FEAT_SHA256.
#[target_feature(enable = "sha2")]
unsafe fn compress_sha256(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    // SAFETY: every pointer below points to 16 readable (or, for the stores, writable) bytes
    // inside `state`, `K` or a 64-byte block; NEON loads and stores have no alignment
    // requirement beyond the element size.
    unsafe {
        let mut abcd = vld1q_u32(state.as_ptr());
        let mut efgh = vld1q_u32(state.as_ptr().add(4));
        for block in blocks {
            let (saved_abcd, saved_efgh) = (abcd, efgh);
            // Message words are big-endian.
            let mut w0 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(block.as_ptr())));
            let mut w1 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(block.as_ptr().add(16))));
            let mut w2 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(block.as_ptr().add(32))));
            let mut w3 = vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(block.as_ptr().add(48))));
            // Sixteen groups of four rounds, written out so the message words stay in
            // registers whatever the optimisation level. Group g uses W[4g..4g+4] (in the
            // first of its four words) and, for g < 12, replaces it with W[4g+16..4g+20] =
            // SU1(SU0(W[4g..], W[4g+4..]), W[4g+8..], W[4g+12..]).
            macro_rules! group {
                ($g:expr, $a:ident, $b:ident, $c:ident, $d:ident, schedule) => {
                    let wk = vaddq_u32($a, vld1q_u32(K.as_ptr().add(4 * $g)));
                    $a = vsha256su1q_u32(vsha256su0q_u32($a, $b), $c, $d);
                    let previous = abcd;
                    abcd = vsha256hq_u32(abcd, efgh, wk);
                    efgh = vsha256h2q_u32(efgh, previous, wk);
                };
                ($g:expr, $a:ident) => {
                    let wk = vaddq_u32($a, vld1q_u32(K.as_ptr().add(4 * $g)));
                    let previous = abcd;
                    abcd = vsha256hq_u32(abcd, efgh, wk);
                    efgh = vsha256h2q_u32(efgh, previous, wk);
                };
            }
            group!(0, w0, w1, w2, w3, schedule);
            group!(1, w1, w2, w3, w0, schedule);
            group!(2, w2, w3, w0, w1, schedule);
            group!(3, w3, w0, w1, w2, schedule);
            group!(4, w0, w1, w2, w3, schedule);
            group!(5, w1, w2, w3, w0, schedule);
            group!(6, w2, w3, w0, w1, schedule);
            group!(7, w3, w0, w1, w2, schedule);
            group!(8, w0, w1, w2, w3, schedule);
            group!(9, w1, w2, w3, w0, schedule);
            group!(10, w2, w3, w0, w1, schedule);
            group!(11, w3, w0, w1, w2, schedule);
            group!(12, w0);
            group!(13, w1);
            group!(14, w2);
            group!(15, w3);
            abcd = vaddq_u32(abcd, saved_abcd);
            efgh = vaddq_u32(efgh, saved_efgh);
        }
        vst1q_u32(state.as_mut_ptr(), abcd);
        vst1q_u32(state.as_mut_ptr().add(4), efgh);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::header::sha256_with;

    /// The instructions against the portable code, over lengths around block boundaries. Runs
    /// in CI under qemu-aarch64, whose default CPU implements FEAT_SHA256.
    #[test]
    fn instructions_match_the_portable_code() {
        assert!(
            has_sha256(),
            "this test needs a CPU with the SHA-256 instructions (QEMU's default aarch64 CPU \
             has them)"
        );
        let data: [u8; 1000] = core::array::from_fn(|i| (i * 131 + 17) as u8);
        for len in [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 500, 999, 1000] {
            assert_eq!(
                sha256_with(&[&data[..len]], compress),
                sha256_with(&[&data[..len]], compress_portable),
                "length {len}"
            );
        }
    }
}
