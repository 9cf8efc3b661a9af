//! The KZG structured reference string. A dev SRS is generated from a public seed: it is
//! reproducible (auditors get the same keys) and therefore insecure, since anyone can recompute
//! its toxic waste; every artifact made with it says so. A real SRS is loaded from a file in
//! halo2's `ParamsKZG` format or a snarkjs powers-of-tau file ([`crate::ptau`]) and truncated to
//! the circuit's size.

use std::path::Path;

use halo2_proofs::poly::commitment::Params;
use halo2_proofs::poly::kzg::commitment::ParamsKZG;
use rand::SeedableRng;
use sha2::{Digest, Sha256};

use crate::{Bn256, ProverError};

pub const DEV_SEED_LABEL: &str = "zkinfer insecure dev srs v1";

pub type Srs = ParamsKZG<Bn256>;

/// Generates the insecure dev SRS for `2^k` rows.
pub fn dev(k: u32) -> Srs {
    tracing::warn!(
        "generating an INSECURE dev SRS from a public seed: proofs made with it can be forged"
    );
    let seed: [u8; 32] = Sha256::digest(DEV_SEED_LABEL.as_bytes()).into();
    ParamsKZG::setup(k, rand_chacha::ChaCha20Rng::from_seed(seed))
}

/// Loads an SRS, in halo2's format or as a snarkjs `.ptau` file, truncated to `2^k` rows.
pub fn load(path: &Path, k: u32) -> Result<Srs, ProverError> {
    let bytes = crate::artifacts::read_bytes(path)?;
    if crate::ptau::is_ptau(&bytes) {
        return crate::ptau::load(path, &bytes, k);
    }
    let mut srs = Srs::read(&mut &bytes[..])
        .map_err(|e| ProverError::artifact(path, format!("not a halo2 KZG SRS: {e}")))?;
    if srs.k() < k {
        return Err(ProverError::artifact(
            path,
            format!("SRS has 2^{} points, the circuit needs 2^{k}", srs.k()),
        ));
    }
    if srs.k() > k {
        srs.downsize(k);
    }
    Ok(srs)
}

pub fn to_bytes(srs: &Srs) -> Vec<u8> {
    let mut out = Vec::new();
    srs.write(&mut out).expect("writing to memory");
    out
}

pub fn from_bytes(path: &Path, bytes: &[u8]) -> Result<Srs, ProverError> {
    Srs::read(&mut &bytes[..])
        .map_err(|e| ProverError::artifact(path, format!("not a halo2 KZG SRS: {e}")))
}
