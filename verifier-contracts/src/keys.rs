//! Signing keys for the CLI's chain commands: from a file, from the environment, or, on dev
//! chains, the well-known dev accounts.

use std::path::Path;

use alloy::primitives::Address;
use alloy::signers::local::PrivateKeySigner;

use crate::ContractsError;

/// The environment variable holding a hex private key.
pub const KEY_ENV: &str = "ZKINFER_PRIVATE_KEY";

pub fn parse_key(text: &str) -> Result<PrivateKeySigner, ContractsError> {
    text.trim()
        .parse::<PrivateKeySigner>()
        .map_err(|_| ContractsError::Key("not a 32-byte hex private key".into()))
}

pub fn address_of(key: &str) -> Result<Address, ContractsError> {
    Ok(parse_key(key)?.address())
}

/// The key from `file` if given, else from `$ZKINFER_PRIVATE_KEY`, else `None`.
pub fn load(file: Option<&Path>) -> Result<Option<PrivateKeySigner>, ContractsError> {
    if let Some(path) = file {
        let text = std::fs::read_to_string(path).map_err(|e| ContractsError::io(path, e))?;
        return parse_key(&text)
            .map(Some)
            .map_err(|e| ContractsError::Key(format!("{}: {e}", path.display())));
    }
    match std::env::var(KEY_ENV) {
        Ok(v) => parse_key(&v)
            .map(Some)
            .map_err(|e| ContractsError::Key(format!("${KEY_ENV}: {e}"))),
        Err(_) => Ok(None),
    }
}

/// A dev account's key by index (0..4).
pub fn dev(index: usize) -> PrivateKeySigner {
    parse_key(super::chain::DEV_KEYS[index]).expect("dev keys are valid")
}
