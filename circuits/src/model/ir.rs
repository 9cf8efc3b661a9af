//! The quantized graph IR. A model is a chain of integer ops over one flat tensor per sample; it is
//! stored as JSON (`model.json`) and is what every backend lays out.

use serde::{Deserialize, Serialize};

pub const IR_VERSION: u32 = 1;

/// The widest weight magnitude the IR accepts: int8 is the norm, wider weights are allowed where a
/// layer needs them, but products must stay far below the field size.
pub const MAX_WEIGHT_ABS: i64 = 1 << 24;
/// Largest rescale shift; `2^shift` must stay well inside the range checks.
pub const MAX_SHIFT: u32 = 48;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    pub version: u32,
    pub name: String,
    pub input: TensorSpec,
    pub ops: Vec<Op>,
    /// Integer units per real unit of the output (`real = y / output_scale`; display only).
    pub output_scale: f64,
}

/// How a float input becomes integers: `clamp(round_half_away(x · scale), min, max)`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TensorSpec {
    pub len: usize,
    pub scale: f64,
    pub min: i64,
    pub max: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// `y[j] = bias[j] + Σ_i weights[j·in_dim + i] · x[i]`, exact integers.
    Linear {
        in_dim: usize,
        out_dim: usize,
        weights: Vec<i64>,
        bias: Vec<i64>,
    },
    /// `y = clamp(round_half_away(x · multiplier / 2^shift), min, max)`.
    Rescale {
        multiplier: i64,
        shift: u32,
        min: i64,
        max: i64,
    },
    /// `y = max(x, 0)`.
    Relu,
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model: op {index} ({op}): {msg}")]
    Invalid {
        index: usize,
        op: &'static str,
        msg: String,
    },
    #[error("model: {0}")]
    Shape(String),
    #[error("model: unsupported IR version {0} (this build reads {IR_VERSION})")]
    Version(u32),
    #[error("model: op {index} ({op}): arithmetic overflow")]
    Overflow { index: usize, op: &'static str },
}

impl Op {
    pub fn name(&self) -> &'static str {
        match self {
            Op::Linear { .. } => "linear",
            Op::Rescale { .. } => "rescale",
            Op::Relu => "relu",
        }
    }
}

impl Model {
    /// Length of the tensor after every op, starting with the input.
    pub fn lengths(&self) -> Vec<usize> {
        let mut out = vec![self.input.len];
        for op in &self.ops {
            let cur = *out.last().expect("non-empty");
            out.push(match op {
                Op::Linear { out_dim, .. } => *out_dim,
                _ => cur,
            });
        }
        out
    }

    pub fn output_len(&self) -> usize {
        *self.lengths().last().expect("non-empty")
    }

    /// Checks shapes and value ranges so that every later stage may rely on them.
    pub fn validate(&self) -> Result<(), ModelError> {
        if self.version != IR_VERSION {
            return Err(ModelError::Version(self.version));
        }
        let spec = &self.input;
        if spec.len == 0 || !(spec.scale.is_finite() && spec.scale > 0.0) {
            return Err(ModelError::Shape(format!(
                "input needs a positive length and a finite positive scale (len {}, scale {})",
                spec.len, spec.scale
            )));
        }
        if !(-128 <= spec.min && spec.min <= 0 && 0 <= spec.max && spec.max <= 127) {
            return Err(ModelError::Shape(format!(
                "input range [{}, {}] must contain 0 and lie within int8",
                spec.min, spec.max
            )));
        }
        let mut len = spec.len;
        for (index, op) in self.ops.iter().enumerate() {
            let bad = |msg: String| ModelError::Invalid {
                index,
                op: op.name(),
                msg,
            };
            match op {
                Op::Linear {
                    in_dim,
                    out_dim,
                    weights,
                    bias,
                } => {
                    if *in_dim != len {
                        return Err(bad(format!("expects {in_dim} inputs but receives {len}")));
                    }
                    if *out_dim == 0 || weights.len() != in_dim * out_dim || bias.len() != *out_dim
                    {
                        return Err(bad(format!(
                            "weights must be {out_dim}x{in_dim} and bias {out_dim} (got {} and {})",
                            weights.len(),
                            bias.len()
                        )));
                    }
                    if let Some(w) = weights.iter().find(|w| w.abs() > MAX_WEIGHT_ABS) {
                        return Err(bad(format!("weight {w} exceeds ±{MAX_WEIGHT_ABS}")));
                    }
                    if let Some(b) = bias.iter().find(|b| b.abs() > 1 << 40) {
                        return Err(bad(format!("bias {b} exceeds ±2^40")));
                    }
                    len = *out_dim;
                }
                Op::Rescale {
                    multiplier,
                    shift,
                    min,
                    max,
                } => {
                    if *multiplier <= 0 || *multiplier > 1 << 32 || *shift > MAX_SHIFT {
                        return Err(bad(format!(
                            "multiplier {multiplier} must be in 1..=2^32 and shift {shift} ≤ {MAX_SHIFT}"
                        )));
                    }
                    if !(*min <= 0 && 0 <= *max && *max - *min < 1 << 20) {
                        return Err(bad(format!(
                            "clamp range [{min}, {max}] must contain 0 and span < 2^20"
                        )));
                    }
                }
                Op::Relu => {}
            }
        }
        let out = super::bounds::bounds(self)?;
        let (lo, hi) = *out.last().expect("non-empty");
        if lo < -128 || hi > 127 {
            return Err(ModelError::Shape(format!(
                "output values may reach [{lo}, {hi}]; the model must end in a rescale to int8"
            )));
        }
        Ok(())
    }
}
