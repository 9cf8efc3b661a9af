//! `a / d` of integers by nonzero constant divisors `d` (broadcast, numpy), rounded toward 0
//! (ONNX Div of two integer tensors with a constant divisor, as tract computes it) or down
//! (BitShift right, a shift of the integers tract holds).
//!
//! Sound because, for an integer `a` and `m = |d|`, both roundings are a floor over `m` of a
//! dividend that is a function of `a`: rounding toward 0 is `trunc(a / m) = floor((a + (m - 1)
//! · n) / m)` with `n = [a ≤ -1]`, the clamp of `-a` to `[0, 1]` (an exact rescale, one
//! solution), and `trunc(a / -m) = -trunc(a / m)`; rounding down is `floor(a / m)`, and
//! `floor(a / -m) = floor(-a / m)`. The floor is the `div` instruction, whose quotient and
//! remainder `0 ≤ r < m` have one integer solution.

use serde::{Deserialize, Serialize};

use super::clip::MAX_CLAMP_ABS;
use super::instructions::Instructions;
use super::kind::{Bound, Kind, Src};
use super::rescale::RescaleParams;
use super::OpSpec;
use crate::graph::tensor::{broadcast_map, broadcast_shape, numel, Tensor};

/// The division: one input, divided by `divisor` broadcast against it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quotient {
    /// The constant divisors, none of them 0.
    pub divisor: Tensor<i64>,
    /// Rounded down instead of toward 0.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub floor: bool,
}

/// The structure: per output, the dividend and its divisor.
#[derive(Debug, Clone, PartialEq)]
pub struct Quotients {
    /// The input element and the divisor of each output.
    pub pairs: Vec<(Src, i64)>,
    /// Rounded down instead of toward 0.
    pub floor: bool,
}

impl OpSpec for Quotient {
    fn name(&self) -> &'static str {
        "quotient"
    }

    fn check(&self) -> Result<(), String> {
        match self
            .divisor
            .data
            .iter()
            .find(|d| **d == 0 || d.abs() > MAX_CLAMP_ABS)
        {
            Some(0) => Err("divides by 0".into()),
            Some(d) => Err(format!("divisor {d} exceeds ±2^40")),
            None => Ok(()),
        }
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let d = &self.divisor.shape;
        broadcast_shape(inputs[0], d)
            .filter(|s| s[..] == *inputs[0])
            .ok_or_else(|| {
                format!(
                    "divisors of shape {d:?} do not broadcast to the input's {:?}",
                    inputs[0]
                )
            })
    }

    fn kind(&self, _inputs: &[&[usize]], out: &[usize]) -> Kind {
        let d = broadcast_map(&self.divisor.shape, out);
        let pairs = (0..numel(out))
            .map(|i| (Src::of(i), self.divisor.data[d[i]]))
            .collect();
        Kind::Quotient(Quotients {
            pairs,
            floor: self.floor,
        })
    }
}

/// `a / d` rounded toward 0, or down when `floor`.
fn divide(a: i128, d: i64, floor: bool) -> i128 {
    let (q, d) = (a / d as i128, d as i128);
    // Rust's division rounds toward 0; down differs where the signs differ, inexactly
    if floor && q * d != a && (a < 0) != (d < 0) {
        q - 1
    } else {
        q
    }
}

/// The quotients of `input`'s ends by each divisor: either rounding is monotone in `a` for
/// each `d`; `(0, 0)` for no divisor.
fn ends(divisors: impl IntoIterator<Item = i64>, floor: bool, input: Bound) -> Bound {
    let mut out = (i128::MAX, i128::MIN);
    for d in divisors {
        for q in [divide(input.0, d, floor), divide(input.1, d, floor)] {
            out = (out.0.min(q), out.1.max(q));
        }
    }
    if out.0 > out.1 {
        (0, 0)
    } else {
        out
    }
}

impl Quotient {
    /// The output's bound for an input within `input`.
    pub fn bounds(&self, input: Bound) -> Bound {
        ends(self.divisor.data.iter().copied(), self.floor, input)
    }
}

impl Quotients {
    /// `a / d` in this rounding.
    fn of(&self, a: i128, d: i64) -> i128 {
        divide(a, d, self.floor)
    }

    /// The quotients of the input's ends.
    pub fn bounds(&self, input: Bound) -> Result<Bound, String> {
        Ok(ends(self.pairs.iter().map(|(_, d)| *d), self.floor, input))
    }

    /// The reference.
    pub fn eval(&self, input: &[i128]) -> Vec<i128> {
        self.pairs
            .iter()
            .map(|(s, d)| self.of(input[s.index], *d))
            .collect()
    }

    /// Per output: the dividend (`a`, `-a` for a floor by a negative divisor, or `a + (m - 1) ·
    /// [a ≤ -1]` toward 0), its floor over `m`, negated toward 0 by a negative divisor.
    pub fn lower<I: Instructions>(
        &self,
        ins: &mut I,
        input: &[I::Value],
        bound: Bound,
    ) -> Result<Vec<I::Value>, I::Error> {
        let mut out = Vec::with_capacity(self.pairs.len());
        for (s, d) in &self.pairs {
            let a = &input[s.index];
            let m = d.unsigned_abs() as i128;
            let (num, nb) = if self.floor && *d < 0 {
                (ins.linear(&[(-1, a)], 0)?, (-bound.1, -bound.0))
            } else if !self.floor && bound.0 < 0 && m > 1 {
                let minus = ins.linear(&[(-1, a)], 0)?;
                let n = ins.rescale(&minus, &RescaleParams::relu((-bound.1, -bound.0), (0, 1)))?;
                let num = ins.linear(&[(1, a), ((m - 1) as i64, &n)], 0)?;
                (num, (bound.0, bound.1 + m - 1))
            } else {
                (a.clone(), bound)
            };
            let den = ins.constant(m)?;
            let q = ins.div(&num, &den, nb, (m, m))?;
            out.push(if !self.floor && *d < 0 {
                ins.linear(&[(-1, &q)], 0)?
            } else {
                q
            });
        }
        Ok(out)
    }
}
