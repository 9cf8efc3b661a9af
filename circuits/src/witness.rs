//! The private inputs of one proof and what the reference executor says they produce: the usage
//! statement every backend must prove, and the outputs.

use crate::graph::{execute, GraphError, Model};
use crate::usage::{commit, commit_tokens, encrypt, pack, UsageError, UsageStatement};
use crate::Fr;

#[derive(Debug, Clone)]
pub struct Witness {
    /// Quantized input rows (at most the batch size); the rest of the batch is zero padding.
    pub rows: Vec<Vec<i64>>,
    pub request_id: Fr,
    pub salt: Fr,
}

impl Witness {
    /// Every input value of the batch, row by row, padding rows zero: what the circuits lay out
    /// and the input commitment covers.
    pub fn padded_inputs(&self, batch: usize, len: usize) -> Vec<i64> {
        let mut flat: Vec<i64> = self.rows.iter().flatten().copied().collect();
        flat.resize(batch * len, 0);
        flat
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WitnessError {
    #[error(transparent)]
    Model(#[from] GraphError),
    #[error(transparent)]
    Usage(#[from] UsageError),
    #[error("{rows} input rows exceed the circuit's batch size {batch}")]
    TooManyRows { rows: usize, batch: usize },
    #[error("no input rows")]
    Empty,
}

/// What one run produced: the statement and the (unpadded) integer outputs.
#[derive(Debug, Clone)]
pub struct Run {
    pub statement: UsageStatement,
    pub outputs: Vec<Vec<i128>>,
}

/// Runs the reference executor on every row and computes the usage statement.
pub fn run(model: &Model, batch: usize, witness: &Witness) -> Result<Run, WitnessError> {
    if witness.rows.is_empty() {
        return Err(WitnessError::Empty);
    }
    if witness.rows.len() > batch {
        return Err(WitnessError::TooManyRows {
            rows: witness.rows.len(),
            batch,
        });
    }
    let outputs = witness
        .rows
        .iter()
        .map(|r| execute(model, r).map(|t| t.output()))
        .collect::<Result<Vec<_>, _>>()?;
    let n = witness.rows.len() as u64;
    let inputs: Vec<i128> = witness
        .padded_inputs(batch, model.input_len())
        .into_iter()
        .map(i128::from)
        .collect();
    let mut outs: Vec<i128> = outputs.iter().flatten().copied().collect();
    outs.resize(batch * model.output_len(), 0);
    let statement = UsageStatement {
        request_id: witness.request_id,
        input_commitment: if model.token_inputs() {
            commit_tokens(witness.request_id, witness.salt, n, &inputs)?
        } else {
            commit(witness.request_id, witness.salt, n, &inputs)?
        },
        output_commitment: commit(witness.request_id, witness.salt, n, &outs)?,
        n_in: n,
        n_out: n,
        ciphertext: encrypt(witness.request_id, witness.salt, &pack(&outs)?),
    };
    Ok(Run { statement, outputs })
}

/// Public instances of a model's proofs: the usage instances and one ciphertext word per
/// word the batch's outputs pack into.
pub fn num_instances(model: &Model, batch: usize) -> usize {
    let words = pack(&vec![0; batch * model.output_len()]).expect("zeros are int8");
    crate::usage::USAGE_INSTANCES + words.len()
}

/// Largest batch a proof may cover.
pub const MAX_BATCH: usize = 1024;

/// Checks a batch size (both backends).
pub fn check_batch(batch: usize) -> Result<(), GraphError> {
    if batch == 0 || batch > MAX_BATCH {
        return Err(GraphError::Shape(format!(
            "batch size {batch} must be in 1..={MAX_BATCH}"
        )));
    }
    Ok(())
}
