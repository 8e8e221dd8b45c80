//! Hostile guests, generated as WebAssembly text from one template.
//!
//! A [`HostileGuest`] is a module that lays out its memory as a case needs:
//! `__frnt__initiate_buffer` writes a chosen [`BufferDescriptor`] (or none) and
//! returns a chosen address (or traps), data segments put chosen bytes
//! anywhere, and each entry export runs a list of [`Step`]s against the
//! buffer whose descriptor address it is passed: consume what the cursors say
//! is unread, refill with its own id or a forged one, rewrite the descriptor,
//! grow memory, trap.
//!
//! Every generated module also exports:
//!
//! - [`DRAIN`]`(d)`: the honest reader, `[Step::Drain]`;
//! - [`SETUP`]`()`: what `__frnt__initiate_buffer` does, without trapping on
//!   request, so a case can see guest memory as the host finds it before
//!   priming;
//! - [`PING`]`()`: returns the id the guest received (-1 if none): a harmless
//!   export to show an instance still answers.
//!
//! Everything an entry consumes is appended to the sink at [`SINK`]; every
//! refill result is appended as a `u32` LE to the log at [`LOG`]. Each entry
//! starts with an empty sink and log and returns the number of bytes it sank.
//! Unread bytes include the `[total_len]` header after priming, so a guest
//! that drains a primed buffer sinks the header followed by the payload.

use alloc::borrow::ToOwned;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt::Write as _;

use refill_core::BufferDescriptor;
use refill_core::abi::{DESCRIPTOR_LEN, WASM_PAGE_SIZE};

/// Where the standard layout puts the descriptor.
pub const DESCRIPTOR: u32 = 0x1000;
/// Where the standard layout puts the read cursor cell.
pub const READ_CELL: u32 = 0x1040;
/// Where the standard layout puts the write cursor cell.
pub const WRITE_CELL: u32 = 0x1044;
/// Where the standard layout puts the data area.
pub const DATA: u32 = 0x2000;
/// Where each entry appends the refill results (`u32` LE each, room for 960).
pub const LOG: u32 = 0x100;
/// Where each entry appends the bytes it consumes (room for 128 KiB).
pub const SINK: u32 = 0x2_0000;
/// Initial memory of the standard layout, in 64 KiB pages.
pub const PAGES: u32 = 4;
/// What the cursor cells hold before the host primes them (when they lie in
/// the initial memory).
pub const CELL_SENTINEL: u32 = 0xCE11_CE11;

/// The export every generated guest has that drains its argument honestly.
pub const DRAIN: &str = "drain";
/// The export that runs the setup of `__frnt__initiate_buffer` and returns the
/// descriptor address, without the trap a case may have asked for.
pub const SETUP: &str = "setup";
/// The harmless export: returns the instance id the guest received, or -1.
pub const PING: &str = "ping";

/// The id a refill step passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Id {
    /// The id received through `__frnt_set_id` (-1 if never received).
    Own,
    /// A fixed id, such as another instance's.
    Const(i64),
}

/// The buffer address a refill step passes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Buf {
    /// The entry's argument: the descriptor the host primed.
    Arg,
    /// A fixed address.
    At(i64),
}

/// One thing an entry export does, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Copies the unread bytes `[*last_read, *last_write)` of the argument's
    /// data area to the sink and sets `*last_read = *last_write`. Reads the
    /// descriptor as it is now.
    Consume,
    /// Calls `__frnt__fill_buffer(id, buf)` and logs its result.
    Refill(Id, Buf),
    /// Consumes, then refills the argument (own id, logged) and consumes again
    /// until a refill returns 0. The refill returning 0 is logged too.
    Drain,
    /// Stores an `i64` LE at an address (rewrites a descriptor field).
    Store64(u32, i64),
    /// Stores a `u32` LE at an address (rewrites a capacity or a cell).
    Store32(u32, u32),
    /// Grows memory by this many pages (the result is dropped).
    Grow(u32),
    /// Refills the argument with its own id this many times, not logging each
    /// result; then logs how many of them returned 0.
    RefillRepeatedly(u32),
    /// Traps (`unreachable`).
    Trap,
}

impl Step {
    /// An honest refill of the argument.
    pub const FILL: Step = Step::Refill(Id::Own, Buf::Arg);
}

/// A guest module built for one case. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct HostileGuest {
    pages: u32,
    returns: i64,
    descriptor: BufferDescriptor,
    written_at: Option<u32>,
    set_id: bool,
    initiate_traps: bool,
    bytes: Vec<(u32, Vec<u8>)>,
    entries: Vec<(String, Vec<Step>)>,
}

impl HostileGuest {
    /// The standard layout: [`PAGES`] pages, the descriptor at [`DESCRIPTOR`]
    /// naming the cells at [`READ_CELL`], [`WRITE_CELL`] and `capacity` bytes
    /// of data at [`DATA`]; `__frnt_set_id` exported.
    pub fn standard(capacity: u32) -> Self {
        Self {
            pages: PAGES,
            returns: DESCRIPTOR.into(),
            descriptor: BufferDescriptor {
                start: DATA.into(),
                capacity,
                last_read: READ_CELL.into(),
                last_write: WRITE_CELL.into(),
            },
            written_at: Some(DESCRIPTOR),
            set_id: true,
            initiate_traps: false,
            bytes: Vec::new(),
            entries: Vec::new(),
        }
    }

    /// The initial memory size in bytes.
    pub fn memory_size(&self) -> u64 {
        u64::from(self.pages) * WASM_PAGE_SIZE
    }

    /// The descriptor `__frnt__initiate_buffer` writes.
    pub fn descriptor(&self) -> BufferDescriptor {
        self.descriptor
    }

    /// Sets the initial memory size in pages.
    #[must_use]
    pub fn with_pages(mut self, pages: u32) -> Self {
        self.pages = pages;
        self
    }

    /// Makes `__frnt__initiate_buffer` return `addr`, and write the descriptor
    /// there if all 32 bytes lie in the initial memory (otherwise nowhere).
    #[must_use]
    pub fn returning(mut self, addr: i64) -> Self {
        self.returns = addr;
        self.written_at = u32::try_from(addr)
            .ok()
            .filter(|&at| u64::from(at) + u64::from(DESCRIPTOR_LEN) <= self.memory_size());
        self
    }

    /// Makes `__frnt__initiate_buffer` write the descriptor at `addr` (or
    /// nowhere), whatever address it returns.
    #[must_use]
    pub fn writing_descriptor_at(mut self, addr: Option<u32>) -> Self {
        self.written_at = addr;
        self
    }

    /// Sets the descriptor `__frnt__initiate_buffer` writes.
    #[must_use]
    pub fn with_descriptor(mut self, descriptor: BufferDescriptor) -> Self {
        self.descriptor = descriptor;
        self
    }

    /// Changes the descriptor `__frnt__initiate_buffer` writes.
    #[must_use]
    pub fn map_descriptor(mut self, f: impl FnOnce(&mut BufferDescriptor)) -> Self {
        f(&mut self.descriptor);
        self
    }

    /// Leaves out the `__frnt_set_id` export: the guest's id stays -1.
    #[must_use]
    pub fn without_set_id(mut self) -> Self {
        self.set_id = false;
        self
    }

    /// Makes `__frnt__initiate_buffer` trap (the [`SETUP`] export does not).
    #[must_use]
    pub fn with_trapping_initiate(mut self) -> Self {
        self.initiate_traps = true;
        self
    }

    /// Puts `bytes` at `addr` at instantiation (a data segment, applied
    /// after the cell sentinels).
    #[must_use]
    pub fn with_bytes(mut self, addr: u32, bytes: impl Into<Vec<u8>>) -> Self {
        self.bytes.push((addr, bytes.into()));
        self
    }

    /// Adds an entry export `name(d: i64) -> i64` that runs `steps`.
    #[must_use]
    pub fn with_entry(mut self, name: &str, steps: impl Into<Vec<Step>>) -> Self {
        self.entries.push((name.to_owned(), steps.into()));
        self
    }

    /// `addr` if `len` bytes there lie in the initial memory.
    fn in_memory(&self, addr: i64, len: u32) -> Option<u32> {
        u32::try_from(addr)
            .ok()
            .filter(|&at| u64::from(at) + u64::from(len) <= self.memory_size())
    }

    /// The module as WebAssembly text.
    pub fn wat(&self) -> String {
        let mut w = String::new();
        let set_id = if self.set_id {
            r#"(func (export "__frnt_set_id") (param i64) (global.set $id (local.get 0)))"#
        } else {
            ""
        };
        let trap = if self.initiate_traps {
            "unreachable"
        } else {
            ""
        };
        let _ = write!(
            w,
            r#"(module
  (import "freenet_contract_io" "__frnt__fill_buffer" (func $fill (param i64 i64) (result i32)))
  (memory (export "memory") {pages})
  (global $id (mut i64) (i64.const -1))
  (global $out (mut i32) (i32.const {SINK}))
  (global $log (mut i32) (i32.const {LOG}))
  {set_id}
  (func (export "__frnt__initiate_buffer") (param i32) (result i64) {trap} (call $setup))
  (func (export "{SETUP}") (result i64) (call $setup))
  (func (export "{PING}") (result i64) (global.get $id))
  {HELPERS}
"#,
            pages = self.pages,
        );

        let d = &self.descriptor;
        for cell in [d.last_read, d.last_write] {
            if let Some(at) = self.in_memory(cell, 4) {
                let _ = writeln!(w, "  {}", data(at, &CELL_SENTINEL.to_le_bytes()));
            }
        }
        for (at, bytes) in &self.bytes {
            let _ = writeln!(w, "  {}", data(*at, bytes));
        }

        w.push_str("  (func $setup (result i64)\n");
        if let Some(at) = self.written_at {
            let _ = writeln!(
                w,
                "    (i64.store (i32.const {at}) (i64.const {}))
    (i64.store offset=8 (i32.const {at}) (i64.const {}))
    (i64.store offset=16 (i32.const {at}) (i64.const {}))
    (i64.store offset=24 (i32.const {at}) (i64.const {}))",
                d.start, d.capacity, d.last_read, d.last_write
            );
        }
        let _ = writeln!(w, "    (i64.const {}))", self.returns);

        for (name, steps) in &self.entries {
            entry(&mut w, name, steps);
        }
        entry(&mut w, DRAIN, &[Step::Drain]);
        w.push_str(")\n");
        w
    }
}

/// A data segment putting `bytes` at `at`.
fn data(at: u32, bytes: &[u8]) -> String {
    let mut s = format!("(data (i32.const {at}) \"");
    for b in bytes {
        let _ = write!(s, "\\{b:02x}");
    }
    s.push_str("\")");
    s
}

/// An entry export running `steps`, returning the number of bytes sunk.
fn entry(w: &mut String, name: &str, steps: &[Step]) {
    let _ = writeln!(
        w,
        "  (func (export \"{name}\") (param $d i64) (result i64) (local $i i32) (local $zeros i32)
    (global.set $out (i32.const {SINK}))
    (global.set $log (i32.const {LOG}))"
    );
    for step in steps {
        let code = match *step {
            Step::Consume => "(call $consume (local.get $d))".to_owned(),
            Step::Refill(id, buf) => {
                let id = match id {
                    Id::Own => "(global.get $id)".to_owned(),
                    Id::Const(id) => format!("(i64.const {id})"),
                };
                let buf = match buf {
                    Buf::Arg => "(local.get $d)".to_owned(),
                    Buf::At(at) => format!("(i64.const {at})"),
                };
                format!("(drop (call $refill {id} {buf}))")
            }
            Step::Drain => "(call $drain (local.get $d))".to_owned(),
            Step::Store64(at, value) => format!("(i64.store (i32.const {at}) (i64.const {value}))"),
            Step::Store32(at, value) => {
                format!("(i32.store (i32.const {at}) (i32.const {}))", value as i32)
            }
            Step::Grow(pages) => format!("(drop (memory.grow (i32.const {pages})))"),
            Step::RefillRepeatedly(times) => format!(
                "(local.set $i (i32.const 0))
    (local.set $zeros (i32.const 0))
    (block $done (loop $again
      (br_if $done (i32.ge_u (local.get $i) (i32.const {})))
      (if (i32.eqz (call $fill (global.get $id) (local.get $d)))
        (then (local.set $zeros (i32.add (local.get $zeros) (i32.const 1)))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $again)))
    (call $log_u32 (local.get $zeros))",
                times as i32
            ),
            Step::Trap => "unreachable".to_owned(),
        };
        let _ = writeln!(w, "    {code}");
    }
    let _ = writeln!(
        w,
        "    (i64.extend_i32_u (i32.sub (global.get $out) (i32.const {SINK}))))"
    );
}

/// The functions the steps are made of.
const HELPERS: &str = r#"
  (func $log_u32 (param $v i32)
    (i32.store (global.get $log) (local.get $v))
    (global.set $log (i32.add (global.get $log) (i32.const 4))))
  (func $refill (param $id i64) (param $buf i64) (result i32) (local $n i32)
    (local.set $n (call $fill (local.get $id) (local.get $buf)))
    (call $log_u32 (local.get $n))
    (local.get $n))
  (func $consume (param $d i64) (local $at i32) (local $start i32) (local $rc i32) (local $r i32) (local $w i32)
    (local.set $at (i32.wrap_i64 (local.get $d)))
    (local.set $start (i32.wrap_i64 (i64.load (local.get $at))))
    (local.set $rc (i32.wrap_i64 (i64.load offset=16 (local.get $at))))
    (local.set $r (i32.load (local.get $rc)))
    (local.set $w (i32.load (i32.wrap_i64 (i64.load offset=24 (local.get $at)))))
    (block $done (loop $copy
      (br_if $done (i32.ge_u (local.get $r) (local.get $w)))
      (i32.store8 (global.get $out) (i32.load8_u (i32.add (local.get $start) (local.get $r))))
      (global.set $out (i32.add (global.get $out) (i32.const 1)))
      (local.set $r (i32.add (local.get $r) (i32.const 1)))
      (br $copy)))
    (i32.store (local.get $rc) (local.get $r)))
  (func $drain (param $d i64)
    (loop $more
      (call $consume (local.get $d))
      (br_if $more (call $refill (global.get $id) (local.get $d)))))
"#;
