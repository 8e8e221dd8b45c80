//! Host functions, declared once and bound by every engine.
//!
//! An embedder declares a [`HostFunc`] (import module, name, type, closure)
//! and collects it in a [`HostFunctions`] set, with any per-instance state
//! its functions keep ([`HostFunctions::state`]). Linking a module against
//! the set ([`crate::Module::link`]) resolves its imports once; each
//! instance then binds them by position. Inside a call the closure gets a
//! [`Caller`]: checked access to the calling instance's memory and its own
//! [`HostData`]. The refill import `__frnt__fill_buffer` is one such host
//! function ([`fill_buffer`]), in every set made by [`HostFunctions::new`].
//!
//! ```
//! use refill_core::{Caller, HostFunctions, Result};
//!
//! let mut host = HostFunctions::new();
//! let calls = host.state(|| 0u32);
//! host.func("env", "add", move |caller: &mut Caller<'_>, a: i32, b: i32| -> Result<i32> {
//!     *caller.state(calls)? += 1;
//!     Ok(a.wrapping_add(b))
//! });
//! assert_eq!(host.get("env", "add").unwrap().ty().to_string(), "(i32, i32) -> i32");
//! ```

mod caller;
mod data;
mod func;
mod link;

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

pub use caller::Caller;
pub use data::{BoxedState, HostData, StateSlot};
pub use func::{HostFn, HostFunc, IntoHostFunc, MAX_HOST_VALUES};
pub use link::{Import, ImportType, Linkage};

use crate::abi::{DRAIN_BUFFER, FILL_BUFFER, IMPORT_MODULE, OUTPUT_MODULE};
use crate::error::Result;

/// Makes one instance's fresh value of a state slot.
type StateInit = Arc<dyn Fn() -> BoxedState + Send + Sync>;

/// A set of host functions and the per-instance state they keep: what a
/// module is linked against.
#[derive(Clone)]
pub struct HostFunctions {
    funcs: Vec<HostFunc>,
    states: Vec<StateInit>,
    /// Whether modules linked with the set take async calls.
    is_async: bool,
}

impl fmt::Debug for HostFunctions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFunctions")
            .field("funcs", &self.funcs)
            .field("states", &self.states.len())
            .field("is_async", &self.is_async)
            .finish()
    }
}

/// [`HostFunctions::new`]: refill's own import.
impl Default for HostFunctions {
    fn default() -> Self {
        Self::new()
    }
}

impl HostFunctions {
    /// The set with refill's own imports: `freenet_contract_io.__frnt__fill_buffer`
    /// and the output streams' `refill_io.__refill__drain_buffer`.
    pub fn new() -> Self {
        let mut set = Self::empty();
        set.define(fill_buffer());
        set.define(drain_buffer());
        set
    }

    /// A set with no host functions at all.
    pub fn empty() -> Self {
        Self {
            funcs: Vec::new(),
            states: Vec::new(),
            is_async: false,
        }
    }

    /// Links modules for async calls (feature `async`,
    /// [`crate::AsyncInstance`]): their stream imports are bound so that
    /// the guest can wait in them for an async stream. A module linked
    /// without it keeps the sync path exactly as it is; one linked with it
    /// also takes sync calls, at some cost on wasmtime (each call then runs
    /// on a fiber of wasmtime's).
    #[cfg(feature = "async")]
    pub fn enable_async(&mut self) -> &mut Self {
        self.is_async = true;
        self
    }

    /// Whether modules linked with the set take async calls
    /// ([`HostFunctions::enable_async`]).
    pub fn is_async(&self) -> bool {
        self.is_async
    }

    /// Adds `func`; it replaces a function of the same module and name
    /// (an embedder's own logger, say, in place of a built-in one).
    pub fn define(&mut self, func: HostFunc) -> &mut Self {
        match self
            .funcs
            .iter_mut()
            .find(|f| f.module() == func.module() && f.name() == func.name())
        {
            Some(existing) => *existing = func,
            None => self.funcs.push(func),
        }
        self
    }

    /// Adds a typed host function (see [`HostFunc::wrap`]).
    pub fn func<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        func: impl IntoHostFunc<Params, Results>,
    ) -> &mut Self {
        self.define(HostFunc::wrap(module, name, func))
    }

    /// Declares a piece of per-instance state: every instance linked with
    /// this set starts with `init()`, reached by host functions through
    /// [`Caller::state`] and by the embedder through
    /// [`crate::InstanceExt::with_state`].
    pub fn state<T: Send + 'static>(
        &mut self,
        init: impl Fn() -> T + Send + Sync + 'static,
    ) -> StateSlot<T> {
        self.states
            .push(Arc::new(move || Box::new(init()) as BoxedState));
        StateSlot::new(self.states.len() - 1)
    }

    /// The function served as `module.name`, if any.
    pub fn get(&self, module: &str, name: &str) -> Option<&HostFunc> {
        self.funcs
            .iter()
            .find(|f| f.module() == module && f.name() == name)
    }

    /// Every function of the set, in the order they were added.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &HostFunc> {
        self.funcs.iter()
    }

    /// Resolves a module's imports against the set (see [`Linkage::resolve`]).
    pub fn link(&self, imports: &[Import]) -> Result<Linkage> {
        Linkage::resolve(imports, self)
    }

    /// A fresh value of every state, in slot order.
    fn new_states(&self) -> impl Iterator<Item = BoxedState> + '_ {
        self.states.iter().map(|init| init())
    }
}

/// Calls `$callback!` with the signatures engines bind through their typed
/// path (the engine's own typed function wrapper, with no value slices and
/// no allocation per call): those of refill's own import and of the
/// freenet imports, one per line as `[a: I64, b: I64] -> [I32];`. Any
/// other signature is bound through the engine's untyped path, which
/// behaves the same and costs a little more per call. The list is here, in
/// one place, so that every engine fast-paths the same signatures.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_typed_signature {
    ($callback:ident) => {
        $callback! {
            [a: I64, b: I64] -> [I32];
            [a: I64, b: I64] -> [];
            [a: I64, b: I64, c: I32] -> [];
            [] -> [I32];
            [a: I64, b: I32] -> [I32];
            [a: I64, b: I32] -> [I64];
            [a: I64, b: I32, c: I64, d: I32] -> [I32];
            [a: I64, b: I32, c: I64, d: I64] -> [I64];
            [a: I64, b: I64, c: I64, d: I64, e: I64, f: I64, g: I64, h: I64] -> [I32];
        }
    };
}

/// refill's own import, `freenet_contract_io.__frnt__fill_buffer(id: i64,
/// buf_ptr: i64) -> i32`: serves a refill from the calling instance's
/// streams ([`crate::HostStreams::fill`]).
pub fn fill_buffer() -> HostFunc {
    HostFunc::wrap(
        IMPORT_MODULE,
        FILL_BUFFER,
        |caller: &mut Caller<'_>, id: i64, buf_ptr: i64| -> Result<u32> {
            let (memory, streams) = caller.memory_and_streams()?;
            streams.fill(memory, id, buf_ptr)
        },
    )
}

/// refill's output import, `refill_io.__refill__drain_buffer(id: i64,
/// buf_ptr: i64) -> i32`: takes the bytes of one of the calling instance's
/// output streams ([`crate::HostStreams::drain`]).
pub fn drain_buffer() -> HostFunc {
    HostFunc::wrap(
        OUTPUT_MODULE,
        DRAIN_BUFFER,
        |caller: &mut Caller<'_>, id: i64, buf_ptr: i64| -> Result<u32> {
            let (memory, streams) = caller.memory_and_streams()?;
            streams.drain(memory, id, buf_ptr)
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::InstanceConfig;
    use crate::error::{Error, ErrorKind};
    use crate::memory::VecMemory;
    use crate::value::{FuncType, Val, ValType};
    use alloc::string::ToString;

    fn call(func: &HostFunc, data: &mut HostData, params: &[Val]) -> Result<alloc::vec::Vec<Val>> {
        let mut memory = VecMemory::zeroed(16);
        let mut caller = Caller::new(Some(&mut memory), data);
        let mut out = alloc::vec![Val::I32(0); func.ty().results().len()];
        func.call_with(&mut caller, params.iter().copied(), |i, v| out[i] = v)?;
        Ok(out)
    }

    #[test]
    fn typed_functions_take_and_return_every_value_type() {
        let mut host = HostFunctions::empty();
        host.func(
            "env",
            "mix",
            |_: &mut Caller<'_>, a: i32, b: i64, c: f32, d: f64| -> Result<(f64, i64)> {
                Ok((
                    f64::from(a) + b as f64 + f64::from(c) + d,
                    b.wrapping_mul(2),
                ))
            },
        );
        let mix = host.get("env", "mix").unwrap();
        assert_eq!(mix.ty().to_string(), "(i32, i64, f32, f64) -> (f64, i64)");
        let mut data = HostData::new(&InstanceConfig::new(), &host).unwrap();
        let params = [
            Val::I32(1),
            Val::I64(2),
            Val::F32(0.5f32.to_bits()),
            Val::F64(0.25f64.to_bits()),
        ];
        assert_eq!(
            call(mix, &mut data, &params).unwrap(),
            [Val::F64(3.75f64.to_bits()), Val::I64(4)]
        );
        let wrong = [Val::I64(1), Val::I64(2), Val::F32(0), Val::F64(0)];
        let e = call(mix, &mut data, &wrong).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SignatureMismatch);
    }

    #[test]
    fn errors_pass_through_and_untyped_results_are_checked() {
        let fails = HostFunc::wrap("env", "fails", |_: &mut Caller<'_>| -> Result<()> {
            Err(Error::host("the embedder said no"))
        });
        let mut data = HostData::new(&InstanceConfig::new(), &HostFunctions::empty()).unwrap();
        let e = call(&fails, &mut data, &[]).unwrap_err();
        assert_eq!(
            (e.kind(), e.message()),
            (ErrorKind::HostFunction, "the embedder said no")
        );

        let ty = FuncType::new([], [ValType::I32]);
        let liar = HostFunc::new("env", "liar", ty, |_, _, results| {
            results[0] = Val::F64(0);
            Ok(())
        })
        .unwrap();
        assert_eq!(
            call(&liar, &mut data, &[]).unwrap_err().kind(),
            ErrorKind::SignatureMismatch
        );
        let picky = HostFunc::new(
            "env",
            "picky",
            FuncType::new([ValType::I32], []),
            |_, params, _| match params {
                [Val::I32(_)] => Ok(()),
                _ => panic!("the check let a parameter of another type through"),
            },
        )
        .unwrap();
        assert_eq!(
            call(&picky, &mut data, &[Val::I64(1)]).unwrap_err().kind(),
            ErrorKind::SignatureMismatch
        );
        let too_many = FuncType::new([ValType::I32; MAX_HOST_VALUES + 1], []);
        assert!(HostFunc::new("env", "wide", too_many, |_, _, _| Ok(())).is_err());
    }

    #[test]
    fn typed_calls_give_rust_values_of_the_declared_type() {
        let next = HostFunc::wrap("env", "next", |_: &mut Caller<'_>, a: i32| -> Result<i32> {
            Ok(a + 1)
        });
        let mut data = HostData::new(&InstanceConfig::new(), &HostFunctions::empty()).unwrap();
        let mut caller = Caller::new(None, &mut data);
        assert_eq!(
            next.call_typed::<i32>(&mut caller, &[Val::I32(41)])
                .unwrap(),
            42
        );
        for wrong in [
            next.call_typed::<i64>(&mut caller, &[Val::I32(1)])
                .map(drop),
            next.call_typed::<i32>(&mut caller, &[Val::I64(1)])
                .map(drop),
            next.call_typed::<i32>(&mut caller, &[]).map(drop),
            next.call_typed::<()>(&mut caller, &[Val::I32(1)]),
        ] {
            assert_eq!(wrong.unwrap_err().kind(), ErrorKind::SignatureMismatch);
        }
    }

    #[test]
    fn a_later_definition_replaces_an_earlier_one() {
        let mut host = HostFunctions::new();
        assert_eq!(host.iter().len(), 2);
        host.func(
            IMPORT_MODULE,
            FILL_BUFFER,
            |_: &mut Caller<'_>, _: i64, _: i64| -> Result<i32> { Ok(0) },
        );
        assert_eq!(host.iter().len(), 2);
        assert!(
            HostFunctions::empty()
                .get(IMPORT_MODULE, FILL_BUFFER)
                .is_none()
        );
    }
}
