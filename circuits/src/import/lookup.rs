//! Reads at computed indices. A Gather of a constant table, along any axis, is an embedding
//! lookup per index (the table's entries int8 at its own scale, as weights are, or exact where
//! they are whole numbers: a tree's child and feature indices, 0/1 leaves). An op found to only
//! move values ([`super::probe`]) is a flat gather. Reads of computed tensors at computed indices
//! are [`super::indexed`]'s.

use super::integer::{whole, MAX_INDEX};
use super::quantize::{Emit, Q};
use super::scale::scale_for;
use super::translate::FloatNode;
use crate::graph::tensor::{ravel, strides, unravel, Tensor};
use crate::ops::clip::MAX_CLAMP_ABS;
use crate::ops::{embed, wiring, Op};

/// `table` gathered along `axis` at the indices `x`: the table's axis moved first and the rest
/// flattened into rows, one embedding lookup per index, then the rows put in the output's
/// layout. Entries int8 at the table's own scale, as weights are; an integer table's exact.
pub(crate) fn gather(
    e: &mut Emit,
    fnode: &FloatNode,
    x: &Q,
    table: &Tensor<f64>,
    axis: usize,
) -> Result<Q, String> {
    let name = &fnode.name;
    let moved = axis_first(table, axis);
    let integer = whole(
        &table.data,
        if fnode.integer {
            MAX_CLAMP_ABS
        } else {
            MAX_INDEX
        },
    );
    let (s, ints) = if integer {
        (1.0, moved.map(|v| *v as i64))
    } else {
        let s = scale_for(table.data.iter().fold(0.0, |m, v| m.max(v.abs())));
        (s, moved.map(|v| libm::round(v * s) as i64))
    };
    let rows = ints.shape[0];
    let rest = ints.shape[1..].to_vec();
    let width: usize = rest.iter().product();
    let lo = *ints.data.iter().min().ok_or("an empty table")?;
    let hi = *ints.data.iter().max().ok_or("an empty table")?;
    let flat = Tensor::new(vec![rows, width], ints.data).expect("same entries");
    let mut picked = x.shape.clone();
    picked.push(width);
    // the rows in the table's layout: index axes where the gathered axis was
    let mut steps: Vec<Op> = Vec::new();
    let mut shape = x.shape.clone();
    shape.extend(&rest);
    if shape != picked {
        steps.push(Op::Reshape(wiring::Reshape {
            shape: shape.clone(),
        }));
    }
    if axis > 0 {
        let n = x.shape.len();
        let perm: Vec<usize> = (n..n + axis)
            .chain(0..n)
            .chain(n + axis..n + rest.len())
            .collect();
        steps.push(Op::Transpose(wiring::Transpose { perm }));
    }
    let mut at = if steps.is_empty() {
        name.clone()
    } else {
        format!("{name}:rows")
    };
    let embed = Op::Embed(embed::Embed { table: flat });
    e.push(&at, embed, vec![x.name.clone()], &picked, s);
    shape = picked;
    let last = steps.len();
    for (i, op) in steps.into_iter().enumerate() {
        let to = if i + 1 == last {
            name.clone()
        } else {
            format!("{name}:layout{i}")
        };
        shape = e.step(&to, op, (&at, &shape), s)?;
        at = to;
    }
    Ok(Q {
        name: name.clone(),
        scale: s,
        shape: fnode.shape.clone(),
        lo,
        hi,
        integer,
    })
}

/// The elements at the flat positions `map` of the inputs' elements one after another (all at
/// one scale), in `fnode`'s shape: each input flattened, joined, gathered along the one axis,
/// reshaped. Wiring only.
pub(crate) fn remap(e: &mut Emit, fnode: &FloatNode, ins: &[Q], map: &[usize]) -> Q {
    let name = &fnode.name;
    let x = &ins[0];
    let mut flat = Vec::with_capacity(ins.len());
    for (k, q) in ins.iter().enumerate() {
        let n: usize = q.shape.iter().product();
        let f = if ins.len() == 1 {
            format!("{name}:flat")
        } else {
            format!("{name}:flat{k}")
        };
        let to_flat = Op::Reshape(wiring::Reshape { shape: vec![1, n] });
        e.push(&f, to_flat, vec![q.name.clone()], &[1, n], x.scale);
        flat.push((f, n));
    }
    let joined = match &flat[..] {
        [(f, _)] => f.clone(),
        _ => {
            let total: usize = flat.iter().map(|(_, n)| n).sum();
            let op = Op::Concat(wiring::Concat {
                axis: 1,
                inputs: ins.len(),
                parts: Vec::new(),
            });
            let joined = format!("{name}:joined");
            let names = flat.iter().map(|(f, _)| f.clone()).collect();
            e.push(&joined, op, names, &[1, total], x.scale);
            joined
        }
    };
    let picked = format!("{name}:picked");
    let indices = Tensor::new(vec![1, map.len()], map.iter().map(|i| *i as i64).collect())
        .expect("one index per output");
    let gather = Op::GatherElements(wiring::GatherElements { axis: 1, indices });
    e.push(&picked, gather, vec![joined], &[1, map.len()], x.scale);
    let back = Op::Reshape(wiring::Reshape {
        shape: fnode.shape.clone(),
    });
    e.push(name, back, vec![picked], &fnode.shape, x.scale);
    Q {
        name: name.clone(),
        shape: fnode.shape.clone(),
        lo: ins.iter().map(|q| q.lo).min().unwrap_or(x.lo),
        hi: ins.iter().map(|q| q.hi).max().unwrap_or(x.hi),
        integer: ins.iter().all(|q| q.integer),
        ..x.clone()
    }
}

/// `t` with `axis` moved to the front.
fn axis_first(t: &Tensor<f64>, axis: usize) -> Tensor<f64> {
    let mut shape = t.shape.clone();
    let n = shape.remove(axis);
    shape.insert(0, n);
    let st = strides(&t.shape);
    let data = (0..t.data.len())
        .map(|i| {
            let mut idx = unravel(i, &shape);
            let a = idx.remove(0);
            idx.insert(axis, a);
            t.data[ravel(&idx, &st)]
        })
        .collect();
    Tensor { shape, data }
}
