//! Why a call into wasm stopped.

use core::fmt;

/// The reason a wasm call trapped. One byte in the image's trap table and in the argument of the
/// [`Libcall::Trap`](crate::Libcall::Trap) helper; the numbering is part of the image format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum TrapCode {
    /// The guest stack limit was reached (`call stack exhausted`).
    StackOverflow = 1,
    /// A linear-memory access outside the memory's current length.
    MemoryOutOfBounds = 2,
    /// A table access (`table.get/set/fill/copy/init`) outside the table's length.
    TableOutOfBounds = 3,
    /// `call_indirect` with an index past the end of the table (`undefined element`).
    UndefinedElement = 4,
    /// `call_indirect` through a null entry (`uninitialized element`).
    UninitializedElement = 5,
    /// `call_indirect` through an entry of another signature.
    IndirectCallTypeMismatch = 6,
    /// Signed division overflow (`INT_MIN / -1`) or float-to-int conversion out of range.
    IntegerOverflow = 7,
    /// Integer division or remainder by zero.
    IntegerDivisionByZero = 8,
    /// Float-to-int conversion of a NaN.
    BadConversionToInteger = 9,
    /// The `unreachable` instruction.
    Unreachable = 10,
    /// A null reference where a non-null one is required.
    NullReference = 11,
    /// A host function returned an error; the error itself is kept by the store.
    HostError = 12,
    /// The fuel budget ran out.
    OutOfFuel = 13,
    /// The epoch deadline passed.
    Interrupted = 14,
    /// Data or element segment access out of bounds during instantiation or `*.init`.
    SegmentOutOfBounds = 15,
}

impl TrapCode {
    /// Every code, in numeric order.
    pub const ALL: [TrapCode; 15] = [
        TrapCode::StackOverflow,
        TrapCode::MemoryOutOfBounds,
        TrapCode::TableOutOfBounds,
        TrapCode::UndefinedElement,
        TrapCode::UninitializedElement,
        TrapCode::IndirectCallTypeMismatch,
        TrapCode::IntegerOverflow,
        TrapCode::IntegerDivisionByZero,
        TrapCode::BadConversionToInteger,
        TrapCode::Unreachable,
        TrapCode::NullReference,
        TrapCode::HostError,
        TrapCode::OutOfFuel,
        TrapCode::Interrupted,
        TrapCode::SegmentOutOfBounds,
    ];

    /// The byte used in images and libcall arguments.
    pub const fn as_u8(self) -> u8 {
        self as u8
    }

    /// Inverse of [`TrapCode::as_u8`].
    pub fn from_u8(byte: u8) -> Option<TrapCode> {
        TrapCode::ALL.into_iter().find(|c| c.as_u8() == byte)
    }

    /// The message the WebAssembly specification's testsuite uses for this trap.
    pub const fn message(self) -> &'static str {
        match self {
            TrapCode::StackOverflow => "call stack exhausted",
            TrapCode::MemoryOutOfBounds => "out of bounds memory access",
            TrapCode::TableOutOfBounds => "out of bounds table access",
            TrapCode::UndefinedElement => "undefined element",
            TrapCode::UninitializedElement => "uninitialized element",
            TrapCode::IndirectCallTypeMismatch => "indirect call type mismatch",
            TrapCode::IntegerOverflow => "integer overflow",
            TrapCode::IntegerDivisionByZero => "integer divide by zero",
            TrapCode::BadConversionToInteger => "invalid conversion to integer",
            TrapCode::Unreachable => "unreachable",
            TrapCode::NullReference => "null reference",
            TrapCode::HostError => "host function error",
            TrapCode::OutOfFuel => "all fuel consumed",
            TrapCode::Interrupted => "interrupt",
            TrapCode::SegmentOutOfBounds => "out of bounds segment access",
        }
    }
}

impl fmt::Display for TrapCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.message())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_dense() {
        for (i, c) in TrapCode::ALL.into_iter().enumerate() {
            assert_eq!(c.as_u8() as usize, i + 1);
            assert_eq!(TrapCode::from_u8(c.as_u8()), Some(c));
        }
        assert_eq!(TrapCode::from_u8(0), None);
        assert_eq!(TrapCode::from_u8(200), None);
    }
}
