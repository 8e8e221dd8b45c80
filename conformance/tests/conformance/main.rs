//! The conformance suite: every case runs on every compiled engine.
//!
//! The engine list is the facade's one table (`refill::for_each_engine!`):
//! the `engines` template below is generated from it, a case applies it
//! with `#[apply(engines)]` and takes `#[case] engine: EngineKind`, so each
//! test's name contains its engine (`..::case_2_wasmtime::..`).

use rstest_reuse::template;

macro_rules! engines_template {
    ($($variant:ident $name:ident $feature:literal $krate:ident $engine:ident $module:ident
       $linked:ident $instance:ident $version:literal $summary:literal;)*) => {
        #[template]
        #[rstest]
        $(#[cfg_attr(feature = $feature, case::$name(refill::EngineKind::$variant))])*
        fn engines(#[case] engine: refill::EngineKind) {}
    };
}

refill::for_each_engine!(engines_template);

mod arguments;
mod asynchronous;
mod bounds;
mod cache;
mod cross_engine;
mod delegates;
mod differential;
mod errors;
mod freenet;
mod freenet_imports;
mod freenet_wire;
mod fuzzed;
mod host_functions;
mod hostile;
mod isolation;
mod limits;
mod memory;
mod output;
mod readers;
mod streaming;
mod threads;
