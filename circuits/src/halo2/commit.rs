//! Commitments inside the circuit: values packed into field elements on the dot chip (powers of
//! `2^bits` as coefficients), then the Poseidon chain of [`crate::usage`] over
//! `head ‖ words`.

use halo2_proofs::plonk::Error;
use halo2curves::ff::Field;

use super::chips::dot::Term;
use super::config::CircuitConfig;
use super::ctx::{Ctx, Wire};
use crate::field::fr_from_i64;
use crate::usage::{chain_with, BYTES_PER_WORD, BYTE_OFFSET, TOKENS_PER_WORD, TOKEN_BITS};
use crate::Fr;

/// How values become words: `per_word` values of `bits` bits, each stored as `v + offset`.
#[derive(Debug, Clone, Copy)]
pub struct Packing {
    pub bits: u32,
    pub per_word: usize,
    pub offset: i64,
}

/// int8 tensors: bytes `v + 128`, 31 a word.
pub const BYTES: Packing = Packing {
    bits: 8,
    per_word: BYTES_PER_WORD,
    offset: BYTE_OFFSET,
};

/// Tokens: 16 bits each, 15 a word.
pub const TOKENS: Packing = Packing {
    bits: TOKEN_BITS,
    per_word: TOKENS_PER_WORD,
    offset: 0,
};

/// Packs `values` and chains Poseidon over `head ‖ words`; returns the value cells and the
/// commitment.
pub fn commit(
    cfg: &CircuitConfig,
    ctx: &mut Ctx,
    head: &[&Wire],
    values: &[Term],
    packing: Packing,
) -> Result<(Vec<Wire>, Wire), Error> {
    let mut cells = Vec::with_capacity(values.len());
    let mut elements: Vec<Wire> = head.iter().map(|w| (*w).clone()).collect();
    let base = Fr::from(2).pow_vartime([packing.bits as u64]);
    for chunk in values.chunks(packing.per_word) {
        let coeffs: Vec<Fr> = (0..chunk.len())
            .map(|i| base.pow_vartime([i as u64]))
            .collect();
        let offset = coeffs.iter().fold(Fr::ZERO, |s, c| s + c) * fr_from_i64(packing.offset);
        let (xs, word) = cfg.dot.assign(ctx, &coeffs, chunk, offset)?;
        cells.extend(xs);
        elements.push(word);
    }
    let zero = ctx.constant(cfg.main[0], ctx.row, Fr::ZERO)?;
    ctx.row += 1;
    let h = chain_with(&elements, &zero, |ins| {
        cfg.poseidon.hash(ctx, ins.map(Some))
    })?;
    Ok((cells, h))
}
