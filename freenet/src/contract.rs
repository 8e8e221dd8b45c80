//! A freenet contract on a refill instance: arguments in, result record out.

use refill_core::abi::IMPORT_MODULE;
use refill_core::{BoxedSource, Error, ErrorKind, Instance, InstanceConfig, Module, Result};

use crate::entry::Entry;
use crate::protocol::{LegacyPolicy, Protocol};
use crate::record::{RECORD_LEN, ResultKind, ResultRecord};
use crate::value::{self, Value};

/// A freenet contract instantiated on any refill engine.
///
/// Each call streams the entry point's arguments (or, for a contract built
/// before the streaming ABI, places each one whole), calls the export, and
/// reads back the result record and its payload, every address and length
/// checked against the live guest memory first.
#[derive(Debug)]
pub struct Contract<I> {
    instance: I,
    protocol: Protocol,
}

/// What an entry point returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractResult {
    /// The entry point called.
    pub entry: Entry,
    /// The kind the result record declared.
    pub kind: ResultKind,
    /// The serialized `Result<T, ContractError>` exactly as the contract
    /// wrote it (bincode 1): what freenet's host deserializes.
    pub payload: Vec<u8>,
    /// The contract's own error, as freenet-stdlib displays it, when the
    /// payload is an `Err`.
    pub contract_error: Option<String>,
}

impl ContractResult {
    /// The successful value, decoded; `None` for a contract error.
    pub fn value(&self) -> Option<Value<'_>> {
        value::decode(self.kind, &self.payload).ok()?.ok()
    }

    /// The result itself, or its contract error as an
    /// [`ErrorKind::ContractError`].
    pub fn into_ok(self) -> Result<Self> {
        match &self.contract_error {
            None => Ok(self),
            Some(message) => Err(Error::new(
                ErrorKind::ContractError,
                format!(
                    "{} returned the contract error: {message}",
                    self.entry.export()
                ),
            )),
        }
    }
}

impl<I: Instance> Contract<I> {
    /// Instantiates `module` as a freenet contract with `config` (which
    /// calls `__frnt_set_id` with the instance's id). The protocol comes from
    /// the module's imports ([`Protocol::detect`]); a contract that predates
    /// the streaming ABI is served one-shot or, under
    /// [`LegacyPolicy::Refuse`], refused with [`ErrorKind::LegacyContract`].
    pub fn instantiate<M>(module: &M, config: &InstanceConfig, legacy: LegacyPolicy) -> Result<Self>
    where
        M: Module<Instance = I>,
    {
        let protocol = Protocol::detect(module.imports());
        if protocol == Protocol::OneShot && legacy == LegacyPolicy::Refuse {
            return Err(Error::new(
                ErrorKind::LegacyContract,
                format!(
                    "the module imports nothing from `{IMPORT_MODULE}`: a contract built before the streaming ABI, which wants each argument whole in guest memory; this host refuses those"
                ),
            ));
        }
        Ok(Self::from_instance(module.instantiate(config)?, protocol))
    }

    /// A contract over an instance made elsewhere, with the protocol it
    /// expects.
    pub fn from_instance(instance: I, protocol: Protocol) -> Self {
        Self { instance, protocol }
    }

    /// How this contract gets its arguments.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The instance, for its statistics and memory size.
    pub fn instance(&self) -> &I {
        &self.instance
    }

    /// The instance, given back.
    pub fn into_instance(self) -> I {
        self.instance
    }

    /// `validate_state(parameters, state, related)`; `related` is the
    /// serialized `RelatedContracts` (8 zero bytes when there are none).
    pub fn validate_state(
        &mut self,
        parameters: BoxedSource,
        state: BoxedSource,
        related: BoxedSource,
    ) -> Result<ContractResult> {
        self.call(Entry::Validate, vec![parameters, state, related])
    }

    /// `update_state(parameters, state, updates)`; `updates` is the
    /// serialized `Vec<UpdateData>`.
    pub fn update_state(
        &mut self,
        parameters: BoxedSource,
        state: BoxedSource,
        updates: BoxedSource,
    ) -> Result<ContractResult> {
        self.call(Entry::Update, vec![parameters, state, updates])
    }

    /// `summarize_state(parameters, state)`.
    pub fn summarize_state(
        &mut self,
        parameters: BoxedSource,
        state: BoxedSource,
    ) -> Result<ContractResult> {
        self.call(Entry::Summarize, vec![parameters, state])
    }

    /// `get_state_delta(parameters, state, summary)`.
    pub fn get_state_delta(
        &mut self,
        parameters: BoxedSource,
        state: BoxedSource,
        summary: BoxedSource,
    ) -> Result<ContractResult> {
        self.call(Entry::Delta, vec![parameters, state, summary])
    }

    /// Calls `entry` with one source per argument, in the order of
    /// [`Entry::arguments`], and reads its result. A contract error is a
    /// result ([`ContractResult::contract_error`]); a trap, a refusal of the
    /// refill checks or a malformed result record is an error.
    pub fn call(&mut self, entry: Entry, args: Vec<BoxedSource>) -> Result<ContractResult> {
        let names = entry.arguments();
        if args.len() != names.len() {
            return Err(Error::new(
                ErrorKind::SignatureMismatch,
                format!(
                    "{} takes {} arguments ({}), got {}",
                    entry.export(),
                    names.len(),
                    names.join(", "),
                    args.len()
                ),
            ));
        }
        let mut addrs = Vec::with_capacity(args.len());
        for (source, name) in args.into_iter().zip(names) {
            let placed = match self.protocol {
                Protocol::Streaming => self.instance.open_stream(source),
                Protocol::OneShot => self.instance.place_whole(source),
            };
            match placed {
                Ok(addr) => addrs.push(addr),
                Err(e) => {
                    self.instance.close_streams();
                    return Err(e.context(format_args!("{}, argument `{name}`", entry.export())));
                }
            }
        }
        let record_addr = self
            .instance
            .call(entry.export(), &addrs)
            .map_err(|e| e.context(entry.export()))?;
        self.read_result(entry, record_addr)
    }

    /// Reads and checks the record at `addr` and its payload.
    fn read_result(&self, entry: Entry, addr: i64) -> Result<ContractResult> {
        let export = entry.export();
        let record = self
            .instance
            .read_memory(addr, RECORD_LEN)
            .map_err(|e| e.context(format_args!("{export}'s result record")))?;
        let record = <[u8; RECORD_LEN as usize]>::try_from(record.as_slice())
            .map_err(|_| {
                Error::new(
                    ErrorKind::Engine,
                    format!("the engine read {} bytes of a 16-byte record", record.len()),
                )
            })
            .and_then(|bytes| ResultRecord::decode(&bytes, addr))
            .map_err(|e| e.context(export))?;
        let payload = self
            .instance
            .read_memory(record.ptr, u64::from(record.size))
            .map_err(|e| e.context(format_args!("{export}'s result payload")))?;
        // freenet-stdlib reports some errors under another kind than the
        // entry point's (a bad `related` argument of `validate_state` comes
        // back as `validate_delta`), so an `Err` payload is the contract's
        // error whatever its kind; an `Ok` payload must be of the right kind.
        let contract_error = match value::decode(record.kind, &payload) {
            Ok(Err(message)) => Some(message),
            _ if record.kind != entry.result_kind() => {
                return Err(Error::new(
                    ErrorKind::InvalidResult,
                    format!(
                        "{export} returned a result record of kind {} ({}), expected {} ({})",
                        record.kind,
                        record.kind.code(),
                        entry.result_kind(),
                        entry.result_kind().code()
                    ),
                ));
            }
            Ok(Ok(_)) => None,
            Err(e) => return Err(e.context(export)),
        };
        Ok(ContractResult {
            entry,
            kind: record.kind,
            payload,
            contract_error,
        })
    }
}
