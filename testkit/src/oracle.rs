//! The safety oracle of the host's refill state machine.
//!
//! A [`Scenario`] is a guest memory, a descriptor the guest wrote (sensible or
//! hostile), a payload, and a sequence of guest actions: refills (with its own
//! or a forged id, at its buffer or elsewhere), rewrites of its own memory,
//! and memory growth. [`run`] plays it against [`HostStreams`] over a
//! [`RecordingMemory`] and returns the first [`Violation`] of:
//!
//! 1. every write the host makes lies inside guest memory: the memory
//!    adapter never has to refuse one (core checks first);
//! 2. a request refused for a guest fault leaves guest memory byte-for-byte
//!    untouched, and the kind is the expected one (forged id, unknown buffer);
//! 3. an accepted priming or refill writes exactly the next payload bytes at
//!    the data area's start and sets the cursors; end of stream writes nothing.

use std::boxed::Box;
use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use arbitrary::Arbitrary;
use refill_core::{
    BufferDescriptor, BytesSource, ErrorKind, GuestMemory, HostStreams, InstanceConfig, Result,
    StreamOptions,
};

const ID: i64 = 7;

/// A guest address, as a guest might produce it.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum Address {
    /// Somewhere inside memory.
    Inside(u16),
    /// Close to the end of memory (size + delta): the boundary cases.
    NearEnd(i16),
    /// Anything at all: negative, past 32 bits, ...
    Raw(i64),
}

impl Address {
    fn resolve(self, size: u64) -> i64 {
        match self {
            Self::Inside(offset) => (u64::from(offset) % size.max(1)) as i64,
            Self::NearEnd(delta) => size as i64 + i64::from(delta),
            Self::Raw(raw) => raw,
        }
    }
}

/// The capacity a guest declares.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum Capacity {
    /// What the host asked for.
    Requested,
    /// A small one (0..=255 bytes).
    Small(u8),
    /// Anything at all.
    Raw(u32),
}

/// How the guest lays out its buffer.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum Layout {
    /// As refill's guest does (descriptor, then cells, then data), shifted
    /// by a few bytes; later steps may still corrupt it.
    Sensible {
        /// Extra bytes between the cells and the data area.
        gap: u8,
    },
    /// Every field chosen by the guest.
    Hostile {
        /// The data area's start.
        start: Address,
        /// Its declared capacity.
        capacity: Capacity,
        /// The read cursor cell.
        last_read: Address,
        /// The write cursor cell.
        last_write: Address,
    },
}

/// What the guest does next.
#[derive(Clone, Copy, Debug, Arbitrary)]
pub enum Step {
    /// Calls `__frnt__fill_buffer`, with its own id or a forged one, for its
    /// buffer or another address.
    Fill {
        /// Pass an id that is not the instance's.
        forge_id: bool,
        /// Refill this address instead of the buffer's descriptor.
        elsewhere: Option<Address>,
    },
    /// Writes 8 bytes of its own memory (a descriptor field, a cursor, data).
    Poke {
        /// Where.
        at: Address,
        /// What.
        bytes: [u8; 8],
    },
    /// Grows its memory by `n * 64` bytes.
    Grow(u8),
}

/// One run of the state machine against a guest.
#[derive(Clone, Debug, Arbitrary)]
pub struct Scenario {
    memory_size: u16,
    chunk: u16,
    payload_len: u16,
    descriptor_at: Address,
    layout: Layout,
    steps: Vec<Step>,
}

impl Scenario {
    /// A well-behaved guest: memory of 4160 bytes, descriptor at 0, cursor
    /// cells at 40 and 44, data area at 128 with the capacity the host asked
    /// for, `payload_len` bytes in chunks of `chunk`, and `fills` refills.
    pub fn sensible(payload_len: u16, chunk: u16, fills: usize) -> Self {
        Self {
            memory_size: 4096,
            chunk: chunk.saturating_sub(8),
            payload_len,
            descriptor_at: Address::Inside(0),
            layout: Layout::Sensible { gap: 0 },
            steps: vec![
                Step::Fill {
                    forge_id: false,
                    elsewhere: None,
                };
                fills
            ],
        }
    }
}

/// What a scenario did, when the host kept every promise.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Report {
    /// Payload bytes delivered.
    pub delivered: usize,
    /// The payload's length.
    pub total: usize,
    /// Requests the host refused.
    pub refused: usize,
}

/// A broken promise of the host, with what led to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation(pub String);

impl core::fmt::Display for Violation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Guest memory that records any write the host attempts outside it.
#[derive(Clone, Debug, Default)]
pub struct RecordingMemory {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// The first out-of-range access the host attempted, if any.
    pub out_of_range: Option<String>,
}

impl RecordingMemory {
    fn check(&mut self, what: &str, addr: u32, len: usize) -> Result<core::ops::Range<usize>> {
        refill_core::memory::checked_slice_range(addr, len, self.bytes.len()).inspect_err(|_| {
            self.out_of_range.get_or_insert_with(|| {
                format!(
                    "host {what} at {addr:#x}+{len} outside {} bytes",
                    self.bytes.len()
                )
            });
        })
    }
}

impl GuestMemory for RecordingMemory {
    fn size(&self) -> u64 {
        self.bytes.len() as u64
    }

    fn read(&self, addr: u32, dst: &mut [u8]) -> Result<()> {
        self.bytes.as_slice().read(addr, dst)
    }

    fn write(&mut self, addr: u32, src: &[u8]) -> Result<()> {
        let range = self.check("write", addr, src.len())?;
        self.bytes[range].copy_from_slice(src);
        Ok(())
    }

    fn write_with(
        &mut self,
        addr: u32,
        len: u32,
        fill: &mut dyn FnMut(&mut [u8]) -> Result<()>,
    ) -> Result<()> {
        let range = self.check("write", addr, len as usize)?;
        fill(&mut self.bytes[range])
    }
}

fn le_u32(bytes: &[u8], at: i64) -> Option<u32> {
    let at = usize::try_from(at).ok()?;
    Some(u32::from_le_bytes(
        bytes.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn descriptor_at(bytes: &[u8], at: i64) -> Option<BufferDescriptor> {
    let at = usize::try_from(at).ok()?;
    let raw: &[u8; 32] = bytes.get(at..at.checked_add(32)?)?.try_into().ok()?;
    Some(BufferDescriptor::decode(raw))
}

/// Plays `scenario` and returns the first violation of the oracle.
pub fn run(scenario: &Scenario) -> core::result::Result<Report, Violation> {
    let size = 64 + u64::from(scenario.memory_size) % 8192;
    let chunk = 8 + u32::from(scenario.chunk) % 1024;
    let payload = crate::generated(1, usize::from(scenario.payload_len) % 8192);
    let total = payload.len();
    let mut memory = RecordingMemory {
        bytes: vec![0; size as usize],
        out_of_range: None,
    };
    let config = InstanceConfig::new()
        .with_instance_id(ID)
        .with_chunk_size(chunk);
    let mut host = HostStreams::new(&config).map_err(|e| Violation(format!("config: {e}")))?;
    let plan = host
        .plan(&BytesSource::new(payload.clone()), StreamOptions::new())
        .map_err(|e| Violation(format!("plan: {e}")))?;
    let requested = plan.capacity();

    // The guest lays out its buffer (where it fits) and returns its address.
    let descriptor = scenario.descriptor_at.resolve(size);
    let layout = match scenario.layout {
        Layout::Sensible { gap } => BufferDescriptor {
            start: descriptor + 40 + i64::from(gap),
            capacity: requested,
            last_read: descriptor + 32,
            last_write: descriptor + 36,
        },
        Layout::Hostile {
            start,
            capacity,
            last_read,
            last_write,
        } => BufferDescriptor {
            start: start.resolve(size),
            capacity: match capacity {
                Capacity::Requested => requested,
                Capacity::Small(n) => u32::from(n),
                Capacity::Raw(n) => n,
            },
            last_read: last_read.resolve(size),
            last_write: last_write.resolve(size),
        },
    };
    if let Ok(at) = u32::try_from(descriptor) {
        let _ = memory.bytes.as_mut_slice().write(at, &layout.encode());
    }

    let mut delivered = 0usize;
    let before = memory.bytes.clone();
    let primed = host.open(
        &mut memory,
        descriptor,
        Box::new(BytesSource::new(payload.clone())),
        plan,
    );
    let mut primed_ok = false;
    let mut refused = 0;
    match outcome(&memory, &before, primed.map(|()| u32::MAX), "prime")? {
        None => refused += 1,
        Some(_) => {
            let d = descriptor_at(&before, descriptor)
                .ok_or_else(|| Violation("primed an unreadable descriptor".into()))?;
            let written = le_u32(&memory.bytes, d.last_write).unwrap_or(0) as usize;
            let n = written
                .checked_sub(4)
                .ok_or_else(|| Violation(format!("prime set last_write {written} < 4")))?;
            expect_chunk(
                &memory.bytes,
                &d,
                &(total as u32).to_le_bytes(),
                0,
                "prime header",
            )?;
            expect_chunk(&memory.bytes, &d, &payload[..n], 4, "prime data")?;
            expect_cursors(&memory.bytes, &d, 0, written as u32, "prime")?;
            delivered = n;
            primed_ok = true;
        }
    }

    for (k, step) in scenario.steps.iter().enumerate() {
        match *step {
            Step::Poke { at, bytes } => {
                if let Ok(at) = u32::try_from(at.resolve(memory.size())) {
                    let _ = memory.bytes.as_mut_slice().write(at, &bytes);
                }
            }
            Step::Grow(n) => memory
                .bytes
                .resize(memory.bytes.len() + usize::from(n) * 64, 0),
            Step::Fill {
                forge_id,
                elsewhere,
            } => {
                let id = if forge_id { ID + 1 } else { ID };
                let addr = elsewhere.map_or(descriptor, |a| a.resolve(memory.size()));
                let before = memory.bytes.clone();
                let result = host.fill(&mut memory, id, addr);
                let expected_kind = if forge_id {
                    Some(ErrorKind::WrongInstanceId)
                } else if !primed_ok || addr != descriptor {
                    Some(ErrorKind::UnknownBuffer)
                } else {
                    None
                };
                let what = format!("step {k} fill(id {id}, {addr:#x})");
                match (expected_kind, outcome(&memory, &before, result, &what)?) {
                    (Some(kind), Some(_)) => {
                        return Err(Violation(format!("{what}: accepted, expected {kind:?}")));
                    }
                    (Some(kind), None) => {
                        refused += 1;
                        let got = host
                            .fill(&mut memory.clone(), id, addr)
                            .err()
                            .map(|e| e.kind());
                        if got != Some(kind) {
                            return Err(Violation(format!("{what}: {got:?}, expected {kind:?}")));
                        }
                    }
                    (None, None) => refused += 1,
                    (None, Some(0)) => {
                        if delivered != total {
                            return Err(Violation(format!(
                                "{what}: 0 after {delivered} of {total} bytes"
                            )));
                        }
                    }
                    (None, Some(n)) => {
                        let n = n as usize;
                        let d = descriptor_at(&before, addr).ok_or_else(|| {
                            Violation(format!("{what}: unreadable descriptor accepted"))
                        })?;
                        let next = payload.get(delivered..delivered + n).ok_or_else(|| {
                            Violation(format!("{what}: {n} bytes after {delivered} of {total}"))
                        })?;
                        expect_chunk(&memory.bytes, &d, next, 0, &what)?;
                        expect_cursors(&memory.bytes, &d, 0, n as u32, &what)?;
                        delivered += n;
                    }
                }
            }
        }
    }
    Ok(Report {
        delivered,
        total,
        refused,
    })
}

/// Applies the oracle's first two rules to one request; `Some(n)` if accepted.
fn outcome(
    memory: &RecordingMemory,
    before: &[u8],
    result: Result<u32>,
    what: &str,
) -> core::result::Result<Option<u32>, Violation> {
    if let Some(escape) = &memory.out_of_range {
        return Err(Violation(format!("{what}: {escape}")));
    }
    match result {
        Ok(n) => Ok(Some(n)),
        Err(e) if e.kind().is_guest_fault() => {
            if memory.bytes != before {
                return Err(Violation(format!(
                    "{what}: refused ({e}) but memory changed"
                )));
            }
            Ok(None)
        }
        Err(e) => Err(Violation(format!("{what}: unexpected error {e}"))),
    }
}

fn expect_chunk(
    bytes: &[u8],
    d: &BufferDescriptor,
    want: &[u8],
    offset: usize,
    what: &str,
) -> core::result::Result<(), Violation> {
    let at = usize::try_from(d.start).ok().map(|s| s + offset);
    let got = at.and_then(|at| bytes.get(at..at + want.len()));
    if got == Some(want) {
        Ok(())
    } else {
        Err(Violation(format!(
            "{what}: data area does not hold the expected {} bytes",
            want.len()
        )))
    }
}

fn expect_cursors(
    bytes: &[u8],
    d: &BufferDescriptor,
    read: u32,
    write: u32,
    what: &str,
) -> core::result::Result<(), Violation> {
    let got = (le_u32(bytes, d.last_read), le_u32(bytes, d.last_write));
    if got == (Some(read), Some(write)) {
        Ok(())
    } else {
        Err(Violation(format!(
            "{what}: cursors {got:?}, expected ({read}, {write})"
        )))
    }
}
