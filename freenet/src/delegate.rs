//! A freenet delegate on a refill instance: `process(parameters, origin,
//! inbound) -> i64`, its arguments placed whole, its result record read back
//! and checked, its context kept per instance.
//!
//! ```text
//! process(parameters: i64, origin: i64, inbound: i64) -> i64
//!   each argument: the address of a buffer descriptor holding the whole value
//!   (capacity = length, no header, no refills)
//! the result: the address of DelegateInterfaceResult (16 bytes, repr C)
//!   offset 0  ptr:  i64 LE   guest address of the serialized result
//!   offset 8  size: u32 LE   its length
//!   offset 12 (padding)
//! ```

use refill_core::{
    BytesSource, Instance, InstanceConfig, InstanceExt, LinkedModule, Module, StateSlot,
    StreamOptions,
};

use crate::contract::read_record;
use crate::error::{Error, ErrorKind, Result};
use crate::host::{FreenetHost, InstanceEnv};
use crate::key::{CodeHash, DelegateKey};
use crate::message::{Origin, OutboundMessage, decode_outcome, encode_application_message};

/// The delegate's entry point.
pub const PROCESS: &str = "process";

/// A delegate module linked once against a freenet host's imports.
#[derive(Clone, Debug)]
pub struct DelegateModule<L> {
    linked: L,
    code_hash: CodeHash,
    env: StateSlot<InstanceEnv>,
}

impl<L: LinkedModule> DelegateModule<L> {
    /// Links `module`, compiled from `wasm` (whose hash, with the
    /// parameters of each call, makes the delegate's key), against `host`'s
    /// imports. A module importing anything `host` does not serve fails
    /// here, with every missing import named.
    pub fn new<M>(module: &M, wasm: &[u8], host: &FreenetHost) -> Result<Self>
    where
        M: Module<Linked = L>,
    {
        let imports = host.imports();
        Ok(Self {
            linked: module.link(&imports.functions)?,
            code_hash: CodeHash::of(wasm),
            env: imports.env,
        })
    }

    /// The hash of the delegate's code.
    pub fn code_hash(&self) -> CodeHash {
        self.code_hash
    }

    /// A new instance of the delegate set up by `config`, with an empty
    /// context.
    pub fn instantiate(&self, config: &InstanceConfig) -> Result<Delegate<L::Instance>> {
        Ok(Delegate {
            instance: self.linked.instantiate(config)?,
            code_hash: self.code_hash,
            env: self.env,
        })
    }
}

/// What one `process` call returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelegateOutcome {
    /// The serialized `Result<Vec<OutboundDelegateMsg>, DelegateError>`
    /// exactly as the delegate wrote it.
    pub payload: Vec<u8>,
    /// The outbound messages, decoded (empty for a delegate error).
    pub messages: Vec<OutboundMessage>,
    /// The delegate's own error, as freenet-stdlib displays it.
    pub delegate_error: Option<String>,
    /// The instance's context after the call: as the delegate wrote it
    /// through `ctx_write`, then replaced by each `ContextUpdated` message.
    pub context: Vec<u8>,
}

impl DelegateOutcome {
    /// The outcome itself, or its delegate error as an
    /// [`ErrorKind::DelegateError`].
    pub fn into_ok(self) -> Result<Self> {
        match &self.delegate_error {
            None => Ok(self),
            Some(message) => Err(Error::new(
                ErrorKind::DelegateError,
                format!("{PROCESS} returned the delegate error: {message}"),
            )),
        }
    }
}

/// A freenet delegate instantiated on any refill engine.
#[derive(Debug)]
pub struct Delegate<I> {
    instance: I,
    code_hash: CodeHash,
    env: StateSlot<InstanceEnv>,
}

impl<I: Instance> Delegate<I> {
    /// The key of this delegate with `params`.
    pub fn key(&self, params: &[u8]) -> DelegateKey {
        DelegateKey::new(self.code_hash, params)
    }

    /// The instance, for its statistics and memory size.
    pub fn instance(&self) -> &I {
        &self.instance
    }

    /// The instance's context.
    pub fn context(&mut self) -> Result<Vec<u8>> {
        Ok(self
            .instance
            .with_state(self.env, |env| env.context.clone())?)
    }

    /// Replaces the instance's context (freenet-core seeds it from its
    /// cache of each delegate's context before a batch).
    pub fn set_context(&mut self, context: Vec<u8>) -> Result<()> {
        Ok(self
            .instance
            .with_state(self.env, |env| env.context = context)?)
    }

    /// Delivers one `ApplicationMessage` with `payload` (and the instance's
    /// context, as freenet-core attaches it) to `process`.
    pub fn application_message(
        &mut self,
        params: &[u8],
        origin: Option<&Origin>,
        payload: &[u8],
    ) -> Result<DelegateOutcome> {
        let context = self.context()?;
        let inbound = encode_application_message(payload, &context, false);
        self.process(params, &Origin::encode(origin), &inbound)
    }

    /// Calls `process` with the three arguments as they are: the raw
    /// parameters, the serialized `Option<MessageOrigin>` (empty for none)
    /// and the serialized `InboundDelegateMsg`. The delegate imports answer
    /// for this delegate's key only while the call runs.
    pub fn process(
        &mut self,
        params: &[u8],
        origin: &[u8],
        inbound: &[u8],
    ) -> Result<DelegateOutcome> {
        let key = self.key(params);
        self.instance
            .with_state(self.env, |env| env.begin_call(key))?;
        let record = self.run(params, origin, inbound);
        // Whatever happened, the imports stop answering for this call.
        self.instance.with_state(self.env, |env| env.end_call())?;
        let payload = self.read_payload(record?)?;
        let (messages, delegate_error) = match decode_outcome(&payload)? {
            Ok(messages) => (messages, None),
            Err(message) => (Vec::new(), Some(message)),
        };
        let updates: Vec<Vec<u8>> = messages
            .iter()
            .filter_map(|m| match m {
                OutboundMessage::ContextUpdated(context) => Some(context.clone()),
                _ => None,
            })
            .collect();
        let context = self.instance.with_state(self.env, |env| {
            if let Some(last) = updates.into_iter().last() {
                env.context = last;
            }
            env.context.clone()
        })?;
        Ok(DelegateOutcome {
            payload,
            messages,
            delegate_error,
            context,
        })
    }

    /// Places the arguments and calls `process`: the address of its result
    /// record.
    fn run(&mut self, params: &[u8], origin: &[u8], inbound: &[u8]) -> Result<i64> {
        let mut addrs = Vec::with_capacity(3);
        for (name, bytes) in [
            ("parameters", params),
            ("origin", origin),
            ("inbound", inbound),
        ] {
            let source = Box::new(BytesSource::new(bytes.to_vec()));
            match self.instance.open_stream(source, StreamOptions::whole()) {
                Ok(addr) => addrs.push(addr),
                Err(e) => {
                    self.instance.close_streams();
                    return Err(
                        Error::from(e).context(format_args!("{PROCESS}, argument `{name}`"))
                    );
                }
            }
        }
        self.instance
            .call(PROCESS, &addrs)
            .map_err(|e| Error::from(e).context(PROCESS))
    }

    /// Reads and checks the result record at `addr` and its payload.
    fn read_payload(&self, addr: i64) -> Result<Vec<u8>> {
        let record = read_record(&self.instance, addr)
            .map_err(|e| e.context(format_args!("{PROCESS}'s result record")))?;
        let ptr = i64::from_le_bytes(record[..8].try_into().expect("8 bytes"));
        let size = u32::from_le_bytes(record[8..12].try_into().expect("4 bytes"));
        self.instance
            .read_memory(ptr, u64::from(size))
            .map_err(|e| Error::from(e).context(format_args!("{PROCESS}'s result payload")))
    }
}
