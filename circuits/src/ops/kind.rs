//! The five structures an op can have, and for each, written once: the reference semantics
//! (exact integers), the static bounds of the output, and the lowering onto [`Instructions`].
//!
//! Soundness rests on the lowering constraining exactly what `eval` computes: wiring moves
//! values and constrains nothing (a copy is an equality in the backend); a linear map is one
//! `linear` per output with the same terms; products, maxima and rescales are each one
//! instruction whose backend relation is tested (negative cases, mutation net) on its own.

use super::instructions::Instructions;
use super::rescale::{Rescale, RescaleParams};

/// Inclusive static bounds `[lo, hi]` of a tensor's values.
pub type Bound = (i128, i128);

/// An element of one of a node's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Src {
    /// Which input of the node.
    pub input: usize,
    /// Flat (row-major) position in that input.
    pub index: usize,
}

impl Src {
    /// Element `index` of the node's first input.
    pub fn of(index: usize) -> Self {
        Self { input: 0, index }
    }
}

/// An output element of a wiring op: an input element or a constant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem {
    /// A copy of an input element.
    Src(Src),
    /// A constant (padding).
    Const(i64),
}

/// One output of a linear map: `constant + Σ k · x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Combination {
    /// Coefficient and input element of each term.
    pub terms: Vec<(i64, Src)>,
    /// The constant term (a bias).
    pub constant: i128,
}

/// An op's structure over concrete shapes, one entry per output element.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// Output elements are input elements or constants.
    Wiring(Vec<Elem>),
    /// Output elements are constant linear combinations of input elements.
    Linear(Vec<Combination>),
    /// Output elements are products of two input elements.
    Product(Vec<[Src; 2]>),
    /// Output elements are maxima of non-empty sets of input elements.
    Max(Vec<Vec<Src>>),
    /// Element-wise rescale of the first input.
    Rescale(Rescale),
    /// Element-wise `max(x, 0)` of the first input.
    Relu,
}

/// Widest input a comparison accepts: its difference and clamp must fit the rescale relation.
pub const MAX_COMPARE_BITS: u32 = 60;

fn merge(a: Bound, b: Bound) -> Bound {
    (a.0.min(b.0), a.1.max(b.1))
}

fn term_bound(k: i64, b: Bound) -> Option<Bound> {
    let (p, q) = ((k as i128).checked_mul(b.0)?, (k as i128).checked_mul(b.1)?);
    Some((p.min(q), p.max(q)))
}

fn overflow() -> String {
    "values may exceed 2^127".into()
}

/// Number of bits needed to write `v`.
pub fn bits_of(v: u128) -> u32 {
    128 - v.leading_zeros()
}

/// Bits of the largest magnitude within `b`.
pub fn width(b: Bound) -> u32 {
    bits_of(b.0.unsigned_abs().max(b.1.unsigned_abs()))
}

impl Kind {
    /// Number of output elements.
    pub fn len(&self, input_len: usize) -> usize {
        match self {
            Kind::Wiring(e) => e.len(),
            Kind::Linear(c) => c.len(),
            Kind::Product(p) => p.len(),
            Kind::Max(s) => s.len(),
            Kind::Rescale(_) | Kind::Relu => input_len,
        }
    }

    /// Bounds of the output from the bounds of the inputs; an error when the op cannot accept
    /// inputs that wide.
    pub fn bounds(&self, inputs: &[Bound]) -> Result<Bound, String> {
        let none = (i128::MAX, i128::MIN);
        Ok(match self {
            Kind::Wiring(elems) => elems.iter().fold(none, |acc, e| match e {
                Elem::Src(s) => merge(acc, inputs[s.input]),
                Elem::Const(c) => merge(acc, (*c as i128, *c as i128)),
            }),
            // Checked: a model file may chain wide tensors, and a wrapped bound would size the
            // range checks too narrow.
            Kind::Linear(combs) => combs.iter().try_fold(none, |acc, c| {
                let b = c
                    .terms
                    .iter()
                    .try_fold((c.constant, c.constant), |s, (k, x)| {
                        let t = term_bound(*k, inputs[x.input])?;
                        Some((s.0.checked_add(t.0)?, s.1.checked_add(t.1)?))
                    })
                    .ok_or_else(overflow)?;
                Ok::<_, String>(merge(acc, b))
            })?,
            Kind::Product(pairs) => pairs.iter().try_fold(none, |acc, [a, b]| {
                let (x, y) = (inputs[a.input], inputs[b.input]);
                let c =
                    [(x.0, y.0), (x.0, y.1), (x.1, y.0), (x.1, y.1)].map(|(p, q)| p.checked_mul(q));
                let c: Vec<i128> = c.into_iter().collect::<Option<_>>().ok_or_else(overflow)?;
                Ok::<_, String>(merge(
                    acc,
                    (*c.iter().min().unwrap(), *c.iter().max().unwrap()),
                ))
            })?,
            Kind::Max(sets) => {
                if sets.iter().any(|s| s.is_empty()) {
                    return Err("a window holds no input element".into());
                }
                for b in inputs {
                    if width(*b) > MAX_COMPARE_BITS {
                        return Err(format!(
                            "compares values up to 2^{}; the limit is 2^{MAX_COMPARE_BITS}",
                            width(*b)
                        ));
                    }
                }
                sets.iter().fold(none, |acc, set| {
                    let b = set
                        .iter()
                        .map(|s| inputs[s.input])
                        .fold((i128::MIN, i128::MIN), |m, b| (m.0.max(b.0), m.1.max(b.1)));
                    merge(acc, b)
                })
            }
            Kind::Rescale(r) => {
                let (lo, hi) = inputs[0];
                match (r.apply(lo), r.apply(hi)) {
                    (Some(a), Some(b)) => (a as i128, b as i128),
                    _ => return Err("the rescaled product overflows".into()),
                }
            }
            Kind::Relu => {
                if width(inputs[0]) > MAX_COMPARE_BITS {
                    return Err(format!(
                        "compares values up to 2^{}; the limit is 2^{MAX_COMPARE_BITS}",
                        width(inputs[0])
                    ));
                }
                (inputs[0].0.max(0), inputs[0].1.max(0))
            }
        })
    }

    /// The reference semantics: exact integers; `None` on an overflow of `i128`.
    pub fn eval(&self, inputs: &[&[i128]]) -> Option<Vec<i128>> {
        let get = |s: &Src| inputs[s.input][s.index];
        match self {
            Kind::Wiring(elems) => Some(
                elems
                    .iter()
                    .map(|e| match e {
                        Elem::Src(s) => get(s),
                        Elem::Const(c) => *c as i128,
                    })
                    .collect(),
            ),
            Kind::Linear(combs) => combs
                .iter()
                .map(|c| {
                    c.terms.iter().try_fold(c.constant, |s, (k, x)| {
                        s.checked_add((*k as i128).checked_mul(get(x))?)
                    })
                })
                .collect(),
            Kind::Product(pairs) => pairs
                .iter()
                .map(|[a, b]| get(a).checked_mul(get(b)))
                .collect(),
            Kind::Max(sets) => sets.iter().map(|s| s.iter().map(get).max()).collect(),
            Kind::Rescale(r) => inputs[0]
                .iter()
                .map(|v| r.apply(*v).map(i128::from))
                .collect(),
            Kind::Relu => Some(inputs[0].iter().map(|v| (*v).max(0)).collect()),
        }
    }

    /// Lays the op out on `ins`: `inputs` are the node's input values (flat), `bounds` their
    /// static bounds and `out` the output's.
    pub fn lower<I: Instructions>(
        &self,
        ins: &mut I,
        inputs: &[&[I::Value]],
        bounds: &[Bound],
        out: Bound,
    ) -> Result<Vec<I::Value>, I::Error> {
        let get = |s: &Src| &inputs[s.input][s.index];
        match self {
            Kind::Wiring(elems) => elems
                .iter()
                .map(|e| match e {
                    Elem::Src(s) => Ok(get(s).clone()),
                    Elem::Const(c) => ins.constant(*c as i128),
                })
                .collect(),
            Kind::Linear(combs) => combs
                .iter()
                .map(|c| {
                    let terms: Vec<(i64, &I::Value)> =
                        c.terms.iter().map(|(k, x)| (*k, get(x))).collect();
                    ins.linear(&terms, c.constant)
                })
                .collect(),
            Kind::Product(pairs) => pairs.iter().map(|[a, b]| ins.mul(get(a), get(b))).collect(),
            Kind::Max(sets) => sets
                .iter()
                .map(|set| {
                    let mut acc = get(&set[0]).clone();
                    let mut b = bounds[set[0].input];
                    for s in &set[1..] {
                        let c = bounds[s.input];
                        acc = ins.max(&acc, get(s), (b.0 - c.1, b.1 - c.0))?;
                        b = (b.0.max(c.0), b.1.max(c.1));
                    }
                    Ok(acc)
                })
                .collect(),
            Kind::Rescale(r) => {
                let p = r.params(width(bounds[0]));
                inputs[0].iter().map(|x| ins.rescale(x, &p)).collect()
            }
            Kind::Relu => {
                let p = RescaleParams::relu(bounds[0], out);
                inputs[0].iter().map(|x| ins.rescale(x, &p)).collect()
            }
        }
    }
}
