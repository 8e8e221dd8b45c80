//! WebAssembly values and function types as host functions see them: the
//! four numeric types, nothing engine-specific.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

/// A WebAssembly number type. Host functions take and return these only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ValType {
    /// 32-bit integer.
    I32,
    /// 64-bit integer.
    I64,
    /// 32-bit float.
    F32,
    /// 64-bit float.
    F64,
}

impl ValType {
    /// The name the WebAssembly text format gives it (`i32`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::I32 => "i32",
            Self::I64 => "i64",
            Self::F32 => "f32",
            Self::F64 => "f64",
        }
    }
}

impl fmt::Display for ValType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A WebAssembly value. Floats are kept as their bits, so a NaN's payload
/// passes through a host function unchanged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Val {
    /// An `i32`.
    I32(i32),
    /// An `i64`.
    I64(i64),
    /// An `f32`, as its bits.
    F32(u32),
    /// An `f64`, as its bits.
    F64(u64),
}

impl Val {
    /// The value's type.
    pub const fn ty(self) -> ValType {
        match self {
            Self::I32(_) => ValType::I32,
            Self::I64(_) => ValType::I64,
            Self::F32(_) => ValType::F32,
            Self::F64(_) => ValType::F64,
        }
    }

    /// The zero of `ty`: what a result slot holds before a host function
    /// writes it.
    pub const fn zero(ty: ValType) -> Self {
        match ty {
            ValType::I32 => Self::I32(0),
            ValType::I64 => Self::I64(0),
            ValType::F32 => Self::F32(0),
            ValType::F64 => Self::F64(0),
        }
    }
}

/// The type of a host function: its parameters and results.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct FuncType {
    params: Box<[ValType]>,
    results: Box<[ValType]>,
}

impl FuncType {
    /// A function type taking `params` and returning `results`.
    pub fn new(
        params: impl IntoIterator<Item = ValType>,
        results: impl IntoIterator<Item = ValType>,
    ) -> Self {
        Self {
            params: params.into_iter().collect::<Vec<_>>().into_boxed_slice(),
            results: results.into_iter().collect::<Vec<_>>().into_boxed_slice(),
        }
    }

    /// The parameter types, in order.
    pub fn params(&self) -> &[ValType] {
        &self.params
    }

    /// The result types, in order.
    pub fn results(&self) -> &[ValType] {
        &self.results
    }
}

/// `(i64, i64) -> i32`; `()` for no parameters or no results.
impl fmt::Display for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, types: &[ValType]| -> fmt::Result {
            f.write_str("(")?;
            for (i, ty) in types.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(ty.name())?;
            }
            f.write_str(")")
        };
        list(f, &self.params)?;
        f.write_str(" -> ")?;
        match &*self.results {
            [one] => f.write_str(one.name()),
            more => list(f, more),
        }
    }
}

impl fmt::Debug for FuncType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// A Rust type that stands for one WebAssembly value in a typed host
/// function: `i32`, `u32` (as `i32`), `i64`, `u64` (as `i64`), `f32`, `f64`.
pub trait WasmValue: Sized + 'static {
    /// The WebAssembly type it is passed as.
    const TYPE: ValType;
    /// The value, if `val` is of [`WasmValue::TYPE`].
    fn from_val(val: Val) -> Option<Self>;
    /// The value as a WebAssembly value.
    fn into_val(self) -> Val;
}

macro_rules! wasm_value {
    ($($ty:ty => $variant:ident, $from:expr, $into:expr;)*) => {$(
        impl WasmValue for $ty {
            const TYPE: ValType = ValType::$variant;
            fn from_val(val: Val) -> Option<Self> {
                match val {
                    Val::$variant(v) => Some($from(v)),
                    _ => None,
                }
            }
            fn into_val(self) -> Val {
                Val::$variant($into(self))
            }
        }
    )*};
}

wasm_value! {
    i32 => I32, |v| v, |v| v;
    u32 => I32, |v: i32| v as u32, |v: u32| v as i32;
    i64 => I64, |v| v, |v| v;
    u64 => I64, |v: i64| v as u64, |v: u64| v as i64;
    f32 => F32, f32::from_bits, f32::to_bits;
    f64 => F64, f64::from_bits, f64::to_bits;
}

/// What a typed host function returns: `()`, one [`WasmValue`], or a tuple
/// of up to four of them (multi-value).
pub trait WasmResults: Sized + 'static {
    /// The result types, in order.
    fn types() -> Vec<ValType>;
    /// Writes the values into `out` (exactly `types().len()` slots).
    fn store(self, out: &mut [Val]);
    /// The values back from `vals`, if they are of these types.
    fn load(vals: &[Val]) -> Option<Self>;
}

impl WasmResults for () {
    fn types() -> Vec<ValType> {
        Vec::new()
    }
    fn store(self, _: &mut [Val]) {}
    fn load(vals: &[Val]) -> Option<Self> {
        vals.is_empty().then_some(())
    }
}

impl<T: WasmValue> WasmResults for T {
    fn types() -> Vec<ValType> {
        alloc::vec![T::TYPE]
    }
    fn store(self, out: &mut [Val]) {
        if let Some(slot) = out.first_mut() {
            *slot = self.into_val();
        }
    }
    fn load(vals: &[Val]) -> Option<Self> {
        match vals {
            [one] => T::from_val(*one),
            _ => None,
        }
    }
}

macro_rules! wasm_results_tuple {
    ($(($($t:ident $i:tt),+))*) => {$(
        impl<$($t: WasmValue),+> WasmResults for ($($t,)+) {
            fn types() -> Vec<ValType> {
                alloc::vec![$($t::TYPE),+]
            }
            fn store(self, out: &mut [Val]) {
                $(if let Some(slot) = out.get_mut($i) {
                    *slot = self.$i.into_val();
                })+
            }
            fn load(vals: &[Val]) -> Option<Self> {
                let expected = [$($i),+].len();
                if vals.len() != expected {
                    return None;
                }
                Some(($($t::from_val(vals[$i])?,)+))
            }
        }
    )*};
}

wasm_results_tuple! {
    (A 0, B 1)
    (A 0, B 1, C 2)
    (A 0, B 1, C 2, D 3)
}

/// The Rust type of a WebAssembly value type's name (`I64` is `i64`), for
/// engines' typed bindings.
#[doc(hidden)]
#[macro_export]
macro_rules! wasm_rust_type {
    (I32) => {
        i32
    };
    (I64) => {
        i64
    };
    (F32) => {
        f32
    };
    (F64) => {
        f64
    };
}

/// The Rust type of a result list of zero or one value type's name.
#[doc(hidden)]
#[macro_export]
macro_rules! wasm_result_type {
    () => {
        ()
    };
    ($ty:ident) => {
        $crate::wasm_rust_type!($ty)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn func_types_print_as_wat_signatures() {
        let ty = FuncType::new([ValType::I64, ValType::I64], [ValType::I32]);
        assert_eq!(ty.to_string(), "(i64, i64) -> i32");
        assert_eq!(FuncType::new([], []).to_string(), "() -> ()");
        let multi = FuncType::new([ValType::F32], [ValType::I32, ValType::F64]);
        assert_eq!(multi.to_string(), "(f32) -> (i32, f64)");
    }

    #[test]
    fn typed_values_round_trip_and_keep_float_bits() {
        assert_eq!(u32::from_val(u32::MAX.into_val()), Some(u32::MAX));
        assert_eq!(u32::MAX.into_val(), Val::I32(-1));
        assert_eq!(u64::from_val(Val::I64(-1)), Some(u64::MAX));
        let nan = f32::from_bits(0x7fc0_0123);
        assert_eq!(nan.into_val(), Val::F32(0x7fc0_0123));
        assert_eq!(f64::from_val(Val::F64(1.5f64.to_bits())), Some(1.5));
        assert_eq!(i32::from_val(Val::I64(1)), None, "types are checked");
        let mut out = [Val::zero(ValType::I32), Val::zero(ValType::F64)];
        (7i32, 2.5f64).store(&mut out);
        assert_eq!(out, [Val::I32(7), Val::F64(2.5f64.to_bits())]);
        assert_eq!(<(i32, f64)>::load(&out), Some((7, 2.5)));
        assert_eq!(<i32>::load(&out), None, "two values are not one");
        assert_eq!(<i32>::load(&out[..1]), Some(7));
        assert_eq!(<()>::load(&[]), Some(()));
        assert_eq!(<i64>::load(&out[..1]), None, "types are checked");
        assert_eq!(<(i32, f64)>::types(), [ValType::I32, ValType::F64]);
    }
}
