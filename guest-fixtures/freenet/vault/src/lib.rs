//! `freenet_vault`: a freenet delegate, written against freenet-stdlib 0.12,
//! whose commands reach every delegate host function through `DelegateCtx`:
//! the context (`freenet_delegate_ctx`), every secrets function
//! (`freenet_delegate_secrets`), a contract's state
//! (`freenet_delegate_contracts`) and delegate creation
//! (`freenet_delegate_management`), and which logs one line per call
//! (`freenet_log`). All 13 `__frnt__delegate__*` imports are in the module.
//!
//! `process` handles `InboundDelegateMsg::ApplicationMessage` only; any other
//! inbound message is `DelegateError::Other("vault: unsupported inbound
//! message")`, before any host call. The parameters and the origin are
//! ignored.
//!
//! **Payload**: UTF-8 text, one command per line (`str::lines`: `\n` or
//! `\r\n`), empty lines ignored. A payload that is not UTF-8 is a
//! `DelegateError::Deser`, before any host call. Each command produces one
//! reply, `OutboundDelegateMsg::ApplicationMessage(ApplicationMessage::new(
//! reply.into_bytes()).processed(true))`, in order. `KEY` is one non-empty
//! word (no spaces); a command whose arguments do not fit is
//! `unknown command`. Bytes the host hands back are shown as lossy UTF-8.
//!
//! | command | host calls | reply |
//! | --- | --- | --- |
//! | `set KEY VALUE` (VALUE: the rest of the line, may be empty or hold spaces) | `set_secret` | `set KEY`, or `set KEY failed` if it returned non-zero |
//! | `get KEY` | `get_secret_len`, then `get_secret` (skipped for an empty secret) | `KEY=VALUE`, or `KEY missing` |
//! | `len KEY` | `get_secret_len` | `len KEY=N`, or `len KEY missing` |
//! | `has KEY` | `has_secret` | `has KEY yes` (it returned 1) or `has KEY no` |
//! | `remove KEY` | `remove_secret` | `removed KEY` (it returned 0) or `remove KEY failed` |
//! | `list PREFIX` (PREFIX: the rest of the line; `list` alone lists every key) | `list_secrets_len`, then `list_secrets` if that was positive | `keys: k1,k2,...`, the keys sorted bytewise (`keys: ` for none) |
//! | `state HEX` (64 hex digits, either case: a 32-byte contract instance id) | `get_contract_state_len`, then `get_contract_state` unless the state is empty | `state HEX=` and the state as lowercase hex (HEX echoed as given), or `state HEX missing`; a malformed HEX is `state: bad id` with no host call |
//! | `create PARAMS` (PARAMS: the rest of the line, as bytes, may be empty) | `create_delegate` with the 8-byte empty module `\0asm\x01\0\0\0` as code, cipher `[7; 32]`, nonce `[9; 24]` | `created key=<64 hex> hash=<64 hex>`, or `create failed <code>` |
//! | anything else | none | `unknown command` |
//!
//! **Context**: a `u64` LE count of the commands processed so far; an empty
//! context is 0, any length but 0 or 8 is a `DelegateError::Deser`. The order
//! of host calls in one `process`:
//!
//! 1. `ctx.read()` (`ctx_len`, then `ctx_read` if the context is not empty);
//! 2. `freenet_log`: `vault: {n} commands` (`n` the non-empty lines);
//! 3. each command's calls, in order;
//! 4. `ctx.write(counter + n)` (`ctx_write`, 8 bytes; the addition wraps); a
//!    non-zero result is `DelegateError::Other("vault: context write
//!    failed")`.
//!
//! After the replies comes one `OutboundDelegateMsg::ContextUpdated` with the
//! same 8 bytes.

use freenet_stdlib::prelude::*;

/// The delegate. It keeps nothing but its context and secrets.
pub struct Vault;

/// The code of the child delegate `create` registers: the smallest valid
/// wasm module (the magic and version 1, no sections).
const CHILD_WASM: &[u8] = b"\0asm\x01\0\0\0";

/// The cipher `create` hands the host for the child.
const CHILD_CIPHER: [u8; 32] = [7; 32];

/// The nonce `create` hands the host for the child.
const CHILD_NONCE: [u8; 24] = [9; 24];

/// `bytes` as lowercase hex.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

/// A contract instance id from exactly 64 hex digits (either case).
fn parse_id(hex: &str) -> Option<[u8; 32]> {
    let digits = hex.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let nibble = |d: u8| char::from(d).to_digit(16).map(|n| n as u8);
    let mut id = [0u8; 32];
    for (byte, pair) in id.iter_mut().zip(digits.chunks_exact(2)) {
        *byte = (nibble(pair[0])? << 4) | nibble(pair[1])?;
    }
    Some(id)
}

/// A single key argument: one non-empty word.
fn key_arg(rest: Option<&str>) -> Option<&str> {
    rest.filter(|key| !key.is_empty() && !key.contains(' '))
}

/// Runs one command line through the host functions and returns its reply.
fn run(ctx: &mut DelegateCtx, line: &str) -> String {
    let (verb, rest) = match line.split_once(' ') {
        Some((verb, rest)) => (verb, Some(rest)),
        None => (line, None),
    };
    match verb {
        "set" => {
            let Some((key, value)) = rest
                .and_then(|rest| rest.split_once(' '))
                .filter(|(key, _)| !key.is_empty())
            else {
                return "unknown command".into();
            };
            if ctx.set_secret(key.as_bytes(), value.as_bytes()) {
                format!("set {key}")
            } else {
                format!("set {key} failed")
            }
        }
        "get" => match key_arg(rest) {
            Some(key) => match ctx.get_secret(key.as_bytes()) {
                Some(value) => format!("{key}={}", String::from_utf8_lossy(&value)),
                None => format!("{key} missing"),
            },
            None => "unknown command".into(),
        },
        "len" => match key_arg(rest) {
            Some(key) => match ctx.get_secret_len(key.as_bytes()) {
                Some(len) => format!("len {key}={len}"),
                None => format!("len {key} missing"),
            },
            None => "unknown command".into(),
        },
        "has" => match key_arg(rest) {
            Some(key) if ctx.has_secret(key.as_bytes()) => format!("has {key} yes"),
            Some(key) => format!("has {key} no"),
            None => "unknown command".into(),
        },
        "remove" => match key_arg(rest) {
            Some(key) if ctx.remove_secret(key.as_bytes()) => format!("removed {key}"),
            Some(key) => format!("remove {key} failed"),
            None => "unknown command".into(),
        },
        "list" => {
            let mut keys = ctx.list_secrets(rest.unwrap_or("").as_bytes());
            keys.sort();
            let keys: Vec<_> = keys.iter().map(|k| String::from_utf8_lossy(k)).collect();
            format!("keys: {}", keys.join(","))
        }
        "state" => {
            let hex = rest.unwrap_or("");
            let Some(id) = parse_id(hex) else {
                return "state: bad id".into();
            };
            match ctx.get_contract_state(&id) {
                Some(state) => format!("state {hex}={}", to_hex(&state)),
                None => format!("state {hex} missing"),
            }
        }
        "create" => {
            let params = rest.unwrap_or("").as_bytes();
            match ctx.create_delegate(CHILD_WASM, params, &CHILD_CIPHER, &CHILD_NONCE) {
                Ok((key, hash)) => format!("created key={} hash={}", to_hex(&key), to_hex(&hash)),
                Err(code) => format!("create failed {code}"),
            }
        }
        _ => "unknown command".into(),
    }
}

/// The command counter an 8-byte (or empty) context holds.
fn counter_of(context: &[u8]) -> Result<u64, DelegateError> {
    match context.len() {
        0 => Ok(0),
        8 => Ok(u64::from_le_bytes(context.try_into().expect("8 bytes"))),
        n => Err(DelegateError::Deser(format!(
            "vault: the context must be empty or 8 bytes, got {n}"
        ))),
    }
}

#[delegate]
impl DelegateInterface for Vault {
    fn process(
        ctx: &mut DelegateCtx,
        _parameters: Parameters<'static>,
        _origin: Option<MessageOrigin>,
        message: InboundDelegateMsg,
    ) -> Result<Vec<OutboundDelegateMsg>, DelegateError> {
        let InboundDelegateMsg::ApplicationMessage(message) = message else {
            return Err(DelegateError::Other(
                "vault: unsupported inbound message".into(),
            ));
        };
        let payload = std::str::from_utf8(&message.payload)
            .map_err(|e| DelegateError::Deser(format!("vault: the payload is not UTF-8: {e}")))?;
        let counter = counter_of(&ctx.read())?;
        let commands: Vec<&str> = payload.lines().filter(|line| !line.is_empty()).collect();
        freenet_stdlib::log::info(&format!("vault: {} commands", commands.len()));

        let mut outbound = Vec::with_capacity(commands.len() + 1);
        for line in &commands {
            let reply = run(ctx, line);
            outbound.push(OutboundDelegateMsg::ApplicationMessage(
                ApplicationMessage::new(reply.into_bytes()).processed(true),
            ));
        }

        let counter = counter.wrapping_add(commands.len() as u64).to_le_bytes();
        if !ctx.write(&counter) {
            return Err(DelegateError::Other("vault: context write failed".into()));
        }
        outbound.push(OutboundDelegateMsg::ContextUpdated(DelegateContext::new(
            counter.to_vec(),
        )));
        Ok(outbound)
    }
}
