//! Ops found by running them: an op tract can evaluate on its own whose computed inputs are
//! real-valued is run on probes.
//!
//! - **Moves** (Resize in nearest mode, DepthToSpace, SpaceToDepth, ScatterND and
//!   ScatterElements at constant indices, any other pure rearrangement of one or more inputs):
//!   the first probe holds each element's own index (the inputs' elements numbered one after
//!   another), so the output names, per position, the element it copies; two more, of values that are not indices (fractions,
//!   negatives, no two equal), must come out as exactly those copies. What passes is wiring in
//!   the IR: a flat gather, no constraint.
//! - **Constant linear maps** of one input (Resize in linear or cubic mode, CumSum): the probes
//!   are 0 (the
//!   bias) and each unit vector (a column of the map); two more inputs of both signs must come
//!   out as the map computes them, to f32's precision. What passes is a `linear_map` of the
//!   terms found, quantized as weights are.
//!
//! An op that computes anything else (a rounding, a sort, a product) fails a probe and stays
//! untranslated.

use tract_onnx::prelude::*;

/// Largest input probed: the probes' values stay distinct and exact in f32.
const MAX_PROBED: usize = 1 << 20;
/// Largest input probed for a linear map: one run per element.
const MAX_LINEAR: usize = 1 << 12;
/// Most terms of a linear map over all outputs.
const MAX_TERMS: usize = 1 << 22;

/// `node` with its computed inputs all f32, run on values for them, the constant inputs as
/// they are.
struct Probe<'a> {
    node: &'a TypedNode,
    facts: Vec<&'a TypedFact>,
    /// Which inputs are computed.
    at: Vec<usize>,
    /// Their shapes.
    shapes: Vec<Vec<usize>>,
    /// Their elements in all.
    n: usize,
}

impl<'a> Probe<'a> {
    fn new(model: &'a TypedModel, node: &'a TypedNode, max: usize) -> Option<Self> {
        if node.outputs.len() != 1 {
            return None;
        }
        let facts: Vec<&TypedFact> = node
            .inputs
            .iter()
            .map(|o| model.outlet_fact(*o).ok())
            .collect::<Option<_>>()?;
        let at: Vec<usize> = (0..facts.len())
            .filter(|i| facts[*i].konst.is_none())
            .collect();
        if at.is_empty() || at.iter().any(|i| facts[*i].datum_type != f32::datum_type()) {
            return None;
        }
        let shapes: Vec<Vec<usize>> = at
            .iter()
            .map(|i| facts[*i].shape.as_concrete().map(<[usize]>::to_vec))
            .collect::<Option<_>>()?;
        let n: usize = shapes.iter().map(|s| s.iter().product::<usize>()).sum();
        (n > 0 && n <= max).then_some(Self {
            node,
            facts,
            at,
            shapes,
            n,
        })
    }

    /// The output on `values`: the computed inputs' elements one after another.
    fn run(&self, values: &[f32]) -> Option<Vec<f32>> {
        let mut inputs = TVec::new();
        let mut rest = values;
        for (i, f) in self.facts.iter().enumerate() {
            match self.at.iter().position(|a| *a == i) {
                Some(k) => {
                    let shape = &self.shapes[k];
                    let (mine, more) = rest.split_at(shape.iter().product());
                    rest = more;
                    let t = tract_ndarray::ArrayD::from_shape_vec(shape.clone(), mine.to_vec())
                        .ok()?
                        .into_tensor();
                    inputs.push(t.into_tvalue());
                }
                None => inputs.push(f.konst.clone()?.into_tvalue()),
            }
        }
        let out = self.node.op.eval_out_of_plan(inputs).ok()??;
        let t = out.first()?.cast_to::<f32>().ok()?;
        let view = t.to_plain_array_view::<f32>().ok()?;
        Some(view.iter().copied().collect())
    }
}

/// `n` distinct fractions of both signs: `(i · 7919 + k · 104729) mod 2^20`, centred, over `div`.
fn distinct(n: usize, k: u64, div: f32) -> Vec<f32> {
    (0..n as u64)
        .map(|i| (((i * 7919 + k * 104_729) % (1 << 20)) as f32 - 524_288.0) / div)
        .collect()
}

/// `(inputs, map)` when `node` copies elements of its computed inputs `inputs`: output element
/// `o` (row-major) is element `map[o]` of their elements one after another (each row-major).
pub(crate) fn moves(model: &TypedModel, node: &TypedNode) -> Option<(Vec<usize>, Vec<usize>)> {
    let p = Probe::new(model, node, MAX_PROBED)?;
    let picked = p.run(&(0..p.n).map(|i| i as f32).collect::<Vec<_>>())?;
    let map: Vec<usize> = picked
        .iter()
        .map(|v| (v.fract() == 0.0 && *v >= 0.0 && (*v as usize) < p.n).then_some(*v as usize))
        .collect::<Option<_>>()?;
    for k in 1..=2u64 {
        let values = distinct(p.n, k, 8.0);
        let out = p.run(&values)?;
        if out.len() != map.len() || out.iter().zip(&map).any(|(o, m)| *o != values[*m]) {
            return None;
        }
    }
    Some((p.at, map))
}

/// A constant linear map: per output (row-major), `(input element, weight)` terms and a bias.
pub(crate) struct Linear {
    /// Which input of the node is mapped.
    pub at: usize,
    /// Per output, its nonzero terms.
    pub rows: Vec<Vec<(usize, f64)>>,
    /// Per output, its value at 0.
    pub bias: Vec<f64>,
}

/// The map `node` applies to its one computed input, when it is a constant linear one.
pub(crate) fn linear(model: &TypedModel, node: &TypedNode) -> Option<Linear> {
    let p = Probe::new(model, node, MAX_LINEAR).filter(|p| p.at.len() == 1)?;
    let bias = p.run(&vec![0.0; p.n])?;
    let mut rows = vec![Vec::new(); bias.len()];
    let mut unit = vec![0.0; p.n];
    for i in 0..p.n {
        unit[i] = 1.0;
        let column = p.run(&unit)?;
        unit[i] = 0.0;
        if column.len() != bias.len() {
            return None;
        }
        for (o, (v, b)) in column.iter().zip(&bias).enumerate() {
            if v != b {
                rows[o].push((i, f64::from(*v) - f64::from(*b)));
            }
        }
    }
    let terms: usize = rows.iter().map(Vec::len).sum();
    if terms == 0 || terms > MAX_TERMS {
        return None;
    }
    for k in 1..=2u64 {
        let x = distinct(p.n, k, 524_288.0);
        let y = p.run(&x)?;
        let fits = y.len() == rows.len()
            && rows.iter().zip(&bias).zip(&y).all(|((row, b), y)| {
                let terms = row.iter().map(|(i, w)| w * f64::from(x[*i]));
                let (sum, size) = terms.fold((f64::from(*b), b.abs() as f64), |(s, m), t| {
                    (s + t, m + t.abs())
                });
                (f64::from(*y) - sum).abs() <= 1e-5 * size + 1e-6
            });
        if !fits {
            return None;
        }
    }
    let bias = bias.into_iter().map(f64::from).collect();
    Some(Linear {
        at: p.at[0],
        rows,
        bias,
    })
}
