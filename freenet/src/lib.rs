#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod contract;
mod delegate;
mod entry;
mod error;
pub mod host;
pub mod key;
pub mod message;
mod protocol;
mod record;
pub mod value;
mod wire;

pub use contract::{Contract, ContractModule, ContractResult};
pub use delegate::{Delegate, DelegateModule, DelegateOutcome, PROCESS};
pub use entry::Entry;
pub use error::{Error, ErrorKind, Result};
pub use host::{FreenetHost, FreenetImports, HostLimits};
pub use key::{CodeHash, DelegateKey};
pub use message::{Origin, OutboundMessage};
pub use protocol::{LegacyPolicy, Protocol};
pub use record::{RECORD_LEN, ResultKind, ResultRecord};
pub use value::{Validity, Value};
