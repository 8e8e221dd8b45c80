//! A freenet contract on a refill instance: arguments in, result record out.

use refill_core::abi::IMPORT_MODULE;
#[cfg(feature = "async")]
use refill_core::{AsyncInstance, AsyncStream};
use refill_core::{BoxedSource, Instance, InstanceConfig, LinkedModule, Module, StreamOptions};

use crate::entry::Entry;
use crate::error::{Error, ErrorKind, Result};
use crate::host::FreenetHost;
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

/// A contract module linked once against a freenet host's imports, ready to
/// be instantiated any number of times with no further linking.
#[derive(Clone, Debug)]
pub struct ContractModule<L> {
    linked: L,
    protocol: Protocol,
}

impl<L: LinkedModule> ContractModule<L> {
    /// Links `module` against `host`'s imports. The protocol comes from the
    /// module's imports ([`Protocol::detect`]); a contract that predates
    /// the streaming ABI is served one-shot or, under
    /// [`LegacyPolicy::Refuse`], refused with [`ErrorKind::LegacyContract`].
    /// A module importing anything `host` does not serve fails here, with
    /// every missing import named.
    pub fn new<M>(module: &M, host: &FreenetHost, legacy: LegacyPolicy) -> Result<Self>
    where
        M: Module<Linked = L>,
    {
        let protocol = Protocol::detect(module.imports().iter().map(|i| (&*i.module, &*i.name)));
        if protocol == Protocol::OneShot && legacy == LegacyPolicy::Refuse {
            return Err(Error::new(
                ErrorKind::LegacyContract,
                format!(
                    "the module imports nothing from `{IMPORT_MODULE}`: a contract built before the streaming ABI, which wants each argument whole in guest memory; this host refuses those"
                ),
            ));
        }
        let linked = module.link(&host.host_functions())?;
        Ok(Self { linked, protocol })
    }

    /// How its contracts get their arguments.
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// A new instance of the contract set up by `config` (which calls
    /// `__frnt_set_id` with the instance's id).
    pub fn instantiate(&self, config: &InstanceConfig) -> Result<Contract<L::Instance>> {
        Ok(Contract::from_instance(
            self.linked.instantiate(config)?,
            self.protocol,
        ))
    }
}

impl<I: Instance> Contract<I> {
    /// Links `module` against the default [`FreenetHost`] and instantiates
    /// it: for one instance. For many, link once with
    /// [`ContractModule::new`].
    pub fn instantiate<M>(module: &M, config: &InstanceConfig, legacy: LegacyPolicy) -> Result<Self>
    where
        M: Module,
        M::Linked: LinkedModule<Instance = I>,
    {
        ContractModule::new(module, &FreenetHost::new(), legacy)?.instantiate(config)
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
        let names = check_arguments(entry, args.len())?;
        let mut addrs = Vec::with_capacity(args.len());
        for (source, name) in args.into_iter().zip(names) {
            let options = match self.protocol {
                Protocol::Streaming => StreamOptions::new(),
                Protocol::OneShot => StreamOptions::whole(),
            };
            match self.instance.open_stream(source, options) {
                Ok(addr) => addrs.push(addr),
                Err(e) => {
                    self.instance.close_streams();
                    return Err(Error::from(e)
                        .context(format_args!("{}, argument `{name}`", entry.export())));
                }
            }
        }
        let record_addr = self
            .instance
            .call(entry.export(), &addrs)
            .map_err(|e| Error::from(e).context(entry.export()))?;
        self.read_result(entry, record_addr)
    }

    /// [`Contract::call`] as a future, with async arguments (feature
    /// `async`): each argument an [`AsyncStream`] (a state read from the
    /// network, say, beside parameters in memory), and the guest waiting
    /// for each chunk without blocking the executor's thread. The module
    /// must be linked for async calls ([`FreenetHost::with_async_calls`]).
    /// A contract built before the streaming ABI wants each argument whole
    /// and takes sync calls only.
    #[cfg(feature = "async")]
    pub async fn call_async(
        &mut self,
        entry: Entry,
        args: Vec<AsyncStream>,
    ) -> Result<ContractResult>
    where
        I: AsyncInstance,
    {
        check_arguments(entry, args.len())?;
        if self.protocol == Protocol::OneShot {
            return Err(Error::new(
                ErrorKind::Refill(refill_core::ErrorKind::Unsupported),
                format!(
                    "{}: a contract built before the streaming ABI takes its arguments whole, \
                     in sync calls only",
                    entry.export()
                ),
            ));
        }
        let record_addr = self
            .instance
            .call_with_streams_async(entry.export(), args)
            .await
            .map_err(|e| Error::from(e).context(entry.export()))?;
        self.read_result(entry, record_addr)
    }

    /// Reads and checks the record at `addr` and its payload.
    fn read_result(&self, entry: Entry, addr: i64) -> Result<ContractResult> {
        let export = entry.export();
        let record = read_record(&self.instance, addr)
            .map_err(|e| e.context(format_args!("{export}'s result record")))?;
        let record = ResultRecord::decode(&record, addr).map_err(|e| e.context(export))?;
        let payload = self
            .instance
            .read_memory(record.ptr, u64::from(record.size))
            .map_err(|e| Error::from(e).context(format_args!("{export}'s result payload")))?;
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

/// Reads the 16-byte record a guest returned the address of, checked
/// against its memory ([`refill_core::ErrorKind::ResultOutOfBounds`]).
pub(crate) fn read_record(
    instance: &(impl Instance + ?Sized),
    addr: i64,
) -> Result<[u8; RECORD_LEN as usize]> {
    let bytes = instance.read_memory(addr, RECORD_LEN)?;
    <[u8; RECORD_LEN as usize]>::try_from(bytes.as_slice()).map_err(|_| {
        Error::new(
            ErrorKind::Refill(refill_core::ErrorKind::Engine),
            format!("the engine read {} bytes of a 16-byte record", bytes.len()),
        )
    })
}

/// Checks that `entry` takes `given` arguments; their names.
fn check_arguments(entry: Entry, given: usize) -> Result<&'static [&'static str]> {
    let names = entry.arguments();
    if given != names.len() {
        return Err(Error::new(
            ErrorKind::Refill(refill_core::ErrorKind::SignatureMismatch),
            format!(
                "{} takes {} arguments ({}), got {given}",
                entry.export(),
                names.len(),
                names.join(", "),
            ),
        ));
    }
    Ok(names)
}
