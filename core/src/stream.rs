//! The host side of the refill state machine: priming a buffer, serving each
//! refill, end of stream, and every failure as a typed [`Error`].
//!
//! One [`HostStreams`] belongs to one instance. A stream is opened in two
//! steps around the guest's `__frnt__initiate_buffer` call: [`HostStreams::plan`]
//! makes every check that needs no guest memory and says what capacity to
//! ask for, then [`HostStreams::open`] checks the buffer the guest returned
//! and writes it. Streams are found by the
//! descriptor address the host primed; the `id` the guest passes is only
//! compared with the instance's own id, never used to look anything up.
//! Every guest address and length is checked against the live memory size
//! with overflow-safe arithmetic before anything is written, and a request
//! the checks reject writes nothing. (A source that fails mid-chunk may leave
//! part of that chunk in the data area; the cursors are not updated then.)

use alloc::boxed::Box;
use alloc::format;
use alloc::vec::Vec;

use crate::abi::{
    CURSOR_LEN, DESCRIPTOR_LEN, HEADER_LEN, MAX_CHUNK_SIZE, MAX_PAYLOAD_LEN, MIN_CHUNK_SIZE,
};
use crate::config::InstanceConfig;
use crate::descriptor::BufferDescriptor;
use crate::error::{Error, ErrorKind, Result};
use crate::memory::{GuestMemory, GuestRange};
use crate::sink::BoxedSink;
use crate::source::StreamSource;

/// A stream source as the host state keeps it.
pub type BoxedSource = Box<dyn StreamSource + Send>;

/// Counters of the streaming work done for one instance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Streams primed.
    pub streams: u64,
    /// Refill calls for a known stream of this instance, whether served, at
    /// end of stream (returning 0) or rejected by the buffer checks.
    pub fills: u64,
    /// Payload bytes delivered: written into guest memory by a priming or
    /// refill that succeeded (headers not counted; a chunk whose source
    /// failed is not counted, even where part of it was written).
    pub bytes_streamed: u64,
    /// Output streams opened.
    pub outputs: u64,
    /// Drain calls the guest made on its output streams and the host
    /// served (the last drain after the entry point returns not counted).
    pub drains: u64,
    /// Output bytes handed to sinks, the last drains included.
    pub bytes_drained: u64,
}

/// One buffer's parts, each checked to lie inside guest memory and not to
/// overlap another.
#[derive(Clone, Copy, Debug)]
struct CheckedBuffer {
    /// The part of the data area the host may write: `min(capacity, chunk)`.
    data: GuestRange,
    read_cursor: u32,
    write_cursor: u32,
}

/// A buffer as it was last checked: the descriptor, the memory size
/// the checks were made against, and what they found. The checks depend on
/// nothing else, and WebAssembly memory never shrinks, so while the guest
/// leaves its descriptor as it was, the result still holds (see
/// [`OpenStream::checked_buffer`]).
#[derive(Clone, Copy, Debug)]
struct CheckedLayout {
    descriptor: BufferDescriptor,
    descriptor_start: u32,
    memory_size: u64,
    buffer: CheckedBuffer,
}

impl CheckedBuffer {
    /// Reads and checks the descriptor at `descriptor_addr` (see
    /// [`CheckedBuffer::check`]).
    fn locate(
        memory: &(impl GuestMemory + ?Sized),
        descriptor_addr: i64,
        chunk_size: u32,
    ) -> Result<Self> {
        Self::check(memory, descriptor_addr, chunk_size).map(|layout| layout.buffer)
    }

    /// Reads and checks the descriptor at `descriptor_addr`, in this order:
    /// descriptor bounds, data area bounds, read cursor bounds, write cursor
    /// bounds, then overlaps between any two parts; returns the buffer with
    /// what it was checked against.
    fn check(
        memory: &(impl GuestMemory + ?Sized),
        descriptor_addr: i64,
        chunk_size: u32,
    ) -> Result<CheckedLayout> {
        let size = memory.size();
        let descriptor_range = GuestRange::within(descriptor_addr, u64::from(DESCRIPTOR_LEN), size)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::DescriptorOutOfBounds,
                    format!("descriptor at {descriptor_addr:#x} does not fit in guest memory of {size} bytes"),
                )
            })?;
        let d = BufferDescriptor::decode(&memory.read_descriptor(descriptor_range.start())?);

        // The declared area must exist in the 32-bit address space even where
        // the host writes less of it.
        let declared_fits = u64::try_from(d.start)
            .ok()
            .and_then(|start| start.checked_add(u64::from(d.capacity)))
            .is_some_and(|end| end <= 1 << 32);
        let usable = d.capacity.min(chunk_size);
        let data = GuestRange::within(d.start, u64::from(usable), size)
            .filter(|_| declared_fits)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::DataAreaOutOfBounds,
                    format!(
                        "data area at {:#x} with capacity {} does not fit in guest memory of {size} bytes",
                        d.start, d.capacity
                    ),
                )
            })?;
        let cursor = |addr: i64, name: &str| {
            GuestRange::within(addr, u64::from(CURSOR_LEN), size).ok_or_else(|| {
                Error::new(
                    ErrorKind::CursorOutOfBounds,
                    format!(
                        "{name} cursor at {addr:#x} does not fit in guest memory of {size} bytes"
                    ),
                )
            })
        };
        let read_cursor = cursor(d.last_read, "read")?;
        let write_cursor = cursor(d.last_write, "write")?;

        let parts = [
            ("descriptor", descriptor_range),
            ("data area", data),
            ("read cursor", read_cursor),
            ("write cursor", write_cursor),
        ];
        for (i, (a_name, a)) in parts.iter().enumerate() {
            for (b_name, b) in &parts[i + 1..] {
                if a.overlaps(*b) {
                    return Err(Error::new(
                        ErrorKind::BufferOverlap,
                        format!(
                            "{a_name} at {:#x}+{} overlaps {b_name} at {:#x}+{}",
                            a.start(),
                            a.len(),
                            b.start(),
                            b.len()
                        ),
                    ));
                }
            }
        }
        Ok(CheckedLayout {
            descriptor: d,
            descriptor_start: descriptor_range.start(),
            memory_size: size,
            buffer: Self {
                data,
                read_cursor: read_cursor.start(),
                write_cursor: write_cursor.start(),
            },
        })
    }
}

impl CheckedLayout {
    /// The buffer, checked again only if the guest changed its descriptor
    /// (see [`OpenStream::checked_buffer`]).
    fn recheck(
        &mut self,
        memory: &(impl GuestMemory + ?Sized),
        buf_ptr: i64,
        chunk_size: u32,
    ) -> Result<CheckedBuffer> {
        if memory.size() >= self.memory_size {
            let now = BufferDescriptor::decode(&memory.read_descriptor(self.descriptor_start)?);
            // The padding is not compared: no check reads it.
            if now == self.descriptor {
                return Ok(self.buffer);
            }
        }
        *self = CheckedBuffer::check(memory, buf_ptr, chunk_size)?;
        Ok(self.buffer)
    }
}

struct OpenStream {
    descriptor: i64,
    source: BoxedSource,
    remaining: u64,
    /// This stream's chunk size: the most written per refill.
    chunk_size: u32,
    /// The buffer as last checked.
    checked: CheckedLayout,
}

impl OpenStream {
    /// The stream's buffer, checked: the last check's result if the guest
    /// left the descriptor as it was (its fields compared, read through the
    /// memory's own bounds check) and memory did not shrink, which
    /// WebAssembly does not allow but costs one comparison to rule out;
    /// otherwise every check again. This spares the refill the descriptor
    /// checks (a few hundred instructions on a 32-bit core) while any change
    /// the guest makes is still seen before anything is written.
    fn checked_buffer(
        &mut self,
        memory: &(impl GuestMemory + ?Sized),
        buf_ptr: i64,
    ) -> Result<CheckedBuffer> {
        self.checked.recheck(memory, buf_ptr, self.chunk_size)
    }

    /// Writes the next `len` payload bytes at `at` and updates the counters.
    fn deliver(
        &mut self,
        memory: &mut (impl GuestMemory + ?Sized),
        at: u32,
        len: u32,
    ) -> Result<()> {
        if len > 0 {
            let source = &mut self.source;
            memory.write_with(at, len, &mut |dst| source.read_exact_into(dst))?;
        }
        self.remaining -= u64::from(len);
        if self.remaining == 0 {
            self.source.finish()?;
        }
        Ok(())
    }
}

/// How the host places a payload in the guest.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Placement {
    /// The streaming refill ABI: a buffer of at most one chunk, the
    /// `[total_len]` header, then refills on `__frnt__fill_buffer`.
    #[default]
    Refill,
    /// One-shot: a buffer as large as the whole payload, written at once
    /// with no header and no refills (contracts built before the streaming
    /// ABI, delegates' arguments, the whole-copy baseline).
    Whole,
}

/// How one stream is opened: its placement and, optionally, a chunk size
/// of its own instead of the instance's.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct StreamOptions {
    /// Refill (default) or whole.
    pub placement: Placement,
    /// This stream's chunk size; `None`: the instance's.
    pub chunk_size: Option<u32>,
}

impl StreamOptions {
    /// A refilled stream with the instance's chunk size.
    pub fn new() -> Self {
        Self::default()
    }

    /// A payload placed whole ([`Placement::Whole`]).
    pub fn whole() -> Self {
        Self {
            placement: Placement::Whole,
            chunk_size: None,
        }
    }

    /// Sets this stream's chunk size (checked against the limits when it is
    /// opened).
    #[must_use]
    pub fn with_chunk_size(mut self, chunk_size: u32) -> Self {
        self.chunk_size = Some(chunk_size);
        self
    }
}

/// A stream that passed every check of [`HostStreams::plan`]: what to ask
/// the guest's `__frnt__initiate_buffer` for, and how to fill the buffer it
/// returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamPlan {
    placement: Placement,
    total: u32,
    chunk_size: u32,
    capacity: u32,
}

impl StreamPlan {
    /// The capacity to request from `__frnt__initiate_buffer`.
    pub fn capacity(&self) -> u32 {
        self.capacity
    }
}

/// The streams of one instance and the counters of their work.
pub struct HostStreams {
    instance_id: i64,
    chunk_size: u32,
    max_chunk_size: u32,
    max_payload_bytes: u64,
    max_open_streams: usize,
    max_output_bytes: u64,
    streams: Vec<OpenStream>,
    outputs: Vec<OutputStream>,
    stats: StreamStats,
}

impl core::fmt::Debug for HostStreams {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostStreams")
            .field("instance_id", &self.instance_id)
            .field("chunk_size", &self.chunk_size)
            .field("open_streams", &self.streams.len())
            .field("open_outputs", &self.outputs.len())
            .field("stats", &self.stats)
            .finish()
    }
}

/// Checks a chunk size against the accepted range and a limit.
pub fn check_chunk_size(chunk_size: u32, max_chunk_size: u32) -> Result<u32> {
    let max = max_chunk_size.min(MAX_CHUNK_SIZE);
    if (MIN_CHUNK_SIZE..=max).contains(&chunk_size) {
        Ok(chunk_size)
    } else {
        Err(Error::new(
            ErrorKind::InvalidChunkSize,
            format!("chunk size {chunk_size} is outside {MIN_CHUNK_SIZE}..={max} bytes"),
        ))
    }
}

impl HostStreams {
    /// The streams of a new instance set up by `config`: its id (fresh
    /// unless the config fixes one), its chunk size (checked against the
    /// limits) and its stream limits.
    pub fn new(config: &InstanceConfig) -> Result<Self> {
        let limits = &config.limits;
        Ok(Self {
            chunk_size: check_chunk_size(config.chunk_size(), limits.max_chunk_size)?,
            instance_id: config.next_instance_id(),
            max_chunk_size: limits.max_chunk_size,
            max_payload_bytes: limits.max_payload_bytes.min(MAX_PAYLOAD_LEN),
            max_open_streams: limits.max_open_streams,
            max_output_bytes: limits.max_output_bytes,
            streams: Vec::new(),
            outputs: Vec::new(),
            stats: StreamStats::default(),
        })
    }

    /// The id the instance was given through `__frnt_set_id`.
    pub fn instance_id(&self) -> i64 {
        self.instance_id
    }

    /// The instance's default chunk size in bytes.
    pub fn chunk_size(&self) -> u32 {
        self.chunk_size
    }

    /// Counters of the work done so far.
    pub fn stats(&self) -> StreamStats {
        self.stats
    }

    /// Streams primed or opened for output and not yet released.
    pub fn open_streams(&self) -> usize {
        self.streams.len() + self.outputs.len()
    }

    /// Checks a payload length against the instance's limit; the length as
    /// a `u32` (the limit is never above `u32::MAX`).
    fn check_payload_len(&self, total: u64) -> Result<u32> {
        u32::try_from(total)
            .ok()
            .filter(|_| total <= self.max_payload_bytes)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::PayloadTooLarge,
                    format!(
                        "payload of {total} bytes exceeds the limit of {} bytes",
                        self.max_payload_bytes
                    ),
                )
            })
    }

    fn check_open_streams(&self) -> Result<()> {
        if self.open_streams() >= self.max_open_streams {
            return Err(Error::new(
                ErrorKind::TooManyStreams,
                format!(
                    "the instance already has {} open streams, its limit",
                    self.open_streams()
                ),
            ));
        }
        Ok(())
    }

    /// The checks of the buffer a new stream is to use: the open-stream
    /// limit (again: several plans may be made before their streams are
    /// opened), the buffer itself with `chunk_size` usable, and no open
    /// stream on its descriptor.
    fn check_new_buffer(
        &self,
        memory: &(impl GuestMemory + ?Sized),
        descriptor_addr: i64,
        chunk_size: u32,
    ) -> Result<CheckedLayout> {
        self.check_open_streams()?;
        let checked = CheckedBuffer::check(memory, descriptor_addr, chunk_size)?;
        if self.is_open(descriptor_addr) {
            return Err(Error::new(
                ErrorKind::BufferOverlap,
                format!("descriptor at {descriptor_addr:#x} already belongs to an open stream"),
            ));
        }
        Ok(checked)
    }

    /// Whether `descriptor_addr` is an open stream's, input or output.
    fn is_open(&self, descriptor_addr: i64) -> bool {
        self.streams.iter().any(|s| s.descriptor == descriptor_addr)
            || self.outputs.iter().any(|o| o.descriptor == descriptor_addr)
    }

    /// Compares the id a guest passed with the instance's own.
    fn check_id(&self, id: i64) -> Result<()> {
        if id != self.instance_id {
            return Err(Error::new(
                ErrorKind::WrongInstanceId,
                format!(
                    "guest passed instance id {id}, its own is {}",
                    self.instance_id
                ),
            ));
        }
        Ok(())
    }

    /// Every check of opening a stream of `source` with `options`, before
    /// the guest is asked for a buffer: the chunk size against the accepted
    /// range and the limit, the declared length against the payload limit,
    /// and (for a refilled stream) the open-stream limit. The plan says what
    /// capacity to request: `min(chunk, total + 4)` for a refilled stream,
    /// the whole payload otherwise.
    pub fn plan(&self, source: &dyn StreamSource, options: StreamOptions) -> Result<StreamPlan> {
        let chunk_size = match options.chunk_size {
            Some(chunk) => check_chunk_size(chunk, self.max_chunk_size)?,
            None => self.chunk_size,
        };
        let total = self.check_payload_len(source.total_len())?;
        let capacity = match options.placement {
            Placement::Refill => {
                self.check_open_streams()?;
                crate::abi::requested_capacity(total, chunk_size)
            }
            Placement::Whole => total,
        };
        Ok(StreamPlan {
            placement: options.placement,
            total,
            chunk_size,
            capacity,
        })
    }

    /// Fills the buffer whose descriptor the guest returned at
    /// `descriptor_addr` as `plan` says: primes a refilled stream (the
    /// `[total_len]` header and the first chunk, the cursors, and the source
    /// kept for the refills that follow), or places the whole payload.
    /// `source` must be the one planned for. The buffer is checked first;
    /// a buffer the checks reject is not written.
    pub fn open(
        &mut self,
        memory: &mut (impl GuestMemory + ?Sized),
        descriptor_addr: i64,
        source: BoxedSource,
        plan: StreamPlan,
    ) -> Result<()> {
        if source.total_len() != u64::from(plan.total) {
            return Err(Error::new(
                ErrorKind::SourceFailed,
                format!(
                    "the source now declares {} bytes, planned for {}",
                    source.total_len(),
                    plan.total
                ),
            ));
        }
        match plan.placement {
            Placement::Refill => self.prime(memory, descriptor_addr, source, plan),
            Placement::Whole => self.place_whole(memory, descriptor_addr, source, plan.total),
        }
    }

    /// Writes the whole payload, with no header, and sets the cursors to
    /// `0` and its length. The data area must hold all of it. No stream is
    /// kept, so a refill of this buffer is an [`ErrorKind::UnknownBuffer`].
    /// Each byte is copied once, straight from the source into guest
    /// memory; the copy goes in chunk-sized pieces so that a long payload's
    /// source is read (and its progress seen) as it goes, not in one call.
    fn place_whole(
        &mut self,
        memory: &mut (impl GuestMemory + ?Sized),
        descriptor_addr: i64,
        mut source: BoxedSource,
        total: u32,
    ) -> Result<()> {
        let buffer = CheckedBuffer::locate(memory, descriptor_addr, total)?;
        if buffer.data.len() < total {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!(
                    "data area of {} bytes cannot hold the whole payload of {total} bytes",
                    buffer.data.len()
                ),
            ));
        }
        let mut at = buffer.data.start();
        let mut left = total;
        while left > 0 {
            let n = left.min(self.chunk_size);
            memory.write_with(at, n, &mut |dst| source.read_exact_into(dst))?;
            at += n;
            left -= n;
        }
        source.finish()?;
        memory.write_u32(buffer.read_cursor, 0)?;
        memory.write_u32(buffer.write_cursor, total)?;
        self.stats.streams += 1;
        self.stats.bytes_streamed += u64::from(total);
        Ok(())
    }

    /// Writes the `[total_len]` header and the first chunk, sets the
    /// cursors, and keeps the source for the refills that follow.
    fn prime(
        &mut self,
        memory: &mut (impl GuestMemory + ?Sized),
        descriptor_addr: i64,
        source: BoxedSource,
        plan: StreamPlan,
    ) -> Result<()> {
        let checked = self.check_new_buffer(memory, descriptor_addr, plan.chunk_size)?;
        let buffer = checked.buffer;
        if buffer.data.len() < HEADER_LEN {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!(
                    "data area of {} bytes cannot hold the {HEADER_LEN}-byte header",
                    buffer.data.len()
                ),
            ));
        }
        let first = (buffer.data.len() - HEADER_LEN).min(plan.total);
        let mut stream = OpenStream {
            descriptor: descriptor_addr,
            source,
            remaining: u64::from(plan.total),
            chunk_size: plan.chunk_size,
            checked,
        };
        let header_at = buffer.data.start();
        memory.write(header_at, &plan.total.to_le_bytes())?;
        stream.deliver(memory, header_at + HEADER_LEN, first)?;
        memory.write_u32(buffer.read_cursor, 0)?;
        memory.write_u32(buffer.write_cursor, HEADER_LEN + first)?;
        self.stats.streams += 1;
        self.stats.bytes_streamed += u64::from(first);
        self.streams.push(stream);
        Ok(())
    }

    /// Serves `__frnt__fill_buffer(id, buf_ptr)`: writes the next chunk at the
    /// start of the data area, sets the cursors to `0` and `n`, and returns
    /// `n`; returns 0, writing nothing, once the stream is exhausted.
    pub fn fill(
        &mut self,
        memory: &mut (impl GuestMemory + ?Sized),
        id: i64,
        buf_ptr: i64,
    ) -> Result<u32> {
        self.check_id(id)?;
        let stream = self
            .streams
            .iter_mut()
            .find(|s| s.descriptor == buf_ptr)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::UnknownBuffer,
                    format!("no stream was primed at buffer address {buf_ptr:#x}"),
                )
            })?;
        self.stats.fills += 1;
        if stream.remaining == 0 {
            return Ok(0);
        }
        let buffer = stream.checked_buffer(memory, buf_ptr)?;
        if buffer.data.is_empty() {
            return Err(Error::new(
                ErrorKind::BufferTooSmall,
                format!(
                    "data area has no room while {} payload bytes are pending",
                    stream.remaining
                ),
            ));
        }
        let n = buffer
            .data
            .len()
            .min(u32::try_from(stream.remaining).unwrap_or(u32::MAX));
        stream.deliver(memory, buffer.data.start(), n)?;
        memory.write_u32(buffer.read_cursor, 0)?;
        memory.write_u32(buffer.write_cursor, n)?;
        self.stats.bytes_streamed += u64::from(n);
        Ok(n)
    }

    /// Every check of opening an output stream before the guest is asked
    /// for a buffer (the open-stream limit); the capacity to ask for: the
    /// instance's chunk size, or `options`' own.
    pub fn plan_output(&self, options: StreamOptions) -> Result<u32> {
        self.check_open_streams()?;
        match options.chunk_size {
            Some(chunk) => check_chunk_size(chunk, self.max_chunk_size),
            None => Ok(self.chunk_size),
        }
    }

    /// Opens an output stream on the buffer whose descriptor the guest
    /// returned at `descriptor_addr`: checks it as a refill does (its usable
    /// part: `min(capacity, chunk_size)`, the most one drain takes), sets
    /// both cursor cells to 0 (no header) and keeps `sink` for the drains.
    pub fn open_output(
        &mut self,
        memory: &mut (impl GuestMemory + ?Sized),
        descriptor_addr: i64,
        sink: BoxedSink,
        chunk_size: u32,
    ) -> Result<()> {
        let chunk_size = check_chunk_size(chunk_size, self.max_chunk_size)?;
        let checked = self.check_new_buffer(memory, descriptor_addr, chunk_size)?;
        memory.write_u32(checked.buffer.read_cursor, 0)?;
        memory.write_u32(checked.buffer.write_cursor, 0)?;
        self.stats.outputs += 1;
        self.outputs.push(OutputStream {
            descriptor: descriptor_addr,
            sink,
            taken: 0,
            chunk_size,
            checked,
            scratch: Vec::new(),
        });
        Ok(())
    }

    /// Serves `refill_io.__refill__drain_buffer(id, buf_ptr)`: checks the
    /// id and the buffer (as a refill does, then `read ≤ write ≤ usable`,
    /// usable being `min(capacity, chunk size)`), hands `data[read..write]`
    /// to the stream's sink, sets both cursor cells to 0 and returns the
    /// number of bytes taken.
    pub fn drain(
        &mut self,
        memory: &mut (impl GuestMemory + ?Sized),
        id: i64,
        buf_ptr: i64,
    ) -> Result<u32> {
        self.check_id(id)?;
        let Some(output) = self.outputs.iter_mut().find(|o| o.descriptor == buf_ptr) else {
            let what = if self.streams.iter().any(|s| s.descriptor == buf_ptr) {
                "is an input stream's, not an output stream's"
            } else {
                "belongs to no output stream of this call"
            };
            return Err(Error::new(
                ErrorKind::UnknownBuffer,
                format!("drain of the buffer at {buf_ptr:#x}, which {what}"),
            ));
        };
        let n = output.drain(memory, buf_ptr, self.max_output_bytes)?;
        self.stats.drains += 1;
        self.stats.bytes_drained += u64::from(n);
        Ok(n)
    }

    /// When the entry point has returned: drains what each output stream
    /// holds between its cursors, with the same checks as a drain, finishes
    /// its sink and releases it (the input streams are the caller's to
    /// release, with [`HostStreams::release_all`]). The first failure is
    /// returned, and every output stream is released all the same.
    pub fn finish_outputs(&mut self, memory: &mut (impl GuestMemory + ?Sized)) -> Result<()> {
        let mut outcome = Ok(());
        for mut output in core::mem::take(&mut self.outputs) {
            let descriptor = output.descriptor;
            let finished = output
                .drain(memory, descriptor, self.max_output_bytes)
                .and_then(|n| {
                    self.stats.bytes_drained += u64::from(n);
                    output.sink.finish()
                });
            if outcome.is_ok() {
                outcome = finished;
            }
        }
        outcome
    }

    /// Drops every open stream, input and output: called when the entry
    /// point returns or traps, so nothing of one call reaches the next. An
    /// output stream dropped here is not drained and its sink not finished.
    pub fn release_all(&mut self) {
        self.streams.clear();
        self.outputs.clear();
    }
}

/// One output stream: its buffer, its sink, how much it took.
struct OutputStream {
    descriptor: i64,
    sink: BoxedSink,
    /// Bytes handed to the sink so far.
    taken: u64,
    /// The most one drain takes: the usable part of the data area.
    chunk_size: u32,
    /// The buffer as last checked.
    checked: CheckedLayout,
    /// The bytes of one drain, on their way from guest memory to the sink
    /// (kept, so that a drain allocates nothing once it has grown).
    scratch: Vec<u8>,
}

impl OutputStream {
    /// Checks the buffer at `buf_ptr` and its cursors, hands
    /// `data[read..write]` to the sink and sets both cursors to 0.
    fn drain(
        &mut self,
        memory: &mut (impl GuestMemory + ?Sized),
        buf_ptr: i64,
        max_output_bytes: u64,
    ) -> Result<u32> {
        let buffer = self.checked.recheck(memory, buf_ptr, self.chunk_size)?;
        let (read, write) = (
            memory.read_u32(buffer.read_cursor)?,
            memory.read_u32(buffer.write_cursor)?,
        );
        if write > buffer.data.len() {
            return Err(Error::new(
                ErrorKind::CursorOutOfBounds,
                format!(
                    "write cursor {write} is past the {} usable bytes of the data area",
                    buffer.data.len()
                ),
            ));
        }
        if read > write {
            return Err(Error::new(
                ErrorKind::CursorOutOfBounds,
                format!("read cursor {read} is past the write cursor {write}"),
            ));
        }
        let n = write - read;
        let total = self.taken.saturating_add(u64::from(n));
        if total > max_output_bytes {
            return Err(Error::new(
                ErrorKind::OutputTooLarge,
                format!("output stream of more than {max_output_bytes} bytes, its limit"),
            ));
        }
        if n > 0 {
            self.scratch.resize(n as usize, 0);
            memory.read(buffer.data.start() + read, &mut self.scratch)?;
            self.sink.write_all(&self.scratch)?;
        }
        memory.write_u32(buffer.read_cursor, 0)?;
        memory.write_u32(buffer.write_cursor, 0)?;
        self.taken = total;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::VecMemory;
    use crate::source::BytesSource;
    use alloc::vec;

    const ID: i64 = 7;
    const DESC: u32 = 64;
    const READ_CELL: u32 = 96;
    const WRITE_CELL: u32 = 100;
    const DATA: u32 = 128;

    /// Lays out a buffer the way a guest's `__frnt__initiate_buffer` would.
    fn guest_with_buffer(capacity: u32) -> VecMemory {
        let mut m = VecMemory::zeroed(DATA as usize + capacity as usize + 64);
        let d = BufferDescriptor {
            start: DATA.into(),
            capacity,
            last_read: READ_CELL.into(),
            last_write: WRITE_CELL.into(),
        };
        m.write(DESC, &d.encode()).unwrap();
        m
    }

    fn host(chunk: u32) -> HostStreams {
        let config = InstanceConfig::new()
            .with_instance_id(ID)
            .with_chunk_size(chunk);
        HostStreams::new(&config).unwrap()
    }

    /// Plans and opens a stream of `source` at `addr` with `options`.
    fn open_with(
        host: &mut HostStreams,
        m: &mut VecMemory,
        addr: i64,
        source: BytesSource,
        options: StreamOptions,
    ) -> Result<()> {
        let plan = host.plan(&source, options)?;
        host.open(m, addr, Box::new(source), plan)
    }

    /// A refilled stream of `source` at `addr`, the instance's chunk size.
    fn prime(
        host: &mut HostStreams,
        m: &mut VecMemory,
        addr: i64,
        source: BytesSource,
    ) -> Result<()> {
        open_with(host, m, addr, source, StreamOptions::new())
    }

    fn capacity(host: &HostStreams, source: &BytesSource, options: StreamOptions) -> Result<u32> {
        host.plan(source, options).map(|plan| plan.capacity())
    }

    fn payload(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 % 251) as u8).collect()
    }

    /// Plays the guest: reads the header and every chunk, returns the payload
    /// and the number of refills made.
    fn drain(host: &mut HostStreams, m: &mut VecMemory) -> (Vec<u8>, u32) {
        let total = m.read_u32(DATA).unwrap() as usize;
        let mut out =
            m.0[DATA as usize + 4..(DATA + m.read_u32(WRITE_CELL).unwrap()) as usize].to_vec();
        let mut fills = 0;
        while out.len() < total {
            let n = host.fill(m, ID, DESC.into()).unwrap();
            fills += 1;
            assert_ne!(n, 0, "host signalled EOF before total_len");
            assert_eq!(m.read_u32(READ_CELL).unwrap(), 0);
            assert_eq!(m.read_u32(WRITE_CELL).unwrap(), n);
            out.extend_from_slice(&m.0[DATA as usize..(DATA + n) as usize]);
        }
        (out, fills)
    }

    /// A refill reuses the last checks only while the guest leaves its
    /// descriptor as it was: any field it rewrites between refills is
    /// checked again before anything is written, and a layout it restores
    /// works again.
    #[test]
    fn a_descriptor_rewritten_between_refills_is_checked_again() {
        let mut host = host(16);
        let data = payload(100);
        let mut m = guest_with_buffer(16);
        prime(
            &mut host,
            &mut m,
            DESC.into(),
            BytesSource::new(data.clone()),
        )
        .unwrap();
        assert_eq!(host.fill(&mut m, ID, DESC.into()).unwrap(), 16);
        let honest = BufferDescriptor::decode(&m.read_descriptor(DESC).unwrap());

        let before = m.clone();
        for hostile in [
            BufferDescriptor {
                start: 1 << 40,
                ..honest
            },
            BufferDescriptor {
                last_write: i64::from(DESC),
                ..honest
            },
            BufferDescriptor {
                start: i64::from(DESC) - 8,
                ..honest
            },
        ] {
            m.write(DESC, &hostile.encode()).unwrap();
            let mut expected = before.clone();
            expected.write(DESC, &hostile.encode()).unwrap();
            let e = host.fill(&mut m, ID, DESC.into()).unwrap_err();
            assert!(e.kind().is_guest_fault(), "{e}");
            assert_eq!(m, expected, "a refused refill wrote nothing");
        }

        // A smaller capacity is honoured at once, and the honest layout
        // serves again.
        m.write(
            DESC,
            &BufferDescriptor {
                capacity: 8,
                ..honest
            }
            .encode(),
        )
        .unwrap();
        assert_eq!(host.fill(&mut m, ID, DESC.into()).unwrap(), 8);
        m.write(DESC, &honest.encode()).unwrap();
        assert_eq!(host.fill(&mut m, ID, DESC.into()).unwrap(), 16);
        assert_eq!(&m.0[DATA as usize..DATA as usize + 16], &data[36..52]);
    }

    #[test]
    fn streams_every_byte_in_order_for_sizes_around_the_chunk() {
        let chunk = 16;
        for len in [0usize, 1, 11, 12, 13, 16, 17, 48, 100] {
            let mut host = host(chunk);
            let data = payload(len);
            let cap =
                capacity(&host, &BytesSource::new(data.clone()), StreamOptions::new()).unwrap();
            let mut m = guest_with_buffer(cap);
            prime(
                &mut host,
                &mut m,
                DESC.into(),
                BytesSource::new(data.clone()),
            )
            .unwrap();
            let (got, fills) = drain(&mut host, &mut m);
            assert_eq!(got, data, "len {len}");
            let after_first = len.saturating_sub(chunk as usize - 4);
            assert_eq!(
                fills as usize,
                after_first.div_ceil(chunk as usize),
                "len {len}"
            );
            assert_eq!(host.fill(&mut m, ID, DESC.into()).unwrap(), 0);
            assert_eq!(host.stats().bytes_streamed, len as u64);
        }
    }

    #[test]
    fn place_whole_writes_the_payload_without_header_and_keeps_no_stream() {
        for len in [0usize, 1, 15, 16, 17, 100] {
            let mut host = host(16);
            let data = payload(len);
            let source = BytesSource::new(data.clone());
            let cap = capacity(&host, &source, StreamOptions::whole()).unwrap();
            assert_eq!(cap as usize, len);
            let mut m = guest_with_buffer(cap);
            open_with(
                &mut host,
                &mut m,
                DESC.into(),
                source,
                StreamOptions::whole(),
            )
            .unwrap();
            assert_eq!(
                &m.0[DATA as usize..DATA as usize + len],
                &data[..],
                "len {len}"
            );
            assert_eq!(m.read_u32(READ_CELL).unwrap(), 0);
            assert_eq!(m.read_u32(WRITE_CELL).unwrap() as usize, len);
            assert_eq!(host.open_streams(), 0);
            assert_eq!(host.stats().bytes_streamed, len as u64);
            let e = host.fill(&mut m, ID, DESC.into()).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::UnknownBuffer);
        }
    }

    #[test]
    fn place_whole_refuses_a_data_area_smaller_than_the_payload() {
        let mut host = host(16);
        let mut m = guest_with_buffer(10);
        let before = m.clone();
        let e = open_with(
            &mut host,
            &mut m,
            DESC.into(),
            BytesSource::new(vec![1; 11]),
            StreamOptions::whole(),
        )
        .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BufferTooSmall);
        assert_eq!(m, before);
    }

    #[test]
    fn a_stream_keeps_its_own_chunk_size() {
        let mut host = host(64);
        let data = payload(100);
        let source = BytesSource::new(data.clone());
        let chunk16 = StreamOptions::new().with_chunk_size(16);
        assert_eq!(capacity(&host, &source, chunk16).unwrap(), 16);
        let e = capacity(&host, &source, StreamOptions::new().with_chunk_size(4)).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidChunkSize);
        // The guest offers 64 bytes; the stream writes at most 16 at a time.
        let mut m = guest_with_buffer(64);
        open_with(&mut host, &mut m, DESC.into(), source, chunk16).unwrap();
        assert_eq!(m.read_u32(WRITE_CELL).unwrap(), 16);
        let (got, fills) = drain(&mut host, &mut m);
        assert_eq!(got, data);
        assert_eq!(fills, (100 - 12usize).div_ceil(16) as u32);
    }

    #[test]
    fn eof_is_sticky_and_writes_nothing() {
        let mut host = host(16);
        let mut m = guest_with_buffer(16);
        prime(
            &mut host,
            &mut m,
            DESC.into(),
            BytesSource::new(&b"abc"[..]),
        )
        .unwrap();
        let before = m.clone();
        for _ in 0..1000 {
            assert_eq!(host.fill(&mut m, ID, DESC.into()).unwrap(), 0);
        }
        assert_eq!(m, before);
        assert_eq!(host.stats().fills, 1000);
    }

    #[test]
    fn foreign_id_and_unknown_buffer_are_rejected() {
        let mut host = host(16);
        let mut m = guest_with_buffer(16);
        prime(
            &mut host,
            &mut m,
            DESC.into(),
            BytesSource::new(vec![1; 40]),
        )
        .unwrap();
        let e = host.fill(&mut m, ID + 1, DESC.into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::WrongInstanceId);
        let e = host.fill(&mut m, ID, (DESC + 8).into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownBuffer);
        host.release_all();
        let e = host.fill(&mut m, ID, DESC.into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownBuffer);
    }

    fn prime_with(d: BufferDescriptor, mem_size: usize) -> (Result<()>, VecMemory, VecMemory) {
        let mut m = VecMemory::zeroed(mem_size);
        m.write(DESC, &d.encode()).unwrap();
        let before = m.clone();
        let mut host = host(16);
        let r = prime(
            &mut host,
            &mut m,
            DESC.into(),
            BytesSource::new(vec![9; 40]),
        );
        (r, before, m)
    }

    #[test]
    fn hostile_descriptors_are_rejected_before_any_write() {
        let good = BufferDescriptor {
            start: DATA.into(),
            capacity: 16,
            last_read: READ_CELL.into(),
            last_write: WRITE_CELL.into(),
        };
        let cases = [
            (
                BufferDescriptor { start: -1, ..good },
                ErrorKind::DataAreaOutOfBounds,
            ),
            (
                BufferDescriptor { start: 250, ..good },
                ErrorKind::DataAreaOutOfBounds,
            ),
            (
                BufferDescriptor {
                    start: 0xFFFF_FFF0,
                    capacity: 0x20,
                    ..good
                },
                ErrorKind::DataAreaOutOfBounds,
            ),
            (
                BufferDescriptor {
                    capacity: 3,
                    ..good
                },
                ErrorKind::BufferTooSmall,
            ),
            (
                BufferDescriptor {
                    last_read: 253,
                    ..good
                },
                ErrorKind::CursorOutOfBounds,
            ),
            (
                BufferDescriptor {
                    last_write: i64::MIN,
                    ..good
                },
                ErrorKind::CursorOutOfBounds,
            ),
            (
                BufferDescriptor {
                    last_write: READ_CELL.into(),
                    ..good
                },
                ErrorKind::BufferOverlap,
            ),
            (
                BufferDescriptor {
                    last_read: (DATA + 2).into(),
                    ..good
                },
                ErrorKind::BufferOverlap,
            ),
            (
                BufferDescriptor {
                    start: (DESC + 8).into(),
                    ..good
                },
                ErrorKind::BufferOverlap,
            ),
        ];
        for (d, kind) in cases {
            let (r, before, after) = prime_with(d, 256);
            assert_eq!(r.unwrap_err().kind(), kind, "{d:?}");
            assert_eq!(before, after, "rejected priming wrote to memory: {d:?}");
        }
        let (r, ..) = prime_with(good, 256);
        r.unwrap();
    }

    #[test]
    fn descriptor_must_fit_in_memory() {
        let mut host = host(16);
        let mut m = VecMemory::zeroed(256);
        for addr in [-1, 225, 256, 1 << 32, i64::MAX] {
            let e = prime(&mut host, &mut m, addr, BytesSource::new(vec![1])).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::DescriptorOutOfBounds, "addr {addr}");
        }
        assert_eq!(m, VecMemory::zeroed(256));
    }

    #[test]
    fn huge_capacity_writes_at_most_one_chunk() {
        let mut m = VecMemory::zeroed(512);
        let d = BufferDescriptor {
            start: 256,
            capacity: 1 << 20,
            last_read: READ_CELL.into(),
            last_write: WRITE_CELL.into(),
        };
        m.write(DESC, &d.encode()).unwrap();
        let mut host = host(16);
        prime(
            &mut host,
            &mut m,
            DESC.into(),
            BytesSource::new(vec![5; 100]),
        )
        .unwrap();
        assert_eq!(m.read_u32(WRITE_CELL).unwrap(), 16);
        assert!(m.0[256 + 16..].iter().all(|&b| b == 0));
    }

    #[test]
    fn refill_with_no_room_is_an_error_not_eof() {
        let mut host = host(16);
        let mut m = guest_with_buffer(16);
        prime(
            &mut host,
            &mut m,
            DESC.into(),
            BytesSource::new(vec![1; 40]),
        )
        .unwrap();
        let shrunk = BufferDescriptor {
            start: DATA.into(),
            capacity: 0,
            last_read: READ_CELL.into(),
            last_write: WRITE_CELL.into(),
        };
        m.write(DESC, &shrunk.encode()).unwrap();
        let e = host.fill(&mut m, ID, DESC.into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::BufferTooSmall);
    }

    #[test]
    fn payload_past_the_header_limit_is_rejected() {
        struct Huge;
        impl StreamSource for Huge {
            fn total_len(&self) -> u64 {
                u64::from(u32::MAX) + 1
            }
            fn read_exact_into(&mut self, _: &mut [u8]) -> Result<()> {
                Err(Error::new(ErrorKind::SourceFailed, "never read"))
            }
        }
        let host = host(16);
        for options in [StreamOptions::new(), StreamOptions::whole()] {
            let e = host.plan(&Huge, options).unwrap_err();
            assert_eq!(e.kind(), ErrorKind::PayloadTooLarge);
        }
    }

    #[test]
    fn chunk_size_is_range_checked() {
        let with_chunk = |chunk, max| {
            let limits = crate::Limits::default().with_max_chunk_size(max);
            let config = InstanceConfig::new()
                .with_chunk_size(chunk)
                .with_limits(limits);
            HostStreams::new(&config).map(|_| ())
        };
        assert_eq!(
            with_chunk(7, MAX_CHUNK_SIZE).unwrap_err().kind(),
            ErrorKind::InvalidChunkSize
        );
        assert!(with_chunk(MIN_CHUNK_SIZE, MAX_CHUNK_SIZE).is_ok());
        assert!(with_chunk(MAX_CHUNK_SIZE + 1, u32::MAX).is_err());
        assert!(with_chunk(4096, 4096).is_ok());
        assert_eq!(
            with_chunk(4097, 4096).unwrap_err().kind(),
            ErrorKind::InvalidChunkSize
        );
    }

    #[test]
    fn payload_and_open_stream_limits_hold() {
        let limits = crate::Limits::default()
            .with_max_payload_bytes(100)
            .with_max_open_streams(1);
        let config = InstanceConfig::new()
            .with_instance_id(ID)
            .with_chunk_size(16)
            .with_limits(limits);
        let mut host = HostStreams::new(&config).unwrap();
        let refill = StreamOptions::new();
        let e = capacity(&host, &BytesSource::new(vec![0; 101]), refill).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::PayloadTooLarge);
        let mut m = guest_with_buffer(16);
        // Two plans made before either stream opens: the second open is refused.
        let first = BytesSource::new(vec![0; 100]);
        let second = BytesSource::new(vec![0; 3]);
        let (p1, p2) = (
            host.plan(&first, refill).unwrap(),
            host.plan(&second, refill).unwrap(),
        );
        host.open(&mut m, DESC.into(), Box::new(first), p1).unwrap();
        let e = capacity(&host, &BytesSource::new(vec![0; 1]), refill).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooManyStreams);
        let e = host
            .open(&mut m, DESC.into(), Box::new(second), p2)
            .unwrap_err();
        assert_eq!(e.kind(), ErrorKind::TooManyStreams);
        // Whole payloads keep no stream, so the limit does not apply to them.
        assert!(capacity(&host, &BytesSource::new(vec![0; 1]), StreamOptions::whole()).is_ok());
        host.release_all();
        assert!(capacity(&host, &BytesSource::new(vec![0; 1]), refill).is_ok());
    }

    /// The guest's side of an output buffer: writes `bytes` at the write
    /// cursor and advances it.
    fn guest_writes(m: &mut VecMemory, bytes: &[u8]) {
        let at = m.read_u32(WRITE_CELL).unwrap();
        m.write(DATA + at, bytes).unwrap();
        m.write_u32(WRITE_CELL, at + bytes.len() as u32).unwrap();
    }

    #[cfg(feature = "std")]
    fn open_output(host: &mut HostStreams, m: &mut VecMemory) -> crate::sink::VecSink {
        let sink = crate::sink::VecSink::new();
        host.open_output(m, DESC.into(), Box::new(sink.clone()), 16)
            .unwrap();
        sink
    }

    /// Opening sets both cells to 0 and writes no header; each drain hands
    /// the bytes between the cursors to the sink, sets both to 0 and says
    /// how many it took; the last drain happens when the call returns.
    #[cfg(feature = "std")]
    #[test]
    fn output_streams_hand_each_drain_to_the_sink() {
        let mut h = host(16);
        let mut m = guest_with_buffer(16);
        m.write_u32(READ_CELL, 9).unwrap();
        m.write_u32(WRITE_CELL, 9).unwrap();
        m.write(DATA, &[0xee; 16]).unwrap();
        let sink = open_output(&mut h, &mut m);
        assert_eq!(
            (
                m.read_u32(READ_CELL).unwrap(),
                m.read_u32(WRITE_CELL).unwrap()
            ),
            (0, 0)
        );
        assert_eq!(
            m.0[DATA as usize..DATA as usize + 16],
            [0xee; 16],
            "no header written"
        );

        let out = payload(16 + 9);
        guest_writes(&mut m, &out[..16]);
        assert_eq!(h.drain(&mut m, ID, DESC.into()).unwrap(), 16);
        assert_eq!(
            (
                m.read_u32(READ_CELL).unwrap(),
                m.read_u32(WRITE_CELL).unwrap()
            ),
            (0, 0)
        );
        assert_eq!(h.drain(&mut m, ID, DESC.into()).unwrap(), 0, "nothing new");
        guest_writes(&mut m, &out[16..]);
        // The guest may consume from the front itself: only read..write goes.
        m.write_u32(READ_CELL, 2).unwrap();
        h.finish_outputs(&mut m).unwrap();
        let mut expected = out[..16].to_vec();
        expected.extend_from_slice(&out[18..]);
        assert_eq!(sink.take(), expected);
        let stats = h.stats();
        assert_eq!(
            (stats.outputs, stats.drains, stats.bytes_drained),
            (1, 2, 16 + 7)
        );
        assert_eq!(h.open_streams(), 0);
    }

    /// Every hostile drain is refused with its kind before the sink sees a
    /// byte: a forged id, an input stream's buffer, an unknown buffer, a
    /// write cursor past the capacity, a read cursor past the write cursor,
    /// a descriptor moved out of memory, and any drain after the call.
    #[cfg(feature = "std")]
    #[test]
    fn hostile_drains_are_refused_before_the_sink_sees_anything() {
        let mut h = host(16);
        let mut m = guest_with_buffer(16);
        let sink = open_output(&mut h, &mut m);
        guest_writes(&mut m, b"abcd");
        let refused = |h: &mut HostStreams, m: &mut VecMemory, id: i64, buf: i64| {
            h.drain(m, id, buf).unwrap_err().kind()
        };
        assert_eq!(
            refused(&mut h, &mut m, ID + 1, DESC.into()),
            ErrorKind::WrongInstanceId
        );
        assert_eq!(
            refused(&mut h, &mut m, ID, i64::from(DESC) + 4),
            ErrorKind::UnknownBuffer
        );
        m.write_u32(WRITE_CELL, 17).unwrap();
        assert_eq!(
            refused(&mut h, &mut m, ID, DESC.into()),
            ErrorKind::CursorOutOfBounds
        );
        m.write_u32(WRITE_CELL, 4).unwrap();
        m.write_u32(READ_CELL, 5).unwrap();
        assert_eq!(
            refused(&mut h, &mut m, ID, DESC.into()),
            ErrorKind::CursorOutOfBounds
        );
        m.write_u32(READ_CELL, 0).unwrap();
        let moved = BufferDescriptor {
            start: i64::from(u32::MAX),
            capacity: 16,
            last_read: READ_CELL.into(),
            last_write: WRITE_CELL.into(),
        };
        let kept = m.read_descriptor(DESC).unwrap();
        m.write(DESC, &moved.encode()).unwrap();
        assert_eq!(
            refused(&mut h, &mut m, ID, DESC.into()),
            ErrorKind::DataAreaOutOfBounds
        );
        m.write(DESC, &kept).unwrap();
        assert!(sink.is_empty(), "a refused drain took bytes");
        assert_eq!(h.drain(&mut m, ID, DESC.into()).unwrap(), 4);
        h.release_all();
        assert_eq!(
            refused(&mut h, &mut m, ID, DESC.into()),
            ErrorKind::UnknownBuffer
        );
        assert_eq!(sink.take(), b"abcd");
    }

    /// A drain of an input stream's buffer names it, and takes nothing.
    #[cfg(feature = "std")]
    #[test]
    fn an_input_buffer_cannot_be_drained() {
        let mut h = host(16);
        let mut m = guest_with_buffer(16);
        prime(&mut h, &mut m, DESC.into(), BytesSource::new(payload(40))).unwrap();
        let e = h.drain(&mut m, ID, DESC.into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownBuffer);
        assert!(
            alloc::string::ToString::to_string(&e).contains("input stream"),
            "{e}"
        );
        let sink = crate::sink::VecSink::new();
        let again = h.open_output(&mut m, DESC.into(), Box::new(sink), 16);
        assert_eq!(again.unwrap_err().kind(), ErrorKind::BufferOverlap);
    }

    /// The output limit and a failing sink make the drain fail with their
    /// kinds; the cursors are left as they were.
    #[cfg(feature = "std")]
    #[test]
    fn the_output_limit_and_a_failing_sink_stop_the_drain() {
        let config = InstanceConfig::new()
            .with_instance_id(ID)
            .with_chunk_size(16)
            .with_limits(crate::Limits::default().with_max_output_bytes(20));
        let mut h = HostStreams::new(&config).unwrap();
        let mut m = guest_with_buffer(16);
        let _sink = open_output(&mut h, &mut m);
        guest_writes(&mut m, &[1; 16]);
        assert_eq!(h.drain(&mut m, ID, DESC.into()).unwrap(), 16);
        guest_writes(&mut m, &[2; 5]);
        let e = h.drain(&mut m, ID, DESC.into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::OutputTooLarge);
        assert_eq!(m.read_u32(WRITE_CELL).unwrap(), 5);

        struct Full;
        impl std::io::Write for Full {
            fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
                Err(std::io::Error::other("disk full"))
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let mut h = host(16);
        let mut m = guest_with_buffer(16);
        h.open_output(
            &mut m,
            DESC.into(),
            Box::new(crate::sink::WriterSink::new(Full)),
            16,
        )
        .unwrap();
        guest_writes(&mut m, b"xy");
        let e = h.finish_outputs(&mut m).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::SinkFailed);
        assert_eq!(h.open_streams(), 0, "released all the same");
    }
}
