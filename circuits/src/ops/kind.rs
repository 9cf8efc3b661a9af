//! The structures an op can have, and for each, written once: the reference semantics
//! (exact integers), the static bounds of the output, and the lowering onto [`Instructions`].
//!
//! Soundness rests on the lowering constraining exactly what `eval` computes: wiring moves
//! values and constrains nothing (a copy is an equality in the backend); a linear map is one
//! `linear` per output with the same terms, handed over as blocks of outputs that read one
//! input list (`linear_blocks`, whose default is exactly that); a sum of products is a product
//! per term and their combination (`inners`, by default one `inner` each; its grids name the
//! sums whose pairs form a matrix product, which is what they compute); products, maxima, rescales and
//! table lookups are each one instruction whose backend relation is tested (negative cases,
//! mutation net) on its own.

use std::collections::BTreeMap;

use super::choose::Choice;
use super::compare::Comparison;
use super::embed::Embedding;
use super::index_hot::IndexHots;
use super::instructions::{Block, Instructions};
use super::matmul::grids;
use super::quotient::Quotients;
use super::rescale::{Rescale, RescaleParams};
use super::softmax::Normalise;
use super::topk::Ranking;

/// Inclusive static bounds `[lo, hi]` of a tensor's values.
pub type Bound = (i128, i128);

/// An element of one of a node's inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
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
    /// Output elements are sums of products of two input elements.
    Inner(Vec<Vec<[Src; 2]>>),
    /// Output elements are maxima of non-empty sets of input elements.
    Max(Vec<Vec<Src>>),
    /// Output elements are minima of non-empty sets of input elements.
    Min(Vec<Vec<Src>>),
    /// Output elements are the reported index of the first extreme of each non-empty set of
    /// candidates `(index, element)`: the maximum, or the minimum when `min`.
    Arg {
        /// Candidates per output, in tie-breaking order.
        sets: Vec<Vec<(i64, Src)>>,
        /// Minimum instead of maximum.
        min: bool,
    },
    /// Element-wise `pos · x` where `x ≥ 0`, `neg · x` below, per output element.
    Piecewise(Vec<[i64; 2]>),
    /// Element-wise `clamp(x, min, max)` of the first input.
    Clamp {
        /// Floor.
        min: i64,
        /// Ceiling, at least `min`.
        max: i64,
    },
    /// Element-wise rescale of the first input.
    Rescale(Rescale),
    /// Element-wise `max(x, 0)` of the first input.
    Relu,
    /// Element-wise `values[x - first]` of the first input, whose bound lies in the domain.
    Table {
        /// The input of `values[0]`.
        first: i64,
        /// The outputs of consecutive inputs.
        values: Vec<i64>,
    },
    /// Softmax of each set of the first input, in its layout ([`super::softmax`]).
    Softmax(Normalise),
    /// The table rows the first input's integers pick, one after another ([`super::embed`]).
    Embed(Embedding),
    /// Element-wise 0/1 comparisons ([`super::compare`]).
    Compare(Comparison),
    /// Element-wise picks between two branches by a 0/1 condition ([`super::choose`]).
    Choose(Choice),
    /// Element-wise integer quotients by constants ([`super::quotient`]).
    Quotient(Quotients),
    /// The first ranks of sets of the first input ([`super::topk`]).
    TopK(Ranking),
    /// The one-hot row of each index of the first input ([`super::index_hot`]).
    IndexHot(IndexHots),
}

/// Widest input a comparison accepts: its difference and clamp must fit the rescale relation.
pub const MAX_COMPARE_BITS: u32 = 60;

/// A linear map's outputs grouped by the input list they read, in first-appearance order:
/// `(inputs, outputs)`.
fn blocks(combs: &[Combination]) -> Vec<(Vec<Src>, Vec<usize>)> {
    let mut index: BTreeMap<Vec<Src>, usize> = BTreeMap::new();
    let mut out: Vec<(Vec<Src>, Vec<usize>)> = Vec::new();
    for (i, c) in combs.iter().enumerate() {
        let key: Vec<Src> = c.terms.iter().map(|(_, x)| *x).collect();
        let at = *index.entry(key.clone()).or_insert_with(|| {
            out.push((key, Vec::new()));
            out.len() - 1
        });
        out[at].1.push(i);
    }
    out
}

impl Kind {
    /// Whether two blocks of a linear map compute the same combinations of their own inputs
    /// (one projection at several positions): a backend may prove those together.
    pub fn repeats_blocks(&self) -> bool {
        let Kind::Linear(combs) = self else {
            return false;
        };
        let mut seen = std::collections::BTreeSet::new();
        blocks(combs).iter().any(|(_, members)| {
            let map: Vec<(Vec<i64>, i128)> = members
                .iter()
                .map(|i| {
                    let c = &combs[*i];
                    (c.terms.iter().map(|(k, _)| *k).collect(), c.constant)
                })
                .collect();
            !seen.insert(map)
        })
    }
}

fn merge(a: Bound, b: Bound) -> Bound {
    (a.0.min(b.0), a.1.max(b.1))
}

fn term_bound(k: i64, b: Bound) -> Option<Bound> {
    let (p, q) = ((k as i128).checked_mul(b.0)?, (k as i128).checked_mul(b.1)?);
    Some((p.min(q), p.max(q)))
}

/// Comparisons take their inputs' difference through the rescale relation, which bounds it.
fn compared(inputs: &[Bound]) -> Result<(), String> {
    match inputs.iter().map(|b| width(*b)).max() {
        Some(w) if w > MAX_COMPARE_BITS => Err(format!(
            "compares values up to 2^{w}; the limit is 2^{MAX_COMPARE_BITS}"
        )),
        _ => Ok(()),
    }
}

/// The bound of `a · b` from its operands' bounds.
fn product_bound(inputs: &[Bound], [a, b]: &[Src; 2]) -> Result<Bound, String> {
    let (x, y) = (inputs[a.input], inputs[b.input]);
    let c = [(x.0, y.0), (x.0, y.1), (x.1, y.0), (x.1, y.1)].map(|(p, q)| p.checked_mul(q));
    let c: Vec<i128> = c.into_iter().collect::<Option<_>>().ok_or_else(overflow)?;
    Ok((*c.iter().min().unwrap(), *c.iter().max().unwrap()))
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
            Kind::Inner(s) => s.len(),
            Kind::Max(s) | Kind::Min(s) => s.len(),
            Kind::Arg { sets, .. } => sets.len(),
            Kind::Piecewise(p) => p.len(),
            Kind::Compare(c) => c.pairs.len(),
            Kind::Choose(c) => c.picks.len(),
            Kind::Quotient(q) => q.pairs.len(),
            Kind::TopK(r) => r.len(),
            Kind::Rescale(_)
            | Kind::Relu
            | Kind::Clamp { .. }
            | Kind::Table { .. }
            | Kind::Softmax(_) => input_len,
            Kind::Embed(e) => input_len * e.width,
            Kind::IndexHot(h) => input_len * h.depth,
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
            Kind::Product(pairs) => pairs.iter().try_fold(none, |acc, pair| {
                Ok::<_, String>(merge(acc, product_bound(inputs, pair)?))
            })?,
            Kind::Inner(sums) => sums.iter().try_fold(none, |acc, pairs| {
                let b = pairs.iter().try_fold((0i128, 0i128), |s, pair| {
                    let p = product_bound(inputs, pair)?;
                    Ok::<_, String>((
                        s.0.checked_add(p.0).ok_or_else(overflow)?,
                        s.1.checked_add(p.1).ok_or_else(overflow)?,
                    ))
                })?;
                Ok::<_, String>(merge(acc, b))
            })?,
            Kind::Max(sets) | Kind::Min(sets) => {
                let min = matches!(self, Kind::Min(_));
                compared(inputs)?;
                let pick = |a: i128, b: i128| if min { a.min(b) } else { a.max(b) };
                sets.iter().try_fold(none, |acc, set| {
                    let (first, rest) =
                        set.split_first().ok_or("a window holds no input element")?;
                    let b = rest.iter().fold(inputs[first.input], |m, s| {
                        let b = inputs[s.input];
                        (pick(m.0, b.0), pick(m.1, b.1))
                    });
                    Ok::<_, String>(merge(acc, b))
                })?
            }
            Kind::Arg { sets, .. } => {
                compared(inputs)?;
                sets.iter().try_fold(none, |acc, set| {
                    if set.is_empty() {
                        return Err("a window holds no input element".to_string());
                    }
                    Ok(set
                        .iter()
                        .fold(acc, |m, (i, _)| merge(m, (*i as i128, *i as i128))))
                })?
            }
            Kind::Piecewise(coeffs) => {
                compared(inputs)?;
                let (lo, hi) = inputs[0];
                let (pos, neg) = ((lo.max(0), hi.max(0)), (lo.min(0), hi.min(0)));
                coeffs.iter().try_fold(none, |acc, [p, n]| {
                    let (a, b) = (term_bound(*p, pos), term_bound(*n, neg));
                    let (a, b) = a.zip(b).ok_or_else(overflow)?;
                    Ok::<_, String>(merge(acc, (a.0.min(b.0), a.1.max(b.1))))
                })?
            }
            Kind::Clamp { min, max } => {
                compared(inputs)?;
                let c = |v: i128| v.clamp(*min as i128, *max as i128);
                (c(inputs[0].0), c(inputs[0].1))
            }
            Kind::Rescale(r) => {
                let (lo, hi) = inputs[0];
                match (r.apply(lo), r.apply(hi)) {
                    (Some(a), Some(b)) => (a as i128, b as i128),
                    _ => return Err("the rescaled product overflows".into()),
                }
            }
            Kind::Relu => {
                compared(inputs)?;
                (inputs[0].0.max(0), inputs[0].1.max(0))
            }
            Kind::Table { first, values } => {
                let (lo, hi) = inputs[0];
                let last = *first as i128 + values.len() as i128 - 1;
                if lo < *first as i128 || hi > last {
                    return Err(format!(
                        "the input may reach [{lo}, {hi}], outside the table's domain [{first}, {last}]"
                    ));
                }
                let reach =
                    &values[(lo - *first as i128) as usize..=(hi - *first as i128) as usize];
                reach
                    .iter()
                    .fold(none, |acc, v| merge(acc, (*v as i128, *v as i128)))
            }
            Kind::Softmax(n) => {
                compared(inputs)?;
                n.bounds(inputs[0])?
            }
            Kind::Embed(e) => e.bounds(inputs[0])?,
            Kind::Compare(c) => c.bounds(inputs)?,
            Kind::Choose(c) => c.bounds(inputs)?,
            Kind::Quotient(q) => q.bounds(inputs[0])?,
            Kind::TopK(r) => r.bounds(inputs[0])?,
            Kind::IndexHot(h) => h.bounds(inputs[0])?,
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
            Kind::Inner(sums) => sums
                .iter()
                .map(|pairs| {
                    pairs.iter().try_fold(0i128, |s, [a, b]| {
                        s.checked_add(get(a).checked_mul(get(b))?)
                    })
                })
                .collect(),
            Kind::Max(sets) => sets.iter().map(|s| s.iter().map(get).max()).collect(),
            Kind::Min(sets) => sets.iter().map(|s| s.iter().map(get).min()).collect(),
            Kind::Arg { sets, min } => sets
                .iter()
                .map(|set| {
                    let better = |v: i128, b: i128| if *min { v < b } else { v > b };
                    let (first, rest) = set.split_first()?;
                    let best = rest.iter().fold((first.0, get(&first.1)), |b, (i, s)| {
                        if better(get(s), b.1) {
                            (*i, get(s))
                        } else {
                            b
                        }
                    });
                    Some(best.0 as i128)
                })
                .collect(),
            Kind::Piecewise(coeffs) => coeffs
                .iter()
                .zip(inputs[0])
                .map(|([p, n], x)| (if *x >= 0 { *p } else { *n } as i128).checked_mul(*x))
                .collect(),
            Kind::Clamp { min, max } => Some(
                inputs[0]
                    .iter()
                    .map(|x| (*x).clamp(*min as i128, *max as i128))
                    .collect(),
            ),
            Kind::Rescale(r) => inputs[0]
                .iter()
                .map(|v| r.apply(*v).map(i128::from))
                .collect(),
            Kind::Relu => Some(inputs[0].iter().map(|v| (*v).max(0)).collect()),
            // outside the domain only if a bound was violated: no entry, an error
            Kind::Table { first, values } => inputs[0]
                .iter()
                .map(|x| {
                    let i = usize::try_from(x.checked_sub(*first as i128)?).ok()?;
                    values.get(i).map(|v| *v as i128)
                })
                .collect(),
            Kind::Softmax(n) => n.eval(inputs[0]),
            Kind::Embed(e) => e.eval(inputs[0]),
            Kind::Compare(c) => Some(c.eval(inputs)),
            Kind::Choose(c) => c.eval(inputs),
            Kind::Quotient(q) => Some(q.eval(inputs[0])),
            Kind::TopK(r) => Some(r.eval(inputs[0])),
            Kind::IndexHot(h) => h.eval(inputs[0]),
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
            Kind::Linear(combs) => {
                let groups = blocks(combs);
                let blocks: Vec<Block<'_, I::Value>> = groups
                    .iter()
                    .map(|(key, members)| Block {
                        xs: key.iter().map(get).collect(),
                        weights: members
                            .iter()
                            .map(|i| combs[*i].terms.iter().map(|(k, _)| *k).collect())
                            .collect(),
                        constants: members.iter().map(|i| combs[*i].constant).collect(),
                    })
                    .collect();
                let mut out: Vec<Option<I::Value>> = vec![None; combs.len()];
                for ((_, members), values) in groups.iter().zip(ins.linear_blocks(&blocks)?) {
                    for (i, v) in members.iter().zip(values) {
                        out[*i] = Some(v);
                    }
                }
                Ok(out
                    .into_iter()
                    .map(|v| v.expect("every output is in a block"))
                    .collect())
            }
            Kind::Product(pairs) => pairs.iter().map(|[a, b]| ins.mul(get(a), get(b))).collect(),
            Kind::Inner(sums) => {
                let pairs: Vec<Vec<_>> = sums
                    .iter()
                    .map(|pairs| pairs.iter().map(|[a, b]| (get(a), get(b))).collect())
                    .collect();
                ins.inners(&pairs, &grids(sums))
            }
            Kind::Max(sets) | Kind::Min(sets) => {
                let min = matches!(self, Kind::Min(_));
                sets.iter()
                    .map(|set| {
                        let set: Vec<_> = set.iter().map(|s| (get(s), bounds[s.input])).collect();
                        Ok(extreme(ins, &set, min)?.0)
                    })
                    .collect()
            }
            Kind::Arg { sets, min } => sets
                .iter()
                .map(|set| {
                    let vals: Vec<_> = set.iter().map(|(_, s)| (get(s), bounds[s.input])).collect();
                    let idx: Vec<i64> = set.iter().map(|(i, _)| *i).collect();
                    super::reduce::arg(ins, &vals, &idx, *min)
                })
                .collect(),
            Kind::Piecewise(coeffs) => {
                let p = RescaleParams::relu(bounds[0], bounds[0]);
                coeffs
                    .iter()
                    .zip(inputs[0])
                    .map(|([pos, neg], x)| {
                        let r = ins.rescale(x, &p)?;
                        ins.linear(&[(pos - neg, &r), (*neg, x)], 0)
                    })
                    .collect()
            }
            Kind::Clamp { min, max } => inputs[0]
                .iter()
                .map(|x| clamp(ins, x, bounds[0], *min, *max))
                .collect(),
            Kind::Rescale(r) => {
                let p = r.params(width(bounds[0]));
                inputs[0].iter().map(|x| ins.rescale(x, &p)).collect()
            }
            Kind::Relu => {
                let p = RescaleParams::relu(bounds[0], out);
                inputs[0].iter().map(|x| ins.rescale(x, &p)).collect()
            }
            Kind::Table { first, values } => inputs[0]
                .iter()
                .map(|x| ins.lookup(x, *first, values))
                .collect(),
            Kind::Softmax(n) => n.lower(ins, inputs[0], bounds[0]),
            Kind::Embed(e) => e.lower(ins, inputs[0], bounds[0]),
            Kind::Compare(c) => c.lower(ins, inputs, bounds),
            Kind::Choose(c) => c.lower(ins, inputs),
            Kind::Quotient(q) => q.lower(ins, inputs[0], bounds[0]),
            Kind::TopK(r) => r.lower(ins, inputs[0], bounds[0]),
            Kind::IndexHot(h) => h.lower(ins, inputs[0], bounds[0]),
        }
    }
}

/// The maximum (minimum when `min`) of a non-empty set of values with their bounds, folded
/// pairwise through [`Instructions::max`] / [`Instructions::min`]; returns it with its bound.
pub(crate) fn extreme<I: Instructions>(
    ins: &mut I,
    set: &[(&I::Value, Bound)],
    min: bool,
) -> Result<(I::Value, Bound), I::Error> {
    let mut acc = set[0].0.clone();
    let mut b = set[0].1;
    for (x, c) in &set[1..] {
        let diff = (b.0 - c.1, b.1 - c.0);
        acc = if min {
            ins.min(&acc, x, diff)?
        } else {
            ins.max(&acc, x, diff)?
        };
        b = if min {
            (b.0.min(c.0), b.1.min(c.1))
        } else {
            (b.0.max(c.0), b.1.max(c.1))
        };
    }
    Ok((acc, b))
}

/// `clamp(x, min, max)` as an exact rescale; the rescale clamps around 0, so a range that does
/// not contain 0 is shifted to touch it first.
fn clamp<I: Instructions>(
    ins: &mut I,
    x: &I::Value,
    b: Bound,
    min: i64,
    max: i64,
) -> Result<I::Value, I::Error> {
    let c = if min > 0 {
        min
    } else if max < 0 {
        max
    } else {
        0
    };
    let p = |b: Bound| RescaleParams {
        multiplier: 1,
        shift: 0,
        min: min - c,
        max: max - c,
        acc_bits: width(b),
    };
    if c == 0 {
        return ins.rescale(x, &p(b));
    }
    let t = ins.linear(&[(1, x)], -(c as i128))?;
    let r = ins.rescale(&t, &p((b.0 - c as i128, b.1 - c as i128)))?;
    ins.linear(&[(1, &r)], c as i128)
}
