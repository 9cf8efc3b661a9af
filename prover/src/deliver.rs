//! The client's half of the fair exchange: the output a settlement published, encrypted under
//! pads only the request's salt opens (see `zkinfer_circuits::usage`), decrypted and unpacked
//! for the model it was proven with, and checked against the output commitment the same proof
//! carries, so a client that reads an output here reads exactly what was proven and paid for.

use serde::Serialize;
use zkinfer_circuits::usage::{
    commit, completion_commitment, completion_words, decrypt, unpack, unpack_tokens,
    USAGE_INSTANCES,
};
use zkinfer_circuits::witness::num_instances;
use zkinfer_circuits::Fr;

use crate::artifacts::{ModelDir, SETTINGS_FILE};
use crate::ProverError;

/// What a settlement delivered to its client.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Delivered {
    /// A model's output rows (one per metered sample): quantized, and in real units.
    Tensor {
        /// Quantized rows as committed.
        output: Vec<Vec<i64>>,
        /// The rows dequantized.
        output_real: Vec<Vec<f64>>,
    },
    /// A generation's completion.
    Completion {
        /// Token ids, the stop token included when generation stopped at it.
        completion: Vec<u64>,
        /// The text, as `generate` reports it ([`crate::generate::detokenize`]).
        completion_text: String,
    },
}

/// A settled request as its event states it.
#[derive(Debug, Clone)]
pub struct Settled {
    /// The request.
    pub request_id: Fr,
    /// The proven output commitment.
    pub output_commitment: Fr,
    /// Metered output units.
    pub n_out: u64,
    /// The output ciphertext.
    pub ciphertext: Vec<Fr>,
}

/// Decrypts what `settled` published with the client's `salt`, for the model in `dir`.
pub fn open(dir: &ModelDir, settled: &Settled, salt: Fr) -> Result<Delivered, ProverError> {
    let settings = dir.settings()?;
    let model = dir.model()?;
    let words = match settings.slots {
        Some(slots) => completion_words(&[], slots.gen).len(),
        None => num_instances(&model, settings.batch) - USAGE_INSTANCES,
    };
    if settled.ciphertext.len() != words {
        return Err(ProverError::artifact(
            &dir.path(SETTINGS_FILE),
            format!(
                "this model's proofs carry {words} ciphertext words, the settlement {}",
                settled.ciphertext.len()
            ),
        ));
    }
    let words = decrypt(settled.request_id, salt, &settled.ciphertext);
    let mismatch = || {
        ProverError::Backend(
            "the ciphertext does not open to the proven output commitment: wrong salt, request \
             id or model"
                .into(),
        )
    };
    let rid = settled.request_id;
    if let Some(slots) = settings.slots {
        let tokens = unpack_tokens(&words, slots.gen).map_err(|_| mismatch())?;
        let n = (settled.n_out as usize).min(tokens.len());
        let completion = tokens[..n].to_vec();
        if completion_commitment(rid, salt, &completion, slots.gen) != settled.output_commitment {
            return Err(mismatch());
        }
        return Ok(Delivered::Completion {
            completion_text: crate::generate::detokenize(&completion),
            completion,
        });
    }
    let len = model.output_len();
    let values = unpack(&words, settings.batch * len).map_err(|_| mismatch())?;
    if commit(rid, salt, settled.n_out, &values)? != settled.output_commitment {
        return Err(mismatch());
    }
    let rows: Vec<&[i128]> = values.chunks(len).take(settled.n_out as usize).collect();
    Ok(Delivered::Tensor {
        output: rows
            .iter()
            .map(|r| r.iter().map(|v| *v as i64).collect())
            .collect(),
        output_real: rows.iter().map(|r| model.dequantize(r)).collect(),
    })
}
