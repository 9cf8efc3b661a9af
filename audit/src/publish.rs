//! `zkinfer publish`: a model directory's public artifacts as a bundle. The bundle is built in a
//! temporary sibling directory and renamed into place, so a failure leaves nothing behind and an
//! existing bundle is never overwritten. Nothing secret goes in: no proving key, no salt.

use std::path::Path;

use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::{
    sha256_hex, ModelDir, MODEL_FILE, SETTINGS_FILE, SRS_FILE, VK_FILE,
};
use zkinfer_prover::srs::DEV_SEED_LABEL;
use zkinfer_prover::BackendId;

use crate::bundle::{
    list_files, Index, SrsRecord, Terms, BUNDLE_FILE, BUNDLE_VERSION, MODEL_FILES, VERIFIER_DIR,
};
use crate::AuditError;

/// Publishes `dir` (compiled by `zkinfer compile`, set up, its verifier generated here with
/// `solc`) as a bundle at `out`, with the `terms` it is registered on.
pub fn publish(
    dir: &ModelDir,
    solc: &Solc,
    terms: Option<Terms>,
    out: &Path,
) -> Result<Index, AuditError> {
    if out.exists() {
        return Err(AuditError::bundle(
            out,
            "already exists: publish writes a new bundle, never over one",
        ));
    }
    dir.recipe()?;
    let manifest = dir.manifest()?;
    for (file, want) in [
        (MODEL_FILE, &manifest.model_sha256),
        (SETTINGS_FILE, &manifest.settings_sha256),
        (VK_FILE, &manifest.vk_sha256),
    ] {
        dir.read_checked(file, want)?;
    }
    let srs = match (manifest.backend, manifest.insecure_dev_srs) {
        (BackendId::Groth16, _) => SrsRecord::CircuitSpecific {
            setup: manifest.srs_source.clone(),
        },
        (BackendId::Halo2, true) => SrsRecord::Dev {
            seed: DEV_SEED_LABEL.into(),
            k: manifest.k,
            sha256: manifest.srs_sha256.clone(),
        },
        (BackendId::Halo2, false) => SrsRecord::File {
            source: manifest.srs_source.clone(),
            k: manifest.k,
            sha256: manifest.srs_sha256.clone(),
        },
    };
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| AuditError::io(parent, e))?;
    let tmp = tempfile::Builder::new()
        .prefix(".bundle")
        .tempdir_in(parent)
        .map_err(|e| AuditError::io(parent, e))?;
    let mut copies: Vec<&str> = MODEL_FILES.to_vec();
    if matches!(srs, SrsRecord::File { .. }) {
        copies.push(SRS_FILE);
    }
    for file in copies {
        let bytes = zkinfer_prover::artifacts::read_bytes(&dir.path(file))?;
        zkinfer_prover::artifacts::write_atomic(&tmp.path().join(file), &bytes)?;
    }
    let artifact = zkinfer_contracts::artifact::build(dir, solc)?;
    artifact.write(&tmp.path().join(VERIFIER_DIR))?;
    let mut files = std::collections::BTreeMap::new();
    for rel in list_files(tmp.path())? {
        let path = tmp.path().join(&rel);
        let bytes = std::fs::read(&path).map_err(|e| AuditError::io(&path, e))?;
        files.insert(rel, sha256_hex(&bytes));
    }
    let index = Index {
        version: BUNDLE_VERSION,
        backend: manifest.backend,
        srs,
        terms,
        files,
    };
    zkinfer_prover::artifacts::write_json(&tmp.path().join(BUNDLE_FILE), &index)?;
    // a temporary directory is private to its owner; a bundle is for everyone to read
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let readable = std::fs::Permissions::from_mode(0o755);
        std::fs::set_permissions(tmp.path(), readable).map_err(|e| AuditError::io(out, e))?;
    }
    let kept = tmp.keep();
    if let Err(e) = std::fs::rename(&kept, out) {
        let _ = std::fs::remove_dir_all(&kept);
        return Err(AuditError::io(out, e));
    }
    Ok(index)
}
