//! The proof systems behind one trait. A model directory records its backend as a
//! [`BackendId`] (serialized as the same identifier every artifact has always carried), and
//! every stage — sizing at compile, setup, proving, verification, and the keys a verifier is
//! generated from — asks that id for its [`Backend`] instead of comparing names. Adding a proof
//! system is one more variant and one more implementation here; nothing else dispatches.

use std::fmt;

use serde::{Deserialize, Serialize};
use zkinfer_circuits::graph::Model;
use zkinfer_circuits::halo2::plan::Objective;

use crate::artifacts::{ModelDir, Settings};
use crate::keys::{self, LoadedVerifier, ProvingBackend, SetupReport, SrsSource};
use crate::ProverError;

/// Which proof system a model directory, its keys and its proofs belong to.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub enum BackendId {
    /// halo2 (PSE's API, Axiom's fork) with KZG on BN254 and SHPLONK openings.
    #[default]
    #[serde(rename = "halo2-kzg-bn254-shplonk")]
    Halo2,
    /// Groth16 on BN254 (arkworks), circuit-specific keys.
    #[serde(rename = "groth16-bn254")]
    Groth16,
}

impl BackendId {
    /// The identifier written into settings, manifests and proof files.
    pub const fn id(self) -> &'static str {
        match self {
            BackendId::Halo2 => "halo2-kzg-bn254-shplonk",
            BackendId::Groth16 => "groth16-bn254",
        }
    }

    /// The proof system this id names.
    pub fn backend(self) -> &'static dyn Backend {
        match self {
            BackendId::Halo2 => &Halo2,
            BackendId::Groth16 => &Groth16,
        }
    }
}

impl std::str::FromStr for BackendId {
    type Err = ProverError;

    /// The backend a proof file or a user names, by its identifier.
    fn from_str(s: &str) -> Result<Self, ProverError> {
        [BackendId::Halo2, BackendId::Groth16]
            .into_iter()
            .find(|b| b.id() == s)
            .ok_or_else(|| ProverError::Backend(format!("unknown backend `{s}`")))
    }
}

impl fmt::Display for BackendId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

/// What a model directory holds: a graph proved on one input per sample, or a decoder whose
/// generation is proved (halo2 only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelKind {
    /// A graph-IR model (`model.json` is a [`Model`]).
    Graph,
    /// A decoder graph for generation (`model.json` is a [`Model`] with a token input; settings
    /// record slots and the stop token).
    Decoder,
}

/// One proof system: how it sizes, sets up, proves and verifies a model directory.
pub trait Backend: Sync {
    /// Its id.
    fn id(&self) -> BackendId;
    /// Whether setup takes a universal SRS (`--srs` or `--dev-srs`).
    fn universal_srs(&self) -> bool;
    /// Writes the circuit's size for `model` at `batch` into `settings`, from a dry run of the
    /// circuit's layout.
    fn size(
        &self,
        model: &Model,
        batch: usize,
        objective: Objective,
        settings: &mut Settings,
    ) -> Result<(), ProverError>;
    /// Generates (or reuses, when nothing changed) the directory's keys.
    fn setup(&self, dir: &ModelDir, srs: &SrsSource) -> Result<SetupReport, ProverError>;
    /// The directory's prover for graph models, its keys checked against the manifest.
    fn prover(&self, dir: &ModelDir) -> Result<Box<dyn ProvingBackend>, ProverError>;
    /// The directory's verifying keys, checked against the manifest; the Solidity verifier is
    /// generated from these.
    fn verifier(&self, dir: &ModelDir) -> Result<LoadedVerifier, ProverError>;
}

/// halo2 with KZG.
struct Halo2;

/// Groth16.
struct Groth16;

impl Backend for Halo2 {
    fn id(&self) -> BackendId {
        BackendId::Halo2
    }

    fn universal_srs(&self) -> bool {
        true
    }

    fn size(
        &self,
        model: &Model,
        batch: usize,
        objective: Objective,
        s: &mut Settings,
    ) -> Result<(), ProverError> {
        let plan = zkinfer_circuits::halo2::Plan::optimized(model.clone(), batch, objective)?;
        (s.k, s.main_rows, s.range_rows, s.shape) = (
            Some(plan.k),
            Some(plan.main_rows),
            Some(plan.range_rows),
            Some(plan.shape),
        );
        Ok(())
    }

    fn setup(&self, dir: &ModelDir, srs: &SrsSource) -> Result<SetupReport, ProverError> {
        keys::setup_halo2(dir, srs)
    }

    fn prover(&self, dir: &ModelDir) -> Result<Box<dyn ProvingBackend>, ProverError> {
        Ok(Box::new(keys::load_halo2_prover(dir)?))
    }

    fn verifier(&self, dir: &ModelDir) -> Result<LoadedVerifier, ProverError> {
        keys::load_halo2_verifier(dir).map(LoadedVerifier::Halo2)
    }
}

impl Backend for Groth16 {
    fn id(&self) -> BackendId {
        BackendId::Groth16
    }

    fn universal_srs(&self) -> bool {
        false
    }

    /// One R1CS whatever the objective: Groth16's verifier costs the same for any circuit.
    fn size(
        &self,
        model: &Model,
        batch: usize,
        _: Objective,
        s: &mut Settings,
    ) -> Result<(), ProverError> {
        let shape = std::sync::Arc::new(zkinfer_circuits::groth16::circuit::Shape::new(
            model.clone(),
            batch,
        )?);
        s.constraints = Some(crate::groth16::constraint_count(shape)?);
        Ok(())
    }

    fn setup(&self, dir: &ModelDir, _srs: &SrsSource) -> Result<SetupReport, ProverError> {
        keys::setup_groth16(dir)
    }

    fn prover(&self, dir: &ModelDir) -> Result<Box<dyn ProvingBackend>, ProverError> {
        Ok(Box::new(keys::load_groth16_prover(dir)?))
    }

    fn verifier(&self, dir: &ModelDir) -> Result<LoadedVerifier, ProverError> {
        keys::load_groth16_verifier(dir).map(LoadedVerifier::Groth16)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_serialize_as_the_artifacts_always_have() {
        for b in [BackendId::Halo2, BackendId::Groth16] {
            let s = serde_json::to_string(&b).unwrap();
            assert_eq!(s, format!("\"{}\"", b.id()));
            assert_eq!(serde_json::from_str::<BackendId>(&s).unwrap(), b);
            assert_eq!(b.backend().id(), b);
            assert_eq!(b.id().parse::<BackendId>().unwrap(), b);
        }
        let e = serde_json::from_str::<BackendId>("\"plonky9\"").unwrap_err();
        assert!(e.to_string().contains("unknown variant `plonky9`"), "{e}");
    }
}
