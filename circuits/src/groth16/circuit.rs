//! The Groth16 model circuit: public inputs in statement order (request id, input commitment,
//! output commitment, n_in, n_out, the output ciphertext), the batch mask, range checks on every
//! input (int8, or its narrower declared range), the model's graph per row, masked outputs, both commitments computed exactly as
//! `usage::commit` and the ciphertext as `usage::encrypt` over the output commitment's words.

use std::sync::Arc;

use ark_ff::{AdditiveGroup, Field};
use ark_relations::gr1cs::{ConstraintSynthesizer, ConstraintSystemRef};

use super::cs::{Cs, Num, Result};
use super::gadgets::{mask::mask, poseidon::hash};
use super::instructions::R1csOps;
use super::{to_ark, F};
use crate::field::fr_from_i64;
use crate::graph::{lower, GraphError, Model};
use crate::ops::Op;
use crate::usage::{chain_with, cipher_domain, BYTES_PER_WORD, BYTE_OFFSET};
use crate::witness::{check_batch, run, Run, Witness, WitnessError};

/// A model over a batch size: what a Groth16 key is made for.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The validated model.
    pub model: Arc<Model>,
    /// Samples one proof covers.
    pub batch: usize,
}

impl Shape {
    /// The shape of `model` over `batch` samples.
    pub fn new(model: Model, batch: usize) -> std::result::Result<Self, GraphError> {
        check_batch(batch)?;
        if let Some(i) = model.graph().inputs.iter().find(|i| i.tokens) {
            return Err(GraphError::Input {
                name: i.name.clone(),
                msg: "token ids are committed 16 bits each, which the Groth16 circuit does not \
                      pack (use the halo2 backend)"
                    .into(),
            });
        }
        if let Some(node) = model.graph().nodes.iter().find(|n| n.op.needs_lookups()) {
            let what = match &node.op {
                Op::Table(t) => format!("{} is a function table", t.func),
                other => format!("{} has an exp table", other.name()),
            };
            return Err(GraphError::Node {
                node: node.name.clone(),
                op: node.op.name(),
                msg: format!(
                    "{what}, which needs lookups; Groth16 has none (use the halo2 backend)"
                ),
            });
        }
        Ok(Self {
            model: Arc::new(model),
            batch,
        })
    }

    /// Public inputs of this shape's proofs.
    pub fn num_instances(&self) -> usize {
        crate::witness::num_instances(&self.model, self.batch)
    }
}

#[derive(Clone)]
pub struct Groth16Circuit {
    pub shape: Arc<Shape>,
    pub witness: Option<Arc<Witness>>,
}

fn f64_(v: i64) -> F {
    to_ark(&fr_from_i64(v))
}

impl Groth16Circuit {
    pub fn shape(shape: Arc<Shape>) -> Self {
        Self {
            shape,
            witness: None,
        }
    }

    pub fn prepare(
        shape: Arc<Shape>,
        witness: Witness,
    ) -> std::result::Result<(Self, Run), WitnessError> {
        let run = run(&shape.model, shape.batch, &witness)?;
        Ok((
            Self {
                shape,
                witness: Some(Arc::new(witness)),
            },
            run,
        ))
    }

    fn known<T>(&self, f: impl FnOnce(&Witness) -> T) -> Option<T> {
        self.witness.as_deref().map(f)
    }
}

/// Packs int8 values into words and chains Poseidon over `[request_id, salt, count, words...]`;
/// returns the words and the commitment.
fn commit(cs: &Cs, head: [&Num; 3], values: &[Num]) -> Result<(Vec<Num>, Num)> {
    let mut elements: Vec<Num> = head.iter().map(|n| (*n).clone()).collect();
    for chunk in values.chunks(BYTES_PER_WORD) {
        let coeffs: Vec<F> = (0..chunk.len())
            .map(|i| F::from(256u64).pow([i as u64]))
            .collect();
        let offset = coeffs.iter().sum::<F>() * F::from(BYTE_OFFSET as u64);
        let terms: Vec<(F, &Num)> = coeffs.iter().zip(chunk).map(|(k, v)| (*k, v)).collect();
        elements.push(Num::sum(&terms, offset));
    }
    let h = chain_with(&elements, &Num::constant(F::ZERO), |ins| hash(cs, ins))?;
    Ok((elements.split_off(head.len()), h))
}

/// `c_j = w_j + Poseidon(D, salt, request_id, j)`, each a public input.
fn encrypt(cs: &Cs, request_id: &Num, salt: &Num, words: &[Num]) -> Result<()> {
    let domain = Num::constant(to_ark(&cipher_domain()));
    for (j, w) in words.iter().enumerate() {
        let index = Num::constant(F::from(j as u64));
        let c = w.plus(&hash(cs, [&domain, salt, request_id, &index])?);
        cs.equal(&c, &cs.input(c.value)?)?;
    }
    Ok(())
}

impl ConstraintSynthesizer<F> for Groth16Circuit {
    fn generate_constraints(self, cs: ConstraintSystemRef<F>) -> Result<()> {
        let cs = Cs::new(cs);
        let shape = &self.shape;
        let (in_len, batch) = (shape.model.input_len(), shape.batch);
        let request_id = cs.input(self.known(|w| to_ark(&w.request_id)))?;
        let salt = cs.witness(self.known(|w| to_ark(&w.salt)))?;
        let bits: Vec<Option<F>> = (0..batch)
            .map(|i| self.known(|w| F::from((i < w.rows.len()) as u64)))
            .collect();
        let (bits, count) = mask(&cs, &bits)?;

        let values = self.known(|w| w.padded_inputs(batch, in_len));
        let mut xs = Vec::with_capacity(batch * in_len);
        let ranges: Vec<(i64, i64)> = shape.model.input_ranges().collect();
        for i in 0..batch * in_len {
            let x = cs.witness(values.as_ref().map(|v| f64_(v[i])))?;
            // int8 as a byte; an input declared narrower to its range, `x - min` and `max - x`
            match ranges[i % in_len] {
                (-128, 127) => cs.range(&x.scale_add(F::ONE, F::from(BYTE_OFFSET as u64)), 8)?,
                (min, max) => {
                    let b = (64 - (max - min).leading_zeros()).max(1);
                    cs.range(&x.scale_add(F::ONE, f64_(-min)), b)?;
                    // a span of 2^b - 1 (a boolean, a byte) is bounded by the first check alone
                    if max - min != (1 << b) - 1 {
                        cs.range(&x.scale_add(-F::ONE, f64_(max)), b)?;
                    }
                }
            }
            xs.push(x);
        }
        let (_, in_commit) = commit(&cs, [&request_id, &salt, &count], &xs)?;
        cs.equal(&in_commit, &cs.input(in_commit.value)?)?;

        let mut outputs = Vec::new();
        for (b, bit) in bits.iter().enumerate() {
            let row = xs[b * in_len..(b + 1) * in_len].to_vec();
            for y in &lower(&shape.model, &mut R1csOps(&cs), row)? {
                outputs.push(cs.mul(y, bit)?);
            }
        }
        let (words, out_commit) = commit(&cs, [&request_id, &salt, &count], &outputs)?;
        cs.equal(&out_commit, &cs.input(out_commit.value)?)?;
        for _ in 0..2 {
            cs.equal(&count, &cs.input(count.value)?)?;
        }
        encrypt(&cs, &request_id, &salt, &words)
    }
}
