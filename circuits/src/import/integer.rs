//! Tensors of integers, kept exact at scale 1: booleans (0 and 1) and the indices and counts
//! computed from them, as decision trees, masks built from data and `torch.where` export them.
//!
//! - Comparisons (Less, Greater, LessOrEqual, GreaterOrEqual, Equal), logic (Not, And, Or, Xor),
//!   OneHot, and Where with a computed condition. A Cast of a boolean to a number, or of an
//!   integer to a float, is the same tensor.
//! - Sums, differences and products of integer tensors with whole constants (an offset added
//!   to an index, a sum of two counts) are exact: no rescale, the range tracked. So are quotients
//!   by whole constants, rounded as tract rounds them: toward 0 (Div) or down (ShiftRight).
//!
//! Quantized, a comparison with a constant compares integers exactly as the float model compares
//! the quantized values: `x < t` for `x = q / s` is `q < ⌈t · s⌉`, `x ≤ t` is `q ≤ ⌊t · s⌋`, and
//! so on, the constant clamped to one past the tensor's range (which leaves the result as it is).
//! Equality with a constant is equality with its nearest grid point (`round(t · s)`), except on
//! a tensor of integers (scale 1), where a constant that is no integer is never equal.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::{
    array::OneHot, binary::TypedBinOp, cast::Cast, element_wise::ElementWiseOp, logic::Iff,
};

use super::float::InputKind;
use super::quantize::{bound, Emit, Q};
use super::scale::scale_for;
use super::translate::{const_of, FloatGraph, FloatInput, FloatNode, FloatOp};
use super::ImportError;
use crate::graph::tensor::{broadcast_map, Tensor};
use crate::ops::compare::Cmp;
use crate::ops::{add, affine, choose, compare, max, mul, quotient, reduce, wiring, Op};

/// Logic of booleans.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Logic {
    /// `1 - a`.
    Not,
    /// `a · b`.
    And,
    /// `max(a, b)`.
    Or,
}

/// What a node of tract's becomes.
pub(crate) enum Translated {
    /// An op reading these outlets.
    Op(FloatOp, Vec<OutletId>),
    /// The same values as this outlet (a Cast that changes only the type).
    Alias(OutletId),
}

fn cmp_of(name: &str) -> Option<Cmp> {
    Some(match name {
        "LT" => Cmp::Lt,
        "LTE" => Cmp::Le,
        "GT" => Cmp::Gt,
        "GTE" => Cmp::Ge,
        "Eq" => Cmp::Eq,
        "NE" | "Xor" => Cmp::Ne,
        _ => return None,
    })
}

/// The translation of `node` when it is a boolean op; `from` its inputs, aliases resolved.
pub(crate) fn translate(
    model: &TypedModel,
    node: &TypedNode,
    from: &[OutletId],
) -> Option<Result<Translated, String>> {
    let konst = |i: usize| const_of(model, node.inputs[i]);
    if let Some(b) = node.op_as::<TypedBinOp>() {
        let name = b.0.name();
        let logic = match name {
            "And" => Some(Logic::And),
            "Or" => Some(Logic::Or),
            _ => None,
        };
        if let Some(l) = logic {
            return Some(match (konst(0), konst(1)) {
                (None, None) => Ok(Translated::Op(FloatOp::Logic(l), from.to_vec())),
                _ => Err(format!("{name} with a constant operand")),
            });
        }
        if let Some(r) = quotient(model, node, name, konst(1)) {
            return Some(r.map(|op| Translated::Op(op, vec![from[0]])));
        }
        let cmp = cmp_of(name)?;
        return Some(Ok(match (konst(0), konst(1)) {
            (None, None) => Translated::Op(FloatOp::Compare { cmp, k: None }, from.to_vec()),
            (None, Some(k)) => Translated::Op(FloatOp::Compare { cmp, k: Some(k) }, vec![from[0]]),
            (Some(k), None) => Translated::Op(
                FloatOp::Compare {
                    cmp: cmp.flipped(),
                    k: Some(k),
                },
                vec![from[1]],
            ),
            (Some(_), Some(_)) => unreachable!("tract folds constant expressions"),
        }));
    }
    if let Some(e) = node.op_as::<ElementWiseOp>() {
        return (e.0.name() == "Not")
            .then(|| Ok(Translated::Op(FloatOp::Logic(Logic::Not), vec![from[0]])));
    }
    if let Some(c) = node.op_as::<Cast>() {
        let dt = match model.outlet_fact(node.inputs[0]) {
            Ok(f) => f.datum_type,
            Err(e) => return Some(Err(e.to_string())),
        };
        return Some(if c.to == DatumType::Bool && dt != DatumType::Bool {
            // a number is true where it is not 0
            let k = Some(Tensor::scalar(0.0));
            Ok(Translated::Op(
                FloatOp::Compare { cmp: Cmp::Ne, k },
                vec![from[0]],
            ))
        } else if dt.is_integer() && c.to.is_integer() && !super::cast::holds(c.to, dt) {
            let bits = 8 * c.to.size_of() as u32;
            Ok(Translated::Op(
                FloatOp::Wrap {
                    bits,
                    signed: c.to.is_signed(),
                },
                vec![from[0]],
            ))
        } else if dt == DatumType::Bool
            || dt == DatumType::TDim
            || dt.is_integer()
            || c.to.is_float()
        {
            Ok(Translated::Alias(from[0]))
        } else {
            Err(format!(
                "a Cast from {dt:?} to {:?} (rounding toward 0)",
                c.to
            ))
        });
    }
    if let Some(o) = node.op_as::<OneHot>() {
        let scalar = |t: &Arc<tract_onnx::prelude::Tensor>| t.cast_to_scalar::<f64>().ok();
        let (Some(off), Some(on)) = (scalar(&o.off), scalar(&o.on)) else {
            return Some(Err("a OneHot whose values are not numbers".into()));
        };
        return Some(Ok(Translated::Op(
            FloatOp::OneHot {
                axis: o.axis,
                dim: o.dim,
                off,
                on,
            },
            vec![from[0]],
        )));
    }
    if node.op_is::<Iff>() && konst(0).is_none() {
        let mut inputs = vec![from[0]];
        let (then, otherwise) = (konst(1), konst(2));
        inputs.extend(then.is_none().then_some(from[1]));
        inputs.extend(otherwise.is_none().then_some(from[2]));
        return Some(Ok(Translated::Op(
            FloatOp::Choose { then, otherwise },
            inputs,
        )));
    }
    None
}

/// An integer or boolean graph input: token ids where embeddings alone read it (`true`), their
/// range the rows of the smallest; otherwise `0/1` for booleans, the positions of the shortest
/// axis it indexes (an embedding's rows, a gather's or scatter's axis), or int8.
pub(crate) fn input(fg: &FloatGraph, input: &FloatInput) -> Result<(Q, bool), ImportError> {
    let readers = || fg.nodes.iter().filter(|r| r.inputs.contains(&input.outlet));
    // the positions an index selects among, for the readers that read the input as indices
    let index_of = |r: &FloatNode| match &r.op {
        FloatOp::Embed { table, axis } => Some(table.shape[*axis] as i64),
        FloatOp::At(at) => {
            let slot = usize::from(at.data.is_none());
            (r.inputs.iter().position(|i| *i == input.outlet) == Some(slot))
                .then_some(at.depth as i64)
        }
        _ => None,
    };
    let rows = readers().filter_map(index_of).min();
    let boolean = input.kind == InputKind::Bool;
    let tokens = !boolean && readers().all(|r| matches!(r.op, FloatOp::Embed { .. }));
    let (lo, hi) = match rows {
        _ if boolean => (0, 1),
        Some(r) if tokens && r <= 1 << crate::usage::TOKEN_BITS => (0, r - 1),
        _ if tokens => {
            return Err(ImportError::Input {
                name: input.name.clone(),
                msg: "token ids must index an embedding of at most 2^16 rows".into(),
            })
        }
        Some(r) if r <= MAX_INDEX => (0, r - 1),
        _ => (-128, 127),
    };
    let q = Q {
        name: input.name.clone(),
        scale: 1.0,
        shape: input.shape.clone(),
        lo,
        hi,
        integer: true,
    };
    Ok((q, tokens))
}

/// The one value of a constant that is the same everywhere.
fn uniform(k: &Tensor<f64>) -> Option<f64> {
    let first = *k.data.first()?;
    k.data.iter().all(|v| *v == first).then_some(first)
}

fn boolean(name: &str, shape: &[usize]) -> Q {
    Q {
        name: name.to_string(),
        scale: 1.0,
        shape: shape.to_vec(),
        lo: 0,
        hi: 1,
        integer: true,
    }
}

fn check_boolean(q: &Q) -> Result<(), String> {
    if q.lo < 0 || q.hi > 1 {
        return Err(format!(
            "`{}` may hold [{}, {}] where a boolean (0 or 1) is expected",
            q.name, q.lo, q.hi
        ));
    }
    Ok(())
}

/// `x ⋈ k` on `x`'s integers: the constant as the integer bound that gives the same result.
fn threshold(cmp: Cmp, k: f64, x: &Q) -> i64 {
    let t = k * x.scale;
    let v = match cmp {
        Cmp::Lt | Cmp::Ge => libm::ceil(t),
        Cmp::Le | Cmp::Gt => libm::floor(t),
        // an integer tensor is never equal to a fraction: a value past its range
        Cmp::Eq | Cmp::Ne if x.scale == 1.0 && t.fract() != 0.0 => (x.hi + 1) as f64,
        Cmp::Eq | Cmp::Ne => t.round(),
    };
    v.clamp((x.lo - 1) as f64, (x.hi + 1) as f64) as i64
}

/// The IR nodes of a boolean op, written to `e`; `ins` are its quantized inputs, not aligned.
pub(crate) fn quantize(e: &mut Emit, fnode: &FloatNode, ins: &[Q]) -> Result<Q, String> {
    let (name, shape) = (&fnode.name, &fnode.shape[..]);
    match &fnode.op {
        FloatOp::Compare { cmp, k: None } => {
            let ins = e.align(name, ins);
            let op = Op::Compare(compare::Compare { cmp: *cmp, k: None });
            e.push(name, op, super::quantize::names(&ins), shape, 1.0);
        }
        FloatOp::Compare { cmp, k: Some(k) } => {
            let x = &ins[0];
            let k = Some(k.map(|v| threshold(*cmp, *v, x)));
            let op = Op::Compare(compare::Compare { cmp: *cmp, k });
            e.push(name, op, vec![x.name.clone()], shape, 1.0);
        }
        FloatOp::Logic(l) => {
            ins.iter().try_for_each(check_boolean)?;
            let op = match l {
                Logic::Not => Op::Affine(affine::Affine {
                    mul: Tensor::scalar(-1),
                    add: Tensor::scalar(1),
                }),
                Logic::And => Op::Mul(mul::Mul {}),
                Logic::Or => Op::Max(max::Max {}),
            };
            e.push(name, op, super::quantize::names(ins), shape, 1.0);
        }
        FloatOp::OneHot { axis, dim, off, on } => {
            let x = &ins[0];
            if !x.integer || x.lo < 0 {
                // ONNX counts a negative index from the end; only indices in [0, dim) are taken
                return Err(format!(
                    "OneHot of indices that may reach [{}, {}] (only integers from 0)",
                    x.lo, x.hi
                ));
            }
            let mut unit = x.shape.clone();
            unit.insert(*axis, 1);
            let col = format!("{name}:col");
            let op = Op::Reshape(wiring::Reshape {
                shape: unit.clone(),
            });
            e.push(&col, op, vec![x.name.clone()], &unit, x.scale);
            let mut at = vec![1; unit.len()];
            at[*axis] = *dim;
            let positions = (0..*dim as i64).map(|j| threshold(Cmp::Eq, j as f64, x));
            let k = Tensor::new(at, positions.collect()).ok_or("a OneHot of no positions")?;
            let plain = (*off, *on) == (0.0, 1.0);
            let eq = if plain {
                name.clone()
            } else {
                format!("{name}:eq")
            };
            let op = Op::Compare(compare::Compare {
                cmp: Cmp::Eq,
                k: Some(k),
            });
            e.push(&eq, op, vec![col], shape, 1.0);
            if !plain {
                let cond = boolean(&eq, shape);
                let (a, b) = (Tensor::scalar(*on), Tensor::scalar(*off));
                return constant_branches(e, name, shape, &cond, &a, &b);
            }
        }
        FloatOp::Choose { then, otherwise } => {
            let cond = &ins[0];
            check_boolean(cond)?;
            let branches = e.align(name, &ins[1..]);
            let konst = |k: &Option<Tensor<f64>>, x: &Q| -> Result<Option<i64>, String> {
                k.as_ref()
                    .map(|k| {
                        uniform(k).map(|v| bound(v, x.scale)).ok_or_else(|| {
                            format!(
                                "a Where with a constant branch of shape {:?} (only one value)",
                                k.shape
                            )
                        })
                    })
                    .transpose()
            };
            let (then, otherwise) = match (then, otherwise, branches.first()) {
                (Some(a), Some(b), _) => return constant_branches(e, name, shape, cond, a, b),
                (_, _, Some(x)) => (konst(then, x)?, konst(otherwise, x)?),
                _ => unreachable!("one branch at least is computed"),
            };
            let x = &branches[0];
            let consts = [then, otherwise].into_iter().flatten();
            let lo = branches
                .iter()
                .map(|q| q.lo)
                .chain(consts.clone())
                .min()
                .unwrap_or(0);
            let hi = branches
                .iter()
                .map(|q| q.hi)
                .chain(consts)
                .max()
                .unwrap_or(0);
            let mut inputs = vec![cond.name.clone()];
            inputs.extend(branches.iter().map(|q| q.name.clone()));
            let op = Op::Choose(choose::Choose { then, otherwise });
            e.push(name, op, inputs, shape, x.scale);
            return Ok(Q {
                name: name.clone(),
                scale: x.scale,
                shape: shape.to_vec(),
                lo,
                hi,
                integer: branches.iter().all(|q| q.integer),
            });
        }
        other => unreachable!("{other:?} is not a boolean op"),
    }
    Ok(boolean(name, shape))
}

/// `where(cond, a, b)` of two constant tensors: `b + (a - b) · cond` as an affine map of the
/// condition (broadcast to the output first), at the scale of the larger constant.
fn constant_branches(
    e: &mut Emit,
    name: &str,
    shape: &[usize],
    cond: &Q,
    a: &Tensor<f64>,
    b: &Tensor<f64>,
) -> Result<Q, String> {
    let integer = whole(a.data.iter().chain(&b.data), MAX_INDEX);
    let reach = a
        .data
        .iter()
        .chain(&b.data)
        .fold(0.0, |m: f64, v| m.max(v.abs()));
    let s = if integer { 1.0 } else { scale_for(reach) };
    let (ai, bi) = (a.map(|v| bound(*v, s)), b.map(|v| bound(*v, s)));
    let mut c = cond.name.clone();
    if cond.shape != shape {
        c = format!("{name}:cond");
        let op = Op::Expand(wiring::Expand {
            shape: shape.to_vec(),
        });
        e.push(&c, op, vec![cond.name.clone()], shape, 1.0);
    }
    let n: usize = shape.iter().product();
    let am = broadcast_map(&ai.shape, shape);
    let bm = broadcast_map(&bi.shape, shape);
    let add: Vec<i64> = (0..n).map(|i| bi.data[bm[i]]).collect();
    let mul: Vec<i64> = (0..n).map(|i| ai.data[am[i]] - bi.data[bm[i]]).collect();
    let (lo, hi) = ai
        .data
        .iter()
        .chain(&bi.data)
        .fold((i64::MAX, i64::MIN), |(l, h), v| (l.min(*v), h.max(*v)));
    let op = Op::Affine(affine::Affine {
        mul: Tensor::new(shape.to_vec(), mul).expect("one per output"),
        add: Tensor::new(shape.to_vec(), add).expect("one per output"),
    });
    e.push(name, op, vec![c], shape, s);
    Ok(Q {
        name: name.to_string(),
        scale: s,
        shape: shape.to_vec(),
        lo,
        hi,
        integer,
    })
}

/// Integer arithmetic on integer tensors (both at scale 1) with integer constants, exactly;
/// `None` where the op is not that (it is then quantized as real numbers).
pub(crate) fn arithmetic(e: &mut Emit, fnode: &FloatNode, ins: &[Q]) -> Option<Q> {
    if ins.is_empty() || ins.iter().any(|q| !q.integer) {
        return None;
    }
    let ints = |t: &Tensor<f64>| whole(&t.data, MAX_INDEX).then(|| t.map(|v| *v as i64));
    let (op, lo, hi) = match &fnode.op {
        FloatOp::Affine { mul, add } => {
            let (m, a) = (ints(mul)?, ints(add)?);
            let x = &ins[0];
            let ends = m.data.iter().flat_map(|m| [m * x.lo, m * x.hi]);
            let lo = ends.clone().min()? + a.data.iter().min()?;
            let hi = ends.max()? + a.data.iter().max()?;
            (Op::Affine(affine::Affine { mul: m, add: a }), lo, hi)
        }
        FloatOp::Add { sub } => {
            let (a, b) = (&ins[0], &ins[1]);
            let k = if *sub { -1 } else { 1 };
            let (lo, hi) = if *sub {
                (a.lo - b.hi, a.hi - b.lo)
            } else {
                (a.lo + b.lo, a.hi + b.hi)
            };
            (Op::Add(add::Add { coeffs: [1, k] }), lo, hi)
        }
        FloatOp::ReduceSum { axes, factor } if *factor == 1.0 => {
            let x = &ins[0];
            let n = axes
                .axes
                .iter()
                .map(|a| x.shape[*a] as i64)
                .product::<i64>();
            let op = Op::ReduceSum(reduce::ReduceSum(axes.clone()));
            (op, x.lo * n, x.hi * n)
        }
        FloatOp::Quotient { divisor, floor } => {
            let op = quotient::Quotient {
                divisor: divisor.clone(),
                floor: *floor,
            };
            let (lo, hi) = op.bounds((ins[0].lo.into(), ins[0].hi.into()));
            (Op::Quotient(op), lo as i64, hi as i64)
        }
        FloatOp::Mul => {
            let (a, b) = (&ins[0], &ins[1]);
            let c = [a.lo * b.lo, a.lo * b.hi, a.hi * b.lo, a.hi * b.hi];
            (Op::Mul(mul::Mul {}), *c.iter().min()?, *c.iter().max()?)
        }
        _ => return None,
    };
    let inputs = super::quantize::names(ins);
    e.push(&fnode.name, op, inputs, &fnode.shape, 1.0);
    Some(Q {
        name: fnode.name.clone(),
        scale: 1.0,
        shape: fnode.shape.clone(),
        lo,
        hi,
        integer: true,
    })
}

/// A Div of integers by constants (tract rounds it toward 0) or a ShiftRight by constants
/// (down), as a quotient; `None` for any other op.
fn quotient(
    model: &TypedModel,
    node: &TypedNode,
    name: &str,
    k: Option<Tensor<f64>>,
) -> Option<Result<FloatOp, String>> {
    let integer = model
        .outlet_fact(OutletId::new(node.id, 0))
        .is_ok_and(|f| f.datum_type.is_integer());
    let floor = match name {
        "Div" if integer => false,
        "ShiftRight" => true,
        _ => return None,
    };
    let Some(k) = k.filter(|k| whole(&k.data, MAX_INDEX)) else {
        return Some(Err(format!(
            "{name} of integers by other than whole constants within ±2^15"
        )));
    };
    let divisor = if floor {
        match k.data.iter().find(|v| !(0.0..=14.0).contains(*v)) {
            Some(v) => return Some(Err(format!("{name} by {v} bits"))),
            None => k.map(|v| 1i64 << *v as u32),
        }
    } else if k.data.contains(&0.0) {
        return Some(Err(format!("{name} by 0")));
    } else {
        k.map(|v| *v as i64)
    };
    Some(Ok(FloatOp::Quotient { divisor, floor }))
}

/// Whether `op` scales by a fraction: on integers, a Div that tract rounds toward 0.
pub(crate) fn divides(op: &FloatOp) -> bool {
    matches!(op, FloatOp::Affine { mul, add } if !whole(mul.data.iter().chain(&add.data), i64::MAX))
}

/// Widest entry of a table of whole numbers taken as integers (indices, counts, 0/1 leaves):
/// past it, a real-valued table is quantized as weights are.
pub(crate) const MAX_INDEX: i64 = 1 << 15;

/// Whether every value is a whole number within `±max`.
pub(crate) fn whole<'a>(values: impl IntoIterator<Item = &'a f64>, max: i64) -> bool {
    values
        .into_iter()
        .all(|v| v.fract() == 0.0 && v.abs() <= max as f64)
}
