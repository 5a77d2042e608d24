//! `veil keygen`: a new key in the keyring.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;
use veil_cli::{Error, Result};

use super::Format;

/// Add a new random key to the keyring (`<key id> = <64 hex digits>`), from
/// the operating system's random source.
///
/// The file is created readable by its owner only when it does not exist; an
/// id already in it is refused (replacing a key makes every token and
/// format-preserving value made with it unreadable). The key is never printed.
#[derive(clap::Args)]
pub struct Args {
    /// The key id masks will name.
    #[arg(long, default_value = "default", value_name = "ID")]
    key_id: String,
    /// The keyring file [default: veil.yml's `keyring`, else VEIL_KEYRING].
    #[arg(long, env = "VEIL_KEYRING", value_name = "FILE")]
    keyring: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Is `id` a key id the keyring accepts?
fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Run `veil keygen`.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args { key_id, keyring, format } = args;
    if !valid_id(&key_id) {
        return Err(Error::Usage(format!("key id `{key_id}`: use letters, digits, `_`, `-` and `.`")));
    }
    let path = match keyring.or_else(|| super::config().ok().and_then(|c| c.keyring.clone())) {
        Some(p) => p,
        None => {
            return Err(Error::Usage("no keyring: give --keyring FILE, VEIL_KEYRING, or `keyring:` in veil.yml".into()))
        }
    };
    let existing = match std::fs::read_to_string(&path) {
        Ok(text) => {
            let ring = veil_core::keyring::Keyring::parse(&path.display().to_string(), &text)
                .map_err(|e| Error::Input(format!("{e}; fix the keyring before adding to it")))?;
            if ring.ids().any(|id| id == key_id) {
                return Err(Error::Usage(format!(
                    "keyring `{}` already has key `{key_id}`; replacing it would make its tokens and FF1 values unreadable: pick another --key-id",
                    path.display()
                )));
            }
            Some(text)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(Error::Input(format!("cannot read keyring `{}`: {e}", path.display()))),
    };
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).map_err(|e| Error::Engine(format!("the operating system gave no random bytes: {e}")))?;
    let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let separator = match &existing {
        Some(text) if !text.is_empty() && !text.ends_with('\n') => "\n",
        _ => "",
    };
    let mut options = std::fs::OpenOptions::new();
    options.append(true).create(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file =
        options.open(&path).map_err(|e| Error::Input(format!("cannot write keyring `{}`: {e}", path.display())))?;
    let header = if existing.is_none() { "# veil keyring: <key id> = <64 hex digits>; keep it secret\n" } else { "" };
    file.write_all(format!("{separator}{header}{key_id} = {hex}\n").as_bytes())
        .map_err(|e| Error::Input(format!("cannot write keyring `{}`: {e}", path.display())))?;
    // What was written reads back.
    veil_cli::keyring::read(&path, &key_id)?;
    match format {
        Format::Json => println!("{}", json!({"keyring": path, "key_id": key_id, "created": existing.is_none()})),
        Format::Table => {
            println!("added key `{key_id}` to {} (the key is not shown; keep the file secret)", path.display())
        }
    }
    Ok(ExitCode::SUCCESS)
}
