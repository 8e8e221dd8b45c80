#![doc = include_str!("../README.md")]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod contract;
mod entry;
mod protocol;
mod record;
pub mod value;

pub use contract::{Contract, ContractResult};
pub use entry::Entry;
pub use protocol::{LegacyPolicy, Protocol};
pub use record::{RECORD_LEN, ResultKind, ResultRecord};
pub use value::{Validity, Value};
