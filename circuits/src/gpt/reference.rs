//! The bit-exact integer semantics of the decoder and of greedy generation: the spec that the
//! generation circuit is tested against. Each op is a small function so that chips and tests can
//! name the one they implement.

use super::tables::{exp_table, gelu_table};
use super::{Gpt, GptError, Linear, Norm, ACT, LOGIT, PROB_BITS, RES, RSQRT_BITS, SCORE_BITS};
use crate::ops::rescale::rescale;

/// Clamped rescale with multiplier 1; accumulators of a validated model never overflow `i128`.
fn shift_round(acc: i128, shift: u32, clamp: (i64, i64)) -> i64 {
    rescale(acc, 1, shift, clamp.0, clamp.1).expect("multiplier 1 never overflows")
}

/// Token embedding plus positional embedding (Gather, then Add; never clamped: both are within
/// [`ACT`], so the sum is within [`RES`]).
pub fn embed(m: &Gpt, token: usize, pos: usize) -> Vec<i64> {
    let d = m.d_model;
    (0..d)
        .map(|c| m.tok[token * d + c] + m.pos[pos * d + c])
        .collect()
}

/// `rescale(Σ w·x + b + (residual << shift), shift)`, clamped to `clamp`: a linear layer, with
/// the residual Add folded into its accumulator.
pub fn linear(l: &Linear, x: &[i64], residual: Option<&[i64]>, clamp: (i64, i64)) -> Vec<i64> {
    (0..l.out_dim)
        .map(|o| {
            let mut acc: i128 = l.bias[o] as i128;
            for (w, v) in l.row(o).iter().zip(x) {
                acc += (*w as i128) * (*v as i128);
            }
            if let Some(r) = residual {
                acc += (r[o] as i128) << l.shift;
            }
            shift_round(acc, l.shift, clamp)
        })
        .collect()
}

/// `floor(2^RSQRT_BITS / sqrt(v))`: the unique `r ≥ 0` with `r²·v ≤ 2^(2R) < (r+1)²·v`.
pub fn rsqrt(v: i128) -> i128 {
    assert!(v > 0);
    let t = (1i128 << (2 * RSQRT_BITS)) / v;
    // Integer square root of t (t < 2^60).
    let mut r = libm::sqrt(t as f64) as i128;
    while r * r > t {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= t {
        r += 1;
    }
    r
}

/// LayerNorm's integer statistics: `s = Σx`, `q = Σx²`, `V = d·q - s² + eps`, `r = rsqrt(V)`.
pub fn norm_stats(n: &Norm, x: &[i64]) -> (i128, i128, i128, i128) {
    let d = x.len() as i128;
    let s: i128 = x.iter().map(|v| *v as i128).sum();
    let q: i128 = x.iter().map(|v| (*v as i128) * (*v as i128)).sum();
    let big_v = d * q - s * s + n.eps as i128;
    (s, q, big_v, rsqrt(big_v))
}

/// The shift of LayerNorm's output rescale.
pub fn norm_shift(n: &Norm, frac_bits: u32) -> u32 {
    RSQRT_BITS + n.gamma_shift - frac_bits
}

/// LayerNorm: `y_c = rescale(γ_c·(d·x_c - s)·r + (β_c << shift), shift)` with
/// `shift = RSQRT_BITS + gamma_shift - frac_bits`; `(d·x_c - s)·r / 2^R` is the normalised value.
pub fn layernorm(n: &Norm, frac_bits: u32, x: &[i64]) -> Vec<i64> {
    let (s, _, _, r) = norm_stats(n, x);
    let d = x.len() as i128;
    let shift = norm_shift(n, frac_bits);
    (0..x.len())
        .map(|c| {
            let acc =
                n.gamma[c] as i128 * (d * x[c] as i128 - s) * r + ((n.beta[c] as i128) << shift);
            shift_round(acc, shift, ACT)
        })
        .collect()
}

/// Attention scores of one query against keys: `rescale(q·k · M, frac + SCORE_BITS)`.
pub fn scores(m: &Gpt, q: &[i64], keys: &[&[i64]]) -> Vec<i64> {
    keys.iter()
        .map(|k| {
            let dot: i128 = q.iter().zip(*k).map(|(a, b)| *a as i128 * *b as i128).sum();
            rescale(
                dot,
                m.score_multiplier(),
                m.frac_bits + SCORE_BITS,
                ACT.0,
                ACT.1,
            )
            .expect("scores of clamped activations never overflow")
        })
        .collect()
}

/// Softmax over scores: `e_j = EXP[max - s_j]`, `S = Σ e`, `p_j = round_half_up(e_j·2^PB / S)`,
/// the probabilities at scale `2^-PROB_BITS`.
pub fn softmax(exp: &[i64], s: &[i64]) -> Vec<i64> {
    let max = *s.iter().max().expect("at least one score");
    let e: Vec<i128> = s.iter().map(|v| exp[(max - v) as usize] as i128).collect();
    let sum: i128 = e.iter().sum();
    e.iter()
        .map(|e| ((2 * (e << PROB_BITS) + sum) / (2 * sum)) as i64)
        .collect()
}

/// `o_c = rescale(Σ_j p_j · v_jc, PROB_BITS)`.
pub fn mix(p: &[i64], values: &[&[i64]]) -> Vec<i64> {
    let hd = values[0].len();
    (0..hd)
        .map(|c| {
            let acc: i128 = p
                .iter()
                .zip(values)
                .map(|(p, v)| *p as i128 * v[c] as i128)
                .sum();
            shift_round(acc, PROB_BITS, ACT)
        })
        .collect()
}

/// Greedy choice: the first index of the maximum.
pub use crate::decoder::argmax;

/// The model with its tables and the keys and values of every position run so far.
pub struct Runner<'m> {
    pub model: &'m Gpt,
    exp: Vec<i64>,
    gelu: Vec<i64>,
    /// `[block][position]`: the `d_model` keys and values of all heads.
    keys: Vec<Vec<Vec<i64>>>,
    values: Vec<Vec<Vec<i64>>>,
}

impl<'m> Runner<'m> {
    pub fn new(model: &'m Gpt) -> Self {
        let n = model.blocks.len();
        Self {
            model,
            exp: exp_table(model.frac_bits),
            gelu: gelu_table(model.frac_bits),
            keys: vec![Vec::new(); n],
            values: vec![Vec::new(); n],
        }
    }

    /// Runs the next position on `token`; returns its logits.
    pub fn step(&mut self, token: usize) -> Vec<i64> {
        let m = self.model;
        let pos = self.keys[0].len();
        let (d, hd) = (m.d_model, m.head_dim());
        let mut x = embed(m, token, pos);
        for (b, blk) in m.blocks.iter().enumerate() {
            let h = layernorm(&blk.ln1, m.frac_bits, &x);
            let qkv = linear(&blk.qkv, &h, None, ACT);
            self.keys[b].push(qkv[d..2 * d].to_vec());
            self.values[b].push(qkv[2 * d..].to_vec());
            let mut o = Vec::with_capacity(d);
            for head in 0..m.n_head {
                let cols = head * hd..(head + 1) * hd;
                let ks: Vec<&[i64]> = self.keys[b].iter().map(|k| &k[cols.clone()]).collect();
                let vs: Vec<&[i64]> = self.values[b].iter().map(|v| &v[cols.clone()]).collect();
                let p = softmax(&self.exp, &scores(m, &qkv[cols.clone()], &ks));
                o.extend(mix(&p, &vs));
            }
            x = linear(&blk.proj, &o, Some(&x), RES);
            let h = layernorm(&blk.ln2, m.frac_bits, &x);
            let f: Vec<i64> = linear(&blk.fc, &h, None, ACT)
                .iter()
                .map(|v| self.gelu[(v - ACT.0) as usize])
                .collect();
            x = linear(&blk.out, &f, Some(&x), RES);
        }
        let h = layernorm(&m.ln_f, m.frac_bits, &x);
        linear(&m.head, &h, None, LOGIT)
    }
}

/// The slots a generation circuit has: `prompt` tokens of prompt, `gen` generated tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Slots {
    pub prompt: usize,
    pub gen: usize,
}

/// One greedy generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generation {
    /// The tokens of every position the circuit runs: the prompt, then argmax after argmax.
    pub stream: Vec<usize>,
    pub n_in: usize,
    pub n_out: usize,
    /// The metered output: generated tokens up to and including the stop token.
    pub completion: Vec<usize>,
}

/// Greedy generation: after the prompt each token is the argmax of the previous position's
/// logits; it stops after the stop token or after `max_tokens` tokens.
pub fn generate(
    m: &Gpt,
    slots: Slots,
    prompt: &[usize],
    max_tokens: usize,
) -> Result<Generation, GptError> {
    check_request(m, slots, prompt, max_tokens)?;
    let total = slots.prompt + slots.gen;
    let mut runner = Runner::new(m);
    let mut stream = prompt.to_vec();
    let mut completion = Vec::new();
    // Positions after the completion still run in the circuit; their tokens are determined the
    // same way, so the reference computes them too.
    for i in 0..total - 1 {
        let logits = runner.step(stream[i]);
        if i + 1 >= prompt.len() {
            let next = argmax(&logits);
            stream.push(next);
            let stopped = completion.last() == Some(&m.stop);
            if completion.len() < max_tokens && !stopped {
                completion.push(next);
            }
        }
    }
    Ok(Generation {
        stream,
        n_in: prompt.len(),
        n_out: completion.len(),
        completion,
    })
}

/// The request's prompt and token budget against the circuit's slots.
pub fn check_request(
    m: &Gpt,
    slots: Slots,
    prompt: &[usize],
    max_tokens: usize,
) -> Result<(), GptError> {
    let bad = |msg: String| Err(GptError::Prompt(msg));
    if prompt.is_empty() || prompt.len() > slots.prompt {
        return bad(format!(
            "{} tokens; this circuit takes 1 to {} prompt tokens",
            prompt.len(),
            slots.prompt
        ));
    }
    if let Some(t) = prompt.iter().find(|t| **t >= m.vocab) {
        return bad(format!(
            "token {t} is outside the vocabulary of {}",
            m.vocab
        ));
    }
    if max_tokens > slots.gen {
        return bad(format!(
            "--max-tokens {max_tokens} is more than the circuit's {} generated tokens",
            slots.gen
        ));
    }
    if slots.prompt + slots.gen > m.context {
        return bad(format!(
            "{} + {} slots exceed the model's context of {}",
            slots.prompt, slots.gen, m.context
        ));
    }
    Ok(())
}
