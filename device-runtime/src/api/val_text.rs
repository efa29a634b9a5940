//! Values as text: how a command line writes an argument and how a result is printed.
//!
//! Shared by every runner (`wasm-aot run` on the hosted runtime and the board runner firmware),
//! so they accept the same arguments and print byte-identical output. Integers are decimal or
//! `0x` hex (negative allowed); floats are decimal, `inf`, `-inf`, `nan`, or raw bits as
//! `0x...`; a null reference is `null`. Results print like `wasmtime run --invoke`: integers in
//! decimal, floats with Rust's shortest round-trip `Display` (of the value widened to f64 for
//! `f32`), NaN as `NaN`.

#![forbid(unsafe_code)]

use core::fmt;

use crate::{Val, ValType};

/// Why a command-line argument is not a value of the wanted type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseValError {
    /// The text is not a valid value of this type.
    Invalid(ValType),
    /// Values of this type cannot be written on a command line.
    Unsupported(ValType),
}

impl fmt::Display for ParseValError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ParseValError::Invalid(ty) => write!(f, "not a valid {ty}"),
            ParseValError::Unsupported(ty) => {
                write!(
                    f,
                    "arguments of type {ty} cannot be given on the command line"
                )
            }
        }
    }
}

impl core::error::Error for ParseValError {}

impl Val {
    /// Parses a command-line argument as a value of type `ty` (see the module documentation).
    pub fn parse(ty: ValType, text: &str) -> Result<Val, ParseValError> {
        let bad = ParseValError::Invalid(ty);
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let int = |bits: u32| -> Result<i128, ParseValError> {
            let magnitude = match digits
                .strip_prefix("0x")
                .or_else(|| digits.strip_prefix("0X"))
            {
                Some(hex) => i128::from_str_radix(hex, 16),
                None => digits.parse::<i128>(),
            }
            .map_err(|_| bad)?;
            let v = if negative { -magnitude } else { magnitude };
            // Signed minimum up to unsigned maximum: `0xffffffff` is a valid i32 (-1).
            let (min, max) = (-(1i128 << (bits - 1)), (1i128 << bits) - 1);
            if v < min || v > max { Err(bad) } else { Ok(v) }
        };
        let raw_bits = text
            .strip_prefix("0x")
            .and_then(|h| u64::from_str_radix(h, 16).ok());
        Ok(match ty {
            ValType::I32 => Val::I32(int(32)? as i32),
            ValType::I64 => Val::I64(int(64)? as i64),
            ValType::F32 => match raw_bits {
                Some(bits) => Val::F32(u32::try_from(bits).map_err(|_| bad)?),
                None => Val::F32(text.parse::<f32>().map_err(|_| bad)?.to_bits()),
            },
            ValType::F64 => match raw_bits {
                Some(bits) => Val::F64(bits),
                None => Val::F64(text.parse::<f64>().map_err(|_| bad)?.to_bits()),
            },
            ValType::FuncRef if text == "null" => Val::FuncRef(None),
            ValType::ExternRef if text == "null" => Val::ExternRef(None),
            _ => return Err(ParseValError::Unsupported(ty)),
        })
    }
}

/// Prints a result the way the runners do (see the module documentation).
impl fmt::Display for Val {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let float = |f: &mut fmt::Formatter<'_>, x: f64| {
            if x.is_nan() {
                f.write_str("NaN")
            } else {
                write!(f, "{x}")
            }
        };
        match self {
            Val::I32(x) => write!(f, "{x}"),
            Val::I64(x) => write!(f, "{x}"),
            Val::F32(bits) => float(f, f32::from_bits(*bits) as f64),
            Val::F64(bits) => float(f, f64::from_bits(*bits)),
            Val::FuncRef(None) | Val::ExternRef(None) => f.write_str("null"),
            Val::FuncRef(Some(_)) => f.write_str("funcref"),
            Val::ExternRef(Some(r)) => write!(f, "externref {}", r.id()),
        }
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::ToString;

    use super::*;

    #[test]
    fn parses_arguments_by_type() {
        assert_eq!(Val::parse(ValType::I32, "-5"), Ok(Val::I32(-5)));
        assert_eq!(Val::parse(ValType::I32, "0xffffffff"), Ok(Val::I32(-1)));
        assert_eq!(
            Val::parse(ValType::I32, "-0x80000000"),
            Ok(Val::I32(i32::MIN))
        );
        assert_eq!(Val::parse(ValType::I64, "-0x10"), Ok(Val::I64(-16)));
        assert_eq!(
            Val::parse(ValType::F32, "1.5"),
            Ok(Val::F32(1.5f32.to_bits()))
        );
        assert_eq!(
            Val::parse(ValType::F32, "0x7fc00001"),
            Ok(Val::F32(0x7fc0_0001))
        );
        assert_eq!(
            Val::parse(ValType::F64, "inf"),
            Ok(Val::F64(f64::INFINITY.to_bits()))
        );
        assert_eq!(
            Val::parse(ValType::ExternRef, "null"),
            Ok(Val::ExternRef(None))
        );
        assert_eq!(
            Val::parse(ValType::I32, "4294967296"),
            Err(ParseValError::Invalid(ValType::I32))
        );
        assert_eq!(
            Val::parse(ValType::I32, "-0x80000001"),
            Err(ParseValError::Invalid(ValType::I32))
        );
        assert_eq!(
            Val::parse(ValType::I32, "x"),
            Err(ParseValError::Invalid(ValType::I32))
        );
        assert_eq!(
            Val::parse(ValType::F32, "0x100000000"),
            Err(ParseValError::Invalid(ValType::F32))
        );
        assert_eq!(
            Val::parse(ValType::V128, "0"),
            Err(ParseValError::Unsupported(ValType::V128))
        );
    }

    #[test]
    fn prints_results() {
        assert_eq!(Val::I32(-3).to_string(), "-3");
        assert_eq!(Val::I64(i64::MIN).to_string(), "-9223372036854775808");
        assert_eq!(Val::F64(2.5f64.to_bits()).to_string(), "2.5");
        assert_eq!(
            Val::F32(0.1f32.to_bits()).to_string(),
            "0.10000000149011612"
        );
        assert_eq!(Val::F32(f32::NAN.to_bits()).to_string(), "NaN");
        assert_eq!(Val::F64(f64::NEG_INFINITY.to_bits()).to_string(), "-inf");
        assert_eq!(Val::FuncRef(None).to_string(), "null");
    }
}
