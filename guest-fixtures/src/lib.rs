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

/// `xor(input, output)`: streams each byte of its input, xor 0x5a, out
/// through the output stream of its second argument (`refill_io`'s drain:
/// see `docs/protocol.md`, "Streaming out"); returns the bytes written. Not
/// in [`ALL`] but in [`WITH_OUTPUT`]: its second argument is an output
/// stream, not a source.
pub const XOR: Fixture = Fixture {
    name: "xor",
    wasm: include_bytes!(concat!(env!("OUT_DIR"), "/xor.wasm")),
    export: "xor",
    args: 2,
    doc: "streams each byte of the first argument, xor 0x5a, out through the second (an output stream)",
};

/// `xor_whole(input)`: the baseline of [`XOR`]: collects the whole
/// transformed copy (each byte xor 0x5a) in guest memory and returns the
/// address of a `[ptr: u64 LE][len: u64 LE]` record of it, as freenet's
/// `update_state` returns a new state whole. Not in [`ALL`].
pub const XOR_WHOLE: Fixture = Fixture {
    name: "xor_whole",
    wasm: XOR.wasm,
    export: "xor_whole",
    args: 1,
    doc: "address of a [ptr u64][len u64] record of the whole argument xor 0x5a, collected in guest memory",
};

/// The byte [`XOR`] xors every input byte with.
pub const XOR_KEY: u8 = 0x5a;

/// `digest_whole(arg)`: the digest of an argument placed whole, one-shot
/// (`StreamOptions::whole()`: no header, no refills), the whole-copy baseline
/// of the benchmarks. Not in [`ALL`]: it is not a streaming guest.
pub const DIGEST_WHOLE: Fixture = Fixture {
    name: "digest_whole",
    wasm: DIGEST_WASM,
    export: "digest_whole",
    args: 1,
    doc: "refill_testkit::digest of an argument the host placed whole (one-shot), digested in place",
};

#[cfg(feature = "freenet")]
/// `freenet_log`: a real freenet contract, built against freenet-stdlib 0.12
/// from crates.io with features `contract` and `freenet-main-contract`, as a
/// contract author builds one. Its state is an append-only log; it exports
/// the four entry points `validate_state`, `update_state`, `summarize_state`
/// and `get_state_delta` (their semantics are in `freenet/log/src/lib.rs`).
/// It imports nothing but the refill buffer,
/// `freenet_contract_io.__frnt__fill_buffer`: the streaming-only contract.
pub const FREENET_LOG: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/freenet_log.wasm"));

#[cfg(feature = "freenet")]
/// `freenet_stamp`: a real freenet contract (built like [`FREENET_LOG`]) that
/// also logs, reads the clock and draws random bytes, so it imports
/// `freenet_log.__frnt__logger__info`, `freenet_time.__frnt__time__utc_now`
/// and `freenet_rand.__frnt__rand__rand_bytes` besides the refill buffer.
/// Its four entry points log a line each; `summarize_state` returns a 60-byte
/// summary of the date and time, 16 random bytes, the state's length and
/// digest, and `update_state` appends `[unix seconds][nanoseconds][8 random
/// bytes][len][delta]` per delta, so a host with a fixed clock and a seeded
/// RNG can predict every byte (the layouts are in `freenet/stamp/src/lib.rs`).
pub const FREENET_STAMP: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/freenet_stamp.wasm"));

#[cfg(feature = "freenet")]
/// `freenet_vault`: a real freenet delegate, built against freenet-stdlib 0.12
/// with features `contract` and `freenet-main-delegate`, exporting
/// `process(parameters, origin, inbound) -> i64`. An application message's
/// payload is text, one command per line (`set`, `get`, `len`, `has`,
/// `remove`, `list`, `state`, `create`), each answered by one application
/// message; it counts the commands in its context and logs one line per call.
/// Between them the commands reach every delegate host function, so it
/// imports all 13 `freenet_delegate_*` functions and
/// `freenet_log.__frnt__logger__info` (the commands and replies are in
/// `freenet/vault/src/lib.rs`).
pub const FREENET_VAULT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/freenet_vault.wasm"));

#[cfg(feature = "freenet")]
/// What freenet-stdlib 0.12.1 itself says about what refill reimplements:
/// the host imports it declares, and its own bincode serialization of sample
/// delegate keys, inbound messages, origins, outbound messages and secret
/// key lists. Written at build time by `freenet/facts`, a program linked
/// against freenet-stdlib in the guests' workspace, so that refill's tests
/// compare with freenet's own code without refill depending on it.
// Generated tables of plain tuples: naming each tuple type would say less.
#[allow(clippy::type_complexity)]
pub mod stdlib_facts {
    include!(concat!(env!("OUT_DIR"), "/freenet_stdlib_facts.rs"));
}

/// Every fixture.
pub const ALL: &[Fixture] = &[DIGEST, DIGEST_RECORD, COLLECT, ODD_READS, INTERLEAVE, SKIP];

/// The fixtures whose export also takes output streams (`docs/protocol.md`,
/// "Streaming out"): not in [`ALL`], whose every argument is a source.
pub const WITH_OUTPUT: &[Fixture] = &[XOR];

/// The fixture called `name`, if any, in [`ALL`] or [`WITH_OUTPUT`].
pub fn by_name(name: &str) -> Option<&'static Fixture> {
    ALL.iter().chain(WITH_OUTPUT).find(|f| f.name == name)
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

    #[cfg(feature = "freenet")]
    /// Whether `wasm` names the import `module.name`: the two names adjacent,
    /// as the import section writes them.
    fn names_import(wasm: &[u8], module: &str, name: &str) -> bool {
        let mut import = wasm_name(module);
        import.extend(wasm_name(name));
        contains(wasm, &import)
    }

    /// Just enough of a wasm reader to list a module's imports.
    struct Reader<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl<'a> Reader<'a> {
        fn byte(&mut self) -> u8 {
            let b = self.bytes[self.pos];
            self.pos += 1;
            b
        }

        fn take(&mut self, n: usize) -> &'a [u8] {
            let bytes = &self.bytes[self.pos..self.pos + n];
            self.pos += n;
            bytes
        }

        /// An unsigned LEB128 number.
        fn leb(&mut self) -> usize {
            let (mut value, mut shift) = (0, 0);
            loop {
                let b = self.byte();
                value |= usize::from(b & 0x7f) << shift;
                if b & 0x80 == 0 {
                    return value;
                }
                shift += 7;
            }
        }

        fn name(&mut self) -> String {
            let len = self.leb();
            String::from_utf8(self.take(len).to_vec()).expect("a UTF-8 name")
        }

        fn val_types(&mut self) -> Vec<&'static str> {
            (0..self.leb())
                .map(|_| match self.byte() {
                    0x7f => "i32",
                    0x7e => "i64",
                    0x7d => "f32",
                    0x7c => "f64",
                    other => panic!("value type {other:#x}"),
                })
                .collect()
        }
    }

    /// Every import of `wasm` as `(module, name, type)`, the type written
    /// `(i64, i64) -> i32` (`-> ()` for no result), sorted. Panics on an
    /// import that is not a function: none of ours has one.
    fn function_imports(wasm: &[u8]) -> Vec<(String, String, String)> {
        assert!(
            wasm.starts_with(b"\0asm\x01\0\0\0"),
            "a wasm module, version 1"
        );
        let mut module = Reader {
            bytes: wasm,
            pos: 8,
        };
        let (mut types, mut imports) = (Vec::new(), Vec::new());
        while module.pos < wasm.len() {
            let id = module.byte();
            let len = module.leb();
            let mut section = Reader {
                bytes: module.take(len),
                pos: 0,
            };
            match id {
                1 => {
                    for _ in 0..section.leb() {
                        assert_eq!(section.byte(), 0x60, "a function type");
                        let params = section.val_types().join(", ");
                        let results = section.val_types();
                        let results = match results.as_slice() {
                            [one] => one.to_string(),
                            many => format!("({})", many.join(", ")),
                        };
                        types.push(format!("({params}) -> {results}"));
                    }
                }
                2 => {
                    for _ in 0..section.leb() {
                        let (module, name) = (section.name(), section.name());
                        assert_eq!(section.byte(), 0, "{module}.{name} is not a function");
                        imports.push((module, name, section.leb()));
                    }
                }
                _ => {}
            }
        }
        let mut imports: Vec<_> = imports
            .into_iter()
            .map(|(module, name, ty)| (module, name, types[ty].clone()))
            .collect();
        imports.sort();
        imports
    }

    /// `(module, name, type)` rows as [`function_imports`] gives them.
    fn rows(rows: &[(&str, &str, &str)]) -> Vec<(String, String, String)> {
        let mut rows: Vec<_> = rows
            .iter()
            .map(|&(m, n, t)| (m.to_string(), n.to_string(), t.to_string()))
            .collect();
        rows.sort();
        rows
    }

    const FILL_BUFFER: (&str, &str, &str) = (
        "freenet_contract_io",
        "__frnt__fill_buffer",
        "(i64, i64) -> i32",
    );

    #[cfg(feature = "freenet")]
    const LOGGER_INFO: (&str, &str, &str) = (
        "freenet_log",
        "__frnt__logger__info",
        "(i64, i64, i32) -> ()",
    );

    #[cfg(feature = "freenet")]
    /// The four imports of the stamp contract, as freenet-stdlib 0.12.1
    /// declares them.
    const STAMP_IMPORTS: &[(&str, &str, &str)] = &[
        FILL_BUFFER,
        LOGGER_INFO,
        ("freenet_time", "__frnt__time__utc_now", "(i64, i64) -> ()"),
        (
            "freenet_rand",
            "__frnt__rand__rand_bytes",
            "(i64, i64, i32) -> ()",
        ),
    ];

    #[cfg(feature = "freenet")]
    /// The 13 delegate host functions of freenet-stdlib 0.12.1 (all of
    /// `DECLARED_HOST_IMPORTS`' `freenet_delegate_*` entries).
    const DELEGATE_IMPORTS: &[(&str, &str, &str)] = &[
        (
            "freenet_delegate_ctx",
            "__frnt__delegate__ctx_len",
            "() -> i32",
        ),
        (
            "freenet_delegate_ctx",
            "__frnt__delegate__ctx_read",
            "(i64, i32) -> i32",
        ),
        (
            "freenet_delegate_ctx",
            "__frnt__delegate__ctx_write",
            "(i64, i32) -> i32",
        ),
        (
            "freenet_delegate_secrets",
            "__frnt__delegate__get_secret_len",
            "(i64, i32) -> i32",
        ),
        (
            "freenet_delegate_secrets",
            "__frnt__delegate__get_secret",
            "(i64, i32, i64, i32) -> i32",
        ),
        (
            "freenet_delegate_secrets",
            "__frnt__delegate__set_secret",
            "(i64, i32, i64, i32) -> i32",
        ),
        (
            "freenet_delegate_secrets",
            "__frnt__delegate__has_secret",
            "(i64, i32) -> i32",
        ),
        (
            "freenet_delegate_secrets",
            "__frnt__delegate__remove_secret",
            "(i64, i32) -> i32",
        ),
        (
            "freenet_delegate_secrets",
            "__frnt__delegate__list_secrets_len",
            "(i64, i32) -> i32",
        ),
        (
            "freenet_delegate_secrets",
            "__frnt__delegate__list_secrets",
            "(i64, i32, i64, i32) -> i32",
        ),
        (
            "freenet_delegate_contracts",
            "__frnt__delegate__get_contract_state_len",
            "(i64, i32) -> i64",
        ),
        (
            "freenet_delegate_contracts",
            "__frnt__delegate__get_contract_state",
            "(i64, i32, i64, i64) -> i64",
        ),
        (
            "freenet_delegate_management",
            "__frnt__delegate__create_delegate",
            "(i64, i64, i64, i64, i64, i64, i64, i64) -> i32",
        ),
    ];

    #[cfg(feature = "freenet")]
    /// The exports every contract built with freenet-stdlib's `#[contract]` has.
    const CONTRACT_EXPORTS: &[&str] = &[
        "validate_state",
        "update_state",
        "summarize_state",
        "get_state_delta",
        "__frnt__initiate_buffer",
        "__frnt_set_id",
        "memory",
    ];

    #[test]
    fn the_streaming_fixtures_import_only_the_refill_buffer() {
        for f in ALL {
            assert_eq!(function_imports(f.wasm), rows(&[FILL_BUFFER]), "{}", f.name);
        }
    }

    #[cfg(feature = "freenet")]
    #[test]
    fn the_freenet_contracts_have_the_shape_freenet_stdlib_gives_them() {
        for (name, wasm) in [
            ("freenet_log", FREENET_LOG),
            ("freenet_stamp", FREENET_STAMP),
        ] {
            assert!(
                names_import(wasm, "freenet_contract_io", "__frnt__fill_buffer"),
                "{name}: no import freenet_contract_io.__frnt__fill_buffer"
            );
            for export in CONTRACT_EXPORTS {
                assert!(
                    contains(wasm, &wasm_name(export)),
                    "{name}: no export {export}"
                );
            }
        }
    }

    #[cfg(feature = "freenet")]
    #[test]
    fn the_freenet_log_contract_imports_nothing_but_the_refill_buffer() {
        assert_eq!(function_imports(FREENET_LOG), rows(&[FILL_BUFFER]));
    }

    #[cfg(feature = "freenet")]
    #[test]
    fn the_stamp_contract_imports_the_log_the_clock_and_the_rng() {
        for &(module, name, _) in STAMP_IMPORTS {
            assert!(
                names_import(FREENET_STAMP, module, name),
                "no import {module}.{name}"
            );
        }
        assert_eq!(function_imports(FREENET_STAMP), rows(STAMP_IMPORTS));
    }

    #[cfg(feature = "freenet")]
    #[test]
    fn the_vault_delegate_imports_every_delegate_host_function() {
        assert_eq!(DELEGATE_IMPORTS.len(), 13);
        for &(module, name, _) in DELEGATE_IMPORTS.iter().chain([&LOGGER_INFO]) {
            assert!(
                names_import(FREENET_VAULT, module, name),
                "no import {module}.{name}"
            );
        }
        let mut expected = DELEGATE_IMPORTS.to_vec();
        expected.push(LOGGER_INFO);
        // A delegate's arguments arrive whole: no refill buffer.
        assert_eq!(function_imports(FREENET_VAULT), rows(&expected));
        for export in ["process", "memory", "__frnt__initiate_buffer"] {
            assert!(
                contains(FREENET_VAULT, &wasm_name(export)),
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
