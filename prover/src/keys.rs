//! Key generation and its on-disk cache. `setup` is idempotent: when the manifest already records
//! the same model, settings and SRS, and the key files still hash to what it records, the keys are
//! reused.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use halo2_proofs::plonk::{keygen_pk, keygen_vk, ProvingKey, VerifyingKey};
use halo2_proofs::SerdeFormat;
use zkinfer_circuits::halo2::{ModelCircuit, Plan};

use crate::artifacts::*;
use crate::srs::{self, Srs};
use crate::{G1Affine, ProverError};

#[derive(Debug, Clone)]
pub enum SrsSource {
    /// Generate the insecure dev SRS.
    Dev,
    /// Load a halo2-format SRS.
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub struct SetupReport {
    pub cached: bool,
    pub manifest: Manifest,
    pub seconds: f64,
}

pub fn vk_bytes(vk: &VerifyingKey<G1Affine>) -> Vec<u8> {
    vk.to_bytes(SerdeFormat::RawBytes)
}

/// Generates the verifying and proving keys for a plan.
pub fn keygen(srs: &Srs, plan: Arc<Plan>) -> Result<ProvingKey<G1Affine>, ProverError> {
    let circuit = ModelCircuit::shape(plan);
    let vk =
        keygen_vk(srs, &circuit).map_err(|e| ProverError::Halo2(format!("keygen_vk: {e:?}")))?;
    keygen_pk(srs, vk, &circuit).map_err(|e| ProverError::Halo2(format!("keygen_pk: {e:?}")))
}

fn spinner(msg: &'static str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg);
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

pub fn setup(dir: &ModelDir, source: &SrsSource) -> Result<SetupReport, ProverError> {
    let start = Instant::now();
    let plan = dir.plan()?;
    let model_sha = sha256_hex(&read_bytes(&dir.path(MODEL_FILE))?);
    let settings_sha = sha256_hex(&read_bytes(&dir.path(SETTINGS_FILE))?);
    let (insecure, srs_source) = match source {
        SrsSource::Dev => (true, format!("dev seed \"{}\"", srs::DEV_SEED_LABEL)),
        SrsSource::File(p) => (false, p.display().to_string()),
    };
    if let Ok(old) = dir.manifest() {
        let same = old.model_sha256 == model_sha
            && old.settings_sha256 == settings_sha
            && old.insecure_dev_srs == insecure
            && old.k == plan.k
            && (insecure || old.srs_sha256 == sha256_hex(&srs_bytes_of(source, plan.k)?));
        let intact = [
            (SRS_FILE, &old.srs_sha256),
            (VK_FILE, &old.vk_sha256),
            (PK_FILE, &old.pk_sha256),
        ]
        .iter()
        .all(|(f, h)| dir.read_checked(f, h).is_ok());
        if same && intact {
            tracing::info!("keys are up to date; reusing them");
            return Ok(SetupReport {
                cached: true,
                manifest: old,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
    }
    let srs = match source {
        SrsSource::Dev => srs::dev(plan.k),
        SrsSource::File(p) => srs::load(p, plan.k)?,
    };
    let pb = spinner("generating keys");
    let pk = keygen(&srs, plan.clone())?;
    pb.finish_and_clear();
    let srs_bytes = srs::to_bytes(&srs);
    let vk = vk_bytes(pk.get_vk());
    let pk_bytes = pk.to_bytes(SerdeFormat::RawBytesUnchecked);
    let manifest = Manifest {
        version: ARTIFACT_VERSION,
        backend: crate::BACKEND.into(),
        transcript: crate::TRANSCRIPT.into(),
        insecure_dev_srs: insecure,
        srs_source,
        k: plan.k,
        model_sha256: model_sha,
        settings_sha256: settings_sha,
        srs_sha256: sha256_hex(&srs_bytes),
        vk_sha256: sha256_hex(&vk),
        pk_sha256: sha256_hex(&pk_bytes),
    };
    write_atomic(&dir.path(SRS_FILE), &srs_bytes)?;
    write_atomic(&dir.path(VK_FILE), &vk)?;
    write_atomic(&dir.path(PK_FILE), &pk_bytes)?;
    write_json(&dir.path(MANIFEST_FILE), &manifest)?;
    Ok(SetupReport {
        cached: false,
        manifest,
        seconds: start.elapsed().as_secs_f64(),
    })
}

fn srs_bytes_of(source: &SrsSource, k: u32) -> Result<Vec<u8>, ProverError> {
    match source {
        SrsSource::Dev => Ok(srs::to_bytes(&srs::dev(k))),
        SrsSource::File(p) => Ok(srs::to_bytes(&srs::load(p, k)?)),
    }
}

/// What verification needs, each artifact checked against the manifest.
pub struct VerifierKeys {
    pub srs: Srs,
    pub vk: VerifyingKey<G1Affine>,
    pub manifest: Manifest,
}

pub fn load_verifier(dir: &ModelDir) -> Result<VerifierKeys, ProverError> {
    let manifest = dir.manifest()?;
    let srs_bytes = dir.read_checked(SRS_FILE, &manifest.srs_sha256)?;
    let srs = srs::from_bytes(&dir.path(SRS_FILE), &srs_bytes)?;
    let vk_bytes = dir.read_checked(VK_FILE, &manifest.vk_sha256)?;
    let vk =
        VerifyingKey::<G1Affine>::from_bytes::<ModelCircuit>(&vk_bytes, SerdeFormat::RawBytes, ())
            .map_err(|e| {
                ProverError::artifact(&dir.path(VK_FILE), format!("not a verifying key: {e}"))
            })?;
    if manifest.insecure_dev_srs {
        tracing::warn!(
            "{}: keys were made with the INSECURE dev SRS",
            dir.dir.display()
        );
    }
    Ok(VerifierKeys { srs, vk, manifest })
}

/// What proving needs, each artifact checked against the manifest.
pub struct ProverKeys {
    pub srs: Srs,
    pub pk: ProvingKey<G1Affine>,
    pub plan: Arc<Plan>,
    pub manifest: Manifest,
}

pub fn load_prover(dir: &ModelDir) -> Result<ProverKeys, ProverError> {
    let manifest = dir.manifest()?;
    let plan = dir.plan()?;
    for (file, want) in [
        (MODEL_FILE, &manifest.model_sha256),
        (SETTINGS_FILE, &manifest.settings_sha256),
    ] {
        dir.read_checked(file, want)?;
    }
    let srs_bytes = dir.read_checked(SRS_FILE, &manifest.srs_sha256)?;
    let srs = srs::from_bytes(&dir.path(SRS_FILE), &srs_bytes)?;
    let pk_bytes = dir.read_checked(PK_FILE, &manifest.pk_sha256)?;
    let pk = ProvingKey::<G1Affine>::from_bytes::<ModelCircuit>(
        &pk_bytes,
        SerdeFormat::RawBytesUnchecked,
        (),
    )
    .map_err(|e| ProverError::artifact(&dir.path(PK_FILE), format!("not a proving key: {e}")))?;
    if manifest.insecure_dev_srs {
        tracing::warn!(
            "{}: keys were made with the INSECURE dev SRS",
            dir.dir.display()
        );
    }
    Ok(ProverKeys {
        srs,
        pk,
        plan,
        manifest,
    })
}
