//! How a contract expects its arguments: streamed (freenet-stdlib 0.3.4 and
//! later) or whole, in one buffer each (contracts built before).

use core::fmt;

use refill_core::abi::IMPORT_MODULE;

/// How the host passes a contract its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// The streaming refill ABI: a 64 KiB-class buffer with a
    /// `[total_len: u32 LE]` header, refilled on `__frnt__fill_buffer`.
    Streaming,
    /// The one-shot protocol of contracts built before the streaming ABI:
    /// one buffer per argument, as large as the argument, holding all of it
    /// with no header (`last_write` = its length).
    OneShot,
}

impl Protocol {
    /// The protocol a module expects, from its imports: a contract that
    /// imports anything from `freenet_contract_io` streams; one that imports
    /// nothing from it predates the streaming ABI. (freenet's own host
    /// decides the same way.)
    pub fn detect<S: AsRef<str>>(imports: impl IntoIterator<Item = (S, S)>) -> Self {
        if imports
            .into_iter()
            .any(|(module, _)| module.as_ref() == IMPORT_MODULE)
        {
            Self::Streaming
        } else {
            Self::OneShot
        }
    }

    /// `streaming` or `one-shot`.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Streaming => "streaming",
            Self::OneShot => "one-shot",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What to do with a contract built before the streaming ABI.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum LegacyPolicy {
    /// Serve it with the one-shot protocol, as freenet's host does. Its
    /// memory then grows with its arguments (bounded by the instance's
    /// memory limit and `max_payload_bytes`).
    #[default]
    Serve,
    /// Refuse it with [`crate::ErrorKind::LegacyContract`], for hosts
    /// that want guest memory bounded by the chunk size.
    Refuse,
}

#[cfg(test)]
mod tests {
    use super::*;
    use refill_core::abi::FILL_BUFFER;

    #[test]
    fn any_import_from_the_io_module_means_streaming() {
        let streaming = [("env", "x"), (IMPORT_MODULE, FILL_BUFFER)];
        assert_eq!(Protocol::detect(streaming), Protocol::Streaming);
        assert_eq!(
            Protocol::detect([(IMPORT_MODULE, "__frnt__something_else")]),
            Protocol::Streaming
        );
        assert_eq!(Protocol::detect([("env", "x")]), Protocol::OneShot);
        assert_eq!(Protocol::detect::<&str>([]), Protocol::OneShot);
    }
}
