//! Secrets kept on disk in a redb database (feature `redb`), so that what
//! one run of a host stores, the next run reads back.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, TableDefinition, TableError};

use super::StoreError;
use super::secrets::SecretStore;
use crate::key::DelegateKey;

/// One table; each row's key is the delegate's key, its code hash, then the
/// secret's key, so a delegate's secrets (and a prefix of them) are one
/// contiguous range.
const SECRETS: TableDefinition<'static, &[u8], &[u8]> = TableDefinition::new("refill_secrets");

/// The length of the delegate part of a row key.
const SCOPE_LEN: usize = 64;

/// Secrets in a redb database file. Values are stored as the delegate gave
/// them (not encrypted): protect the file as the secrets deserve.
#[derive(Clone, Debug)]
pub struct RedbSecrets {
    db: Arc<Database>,
}

impl RedbSecrets {
    /// Opens the database at `path`, creating it if it does not exist.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let db = Database::create(path).map_err(|e| {
            StoreError::new(format!(
                "cannot open the secret store {}: {e}",
                path.display()
            ))
        })?;
        Ok(Self { db: Arc::new(db) })
    }

    fn row(delegate: &DelegateKey, key: &[u8]) -> Vec<u8> {
        let mut row = delegate.to_bytes().to_vec();
        row.extend_from_slice(key);
        row
    }

    /// The keys (rows) in the range of `delegate` and `prefix`, at most `limit`.
    fn scan(
        &self,
        delegate: &DelegateKey,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        let start = Self::row(delegate, prefix);
        let txn = self.db.begin_read().map_err(failed)?;
        let table = match txn.open_table(SECRETS) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
            Err(e) => return Err(failed(e)),
        };
        let mut keys = Vec::new();
        for entry in table.range(start.as_slice()..).map_err(failed)? {
            let (row, _) = entry.map_err(failed)?;
            let row = row.value();
            if !row.starts_with(&start) || keys.len() == limit {
                break;
            }
            keys.push(row[SCOPE_LEN..].to_vec());
        }
        Ok(keys)
    }
}

fn failed(error: impl std::fmt::Display) -> StoreError {
    StoreError::new(format!("secret store: {error}"))
}

impl SecretStore for RedbSecrets {
    fn get(&self, delegate: &DelegateKey, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(failed)?;
        let table = match txn.open_table(SECRETS) {
            Ok(table) => table,
            Err(TableError::TableDoesNotExist(_)) => return Ok(None),
            Err(e) => return Err(failed(e)),
        };
        let value = table
            .get(Self::row(delegate, key).as_slice())
            .map_err(failed)?;
        Ok(value.map(|v| v.value().to_vec()))
    }

    fn set(&self, delegate: &DelegateKey, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(failed)?;
        {
            let mut table = txn.open_table(SECRETS).map_err(failed)?;
            table
                .insert(Self::row(delegate, key).as_slice(), value)
                .map_err(failed)?;
        }
        txn.commit().map_err(failed)
    }

    fn remove(&self, delegate: &DelegateKey, key: &[u8]) -> Result<bool, StoreError> {
        let txn = self.db.begin_write().map_err(failed)?;
        let removed = {
            let mut table = txn.open_table(SECRETS).map_err(failed)?;
            table
                .remove(Self::row(delegate, key).as_slice())
                .map_err(failed)?
                .is_some()
        };
        txn.commit().map_err(failed)?;
        Ok(removed)
    }

    fn list(
        &self,
        delegate: &DelegateKey,
        prefix: &[u8],
        limit: usize,
    ) -> Result<Vec<Vec<u8>>, StoreError> {
        self.scan(delegate, prefix, limit)
    }

    fn count(&self, delegate: &DelegateKey) -> Result<usize, StoreError> {
        self.scan(delegate, b"", usize::MAX).map(|keys| keys.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::CodeHash;

    #[test]
    fn secrets_survive_reopening_and_stay_scoped() {
        let dir = std::env::temp_dir().join(format!("refill-redb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("secrets.redb");
        let _ = std::fs::remove_file(&path);
        let a = DelegateKey::new(CodeHash::of(b"a"), b"p");
        let b = DelegateKey::new(CodeHash::of(b"b"), b"p");
        {
            let store = RedbSecrets::open(&path).unwrap();
            assert_eq!(store.get(&a, b"k").unwrap(), None);
            assert!(store.list(&a, b"", 10).unwrap().is_empty());
            store.set(&a, b"k:2", b"two").unwrap();
            store.set(&a, b"k:1", b"one").unwrap();
            store.set(&b, b"k:1", b"other").unwrap();
        }
        let store = RedbSecrets::open(&path).unwrap();
        assert_eq!(store.get(&a, b"k:1").unwrap().as_deref(), Some(&b"one"[..]));
        assert_eq!(
            store.list(&a, b"k:", 10).unwrap(),
            [b"k:1".to_vec(), b"k:2".to_vec()]
        );
        assert_eq!(store.list(&a, b"k:", 1).unwrap().len(), 1);
        assert_eq!(store.count(&a).unwrap(), 2);
        assert!(store.remove(&a, b"k:1").unwrap());
        assert!(!store.remove(&a, b"k:1").unwrap());
        assert_eq!(
            store.get(&b, b"k:1").unwrap().as_deref(),
            Some(&b"other"[..])
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
