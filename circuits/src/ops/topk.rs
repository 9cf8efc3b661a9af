//! The `k` largest (or smallest) elements along an axis, in order, or their indices: ONNX TopK,
//! whose two outputs are two nodes of this op. Ties go to the lower index first, as tract's
//! stable sort puts them.
//!
//! Sound because the op ranks keys that are a function of the inputs and unique: element `j` of
//! a set of `n` has the key `n · x_j + t_j`, with `t_j = n - 1 - j` for the largest (a tie goes
//! to the lower index) and `j` for the smallest. Rank after rank, one pass of compare-exchange
//! steps carries the extreme forward: each step is a `max` (or `min`) instruction, exact, and
//! the other element is `a + b - max`, a constant combination; so the ranked keys are the sorted
//! keys. A ranked key splits by the `div` instruction into `x = floor(key / n)` and
//! `t = key - n · x`, one solution since `0 ≤ t < n`; the index is `t` or `n - 1 - t`.

use serde::{Deserialize, Serialize};

use super::instructions::Instructions;
use super::kind::{Bound, Kind, Src};
use super::reduce::Axes;
use super::{unary, OpSpec};
use crate::graph::tensor::{numel, ravel, strides, unravel};

/// The `k` extremes along `axis`, or their indices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopK {
    /// The ranked axis.
    pub axis: usize,
    /// How many, at most the axis' length.
    pub k: usize,
    /// The largest first, else the smallest first.
    pub largest: bool,
    /// The indices along the axis instead of the values.
    pub indices: bool,
}

/// The structure: per set of elements ranked together, the output position of each rank.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// The elements of each set, in index order.
    pub sets: Vec<Vec<Src>>,
    /// The output position of ranks `0..k` of each set.
    pub at: Vec<Vec<usize>>,
    /// The largest first, else the smallest first.
    pub largest: bool,
    /// Indices instead of values.
    pub indices: bool,
}

impl OpSpec for TopK {
    fn name(&self) -> &'static str {
        "top_k"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        match x.get(self.axis) {
            Some(n) if (1..=*n).contains(&self.k) => {
                let mut out = x.to_vec();
                out[self.axis] = self.k;
                Ok(out)
            }
            Some(n) => Err(format!("k = {} of an axis of {n}", self.k)),
            None => Err(format!("axis {} of rank {}", self.axis, x.len())),
        }
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let x = unary(inputs);
        let axes = Axes {
            axes: vec![self.axis],
            keepdims: true,
        };
        let kept: Vec<usize> = axes.shape(x).expect("a checked axis");
        let os = strides(out);
        let at = (0..numel(&kept))
            .map(|s| {
                let mut idx = unravel(s, &kept);
                (0..self.k)
                    .map(|t| {
                        idx[self.axis] = t;
                        ravel(&idx, &os)
                    })
                    .collect()
            })
            .collect();
        Kind::TopK(Ranking {
            sets: axes.sets(x),
            at,
            largest: self.largest,
            indices: self.indices,
        })
    }
}

impl Ranking {
    /// Outputs.
    pub fn len(&self) -> usize {
        self.at.iter().map(Vec::len).sum()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key of element `j` of a set of `n` with value `x`.
    fn key(&self, x: i128, j: usize, n: usize) -> i128 {
        let t = if self.largest { n - 1 - j } else { j };
        n as i128 * x + t as i128
    }

    /// The input's bound for values, `[0, n - 1]` for indices.
    pub fn bounds(&self, input: Bound) -> Result<Bound, String> {
        let n = self.sets.iter().map(Vec::len).max().unwrap_or(1) as i128;
        Ok(if self.indices { (0, n - 1) } else { input })
    }

    /// The reference: each set's elements sorted by key, the first `k`.
    pub fn eval(&self, input: &[i128]) -> Vec<i128> {
        let mut out = vec![0; self.len()];
        for (set, at) in self.sets.iter().zip(&self.at) {
            let n = set.len();
            let mut ranked: Vec<(i128, usize)> = set
                .iter()
                .enumerate()
                .map(|(j, s)| (self.key(input[s.index], j, n), j))
                .collect();
            ranked.sort_unstable_by_key(|(key, _)| *key);
            if self.largest {
                ranked.reverse();
            }
            for ((key, j), o) in ranked.into_iter().zip(at) {
                out[*o] = if self.indices {
                    j as i128
                } else {
                    key.div_euclid(n as i128)
                };
            }
        }
        out
    }

    /// Per set: its keys, one pass of compare-exchange steps per rank, each ranked key split.
    pub fn lower<I: Instructions>(
        &self,
        ins: &mut I,
        input: &[I::Value],
        bound: Bound,
    ) -> Result<Vec<I::Value>, I::Error> {
        let mut out: Vec<Option<I::Value>> = vec![None; self.len()];
        for (set, at) in self.sets.iter().zip(&self.at) {
            let n = set.len();
            let kb = (n as i128 * bound.0, n as i128 * bound.1 + n as i128 - 1);
            let diff = (kb.0 - kb.1, kb.1 - kb.0);
            let mut rest = set
                .iter()
                .enumerate()
                .map(|(j, s)| {
                    let c = self.key(0, j, n);
                    ins.linear(&[(n as i64, &input[s.index])], c)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let den = ins.constant(n as i128)?;
            for (rank, o) in at.iter().enumerate() {
                let mut best = rest[0].clone();
                let mut next = Vec::with_capacity(rest.len());
                for other in &rest[1..] {
                    let won = if self.largest {
                        ins.max(&best, other, diff)?
                    } else {
                        ins.min(&best, other, diff)?
                    };
                    // the last rank leaves no one to rank after it
                    if rank + 1 < at.len() {
                        next.push(ins.linear(&[(1, &best), (1, other), (-1, &won)], 0)?);
                    }
                    best = won;
                }
                rest = next;
                let x = ins.div(&best, &den, kb, (n as i128, n as i128))?;
                out[*o] = Some(if self.indices {
                    let t = ins.linear(&[(1, &best), (-(n as i64), &x)], 0)?;
                    if self.largest {
                        ins.linear(&[(-1, &t)], n as i128 - 1)?
                    } else {
                        t
                    }
                } else {
                    x
                });
            }
        }
        Ok(out
            .into_iter()
            .map(|v| v.expect("every output is ranked"))
            .collect())
    }
}
