//! The published bundle: a directory of files and `bundle.json`, which lists each file's SHA-256,
//! the backend, where the SRS comes from and the terms the model is offered on. Opening a bundle
//! checks it is whole before anything is rebuilt from it: every listed file present with its hash,
//! nothing unlisted, nothing the audit needs missing. A bundle that fails this is an error (the
//! auditor was handed something else), not a mismatch.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};
use zkinfer_prover::artifacts::{
    sha256_hex, CALIBRATION_FILE, MODEL_FILE, RECIPE_FILE, SETTINGS_FILE, SOURCE_FILE, SRS_FILE,
    VK_FILE,
};
use zkinfer_prover::BackendId;

use crate::AuditError;

/// The bundle's index.
pub const BUNDLE_FILE: &str = "bundle.json";
/// Format version of [`Index`].
pub const BUNDLE_VERSION: u32 = 1;
/// The folder holding the verifier as `zkinfer verifier` writes it.
pub const VERIFIER_DIR: &str = "verifier";
/// The model directory's files a bundle carries: the inputs of a rebuild, then what it makes.
pub const MODEL_FILES: [&str; 6] = [
    SOURCE_FILE,
    CALIBRATION_FILE,
    RECIPE_FILE,
    MODEL_FILE,
    SETTINGS_FILE,
    VK_FILE,
];

/// `bundle.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Index {
    /// [`BUNDLE_VERSION`].
    pub version: u32,
    /// The proof system.
    pub backend: BackendId,
    /// Where the SRS comes from.
    pub srs: SrsRecord,
    /// The terms the model is registered on; an on-chain audit requires them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terms: Option<Terms>,
    /// Every other file of the bundle (a `/`-separated relative path) and its SHA-256.
    pub files: BTreeMap<String, String>,
}

/// Where the verifying key's SRS comes from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SrsRecord {
    /// The INSECURE dev SRS for `2^k` rows, which anyone regenerates from a public seed.
    Dev {
        /// The seed's label.
        seed: String,
        /// log2 of its points.
        k: u32,
        /// SHA-256 of the SRS in halo2's format.
        sha256: String,
    },
    /// The SRS file `kzg.srs` in the bundle (truncated to `2^k` points).
    File {
        /// Where the provider took it from, as they recorded it.
        source: String,
        /// log2 of its points.
        k: u32,
        /// SHA-256 of the file.
        sha256: String,
    },
    /// No SRS: Groth16's circuit-specific setup, which cannot be rebuilt.
    CircuitSpecific {
        /// How the provider's setup was made.
        setup: String,
    },
}

/// A model's registration terms as published (the verifier's address is what the audit finds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    /// Receives the royalty.
    pub owner: Address,
    /// Is paid for each settled request.
    pub provider: Address,
    /// Owner's share in basis points.
    pub royalty_bps: u16,
    /// Price per metered input unit.
    pub price_in: U256,
    /// Price per metered output unit.
    pub price_out: U256,
    /// Payment token (`0x0…0` for ETH).
    pub token: Address,
}

/// An opened, whole bundle.
#[derive(Clone, Debug)]
pub struct Bundle {
    /// Its directory.
    pub dir: PathBuf,
    /// Its index.
    pub index: Index,
}

impl Bundle {
    /// Opens the bundle at `dir`, checking it is whole.
    pub fn open(dir: &Path) -> Result<Self, AuditError> {
        let index_path = dir.join(BUNDLE_FILE);
        let text = std::fs::read(&index_path).map_err(|e| {
            AuditError::bundle(
                &index_path,
                format!("cannot read it ({e}); is this a bundle from `zkinfer publish`?"),
            )
        })?;
        let index: Index = serde_json::from_slice(&text)
            .map_err(|e| AuditError::bundle(&index_path, format!("not a bundle index: {e}")))?;
        if index.version != BUNDLE_VERSION {
            let msg = format!(
                "version {}, this zkinfer reads {BUNDLE_VERSION}",
                index.version
            );
            return Err(AuditError::bundle(&index_path, msg));
        }
        let bundle = Self {
            dir: dir.to_path_buf(),
            index,
        };
        bundle.check_whole()?;
        Ok(bundle)
    }

    /// The path of a bundle file.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// A bundle file's bytes (hash-checked when the bundle was opened).
    pub fn bytes(&self, rel: &str) -> Result<Vec<u8>, AuditError> {
        let path = self.path(rel);
        std::fs::read(&path).map_err(|e| AuditError::io(&path, e))
    }

    fn check_whole(&self) -> Result<(), AuditError> {
        let mut required: Vec<String> = MODEL_FILES.iter().map(|f| f.to_string()).collect();
        required.push(format!(
            "{VERIFIER_DIR}/{}",
            zkinfer_contracts::artifact::MANIFEST_FILE
        ));
        if matches!(self.index.srs, SrsRecord::File { .. }) {
            required.push(SRS_FILE.into());
        }
        for f in &required {
            if !self.index.files.contains_key(f) {
                return Err(AuditError::bundle(
                    &self.dir,
                    format!("{BUNDLE_FILE} lists no {f}"),
                ));
            }
        }
        let present = list_files(&self.dir)?;
        for (rel, want) in &self.index.files {
            if rel
                .split('/')
                .any(|c| c.is_empty() || c == "." || c == "..")
            {
                return Err(AuditError::bundle(
                    &self.dir,
                    format!("{BUNDLE_FILE} lists a path outside the bundle: {rel}"),
                ));
            }
            if !present.contains(rel) {
                return Err(AuditError::bundle(
                    &self.path(rel),
                    "listed in the index but missing",
                ));
            }
            let got = sha256_hex(&self.bytes(rel)?);
            if &got != want {
                let msg = format!(
                    "SHA-256 {got}, the index says {want}: the file was changed or truncated"
                );
                return Err(AuditError::bundle(&self.path(rel), msg));
            }
        }
        if let Some(extra) = present
            .iter()
            .find(|p| p.as_str() != BUNDLE_FILE && !self.index.files.contains_key(*p))
        {
            return Err(AuditError::bundle(
                &self.path(extra),
                "not listed in the index",
            ));
        }
        if let SrsRecord::File { sha256, .. } = &self.index.srs {
            if self.index.files.get(SRS_FILE) != Some(sha256) {
                return Err(AuditError::bundle(
                    &self.path(SRS_FILE),
                    "does not hash to the SRS the index records",
                ));
            }
        }
        Ok(())
    }
}

/// Every file under `dir`, as sorted `/`-separated relative paths.
pub fn list_files(dir: &Path) -> Result<std::collections::BTreeSet<String>, AuditError> {
    let mut out = std::collections::BTreeSet::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = stack.pop() {
        let entries = std::fs::read_dir(&path).map_err(|e| AuditError::io(&path, e))?;
        for entry in entries {
            let entry = entry.map_err(|e| AuditError::io(&path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            let kind = entry
                .file_type()
                .map_err(|e| AuditError::io(&entry.path(), e))?;
            if kind.is_dir() {
                stack.push((entry.path(), rel));
            } else {
                out.insert(rel);
            }
        }
    }
    Ok(out)
}
