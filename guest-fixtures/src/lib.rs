#![doc = include_str!("../README.md")]
#![deny(missing_docs)]

use core::fmt;

/// One guest contract: a wasm module and the export to call.
///
/// Every argument of the export is the address of a buffer descriptor the
/// host primed with `__frnt__initiate_buffer` (the streaming refill ABI);
/// every export returns an `i64`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Fixture {
    /// A short unique name, used by [`by_name`].
    pub name: &'static str,
    /// The module's bytes, built for `wasm32-unknown-unknown`.
    pub wasm: &'static [u8],
    /// The export to call.
    pub export: &'static str,
    /// How many streamed arguments the export takes.
    pub args: usize,
    /// What the export returns, in one line.
    pub doc: &'static str,
}

impl fmt::Debug for Fixture {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fixture")
            .field("name", &self.name)
            .field("wasm", &format_args!("<{} bytes>", self.wasm.len()))
            .field("export", &self.export)
            .field("args", &self.args)
            .field("doc", &self.doc)
            .finish()
    }
}

const DIGEST_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/digest.wasm"));

/// `digest(arg)`: the `Digest64` of the argument, read with `next_chunk()`.
pub const DIGEST: Fixture = Fixture {
    name: "digest",
    wasm: DIGEST_WASM,
    export: "digest",
    args: 1,
    doc: "refill_testkit::digest of the argument, read zero-copy with next_chunk()",
};

/// `digest_record(arg)`: the address of a 16-byte record in guest memory.
pub const DIGEST_RECORD: Fixture = Fixture {
    name: "digest_record",
    wasm: DIGEST_WASM,
    export: "digest_record",
    args: 1,
    doc: "guest address of [digest: u64 LE][len: u64 LE] for the argument",
};

/// `collect(arg)`: the freenet pattern, the whole argument copied into a `Vec`.
pub const COLLECT: Fixture = Fixture {
    name: "collect",
    wasm: include_bytes!(concat!(env!("OUT_DIR"), "/collect.wasm")),
    export: "collect",
    args: 1,
    doc: "refill_testkit::digest of the argument, collected whole with read_to_end_into",
};

/// `odd_reads(arg)`: copying reads of 1, 3, 4093 and 65537 bytes in turn.
pub const ODD_READS: Fixture = Fixture {
    name: "odd_reads",
    wasm: include_bytes!(concat!(env!("OUT_DIR"), "/odd_reads.wasm")),
    export: "odd_reads",
    args: 1,
    doc: "refill_testkit::digest of the argument, read with read_into in sizes 1, 3, 4093, 65537",
};

/// `interleave3(a, b, c)`: three streams read round-robin.
pub const INTERLEAVE: Fixture = Fixture {
    name: "interleave",
    wasm: include_bytes!(concat!(env!("OUT_DIR"), "/interleave.wasm")),
    export: "interleave3",
    args: 3,
    doc: "refill_testkit::combine3 of the three arguments' digests, read round-robin",
};

/// `skip(arg)`: pure transfer, every chunk taken and ignored.
pub const SKIP: Fixture = Fixture {
    name: "skip",
    wasm: include_bytes!(concat!(env!("OUT_DIR"), "/skip.wasm")),
    export: "skip",
    args: 1,
    doc: "the argument's length in bytes, its chunks taken with next_chunk() and ignored",
};

/// `digest_whole(arg)`: the digest of an argument placed whole, one-shot
/// (`Instance::place_whole`: no header, no refills), the whole-copy baseline
/// of the benchmarks. Not in [`ALL`]: it is not a streaming guest.
pub const DIGEST_WHOLE: Fixture = Fixture {
    name: "digest_whole",
    wasm: DIGEST_WASM,
    export: "digest_whole",
    args: 1,
    doc: "refill_testkit::digest of an argument the host placed whole (one-shot), digested in place",
};

/// `freenet_log`: a real freenet contract, built against freenet-stdlib 0.12
/// from crates.io with features `contract` and `freenet-main-contract`, as a
/// contract author builds one. Its state is an append-only log; it exports
/// the four entry points `validate_state`, `update_state`, `summarize_state`
/// and `get_state_delta` (their semantics are in `freenet/src/lib.rs`).
pub const FREENET_LOG: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/freenet_log.wasm"));

/// Every fixture.
pub const ALL: &[Fixture] = &[DIGEST, DIGEST_RECORD, COLLECT, ODD_READS, INTERLEAVE, SKIP];

/// The fixture called `name`, if any.
pub fn by_name(name: &str) -> Option<&'static Fixture> {
    ALL.iter().find(|f| f.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether `needle` occurs in `haystack`.
    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    /// A wasm name as encoded in the import and export sections: its length
    /// (one LEB128 byte for names this short), then its bytes.
    fn wasm_name(name: &str) -> Vec<u8> {
        let len = u8::try_from(name.len())
            .ok()
            .filter(|&n| n < 0x80)
            .expect("short name");
        let mut v = vec![len];
        v.extend_from_slice(name.as_bytes());
        v
    }

    #[test]
    fn every_fixture_is_a_wasm_module() {
        for f in ALL {
            assert_eq!(&f.wasm[..4], b"\0asm", "{}", f.name);
            assert_eq!(&f.wasm[4..8], &[1, 0, 0, 0], "{}: wasm version 1", f.name);
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        for (i, f) in ALL.iter().enumerate() {
            assert!(
                ALL[..i].iter().all(|g| g.name != f.name),
                "duplicate {}",
                f.name
            );
            assert_eq!(by_name(f.name), Some(f));
            assert!(f.args >= 1 && !f.doc.is_empty(), "{}", f.name);
        }
        assert_eq!(by_name("nope"), None);
        assert_eq!(
            by_name("interleave").map(|f| (f.export, f.args)),
            Some(("interleave3", 3))
        );
        assert_eq!(DIGEST.wasm, DIGEST_RECORD.wasm);
    }

    #[test]
    fn modules_name_the_abi_import_and_their_exports() {
        for f in ALL {
            // The import: module then field name, adjacent in the import section.
            let mut import = wasm_name("freenet_contract_io");
            import.extend(wasm_name("__frnt__fill_buffer"));
            assert!(
                contains(f.wasm, &import),
                "{}: no import freenet_contract_io.__frnt__fill_buffer",
                f.name
            );
            for export in [
                f.export,
                "__frnt__initiate_buffer",
                "__frnt_set_id",
                "memory",
            ] {
                assert!(
                    contains(f.wasm, &wasm_name(export)),
                    "{}: no export {export}",
                    f.name
                );
            }
        }
    }

    #[test]
    fn the_freenet_contract_has_the_shape_freenet_stdlib_gives_it() {
        let mut import = wasm_name("freenet_contract_io");
        import.extend(wasm_name("__frnt__fill_buffer"));
        assert!(contains(FREENET_LOG, &import));
        for export in [
            "validate_state",
            "update_state",
            "summarize_state",
            "get_state_delta",
            "__frnt__initiate_buffer",
            "__frnt_set_id",
            "memory",
        ] {
            assert!(
                contains(FREENET_LOG, &wasm_name(export)),
                "no export {export}"
            );
        }
    }

    #[test]
    fn debug_does_not_dump_the_module() {
        let s = format!("{SKIP:?}");
        assert!(
            s.contains("skip") && s.contains(" bytes>") && s.len() < 300,
            "{s}"
        );
    }
}
