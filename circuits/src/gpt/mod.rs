//! The quantized decoder-only transformer (a GPT): its integer weights and fixed-point constants
//! ([`Gpt`]), the tables of its non-linear functions ([`tables`]), its ONNX import ([`import`]) and
//! the bit-exact reference executor of greedy generation ([`reference`]), which is the spec every
//! circuit of it is tested against.
//!
//! Fixed point: activations carry `frac_bits` fractional bits. Weights are int8 with a power-of-two
//! scale per tensor (`shift`), biases sit at the accumulator's scale, so a linear layer is
//! `rescale(Σ w·x + b [+ residual << shift], shift)`. Every rescale rounds half away from zero and
//! clamps, as in DESIGN.md.

pub mod import;
pub mod reference;
pub mod tables;
pub mod toy;

use serde::{Deserialize, Serialize};

/// Format version of the serialized [`Gpt`].
pub const GPT_VERSION: u32 = 1;
/// Clamp of ordinary activations (normalised values, q/k/v, attention outputs, MLP hidden): 12
/// bits signed, the domain of the GELU table.
pub const ACT: (i64, i64) = (-2048, 2047);
/// Clamp of the residual stream: 14 bits signed.
pub const RES: (i64, i64) = (-8192, 8191);
/// Clamp of the vocabulary logits: 16 bits signed.
pub const LOGIT: (i64, i64) = (-32768, 32767);
/// `exp` table outputs are scaled by `2^EXP_BITS` (`exp(0) = 2^16`).
pub const EXP_BITS: u32 = 16;
/// Attention probabilities are scaled by `2^PROB_BITS`.
pub const PROB_BITS: u32 = 12;
/// LayerNorm's inverse square root is `floor(2^RSQRT_BITS / sqrt(V))`.
pub const RSQRT_BITS: u32 = 30;
/// The attention score multiplier `round(2^SCORE_BITS / sqrt(head_dim))`.
pub const SCORE_BITS: u32 = 12;

/// `y = rescale(Σ_i w[o][i] · x[i] + bias[o], shift)`; weights are out-major (`w[o * in + i]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Linear {
    pub in_dim: usize,
    pub out_dim: usize,
    pub shift: u32,
    pub weights: Vec<i64>,
    pub bias: Vec<i64>,
}

impl Linear {
    pub fn row(&self, o: usize) -> &[i64] {
        &self.weights[o * self.in_dim..(o + 1) * self.in_dim]
    }
}

/// LayerNorm: `gamma` int8 at scale `2^-gamma_shift`, `beta` at the activation scale.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Norm {
    pub gamma: Vec<i64>,
    pub gamma_shift: u32,
    pub beta: Vec<i64>,
    /// `round(eps · d² · 2^(2·frac_bits))`, the epsilon in the integer variance's units.
    pub eps: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Block {
    pub ln1: Norm,
    /// `d → 3d`: queries, keys, values, heads side by side within each.
    pub qkv: Linear,
    pub proj: Linear,
    pub ln2: Norm,
    pub fc: Linear,
    pub out: Linear,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gpt {
    pub version: u32,
    pub name: String,
    /// Tokens are `0..vocab`; `stop` ends a generation.
    pub vocab: usize,
    pub stop: usize,
    pub d_model: usize,
    pub n_head: usize,
    pub d_ff: usize,
    /// Positions the model has embeddings for.
    pub context: usize,
    pub frac_bits: u32,
    /// `vocab × d_model` token embeddings and `context × d_model` positions, activation scale.
    pub tok: Vec<i64>,
    pub pos: Vec<i64>,
    pub blocks: Vec<Block>,
    pub ln_f: Norm,
    /// `d_model → vocab`.
    pub head: Linear,
}

#[derive(Debug, thiserror::Error)]
pub enum GptError {
    #[error("model: {0}")]
    Shape(String),
    #[error("prompt: {0}")]
    Prompt(String),
}

impl Gpt {
    pub fn head_dim(&self) -> usize {
        self.d_model / self.n_head
    }

    /// `round(2^SCORE_BITS / sqrt(head_dim))`.
    pub fn score_multiplier(&self) -> i64 {
        libm::round((1u64 << SCORE_BITS) as f64 / libm::sqrt(self.head_dim() as f64)) as i64
    }

    pub fn params(&self) -> usize {
        let lin = |l: &Linear| l.weights.len() + l.bias.len();
        let norm = |n: &Norm| n.gamma.len() + n.beta.len();
        self.tok.len()
            + self.pos.len()
            + norm(&self.ln_f)
            + lin(&self.head)
            + self
                .blocks
                .iter()
                .map(|b| {
                    norm(&b.ln1)
                        + norm(&b.ln2)
                        + lin(&b.qkv)
                        + lin(&b.proj)
                        + lin(&b.fc)
                        + lin(&b.out)
                })
                .sum::<usize>()
    }

    /// Checks every dimension and value range the circuit relies on.
    pub fn validate(&self) -> Result<(), GptError> {
        let bad = |m: String| Err(GptError::Shape(m));
        let d = self.d_model;
        if self.version != GPT_VERSION {
            return bad(format!("version {} (expected {GPT_VERSION})", self.version));
        }
        if d == 0 || self.n_head == 0 || !d.is_multiple_of(self.n_head) {
            return bad(format!(
                "d_model {d} is not a multiple of {} heads",
                self.n_head
            ));
        }
        if self.vocab < 2 || self.stop >= self.vocab || self.vocab > 1 << 15 {
            return bad(format!(
                "vocab {} with stop token {}",
                self.vocab, self.stop
            ));
        }
        if self.context == 0 || self.frac_bits == 0 || self.frac_bits > 10 {
            return bad(format!(
                "context {} / frac_bits {}",
                self.context, self.frac_bits
            ));
        }
        let in_act = |name: &str, v: &[i64], n: usize| -> Result<(), GptError> {
            if v.len() != n {
                return bad(format!("{name} holds {} values, expected {n}", v.len()));
            }
            if let Some(x) = v.iter().find(|x| **x < ACT.0 || **x > ACT.1) {
                return bad(format!("{name} value {x} is outside {ACT:?}"));
            }
            Ok(())
        };
        in_act("tok", &self.tok, self.vocab * d)?;
        in_act("pos", &self.pos, self.context * d)?;
        let norm = |name: &str, n: &Norm| -> Result<(), GptError> {
            in_act(name, &n.beta, d)?;
            if n.gamma.len() != d || n.gamma.iter().any(|g| g.abs() > 127) || n.gamma_shift > 16 {
                return bad(format!("{name}: gamma must be {d} int8 values, shift ≤ 16"));
            }
            if n.eps <= 0 || n.eps > 1 << 40 {
                return bad(format!("{name}: eps {} out of range", n.eps));
            }
            Ok(())
        };
        let linear = |name: &str, l: &Linear, i: usize, o: usize| -> Result<(), GptError> {
            if (l.in_dim, l.out_dim) != (i, o) || l.weights.len() != i * o || l.bias.len() != o {
                return bad(format!("{name}: expected a {i}→{o} layer"));
            }
            if l.weights.iter().any(|w| w.abs() > 127) || l.shift > 16 {
                return bad(format!("{name}: weights must be int8 with shift ≤ 16"));
            }
            if l.bias.iter().any(|b| b.abs() > 1 << 40) {
                return bad(format!("{name}: bias out of range"));
            }
            Ok(())
        };
        for (i, b) in self.blocks.iter().enumerate() {
            norm(&format!("block {i} ln1"), &b.ln1)?;
            norm(&format!("block {i} ln2"), &b.ln2)?;
            linear(&format!("block {i} qkv"), &b.qkv, d, 3 * d)?;
            linear(&format!("block {i} proj"), &b.proj, d, d)?;
            linear(&format!("block {i} fc"), &b.fc, d, self.d_ff)?;
            linear(&format!("block {i} out"), &b.out, self.d_ff, d)?;
        }
        norm("ln_f", &self.ln_f)?;
        linear("head", &self.head, d, self.vocab)
    }
}
