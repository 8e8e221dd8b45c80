//! The command line.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use refill::{EngineKind, Limits};

#[cfg(not(all(feature = "freenet", feature = "bench")))]
use crate::error::CliError;
use crate::inputs::parse_size;

/// Stream large state into WebAssembly contracts through small reusable buffers.
#[derive(Debug, Parser)]
#[command(name = "refill", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// On failure, print the whole chain of causes (an engine's backtrace
    /// included) instead of one short line.
    #[arg(long, global = true)]
    pub(crate) verbose: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Stream inputs into a contract, one argument each, and call an export.
    Run(RunArgs),
    /// Stream a generated state into the built-in digest contract and explain what happened.
    Demo(DemoArgs),
    /// Call a freenet contract's entry point or a delegate (freenet-stdlib 0.12) with files as arguments.
    #[cfg(feature = "freenet")]
    Freenet(FreenetArgs),
    /// Measure streaming against whole copy, a native loop and minimal bindings; print a table.
    #[cfg(feature = "bench")]
    Bench(BenchArgs),
    /// `refill bench`'s live-instances case, run in a process of its own.
    #[cfg(feature = "bench")]
    #[command(hide = true)]
    BenchLive(BenchLiveArgs),
    /// Not in this build (cargo feature `freenet`).
    #[cfg(not(feature = "freenet"))]
    #[command(hide = true)]
    Freenet(NotBuilt),
    /// Not in this build (cargo feature `bench`).
    #[cfg(not(feature = "bench"))]
    #[command(hide = true)]
    Bench(NotBuilt),
    /// List the built-in contracts (usable as `builtin:NAME` for MODULE).
    Fixtures,
}

/// The arguments of a command this build does not have: any, so that the
/// error names the feature instead of the arguments.
#[derive(Debug, Args)]
pub(crate) struct NotBuilt {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _args: Vec<String>,
}

/// The error for `refill COMMAND` in a build without its cargo feature.
#[cfg(not(all(feature = "freenet", feature = "bench")))]
pub(crate) fn not_built(command: &str, feature: &str) -> CliError {
    CliError::Usage(format!(
        "`refill {command}` is not in this build; build the CLI with the cargo feature \
         `{feature}` (or `full`): cargo run -p refill-cli --release --features full -- {command} ..."
    ))
}

#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Payload sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1MiB,64MiB,1GiB", value_parser = parse_size)]
    pub(crate) sizes: Vec<u64>,
    /// Chunk sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "4KiB,16KiB,64KiB,256KiB,1MiB", value_parser = parse_size)]
    pub(crate) chunks: Vec<u64>,
    /// Engines, comma-separated (default: every compiled engine).
    #[arg(long, value_delimiter = ',')]
    pub(crate) engines: Option<Vec<EngineKind>>,
    /// Repetitions per case (default: 20 at 1 MiB down to 1 at 256 MiB and more); the median counts.
    #[arg(long)]
    pub(crate) reps: Option<usize>,
    /// Size of the file streamed through a ReaderSource, and in and out through the xor guest, to measure host RSS (0: skip).
    #[arg(long, default_value = "1GiB", value_parser = parse_size)]
    pub(crate) file_size: u64,
    /// Write an SVG chart of GiB/s against chunk size to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) chart: Option<PathBuf>,
    /// 1 MiB and 64 MiB in 64 KiB chunks only, a 64 MiB file: a minute instead of many.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Print one JSON object instead of the tables.
    #[arg(long)]
    pub(crate) json: bool,
    /// Parts to run, comma-separated: `throughput` (streaming large
    /// payloads) and `per-call` (call latency, module cache, live
    /// instances, calls from two threads).
    #[arg(long, value_delimiter = ',', default_value = "throughput,per-call")]
    pub(crate) parts: Vec<BenchPart>,
    /// Live instances made per engine in the per-call part (0: skip).
    #[arg(long, default_value_t = 10_000)]
    pub(crate) live: usize,
    /// Functions in the generated module of the per-call load case (about
    /// 185 bytes of wasm each; the default makes about 800 KB).
    #[arg(long, default_value_t = 4_300, hide = true)]
    pub(crate) module_functions: usize,
    /// Write an SVG chart of the per-call latency, refill against the
    /// minimal binding, to this file.
    #[arg(long, value_name = "FILE")]
    pub(crate) latency_chart: Option<PathBuf>,
}

/// A part of `refill bench`.
#[cfg(feature = "bench")]
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum BenchPart {
    /// Streaming large payloads: chunk sizes, payload sizes, the targets.
    Throughput,
    /// The per-call path: latency, module cache, live instances, threads.
    PerCall,
}

/// The arguments of `refill bench-live`.
#[cfg(feature = "bench")]
#[derive(Debug, Args)]
pub(crate) struct BenchLiveArgs {
    /// An engine name, or `wasmer-local`.
    pub(crate) subject: String,
    /// Instances to make and hold.
    pub(crate) count: usize,
}

/// The arguments of `refill freenet` (cargo feature `freenet`).
#[cfg(feature = "freenet")]
mod freenet_args {
    use std::path::PathBuf;

    use clap::{Args, Subcommand};
    use refill::freenet::host::UtcTime;

    use super::EngineArgs;

    #[derive(Debug, Args)]
    pub(crate) struct FreenetArgs {
        #[command(subcommand)]
        pub(crate) command: FreenetCommand,
    }

    #[derive(Debug, Subcommand)]
    pub(crate) enum FreenetCommand {
        /// Call a contract's validate_state(parameters, state, related).
        #[command(alias = "validate_state")]
        Validate(ContractArgs),
        /// Call a contract's update_state(parameters, state, updates).
        #[command(alias = "update_state")]
        Update(ContractArgs),
        /// Call a contract's summarize_state(parameters, state).
        #[command(alias = "summarize_state")]
        Summarize(ContractArgs),
        /// Call a contract's get_state_delta(parameters, state, summary).
        #[command(alias = "get_state_delta")]
        Delta(ContractArgs),
        /// Call a delegate's process(parameters, origin, inbound) with one application message.
        Delegate(DelegateArgs),
    }

    #[derive(Debug, Args)]
    pub(crate) struct ContractArgs {
        /// The contract: a .wasm file, or `builtin:freenet_log` / `builtin:freenet_stamp`.
        pub(crate) module: String,
        /// The contract's parameters, as they are (default: empty).
        #[arg(long, value_name = "FILE")]
        pub(crate) params: Option<PathBuf>,
        /// The contract's state, as it is.
        #[arg(long, value_name = "FILE")]
        pub(crate) state: PathBuf,
        /// validate: the serialized RelatedContracts (default: none).
        #[arg(long, value_name = "FILE")]
        pub(crate) related: Option<PathBuf>,
        /// update: the serialized Vec<UpdateData>.
        #[arg(long, value_name = "FILE")]
        pub(crate) updates: Option<PathBuf>,
        /// delta: the serialized summary the other peer holds.
        #[arg(long, value_name = "FILE")]
        pub(crate) summary: Option<PathBuf>,
        /// Refuse contracts built before the streaming ABI instead of serving them one-shot.
        #[arg(long)]
        pub(crate) refuse_legacy: bool,
        #[command(flatten)]
        pub(crate) engine: EngineArgs,
        #[command(flatten)]
        pub(crate) host: HostArgs,
        /// Print one JSON object.
        #[arg(long)]
        pub(crate) json: bool,
    }

    #[derive(Debug, Args)]
    pub(crate) struct DelegateArgs {
        /// The delegate: a .wasm file, or `builtin:freenet_vault`.
        pub(crate) module: String,
        /// The delegate's parameters, as they are (default: empty).
        #[arg(long, value_name = "FILE")]
        pub(crate) params: Option<PathBuf>,
        /// The serialized MessageOrigin the message comes from (default: none).
        #[arg(long, value_name = "FILE")]
        pub(crate) origin: Option<PathBuf>,
        /// The payload of the one ApplicationMessage to deliver.
        #[arg(long, value_name = "FILE")]
        pub(crate) app_message: PathBuf,
        /// A secret store on disk (created if missing) that later runs see (default: in memory).
        #[arg(long, value_name = "PATH")]
        pub(crate) secrets: Option<PathBuf>,
        /// A contract state the delegate may read: its 32-byte instance id in hex, `=`, a file.
        #[arg(long = "contract-state", value_name = "KEY_HEX=FILE", value_parser = parse_contract_state)]
        pub(crate) contract_states: Vec<([u8; 32], PathBuf)>,
        #[command(flatten)]
        pub(crate) engine: EngineArgs,
        #[command(flatten)]
        pub(crate) host: HostArgs,
        /// Print one JSON object.
        #[arg(long)]
        pub(crate) json: bool,
    }

    /// What the freenet host serves besides streams.
    #[derive(Debug, Args)]
    pub(crate) struct HostArgs {
        /// Print the guest's log lines on stderr.
        #[arg(long)]
        pub(crate) log: bool,
        /// Fix the clock the guest reads (RFC 3339, e.g. 2026-12-01T12:00:00Z); default: the system's.
        #[arg(long, value_name = "RFC3339", value_parser = parse_clock)]
        pub(crate) clock: Option<UtcTime>,
        /// Seed the guest's random bytes, for reproducible runs; default: from the OS.
        #[arg(long, value_name = "N")]
        pub(crate) seed: Option<u64>,
    }

    fn parse_clock(text: &str) -> Result<UtcTime, String> {
        let time = chrono::DateTime::parse_from_rfc3339(text).map_err(|e| {
            format!("`{text}` is not an RFC 3339 time like 2026-12-01T12:00:00Z ({e})")
        })?;
        Ok(UtcTime {
            unix_secs: time.timestamp(),
            nanos: time.timestamp_subsec_nanos(),
        })
    }

    fn parse_contract_state(text: &str) -> Result<([u8; 32], PathBuf), String> {
        let (key, file) = text
            .split_once('=')
            .ok_or_else(|| format!("`{text}` is not KEY_HEX=FILE"))?;
        let mut id = [0u8; 32];
        hex::decode_to_slice(key, &mut id)
            .map_err(|e| format!("`{key}` is not a 32-byte contract id in hex ({e})"))?;
        if file.is_empty() {
            return Err(format!("`{text}` names no file after `=`"));
        }
        Ok((id, PathBuf::from(file)))
    }
}

#[cfg(feature = "freenet")]
pub(crate) use freenet_args::*;

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The contract: a .wasm file, or `builtin:NAME` (see `refill fixtures`).
    pub(crate) module: String,
    /// The export to call with one descriptor address per input and output.
    #[arg(long)]
    pub(crate) export: String,
    /// A file streamed as the next argument.
    #[arg(long = "input", value_name = "FILE")]
    pub(crate) inputs: Vec<PathBuf>,
    /// Deterministic generated bytes of this size (e.g. 64MiB) as the next argument.
    #[arg(long = "input-size", value_name = "SIZE", value_parser = parse_size)]
    pub(crate) input_sizes: Vec<u64>,
    /// A file (or `-` for standard output) the guest streams out to, as
    /// the next argument: an output stream (`refill_io`'s drain). With `-`
    /// the result goes to standard error.
    #[arg(long = "output", value_name = "FILE")]
    pub(crate) outputs: Vec<PathBuf>,
    /// Seed of the generated inputs; the k-th argument uses SEED + k.
    #[arg(long, default_value_t = 0)]
    pub(crate) seed: u64,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
    /// Print one JSON object instead of the result alone.
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Size of the generated state.
    #[arg(long, default_value = "64MiB", value_parser = parse_size)]
    pub(crate) size: u64,
    #[command(flatten)]
    pub(crate) engine: EngineArgs,
}

#[derive(Debug, Args)]
pub(crate) struct EngineArgs {
    /// The engine (wasmi, wasmtime, wasmer); default: the build's default engine.
    #[arg(long)]
    pub(crate) engine: Option<EngineKind>,
    /// Bytes per refill (the guest buffer's size), e.g. 4KiB, 64KiB, 1MiB.
    #[arg(long, default_value = "64KiB", value_parser = parse_size)]
    pub(crate) chunk: u64,
    #[command(flatten)]
    pub(crate) limits: LimitArgs,
    #[command(flatten)]
    pub(crate) cache: CacheArgs,
}

/// Where compiled modules are kept between runs.
#[derive(Debug, Args)]
pub(crate) struct CacheArgs {
    /// Keep compiled modules in DIR, so that later runs load them instead of compiling
    /// (wasmtime, wasmer; wasmi compiles anyway). Default: $XDG_CACHE_HOME/refill or
    /// ~/.cache/refill.
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub(crate) cache: Option<PathBuf>,
    /// Compile every time: neither read nor write the module cache.
    #[arg(long)]
    pub(crate) no_cache: bool,
}

/// Resource limits; the defaults are safe for untrusted contracts.
#[derive(Debug, Args)]
pub(crate) struct LimitArgs {
    /// Largest guest memory; growing past it stops the contract.
    #[arg(long, value_name = "SIZE", default_value = "256MiB", value_parser = parse_size)]
    pub(crate) max_memory: u64,
    /// Wall-clock time each guest call may run (`5s`, `500ms`, `2m`), or
    /// `none`; a call still running then is stopped.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_timeout)]
    pub(crate) timeout: Timeout,
    /// CPU budget of each guest call in fuel units (about one per instruction),
    /// deterministic where the timeout is not; `unlimited` (the default) turns
    /// fuel metering off, which is faster.
    #[arg(long, value_name = "N", default_value = "unlimited", value_parser = parse_fuel)]
    pub(crate) fuel: Fuel,
    /// Largest input (one streamed argument).
    #[arg(long, value_name = "SIZE", default_value = "1GiB", value_parser = parse_size)]
    pub(crate) max_payload: u64,
}

/// A fuel budget or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Fuel {
    Budget(u64),
    Unlimited,
}

/// A deadline per call or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeout(pub(crate) Option<std::time::Duration>);

fn parse_timeout(text: &str) -> Result<Timeout, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(Timeout(None));
    }
    match humantime::parse_duration(text) {
        Ok(duration) if !duration.is_zero() => Ok(Timeout(Some(duration))),
        Ok(_) => Err("a timeout of zero would stop every call; use `none` for no timeout".into()),
        Err(e) => Err(format!(
            "`{text}` is not a duration like 5s, 500ms or 2m, or `none` ({e})"
        )),
    }
}

impl LimitArgs {
    /// The limits these flags ask for.
    pub(crate) fn limits(&self) -> Limits {
        Limits::default()
            .with_deadline(self.timeout.0)
            .with_max_memory_bytes(self.max_memory)
            .with_fuel(match self.fuel {
                Fuel::Budget(n) => Some(n),
                Fuel::Unlimited => None,
            })
            .with_max_payload_bytes(self.max_payload)
    }
}

fn parse_fuel(text: &str) -> Result<Fuel, String> {
    if text.eq_ignore_ascii_case("unlimited") {
        return Ok(Fuel::Unlimited);
    }
    text.replace('_', "")
        .parse::<u64>()
        .map(Fuel::Budget)
        .map_err(|_| format!("`{text}` is not a number of fuel units or `unlimited`"))
}
