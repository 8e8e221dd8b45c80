//! `refill run` and `refill fixtures`.

use refill::cache::CacheOutcome;
use refill::{
    AnyEngine, Engine, EngineConfig, EngineKind, Instance, InstanceConfig, Module, StreamOptions,
};

use crate::args::{EngineArgs, RunArgs};
use crate::error::{CliError, CliResult};
use crate::inputs::{Argument, ArgumentOrder, Output, chunk_size, ordered};
use crate::progress;
use crate::report::{CallFigures, RunReport};

const BUILTIN_PREFIX: &str = "builtin:";

pub(crate) fn run(args: RunArgs, order: &ArgumentOrder) -> CliResult<()> {
    let arguments = ordered(
        &args.inputs,
        &args.input_sizes,
        &args.outputs,
        args.seed,
        order,
    );
    let wasm = load_module(&args.module)?;
    let report = execute(&args.engine, &wasm, &args.export, &arguments)?;
    // Standard output may carry the guest's output stream.
    let to_stderr = arguments.contains(&Argument::Out(Output::Stdout));
    if args.json {
        crate::report::print_json(&report, to_stderr)?;
    } else if to_stderr {
        eprintln!("{}", report.result);
    } else {
        println!("{}", report.result);
    }
    Ok(())
}

/// Compiles `wasm` on the chosen engine, opens each argument's stream in
/// order (inputs streamed in, outputs drained into their files) and calls
/// `export`.
pub(crate) fn execute(
    choice: &EngineArgs,
    wasm: &[u8],
    export: &str,
    arguments: &[Argument],
) -> CliResult<RunReport> {
    let (engine, config) = engine_and_config(choice)?;
    // Open every input and create every output before compiling, so a
    // missing file fails fast.
    let mut sources = Vec::new();
    let mut sinks = Vec::new();
    for argument in arguments {
        match argument {
            Argument::In(input) => sources.push(input.open()?),
            Argument::Out(output) => sinks.push(output.open()?),
        }
    }
    let (module, cache) = crate::cache::compile(&choice.cache, &engine, wasm)?;
    let mut instance = module.instantiate(&config)?;
    let (result, elapsed_s) = progress::timed(sources, |sources| {
        let (mut sources, mut sinks) = (sources.into_iter(), sinks.into_iter());
        let mut addrs = Vec::with_capacity(arguments.len());
        for argument in arguments {
            let opened = match argument {
                Argument::In(_) => sources
                    .next()
                    .map(|source| instance.open_stream(source, StreamOptions::new())),
                Argument::Out(_) => sinks
                    .next()
                    .map(|sink| instance.open_output(sink, StreamOptions::new())),
            };
            match opened {
                Some(Ok(addr)) => addrs.push(addr),
                Some(Err(e)) => {
                    instance.close_streams();
                    return Err(e);
                }
                None => break,
            }
        }
        instance.call(export, &addrs)
    });
    Ok(RunReport {
        engine: engine.name(),
        export: export.to_owned(),
        result: result?,
        cache: cache.map(CacheOutcome::as_str),
        figures: CallFigures::of(&instance, elapsed_s),
    })
}

/// The engine and the instance set-up the flags ask for.
pub(crate) fn engine_and_config(choice: &EngineArgs) -> CliResult<(AnyEngine, InstanceConfig)> {
    let limits = choice.limits.limits();
    let kind = choice.engine.unwrap_or_else(EngineKind::default_kind);
    let engine = AnyEngine::with_config(kind, &EngineConfig::for_limits(&limits))?;
    let config = InstanceConfig::new()
        .with_chunk_size(chunk_size(choice.chunk, &limits)?)
        .with_limits(limits);
    Ok((engine, config))
}

/// The built-in freenet contracts and delegate, for `refill freenet ... builtin:NAME`
/// (none without the cargo feature `freenet`).
pub(crate) const FREENET_BUILTINS: &[(&str, &[u8], &str)] = &[
    #[cfg(feature = "freenet")]
    (
        "freenet_log",
        refill_fixtures::FREENET_LOG,
        "a freenet-stdlib 0.12 contract: an append-only log (summary: [len][digest])",
    ),
    #[cfg(feature = "freenet")]
    (
        "freenet_stamp",
        refill_fixtures::FREENET_STAMP,
        "a contract that logs, reads the clock and draws random bytes (try --log --clock --seed)",
    ),
    #[cfg(feature = "freenet")]
    (
        "freenet_vault",
        refill_fixtures::FREENET_VAULT,
        "a delegate: secrets, context, contract states, delegate creation (refill freenet delegate)",
    ),
];

/// Reads a module from a file, or takes a built-in one (`builtin:NAME`).
pub(crate) fn load_module(spec: &str) -> CliResult<Vec<u8>> {
    if let Some(name) = spec.strip_prefix(BUILTIN_PREFIX) {
        let contract = FREENET_BUILTINS.iter().find(|(n, ..)| *n == name);
        if let Some((_, wasm, _)) = contract {
            return Ok(wasm.to_vec());
        }
        return refill_fixtures::by_name(name)
            .map(|fixture| fixture.wasm.to_vec())
            .ok_or_else(|| {
                let names: Vec<&str> = refill_fixtures::ALL
                    .iter()
                    .chain(refill_fixtures::WITH_OUTPUT)
                    .map(|f| f.name)
                    .chain(FREENET_BUILTINS.iter().map(|(n, ..)| *n))
                    .collect();
                CliError::Usage(format!(
                    "no built-in contract `{name}`; there are: {}",
                    names.join(", ")
                ))
            });
    }
    let bytes = std::fs::read(spec).map_err(|e| CliError::Io {
        what: format!("cannot read module {spec}"),
        source: e,
    })?;
    // A module in the text format is compiled to binary first.
    if bytes.starts_with(b"\0asm") {
        return Ok(bytes);
    }
    match wat::parse_bytes(&bytes) {
        Ok(wasm) => Ok(wasm.into_owned()),
        Err(e) if spec.ends_with(".wat") => Err(CliError::Usage(format!(
            "{spec} is not valid WebAssembly text: {}",
            e.to_string().lines().next().unwrap_or_default()
        ))),
        // Neither binary nor text: let the engine say what is wrong.
        Err(_) => Ok(bytes),
    }
}

pub(crate) fn list_fixtures() {
    println!("built-in contracts (MODULE = builtin:NAME):");
    for f in refill_fixtures::ALL
        .iter()
        .chain(refill_fixtures::WITH_OUTPUT)
    {
        println!(
            "  {:<14} --export {:<14} {} argument(s): {}",
            f.name, f.export, f.args, f.doc
        );
    }
    if FREENET_BUILTINS.is_empty() {
        println!("(the freenet contracts and delegate need the cargo feature `freenet`)");
        return;
    }
    println!(
        "built-in freenet contracts and delegates (refill freenet ENTRY|delegate builtin:NAME):"
    );
    for (name, _, doc) in FREENET_BUILTINS {
        println!("  {name:<14} {doc}");
    }
}
