//! The pure arithmetic libcalls (`Libcall::I64DivS` onwards, `shared_types::libcall`): i64
//! division, conversions between floats and i64, f64 for cores without a double-precision FPU
//! and f32 rounding for cores without `vrint`. The Thumb-2 backend calls them; every runtime
//! provides them, whatever its architecture, so the libcall table has one layout.
//!
//! Floats travel as their bit patterns (`u32`, `u64`), so each signature is integer-only and
//! the AAPCS base and hard-float variants agree (the Thumb code keeps f64 values in core
//! register pairs). Where Rust's float operations are used, they are IEEE operations in
//! round-to-nearest: the FPU where there is one, `compiler_builtins`' soft-float routines
//! otherwise (Cortex-M4F and M33 for f64). `core` has no `sqrt` and no rounding functions, so
//! those are computed here on the bits, exactly.
//!
//! NaN rules (WebAssembly 2.0, 4.3.3): a NaN result must be quiet, and canonical when every
//! NaN operand is canonical. The operations below produce either the hardware's default NaN
//! (canonical) or a NaN operand; [`quiet64`]/[`quiet32`] then set the quiet bit, which keeps a
//! canonical NaN canonical and turns a signalling one into an arithmetic NaN.
//!
//! None of these can fail or panic: the compiled code checks division by zero, signed overflow
//! and the range of trapping conversions before calling them.

#![forbid(unsafe_code)]

const F64_QUIET: u64 = 1 << 51;
const F32_QUIET: u32 = 1 << 22;
const F64_SIGN: u64 = 1 << 63;
const F32_SIGN: u32 = 1 << 31;

/// `x` with the quiet bit set when it is a NaN.
fn quiet64(x: f64) -> u64 {
    if x.is_nan() {
        x.to_bits() | F64_QUIET
    } else {
        x.to_bits()
    }
}

/// `x` with the quiet bit set when it is a NaN.
fn quiet32(x: f32) -> u32 {
    if x.is_nan() {
        x.to_bits() | F32_QUIET
    } else {
        x.to_bits()
    }
}

/// `Libcall::I64DivS`.
pub extern "C" fn i64_div_s(a: u64, b: u64) -> u64 {
    // `None` only for a zero divisor or `MIN / -1`, which the caller rules out; the wrapped
    // quotient keeps the helper total.
    (a as i64).checked_div(b as i64).unwrap_or(i64::MIN) as u64
}

/// `Libcall::I64DivU`.
pub extern "C" fn i64_div_u(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(0)
}

/// `Libcall::I64RemS`: `i64::MIN rem -1` is 0, as wasm wants.
pub extern "C" fn i64_rem_s(a: u64, b: u64) -> u64 {
    (a as i64).checked_rem(b as i64).unwrap_or(0) as u64
}

/// `Libcall::I64RemU`.
pub extern "C" fn i64_rem_u(a: u64, b: u64) -> u64 {
    a.checked_rem(b).unwrap_or(0)
}

/// `Libcall::F32FromI64S`.
pub extern "C" fn f32_from_i64_s(x: u64) -> u32 {
    (x as i64 as f32).to_bits()
}

/// `Libcall::F32FromI64U`.
pub extern "C" fn f32_from_i64_u(x: u64) -> u32 {
    (x as f32).to_bits()
}

/// `Libcall::F64FromI64S`.
pub extern "C" fn f64_from_i64_s(x: u64) -> u64 {
    (x as i64 as f64).to_bits()
}

/// `Libcall::F64FromI64U`.
pub extern "C" fn f64_from_i64_u(x: u64) -> u64 {
    (x as f64).to_bits()
}

// Rust's float-to-integer `as` saturates and maps NaN to 0: exactly `trunc_sat`.

/// `Libcall::F32ToI64S`.
pub extern "C" fn f32_to_i64_s(x: u32) -> u64 {
    f32::from_bits(x) as i64 as u64
}

/// `Libcall::F32ToI64U`.
pub extern "C" fn f32_to_i64_u(x: u32) -> u64 {
    f32::from_bits(x) as u64
}

/// `Libcall::F64ToI64S`.
pub extern "C" fn f64_to_i64_s(x: u64) -> u64 {
    f64::from_bits(x) as i64 as u64
}

/// `Libcall::F64ToI64U`.
pub extern "C" fn f64_to_i64_u(x: u64) -> u64 {
    f64::from_bits(x) as u64
}

/// `Libcall::F64ToI32S`.
pub extern "C" fn f64_to_i32_s(x: u64) -> u32 {
    f64::from_bits(x) as i32 as u32
}

/// `Libcall::F64ToI32U`.
pub extern "C" fn f64_to_i32_u(x: u64) -> u32 {
    f64::from_bits(x) as u32
}

/// `Libcall::F64FromF32`.
pub extern "C" fn f64_from_f32(x: u32) -> u64 {
    quiet64(f32::from_bits(x) as f64)
}

/// `Libcall::F32FromF64`.
pub extern "C" fn f32_from_f64(x: u64) -> u32 {
    quiet32(f64::from_bits(x) as f32)
}

/// `Libcall::F64Add`.
pub extern "C" fn f64_add(a: u64, b: u64) -> u64 {
    quiet64(f64::from_bits(a) + f64::from_bits(b))
}

/// `Libcall::F64Sub`.
pub extern "C" fn f64_sub(a: u64, b: u64) -> u64 {
    quiet64(f64::from_bits(a) - f64::from_bits(b))
}

/// `Libcall::F64Mul`.
pub extern "C" fn f64_mul(a: u64, b: u64) -> u64 {
    quiet64(f64::from_bits(a) * f64::from_bits(b))
}

/// `Libcall::F64Div`.
pub extern "C" fn f64_div(a: u64, b: u64) -> u64 {
    quiet64(f64::from_bits(a) / f64::from_bits(b))
}

/// `f64.min`/`f64.max`: a NaN operand gives a NaN (the sum propagates it, quieted), equal
/// operands combine their bits (so `min(-0, +0)` is `-0` and `max` is `+0`), otherwise the
/// smaller or larger one.
fn min_max(a: u64, b: u64, max: bool) -> u64 {
    let (x, y) = (f64::from_bits(a), f64::from_bits(b));
    if x.is_nan() || y.is_nan() {
        return quiet64(x + y);
    }
    if x == y {
        return if max { a & b } else { a | b };
    }
    if (x < y) != max { a } else { b }
}

/// `Libcall::F64Min`.
pub extern "C" fn f64_min(a: u64, b: u64) -> u64 {
    min_max(a, b, false)
}

/// `Libcall::F64Max`.
pub extern "C" fn f64_max(a: u64, b: u64) -> u64 {
    min_max(a, b, true)
}

/// `Libcall::F64Compare`: -1 less, 0 equal, 1 greater, 2 unordered.
pub extern "C" fn f64_compare(a: u64, b: u64) -> i32 {
    match f64::from_bits(a).partial_cmp(&f64::from_bits(b)) {
        Some(core::cmp::Ordering::Less) => -1,
        Some(core::cmp::Ordering::Equal) => 0,
        Some(core::cmp::Ordering::Greater) => 1,
        None => 2,
    }
}

/// `Libcall::F64Sqrt`: the correctly rounded square root, computed on the significand.
///
/// For a positive finite `x = m * 2^e` (integer significand `m`, `e` made even by doubling
/// `m`), `sqrt(x) = sqrt(m * 2^52) * 2^((e - 52) / 2)`; `m * 2^52` lies in `[2^104, 2^106)`, so
/// its integer square root `r` has exactly 53 bits. It is computed digit by digit, two radicand
/// bits per result bit; the remainder stays below `2 * r + 1 < 2^54`, so 64-bit arithmetic
/// suffices (the low 52 radicand bits are zero). The exact root is never halfway between two
/// integers (`(r + 1/2)^2` is not an integer), so rounding to nearest is `r + 1` exactly when
/// the remainder `m * 2^52 - r^2` exceeds `r`.
pub extern "C" fn f64_sqrt(a: u64) -> u64 {
    let x = f64::from_bits(a);
    if x.is_nan() {
        return quiet64(x);
    }
    if x == 0.0 || x == f64::INFINITY {
        return a;
    }
    if x < 0.0 {
        // The default NaN: canonical.
        return 0x7FF8_0000_0000_0000;
    }
    let biased = (a >> 52) as i64;
    let fraction = a & ((1 << 52) - 1);
    // x = m * 2^e with m an integer.
    let (mut m, mut e) = if biased == 0 {
        (fraction, -1074i64)
    } else {
        (fraction | 1 << 52, biased - 1075)
    };
    // Normalise a subnormal so that m has 53 bits, then make e even.
    while m < 1 << 52 {
        m <<= 1;
        e -= 1;
    }
    if e & 1 != 0 {
        m <<= 1;
        e -= 1;
    }
    // The radicand is m * 2^52 (106 bits, 53 digit pairs); pair i holds radicand bits 2i + 1
    // and 2i, which are bits 2i - 51 and 2i - 52 of m (zero below bit 52 of the radicand).
    let mut remainder: u64 = 0;
    let mut root: u64 = 0;
    for pair in (0..53).rev() {
        let digits = if 2 * pair >= 52 {
            (m >> (2 * pair - 52)) & 3
        } else {
            0
        };
        remainder = remainder << 2 | digits;
        let trial = root << 2 | 1;
        root <<= 1;
        if remainder >= trial {
            remainder -= trial;
            root |= 1;
        }
    }
    if remainder > root {
        root += 1;
    }
    // sqrt(x) = root * 2^((e - 52) / 2) with root in [2^52, 2^53] (2^53 after rounding up
    // carries into the exponent, which the addition below does by itself).
    let exponent = (e - 52) / 2 + 52 + 1023;
    (((exponent - 1) as u64) << 52) + root
}

/// Rounds `x` to an integral value with `mode`, on the bits: values of magnitude at least
/// 2^52 (and infinities) are integral already, NaNs are quieted, the sign of a zero result is
/// the operand's.
fn round64(a: u64, mode: Rounding) -> u64 {
    let x = f64::from_bits(a);
    if x.is_nan() {
        return quiet64(x);
    }
    let exponent = ((a >> 52) & 0x7FF) as i32 - 1023;
    if exponent >= 52 {
        return a;
    }
    let sign = a & F64_SIGN;
    let truncated = if exponent < 0 {
        sign
    } else {
        a & !((1u64 << (52 - exponent)) - 1)
    };
    let t = f64::from_bits(truncated);
    let result = match mode {
        Rounding::Trunc => t,
        Rounding::Floor if x < t => t - 1.0,
        Rounding::Ceil if x > t => t + 1.0,
        Rounding::Floor | Rounding::Ceil => t,
        // |x| < 2^52: adding and subtracting 2^52 rounds to an integer, ties to even.
        Rounding::Nearest => {
            let magnitude = f64::from_bits(a & !F64_SIGN);
            (magnitude + 4_503_599_627_370_496.0) - 4_503_599_627_370_496.0
        }
    };
    // Exact results of magnitude below 2^52: only the sign of a zero needs care.
    (result.to_bits() & !F64_SIGN) | sign
}

/// [`round64`] for f32 (integral from 2^23).
fn round32(a: u32, mode: Rounding) -> u32 {
    let x = f32::from_bits(a);
    if x.is_nan() {
        return quiet32(x);
    }
    let exponent = ((a >> 23) & 0xFF) as i32 - 127;
    if exponent >= 23 {
        return a;
    }
    let sign = a & F32_SIGN;
    let truncated = if exponent < 0 {
        sign
    } else {
        a & !((1u32 << (23 - exponent)) - 1)
    };
    let t = f32::from_bits(truncated);
    let result = match mode {
        Rounding::Trunc => t,
        Rounding::Floor if x < t => t - 1.0,
        Rounding::Ceil if x > t => t + 1.0,
        Rounding::Floor | Rounding::Ceil => t,
        Rounding::Nearest => {
            let magnitude = f32::from_bits(a & !F32_SIGN);
            (magnitude + 8_388_608.0) - 8_388_608.0
        }
    };
    (result.to_bits() & !F32_SIGN) | sign
}

#[derive(Clone, Copy)]
enum Rounding {
    Ceil,
    Floor,
    Trunc,
    Nearest,
}

/// `Libcall::F64Ceil`.
pub extern "C" fn f64_ceil(x: u64) -> u64 {
    round64(x, Rounding::Ceil)
}

/// `Libcall::F64Floor`.
pub extern "C" fn f64_floor(x: u64) -> u64 {
    round64(x, Rounding::Floor)
}

/// `Libcall::F64Trunc`.
pub extern "C" fn f64_trunc(x: u64) -> u64 {
    round64(x, Rounding::Trunc)
}

/// `Libcall::F64Nearest`.
pub extern "C" fn f64_nearest(x: u64) -> u64 {
    round64(x, Rounding::Nearest)
}

/// `Libcall::F32Ceil`.
pub extern "C" fn f32_ceil(x: u32) -> u32 {
    round32(x, Rounding::Ceil)
}

/// `Libcall::F32Floor`.
pub extern "C" fn f32_floor(x: u32) -> u32 {
    round32(x, Rounding::Floor)
}

/// `Libcall::F32Trunc`.
pub extern "C" fn f32_trunc(x: u32) -> u32 {
    round32(x, Rounding::Trunc)
}

/// `Libcall::F32Nearest`.
pub extern "C" fn f32_nearest(x: u32) -> u32 {
    round32(x, Rounding::Nearest)
}

#[cfg(test)]
mod tests {
    extern crate std;

    use super::*;
    use std::vec::Vec;

    /// Deterministic bit patterns: special values, their neighbours, and a xorshift stream
    /// over every exponent.
    fn samples64() -> Vec<u64> {
        let mut out = Vec::new();
        let specials = [
            0u64,
            1,
            0x000F_FFFF_FFFF_FFFF,
            0x0010_0000_0000_0000,
            0x3FE0_0000_0000_0000, // 0.5
            0x3FF0_0000_0000_0000, // 1
            0x3FF8_0000_0000_0000, // 1.5
            0x4004_0000_0000_0000, // 2.5
            0x4330_0000_0000_0000, // 2^52
            0x432F_FFFF_FFFF_FFFF,
            0x4340_0000_0000_0000,
            0x7FEF_FFFF_FFFF_FFFF,
            0x7FF0_0000_0000_0000,
            0x7FF8_0000_0000_0000,
            0x7FF4_0000_0000_0000,
            0x7FF0_0000_0000_0001,
        ];
        for s in specials {
            out.push(s);
            out.push(s | F64_SIGN);
        }
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        for _ in 0..20_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.push(state);
            // Concentrate on exponents near the integral threshold.
            out.push((state & 0x800F_FFFF_FFFF_FFFF) | ((1013 + (state >> 52) % 64) << 52));
        }
        out
    }

    fn samples32() -> Vec<u32> {
        let mut out = Vec::new();
        for s in samples64() {
            out.push(s as u32);
            out.push((s >> 32) as u32);
        }
        for s in [
            0x3F00_0000u32,
            0x3FC0_0000,
            0x4020_0000,
            0x4B00_0000,
            0x7FA0_0000,
        ] {
            out.push(s);
            out.push(s | F32_SIGN);
        }
        out
    }

    /// Same value, or both NaN with the quiet bit set.
    fn same64(got: u64, want: f64) -> bool {
        let g = f64::from_bits(got);
        if want.is_nan() {
            g.is_nan() && got & F64_QUIET != 0
        } else {
            got == want.to_bits()
        }
    }

    fn same32(got: u32, want: f32) -> bool {
        let g = f32::from_bits(got);
        if want.is_nan() {
            g.is_nan() && got & F32_QUIET != 0
        } else {
            got == want.to_bits()
        }
    }

    #[test]
    fn sqrt_and_rounding_match_std() {
        for a in samples64() {
            let x = f64::from_bits(a);
            assert!(same64(f64_sqrt(a), x.sqrt()), "sqrt {x:e} ({a:#x})");
            assert!(same64(f64_ceil(a), x.ceil()), "ceil {x:e}");
            assert!(same64(f64_floor(a), x.floor()), "floor {x:e}");
            assert!(same64(f64_trunc(a), x.trunc()), "trunc {x:e}");
            assert!(same64(f64_nearest(a), x.round_ties_even()), "nearest {x:e}");
        }
        for a in samples32() {
            let x = f32::from_bits(a);
            assert!(same32(f32_ceil(a), x.ceil()), "ceil {x:e}");
            assert!(same32(f32_floor(a), x.floor()), "floor {x:e}");
            assert!(same32(f32_trunc(a), x.trunc()), "trunc {x:e}");
            assert!(same32(f32_nearest(a), x.round_ties_even()), "nearest {x:e}");
        }
    }

    #[test]
    fn nan_results_are_quiet_and_canonical_stays_canonical() {
        let canonical = 0x7FF8_0000_0000_0000u64;
        let signalling = 0x7FF0_0000_0000_0001u64;
        for f in [f64_sqrt, f64_ceil, f64_floor, f64_trunc, f64_nearest] {
            assert_eq!(f(canonical) & !F64_SIGN, canonical);
            assert_eq!(f(signalling) & F64_QUIET, F64_QUIET);
        }
        assert_eq!(f64_sqrt((-1.0f64).to_bits()) & !F64_SIGN, canonical);
        let inf = f64::INFINITY.to_bits();
        assert_eq!(f64_sub(inf, inf) & !F64_SIGN, canonical);
        assert_eq!(f64_add(signalling, 0) & F64_QUIET, F64_QUIET);
        let one = 1.0f64.to_bits();
        for f in [f64_add, f64_sub, f64_mul, f64_div, f64_min, f64_max] {
            assert_eq!(f(canonical, one) & !F64_SIGN, canonical);
            assert_eq!(f(one, canonical) & !F64_SIGN, canonical);
            assert_eq!(f(signalling, one) & F64_QUIET, F64_QUIET);
        }
        assert_eq!(f64_div(0, 0) & !F64_SIGN, canonical);
        assert_eq!(f64_mul(inf, 0) & !F64_SIGN, canonical);
        assert_eq!(f64_from_f32(0x7FC0_0000) & !F64_SIGN, canonical);
        assert_eq!(f32_from_f64(canonical) & !F32_SIGN, 0x7FC0_0000);
        assert_eq!(f64_from_f32(0x7FA0_0000) & F64_QUIET, F64_QUIET);
        assert_eq!(f32_from_f64(signalling) & F32_QUIET, F32_QUIET);
        assert_eq!(f32_nearest(0x7FA0_0000), 0x7FE0_0000);
    }

    #[test]
    fn min_max_and_compare_follow_wasm() {
        let (neg_zero, zero) = ((-0.0f64).to_bits(), 0.0f64.to_bits());
        assert_eq!(f64_min(neg_zero, zero), neg_zero);
        assert_eq!(f64_min(zero, neg_zero), neg_zero);
        assert_eq!(f64_max(neg_zero, zero), zero);
        assert_eq!(f64_max(zero, neg_zero), zero);
        let (one, two) = (1.0f64.to_bits(), 2.0f64.to_bits());
        assert_eq!(f64_min(one, two), one);
        assert_eq!(f64_min(two, one), one);
        assert_eq!(f64_max(one, two), two);
        let nan = 0x7FF4_0000_0000_0000u64;
        assert_eq!(f64_min(one, nan), nan | F64_QUIET);
        assert_eq!(f64_max(nan, one), nan | F64_QUIET);
        assert_eq!(f64_compare(one, two), -1);
        assert_eq!(f64_compare(two, one), 1);
        assert_eq!(f64_compare(neg_zero, zero), 0);
        assert_eq!(f64_compare(nan, one), 2);
        assert_eq!(f64_compare(one, nan), 2);
    }

    #[test]
    fn integer_helpers() {
        let min = i64::MIN as u64;
        assert_eq!(i64_div_s((-7i64) as u64, 2), (-3i64) as u64);
        assert_eq!(i64_rem_s((-7i64) as u64, 2), (-1i64) as u64);
        assert_eq!(i64_rem_s(min, u64::MAX), 0);
        assert_eq!(i64_div_u(u64::MAX, 3), u64::MAX / 3);
        assert_eq!(i64_rem_u(u64::MAX, 10), 5);
        assert_eq!(f64_to_i64_s(f64::NAN.to_bits()), 0);
        assert_eq!(f64_to_i64_s(1e300f64.to_bits()), i64::MAX as u64);
        assert_eq!(f64_to_i64_u((-1e300f64).to_bits()), 0);
        assert_eq!(f32_to_i64_u(f32::INFINITY.to_bits()), u64::MAX);
        assert_eq!(f64_to_i32_s((-1e10f64).to_bits()), i32::MIN as u32);
        assert_eq!(f64_to_i32_u(4294967295.9f64.to_bits()), u32::MAX);
        // 2^53 + 1 rounds to even in f64, and 2^24 + 1 in f32.
        assert_eq!(
            f64_from_i64_u((1 << 53) + 1),
            ((1u64 << 53) as f64).to_bits()
        );
        assert_eq!(f32_from_i64_s((1 << 24) + 1), 16777216.0f32.to_bits());
        assert_eq!(
            f32_from_i64_u(u64::MAX),
            18446744073709551616.0f32.to_bits()
        );
        assert_eq!(f64_from_i64_s(u64::MAX), (-1.0f64).to_bits());
    }
}
