//! `refill demo`: the digest contract on a generated state, explained.

use bytesize::ByteSize;

use crate::args::DemoArgs;
use crate::error::{CliError, CliResult};
use crate::inputs::{Argument, Input};
use crate::run::execute;

pub(crate) fn demo(args: DemoArgs) -> CliResult<()> {
    let state = Argument::In(Input::Generated {
        seed: 0,
        len: args.size,
    });
    let digest = refill_fixtures::DIGEST;
    let streamed = execute(
        &args.engine,
        digest.wasm,
        digest.export,
        std::slice::from_ref(&state),
    )?;
    let expected = refill_testkit::generated_digest(0, args.size);
    let collect = refill_fixtures::COLLECT;
    let collected = execute(&args.engine, collect.wasm, collect.export, &[state])?;

    let size = |bytes: u64| ByteSize::b(bytes).display().iec().to_string();
    let share = |bytes: u64| 100.0 * bytes as f64 / args.size.max(1) as f64;
    println!(
        "refill demo: a {} generated state streamed into the `{}` contract on {}",
        size(args.size),
        digest.name,
        streamed.engine
    );
    println!();
    println!("  chunk (guest buffer)   {}", size(args.engine.chunk));
    println!("  refill calls           {}", streamed.figures.fills);
    println!(
        "  bytes streamed         {}",
        streamed.figures.bytes_streamed
    );
    println!(
        "  guest memory           {} ({:.1}% of the state)",
        size(streamed.figures.peak_memory_bytes),
        share(streamed.figures.peak_memory_bytes)
    );
    println!(
        "  time                   {:.3} s ({:.2} GiB/s)",
        streamed.figures.elapsed_s,
        streamed.figures.gib_per_s()
    );
    let verdict = if streamed.result as u64 == expected {
        "matches the host's digest"
    } else {
        "DIFFERS from the host's digest"
    };
    println!(
        "  digest                 {:#018x} ({verdict})",
        streamed.result as u64
    );
    println!();
    println!(
        "For contrast, the `{}` contract (freenet's read_to_end pattern) needed {} of guest memory ({:.0}% of the state) for the same bytes.",
        collect.name,
        size(collected.figures.peak_memory_bytes),
        share(collected.figures.peak_memory_bytes)
    );
    println!(
        "Streaming reads the whole state through one reused buffer, so guest memory stays O(chunk), not O(state)."
    );
    if streamed.result as u64 != expected || collected.result as u64 != expected {
        return Err(CliError::Corrupted(
            "a contract's digest differs from the host's".into(),
        ));
    }
    Ok(())
}
