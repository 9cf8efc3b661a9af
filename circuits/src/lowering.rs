//! Lowering of the IR to the stages both backends lay out: a rescale followed by a ReLU becomes
//! one clamped rescale (`relu(clamp(z, lo, hi)) = clamp(z, max(lo, 0), max(hi, 0))`), a lone ReLU
//! an identity rescale clamped at 0. Each rescale carries the bound on its input, which sizes its
//! range checks, and [`RescaleSteps`] is the integer witness both backends constrain.

use crate::model::bounds::{bits_of, bounds};
use crate::model::{Model, ModelError, Op};

#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Linear {
        in_dim: usize,
        out_dim: usize,
        weights: Vec<i64>,
        bias: Vec<i64>,
    },
    Rescale(RescaleParams),
}

/// What a backend lays out for each stage of the forward pass; [`forward`] walks the stages, so
/// both circuits run the model the same way and differ only in these two operations.
pub trait StageOps {
    /// A value in the circuit: a halo2 cell, an R1CS linear combination.
    type Value;
    type Error;
    /// `bias + Σ weights[i] · inputs[i]`.
    fn linear(
        &mut self,
        weights: &[i64],
        bias: i64,
        inputs: &[Self::Value],
    ) -> Result<Self::Value, Self::Error>;
    /// The clamped, rounded `acc · multiplier / 2^shift` of [`RescaleParams`].
    fn rescale(&mut self, acc: &Self::Value, p: &RescaleParams)
        -> Result<Self::Value, Self::Error>;
}

/// Runs one batch row through `stages`.
pub fn forward<O: StageOps>(
    ops: &mut O,
    stages: &[Stage],
    input: Vec<O::Value>,
) -> Result<Vec<O::Value>, O::Error> {
    let mut cur = input;
    for stage in stages {
        cur = match stage {
            Stage::Linear {
                in_dim,
                out_dim,
                weights,
                bias,
            } => (0..*out_dim)
                .map(|j| ops.linear(&weights[j * in_dim..(j + 1) * in_dim], bias[j], &cur))
                .collect::<Result<_, _>>()?,
            Stage::Rescale(p) => cur
                .iter()
                .map(|acc| ops.rescale(acc, p))
                .collect::<Result<_, _>>()?,
        };
    }
    Ok(cur)
}

/// One rescale's constants and the bound on its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RescaleParams {
    pub multiplier: i64,
    pub shift: u32,
    pub min: i64,
    pub max: i64,
    /// `|acc| < 2^acc_bits` for every admissible input.
    pub acc_bits: u32,
}

impl RescaleParams {
    /// Width of the magnitude `a = |acc · M0|`.
    pub fn a_bits(&self) -> u32 {
        self.acc_bits + bits_of(self.multiplier as u128)
    }

    /// Width of the clamp slack `d`.
    pub fn d_bits(&self) -> u32 {
        let cap = self.max.max(-self.min) as u128;
        (bits_of(cap) + 1).max(self.a_bits().saturating_sub(self.shift) + 1)
    }

    pub fn half(&self) -> i64 {
        if self.shift == 0 {
            0
        } else {
            1 << (self.shift - 1)
        }
    }
}

/// The integer witness of one rescale: sign `s`, magnitude `a = |acc · M0|`, quotient `q` and
/// remainder `r` of `a + half = q · 2^n + r`, clamp flag `c`, clamped magnitude `m`, slack `d`
/// (`cap - q` unclamped, `q - cap - 1` clamped, with `cap = max` or `-min` by sign), output `y`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RescaleSteps {
    pub s: i128,
    pub a: i128,
    pub q: i128,
    pub r: i128,
    pub c: i128,
    pub m: i128,
    pub d: i128,
    pub y: i128,
}

impl RescaleSteps {
    /// The honest witness, or `None` when `acc · M0` overflows.
    pub fn honest(acc: i128, p: &RescaleParams) -> Option<Self> {
        let t = acc.checked_mul(p.multiplier as i128)?;
        let (s, a) = (t < 0, t.unsigned_abs() as i128);
        let q = (a + p.half() as i128) >> p.shift;
        let r = a + p.half() as i128 - (q << p.shift);
        let cap = if s { -(p.min as i128) } else { p.max as i128 };
        let c = q > cap;
        let m = q.min(cap);
        let d = if c { q - cap - 1 } else { cap - q };
        Some(Self {
            s: s as i128,
            a,
            q,
            r,
            c: c as i128,
            m,
            d,
            y: if s { -m } else { m },
        })
    }
}

/// Lowers a validated model.
pub fn lower(model: &Model) -> Result<Vec<Stage>, ModelError> {
    let bounds = bounds(model)?;
    let mut stages = Vec::new();
    let mut i = 0;
    while i < model.ops.len() {
        let (lo, hi) = bounds[i];
        let acc_bits = bits_of(lo.unsigned_abs().max(hi.unsigned_abs()));
        let relu_next = matches!(model.ops.get(i + 1), Some(Op::Relu));
        match &model.ops[i] {
            Op::Linear {
                in_dim,
                out_dim,
                weights,
                bias,
            } => stages.push(Stage::Linear {
                in_dim: *in_dim,
                out_dim: *out_dim,
                weights: weights.clone(),
                bias: bias.clone(),
            }),
            Op::Rescale {
                multiplier,
                shift,
                min,
                max,
            } => {
                let (min, max) = if relu_next {
                    ((*min).max(0), (*max).max(0))
                } else {
                    (*min, *max)
                };
                stages.push(Stage::Rescale(RescaleParams {
                    multiplier: *multiplier,
                    shift: *shift,
                    min,
                    max,
                    acc_bits,
                }));
                i += relu_next as usize;
            }
            Op::Relu => stages.push(Stage::Rescale(RescaleParams {
                multiplier: 1,
                shift: 0,
                min: 0,
                max: hi.max(0) as i64,
                acc_bits,
            })),
        }
        i += 1;
    }
    Ok(stages)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rescale;

    #[test]
    fn steps_agree_with_the_reference_rescale() {
        let p = RescaleParams {
            multiplier: 3,
            shift: 4,
            min: -128,
            max: 127,
            acc_bits: 20,
        };
        for acc in -3000i128..3000 {
            let s = RescaleSteps::honest(acc, &p).unwrap();
            assert_eq!(
                s.y as i64,
                rescale(acc, 3, 4, -128, 127).unwrap(),
                "acc {acc}"
            );
            assert_eq!(s.a + p.half() as i128, s.q * 16 + s.r);
            assert!(s.d >= 0 && s.d < 1 << p.d_bits());
        }
    }
}
