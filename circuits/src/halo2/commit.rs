//! Commitments inside the circuit: values packed into field elements on the dot chip (powers of
//! `2^bits` as coefficients), then the Poseidon chain of [`crate::usage`] over
//! `head ‖ words`; and the output ciphertext, each packed word plus its Poseidon pad.
//!
//! Sound because every cell is tied down: the packed words are the dot chip's sums of the value
//! cells, the pads are Poseidon chip outputs over the copied salt and request id with the domain
//! tag and word index pinned as constants, and each ciphertext word is a dot-chip sum of a word
//! and its pad, copied into the instance column by the caller.

use halo2_proofs::plonk::Error;
use halo2curves::ff::Field;

use super::chips::dot::Term;
use super::config::CircuitConfig;
use super::ctx::{Ctx, Wire};
use crate::field::fr_from_i64;
use crate::usage::{
    chain_with, cipher_domain, BYTES_PER_WORD, BYTE_OFFSET, TOKENS_PER_WORD, TOKEN_BITS,
};
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

/// What [`commit`] laid out.
pub struct Committed {
    /// The value cells.
    pub cells: Vec<Wire>,
    /// The packed words.
    pub words: Vec<Wire>,
    /// The chain's result.
    pub commitment: Wire,
}

/// Packs `values` and chains Poseidon over `head ‖ words`.
pub fn commit(
    cfg: &CircuitConfig,
    ctx: &mut Ctx,
    head: &[&Wire],
    values: &[Term],
    packing: Packing,
) -> Result<Committed, Error> {
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
    Ok(Committed {
        cells,
        words: elements.split_off(head.len()),
        commitment: h,
    })
}

/// The ciphertext of `words`: `c_j = w_j + Poseidon(D, salt, request_id, j)`.
pub fn encrypt(
    cfg: &CircuitConfig,
    ctx: &mut Ctx,
    request_id: &Wire,
    salt: &Wire,
    words: &[Wire],
) -> Result<Vec<Wire>, Error> {
    let row = ctx.row;
    let domain = ctx.constant(cfg.main[0], row, cipher_domain())?;
    ctx.row += 1;
    let mut out = Vec::with_capacity(words.len());
    for (j, word) in words.iter().enumerate() {
        let index = ctx.constant(cfg.main[0], ctx.row, Fr::from(j as u64))?;
        ctx.row += 1;
        let pad = cfg.poseidon.hash(
            ctx,
            [Some(&domain), Some(salt), Some(request_id), Some(&index)],
        )?;
        let terms = [Term::Copy(word), Term::Copy(&pad)];
        let (_, c) = cfg.dot.assign(ctx, &[Fr::ONE, Fr::ONE], &terms, Fr::ZERO)?;
        out.push(c);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use halo2_proofs::circuit::Value;

    use super::*;
    use crate::halo2::chips::harness::{cells, fails, passes, Config};
    use crate::usage;

    const REQUEST: u64 = 7;
    const SALT: u64 = 9;
    const WORDS: [u64; 2] = [1234, 5678];

    /// Encrypts [`WORDS`] and pins each ciphertext cell to `want`'s word.
    fn layout(want: Vec<Fr>) -> impl Fn(&Config, &mut Ctx) -> Result<(), Error> + Clone {
        move |cfg, ctx| {
            let b = &cfg.base;
            let vals = [REQUEST, SALT, WORDS[0], WORDS[1]];
            let w: Vec<Wire> = vals
                .iter()
                .enumerate()
                .map(|(i, v)| ctx.assign(b.main[i], 0, Value::known(Fr::from(*v))))
                .collect();
            ctx.row = 1;
            let c = encrypt(b, ctx, &w[0], &w[1], &w[2..])?;
            for (cell, v) in c.iter().zip(&want) {
                ctx.constrain_constant(cell.cell, *v)?;
            }
            Ok(())
        }
    }

    fn reference(request: u64, salt: u64, words: [u64; 2]) -> Vec<Fr> {
        usage::encrypt(Fr::from(request), Fr::from(salt), &words.map(Fr::from))
    }

    #[test]
    fn ciphertext_matches_the_reference() {
        passes(layout(reference(REQUEST, SALT, WORDS)));
    }

    #[test]
    fn a_ciphertext_under_other_pads_or_of_other_words_fails() {
        fails(layout(reference(REQUEST, SALT + 1, WORDS)));
        fails(layout(reference(REQUEST + 1, SALT, WORDS)));
        fails(layout(reference(REQUEST, SALT, [WORDS[0], WORDS[1] + 1])));
    }

    #[test]
    fn every_cell_is_bound() {
        assert!(cells(layout(reference(REQUEST, SALT, WORDS)), "encrypt") > 4);
    }
}
