//! Softmax over axes, in integers: per set of elements (one per position of the kept axes),
//! `m = max x`, `e_j = E[x_j - m]` from an exp table whose domain ends at 0 (the entry at 0 is
//! the largest, `2^16` as the front end writes it), `S = Σ e_j`, and
//! `y_j = floor((2·out·e_j + S) / (2·S))`, the probability `e_j / S` at scale `out` rounded
//! half up. A mask (`keep`, a constant 0/1 tensor broadcast to the input: a causal or padding
//! mask an exporter wrote as `Where(mask, scores, -inf)`) takes the masked elements out of their
//! set, max and sum included, and fixes their outputs to the constant 0.
//!
//! Sound because each step is one instruction whose relation fixes its result: the maximum is
//! proven attained and not exceeded (`max`), so `x_j - m ≤ 0` and the lookup, which also proves
//! the key lies in the table, gives the one entry for it; the sum is a linear combination; the
//! division proves `N = y·D + r` with `0 ≤ r < D` and `y` range-checked, which has one integer
//! solution since `D ≥ 2·E[0] > 0`. A masked output is a circuit constant, not a witness, and
//! every set keeps at least one element, so no set divides by an empty sum. The table is halo2's; Groth16 refuses the op with the
//! other tables.

use serde::{Deserialize, Serialize};

use super::instructions::Instructions;
use super::kind::{extreme, Bound, Kind, Src};
use super::reduce::Axes;
use super::{unary, OpSpec};
use crate::graph::tensor::{broadcast_map, broadcast_shape, Tensor};

/// The front end's exp entry at 0 is `2^EXP_BITS`.
pub const EXP_BITS: u32 = 16;
/// The front end's output scale: probabilities in `[0, 127]`, int8.
pub const OUT: i64 = 127;

/// The largest output scale and exp entry the op accepts (their products stay far below the
/// field and within the comparison width).
pub const MAX_ENTRY: i64 = 1 << 24;

/// The softmax op.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Softmax {
    /// The axes each probability vector runs along.
    pub axes: Vec<usize>,
    /// The key of `exp[0]`; the last key is 0.
    pub first: i64,
    /// `E[first..=0]`, non-negative, the last one positive.
    pub exp: Vec<i64>,
    /// The output's scale: probabilities are integers in `[0, out]`.
    pub out: i64,
    /// 1 where an element takes part, 0 where it is masked; broadcast to the input's shape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<Tensor<i64>>,
}

/// The structure: the sets, the exp table and the output scale.
#[derive(Debug, Clone, PartialEq)]
pub struct Normalise {
    /// The elements of each probability vector that take part; the output has the input's
    /// layout.
    pub sets: Vec<Vec<Src>>,
    /// The masked elements, whose outputs are 0.
    pub masked: Vec<usize>,
    /// The key of `exp[0]`.
    pub first: i64,
    /// The exp table.
    pub exp: Vec<i64>,
    /// The output scale.
    pub out: i64,
}

impl OpSpec for Softmax {
    fn name(&self) -> &'static str {
        "softmax"
    }

    fn lookups(&self) -> bool {
        true
    }

    fn check(&self) -> Result<(), String> {
        let n = self.exp.len() as i64;
        if n == 0 || self.first + n - 1 != 0 {
            return Err(format!(
                "the exp table's keys run from {} over {n} entries; they must end at 0",
                self.first
            ));
        }
        if self.exp.iter().any(|e| !(0..=MAX_ENTRY).contains(e)) || self.exp[n as usize - 1] == 0 {
            return Err("exp entries must lie in [0, 2^24], the one at 0 positive".into());
        }
        if !(1..=MAX_ENTRY).contains(&self.out) {
            return Err(format!("output scale {} outside [1, 2^24]", self.out));
        }
        if let Some(k) = &self.keep {
            if k.data.iter().any(|v| !(0..=1).contains(v)) {
                return Err("mask entries must be 0 or 1".into());
            }
        }
        Ok(())
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        let axes = Axes {
            axes: self.axes.clone(),
            keepdims: true,
        };
        axes.shape(x)?;
        if self.axes.is_empty() || self.axes.iter().any(|a| x[*a] == 0) {
            return Err("softmax over no elements".into());
        }
        if let Some(k) = &self.keep {
            if broadcast_shape(&k.shape, x).as_deref() != Some(x) {
                return Err(format!(
                    "a mask of shape {:?} does not broadcast to the input's {x:?}",
                    k.shape
                ));
            }
            if self.split(x).0.iter().any(|s| s.is_empty()) {
                return Err("the mask leaves a probability vector with no element".into());
            }
        }
        Ok(x.to_vec())
    }

    fn kind(&self, inputs: &[&[usize]], _: &[usize]) -> Kind {
        let (sets, masked) = self.split(unary(inputs));
        Kind::Softmax(Normalise {
            sets,
            masked,
            first: self.first,
            exp: self.exp.clone(),
            out: self.out,
        })
    }
}

impl Softmax {
    /// The sets of elements that take part, and the masked elements.
    fn split(&self, x: &[usize]) -> (Vec<Vec<Src>>, Vec<usize>) {
        let axes = Axes {
            axes: self.axes.clone(),
            keepdims: true,
        };
        let sets = axes.sets(x);
        let Some(k) = &self.keep else {
            return (sets, Vec::new());
        };
        let at = broadcast_map(&k.shape, x);
        let kept = |s: &Src| k.data[at[s.index]] == 1;
        let masked = sets.iter().flatten().filter(|s| !kept(s)).map(|s| s.index);
        let masked = masked.collect();
        let sets = sets
            .into_iter()
            .map(|set| set.into_iter().filter(|s| kept(s)).collect())
            .collect();
        (sets, masked)
    }
}

/// `floor(n / d)` for `d > 0`.
pub fn floor_div(n: i128, d: i128) -> i128 {
    n.div_euclid(d)
}

impl Normalise {
    fn entry(&self, d: i128) -> Option<i128> {
        let i = usize::try_from(d.checked_sub(self.first as i128)?).ok()?;
        self.exp.get(i).map(|e| *e as i128)
    }

    fn largest(&self) -> i128 {
        *self.exp.iter().max().expect("checked non-empty") as i128
    }

    fn width(&self) -> usize {
        self.sets.iter().map(|s| s.len()).max().unwrap_or(0)
    }

    /// `(numerator, denominator)` bounds of the division.
    fn division(&self) -> (Bound, Bound) {
        let n = self.width() as i128;
        let (at0, top) = (*self.exp.last().unwrap() as i128, self.largest());
        let s = (at0, n * top);
        ((s.0, 2 * self.out as i128 * top + s.1), (2 * s.0, 2 * s.1))
    }

    /// Probabilities lie in `[0, out]`; every difference to the maximum must have an entry.
    pub fn bounds(&self, x: Bound) -> Result<Bound, String> {
        if x.0 - x.1 < self.first as i128 {
            return Err(format!(
                "differences down to {} leave the exp table's domain [{}, 0]",
                x.0 - x.1,
                self.first
            ));
        }
        Ok((0, self.out as i128))
    }

    /// The reference.
    pub fn eval(&self, x: &[i128]) -> Option<Vec<i128>> {
        let mut y = vec![0; x.len()];
        for set in &self.sets {
            let m = set.iter().map(|s| x[s.index]).max()?;
            let e: Vec<i128> = set
                .iter()
                .map(|s| self.entry(x[s.index] - m))
                .collect::<Option<_>>()?;
            let sum: i128 = e.iter().sum();
            for (s, e) in set.iter().zip(&e) {
                y[s.index] = floor_div(2 * self.out as i128 * e + sum, 2 * sum);
            }
        }
        Some(y)
    }

    /// The lowering, one instruction per step of [`Self::eval`].
    pub fn lower<I: Instructions>(
        &self,
        ins: &mut I,
        x: &[I::Value],
        b: Bound,
    ) -> Result<Vec<I::Value>, I::Error> {
        let (nb, db) = self.division();
        let mut y: Vec<Option<I::Value>> = vec![None; x.len()];
        for i in &self.masked {
            y[*i] = Some(ins.constant(0)?);
        }
        for set in &self.sets {
            let xs: Vec<(&I::Value, Bound)> = set.iter().map(|s| (&x[s.index], b)).collect();
            let (m, _) = extreme(ins, &xs, false)?;
            let mut e = Vec::with_capacity(set.len());
            for s in set {
                let d = ins.linear(&[(1, &x[s.index]), (-1, &m)], 0)?;
                e.push(ins.lookup(&d, self.first, &self.exp)?);
            }
            let terms: Vec<(i64, &I::Value)> = e.iter().map(|v| (1, v)).collect();
            let sum = ins.linear(&terms, 0)?;
            let den = ins.linear(&[(2, &sum)], 0)?;
            for (s, e) in set.iter().zip(&e) {
                let num = ins.linear(&[(2 * self.out, e), (1, &sum)], 0)?;
                y[s.index] = Some(ins.div(&num, &den, nb, db)?);
            }
        }
        Ok(y.into_iter()
            .map(|v| v.expect("the sets and the mask cover the input"))
            .collect())
    }
}
