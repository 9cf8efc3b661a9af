//! `[a ⋈ b]` element-wise, 1 where the comparison holds and 0 elsewhere: ONNX Less, Greater,
//! LessOrEqual, GreaterOrEqual, Equal, and Xor / Not-equal of booleans, between two tensors
//! broadcast (numpy) or between a tensor and a constant tensor `k`. The 0/1 result is a plain
//! integer the graph computes on: a decision tree's path test, a select's condition.
//!
//! Sound because, for integers, the difference `d = a - b` decides every comparison through two
//! clamps: `u = clamp(d, 0, 1)` is 1 exactly when `d ≥ 1`, `v = clamp(-d, 0, 1)` exactly when
//! `d ≤ -1`. Each clamp is an exact rescale, whose relation has one solution ([`Instructions`]);
//! the result is a constant combination of `u` and `v` (`Gt = u`, `Le = 1 - u`, `Eq = 1 - u - v`,
//! ...), so it is a function of the inputs and always 0 or 1, the bound [`Comparison::bounds`]
//! states.

use serde::{Deserialize, Serialize};

use super::clip::MAX_CLAMP_ABS;
use super::instructions::Instructions;
use super::kind::{width, Bound, Elem, Kind, Src, MAX_COMPARE_BITS};
use super::rescale::RescaleParams;
use super::OpSpec;
use crate::graph::tensor::{broadcast_map, broadcast_shape, numel, Tensor};

/// Which comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    /// `a < b`.
    Lt,
    /// `a ≤ b`.
    Le,
    /// `a > b`.
    Gt,
    /// `a ≥ b`.
    Ge,
    /// `a = b`.
    Eq,
    /// `a ≠ b`.
    Ne,
}

impl Cmp {
    /// The comparison of the swapped operands: `a ⋈ b` is `b ⋈' a`.
    pub fn flipped(self) -> Self {
        match self {
            Cmp::Lt => Cmp::Gt,
            Cmp::Le => Cmp::Ge,
            Cmp::Gt => Cmp::Lt,
            Cmp::Ge => Cmp::Le,
            c => c,
        }
    }

    /// Whether `a ⋈ b` holds.
    pub fn holds(self, a: i128, b: i128) -> bool {
        match self {
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
        }
    }
}

/// The comparison op: of its two inputs, or of its one input with the constant `k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Compare {
    /// Which comparison.
    pub cmp: Cmp,
    /// The right operand, broadcast; the op then has one input, the left operand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub k: Option<Tensor<i64>>,
}

/// The structure: one comparison per output, of two input elements or an element and a constant.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Which comparison.
    pub cmp: Cmp,
    /// The left and right operand of each output.
    pub pairs: Vec<[Elem; 2]>,
}

impl OpSpec for Compare {
    fn name(&self) -> &'static str {
        "compare"
    }

    fn arity(&self) -> usize {
        if self.k.is_some() {
            1
        } else {
            2
        }
    }

    fn check(&self) -> Result<(), String> {
        match self
            .k
            .iter()
            .flat_map(|k| &k.data)
            .find(|v| v.abs() > MAX_CLAMP_ABS)
        {
            Some(v) => Err(format!("constant operand {v} exceeds ±2^40")),
            None => Ok(()),
        }
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let right = self
            .k
            .as_ref()
            .map_or(inputs[inputs.len() - 1], |k| &k.shape[..]);
        broadcast_shape(inputs[0], right)
            .ok_or_else(|| format!("shapes {:?} and {right:?} do not broadcast", inputs[0]))
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let a = broadcast_map(inputs[0], out);
        let pairs = match &self.k {
            Some(k) => {
                let b = broadcast_map(&k.shape, out);
                (0..numel(out))
                    .map(|i| [Elem::Src(Src::of(a[i])), Elem::Const(k.data[b[i]])])
                    .collect()
            }
            None => {
                let b = broadcast_map(inputs[1], out);
                (0..numel(out))
                    .map(|i| {
                        let right = Src {
                            input: 1,
                            index: b[i],
                        };
                        [Elem::Src(Src::of(a[i])), Elem::Src(right)]
                    })
                    .collect()
            }
        };
        Kind::Compare(Comparison {
            cmp: self.cmp,
            pairs,
        })
    }
}

/// The bound of an operand.
fn bound_of(e: &Elem, inputs: &[Bound]) -> Bound {
    match e {
        Elem::Src(s) => inputs[s.input],
        Elem::Const(c) => (*c as i128, *c as i128),
    }
}

impl Comparison {
    /// The bound of `a - b` for one pair.
    fn diff(&self, [a, b]: &[Elem; 2], inputs: &[Bound]) -> Bound {
        let (x, y) = (bound_of(a, inputs), bound_of(b, inputs));
        (x.0 - y.1, x.1 - y.0)
    }

    /// Always `[0, 1]`; an error when a difference is too wide for the clamps.
    pub fn bounds(&self, inputs: &[Bound]) -> Result<Bound, String> {
        for p in &self.pairs {
            let w = width(self.diff(p, inputs));
            if w > MAX_COMPARE_BITS {
                return Err(format!(
                    "compares values 2^{w} apart; the limit is 2^{MAX_COMPARE_BITS}"
                ));
            }
        }
        Ok((0, 1))
    }

    /// The reference: 1 where the comparison holds.
    pub fn eval(&self, inputs: &[&[i128]]) -> Vec<i128> {
        let get = |e: &Elem| match e {
            Elem::Src(s) => inputs[s.input][s.index],
            Elem::Const(c) => *c as i128,
        };
        self.pairs
            .iter()
            .map(|[a, b]| i128::from(self.cmp.holds(get(a), get(b))))
            .collect()
    }

    /// Per output: the difference, the clamps the comparison reads, their combination.
    pub fn lower<I: Instructions>(
        &self,
        ins: &mut I,
        inputs: &[&[I::Value]],
        bounds: &[Bound],
    ) -> Result<Vec<I::Value>, I::Error> {
        let mut out = Vec::with_capacity(self.pairs.len());
        for pair in &self.pairs {
            let db = self.diff(pair, bounds);
            // `sign · (a - b)` as one combination of the operands
            let diff = |ins: &mut I, sign: i64| {
                let mut terms: Vec<(i64, &I::Value)> = Vec::with_capacity(2);
                let mut constant = 0i128;
                for (e, k) in pair.iter().zip([sign, -sign]) {
                    match e {
                        Elem::Src(s) => terms.push((k, &inputs[s.input][s.index])),
                        Elem::Const(c) => constant += k as i128 * *c as i128,
                    }
                }
                ins.linear(&terms, constant)
            };
            // u = [a - b ≥ 1], v = [b - a ≥ 1]
            let above = |ins: &mut I, sign: i64| {
                let d = diff(ins, sign)?;
                let b = if sign > 0 { db } else { (-db.1, -db.0) };
                ins.rescale(&d, &RescaleParams::relu(b, (0, 1)))
            };
            let y = match self.cmp {
                Cmp::Gt => above(ins, 1)?,
                Cmp::Lt => above(ins, -1)?,
                Cmp::Le => {
                    let u = above(ins, 1)?;
                    ins.linear(&[(-1, &u)], 1)?
                }
                Cmp::Ge => {
                    let v = above(ins, -1)?;
                    ins.linear(&[(-1, &v)], 1)?
                }
                Cmp::Eq | Cmp::Ne => {
                    let u = above(ins, 1)?;
                    let v = above(ins, -1)?;
                    if self.cmp == Cmp::Eq {
                        ins.linear(&[(-1, &u), (-1, &v)], 1)?
                    } else {
                        ins.linear(&[(1, &u), (1, &v)], 0)?
                    }
                }
            };
            out.push(y);
        }
        Ok(out)
    }
}
