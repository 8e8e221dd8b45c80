//! The engines refill binds, listed once.

/// Calls `$callback!` with the table of every engine refill can bind, one
/// row per engine:
///
/// `Variant name "feature" engine_crate Engine Module LinkedModule Instance
/// "version" "summary";`
///
/// Everything that lists engines is generated from this table: the facade's
/// [`crate::EngineKind`] and `Any*` types, and the conformance suite's test
/// cases (so every test name carries its engine's name). Rows whose feature
/// is off still exist in the table; generated code puts each behind
/// `#[cfg(feature = "...")]`.
#[doc(hidden)]
#[macro_export]
macro_rules! for_each_engine {
    ($callback:ident) => {
        $callback! {
            Wasmi wasmi "wasmi" refill_wasmi WasmiEngine WasmiModule WasmiLinkedModule WasmiInstance
                "2.0" "pure-Rust interpreter: builds everywhere, the default";
            Wasmtime wasmtime "wasmtime" refill_wasmtime WasmtimeEngine WasmtimeModule WasmtimeLinkedModule WasmtimeInstance
                "48.0.8" "Cranelift JIT: the fastest";
            Wasmer wasmer "wasmer" refill_wasmer WasmerEngine WasmerModule WasmerLinkedModule WasmerInstance
                "7.4.2" "singlepass compiler: compiles in linear time";
        }
    };
}
