//! Values and types of the public API.

#![forbid(unsafe_code)]

use core::fmt;

use shared_types::ValType;

use crate::api::func::Func;
use crate::vm::ValRaw;

/// Most parameters or results a function type may have in this runtime.
pub const MAX_FUNC_ARITY: usize = 64;

/// A host reference: an embedder-chosen `u32` id. The raw representation is `id + 1` so that 0
/// stays null (on 32-bit targets `u32::MAX` therefore cannot be represented and reads back as
/// null).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExternRef {
    id: u32,
}

impl ExternRef {
    /// A reference with this id.
    pub fn new(id: u32) -> Self {
        ExternRef { id }
    }
    /// The id.
    pub fn id(&self) -> u32 {
        self.id
    }
    pub(crate) fn to_raw(r: Option<ExternRef>) -> usize {
        match r {
            None => 0,
            Some(r) => (r.id as usize).wrapping_add(1),
        }
    }
    pub(crate) fn from_raw(raw: usize) -> Option<ExternRef> {
        (raw != 0).then(|| ExternRef {
            id: raw.wrapping_sub(1) as u32,
        })
    }
}

/// A WebAssembly value. Floats are kept as their bits so NaN payloads survive.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Val {
    /// i32.
    I32(i32),
    /// i64.
    I64(i64),
    /// f32 bits.
    F32(u32),
    /// f64 bits.
    F64(u64),
    /// A function reference.
    FuncRef(Option<Func>),
    /// A host reference.
    ExternRef(Option<ExternRef>),
}

impl Val {
    /// The value's type.
    pub fn ty(&self) -> ValType {
        match self {
            Val::I32(_) => ValType::I32,
            Val::I64(_) => ValType::I64,
            Val::F32(_) => ValType::F32,
            Val::F64(_) => ValType::F64,
            Val::FuncRef(_) => ValType::FuncRef,
            Val::ExternRef(_) => ValType::ExternRef,
        }
    }

    /// The zero (or null) value of a type; `None` for `v128`, which this runtime does not run.
    pub fn default_for(ty: ValType) -> Option<Val> {
        Some(match ty {
            ValType::I32 => Val::I32(0),
            ValType::I64 => Val::I64(0),
            ValType::F32 => Val::F32(0),
            ValType::F64 => Val::F64(0),
            ValType::FuncRef => Val::FuncRef(None),
            ValType::ExternRef => Val::ExternRef(None),
            _ => return None,
        })
    }

    /// The i32, if this is one.
    pub fn i32(&self) -> Option<i32> {
        if let Val::I32(v) = self {
            Some(*v)
        } else {
            None
        }
    }
    /// The i64, if this is one.
    pub fn i64(&self) -> Option<i64> {
        if let Val::I64(v) = self {
            Some(*v)
        } else {
            None
        }
    }
    /// The f32, if this is one.
    pub fn f32(&self) -> Option<f32> {
        if let Val::F32(v) = self {
            Some(f32::from_bits(*v))
        } else {
            None
        }
    }
    /// The f64, if this is one.
    pub fn f64(&self) -> Option<f64> {
        if let Val::F64(v) = self {
            Some(f64::from_bits(*v))
        } else {
            None
        }
    }

    /// Raw form for store `store_id`; `None` if the type differs from `ty` or a function
    /// reference belongs to another store.
    pub(crate) fn to_raw(self, ty: ValType, store_id: u64) -> Option<ValRaw> {
        Some(match (self, ty) {
            (Val::I32(v), ValType::I32) => ValRaw::from_u32(v as u32),
            (Val::I64(v), ValType::I64) => ValRaw::from_u64(v as u64),
            (Val::F32(v), ValType::F32) => ValRaw::from_u32(v),
            (Val::F64(v), ValType::F64) => ValRaw::from_u64(v),
            (Val::FuncRef(f), ValType::FuncRef) => ValRaw::from_usize(match f {
                None => 0,
                Some(f) if f.store_id() == store_id => f.raw(),
                Some(_) => return None,
            }),
            (Val::ExternRef(r), ValType::ExternRef) => ValRaw::from_usize(ExternRef::to_raw(r)),
            _ => return None,
        })
    }

    /// Value of type `ty` from its raw form in store `store_id`.
    pub(crate) fn from_raw(raw: ValRaw, ty: ValType, store_id: u64) -> Val {
        match ty {
            ValType::I32 => Val::I32(raw.u32() as i32),
            ValType::I64 => Val::I64(raw.u64() as i64),
            ValType::F32 => Val::F32(raw.u32()),
            ValType::F64 => Val::F64(raw.u64()),
            ValType::FuncRef => Val::FuncRef(Func::from_raw(store_id, raw.usize())),
            ValType::ExternRef => Val::ExternRef(ExternRef::from_raw(raw.usize())),
            _ => Val::I64(0),
        }
    }
}

impl From<i32> for Val {
    fn from(v: i32) -> Val {
        Val::I32(v)
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::I64(v)
    }
}
impl From<f32> for Val {
    fn from(v: f32) -> Val {
        Val::F32(v.to_bits())
    }
}
impl From<f64> for Val {
    fn from(v: f64) -> Val {
        Val::F64(v.to_bits())
    }
}

/// An owned function type: up to [`MAX_FUNC_ARITY`] parameters and results.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FuncType {
    params: heapless::Vec<ValType, MAX_FUNC_ARITY>,
    results: heapless::Vec<ValType, MAX_FUNC_ARITY>,
    /// More than `MAX_FUNC_ARITY` types were given; such a type is refused wherever it is used.
    too_large: bool,
}

impl FuncType {
    /// A function type. More than [`MAX_FUNC_ARITY`] parameters or results make a type that
    /// every use refuses with a typed error ([`crate::LinkError::TypeTooLarge`]).
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> FuncType {
        let mut t = FuncType {
            params: heapless::Vec::new(),
            results: heapless::Vec::new(),
            too_large: false,
        };
        for p in params {
            t.too_large |= t.params.push(p).is_err();
        }
        for r in results {
            t.too_large |= t.results.push(r).is_err();
        }
        t
    }

    /// Parameter types.
    pub fn params(&self) -> impl ExactSizeIterator<Item = ValType> + '_ {
        self.params.iter().copied()
    }
    /// Result types.
    pub fn results(&self) -> impl ExactSizeIterator<Item = ValType> + '_ {
        self.results.iter().copied()
    }
    /// Parameter types as a slice.
    pub fn param_types(&self) -> &[ValType] {
        &self.params
    }
    /// Result types as a slice.
    pub fn result_types(&self) -> &[ValType] {
        &self.results
    }

    pub(crate) fn is_too_large(&self) -> bool {
        self.too_large
    }

    /// From metadata type codes (`None` for an invalid code or too many types).
    pub(crate) fn from_codes(params: &[u8], results: &[u8]) -> Option<FuncType> {
        let mut t = FuncType {
            params: heapless::Vec::new(),
            results: heapless::Vec::new(),
            too_large: false,
        };
        for p in params {
            t.params.push(ValType::from_code(*p)?).ok()?;
        }
        for r in results {
            t.results.push(ValType::from_code(*r)?).ok()?;
        }
        Some(t)
    }

    /// The type codes, for the registry.
    pub(crate) fn codes(&self) -> ([u8; MAX_FUNC_ARITY], [u8; MAX_FUNC_ARITY]) {
        let mut p = [0u8; MAX_FUNC_ARITY];
        let mut r = [0u8; MAX_FUNC_ARITY];
        for (slot, t) in p.iter_mut().zip(self.params.iter()) {
            *slot = t.code();
        }
        for (slot, t) in r.iter_mut().zip(self.results.iter()) {
            *slot = t.code();
        }
        (p, r)
    }
}

impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("(")?;
        for (i, t) in self.params.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{t}")?;
        }
        f.write_str(") -> (")?;
        for (i, t) in self.results.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{t}")?;
        }
        f.write_str(")")
    }
}
