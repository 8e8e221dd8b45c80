//! Hostile guests and lying sources: each refused with the kind the host's
//! conformance suite expects, and the instance usable afterwards.

use alloc::format;
use alloc::string::String;

use refill::{
    EngineConfig, ErrorKind, Instance, InstanceConfig, InstanceExt, IntoBoxedSource, PullSource,
    Result,
};
use refill_testkit::hostile::{DRAIN, PING};
use refill_testkit::{GeneratedSource, fill_generated, generated_digest};

use crate::outcome::{Checked, Runner};
use crate::text::{
    BUFFER_OVERLAP, BUFFER_TOO_SMALL, CURSOR_OUT_OF_BOUNDS, DATA_AREA_OUT_OF_BOUNDS,
    DESCRIPTOR_OUT_OF_BOUNDS, HOSTILE_CHUNK, HOSTILE_ENTRY, TRAPPING_INITIATE, UNKNOWN_BUFFER,
    WRONG_INSTANCE_ID,
};
use crate::{Guests, instantiate};

/// The payload length of the hostile cases: the first chunk, 10 full
/// refills and 188 bytes.
const LEN: u64 = 3000;

/// `error=<kind>` for a failed call, `returned=<value>` for one that
/// should have failed.
fn error_of(result: Result<i64>) -> String {
    match result {
        Ok(value) => format!("returned={value}"),
        Err(e) => format!("error={:?}", e.kind()),
    }
}

/// A fresh instance of the hostile guest `name` with chunks of
/// [`HOSTILE_CHUNK`] bytes.
fn hostile(guests: &Guests<'_>, name: &str) -> Result<refill::wasmi::WasmiInstance> {
    let config = InstanceConfig::new().with_chunk_size(HOSTILE_CHUNK);
    instantiate(guests.text(name)?, &config, &EngineConfig::new())
}

/// A guest whose buffer is refused at priming: the call fails with `kind`
/// before the guest runs, and the instance still answers.
fn prime_rejected(guests: &Guests<'_>, name: &str, kind: ErrorKind) -> Checked {
    let expected = format!("error={kind:?}, then answers");
    let run = || -> Result<String> {
        let mut instance = hostile(guests, name)?;
        let source = GeneratedSource::new(1, LEN).boxed();
        let error = error_of(instance.call_with_streams(DRAIN, [source]));
        let answers = instance.call(PING, &[])? == instance.instance_id();
        let then = if answers { "answers" } else { "is silent" };
        Ok(format!("{error}, then {then}"))
    };
    match run() {
        Ok(result) => Checked::equal(result, expected),
        Err(e) => Checked::unexpected(&e, expected),
    }
}

/// A guest that misbehaves while streaming: the call traps with `kind`,
/// and the same instance then streams a new payload whole (header and
/// payload sunk).
fn refill_rejected(guests: &Guests<'_>, name: &str, kind: ErrorKind) -> Checked {
    let expected = format!("error={kind:?}, then drained={}", LEN + 4);
    let run = || -> Result<String> {
        let mut instance = hostile(guests, name)?;
        let source = GeneratedSource::new(2, LEN).boxed();
        let error = error_of(instance.call_with_streams(HOSTILE_ENTRY, [source]));
        let source = GeneratedSource::new(3, LEN).boxed();
        let drained = instance.call_with_streams(DRAIN, [source])?;
        Ok(format!("{error}, then drained={drained}"))
    };
    match run() {
        Ok(result) => Checked::equal(result, expected),
        Err(e) => Checked::unexpected(&e, expected),
    }
}

/// The generated payload `(seed, has)` from a closure that declares `declared`
/// bytes: shorter than declared (`SourceTruncated`) or longer
/// (`SourceOverlong`).
fn lying_source(seed: u64, declared: u64, has: u64) -> refill::BoxedSource {
    let mut offset = 0u64;
    PullSource::new(declared, move |dst: &mut [u8]| {
        let n = dst.len().min((has - offset) as usize);
        fill_generated(seed, offset, &mut dst[..n]);
        offset += n as u64;
        Ok(n)
    })
    .boxed()
}

/// The digest guest fed a lying source fails the call with `kind`; the same
/// instance then digests an honest payload.
fn lying_source_case(guests: &Guests<'_>, declared: u64, has: u64, kind: ErrorKind) -> Checked {
    let want = generated_digest(9, LEN);
    let expected = format!("error={kind:?}, then digest={want:#018x}");
    let run = || -> Result<String> {
        let config = InstanceConfig::new().with_chunk_size(HOSTILE_CHUNK);
        let mut instance = instantiate(guests.digest, &config, &EngineConfig::new())?;
        let liar = lying_source(4, declared, has);
        let error = error_of(instance.call_with_streams("digest", [liar]));
        let honest = GeneratedSource::new(9, LEN).boxed();
        let digest = instance.call_with_streams("digest", [honest])? as u64;
        Ok(format!("{error}, then digest={digest:#018x}"))
    };
    match run() {
        Ok(result) => Checked::equal(result, expected),
        Err(e) => Checked::unexpected(&e, expected),
    }
}

pub(crate) fn run(guests: &Guests<'_>, runner: &mut Runner<'_>) {
    for (name, kind) in [
        (DESCRIPTOR_OUT_OF_BOUNDS, ErrorKind::DescriptorOutOfBounds),
        (DATA_AREA_OUT_OF_BOUNDS, ErrorKind::DataAreaOutOfBounds),
        (CURSOR_OUT_OF_BOUNDS, ErrorKind::CursorOutOfBounds),
        (BUFFER_OVERLAP, ErrorKind::BufferOverlap),
        (BUFFER_TOO_SMALL, ErrorKind::BufferTooSmall),
        (TRAPPING_INITIATE, ErrorKind::Trap),
    ] {
        runner.case(format!("{name}/at_priming"), || {
            prime_rejected(guests, name, kind)
        });
    }
    for (name, kind) in [
        (WRONG_INSTANCE_ID, ErrorKind::WrongInstanceId),
        (UNKNOWN_BUFFER, ErrorKind::UnknownBuffer),
    ] {
        runner.case(format!("{name}/at_refill"), || {
            refill_rejected(guests, name, kind)
        });
    }
    runner.case(format!("source/truncated/declared={LEN}/has=1000"), || {
        lying_source_case(guests, LEN, 1000, ErrorKind::SourceTruncated)
    });
    runner.case(format!("source/overlong/declared={LEN}/has=3100"), || {
        lying_source_case(guests, LEN, 3100, ErrorKind::SourceOverlong)
    });
}
