//! One host function: where the guest imports it from, its type, and the
//! closure that serves it, in a form every engine binds the same way.

use alloc::boxed::Box;
use alloc::format;
use alloc::sync::Arc;
use core::fmt;

use super::caller::Caller;
use crate::error::{Error, ErrorKind, Result};
use crate::value::{FuncType, Val, ValType, WasmResults, WasmValue};

/// The most parameters, and the most results, a host function may have.
/// Engines pass values through fixed buffers of this size, so a host call
/// never allocates for them.
pub const MAX_HOST_VALUES: usize = 16;

/// The most results a [`WasmResults`] type has (a tuple of four).
const MAX_TYPED_RESULTS: usize = 4;

/// The closure behind a host function, as every engine calls it: the
/// calling instance, the parameters (already of the declared types) and the
/// result slots to fill.
pub type HostFn = dyn Fn(&mut Caller<'_>, &[Val], &mut [Val]) -> Result<()> + Send + Sync;

/// A host function a guest can import: `module.name`, its [`FuncType`] and
/// the closure that serves it. Declared once, bound by every engine.
///
/// An error the closure returns traps the guest; the caller of the guest
/// export gets that error back with its kind, message and source intact.
///
/// Cheap to clone: clones share one allocation.
#[derive(Clone)]
pub struct HostFunc(Arc<Inner>);

struct Inner {
    module: Box<str>,
    name: Box<str>,
    ty: FuncType,
    func: Box<HostFn>,
}

impl fmt::Debug for HostFunc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "HostFunc({}.{}: {})",
            self.0.module, self.0.name, self.0.ty
        )
    }
}

impl HostFunc {
    /// A host function from a typed closure: `|caller: &mut Caller<'_>, a:
    /// i64, b: i32| -> Result<i32> { ... }`. Parameters are any of `i32`,
    /// `u32`, `i64`, `u64`, `f32`, `f64` (up to twelve); the result is `()`,
    /// one of those, or a tuple of up to four.
    pub fn wrap<Params, Results>(
        module: &str,
        name: &str,
        func: impl IntoHostFunc<Params, Results>,
    ) -> Self {
        let (ty, func) = func.into_host_func();
        Self(Arc::new(Inner {
            module: module.into(),
            name: name.into(),
            ty,
            func,
        }))
    }

    /// A host function from an untyped closure over [`Val`]s, for types
    /// known only at run time. The closure gets parameters of `ty`'s types
    /// and must fill every result slot with a value of the declared type
    /// (a wrong type is an error, never passed to the guest). At most
    /// [`MAX_HOST_VALUES`] parameters and results.
    pub fn new(
        module: &str,
        name: &str,
        ty: FuncType,
        func: impl Fn(&mut Caller<'_>, &[Val], &mut [Val]) -> Result<()> + Send + Sync + 'static,
    ) -> Result<Self> {
        if ty.params().len() > MAX_HOST_VALUES || ty.results().len() > MAX_HOST_VALUES {
            return Err(Error::new(
                ErrorKind::SignatureMismatch,
                format!(
                    "host function `{module}.{name}: {ty}` has more than {MAX_HOST_VALUES} \
                     parameters or results"
                ),
            ));
        }
        // The untyped closure is checked on both sides: it is handed only
        // values of its parameter types and may pass on only values of its
        // result types (a typed closure is by construction).
        let (params, results) = (ty.params().to_vec(), ty.results().to_vec());
        let what = format!("host function `{module}.{name}: {ty}`");
        let checked = move |caller: &mut Caller<'_>, args: &[Val], out: &mut [Val]| {
            if !types_match(args, &params) {
                return Err(mismatch(&what, "parameters"));
            }
            for (slot, ty) in out.iter_mut().zip(&results) {
                *slot = Val::zero(*ty);
            }
            func(caller, args, out)?;
            if !types_match(out, &results) {
                return Err(mismatch(&what, "results"));
            }
            Ok(())
        };
        Ok(Self(Arc::new(Inner {
            module: module.into(),
            name: name.into(),
            ty,
            func: Box::new(checked),
        })))
    }

    /// The import module it is served under.
    pub fn module(&self) -> &str {
        &self.0.module
    }

    /// Its name within the module.
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Its WebAssembly type.
    pub fn ty(&self) -> &FuncType {
        &self.0.ty
    }

    /// Calls the function with `params` in the guest's order and its
    /// results written to `results` (as many slots as it has results).
    /// Values are checked against the type (by the typed closure's
    /// conversions, or around the untyped one), so an engine or an untyped
    /// closure that gets them wrong is an error, not a guest value of the
    /// wrong type.
    pub fn call(&self, caller: &mut Caller<'_>, params: &[Val], results: &mut [Val]) -> Result<()> {
        let ty = &self.0.ty;
        if params.len() != ty.params().len() || results.len() != ty.results().len() {
            return Err(self.bad_values("a number of values"));
        }
        self.call_unchecked(caller, params, results)
    }

    /// Runs the closure. With `std`, a panic in it (or in a stream source
    /// it reads, as the refill import does) is caught here, at the host
    /// function's boundary, and poisons the instance: some engines cannot
    /// unwind through their own frames (wasmi's interpreter aborts the
    /// process), and the host state the closure was changing is in an
    /// unknown state. The call returns [`ErrorKind::Poisoned`], and so does
    /// every later call on the instance. Without `std`, panics abort, as
    /// they do on devices.
    #[cfg(feature = "std")]
    fn call_unchecked(
        &self,
        caller: &mut Caller<'_>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        let run = std::panic::AssertUnwindSafe(|| (self.0.func)(caller, params, results));
        match std::panic::catch_unwind(run) {
            Ok(outcome) => outcome,
            Err(payload) => {
                caller.data().poison();
                let why = payload
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| {
                        payload
                            .downcast_ref::<alloc::string::String>()
                            .map(|s| s.as_str())
                    })
                    .unwrap_or("a panic");
                Err(Error::new(
                    ErrorKind::Poisoned,
                    format!(
                        "host function `{}.{}` panicked ({why}); the instance refuses every call \
                         since",
                        self.0.module, self.0.name
                    ),
                ))
            }
        }
    }

    #[cfg(not(feature = "std"))]
    fn call_unchecked(
        &self,
        caller: &mut Caller<'_>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<()> {
        (self.0.func)(caller, params, results)
    }

    /// [`HostFunc::call`] with the results as Rust values `R`: how an
    /// engine's typed binding (for a signature of
    /// [`crate::for_each_typed_signature!`]) calls it, with nothing
    /// allocated and no slices of the engine's values.
    pub fn call_typed<R: WasmResults>(&self, caller: &mut Caller<'_>, params: &[Val]) -> Result<R> {
        let mut results = [Val::I32(0); MAX_TYPED_RESULTS];
        let results = results
            .get_mut(..self.0.ty.results().len())
            .ok_or_else(|| self.bad_values("results"))?;
        self.call(caller, params, results)?;
        R::load(results).ok_or_else(|| self.bad_values("results"))
    }

    /// [`HostFunc::call`] from values converted on the way in, each result
    /// handed to `store_result` with its index: how an engine's untyped
    /// binding calls it (through buffers of [`MAX_HOST_VALUES`] on the stack).
    pub fn call_with(
        &self,
        caller: &mut Caller<'_>,
        params: impl IntoIterator<Item = Val>,
        mut store_result: impl FnMut(usize, Val),
    ) -> Result<()> {
        let mut args = [Val::I32(0); MAX_HOST_VALUES];
        let mut count = 0;
        for param in params {
            let slot = args
                .get_mut(count)
                .ok_or_else(|| self.bad_values("parameters"))?;
            *slot = param;
            count += 1;
        }
        let mut results = [Val::I32(0); MAX_HOST_VALUES];
        let results = &mut results[..self.0.ty.results().len()];
        self.call(caller, &args[..count], results)?;
        for (i, value) in results.iter().enumerate() {
            store_result(i, *value);
        }
        Ok(())
    }

    fn bad_values(&self, what: &str) -> Error {
        let ty = &self.0.ty;
        mismatch(
            &format!("host function `{}.{}: {ty}`", self.0.module, self.0.name),
            what,
        )
    }
}

/// The error for values that do not match `what`'s type.
fn mismatch(what: &str, values: &str) -> Error {
    Error::new(
        ErrorKind::SignatureMismatch,
        format!("{what} got {values} that do not match its type"),
    )
}

/// Whether each value has its type, and there are as many of each.
fn types_match(vals: &[Val], types: &[ValType]) -> bool {
    vals.len() == types.len() && vals.iter().zip(types).all(|(v, t)| v.ty() == *t)
}

/// A closure that can be a typed host function: `Fn(&mut Caller<'_>, P1,
/// ..., Pn) -> Result<R>` for [`WasmValue`] parameters and [`WasmResults`]
/// `R`. Implemented for up to twelve parameters.
pub trait IntoHostFunc<Params, Results>: Send + Sync + 'static {
    /// The function's type and its untyped form.
    fn into_host_func(self) -> (FuncType, Box<HostFn>);
}

fn mistyped() -> Error {
    Error::new(
        ErrorKind::SignatureMismatch,
        "a host function got a parameter of another type than it declares",
    )
}

macro_rules! into_host_func {
    ($(($($p:ident),*))*) => {$(
        impl<F, R, $($p),*> IntoHostFunc<($($p,)*), R> for F
        where
            F: Fn(&mut Caller<'_>, $($p),*) -> Result<R> + Send + Sync + 'static,
            R: WasmResults,
            $($p: WasmValue,)*
        {
            #[allow(non_snake_case, unused_mut, unused_variables)]
            fn into_host_func(self) -> (FuncType, Box<HostFn>) {
                let ty = FuncType::new([$($p::TYPE),*], R::types());
                let func = move |caller: &mut Caller<'_>, params: &[Val], results: &mut [Val]| {
                    let &[$($p),*] = params else {
                        return Err(mistyped());
                    };
                    $(let $p = $p::from_val($p).ok_or_else(mistyped)?;)*
                    self(caller, $($p),*)?.store(results);
                    Ok(())
                };
                (ty, Box::new(func) as Box<HostFn>)
            }
        }
    )*};
}

into_host_func! {
    ()
    (A)
    (A, B)
    (A, B, C)
    (A, B, C, D)
    (A, B, C, D, E)
    (A, B, C, D, E, G)
    (A, B, C, D, E, G, H)
    (A, B, C, D, E, G, H, I)
    (A, B, C, D, E, G, H, I, J)
    (A, B, C, D, E, G, H, I, J, K)
    (A, B, C, D, E, G, H, I, J, K, L)
    (A, B, C, D, E, G, H, I, J, K, L, M)
}
