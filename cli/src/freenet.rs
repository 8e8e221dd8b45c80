//! `refill freenet`: call an entry point of a freenet contract, or deliver
//! one application message to a delegate.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use refill::freenet::host::{
    ContractId, ContractStates, FixedClock, MemoryContractStates, RandomSource, RedbSecrets,
    StderrLog, StoreError,
};
use refill::freenet::{
    ContractModule, DelegateModule, Entry, FreenetHost, LegacyPolicy, OutboundMessage, Validity,
    Value,
};
use refill::{BoxedSource, BytesSource, Engine, IntoBoxedSource, ReaderSource};
use serde::Serialize;

use crate::args::{ContractArgs, DelegateArgs, FreenetArgs, FreenetCommand, HostArgs};
use crate::error::{CliError, CliResult};
use crate::progress;
use crate::report::CallFigures;
use crate::run::{engine_and_config, load_module};

/// The serialized empty `RelatedContracts`: bincode's empty map, a `u64` 0.
const NO_RELATED: [u8; 8] = [0; 8];

/// How much of a payload the human-readable output shows, in bytes.
const SHOWN_PAYLOAD: usize = 64;

/// One entry point's outcome, printed by `refill freenet ENTRY --json`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct ContractReport {
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

/// One outbound message of a delegate, as `--json` prints it.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct MessageReport {
    /// `application`, `context_updated`, `get_contract`, ...
    pub(crate) kind: &'static str,
    /// Its main bytes (see `OutboundMessage::payload`), hex.
    pub(crate) payload_hex: String,
}

/// One `process` call's outcome, printed by `refill freenet delegate --json`.
#[derive(Clone, Debug, Serialize)]
pub(crate) struct DelegateReport {
    /// The engine that ran the delegate.
    pub(crate) engine: &'static str,
    /// The delegate's key (code hash and parameters), hex.
    pub(crate) delegate_key: String,
    /// The serialized result payload, hex.
    pub(crate) payload_hex: String,
    /// The outbound messages, decoded.
    pub(crate) messages: Vec<MessageReport>,
    /// The delegate's context after the call, hex.
    pub(crate) context_hex: String,
    /// Its figures.
    #[serde(flatten)]
    pub(crate) figures: CallFigures,
}

pub(crate) fn freenet(args: FreenetArgs) -> CliResult<()> {
    match args.command {
        FreenetCommand::Validate(args) => contract(Entry::Validate, args),
        FreenetCommand::Update(args) => contract(Entry::Update, args),
        FreenetCommand::Summarize(args) => contract(Entry::Summarize, args),
        FreenetCommand::Delta(args) => contract(Entry::Delta, args),
        FreenetCommand::Delegate(args) => delegate(args),
    }
}

/// The host the flags ask for: log lines on stderr, a fixed clock, a seed.
fn host(args: &HostArgs) -> FreenetHost {
    let mut host = FreenetHost::new();
    if args.log {
        host = host.with_log(StderrLog);
    }
    if let Some(now) = args.clock {
        host = host.with_clock(FixedClock(now));
    }
    if let Some(seed) = args.seed {
        host = host.with_random(RandomSource::from_seed(seed));
    }
    host
}

fn contract(entry: Entry, args: ContractArgs) -> CliResult<()> {
    let sources = arguments(entry, &args)?;
    let wasm = load_module(&args.module)?;
    let (engine, config) = engine_and_config(&args.engine)?;
    let (module, _) = crate::cache::compile(&args.engine.cache, &engine, &wasm)?;
    let legacy = if args.refuse_legacy {
        LegacyPolicy::Refuse
    } else {
        LegacyPolicy::Serve
    };
    let linked = ContractModule::new(&module, &host(&args.host), legacy)?;
    let mut contract = linked.instantiate(&config)?;

    let (result, elapsed_s) = progress::timed(sources, |sources| contract.call(entry, sources));
    let result = result?.into_ok()?;

    let report = ContractReport {
        engine: engine.name(),
        entry: entry.name(),
        kind: result.kind.name(),
        protocol: contract.protocol().name(),
        payload_hex: hex::encode(&result.payload),
        figures: CallFigures::of(contract.instance(), elapsed_s),
    };
    if args.json {
        return crate::report::print_json(&report, false);
    }
    println!("{}: {}", result.kind, describe(result.value()));
    println!("payload: {}", shown(&result.payload));
    println!(
        "{} on {}: {} fills, {} bytes streamed, guest memory {} bytes, {:.3} s",
        report.protocol,
        report.engine,
        report.figures.fills,
        report.figures.bytes_streamed,
        report.figures.peak_memory_bytes,
        report.figures.elapsed_s
    );
    Ok(())
}

fn delegate(args: DelegateArgs) -> CliResult<()> {
    let params = read_file(args.params.as_deref(), "--params")?;
    let origin = read_file(args.origin.as_deref(), "--origin")?;
    let payload = read_file(Some(&args.app_message), "--app-message")?;
    let wasm = load_module(&args.module)?;

    let mut host = host(&args.host);
    if let Some(path) = &args.secrets {
        host =
            host.with_secrets(RedbSecrets::open(path).map_err(|e| CliError::Usage(e.to_string()))?);
    }
    if !args.contract_states.is_empty() {
        host = host.with_contract_states(FileStates(args.contract_states.clone()));
    }
    let (engine, config) = engine_and_config(&args.engine)?;
    let (module, _) = crate::cache::compile(&args.engine.cache, &engine, &wasm)?;
    let linked = DelegateModule::new(&module, &wasm, &host)?;
    let mut delegate = linked.instantiate(&config)?;

    let context = delegate.context()?;
    let inbound = refill::freenet::message::encode_application_message(&payload, &context, false);
    let started = std::time::Instant::now();
    let outcome = delegate.process(&params, &origin, &inbound);
    let elapsed_s = started.elapsed().as_secs_f64();
    let outcome = outcome?.into_ok()?;

    let report = DelegateReport {
        engine: engine.name(),
        delegate_key: delegate.key(&params).to_string(),
        payload_hex: hex::encode(&outcome.payload),
        messages: outcome
            .messages
            .iter()
            .map(|m| MessageReport {
                kind: m.kind(),
                payload_hex: hex::encode(m.payload()),
            })
            .collect(),
        context_hex: hex::encode(&outcome.context),
        figures: CallFigures::of(delegate.instance(), elapsed_s),
    };
    if args.json {
        return crate::report::print_json(&report, false);
    }
    println!(
        "delegate {} on {}: {} message(s)",
        report.delegate_key,
        report.engine,
        outcome.messages.len()
    );
    for message in &outcome.messages {
        println!("  {}: {}", message.kind(), describe_message(message));
    }
    println!("context: {}", shown(&outcome.context));
    Ok(())
}

/// The entry point's arguments, in order, each from its file or default.
fn arguments(entry: Entry, args: &ContractArgs) -> CliResult<Vec<BoxedSource>> {
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
            return Err(CliError::Usage(format!("`{entry}` takes no {flag}")));
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
            (None, None) => return Err(CliError::Usage(format!("`{entry}` needs {flag} FILE"))),
        });
    }
    Ok(sources)
}

fn file(path: &Path) -> CliResult<BoxedSource> {
    Ok(ReaderSource::open(path)?.boxed())
}

/// A small argument file's bytes (empty when not given).
fn read_file(path: Option<&Path>, flag: &str) -> CliResult<Vec<u8>> {
    match path {
        None => Ok(Vec::new()),
        Some(path) => std::fs::read(path).map_err(|e| CliError::Io {
            what: format!("cannot read {flag} {}", path.display()),
            source: e,
        }),
    }
}

/// Contract states from files, read straight into guest memory when a
/// delegate asks for them.
struct FileStates(Vec<(ContractId, PathBuf)>);

impl FileStates {
    fn path(&self, id: &ContractId) -> Option<&Path> {
        self.0
            .iter()
            .find(|(i, _)| i == id)
            .map(|(_, p)| p.as_path())
    }
}

impl ContractStates for FileStates {
    fn state_len(&self, id: &ContractId) -> Result<Option<u64>, StoreError> {
        let Some(path) = self.path(id) else {
            return Ok(None);
        };
        let metadata = std::fs::metadata(path)
            .map_err(|e| StoreError::new(format!("cannot read {}: {e}", path.display())))?;
        Ok(Some(metadata.len()))
    }

    fn read_state(&self, id: &ContractId, dst: &mut [u8]) -> Result<(), StoreError> {
        let path = self
            .path(id)
            .ok_or_else(|| StoreError::new("no file for that contract"))?;
        let failed =
            |e: std::io::Error| StoreError::new(format!("cannot read {}: {e}", path.display()));
        let mut file = File::open(path).map_err(failed)?;
        file.read_exact(dst).map_err(failed)?;
        let mut probe = [0u8; 1];
        match file.read(&mut probe).map_err(failed)? {
            0 => Ok(()),
            _ => Err(StoreError::new(format!(
                "{} grew while it was read",
                path.display()
            ))),
        }
    }
}

// The in-memory store stays the library's default for hosts without files.
const _: fn() -> MemoryContractStates = MemoryContractStates::new;

/// The first bytes of `bytes` in hex, and how many there are in all.
fn shown(bytes: &[u8]) -> String {
    let head = hex::encode(&bytes[..bytes.len().min(SHOWN_PAYLOAD)]);
    if bytes.len() > SHOWN_PAYLOAD {
        format!("{head}... ({} bytes; --json prints all)", bytes.len())
    } else {
        head
    }
}

/// A message in a few words: text payloads as text, others as hex.
fn describe_message(message: &OutboundMessage) -> String {
    let payload = message.payload();
    match std::str::from_utf8(payload) {
        Ok(text) if !text.is_empty() && !text.chars().any(char::is_control) => format!("{text:?}"),
        _ => shown(payload),
    }
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
