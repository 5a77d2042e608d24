//! PostgreSQL: apply the bindings in one transaction and store the derived keys
//! as bound parameters (never in SQL text).

use std::path::Path;

use veil_core::{Key, Purpose, Scope};
use veil_host::target::postgres::{KeyScope, OWNER_ROLE};

use veil_cli::{Error, Result};

/// Read key `key_id` from a keyring file (`<id> = <64 hex digits>` per line, `#` comments).
///
/// # Errors
/// [`Error::Usage`] when the file cannot be read, a line is malformed (the message
/// names the line, never the key) or the id is missing.
pub fn read_key(path: &Path, key_id: &str) -> Result<Key> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::Usage(format!("cannot read keyring `{}`: {e}", path.display())))?;
    for (number, line) in text.lines().enumerate() {
        let line = line.split_once('#').map_or(line, |(before, _)| before).trim();
        if line.is_empty() {
            continue;
        }
        let Some((id, hex)) = line.split_once('=') else {
            return Err(Error::Usage(format!(
                "keyring `{}` line {}: expected `<key id> = <64 hex digits>`",
                path.display(),
                number + 1
            )));
        };
        if id.trim() == key_id {
            return Key::from_hex(hex.trim()).map_err(|e| {
                Error::Usage(format!("keyring `{}` line {}: key `{key_id}`: {e}", path.display(), number + 1))
            });
        }
    }
    Err(Error::Usage(format!("keyring `{}` has no key `{key_id}`", path.display())))
}

/// The derived key for one [`KeyScope`] (veil-core's HKDF, as every engine uses).
pub fn derive(master: &Key, scope: &KeyScope) -> [u8; 32] {
    let purpose = if scope.purpose == "sample" { Purpose::Sample } else { Purpose::Hash };
    let mut s = Scope::parse(&scope.scope);
    if let Some(reader) = &scope.reader {
        s = s.for_reader(reader.clone());
    }
    master.derive(purpose, &s)
}

/// Run `statements` against the database at `url` in one transaction, then replace
/// the keys stored under `key_id` with `keys` (as `veil_owner`, bound parameters).
/// Nothing changes when any statement fails.
///
/// # Errors
/// [`Error::Engine`] naming the statement that failed and PostgreSQL's message.
pub fn apply(url: &str, statements: &[String], key_id: &str, keys: &[(KeyScope, [u8; 32])]) -> Result<()> {
    let mut client = postgres::Client::connect(url, postgres::NoTls)
        .map_err(|e| Error::Engine(format!("cannot connect to PostgreSQL: {}", message(&e))))?;
    let mut tx = client.transaction().map_err(|e| Error::Engine(message(&e)))?;
    for sql in statements {
        tx.batch_execute(sql).map_err(|e| {
            let first = sql.lines().next().unwrap_or_default();
            Error::Engine(format!("PostgreSQL refused `{first}`…: {}", message(&e)))
        })?;
    }
    let owner = format!("SET ROLE \"{OWNER_ROLE}\"");
    tx.batch_execute(&owner).map_err(|e| Error::Engine(message(&e)))?;
    tx.execute("DELETE FROM veil.keys WHERE key_id = $1", &[&key_id]).map_err(|e| Error::Engine(message(&e)))?;
    let insert = tx
        .prepare("INSERT INTO veil.keys (key_id, purpose, scope, reader, key) VALUES ($1, $2, $3, $4, $5)")
        .map_err(|e| Error::Engine(message(&e)))?;
    for (scope, key) in keys {
        let reader = scope.reader.clone().unwrap_or_default();
        let key: &[u8] = key;
        tx.execute(&insert, &[&key_id, &scope.purpose, &scope.scope, &reader, &key])
            .map_err(|e| Error::Engine(format!("storing keys: {}", message(&e))))?;
    }
    tx.batch_execute("RESET ROLE").map_err(|e| Error::Engine(message(&e)))?;
    tx.commit().map_err(|e| Error::Engine(message(&e)))
}

/// PostgreSQL's own message when there is one (the client's is often "db error").
fn message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_string(),
        },
        None => e.to_string(),
    }
}
