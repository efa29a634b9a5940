//! Evaluation of constant expressions (global initialisers, segment offsets, element items).
//!
//! A constant expression is a short stack program ([`ConstOp`]); validation on the host
//! guarantees it is well typed, but the device does not trust that: a stack underflow, an
//! overflow of the fixed evaluation stack, a leftover value or an unresolved reference is an
//! error, never a panic. Values are kept as [`ValRaw`]; i32 operations use the low 32 bits.

#![forbid(unsafe_code)]

use shared_types::metadata::ConstOp;
use shared_types::seq::SeqError;

use crate::error::InstantiationError;
use crate::vm::ValRaw;

/// Deepest stack an expression may use.
pub const MAX_DEPTH: usize = 16;

/// Evaluates `ops`. `global(i)` reads global `i`; `func_ref(i)` gives the funcref pointer of
/// function `i`.
pub fn eval(
    ops: impl Iterator<Item = Result<ConstOp, SeqError>>,
    global: impl Fn(u32) -> Option<ValRaw>,
    func_ref: impl Fn(u32) -> Option<usize>,
) -> Result<ValRaw, InstantiationError> {
    let bad = InstantiationError::BadConstExpr;
    let mut stack: heapless::Vec<ValRaw, MAX_DEPTH> = heapless::Vec::new();
    for op in ops {
        let op = op.map_err(|_| bad)?;
        let value = match op {
            ConstOp::I32Const(v) => ValRaw::from_u32(v as u32),
            ConstOp::I64Const(v) => ValRaw::from_u64(v as u64),
            ConstOp::F32Const(bits) => ValRaw::from_u32(bits),
            ConstOp::F64Const(bits) => ValRaw::from_u64(bits),
            ConstOp::RefNull(_) => ValRaw::from_usize(0),
            ConstOp::RefFunc(f) => ValRaw::from_usize(func_ref(f).ok_or(bad)?),
            ConstOp::GlobalGet(g) => global(g).ok_or(bad)?,
            ConstOp::I32Add | ConstOp::I32Sub | ConstOp::I32Mul => {
                let b = stack.pop().ok_or(bad)?.u32();
                let a = stack.pop().ok_or(bad)?.u32();
                ValRaw::from_u32(match op {
                    ConstOp::I32Add => a.wrapping_add(b),
                    ConstOp::I32Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
            ConstOp::I64Add | ConstOp::I64Sub | ConstOp::I64Mul => {
                let b = stack.pop().ok_or(bad)?.u64();
                let a = stack.pop().ok_or(bad)?.u64();
                ValRaw::from_u64(match op {
                    ConstOp::I64Add => a.wrapping_add(b),
                    ConstOp::I64Sub => a.wrapping_sub(b),
                    _ => a.wrapping_mul(b),
                })
            }
        };
        stack.push(value).map_err(|_| bad)?;
    }
    let result = stack.pop().ok_or(bad)?;
    if !stack.is_empty() {
        return Err(bad);
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ops: &[ConstOp]) -> Result<ValRaw, InstantiationError> {
        eval(
            ops.iter().copied().map(Ok),
            |g| (g == 0).then(|| ValRaw::from_u32(40)),
            |f| (f < 3).then_some(0x1000 + f as usize),
        )
    }

    #[test]
    fn arithmetic_and_references() {
        use ConstOp::*;
        assert_eq!(run(&[I32Const(2), I32Const(3), I32Mul]).unwrap().u32(), 6);
        assert_eq!(
            run(&[I32Const(i32::MAX), I32Const(1), I32Add])
                .unwrap()
                .u32(),
            0x8000_0000
        );
        assert_eq!(
            run(&[I64Const(1), I64Const(2), I64Sub]).unwrap().u64(),
            u64::MAX
        );
        assert_eq!(
            run(&[I64Const(1 << 40), I64Const(3), I64Mul])
                .unwrap()
                .u64(),
            3 << 40
        );
        assert_eq!(run(&[GlobalGet(0), I32Const(2), I32Add]).unwrap().u32(), 42);
        assert_eq!(
            run(&[F64Const(0x4000_0000_0000_0000)]).unwrap().u64(),
            0x4000_0000_0000_0000
        );
        assert_eq!(run(&[F32Const(0x3f80_0000)]).unwrap().u32(), 0x3f80_0000);
        assert_eq!(run(&[RefFunc(2)]).unwrap().usize(), 0x1002);
        assert_eq!(run(&[RefNull(5)]).unwrap().usize(), 0);
    }

    #[test]
    fn malformed_expressions_are_errors() {
        use ConstOp::*;
        let bad = Err(InstantiationError::BadConstExpr);
        assert_eq!(run(&[]), bad);
        assert_eq!(run(&[I32Add]), bad);
        assert_eq!(run(&[I32Const(1), I32Const(2)]), bad);
        assert_eq!(run(&[GlobalGet(7)]), bad);
        assert_eq!(run(&[RefFunc(9)]), bad);
        assert_eq!(run(&[I32Const(1); MAX_DEPTH + 1]), bad);
        assert_eq!(eval([Err(SeqError)].into_iter(), |_| None, |_| None), bad);
    }
}
