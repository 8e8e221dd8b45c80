//! The conformance suite: every case runs on every compiled engine.
//!
//! The engine list is written once, in the `engines` template below; a case
//! applies it with `#[apply(engines)]` and takes `#[case] engine: EngineKind`,
//! so each test's name contains its engine (`..::case_2_wasmtime::..`).

use rstest_reuse::template;

#[template]
#[rstest]
#[cfg_attr(feature = "wasmi", case::wasmi(refill::EngineKind::Wasmi))]
#[cfg_attr(feature = "wasmtime", case::wasmtime(refill::EngineKind::Wasmtime))]
#[cfg_attr(feature = "wasmer", case::wasmer(refill::EngineKind::Wasmer))]
fn engines(#[case] engine: refill::EngineKind) {}

mod arguments;
mod cross_engine;
mod differential;
mod errors;
mod freenet;
mod hostile;
mod isolation;
mod limits;
mod memory;
mod readers;
mod streaming;
mod threads;
