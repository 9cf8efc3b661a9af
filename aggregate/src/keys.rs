//! Aggregation keys for one model and one N, kept beside the model's own keys in
//! `DIR/aggregate-N/`:
//!
//! | file             | content                                                        |
//! |------------------|----------------------------------------------------------------|
//! | `kzg.srs`        | the SRS at the aggregation circuit's size (the model's setup)  |
//! | `vk.bin`         | aggregation verifying key (halo2 `RawBytes`)                    |
//! | `pk.bin`         | aggregation proving key (halo2 `RawBytesUnchecked`)             |
//! | `aggregate.json` | the layout, the model key it verifies, SHA-256 of the above    |
//!
//! Keys are generated from placeholder snarks ([`crate::snark::placeholder`]), so they depend on
//! the model's verifying key, N, `k` and the SRS only: the same inputs give byte-identical files,
//! and a second setup with them reuses the keys.
//!
//! A tree of M leaves over N requests keeps its root's keys in `DIR/aggregate-{N/M}x{M}/`, and
//! uses the flat keys for N/M requests, `DIR/aggregate-{N/M}/`, for its leaves: the root verifies
//! M leaf proofs against that leaf key (held as constants, as the model's key is in a leaf).

use std::path::PathBuf;
use std::time::Instant;

use halo2_proofs::plonk::{keygen_pk, keygen_vk, ProvingKey, VerifyingKey};
use halo2_proofs::SerdeFormat;
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::halo2::aggregation::AggregationCircuit;
use zkinfer_prover::artifacts::{
    read_bytes, read_json, sha256_hex, write_atomic, write_json, ModelDir, ARTIFACT_VERSION,
};
use zkinfer_prover::keys::{load_verifier_keys, LoadedVerifier, SrsSource, VerifierKeys};
use zkinfer_prover::srs::{self, Srs};
use zkinfer_prover::{G1Affine, ProverError};

use crate::circuit::{Keygen, Shape, ACCUMULATOR_LIMBS};
use crate::snark::{leaf_protocol, placeholder, protocol};
use crate::AggregateError;

const MANIFEST_FILE: &str = "aggregate.json";
/// Names the aggregation circuit; changes whenever the circuit does.
pub const CIRCUIT: &str =
    "snark-verifier-sdk 0.2.7 AggregationCircuit, SHPLONK, model vk as constants, v1";
const SRS_FILE: &str = "kzg.srs";
const VK_FILE: &str = "vk.bin";
const PK_FILE: &str = "pk.bin";

/// What an aggregation key is for and how it was made.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AggregateManifest {
    /// Artifact version (the statement it carries).
    pub version: u32,
    /// The circuit the keys are for ([`CIRCUIT`]): keys of another circuit are never reused.
    pub circuit: String,
    /// Requests per aggregation proof.
    pub requests: usize,
    /// Leaf aggregations the requests are split into (1: the circuit verifies the requests'
    /// proofs itself).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub leaves: usize,
    /// SHA-256 of the model's verifying key, which the circuit (or each leaf's) holds as
    /// constants.
    pub model_vk_sha256: String,
    /// SHA-256 of the leaves' verifying key, which a tree's root holds as constants.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leaf_vk_sha256: Option<String>,
    /// Instances of each request's proof (the usage statement and the ciphertext).
    pub instances_per_request: usize,
    /// Public instances of the aggregation proof.
    pub instances: usize,
    /// The circuit's layout.
    pub shape: Shape,
    /// True when the SRS is the insecure dev one.
    pub insecure_dev_srs: bool,
    /// Where the SRS came from.
    pub srs_source: String,
    /// SHA-256 of `kzg.srs`.
    pub srs_sha256: String,
    /// SHA-256 of `vk.bin`.
    pub vk_sha256: String,
    /// SHA-256 of `pk.bin`.
    pub pk_sha256: String,
}

pub(crate) fn one() -> usize {
    1
}

pub(crate) fn is_one(n: &usize) -> bool {
    *n == 1
}

/// A model directory's aggregation keys for N requests.
#[derive(Clone, Debug)]
pub struct AggregateDir {
    /// The model directory.
    pub model: ModelDir,
    /// Requests per proof.
    pub requests: usize,
    /// Leaf aggregations under the root (1: none, the circuit verifies the requests' proofs).
    pub leaves: usize,
}

impl AggregateDir {
    /// The keys for `requests` proofs of the model in `model`, aggregated at once.
    pub fn new(model: ModelDir, requests: usize) -> Self {
        Self::tree(model, requests, 1)
    }

    /// The keys of a tree's root over `leaves` aggregations of `requests / leaves` proofs each.
    pub fn tree(model: ModelDir, requests: usize, leaves: usize) -> Self {
        Self {
            model,
            requests,
            leaves,
        }
    }

    /// The keys of this tree's leaves; `None` for a single aggregation.
    pub fn leaf(&self) -> Option<AggregateDir> {
        (self.leaves > 1).then(|| Self::new(self.model.clone(), self.requests / self.leaves))
    }

    /// Where the keys live.
    pub fn dir(&self) -> PathBuf {
        match self.leaves {
            1 => self.model.path(&format!("aggregate-{}", self.requests)),
            m => self
                .model
                .path(&format!("aggregate-{}x{m}", self.requests / m)),
        }
    }

    /// Refuses a shape no tree has (see [`check_tree`]).
    pub fn check(&self) -> Result<(), AggregateError> {
        check_tree(self.requests, self.leaves)
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir().join(file)
    }

    /// The manifest, if setup ran.
    pub fn manifest(&self) -> Result<AggregateManifest, ProverError> {
        read_json(&self.path(MANIFEST_FILE))
    }

    fn read_checked(&self, file: &str, want: &str) -> Result<Vec<u8>, ProverError> {
        let path = self.path(file);
        let bytes = read_bytes(&path)?;
        if sha256_hex(&bytes) != want {
            return Err(ProverError::artifact(
                &path,
                format!(
                    "does not match {MANIFEST_FILE}; `zkinfer aggregate` with {} proofs and --leaves {} remakes the keys",
                    self.requests, self.leaves
                ),
            ));
        }
        Ok(bytes)
    }
}

/// Refuses a shape no tree has: no requests, or leaves that do not split them evenly.
pub fn check_tree(requests: usize, leaves: usize) -> Result<(), AggregateError> {
    if requests == 0 || leaves == 0 {
        return Err(AggregateError::Request(
            "aggregation needs at least one request and one leaf".into(),
        ));
    }
    if requests % leaves != 0 {
        return Err(AggregateError::Request(format!(
            "{requests} requests do not split evenly into {leaves} leaves"
        )));
    }
    Ok(())
}

/// The model's halo2 verifying keys, which aggregation needs.
pub fn model_keys(model: &ModelDir) -> Result<VerifierKeys, AggregateError> {
    match load_verifier_keys(model)? {
        LoadedVerifier::Halo2(k) => Ok(k),
        LoadedVerifier::Groth16(_) => Err(AggregateError::Request(format!(
            "{}: a Groth16 model; aggregation takes halo2 proofs",
            model.dir.display()
        ))),
    }
}

/// What a setup did.
#[derive(Clone, Debug)]
pub struct SetupReport {
    /// True when the keys were already there and reused.
    pub cached: bool,
    /// The keys' manifest.
    pub manifest: AggregateManifest,
    /// Wall time.
    pub seconds: f64,
}

/// The default size: the smallest `k` whose layout needs at most this many advice columns. Fewer
/// columns mean fewer commitments for the on-chain verifier; more rows a bigger SRS and more
/// memory.
const MAX_ADVICE: usize = 8;

/// Generates (or reuses) the aggregation keys for N proofs of the model; `k` overrides the size.
pub fn setup(
    dir: &AggregateDir,
    source: &SrsSource,
    k: Option<u32>,
) -> Result<SetupReport, AggregateError> {
    let start = Instant::now();
    dir.check()?;
    let model = model_keys(&dir.model)?;
    let per = model.manifest.instances;
    // What the circuit verifies: the requests' proofs, or (a tree's root) its leaves' proofs,
    // whose keys are made first.
    let (protocol, snarks, leaf_vk) = match dir.leaf() {
        None => (protocol(&model.srs, &model.vk, per), dir.requests, None),
        Some(leaf) => {
            setup(&leaf, source, None)?;
            let leaf = load(&leaf, false)?;
            let p = leaf_protocol(&leaf.srs, &leaf.vk, leaf.manifest.instances);
            (p, dir.leaves, Some(leaf.manifest.vk_sha256))
        }
    };
    let nested = leaf_vk.is_some();
    let placeholders = || vec![placeholder(&protocol); snarks];
    let keygen = match k {
        Some(k) => Keygen::new(&model.srs, placeholders(), k, nested),
        None => smallest(&model.srs, &placeholders, nested),
    };
    let k = keygen.k();
    let (insecure, srs_source) = source.provenance();
    if let Ok(old) = dir.manifest() {
        let same = old.version == ARTIFACT_VERSION
            && old.circuit == CIRCUIT
            && old.leaves == dir.leaves
            && old.leaf_vk_sha256 == leaf_vk
            && old.model_vk_sha256 == model.manifest.vk_sha256
            && old.insecure_dev_srs == insecure
            && old.srs_source == srs_source
            && old.shape.k == k;
        let intact = [
            (SRS_FILE, &old.srs_sha256),
            (VK_FILE, &old.vk_sha256),
            (PK_FILE, &old.pk_sha256),
        ]
        .iter()
        .all(|(f, h)| dir.read_checked(f, h).is_ok());
        if same && intact {
            return Ok(SetupReport {
                cached: true,
                manifest: old,
                seconds: start.elapsed().as_secs_f64(),
            });
        }
    }
    let srs = match source {
        SrsSource::Dev => srs::dev(k),
        SrsSource::File(p) => srs::load(p, k)?,
    };
    same_setup(&model.srs, &srs)?;
    let pb = zkinfer_prover::keys::spinner("generating aggregation keys");
    let vk = keygen_vk(&srs, &keygen.circuit)
        .map_err(|e| AggregateError::Circuit(format!("keygen_vk: {e:?}")))?;
    let pk = keygen_pk(&srs, vk, &keygen.circuit)
        .map_err(|e| AggregateError::Circuit(format!("keygen_pk: {e:?}")))?;
    pb.finish_and_clear();
    let shape = keygen.shape();
    let srs_bytes = srs::to_bytes(&srs);
    let vk_bytes = pk.get_vk().to_bytes(SerdeFormat::RawBytes);
    let pk_bytes = pk.to_bytes(SerdeFormat::RawBytesUnchecked);
    let manifest = AggregateManifest {
        version: ARTIFACT_VERSION,
        circuit: CIRCUIT.into(),
        requests: dir.requests,
        leaves: dir.leaves,
        model_vk_sha256: model.manifest.vk_sha256.clone(),
        leaf_vk_sha256: leaf_vk,
        instances_per_request: per,
        instances: ACCUMULATOR_LIMBS + dir.requests * per,
        shape,
        insecure_dev_srs: insecure,
        srs_source,
        srs_sha256: sha256_hex(&srs_bytes),
        vk_sha256: sha256_hex(&vk_bytes),
        pk_sha256: sha256_hex(&pk_bytes),
    };
    std::fs::create_dir_all(dir.dir()).map_err(|e| ProverError::io(&dir.dir(), e))?;
    write_atomic(&dir.path(SRS_FILE), &srs_bytes)?;
    write_atomic(&dir.path(VK_FILE), &vk_bytes)?;
    write_atomic(&dir.path(PK_FILE), &pk_bytes)?;
    write_json(&dir.path(MANIFEST_FILE), &manifest)?;
    Ok(SetupReport {
        cached: false,
        manifest,
        seconds: start.elapsed().as_secs_f64(),
    })
}

/// The smallest `k` whose layout fits in [`MAX_ADVICE`] advice columns: one dry run at `2^20`
/// rows estimates the cells, a second at the estimate confirms it (the range table's size
/// follows `k`, so the count shifts a little).
fn smallest(
    srs: &Srs,
    snarks: &dyn Fn() -> Vec<snark_verifier_sdk::Snark>,
    nested: bool,
) -> Keygen {
    const PROBE: u32 = 20;
    let probe = Keygen::new(srs, snarks(), PROBE, nested);
    let cells = probe.advice() << PROBE;
    let mut k = 17;
    while cells.div_ceil(1 << k) > MAX_ADVICE {
        k += 1;
    }
    let mut probe = Some(probe);
    loop {
        let keygen = match probe.take() {
            Some(p) if k == PROBE => p,
            _ => Keygen::new(srs, snarks(), k, nested),
        };
        tracing::info!(k, advice = keygen.advice(), "aggregation layout");
        if keygen.advice() <= MAX_ADVICE || k >= 26 {
            return keygen;
        }
        k += 1;
    }
}

/// Aggregation is sound only over the model's own setup: the inner proofs' openings are decided
/// with the aggregation SRS's `[τ]₂`.
fn same_setup(model: &Srs, agg: &Srs) -> Result<(), AggregateError> {
    use halo2_proofs::poly::commitment::ParamsProver;
    if model.s_g2() != agg.s_g2() || model.get_g()[0] != agg.get_g()[0] {
        return Err(AggregateError::Request(
            "the aggregation SRS is from another setup than the model's keys".into(),
        ));
    }
    Ok(())
}

/// Aggregation keys, loaded and checked against their manifest.
pub struct AggregateKeys {
    /// The SRS at the aggregation size.
    pub srs: Srs,
    /// The verifying key.
    pub vk: VerifyingKey<G1Affine>,
    /// The proving key, when loaded for proving.
    pub pk: Option<ProvingKey<G1Affine>>,
    /// The manifest.
    pub manifest: AggregateManifest,
    /// The model's verifying keys.
    pub model: VerifierKeys,
}

/// Loads the keys; the proving key only when `prove`.
pub fn load(dir: &AggregateDir, prove: bool) -> Result<AggregateKeys, AggregateError> {
    let manifest = dir.manifest()?;
    let model = model_keys(&dir.model)?;
    if manifest.model_vk_sha256 != model.manifest.vk_sha256
        || manifest.requests != dir.requests
        || manifest.leaves != dir.leaves
        || manifest.circuit != CIRCUIT
    {
        return Err(AggregateError::Request(format!(
            "{}: made for another model key, N, tree or circuit; `zkinfer aggregate` remakes the keys",
            dir.dir().display()
        )));
    }
    let srs = srs::from_bytes(
        &dir.path(SRS_FILE),
        &dir.read_checked(SRS_FILE, &manifest.srs_sha256)?,
    )?;
    let params = manifest.shape.params();
    let vk_bytes = dir.read_checked(VK_FILE, &manifest.vk_sha256)?;
    let vk =
        VerifyingKey::from_bytes::<AggregationCircuit>(&vk_bytes, SerdeFormat::RawBytes, params)
            .map_err(|e| {
                ProverError::artifact(&dir.path(VK_FILE), format!("not a verifying key: {e}"))
            })?;
    let pk = if prove {
        let bytes = dir.read_checked(PK_FILE, &manifest.pk_sha256)?;
        let pk = ProvingKey::from_bytes::<AggregationCircuit>(
            &bytes,
            SerdeFormat::RawBytesUnchecked,
            manifest.shape.params(),
        )
        .map_err(|e| {
            ProverError::artifact(&dir.path(PK_FILE), format!("not a proving key: {e}"))
        })?;
        Some(pk)
    } else {
        None
    };
    Ok(AggregateKeys {
        srs,
        vk,
        pk,
        manifest,
        model,
    })
}
