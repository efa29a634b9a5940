//! Value types and function signatures as they appear in image metadata.

use core::fmt;

/// A WebAssembly value type. Stored as one byte ([`ValType::code`]) in metadata, so a
/// signature is a borrowed byte slice on the device.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum ValType {
    /// 32-bit integer.
    I32 = 0,
    /// 64-bit integer.
    I64 = 1,
    /// 32-bit IEEE float.
    F32 = 2,
    /// 64-bit IEEE float.
    F64 = 3,
    /// 128-bit vector (reserved: SIMD is not compiled yet).
    V128 = 4,
    /// Nullable function reference.
    FuncRef = 5,
    /// Nullable host reference.
    ExternRef = 6,
}

impl ValType {
    /// The metadata byte.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`ValType::code`].
    pub const fn from_code(code: u8) -> Option<ValType> {
        Some(match code {
            0 => ValType::I32,
            1 => ValType::I64,
            2 => ValType::F32,
            3 => ValType::F64,
            4 => ValType::V128,
            5 => ValType::FuncRef,
            6 => ValType::ExternRef,
            _ => return None,
        })
    }

    /// Whether the type is a reference type.
    pub const fn is_ref(self) -> bool {
        matches!(self, ValType::FuncRef | ValType::ExternRef)
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ValType::I32 => "i32",
            ValType::I64 => "i64",
            ValType::F32 => "f32",
            ValType::F64 => "f64",
            ValType::V128 => "v128",
            ValType::FuncRef => "funcref",
            ValType::ExternRef => "externref",
        })
    }
}

/// A function signature, borrowed from metadata: each byte is a [`ValType::code`].
///
/// Written by the host compiler (`image` module), read by the device runtime. Two signatures
/// are the same type exactly when their byte slices are equal (WebAssembly 2.0 has no subtyping).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct FuncType<'a> {
    /// Parameter types.
    #[serde(borrow)]
    pub params: &'a [u8],
    /// Result types.
    #[serde(borrow)]
    pub results: &'a [u8],
}

impl<'a> FuncType<'a> {
    /// Parameter types, decoded; `None` for an invalid byte (rejected by metadata validation).
    pub fn param(&self, i: usize) -> Option<ValType> {
        self.params.get(i).and_then(|b| ValType::from_code(*b))
    }

    /// Result types, decoded.
    pub fn result(&self, i: usize) -> Option<ValType> {
        self.results.get(i).and_then(|b| ValType::from_code(*b))
    }

    /// Iterates over the parameter types (invalid bytes are skipped; validation rejects them).
    pub fn params(&self) -> impl Iterator<Item = ValType> + 'a {
        self.params.iter().filter_map(|b| ValType::from_code(*b))
    }

    /// Iterates over the result types.
    pub fn results(&self) -> impl Iterator<Item = ValType> + 'a {
        self.results.iter().filter_map(|b| ValType::from_code(*b))
    }

    /// Whether every byte is a valid [`ValType`].
    pub fn is_well_formed(&self) -> bool {
        self.params
            .iter()
            .chain(self.results)
            .all(|b| ValType::from_code(*b).is_some())
    }

    /// Number of [`ValRaw`](crate::vmoffsets::VAL_RAW_SIZE) slots the array calling convention
    /// needs for this signature: `max(params, results)`.
    pub fn array_slots(&self) -> usize {
        if self.params.len() > self.results.len() {
            self.params.len()
        } else {
            self.results.len()
        }
    }
}

impl fmt::Display for FuncType<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, t) in self.params().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{t}")?;
        }
        f.write_str(") -> (")?;
        for (i, t) in self.results().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{t}")?;
        }
        f.write_str(")")
    }
}
