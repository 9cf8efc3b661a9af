//! The rebuild: the bundle's ONNX file, recipe and calibration set compiled again in a fresh
//! temporary directory, keys made again from the SRS the bundle names, the verifier generated and
//! compiled again, and every published artifact compared with what was made. Nothing is read from
//! a cache, so the comparison is between the bundle and this machine's own work.

use std::path::Path;

use tempfile::TempDir;
use zkinfer_contracts::artifact::{self, VerifierArtifact, VerifierManifest};
use zkinfer_contracts::solc::Solc;
use zkinfer_prover::artifacts::{
    read_bytes, sha256_hex, ModelDir, CALIBRATION_FILE, MODEL_FILE, RECIPE_FILE, SETTINGS_FILE,
    SOURCE_FILE, SRS_FILE, VK_FILE,
};
use zkinfer_prover::keys::{self, SrsSource, VerifyingBackend};

use crate::bundle::{list_files, Bundle, SrsRecord, VERIFIER_DIR};
use crate::report::Row;
use crate::AuditError;

/// What the rebuild made, and how it compares with the bundle.
pub struct Rebuilt {
    /// The rebuilt model directory (inside a temporary directory removed on drop).
    pub dir: ModelDir,
    /// The verifying key, to check settled proofs with.
    pub verifier: Box<dyn VerifyingBackend>,
    /// The verifier's compiled contracts, to compare with a chain's code.
    pub artifact: VerifierArtifact,
    /// One row per published artifact.
    pub rows: Vec<Row>,
    _tmp: TempDir,
}

/// Rebuilds `bundle` from its inputs alone and compares.
pub fn rebuild(bundle: &Bundle, solc: &Solc) -> Result<Rebuilt, AuditError> {
    let tmp = tempfile::Builder::new()
        .prefix("zkinfer-audit")
        .tempdir()
        .map_err(|e| AuditError::io(&std::env::temp_dir(), e))?;
    let src = ModelDir::new(tmp.path().join("published"));
    for file in [SOURCE_FILE, CALIBRATION_FILE, RECIPE_FILE] {
        zkinfer_prover::artifacts::write_atomic(&src.path(file), &bundle.bytes(file)?)?;
    }
    let dir = ModelDir::new(tmp.path().join("model"));
    tracing::info!("compiling {SOURCE_FILE} again");
    zkinfer_prover::compile::recompile(&src, &dir.dir)?;
    let mut rows = Vec::new();
    for file in [MODEL_FILE, SETTINGS_FILE] {
        rows.push(compare_file(bundle, file, &dir.path(file))?);
    }
    match &bundle.index.srs {
        SrsRecord::Dev { k, sha256, .. } => {
            keys::setup(&dir, &SrsSource::Dev)?;
            let made = sha256_hex(&read_bytes(&dir.path(SRS_FILE))?);
            let row = Row::new(format!("SRS (dev seed, 2^{k})"), sha256, &made);
            rows.push(row.with_note("INSECURE: anyone can forge proofs under the dev SRS"));
        }
        SrsRecord::File { .. } => {
            keys::setup(&dir, &SrsSource::File(bundle.path(SRS_FILE)))?;
        }
        SrsRecord::CircuitSpecific { setup } => {
            keys::adopt_groth16_vk(&dir, &bundle.bytes(VK_FILE)?, setup)?;
        }
    }
    rows.push(match &bundle.index.srs {
        SrsRecord::CircuitSpecific { .. } => Row::trusted(
            VK_FILE,
            &bundle.index.files[VK_FILE],
            "Groth16's circuit-specific setup cannot be made again: the published key is used, \
             checked only against the circuit's public inputs",
        ),
        _ => compare_file(bundle, VK_FILE, &dir.path(VK_FILE))?,
    });
    let verifier = keys::load_verifier(&dir)?;
    tracing::info!("generating and compiling the verifier again");
    let artifact = artifact::build(&dir, solc)?;
    let out = tmp.path().join(VERIFIER_DIR);
    artifact.write(&out)?;
    rows.extend(compare_verifier(bundle, &out)?);
    Ok(Rebuilt {
        dir,
        verifier,
        artifact,
        rows,
        _tmp: tmp,
    })
}

/// A bundle file against the rebuilt one, by SHA-256.
fn compare_file(bundle: &Bundle, rel: &str, made: &Path) -> Result<Row, AuditError> {
    let found = match std::fs::read(made) {
        Ok(b) => sha256_hex(&b),
        Err(_) => "(not made)".into(),
    };
    let expected = bundle
        .index
        .files
        .get(rel)
        .map_or("(not published)", String::as_str);
    Ok(Row::new(rel, expected, &found))
}

/// Every file of the published verifier against the rebuilt one, and any file only one has.
/// The manifest is compared as data with the compiler's front end left out: native solc and
/// solc-js of one version give the same code.
fn compare_verifier(bundle: &Bundle, made: &Path) -> Result<Vec<Row>, AuditError> {
    let prefix = format!("{VERIFIER_DIR}/");
    let published: Vec<&String> = bundle
        .index
        .files
        .keys()
        .filter(|k| k.starts_with(&prefix))
        .collect();
    let mut names: std::collections::BTreeSet<String> = list_files(made)?;
    names.extend(published.iter().map(|p| p[prefix.len()..].to_string()));
    let mut rows = Vec::new();
    for name in names {
        let rel = format!("{prefix}{name}");
        let path = made.join(&name);
        if name == artifact::MANIFEST_FILE && path.is_file() {
            rows.push(compare_manifest(bundle, &rel, &path)?);
        } else {
            rows.push(compare_file(bundle, &rel, &path)?);
        }
    }
    Ok(rows)
}

fn compare_manifest(bundle: &Bundle, rel: &str, made: &Path) -> Result<Row, AuditError> {
    let read = |p: &Path| -> Result<VerifierManifest, AuditError> {
        let bytes = read_bytes(p)?;
        let mut m: VerifierManifest = serde_json::from_slice(&bytes)
            .map_err(|e| AuditError::bundle(p, format!("not a verifier manifest: {e}")))?;
        m.compiler.compiler = String::new();
        Ok(m)
    };
    let (published, rebuilt) = (read(&bundle.path(rel))?, read(made)?);
    let expected = &bundle.index.files[rel];
    let found = if published == rebuilt {
        expected.clone()
    } else {
        sha256_hex(&read_bytes(made)?)
    };
    Ok(Row::new(rel, expected, &found))
}
