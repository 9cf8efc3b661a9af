//! Key generation and its on-disk cache, and loading keys behind the backend traits. `setup` is idempotent: when the manifest already records
//! the same model, settings and SRS, and the key files still hash to what it records, the keys are
//! reused.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use ark_serialize::{CanonicalDeserialize, Compress, Validate};
use halo2_proofs::plonk::Circuit;
use halo2_proofs::plonk::{keygen_pk, keygen_vk_custom, ProvingKey, VerifyingKey};
use halo2_proofs::SerdeFormat;
use zkinfer_circuits::graph::Model;
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::halo2::decoder::circuit::DecoderCircuit;
use zkinfer_circuits::halo2::decoder::DecodePlan;
use zkinfer_circuits::halo2::{ModelCircuit, Plan};
use zkinfer_circuits::witness::{Run, Witness};

use crate::artifacts::*;
use crate::backend::{BackendId, ModelKind};
use crate::srs::{self, Srs};
use crate::transcript::TranscriptKind;
use crate::{Fr, G1Affine, ProverError};

#[derive(Debug, Clone)]
pub enum SrsSource {
    /// Generate the insecure dev SRS.
    Dev,
    /// Load a halo2-format SRS.
    File(PathBuf),
}

impl SrsSource {
    /// (insecure, provenance) as manifests record them.
    pub fn provenance(&self) -> (bool, String) {
        match self {
            SrsSource::Dev => (true, format!("dev seed \"{}\"", srs::DEV_SEED_LABEL)),
            SrsSource::File(p) => (false, p.display().to_string()),
        }
    }
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
pub fn keygen(srs: &Srs, plan: &Halo2Plan) -> Result<ProvingKey<G1Affine>, ProverError> {
    match plan {
        Halo2Plan::Model(p) => keygen_for(srs, &ModelCircuit::shape(p.clone())),
        Halo2Plan::Decode(p) => keygen_for(srs, &DecoderCircuit::shape(p.clone())),
    }
}

/// The verifying key alone for a plan (what `setup` writes as `vk.bin`, without the proving key's
/// cost).
pub fn verifying_key(srs: &Srs, plan: &Halo2Plan) -> Result<VerifyingKey<G1Affine>, ProverError> {
    let vk = match plan {
        Halo2Plan::Model(p) => keygen_vk_custom(srs, &ModelCircuit::shape(p.clone()), true),
        Halo2Plan::Decode(p) => keygen_vk_custom(srs, &DecoderCircuit::shape(p.clone()), true),
    };
    vk.map_err(|e| ProverError::Backend(format!("keygen_vk: {e:?}")))
}

fn keygen_for<C: Circuit<Fr>>(srs: &Srs, circuit: &C) -> Result<ProvingKey<G1Affine>, ProverError> {
    // Compressed selectors share fixed columns: 6 fewer commitments for the on-chain verifier
    // to multiply (and fit under EIP-170 with fewer parts).
    let vk = keygen_vk_custom(srs, circuit, true)
        .map_err(|e| ProverError::Backend(format!("keygen_vk: {e:?}")))?;
    keygen_pk(srs, vk, circuit).map_err(|e| ProverError::Backend(format!("keygen_pk: {e:?}")))
}

/// A spinner for a step that takes a while.
pub fn spinner(msg: &'static str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::new_spinner();
    pb.set_message(msg);
    pb.enable_steady_tick(std::time::Duration::from_millis(120));
    pb
}

/// Generates (or reuses) a model directory's keys with its backend.
pub fn setup(dir: &ModelDir, source: &SrsSource) -> Result<SetupReport, ProverError> {
    dir.settings()?.backend.backend().setup(dir, source)
}

/// halo2: keys from a universal SRS, reused while model, settings and SRS are unchanged.
pub(crate) fn setup_halo2(dir: &ModelDir, source: &SrsSource) -> Result<SetupReport, ProverError> {
    let start = Instant::now();
    let plan = dir.halo2()?;
    crate::inspect::check_memory(&plan)?;
    let k = plan.k();
    let model_sha = sha256_hex(&read_bytes(&dir.path(MODEL_FILE))?);
    let settings_sha = sha256_hex(&read_bytes(&dir.path(SETTINGS_FILE))?);
    let (insecure, srs_source) = source.provenance();
    // A file SRS is read (and pairing-checked) once, for the cache check and for keygen; the dev
    // SRS is only generated when keys must be made.
    let loaded = match source {
        SrsSource::Dev => None,
        SrsSource::File(p) => Some(srs::load(p, k)?),
    };
    if let Ok(old) = dir.manifest() {
        let same = old.model_sha256 == model_sha
            && old.settings_sha256 == settings_sha
            && old.circuit_code == zkinfer_circuits::CIRCUIT_CODE
            && old.insecure_dev_srs == insecure
            && old.k == k
            && loaded
                .as_ref()
                .is_none_or(|s| old.srs_sha256 == sha256_hex(&srs::to_bytes(s)));
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
    let srs = loaded.unwrap_or_else(|| srs::dev(k));
    let pb = spinner("generating keys");
    let pk = keygen(&srs, &plan)?;
    pb.finish_and_clear();
    let srs_bytes = srs::to_bytes(&srs);
    let vk = vk_bytes(pk.get_vk());
    let pk_bytes = pk.to_bytes(SerdeFormat::RawBytesUnchecked);
    let manifest = Manifest {
        version: ARTIFACT_VERSION,
        backend: BackendId::Halo2,
        transcript: crate::TRANSCRIPT.into(),
        insecure_dev_srs: insecure,
        srs_source,
        k,
        instances: plan.num_instances(),
        model_sha256: model_sha,
        settings_sha256: settings_sha,
        srs_sha256: sha256_hex(&srs_bytes),
        vk_sha256: sha256_hex(&vk),
        pk_sha256: sha256_hex(&pk_bytes),
        circuit_code: zkinfer_circuits::CIRCUIT_CODE.into(),
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

/// Groth16: circuit-specific keys, reused while the manifest still matches the model.
pub(crate) fn setup_groth16(dir: &ModelDir) -> Result<SetupReport, ProverError> {
    let start = Instant::now();
    let shape = dir.shape()?;
    let model_sha = sha256_hex(&read_bytes(&dir.path(MODEL_FILE))?);
    let settings_sha = sha256_hex(&read_bytes(&dir.path(SETTINGS_FILE))?);
    if let Ok(old) = dir.manifest() {
        let intact = [(VK_FILE, &old.vk_sha256), (PK_FILE, &old.pk_sha256)]
            .iter()
            .all(|(f, h)| dir.read_checked(f, h).is_ok());
        if old.backend == BackendId::Groth16
            && old.circuit_code == zkinfer_circuits::CIRCUIT_CODE
            && old.model_sha256 == model_sha
            && old.settings_sha256 == settings_sha
            && intact
        {
            return Ok(SetupReport {
                cached: true,
                manifest: old,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
    }
    let pb = spinner("generating Groth16 keys");
    let (pk, _) = crate::groth16::setup(shape.clone())?;
    pb.finish_and_clear();
    let (vk, pk_bytes) = (
        crate::groth16::to_bytes(&pk.vk),
        crate::groth16::to_bytes_uncompressed(&pk),
    );
    let manifest = Manifest {
        version: ARTIFACT_VERSION,
        backend: BackendId::Groth16,
        transcript: "none".into(),
        insecure_dev_srs: true,
        srs_source:
            "single-party circuit-specific dev setup (toxic waste from OS randomness, discarded)"
                .into(),
        k: 0,
        instances: shape.num_instances(),
        model_sha256: model_sha,
        settings_sha256: settings_sha,
        srs_sha256: String::new(),
        vk_sha256: sha256_hex(&vk),
        pk_sha256: sha256_hex(&pk_bytes),
        circuit_code: zkinfer_circuits::CIRCUIT_CODE.into(),
    };
    write_atomic(&dir.path(VK_FILE), &vk)?;
    write_atomic(&dir.path(PK_FILE), &pk_bytes)?;
    write_json(
        &dir.path(SNARKJS_VK_FILE),
        &crate::groth16::snarkjs_vk(&pk.vk),
    )?;
    write_json(&dir.path(MANIFEST_FILE), &manifest)?;
    Ok(SetupReport {
        cached: false,
        manifest,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// Groth16 keys cannot be made again (their setup's randomness is gone): an auditor adopts the
/// published verifying key for a recompiled directory, once it parses and has one input point
/// per public instance of the recompiled circuit. Writes `vk.bin` and a manifest without a
/// proving key.
pub fn adopt_groth16_vk(dir: &ModelDir, vk: &[u8], setup: &str) -> Result<Manifest, ProverError> {
    let shape = dir.shape()?;
    let path = dir.path(VK_FILE);
    let key: ark_groth16::VerifyingKey<ark_bn254::Bn254> = crate::groth16::from_bytes(vk)
        .ok_or_else(|| ProverError::artifact(&path, "not a Groth16 verifying key"))?;
    if key.gamma_abc_g1.len() != shape.num_instances() + 1 {
        let msg = format!(
            "a key for {} public inputs, the circuit has {}",
            key.gamma_abc_g1.len().saturating_sub(1),
            shape.num_instances()
        );
        return Err(ProverError::artifact(&path, msg));
    }
    let manifest = Manifest {
        version: ARTIFACT_VERSION,
        backend: BackendId::Groth16,
        transcript: "none".into(),
        insecure_dev_srs: true,
        srs_source: setup.into(),
        k: 0,
        instances: shape.num_instances(),
        model_sha256: sha256_hex(&read_bytes(&dir.path(MODEL_FILE))?),
        settings_sha256: sha256_hex(&read_bytes(&dir.path(SETTINGS_FILE))?),
        srs_sha256: String::new(),
        vk_sha256: sha256_hex(vk),
        pk_sha256: String::new(),
        circuit_code: zkinfer_circuits::CIRCUIT_CODE.into(),
    };
    write_atomic(&path, vk)?;
    write_json(&dir.path(MANIFEST_FILE), &manifest)?;
    Ok(manifest)
}

/// A backend that proves: the model, its batch size and keys.
pub trait ProvingBackend: Send + Sync {
    fn manifest(&self) -> &Manifest;
    fn model(&self) -> &Model;
    fn batch(&self) -> usize;
    /// Proves one witness: the proof bytes and what the run produced. Only halo2 has a
    /// transcript to choose; Groth16 refuses the Poseidon one.
    fn prove(
        &self,
        witness: Witness,
        transcript: TranscriptKind,
    ) -> Result<(Vec<u8>, Run), ProverError>;
}

/// A backend that verifies proof bytes for a statement's instances.
pub trait VerifyingBackend: Sync {
    fn manifest(&self) -> &Manifest;
    /// Whether `proof` is valid for `instances`, read with `transcript`.
    fn check(&self, instances: &[Fr], proof: &[u8], transcript: TranscriptKind) -> bool;
}

/// halo2 verification: SRS and verifying key, each checked against the manifest.
pub struct VerifierKeys {
    pub srs: Srs,
    pub vk: VerifyingKey<G1Affine>,
    pub manifest: Manifest,
}

impl VerifyingBackend for VerifierKeys {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn check(&self, instances: &[Fr], proof: &[u8], transcript: TranscriptKind) -> bool {
        crate::verify::check_with(&self.srs, &self.vk, instances, proof, transcript)
    }
}

pub struct Groth16VerifierKeys {
    pub vk: ark_groth16::VerifyingKey<ark_bn254::Bn254>,
    pub manifest: Manifest,
}

impl VerifyingBackend for Groth16VerifierKeys {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn check(&self, instances: &[Fr], proof: &[u8], transcript: TranscriptKind) -> bool {
        transcript == TranscriptKind::Evm && crate::groth16::check(&self.vk, instances, proof)
    }
}

fn warn_insecure(dir: &ModelDir, m: &Manifest) {
    if m.insecure_dev_srs {
        tracing::warn!(
            "{}: keys come from an INSECURE dev setup ({})",
            dir.dir.display(),
            m.srs_source
        );
    }
}

/// A model directory's verifying keys, by backend.
pub enum LoadedVerifier {
    Halo2(VerifierKeys),
    Groth16(Groth16VerifierKeys),
}

/// Loads a model directory's verifying keys with its backend, each file checked against the
/// manifest.
pub fn load_verifier_keys(dir: &ModelDir) -> Result<LoadedVerifier, ProverError> {
    dir.manifest()?.backend.backend().verifier(dir)
}

pub(crate) fn load_groth16_verifier(dir: &ModelDir) -> Result<Groth16VerifierKeys, ProverError> {
    let manifest = dir.manifest()?;
    warn_insecure(dir, &manifest);
    let vk_bytes = dir.read_checked(VK_FILE, &manifest.vk_sha256)?;
    let vk = crate::groth16::from_bytes(&vk_bytes)
        .ok_or_else(|| ProverError::artifact(&dir.path(VK_FILE), "not a Groth16 verifying key"))?;
    Ok(Groth16VerifierKeys { vk, manifest })
}

pub(crate) fn load_halo2_verifier(dir: &ModelDir) -> Result<VerifierKeys, ProverError> {
    let manifest = dir.manifest()?;
    warn_insecure(dir, &manifest);
    let vk_bytes = dir.read_checked(VK_FILE, &manifest.vk_sha256)?;
    let srs_bytes = dir.read_checked(SRS_FILE, &manifest.srs_sha256)?;
    let srs = srs::from_bytes(&dir.path(SRS_FILE), &srs_bytes)?;
    let vk = match dir.settings()?.kind() {
        ModelKind::Decoder => VerifyingKey::<G1Affine>::from_bytes::<DecoderCircuit>(
            &vk_bytes,
            SerdeFormat::RawBytes,
            dir.decode_plan()?.shape,
        ),
        ModelKind::Graph => VerifyingKey::<G1Affine>::from_bytes::<ModelCircuit>(
            &vk_bytes,
            SerdeFormat::RawBytes,
            dir.plan()?.shape,
        ),
    }
    .map_err(|e| ProverError::artifact(&dir.path(VK_FILE), format!("not a verifying key: {e}")))?;
    Ok(VerifierKeys { srs, vk, manifest })
}

/// The verifier of a model directory, whichever its backend.
pub fn load_verifier(dir: &ModelDir) -> Result<Box<dyn VerifyingBackend>, ProverError> {
    Ok(match load_verifier_keys(dir)? {
        LoadedVerifier::Halo2(k) => Box::new(k),
        LoadedVerifier::Groth16(k) => Box::new(k),
    })
}

/// halo2 proving: SRS, proving key and plan, each checked against the manifest.
pub struct ProverKeys {
    pub srs: Srs,
    pub pk: ProvingKey<G1Affine>,
    pub plan: Arc<Plan>,
    pub manifest: Manifest,
}

impl ProvingBackend for ProverKeys {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn model(&self) -> &Model {
        &self.plan.model
    }

    fn batch(&self) -> usize {
        self.plan.batch
    }

    fn prove(
        &self,
        witness: Witness,
        transcript: TranscriptKind,
    ) -> Result<(Vec<u8>, Run), ProverError> {
        let (circuit, run) = ModelCircuit::prepare(self.plan.clone(), witness)?;
        let instances = run.statement.instances();
        let proof = crate::prove::create(&self.srs, &self.pk, circuit, &instances, transcript)?;
        Ok((proof, run))
    }
}

pub struct Groth16ProverKeys {
    pub pk: ark_groth16::ProvingKey<ark_bn254::Bn254>,
    pub shape: Arc<Shape>,
    pub manifest: Manifest,
}

impl ProvingBackend for Groth16ProverKeys {
    fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn model(&self) -> &Model {
        &self.shape.model
    }

    fn batch(&self) -> usize {
        self.shape.batch
    }

    fn prove(
        &self,
        witness: Witness,
        transcript: TranscriptKind,
    ) -> Result<(Vec<u8>, Run), ProverError> {
        if transcript != TranscriptKind::Evm {
            return Err(ProverError::Backend(
                "Groth16 proofs cannot be aggregated: prove with the halo2 backend".into(),
            ));
        }
        crate::groth16::prove(&self.pk, self.shape.clone(), witness)
    }
}

/// The manifest, once the model and settings files still hash to what it records.
fn checked_manifest(dir: &ModelDir) -> Result<Manifest, ProverError> {
    let manifest = dir.manifest()?;
    // a proving key of other circuit code proves a circuit this build does not verify
    if manifest.circuit_code != zkinfer_circuits::CIRCUIT_CODE {
        return Err(ProverError::artifact(
            &dir.path(MANIFEST_FILE),
            "the keys were made by another version of zkinfer's circuits: run `zkinfer setup` \
             again",
        ));
    }
    for (file, want) in [
        (MODEL_FILE, &manifest.model_sha256),
        (SETTINGS_FILE, &manifest.settings_sha256),
    ] {
        dir.read_checked(file, want)?;
    }
    warn_insecure(dir, &manifest);
    Ok(manifest)
}

/// halo2 generation proving over a decoder graph: SRS, proving key and plan.
pub struct Generator {
    pub srs: Srs,
    pub pk: ProvingKey<G1Affine>,
    pub plan: Arc<DecodePlan>,
    pub manifest: Manifest,
}

/// The generation prover of a decoder's model directory.
pub fn load_generator(dir: &ModelDir) -> Result<Generator, ProverError> {
    let plan = dir.decode_plan()?;
    let manifest = checked_manifest(dir)?;
    let srs_bytes = dir.read_checked(SRS_FILE, &manifest.srs_sha256)?;
    let srs = srs::from_bytes(&dir.path(SRS_FILE), &srs_bytes)?;
    let pk_bytes = dir.read_checked(PK_FILE, &manifest.pk_sha256)?;
    let pk = ProvingKey::<G1Affine>::from_bytes::<DecoderCircuit>(
        &pk_bytes,
        SerdeFormat::RawBytesUnchecked,
        plan.shape,
    )
    .map_err(|e| ProverError::artifact(&dir.path(PK_FILE), format!("not a proving key: {e}")))?;
    Ok(Generator {
        srs,
        pk,
        plan,
        manifest,
    })
}

/// The prover of a graph model's directory, with its backend.
pub fn load_prover(dir: &ModelDir) -> Result<Box<dyn ProvingBackend>, ProverError> {
    dir.manifest()?.backend.backend().prover(dir)
}

pub(crate) fn load_groth16_prover(dir: &ModelDir) -> Result<Groth16ProverKeys, ProverError> {
    let manifest = checked_manifest(dir)?;
    let pk_bytes = dir.read_checked(PK_FILE, &manifest.pk_sha256)?;
    // uncompressed and unchecked: the manifest's hash already vouches for these bytes, and
    // decompressing tens of thousands of points would cost more than the proof
    let pk =
        ark_groth16::ProvingKey::deserialize_with_mode(&pk_bytes[..], Compress::No, Validate::No)
            .map_err(|e| {
            ProverError::artifact(
                &dir.path(PK_FILE),
                format!("not a Groth16 proving key: {e}"),
            )
        })?;
    Ok(Groth16ProverKeys {
        pk,
        shape: dir.shape()?,
        manifest,
    })
}

pub(crate) fn load_halo2_prover(dir: &ModelDir) -> Result<ProverKeys, ProverError> {
    let manifest = checked_manifest(dir)?;
    if dir.settings()?.kind() != ModelKind::Graph {
        return Err(ProverError::artifact(
            &dir.path(SETTINGS_FILE),
            "this is a generation model: prove with `zkinfer generate`",
        ));
    }
    let plan = dir.plan()?;
    let pk_bytes = dir.read_checked(PK_FILE, &manifest.pk_sha256)?;
    let srs_bytes = dir.read_checked(SRS_FILE, &manifest.srs_sha256)?;
    let srs = srs::from_bytes(&dir.path(SRS_FILE), &srs_bytes)?;
    let pk = ProvingKey::<G1Affine>::from_bytes::<ModelCircuit>(
        &pk_bytes,
        SerdeFormat::RawBytesUnchecked,
        plan.shape,
    )
    .map_err(|e| ProverError::artifact(&dir.path(PK_FILE), format!("not a proving key: {e}")))?;
    Ok(ProverKeys {
        srs,
        pk,
        plan,
        manifest,
    })
}
