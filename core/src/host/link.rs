//! Linking a module's imports against host functions, once per module.

use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use super::HostFunctions;
use super::data::HostData;
use super::func::HostFunc;
use crate::config::InstanceConfig;
use crate::error::{Error, ErrorKind, Result};
use crate::value::FuncType;

/// What a module imports under one name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImportType {
    /// A function of numeric types, which a host function can serve.
    Func(FuncType),
    /// Anything else (a memory, a table, a global, a function over other
    /// types), described for messages; no host function serves it.
    Other(String),
}

impl fmt::Display for ImportType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Func(ty) => ty.fmt(f),
            Self::Other(what) => f.write_str(what),
        }
    }
}

/// One import of a module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    /// The import module (`freenet_contract_io`, `env`, ...).
    pub module: String,
    /// The name within the module.
    pub name: String,
    /// What is imported.
    pub ty: ImportType,
}

impl fmt::Display for Import {
    /// `module.name: type`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}: {}", self.module, self.name, self.ty)
    }
}

/// A module's imports resolved against a set of host functions: the host
/// function for each import, in the module's import order, and the host
/// functions' state initialisers. Built once per module by
/// [`HostFunctions::link`]; every instantiation then binds
/// [`Linkage::funcs`] by position, with no lookups by name.
#[derive(Clone, Debug)]
pub struct Linkage {
    funcs: Arc<[HostFunc]>,
    host: Arc<HostFunctions>,
}

impl Linkage {
    /// Resolves `imports` against `host`. Every import must be a function
    /// that `host` serves with exactly that type; otherwise the error, of
    /// kind [`ErrorKind::MissingImport`], names every one that is not, with
    /// its signature, on one line.
    pub fn resolve(imports: &[Import], host: &HostFunctions) -> Result<Self> {
        let mut funcs = Vec::with_capacity(imports.len());
        let mut missing = Vec::new();
        for import in imports {
            let served = host.get(&import.module, &import.name);
            match (&import.ty, served) {
                (ImportType::Func(ty), Some(func)) if func.ty() == ty => funcs.push(func.clone()),
                (ImportType::Func(_), Some(func)) => {
                    missing.push(format!("`{import}` (the host's has type {})", func.ty()));
                }
                _ => missing.push(format!("`{import}`")),
            }
        }
        if !missing.is_empty() {
            let what = if missing.len() == 1 {
                "an import"
            } else {
                "imports"
            };
            return Err(Error::new(
                ErrorKind::MissingImport,
                format!(
                    "the module needs {what} the host does not provide: {}",
                    missing.join(", ")
                ),
            ));
        }
        Ok(Self {
            funcs: funcs.into(),
            host: Arc::new(host.clone()),
        })
    }

    /// The host function of each import, in the module's import order.
    pub fn funcs(&self) -> &[HostFunc] {
        &self.funcs
    }

    /// The host data of a new instance: its streams and fresh states.
    pub fn new_host_data(&self, config: &InstanceConfig) -> Result<HostData> {
        HostData::new(config, &self.host)
    }

    /// The host functions linked against.
    pub fn host(&self) -> &HostFunctions {
        &self.host
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::{FILL_BUFFER, IMPORT_MODULE};
    use crate::value::ValType::{I32, I64};
    use alloc::string::ToString;

    fn func(
        module: &str,
        name: &str,
        params: &[crate::ValType],
        results: &[crate::ValType],
    ) -> Import {
        Import {
            module: module.into(),
            name: name.into(),
            ty: ImportType::Func(FuncType::new(
                params.iter().copied(),
                results.iter().copied(),
            )),
        }
    }

    #[test]
    fn imports_resolve_in_order_and_every_missing_one_is_named() {
        let host = HostFunctions::new();
        let fill = func(IMPORT_MODULE, FILL_BUFFER, &[I64, I64], &[I32]);
        let linkage = Linkage::resolve(&[fill.clone(), fill.clone()], &host).unwrap();
        assert_eq!(linkage.funcs().len(), 2);
        assert_eq!(linkage.funcs()[1].name(), FILL_BUFFER);

        let imports = [
            fill,
            func("env", "add", &[I32, I32], &[I32]),
            func(IMPORT_MODULE, FILL_BUFFER, &[I32], &[]),
            Import {
                module: "env".into(),
                name: "table".into(),
                ty: ImportType::Other("table".into()),
            },
        ];
        let e = Linkage::resolve(&imports, &host).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::MissingImport);
        let message = e.to_string();
        assert!(!message.contains('\n'), "{message}");
        for expected in [
            "`env.add: (i32, i32) -> i32`",
            "`freenet_contract_io.__frnt__fill_buffer: (i32) -> ()` (the host's has type (i64, i64) -> i32)",
            "`env.table: table`",
        ] {
            assert!(message.contains(expected), "{message} lacks {expected}");
        }
    }
}
