//! The `refill` command as a user runs it: results, JSON, and one-line errors.

use std::path::PathBuf;
use std::process::{Command, Output};

use refill_testkit::{expected_fills, generated_digest};

fn refill(args: &[&str]) -> Output {
    // The module cache is on by default: keep it out of the user's own.
    match Command::new(env!("CARGO_BIN_EXE_refill"))
        .env(
            "XDG_CACHE_HOME",
            concat!(env!("CARGO_TARGET_TMPDIR"), "/xdg-cache"),
        )
        .args(args)
        .output()
    {
        Ok(output) => output,
        Err(e) => panic!("cannot start refill: {e}"),
    }
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Asserts a failed run whose stderr is one line mentioning `needle`.
fn assert_one_line_error(output: &Output, needle: &str) {
    let text = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {text}");
    assert_eq!(text.lines().count(), 1, "not one line: {text}");
    assert!(text.starts_with("error: "), "{text}");
    assert!(text.contains(needle), "`{needle}` not in: {text}");
    assert!(!text.contains("panicked"), "{text}");
}

/// A file in the temp dir, unique per test and process.
fn temp_file(name: &str, bytes: &[u8]) -> PathBuf {
    let path = std::env::temp_dir().join(format!("refill-cli-{}-{name}", std::process::id()));
    if let Err(e) = std::fs::write(&path, bytes) {
        panic!("cannot write {}: {e}", path.display());
    }
    path
}

fn wat_file(name: &str, text: &str) -> PathBuf {
    match wat::parse_str(text) {
        Ok(wasm) => temp_file(name, &wasm),
        Err(e) => panic!("bad test WAT: {e}"),
    }
}

fn json_field(json: &str, field: &str) -> String {
    let key = format!("\"{field}\":");
    let at = json.find(&key).map(|i| i + key.len());
    let rest = at.map(|i| &json[i..]).unwrap_or("");
    rest.split([',', '}'])
        .next()
        .unwrap_or("")
        .trim_matches('"')
        .to_owned()
}

#[test]
fn run_prints_the_digest_on_every_engine() {
    for engine in ["wasmi", "wasmtime", "wasmer"] {
        let out = refill(&[
            "run",
            "builtin:digest",
            "--export",
            "digest",
            "--input-size",
            "1MiB",
            "--engine",
            engine,
            "--json",
        ]);
        assert!(out.status.success(), "{engine}: {}", stderr(&out));
        let json = String::from_utf8_lossy(&out.stdout);
        assert_eq!(json.lines().count(), 1);
        assert_eq!(json_field(&json, "engine"), engine);
        let result: i64 = json_field(&json, "result").parse().unwrap_or(0);
        assert_eq!(result as u64, generated_digest(0, 1 << 20), "{engine}");
        assert_eq!(
            json_field(&json, "fills"),
            expected_fills(1 << 20, 65_536).to_string()
        );
        assert_eq!(
            json_field(&json, "bytes_streamed"),
            (1u64 << 20).to_string()
        );
        let memory: u64 = json_field(&json, "peak_memory_bytes")
            .parse()
            .unwrap_or(u64::MAX);
        assert!(memory < 4 << 20, "{engine}: {memory}");
    }
}

#[test]
fn inputs_stream_in_command_line_order() {
    let file = temp_file("order.bin", &refill_testkit::generated(77, 5000));
    let file = file.to_string_lossy().into_owned();
    let out = refill(&[
        "run",
        "builtin:interleave",
        "--export",
        "interleave3",
        "--input-size",
        "100",
        "--input",
        &file,
        "--input-size",
        "3000",
        "--seed",
        "10",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let result: i64 = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    // Generated input k uses seed 10 + k; the file is argument 1.
    let want = refill_testkit::combine3(
        generated_digest(10, 100),
        generated_digest(77, 5000),
        generated_digest(12, 3000),
    );
    assert_eq!(result as u64, want);
}

#[test]
fn demo_explains_and_checks_itself() {
    let out = refill(&["demo", "--size", "2MiB", "--engine", "wasmi"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("matches the host's digest"), "{text}");
    assert!(text.contains("refill calls           32"), "{text}");
}

#[test]
fn missing_input_file_is_named() {
    let out = refill(&[
        "run",
        "builtin:digest",
        "--export",
        "digest",
        "--input",
        "no/such/state.bin",
    ]);
    assert_one_line_error(&out, "no/such/state.bin");
}

#[test]
fn bad_wasm_is_an_invalid_module() {
    let path = temp_file("garbage.wasm", b"this is not wasm");
    let out = refill(&["run", &path.to_string_lossy(), "--export", "x"]);
    assert_one_line_error(&out, "invalid module");
    let out = refill(&["run", "no/such/module.wasm", "--export", "x"]);
    assert_one_line_error(&out, "no/such/module.wasm");
    let out = refill(&["run", "builtin:nope", "--export", "x"]);
    assert_one_line_error(&out, "no built-in contract `nope`");
}

#[test]
fn missing_export_is_named() {
    let out = refill(&[
        "run",
        "builtin:digest",
        "--export",
        "summarize",
        "--input-size",
        "10",
    ]);
    assert_one_line_error(&out, "`summarize`");
}

#[test]
fn guest_trap_is_one_line() {
    let path = wat_file(
        "trap.wasm",
        r#"(module (memory (export "memory") 1)
             (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
             (func (export "boom") (result i64) unreachable))"#,
    );
    for engine in ["wasmi", "wasmtime", "wasmer"] {
        let out = refill(&[
            "run",
            &path.to_string_lossy(),
            "--export",
            "boom",
            "--engine",
            engine,
        ]);
        assert_one_line_error(&out, "guest trapped");
    }
}

#[test]
fn hostile_descriptor_is_refused() {
    // initiate_buffer returns an address past the end of the 1-page memory.
    let path = wat_file(
        "hostile.wasm",
        r#"(module (memory (export "memory") 1)
             (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 65535)
             (func (export "f") (param i64) (result i64) i64.const 0))"#,
    );
    for engine in ["wasmi", "wasmtime", "wasmer"] {
        let out = refill(&[
            "run",
            &path.to_string_lossy(),
            "--export",
            "f",
            "--input-size",
            "10",
            "--engine",
            engine,
        ]);
        assert_one_line_error(&out, "descriptor out of bounds");
    }
}

#[test]
fn bad_chunk_size_is_refused() {
    let out = refill(&[
        "run",
        "builtin:digest",
        "--export",
        "digest",
        "--chunk",
        "4",
        "--input-size",
        "1",
    ]);
    assert_one_line_error(&out, "chunk size 4");
}

#[test]
fn unknown_engine_is_a_usage_error() {
    let out = refill(&[
        "run",
        "builtin:digest",
        "--export",
        "digest",
        "--engine",
        "v8",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("v8"));
}

#[test]
fn limits_stop_hostile_work_with_one_line_errors() {
    let spinner = wat_file(
        "spin.wasm",
        r#"(module (memory (export "memory") 1)
             (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
             (func (export "spin") (result i64) (loop $l (br $l)) i64.const 0)
             (func (export "hog") (result i64) (i64.extend_i32_s (memory.grow (i32.const 100)))))"#,
    );
    let spinner = spinner.to_string_lossy();
    for engine in ["wasmi", "wasmtime", "wasmer"] {
        let out = refill(&[
            "run", &spinner, "--export", "spin", "--engine", engine, "--fuel", "1000000",
        ]);
        assert_one_line_error(&out, "cpu budget exhausted");
        let out = refill(&[
            "run",
            &spinner,
            "--export",
            "hog",
            "--engine",
            engine,
            "--max-memory",
            "1MiB",
        ]);
        assert_one_line_error(&out, "memory limit exceeded");
    }
    let out = refill(&[
        "run",
        "builtin:digest",
        "--export",
        "digest",
        "--input-size",
        "2MiB",
        "--max-payload",
        "1MiB",
    ]);
    assert_one_line_error(&out, "payload too large");
}

/// The attacker's guests under the CLI's defaults, on every engine: a
/// runaway loop stops at `--timeout`, endless recursion and a table grown
/// by 10 M elements stop with their limits, a guest with three memories is
/// refused; each in one short line (no engine backtrace without
/// `--verbose`), and a `.wat` module is accepted as it is.
#[test]
fn the_defaults_stop_runaway_guests_in_one_line() {
    let text = r#"(module (memory (export "memory") 1)
        (table 1 funcref)
        (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
        (func $down (param i64) (result i64) (i64.add (call $down (local.get 0)) (i64.const 1)))
        (func (export "recurse") (result i64) (call $down (i64.const 0)))
        (func (export "spin") (result i64) (loop $l (br $l)) i64.const 0)
        (func (export "tables") (result i64)
          (i64.extend_i32_s (table.grow (ref.null func) (i32.const 10000000)))))"#;
    let guest = temp_file("runaway.wat", text.as_bytes());
    let guest = guest.to_string_lossy();
    let three = wat_file(
        "three_memories.wasm",
        r#"(module (memory (export "memory") 1) (memory 1) (memory 1)
             (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0)
             (func (export "f") (result i64) i64.const 0))"#,
    );
    let three = three.to_string_lossy();
    for engine in ["wasmi", "wasmtime", "wasmer"] {
        let run = |export: &str, extra: &[&str]| {
            let mut args = vec!["run", &guest, "--export", export, "--engine", engine];
            args.extend_from_slice(extra);
            refill(&args)
        };
        assert_one_line_error(&run("spin", &["--timeout", "300ms"]), "deadline exceeded");
        let out = run("recurse", &[]);
        assert_one_line_error(&out, "guest stack exhausted");
        assert!(stderr(&out).len() < 300, "{engine}: {}", stderr(&out));
        let verbose = run("recurse", &["--verbose"]);
        assert!(stderr(&verbose).contains("stack"), "{engine}");
        assert_one_line_error(&run("tables", &[]), "table limit exceeded");
        let out = refill(&["run", &three, "--export", "f", "--engine", engine]);
        assert_one_line_error(&out, "memory limit exceeded");
    }
    let out = refill(&["run", &guest, "--export", "spin", "--timeout", "0s"]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "a zero timeout is a usage error"
    );
}

/// `[len: u64 LE][digest: u64 LE]`: the freenet_log contract's summary.
fn log_summary(state: &[u8]) -> Vec<u8> {
    let mut v = (state.len() as u64).to_le_bytes().to_vec();
    v.extend(refill_testkit::digest(state).to_le_bytes());
    v
}

#[test]
fn freenet_summarize_gives_the_same_payload_on_every_engine() {
    let state = refill_testkit::generated(4, 64 << 20);
    let path = temp_file("freenet-state", &state);
    // Ok(StateSummary(summary)) in bincode: tag 0, length 16, the summary.
    let mut expected = vec![0u8; 4];
    expected.extend(16u64.to_le_bytes());
    expected.extend(log_summary(&state));
    let expected = hex::encode(expected);
    for engine in ["wasmi", "wasmtime", "wasmer"] {
        let out = refill(&[
            "freenet",
            "summarize",
            "builtin:freenet_log",
            "--state",
            path.to_str().unwrap_or_default(),
            "--engine",
            engine,
            "--json",
        ]);
        assert!(out.status.success(), "{engine}: {}", stderr(&out));
        let json = String::from_utf8_lossy(&out.stdout);
        assert_eq!(json_field(&json, "engine"), engine);
        assert_eq!(json_field(&json, "entry"), "summarize");
        assert_eq!(json_field(&json, "kind"), "summarize_state");
        assert_eq!(json_field(&json, "payload_hex"), expected, "{engine}");
        assert_eq!(json_field(&json, "fills"), "1024", "{engine}");
        assert_eq!(
            json_field(&json, "bytes_streamed"),
            (64u64 << 20).to_string()
        );
        let peak: u64 = json_field(&json, "peak_memory_bytes").parse().unwrap_or(0);
        assert!(peak > 0, "{engine}: {json}");
        // Nothing is drawn when stderr is not a terminal.
        assert!(out.stderr.is_empty(), "{engine}: {}", stderr(&out));
    }
    let _ = std::fs::remove_file(path);
}

#[test]
fn freenet_update_and_delta_take_their_files() {
    let state = refill_testkit::generated(5, 1000);
    let state_path = temp_file("freenet-upd-state", &state);
    let summary_path = temp_file("freenet-upd-summary", &log_summary(&state[..400]));
    let out = refill(&[
        "freenet",
        "delta",
        "builtin:freenet_log",
        "--state",
        state_path.to_str().unwrap_or_default(),
        "--summary",
        summary_path.to_str().unwrap_or_default(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = String::from_utf8_lossy(&out.stdout);
    // Ok(StateDelta([0][the last 600 bytes])).
    let mut expected = vec![0u8; 4];
    expected.extend(601u64.to_le_bytes());
    expected.push(0);
    expected.extend_from_slice(&state[400..]);
    assert_eq!(json_field(&json, "payload_hex"), hex::encode(expected));
    assert_eq!(json_field(&json, "kind"), "state_delta");
    for path in [state_path, summary_path] {
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn freenet_errors_are_one_line() {
    let state = temp_file("freenet-err-state", b"some state");
    let bad_params = temp_file("freenet-err-params", b"abc");
    let state_arg = state.to_str().unwrap_or_default();
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["summarize", "builtin:digest", "--state", state_arg],
            "no export `summarize_state`",
        ),
        (
            vec![
                "validate",
                "builtin:freenet_log",
                "--state",
                state_arg,
                "--params",
                bad_params.to_str().unwrap_or_default(),
            ],
            "contract error",
        ),
        (
            vec!["delta", "builtin:freenet_log", "--state", state_arg],
            "needs --summary",
        ),
        (
            vec![
                "summarize",
                "builtin:freenet_log",
                "--state",
                state_arg,
                "--related",
                state_arg,
            ],
            "takes no --related",
        ),
        (
            vec![
                "summarize",
                "builtin:freenet_log",
                "--state",
                "no/such/state",
            ],
            "no/such/state",
        ),
    ];
    for (args, needle) in cases {
        let mut all = vec!["freenet"];
        all.extend(args);
        assert_one_line_error(&refill(&all), needle);
    }
    // An entry point that does not exist is a usage error, clap's.
    let merge = refill(&[
        "freenet",
        "merge",
        "builtin:freenet_log",
        "--state",
        state_arg,
    ]);
    assert_eq!(merge.status.code(), Some(2));
    assert!(stderr(&merge).contains("merge"), "{}", stderr(&merge));
    let legacy = wat_file(
        "freenet-legacy.wasm",
        r#"(module (memory (export "memory") 1)
             (func (export "__frnt__initiate_buffer") (param i32) (result i64) i64.const 0))"#,
    );
    assert_one_line_error(
        &refill(&[
            "freenet",
            "summarize",
            legacy.to_str().unwrap_or_default(),
            "--state",
            state_arg,
            "--refuse-legacy",
        ]),
        "built before the streaming ABI",
    );
    for path in [state, bad_params, legacy] {
        let _ = std::fs::remove_file(path);
    }
}

#[test]
fn bench_reports_every_workload_and_the_targets() {
    let out = refill(&[
        "bench",
        "--parts",
        "throughput",
        "--sizes",
        "1MiB",
        "--chunks",
        "64KiB",
        "--reps",
        "1",
        "--file-size",
        "2MiB",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json = String::from_utf8_lossy(&out.stdout);
    for workload in [
        "skip",
        "digest",
        "collect",
        "whole-copy",
        "minimal",
        "native",
    ] {
        assert!(
            json.contains(&format!("\"workload\":\"{workload}\"")),
            "{workload} missing: {json}"
        );
    }
    for target in [
        "wasmtime digest / native loop",
        "refill digest / minimal binding",
        "streaming digest / whole copy",
        "wasmi skip / wasmtime skip",
        "two instances on two threads",
        "host RSS growth streaming the file",
        "round trip: streamed out / collected whole",
        "round trip guest memory",
        "async fan-in: 100 instances / one",
        "host RSS growth, a 2.0M file in and out",
        "file round trip guest memory, 2.0M / 1.0M",
    ] {
        assert!(json.contains(target), "{target} missing: {json}");
    }
}

/// `--output` streams the xor guest's output into a file, or to standard
/// output with `-` (the result then on standard error), on every engine;
/// `--json` counts the drains and the bytes drained.
#[test]
fn run_streams_an_output_into_a_file_and_to_stdout() {
    let len = (1usize << 20) + 17;
    let expected: Vec<u8> = refill_testkit::generated(0, len)
        .into_iter()
        .map(|b| b ^ 0x5a)
        .collect();
    for engine in ["wasmi", "wasmtime", "wasmer"] {
        let path = temp_file(
            &format!("xor-out-{engine}"),
            b"old contents, longer than nothing",
        );
        let size = len.to_string();
        let out = refill(&[
            "run",
            "builtin:xor",
            "--export",
            "xor",
            "--input-size",
            &size,
            "--output",
            path.to_str().unwrap_or_default(),
            "--engine",
            engine,
            "--json",
        ]);
        assert!(out.status.success(), "{engine}: {}", stderr(&out));
        let json = String::from_utf8_lossy(&out.stdout);
        assert_eq!(json_field(&json, "result"), size, "{engine}: {json}");
        assert_eq!(json_field(&json, "bytes_drained"), size, "{engine}: {json}");
        assert_eq!(
            json_field(&json, "drains"),
            len.div_ceil(64 << 10).to_string(),
            "{engine}: {json}"
        );
        let written = std::fs::read(&path).unwrap_or_default();
        assert!(written == expected, "{engine}: the file differs");
        let _ = std::fs::remove_file(&path);

        let out = refill(&[
            "run",
            "builtin:xor",
            "--export",
            "xor",
            "--input-size",
            "1000",
            "--output",
            "-",
            "--engine",
            engine,
        ]);
        assert!(out.status.success(), "{engine}: {}", stderr(&out));
        assert!(out.stdout == expected[..1000], "{engine}: stdout differs");
        assert_eq!(stderr(&out).trim(), "1000", "{engine}");
    }
}

/// An output that cannot be created is one line naming it, before anything runs.
#[test]
fn an_output_that_cannot_be_created_is_one_line() {
    assert_one_line_error(
        &refill(&[
            "run",
            "builtin:xor",
            "--export",
            "xor",
            "--input-size",
            "10",
            "--output",
            "/nonexistent-dir/out.bin",
        ]),
        "cannot create /nonexistent-dir/out.bin",
    );
}

/// The per-call part on its own: every engine and instance kind in the
/// latency, load, live and threads cases, each live case in a process of
/// its own, and their targets.
#[test]
fn bench_per_call_reports_latency_load_live_instances_and_threads() {
    let out = refill(&[
        "bench",
        "--parts",
        "per-call",
        "--reps",
        "1",
        "--live",
        "20",
        "--module-functions",
        "20",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    let per_call = &json["per_call"];
    let engines = |case: &str| -> Vec<String> {
        per_call[case]
            .as_array()
            .unwrap_or_else(|| panic!("no {case}: {json}"))
            .iter()
            .map(|row| row["engine"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let subjects = [
        "wasmi",
        "wasmtime",
        "wasmer",
        "wasmtime-pooling",
        "wasmer-local",
    ];
    for subject in subjects {
        for case in ["latency", "live", "threads"] {
            assert!(
                engines(case).iter().any(|e| e == subject),
                "{subject} missing from {case}: {json}"
            );
        }
    }
    assert_eq!(
        engines("load"),
        ["wasmtime", "wasmtime", "wasmer", "wasmer"]
    );
    for live in per_call["live"].as_array().into_iter().flatten() {
        assert_eq!(live["count"], 20, "{live}");
        assert!(live["touched_bytes"].as_u64() > Some(0), "{live}");
    }
    let targets = json["targets"].to_string();
    for target in [
        "call latency, 1.0K state / minimal binding",
        "freenet_log: compile / cache load",
        "host RSS per live instance beyond touched guest memory",
        "threads with 20 live instances",
        "calls from two threads / one",
    ] {
        assert!(targets.contains(target), "{target} missing: {targets}");
    }
    assert!(
        json["measurements"].as_array().is_some_and(Vec::is_empty),
        "the throughput part ran: {json}"
    );
}

/// `refill bench-live` names a subject it does not know.
#[test]
fn bench_live_refuses_an_unknown_subject() {
    assert_one_line_error(
        &refill(&["bench-live", "v8-local", "3"]),
        "no engine is called `v8-local`",
    );
}

/// The stamp contract logs, reads the clock and draws random bytes: with
/// `--log`, `--clock` and `--seed` its output is the same on every engine,
/// and its log line is on stderr.
#[test]
fn freenet_host_flags_fix_the_clock_and_the_randomness() {
    let state = temp_file("stamp-state", b"stamped state");
    let mut payloads = Vec::new();
    for engine in ["wasmi", "wasmtime", "wasmer"] {
        let out = refill(&[
            "freenet",
            "summarize",
            "builtin:freenet_stamp",
            "--state",
            state.to_str().unwrap_or_default(),
            "--log",
            "--clock",
            "2026-12-01T12:00:00.25Z",
            "--seed",
            "7",
            "--engine",
            engine,
            "--json",
        ]);
        assert!(out.status.success(), "{engine}: {}", stderr(&out));
        assert!(
            stderr(&out).contains("] stamp: summarize 13 bytes"),
            "{engine}: {}",
            stderr(&out)
        );
        let json = String::from_utf8_lossy(&out.stdout).into_owned();
        let payload = json_field(&json, "payload_hex");
        // Ok, a 60-byte summary, then the year 2026 (0x7ea) first.
        assert!(
            payload.starts_with("000000003c00000000000000ea070000"),
            "{engine}: {payload}"
        );
        payloads.push(payload);
    }
    assert!(payloads.windows(2).all(|w| w[0] == w[1]), "{payloads:?}");
    let bad = refill(&[
        "freenet",
        "summarize",
        "builtin:freenet_stamp",
        "--state",
        state.to_str().unwrap_or_default(),
        "--clock",
        "yesterday",
    ]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("RFC 3339"), "{}", stderr(&bad));
    let _ = std::fs::remove_file(state);
}

/// `refill freenet delegate` delivers one application message; a secret
/// stored by one run with `--secrets DB` is read back by the next, on
/// another engine; a contract state from `--contract-state` is read.
#[test]
fn freenet_delegate_keeps_secrets_across_runs() {
    let db = std::env::temp_dir().join(format!("refill-cli-{}-secrets.redb", std::process::id()));
    let _ = std::fs::remove_file(&db);
    let held = temp_file("held-state", b"held!");
    let contract = format!("{}={}", "ab".repeat(32), held.to_str().unwrap_or_default());
    let run = |engine: &str, commands: &[u8]| {
        let message = temp_file(&format!("message-{engine}"), commands);
        let out = refill(&[
            "freenet",
            "delegate",
            "builtin:freenet_vault",
            "--app-message",
            message.to_str().unwrap_or_default(),
            "--secrets",
            db.to_str().unwrap_or_default(),
            "--contract-state",
            &contract,
            "--engine",
            engine,
            "--json",
        ]);
        let _ = std::fs::remove_file(message);
        assert!(out.status.success(), "{engine}: {}", stderr(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let first = run("wasmi", b"set token s3cret");
    assert!(first.contains(&hex::encode("set token")), "{first}");
    assert_eq!(json_field(&first, "context_hex"), "0100000000000000");
    let state_command = format!("get token\nstate {}", "ab".repeat(32));
    let second = run("wasmtime", state_command.as_bytes());
    assert!(second.contains(&hex::encode("token=s3cret")), "{second}");
    assert!(
        second.contains(&hex::encode(format!(
            "state {}={}",
            "ab".repeat(32),
            hex::encode("held!")
        ))),
        "{second}"
    );
    let third = run("wasmer", b"has token");
    assert!(third.contains(&hex::encode("has token yes")), "{third}");
    assert!(json_field(&third, "delegate_key").len() == 64, "{third}");
    for path in [db, held] {
        let _ = std::fs::remove_file(path);
    }
}

/// A delegate's own error exits with status 1 and one line.
#[test]
fn freenet_delegate_error_is_one_line() {
    let message = temp_file("bad-message", &[0xff, 0xfe]);
    let out = refill(&[
        "freenet",
        "delegate",
        "builtin:freenet_vault",
        "--app-message",
        message.to_str().unwrap_or_default(),
    ]);
    assert_one_line_error(&out, "delegate error");
    let bad_state = refill(&[
        "freenet",
        "delegate",
        "builtin:freenet_vault",
        "--app-message",
        message.to_str().unwrap_or_default(),
        "--contract-state",
        "abc=file",
    ]);
    assert_eq!(bad_state.status.code(), Some(2));
    assert!(
        stderr(&bad_state).contains("32-byte contract id"),
        "{}",
        stderr(&bad_state)
    );
    let _ = std::fs::remove_file(message);
}

/// `--cache DIR` on wasmtime: the first run compiles and stores the module,
/// the second loads it; a damaged file (truncated, a byte flipped) is
/// reported in one warning line, recompiled and replaced, and the run
/// succeeds all the same.
#[test]
fn the_module_cache_hits_and_recovers_from_damaged_files() {
    let dir = std::env::temp_dir().join(format!("refill-cli-{}-cache", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let dir_arg = dir.to_string_lossy().into_owned();
    let run = |expected_cache: &str| {
        let out = refill(&[
            "run",
            "builtin:digest",
            "--export",
            "digest",
            "--input-size",
            "64KiB",
            "--engine",
            "wasmtime",
            "--cache",
            &dir_arg,
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let json = String::from_utf8_lossy(&out.stdout);
        let result: i64 = json_field(&json, "result").parse().unwrap_or(0);
        assert_eq!(result as u64, generated_digest(0, 64 << 10));
        assert_eq!(json_field(&json, "cache"), expected_cache, "{json}");
        stderr(&out)
    };
    assert_eq!(run("miss"), "");
    assert_eq!(run("hit"), "");
    let files: Vec<PathBuf> = match std::fs::read_dir(&dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => panic!("no cache directory: {e}"),
    };
    assert_eq!(files.len(), 1, "{files:?}");
    let file = &files[0];
    assert_eq!(file.extension().and_then(|e| e.to_str()), Some("artifact"));
    let good = std::fs::read(file).unwrap_or_default();

    let mut flipped = good.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    for (damage, bytes, why) in [
        ("truncated", good[..good.len() - 100].to_vec(), "truncated"),
        ("flipped", flipped, "corrupt"),
    ] {
        if let Err(e) = std::fs::write(file, bytes) {
            panic!("cannot damage the cache file: {e}");
        }
        let warning = run("recompiled");
        assert_eq!(warning.lines().count(), 1, "{damage}: {warning}");
        assert!(warning.starts_with("warning: "), "{damage}: {warning}");
        assert!(warning.contains(&file.display().to_string()), "{warning}");
        assert!(warning.contains(why), "{damage}: {warning}");
        assert_eq!(std::fs::read(file).unwrap_or_default(), good, "{damage}");
        assert_eq!(run("hit"), "");
    }
    let out = refill(&[
        "run",
        "builtin:digest",
        "--export",
        "digest",
        "--input-size",
        "1KiB",
        "--engine",
        "wasmtime",
        "--no-cache",
        "--json",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        json_field(&String::from_utf8_lossy(&out.stdout), "cache"),
        ""
    );
    let _ = std::fs::remove_dir_all(&dir);
}
