//! On-disk artifacts of a compiled model directory. JSON for what people read, binary for keys;
//! each file is written to a temporary sibling and renamed, so a failure never leaves a
//! half-written file or clobbers a good one.
//!
//! | file            | written by | content                                          |
//! |-----------------|------------|--------------------------------------------------|
//! | `model.json`    | compile    | the quantized IR                                 |
//! | `settings.json` | compile    | backend, batch size, circuit size                |
//! | `accuracy.json` | compile    | quantized vs float on the calibration set        |
//! | `compile.json`  | compile    | the options it was compiled with ([`crate::compile::Recipe`]) |
//! | `source.onnx`   | compile    | a copy of the ONNX file it was compiled from     |
//! | `calibration.json` | compile | a copy of the calibration set                    |
//! | `kzg.srs`       | setup      | KZG parameters for `2^k` rows (halo2 format)     |
//! | `vk.bin`        | setup      | verifying key (halo2 `RawBytes`)                 |
//! | `pk.bin`        | setup      | proving key (halo2 `RawBytesUnchecked`)          |
//! | `manifest.json` | setup      | SHA-256 of all of the above, SRS provenance      |
//!
//! Groth16 directories hold no SRS; their keys are ark-serialize compressed, and setup also
//! writes `verification_key.json` in snarkjs's format.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use zkinfer_circuits::decoder::{Decoder, Slots};
use zkinfer_circuits::graph::Model;
use zkinfer_circuits::groth16::circuit::Shape;
use zkinfer_circuits::halo2::config::Shape as Halo2Shape;
use zkinfer_circuits::halo2::decoder::DecodePlan;
use zkinfer_circuits::halo2::Plan;

use crate::backend::{BackendId, ModelKind};
use crate::ProverError;

/// 2: the statement carries the output ciphertext after the five usage instances.
pub const ARTIFACT_VERSION: u32 = 2;
pub const MODEL_FILE: &str = "model.json";
pub const SETTINGS_FILE: &str = "settings.json";
pub const ACCURACY_FILE: &str = "accuracy.json";
pub const SRS_FILE: &str = "kzg.srs";
pub const VK_FILE: &str = "vk.bin";
pub const PK_FILE: &str = "pk.bin";
pub const MANIFEST_FILE: &str = "manifest.json";
pub const SNARKJS_VK_FILE: &str = "verification_key.json";
pub const RECIPE_FILE: &str = "compile.json";
pub const SOURCE_FILE: &str = "source.onnx";
pub const CALIBRATION_FILE: &str = "calibration.json";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settings {
    pub version: u32,
    pub backend: BackendId,
    pub batch: usize,
    /// halo2: circuit size and the rows each lane uses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub main_rows: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_rows: Option<usize>,
    /// halo2: the configuration the plan chose at compile, laid out again as is by later
    /// commands (directories compiled before it was recorded are planned again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shape: Option<Halo2Shape>,
    /// Groth16: number of R1CS constraints.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub constraints: Option<usize>,
    /// SHA-256 of the ONNX file the model was compiled from.
    pub source_sha256: String,
    /// Decoders: the prompt and generated token slots of the generation circuit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slots: Option<Slots>,
    /// Decoder graphs (with `slots`): `model.json` is the graph, generated greedily.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub graph_decoder: Option<GraphDecoder>,
}

/// How a decoder graph generates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GraphDecoder {
    /// Generation stops after this token; `null`: only at the client's `max_tokens`.
    pub stop_token: Option<u64>,
}

impl Settings {
    /// A decoder when the settings record generation slots, a graph otherwise.
    pub fn kind(&self) -> ModelKind {
        match self.slots {
            Some(_) => ModelKind::Decoder,
            None => ModelKind::Graph,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    pub backend: BackendId,
    pub transcript: String,
    /// True when the setup is a development one (a KZG SRS from a public seed, or a single-party
    /// Groth16 setup): proofs under these keys can be forged.
    pub insecure_dev_srs: bool,
    pub srs_source: String,
    pub k: u32,
    /// Public instances of this key's proofs: the five usage instances and the output
    /// ciphertext's words.
    pub instances: usize,
    pub model_sha256: String,
    pub settings_sha256: String,
    pub srs_sha256: String,
    pub vk_sha256: String,
    pub pk_sha256: String,
    /// The circuit code the keys were made by ([`zkinfer_circuits::CIRCUIT_CODE`]); empty in
    /// manifests written before it was recorded, whose keys are then made again.
    #[serde(default)]
    pub circuit_code: String,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub fn read_bytes(path: &Path) -> Result<Vec<u8>, ProverError> {
    std::fs::read(path).map_err(|e| ProverError::io(path, e))
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, ProverError> {
    let bytes = read_bytes(path)?;
    serde_json::from_slice(&bytes)
        .map_err(|e| ProverError::artifact(path, format!("invalid JSON: {e}")))
}

/// Writes `bytes` to `path` atomically (temporary sibling, fsync, rename).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ProverError> {
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| ProverError::io(dir, e))?;
    let name = path
        .file_name()
        .ok_or_else(|| ProverError::artifact(path, "not a file path"))?;
    let tmp = dir.join(format!(
        ".{}.tmp{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(ProverError::io(path, e));
    }
    Ok(())
}

pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), ProverError> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("artifacts serialize");
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}

/// A halo2 circuit plan: a model over a batch, or a decoder's generation.
#[derive(Debug, Clone)]
pub enum Halo2Plan {
    Model(Arc<Plan>),
    Decode(Arc<DecodePlan>),
}

impl Halo2Plan {
    /// Public instances of the plan's proofs.
    pub fn num_instances(&self) -> usize {
        match self {
            Self::Model(p) => p.num_instances(),
            Self::Decode(p) => p.num_instances(),
        }
    }

    pub fn k(&self) -> u32 {
        match self {
            Self::Model(p) => p.k,
            Self::Decode(p) => p.k,
        }
    }
}

/// A compiled model directory.
#[derive(Debug, Clone)]
pub struct ModelDir {
    pub dir: PathBuf,
}

impl ModelDir {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    pub fn model(&self) -> Result<Model, ProverError> {
        let path = self.path(MODEL_FILE);
        // Deserializing a model validates it (shapes, cycles, bounds).
        read_json(&path)
    }

    pub fn settings(&self) -> Result<Settings, ProverError> {
        let path = self.path(SETTINGS_FILE);
        let s: Settings = read_json(&path)?;
        if s.version != ARTIFACT_VERSION {
            return Err(ProverError::artifact(
                &path,
                format!("unsupported settings version {}", s.version),
            ));
        }
        Ok(s)
    }

    /// The halo2 circuit plan, checked against the recorded settings.
    pub fn plan(&self) -> Result<Arc<Plan>, ProverError> {
        let settings = self.settings()?;
        let plan = match settings.shape {
            Some(shape) => Plan::recorded(self.model()?, settings.batch, shape)
                .map_err(|e| ProverError::artifact(&self.path(SETTINGS_FILE), e.to_string()))?,
            None => Plan::new(self.model()?, settings.batch)?,
        };
        if settings.k != Some(plan.k) {
            let msg = format!(
                "records {} but the model needs k = {} (halo2)",
                recorded("k", settings.k),
                plan.k
            );
            return Err(ProverError::artifact(&self.path(SETTINGS_FILE), msg));
        }
        let rows = (settings.main_rows, settings.range_rows);
        if settings.shape.is_some() && rows != (Some(plan.main_rows), Some(plan.range_rows)) {
            let msg = format!(
                "records {} and {} but the layout of its shape needs {} main and {} range rows",
                recorded("main_rows", settings.main_rows),
                recorded("range_rows", settings.range_rows),
                plan.main_rows,
                plan.range_rows
            );
            return Err(ProverError::artifact(&self.path(SETTINGS_FILE), msg));
        }
        Ok(Arc::new(plan))
    }

    /// A decoder's settings must record the `k` its circuit needs.
    fn same_k(&self, settings: &Settings, k: u32) -> Result<(), ProverError> {
        if settings.k == Some(k) {
            return Ok(());
        }
        let msg = format!(
            "records {} but the decoder needs k = {k}",
            recorded("k", settings.k)
        );
        Err(ProverError::artifact(&self.path(SETTINGS_FILE), msg))
    }

    /// The decoder-graph circuit plan, checked against the recorded settings.
    pub fn decode_plan(&self) -> Result<Arc<DecodePlan>, ProverError> {
        let settings = self.settings()?;
        let path = self.path(SETTINGS_FILE);
        let Some(slots) = settings.slots else {
            return Err(ProverError::artifact(
                &path,
                "not a decoder (no generation slots)",
            ));
        };
        let Some(g) = &settings.graph_decoder else {
            let msg = "generation slots without a decoder graph: an older zkinfer compiled \
                this for its retired tiny-GPT circuit; run `zkinfer compile` on the ONNX again";
            return Err(ProverError::artifact(&path, msg));
        };
        let bad =
            |e: zkinfer_circuits::decoder::DecodeError| ProverError::artifact(&path, e.to_string());
        let decoder = Decoder::new(self.model()?, slots, g.stop_token).map_err(bad)?;
        let plan = match settings.shape {
            Some(shape) => DecodePlan::recorded(decoder, shape),
            None => DecodePlan::new(decoder),
        }
        .map_err(bad)?;
        self.same_k(&settings, plan.k)?;
        Ok(Arc::new(plan))
    }

    /// The halo2 circuit of this directory, whichever kind it is.
    pub fn halo2(&self) -> Result<Halo2Plan, ProverError> {
        Ok(match self.settings()?.kind() {
            ModelKind::Decoder => Halo2Plan::Decode(self.decode_plan()?),
            ModelKind::Graph => Halo2Plan::Model(self.plan()?),
        })
    }

    /// The Groth16 circuit shape.
    pub fn shape(&self) -> Result<Arc<Shape>, ProverError> {
        Ok(Arc::new(Shape::new(self.model()?, self.settings()?.batch)?))
    }

    /// How the directory was compiled; directories compiled before recipes were kept have none.
    pub fn recipe(&self) -> Result<crate::compile::Recipe, ProverError> {
        let path = self.path(RECIPE_FILE);
        if !path.is_file() {
            let msg = "no compile recipe: this directory was compiled by an older zkinfer or \
                without `zkinfer compile`; compile the ONNX file again";
            return Err(ProverError::artifact(&path, msg));
        }
        read_json(&path)
    }

    pub fn manifest(&self) -> Result<Manifest, ProverError> {
        read_json(&self.path(MANIFEST_FILE))
    }

    /// Reads `file`, failing unless its SHA-256 is `want` (a corrupt or swapped artifact).
    pub fn read_checked(&self, file: &str, want: &str) -> Result<Vec<u8>, ProverError> {
        let path = self.path(file);
        let bytes = read_bytes(&path)?;
        let got = sha256_hex(&bytes);
        if got != want {
            return Err(ProverError::artifact(
                &path,
                format!(
                    "SHA-256 {got} does not match the manifest ({want}); rerun `zkinfer setup`"
                ),
            ));
        }
        Ok(bytes)
    }
}

/// `name = value` of a recorded setting, or that it is missing, for error messages.
fn recorded(name: &str, value: Option<impl std::fmt::Display>) -> String {
    match value {
        Some(v) => format!("{name} = {v}"),
        None => format!("no {name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"first").unwrap();
        write_atomic(&p, b"second").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"second");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        // a directory in the way: the error names the path and nothing is left behind
        let blocked = dir.path().join("sub");
        std::fs::create_dir(&blocked).unwrap();
        let err = write_atomic(&blocked, b"x").unwrap_err().to_string();
        assert!(err.contains("sub"), "{err}");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2);
    }
}
