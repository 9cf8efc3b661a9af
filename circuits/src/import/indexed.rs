//! Reads and writes at computed indices: ONNX Gather, GatherElements and GatherND of a computed
//! tensor, ScatterElements and ScatterND, written in ops the IR already proves. Each index becomes
//! its one-hot row ([`crate::ops::index_hot`]; an index outside its axis is an error, in the
//! reference and in the circuit alike).
//!
//! A read is then, per output, the sum of the candidates each times its 0/1 selector: exactly
//! one selector is 1, so the sum is the selected element, exact at the data's scale. A write keeps
//! a data element where no update lands (times `1 - Σ selectors`) and adds the updates that land
//! on it. With reduction `none`, of several updates at one place the last in index order wins, as
//! tract applies them: an update's selector is cleared where a later one lands (a suffix sum of
//! the selectors, clamped to 1). With reduction `add` they are all added.
//!
//! Every op is first brought, by wiring alone, to one layout: selectors `[B, Q, N]` (`B`
//! independent lines, `Q` indices each, `N` positions), data `[B, N, R]`, updates `[B, Q, R]`.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{
    Gather, GatherElements, GatherNd, ScatterElements, ScatterNd, ScatterReduction,
};

use super::quantize::{bound, Emit, Q};
use super::translate::{const_of, shape_of, FloatNode, FloatOp};
use crate::graph::tensor::{numel, Tensor};
use crate::ops::index_hot::IndexHot;
use crate::ops::reduce::{Axes, ReduceSum};
use crate::ops::{add, affine, clip, einsum, mul, wiring, Op};

/// A read or write at computed indices. Inputs: the data (unless `data` holds it, a constant),
/// the indices, then a write's updates. `depth` is the longest axis an index selects along.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct At {
    /// Which read or write.
    pub how: How,
    /// The longest axis an index selects along (the range an index input is given).
    pub depth: usize,
    /// A write's constant data (ScatterND into zeros), quantized at the updates' scale.
    pub data: Option<Tensor<f64>>,
}

/// The ONNX op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum How {
    /// Gather along an axis.
    Gather(usize),
    /// GatherElements along an axis.
    Elements(usize),
    /// GatherND without batch axes.
    Nd,
    /// ScatterElements along an axis; `add` for reduction `add`.
    ScatterElements { axis: usize, add: bool },
    /// ScatterND; `add` for reduction `add`.
    ScatterNd { add: bool },
}

/// The read or write `node` is, with the outlets it reads; `None` where it is not one at
/// computed indices of a computed tensor.
pub(crate) fn translate(
    model: &TypedModel,
    node: &TypedNode,
    from: &[OutletId],
) -> Option<Result<(FloatOp, Vec<OutletId>), String>> {
    let konst = |i: usize| const_of(model, node.inputs[i]);
    let computed = |i: usize| konst(i).is_none();
    let shape = |i: usize| shape_of(model, node.inputs[i]);
    let scatter = |r: ScatterReduction| match r {
        ScatterReduction::None => Ok(false),
        ScatterReduction::Add => Ok(true),
        r => Err(format!(
            "reduction `{}` (only `none` and `add`)",
            r.as_str()
        )),
    };
    let how = if let Some(g) = node
        .op_as::<Gather>()
        .filter(|_| computed(0) && computed(1))
    {
        How::Gather(g.axis)
    } else if let Some(g) = node
        .op_as::<GatherElements>()
        .filter(|_| computed(0) && computed(1))
    {
        How::Elements(g.axis)
    } else if let Some(g) = node.op_as::<GatherNd>().filter(|_| computed(1)) {
        if g.batch_dims != 0 {
            return Some(Err(format!("batch_dims {} (only 0)", g.batch_dims)));
        }
        if !computed(0) {
            return Some(Err("GatherND of a constant tensor".into()));
        }
        How::Nd
    } else if let Some(s) = node.op_as::<ScatterElements>().filter(|_| computed(1)) {
        match scatter(s.reduction) {
            Ok(add) => How::ScatterElements { axis: s.axis, add },
            Err(e) => return Some(Err(e)),
        }
    } else if let Some(s) = node.op_as::<ScatterNd>().filter(|_| computed(1)) {
        match scatter(s.reduction) {
            Ok(add) => How::ScatterNd { add },
            Err(e) => return Some(Err(e)),
        }
    } else {
        return None;
    };
    let data = match shape(0) {
        Ok(s) => s,
        Err(e) => return Some(Err(e)),
    };
    let depth = match how {
        How::Gather(a) | How::Elements(a) | How::ScatterElements { axis: a, .. } => data[a],
        How::Nd | How::ScatterNd { .. } => {
            let r = shape(1).ok().and_then(|s| s.last().copied()).unwrap_or(0);
            data[..r.min(data.len())].iter().copied().max().unwrap_or(1)
        }
    };
    let write = matches!(how, How::ScatterElements { .. } | How::ScatterNd { .. });
    if write && !computed(2) {
        return Some(Err("a scatter of constant updates".into()));
    }
    let constant = if write { konst(0) } else { None };
    let inputs = if constant.is_some() {
        from[1..].to_vec()
    } else {
        from.to_vec()
    };
    let at = At {
        how,
        depth,
        data: constant,
    };
    Some(Ok((FloatOp::At(at), inputs)))
}

/// A tensor being written: its name and shape.
#[derive(Clone)]
struct T {
    name: String,
    shape: Vec<usize>,
}

impl T {
    fn of(q: &Q) -> T {
        T {
            name: q.name.clone(),
            shape: q.shape.clone(),
        }
    }
}

/// The node being written, for its intermediate tensors' names.
struct W<'a> {
    e: &'a mut Emit,
    name: &'a str,
}

impl W<'_> {
    fn op(&mut self, part: &str, op: Op, ins: &[&T], scale: f64) -> Result<T, String> {
        let shapes: Vec<&[usize]> = ins.iter().map(|t| &t.shape[..]).collect();
        let name = format!("{}:{part}", self.name);
        let shape = op.shape(&shapes).map_err(|m| format!("{name}: {m}"))?;
        let names = ins.iter().map(|t| t.name.clone()).collect();
        self.e.push(&name, op, names, &shape, scale);
        Ok(T { name, shape })
    }

    fn reshape(&mut self, part: &str, x: &T, shape: Vec<usize>, scale: f64) -> Result<T, String> {
        if x.shape == shape {
            return Ok(x.clone());
        }
        self.op(part, Op::Reshape(wiring::Reshape { shape }), &[x], scale)
    }

    fn transpose(&mut self, part: &str, x: &T, perm: Vec<usize>, scale: f64) -> Result<T, String> {
        if perm.iter().enumerate().all(|(i, p)| i == *p) {
            return Ok(x.clone());
        }
        self.op(part, Op::Transpose(wiring::Transpose { perm }), &[x], scale)
    }

    /// `x` with `axis` moved last.
    fn axis_last(&mut self, part: &str, x: &T, axis: usize, scale: f64) -> Result<T, String> {
        let mut perm: Vec<usize> = (0..x.shape.len()).filter(|d| *d != axis).collect();
        perm.push(axis);
        self.transpose(part, x, perm, scale)
    }

    fn sum(&mut self, part: &str, x: &T, axis: usize, keep: bool, s: f64) -> Result<T, String> {
        let op = Op::ReduceSum(ReduceSum(Axes {
            axes: vec![axis],
            keepdims: keep,
        }));
        self.op(part, op, &[x], s)
    }

    /// `1 - x`, of integers.
    fn complement(&mut self, part: &str, x: &T) -> Result<T, String> {
        let op = Op::Affine(affine::Affine {
            mul: Tensor::scalar(-1),
            add: Tensor::scalar(1),
        });
        self.op(part, op, &[x], 1.0)
    }

    /// The selectors of the indices `idx` (`[Q, r]`, one coordinate per column) over the
    /// positions of `dims` in row-major order: `[1, Q, Π dims]`.
    fn selectors(&mut self, idx: &T, dims: &[usize]) -> Result<T, String> {
        let [q, r] = idx.shape[..] else {
            unreachable!("indices are brought to [Q, r]")
        };
        let mut joint: Option<T> = None;
        for (d, depth) in dims.iter().enumerate() {
            let coord = if r == 1 {
                idx.clone()
            } else {
                let s = Op::Slice(wiring::Slice {
                    axis: 1,
                    start: d,
                    end: d + 1,
                    step: 1,
                });
                self.op(&format!("coord{d}"), s, &[idx], 1.0)?
            };
            let hot = IndexHot { depth: *depth };
            let hot = self.op(&format!("hot{d}"), Op::IndexHot(hot), &[&coord], 1.0)?;
            // [Q, 1, D_d] to [Q, 1.., D_d, 1..]: the coordinate's axis among r
            let mut shape = vec![q];
            shape.extend((0..dims.len()).map(|k| if k == d { *depth } else { 1 }));
            let hot = self.reshape(&format!("hot{d}:axes"), &hot, shape, 1.0)?;
            joint = Some(match joint {
                None => hot,
                Some(j) => self.op(&format!("joint{d}"), Op::Mul(mul::Mul {}), &[&j, &hot], 1.0)?,
            });
        }
        let joint = joint.expect("at least one coordinate");
        self.reshape("hot", &joint, vec![1, q, dims.iter().product()], 1.0)
    }

    /// `out[b, q, :] = Σ_n hot[b, q, n] · data[b, n, :]`: `[B, Q, R]`.
    fn read(&mut self, hot: &T, data: &T, s: f64) -> Result<T, String> {
        let (b, q, n) = (hot.shape[0], hot.shape[1], hot.shape[2]);
        let r = data.shape[2];
        let hot = self.reshape("hot:col", hot, vec![b, q, n, 1], 1.0)?;
        let data = self.reshape("cand", data, vec![b, 1, n, r], s)?;
        let picked = self.op("picked", Op::Mul(mul::Mul {}), &[&hot, &data], s)?;
        self.sum("read", &picked, 2, false, s)
    }

    /// The write: `data` `[B, N, R]` (a tensor, or constant integers at scale `s`), the updates
    /// `[B, Q, R]` at `hot`'s places; returns `[B, N, R]`.
    fn write(&mut self, hot: &T, data: Data, upd: &T, add: bool, s: f64) -> Result<T, String> {
        let (b, q, n) = (hot.shape[0], hot.shape[1], hot.shape[2]);
        let r = upd.shape[2];
        let lands = self.transpose("lands", hot, vec![0, 2, 1], 1.0)?;
        let lands = if add || q == 1 {
            lands
        } else {
            // later[b, n, p] = Σ_{q > p} lands[b, n, q]: a later update lands here too
            let m = (0..q * q).map(|i| i64::from(i / q > i % q)).collect();
            let later = Op::Einsum(einsum::Einsum {
                input_axes: "bnq".into(),
                weight_axes: "qp".into(),
                output_axes: "bnp".into(),
                weights: Tensor::new(vec![q, q], m).expect("q × q"),
                bias: None,
            });
            let later = self.op("later", later, &[&lands], 1.0)?;
            let clip = Op::Clip(clip::Clip { min: 0, max: 1 });
            let shadowed = self.op("shadowed", clip, &[&later], 1.0)?;
            let last = self.complement("last", &shadowed)?;
            self.op("wins", Op::Mul(mul::Mul {}), &[&lands, &last], 1.0)?
        };
        let w = self.reshape("wins:col", &lands, vec![b, n, q, 1], 1.0)?;
        let u = self.reshape("upd", upd, vec![b, 1, q, r], s)?;
        let placed = self.op("placed", Op::Mul(mul::Mul {}), &[&w, &u], s)?;
        let placed = self.sum("landed", &placed, 2, false, s)?;
        let sum = Op::Add(add::Add { coeffs: [1, 1] });
        let out = match (data, add) {
            (Data::Tensor(d), true) => return self.op("written", sum, &[&d, &placed], s),
            (Data::Const(c), true) => {
                let c = Tensor::new(vec![b, n, r], c).expect("data of [B, N, R]");
                let op = Op::Affine(affine::Affine {
                    mul: Tensor::scalar(1),
                    add: c,
                });
                return self.op("written", op, &[&placed], s);
            }
            (data, false) => data,
        };
        let covered = self.sum("covered", &lands, 2, true, 1.0)?;
        let kept = match out {
            Data::Tensor(d) => {
                let kept = self.complement("kept", &covered)?;
                self.op("kept:data", Op::Mul(mul::Mul {}), &[&d, &kept], s)?
            }
            Data::Const(c) => {
                // `c · (1 - covered)`, covered spread over the data's last axis first
                let spread = Op::Expand(wiring::Expand {
                    shape: vec![b, n, r],
                });
                let covered = self.op("covered:spread", spread, &[&covered], 1.0)?;
                let c = Tensor::new(vec![b, n, r], c).expect("data of [B, N, R]");
                let op = Op::Affine(affine::Affine {
                    mul: c.map(|v| -v),
                    add: c,
                });
                self.op("kept:data", op, &[&covered], s)?
            }
        };
        self.op("written", sum, &[&kept, &placed], s)
    }
}

/// A write's data: a tensor of the graph, or constant integers (row-major `[B, N, R]`).
enum Data {
    Tensor(T),
    Const(Vec<i64>),
}

/// `perm` that moves the last of `rank` axes back to `axis`.
fn last_to(axis: usize, rank: usize) -> Vec<usize> {
    (0..rank)
        .map(|j| match j.cmp(&axis) {
            std::cmp::Ordering::Less => j,
            std::cmp::Ordering::Equal => rank - 1,
            std::cmp::Ordering::Greater => j - 1,
        })
        .collect()
}

/// The read or write `at` of `fnode`; `ins` are its inputs in order (data unless constant,
/// indices, updates).
pub(crate) fn quantize(e: &mut Emit, fnode: &FloatNode, ins: &[Q], at: &At) -> Result<Q, String> {
    let name = fnode.name.as_str();
    let write = matches!(at.how, How::ScatterElements { .. } | How::ScatterNd { .. });
    let (values, idx) = match (write, &at.data) {
        (true, Some(_)) => (vec![ins[1].clone()], &ins[0]),
        (true, None) => (e.align(name, &[ins[0].clone(), ins[2].clone()]), &ins[1]),
        (false, _) => (vec![ins[0].clone()], &ins[1]),
    };
    if !idx.integer {
        return Err(format!("the indices `{}` are not integers", idx.name));
    }
    let s = values[0].scale;
    let mut w = W { e, name };
    let i = T::of(idx);
    let rank = fnode.shape.len();
    let (out, landing) = match at.how {
        How::Gather(axis) => {
            let d = T::of(&values[0]);
            let n = d.shape[axis];
            let mut perm = vec![axis];
            perm.extend((0..d.shape.len()).filter(|k| *k != axis));
            let moved = w.transpose("moved", &d, perm, s)?;
            let rest = numel(&d.shape) / n;
            let data = w.reshape("rows", &moved, vec![1, n, rest], s)?;
            let q = numel(&i.shape);
            let flat = w.reshape("idx", &i, vec![q, 1], 1.0)?;
            let hot = w.selectors(&flat, &[n])?;
            let got = w.read(&hot, &data, s)?;
            // [I.., A.., B..] to the output's [A.., I.., B..]
            let mut shape = i.shape.clone();
            shape.extend(
                d.shape
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| *k != axis)
                    .map(|p| *p.1),
            );
            let got = w.reshape("got", &got, shape, s)?;
            let ni = i.shape.len();
            let perm = (ni..ni + axis)
                .chain(0..ni)
                .chain(ni + axis..rank)
                .collect();
            (w.transpose("layout", &got, perm, s)?, None)
        }
        How::Elements(axis) => {
            let mut d = T::of(&values[0]);
            let short: Vec<usize> = (0..rank)
                .filter(|k| *k != axis && i.shape[*k] < d.shape[*k])
                .collect();
            for k in short {
                let cut = Op::Slice(wiring::Slice {
                    axis: k,
                    start: 0,
                    end: i.shape[k],
                    step: 1,
                });
                d = w.op(&format!("cut{k}"), cut, &[&d], s)?;
            }
            let n = d.shape[axis];
            let lines = numel(&i.shape) / i.shape[axis];
            let dl = w.axis_last("data:last", &d, axis, s)?;
            let data = w.reshape("lines", &dl, vec![lines, n, 1], s)?;
            let il = w.axis_last("idx:last", &i, axis, 1.0)?;
            let flat = w.reshape("idx", &il, vec![numel(&i.shape), 1], 1.0)?;
            let hot = w.selectors(&flat, &[n])?;
            let hot = w.reshape("hot:lines", &hot, vec![lines, i.shape[axis], n], 1.0)?;
            let got = w.read(&hot, &data, s)?;
            let got = w.reshape("got", &got, il.shape.clone(), s)?;
            (w.transpose("layout", &got, last_to(axis, rank), s)?, None)
        }
        How::Nd => {
            let d = T::of(&values[0]);
            let r = *i.shape.last().ok_or("indices without axes")?;
            let n = numel(&d.shape[..r]);
            let data = w.reshape("rows", &d, vec![1, n, numel(&d.shape[r..])], s)?;
            let flat = w.reshape("idx", &i, vec![numel(&i.shape) / r.max(1), r], 1.0)?;
            let hot = w.selectors(&flat, &d.shape[..r])?;
            (w.read(&hot, &data, s)?, None)
        }
        How::ScatterElements { axis, add } => {
            if at.data.is_some() {
                return Err("a ScatterElements into constant data".into());
            }
            let (d, u) = (T::of(&values[0]), T::of(&values[1]));
            if (0..rank).any(|k| k != axis && i.shape[k] != d.shape[k]) || i.shape != u.shape {
                return Err(format!(
                    "indices {:?} and updates {:?} must match the data {:?} but along axis {axis}",
                    i.shape, u.shape, d.shape
                ));
            }
            let (n, k) = (d.shape[axis], i.shape[axis]);
            let lines = numel(&d.shape) / n;
            let dl = w.axis_last("data:last", &d, axis, s)?;
            let data = w.reshape("lines", &dl, vec![lines, n, 1], s)?;
            let ul = w.axis_last("upd:last", &u, axis, s)?;
            let upd = w.reshape("upd:lines", &ul, vec![lines, k, 1], s)?;
            let il = w.axis_last("idx:last", &i, axis, 1.0)?;
            let flat = w.reshape("idx", &il, vec![lines * k, 1], 1.0)?;
            let hot = w.selectors(&flat, &[n])?;
            let hot = w.reshape("hot:lines", &hot, vec![lines, k, n], 1.0)?;
            let out = w.write(&hot, Data::Tensor(data), &upd, add, s)?;
            let out = w.reshape("got", &out, dl.shape.clone(), s)?;
            let out = w.transpose("layout", &out, last_to(axis, rank), s)?;
            (out, Some((add, k)))
        }
        How::ScatterNd { add } => {
            let r = *i.shape.last().ok_or("indices without axes")?;
            let ds = &fnode.shape;
            let n = numel(&ds[..r]);
            let rest = numel(&ds[r..]);
            let u = T::of(values.last().expect("updates"));
            let q = numel(&i.shape) / r.max(1);
            let upd = w.reshape("upd:rows", &u, vec![1, q, rest], s)?;
            let flat = w.reshape("idx", &i, vec![q, r], 1.0)?;
            let hot = w.selectors(&flat, &ds[..r])?;
            let data = match &at.data {
                Some(c) => Data::Const(c.data.iter().map(|v| bound(*v, s)).collect()),
                None => {
                    let d = T::of(&values[0]);
                    Data::Tensor(w.reshape("rows", &d, vec![1, n, rest], s)?)
                }
            };
            (w.write(&hot, data, &upd, add, s)?, Some((add, q)))
        }
    };
    // the values that can reach the output: the data's (a read, a replacing write), or the data
    // plus every update that may land on one place (`add`)
    let consts: Vec<i64> = at
        .data
        .iter()
        .flat_map(|c| &c.data)
        .map(|v| bound(*v, s))
        .collect();
    let span = |r: &mut dyn Iterator<Item = (i64, i64)>| {
        r.fold((i64::MAX, i64::MIN), |a, v| (a.0.min(v.0), a.1.max(v.1)))
    };
    let data = match consts.is_empty() {
        true => (values[0].lo, values[0].hi),
        false => span(&mut consts.iter().map(|c| (*c, *c))),
    };
    let (lo, hi) = match landing {
        None => data,
        Some((false, _)) => span(&mut values.iter().map(|v| (v.lo, v.hi)).chain([data])),
        Some((true, most)) => {
            let (u, most) = (values.last().expect("updates"), most as i64);
            (data.0 + most * u.lo.min(0), data.1 + most * u.hi.max(0))
        }
    };
    // the sums of selected candidates have wider static bounds than the values they can hold: a
    // clip to those values (the identity on them) gives the graph the tight bound
    let shape = fnode.shape.clone();
    let at_out = format!("{name}:out");
    let reshape = Op::Reshape(wiring::Reshape {
        shape: shape.clone(),
    });
    w.e.push(&at_out, reshape, vec![out.name], &shape, s);
    let clip = Op::Clip(clip::Clip { min: lo, max: hi });
    w.e.push(name, clip, vec![at_out], &shape, s);
    Ok(Q {
        name: name.to_string(),
        scale: s,
        shape,
        lo,
        hi,
        integer: values.iter().all(|v| v.integer)
            && at
                .data
                .iter()
                .flat_map(|c| &c.data)
                .all(|v| v.fract() == 0.0),
    })
}
