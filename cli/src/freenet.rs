//! `refill freenet`: call one entry point of a freenet contract.

use std::path::Path;

use refill::freenet::{Contract, Entry, LegacyPolicy, Validity, Value};
use refill::{
    BoxedSource, BytesSource, DynEngine, Error, ErrorKind, IntoBoxedSource, ReaderSource, Result,
};
use serde::Serialize;

use crate::args::FreenetArgs;
use crate::progress;
use crate::report::CallFigures;
use crate::run::{engine_and_config, load_module};

/// The serialized empty `RelatedContracts`: bincode's empty map, a `u64` 0.
const NO_RELATED: [u8; 8] = [0; 8];

/// How much of the payload the human-readable output shows, in bytes.
const SHOWN_PAYLOAD: usize = 64;

/// One entry point's outcome, printed by `refill freenet --json`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct FreenetReport {
    /// The engine that ran the contract.
    pub(crate) engine: &'static str,
    /// The entry point (`validate`, `update`, `summarize`, `delta`).
    pub(crate) entry: &'static str,
    /// The result record's kind (`summarize_state`, ...).
    pub(crate) kind: &'static str,
    /// `streaming`, or `one-shot` for a contract built before it.
    pub(crate) protocol: &'static str,
    /// The serialized result payload, hex.
    pub(crate) payload_hex: String,
    /// Its streaming figures.
    #[serde(flatten)]
    pub(crate) figures: CallFigures,
}

pub(crate) fn freenet(args: FreenetArgs) -> Result<()> {
    let entry: Entry = args.entry.parse()?;
    let sources = arguments(entry, &args)?;
    let wasm = load_module(&args.module)?;

    let (engine, config) = engine_and_config(&args.engine)?;
    let module = engine.compile(&wasm)?;
    let legacy = if args.refuse_legacy {
        LegacyPolicy::Refuse
    } else {
        LegacyPolicy::Serve
    };
    let mut contract = Contract::instantiate(&module, &config, legacy)?;

    let (result, elapsed_s) = progress::timed(sources, |sources| contract.call(entry, sources));
    let result = result?.into_ok()?;

    let report = FreenetReport {
        engine: engine.name(),
        entry: entry.name(),
        kind: result.kind.name(),
        protocol: contract.protocol().name(),
        payload_hex: hex::encode(&result.payload),
        figures: CallFigures::of(contract.instance(), elapsed_s),
    };
    if args.json {
        crate::report::print_json(&report)?;
    } else {
        println!("{}: {}", result.kind, describe(result.value()));
        let shown = &result.payload[..result.payload.len().min(SHOWN_PAYLOAD)];
        let more = if shown.len() < result.payload.len() {
            format!("... ({} bytes; --json prints all)", result.payload.len())
        } else {
            String::new()
        };
        println!("payload: {}{more}", hex::encode(shown));
        println!(
            "{} on {}: {} fills, {} bytes streamed, guest memory {} bytes, {:.3} s",
            report.protocol,
            report.engine,
            report.figures.fills,
            report.figures.bytes_streamed,
            report.figures.peak_memory_bytes,
            report.figures.elapsed_s
        );
    }
    Ok(())
}

/// The entry point's arguments, in order, each from its file or default.
fn arguments(entry: Entry, args: &FreenetArgs) -> Result<Vec<BoxedSource>> {
    let third = match entry {
        Entry::Validate => Some(("--related", args.related.as_deref(), Some(&NO_RELATED[..]))),
        Entry::Update => Some(("--updates", args.updates.as_deref(), None)),
        Entry::Delta => Some(("--summary", args.summary.as_deref(), None)),
        Entry::Summarize => None,
    };
    for (flag, given) in [
        ("--related", &args.related),
        ("--updates", &args.updates),
        ("--summary", &args.summary),
    ] {
        if given.is_some() && third.is_none_or(|(wanted, ..)| wanted != flag) {
            return Err(usage(format!("`{entry}` takes no {flag}")));
        }
    }
    let mut sources = vec![
        match &args.params {
            Some(path) => file(path)?,
            None => BytesSource::new(Vec::new()).boxed(),
        },
        file(&args.state)?,
    ];
    if let Some((flag, given, default)) = third {
        sources.push(match (given, default) {
            (Some(path), _) => file(path)?,
            (None, Some(bytes)) => BytesSource::new(bytes.to_vec()).boxed(),
            (None, None) => {
                return Err(usage(format!("`{entry}` needs {flag} FILE")));
            }
        });
    }
    Ok(sources)
}

fn file(path: &Path) -> Result<BoxedSource> {
    Ok(ReaderSource::open(path)?.boxed())
}

fn usage(message: String) -> Error {
    Error::new(ErrorKind::SignatureMismatch, message)
}

/// The value in a few words.
fn describe(value: Option<Value<'_>>) -> String {
    match value {
        Some(Value::Validate(Validity::Valid)) => "valid".to_owned(),
        Some(Value::Validate(Validity::Invalid)) => "invalid".to_owned(),
        Some(Value::Validate(Validity::RequestRelated(n))) => {
            format!("needs {n} related contract(s)")
        }
        Some(Value::DeltaValid(valid)) => format!("delta valid: {valid}"),
        Some(Value::Update { new_state, related }) => match new_state {
            Some(state) => format!("new state of {} bytes, {related} related", state.len()),
            None => format!("no new state, {related} related contract(s) needed"),
        },
        Some(Value::Summary(bytes)) => format!("summary of {} bytes", bytes.len()),
        Some(Value::Delta(bytes)) => format!("delta of {} bytes", bytes.len()),
        None => "no value".to_owned(),
    }
}
