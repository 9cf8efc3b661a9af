//! Shape ops: every output element is an input element or a constant (padding, a constant block
//! of a concatenation). They cost no
//! constraints: the lowering hands the same cell or linear combination on, so nothing new can be
//! chosen by the prover. Constants come from the backend's `constant`, fixed by the circuit.

use serde::{Deserialize, Serialize};

use super::clip::MAX_CLAMP_ABS;
use super::kind::{Elem, Kind, Src};
use super::{unary, OpSpec};
use crate::graph::tensor::{
    broadcast_map, broadcast_shape, numel, ravel, strides, unravel, Tensor,
};

/// Same elements, new shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reshape {
    /// The output shape.
    pub shape: Vec<usize>,
}

/// Axes permuted: output axis `d` is input axis `perm[d]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transpose {
    /// A permutation of the input's axes.
    pub perm: Vec<usize>,
}

/// `x[start:end:step]` along `axis`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slice {
    /// The sliced axis.
    pub axis: usize,
    /// First index taken.
    pub start: usize,
    /// One past the last index considered.
    pub end: usize,
    /// Positive step.
    pub step: usize,
}

/// The inputs joined along `axis`, with constant blocks among them where `parts` says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concat {
    /// The joining axis.
    pub axis: usize,
    /// Number of inputs.
    pub inputs: usize,
    /// Every part in order, where some are constant (a class token before the patches): `None`
    /// for the next input, a constant block (already quantized) otherwise; empty when every
    /// part is an input.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub parts: Vec<Option<Tensor<i64>>>,
}

impl Concat {
    /// The shape of each part in order, inputs' from `inputs`.
    fn part_shapes<'a>(&'a self, inputs: &[&'a [usize]]) -> Vec<&'a [usize]> {
        if self.parts.is_empty() {
            return inputs.to_vec();
        }
        let mut next = inputs.iter();
        self.parts
            .iter()
            .map(|p| match p {
                Some(t) => &t.shape[..],
                None => next.next().copied().unwrap_or(&[]),
            })
            .collect()
    }
}

/// Padding: `pads` holds the begin padding of every axis, then the end padding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pad {
    /// Begin paddings, then end paddings.
    pub pads: Vec<usize>,
    /// The padding value (already quantized) of [`PadMode::Constant`].
    pub value: i64,
    /// What fills the padding; a constant unless the file says otherwise (and then unwritten,
    /// so a constant pad's model file reads as it always did).
    #[serde(default, skip_serializing_if = "PadMode::is_constant")]
    pub mode: PadMode,
}

/// What fills the cells a [`Pad`] adds (ONNX Pad's `mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PadMode {
    /// Every added cell is the pad's `value`.
    #[default]
    Constant,
    /// The input mirrored about its first and last element, which are not repeated.
    Reflect,
    /// The nearest first or last element, repeated.
    Edge,
}

impl PadMode {
    fn is_constant(&self) -> bool {
        *self == PadMode::Constant
    }

    /// The input index along an axis of `n` that output position `o` copies, `before` the
    /// padding ahead of the input; `None` for a constant cell.
    fn source(self, o: usize, before: usize, n: usize) -> Option<usize> {
        let (i, last) = (o as i64 - before as i64, n as i64 - 1);
        match self {
            PadMode::Constant => (0..=last).contains(&i).then_some(i as usize),
            PadMode::Edge => Some(i.clamp(0, last) as usize),
            PadMode::Reflect if i < 0 => Some(-i as usize),
            PadMode::Reflect if i > last => Some((2 * last - i) as usize),
            PadMode::Reflect => Some(i as usize),
        }
    }
}

/// `x` indexed along `axis` by constant indices; the output axis is replaced by their shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gather {
    /// The indexed axis.
    pub axis: usize,
    /// Indices in range (negative ones resolved by the front end).
    pub indices: Tensor<i64>,
}

/// Broadcast (numpy) to `shape`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expand {
    /// The output shape; the input broadcasts to it.
    pub shape: Vec<usize>,
}

/// Repeated `reps[d]` times along each axis `d` (Tile).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tile {
    /// Repetitions per axis, positive.
    pub reps: Vec<usize>,
}

/// `x` indexed along `axis` by a constant index tensor of the output's shape (GatherElements):
/// `out[..., j, ...] = x[..., indices[..., j, ...], ...]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GatherElements {
    /// The indexed axis.
    pub axis: usize,
    /// Indices in range, of the output's shape.
    pub indices: Tensor<i64>,
}

fn copies(idx: impl IntoIterator<Item = usize>) -> Kind {
    Kind::Wiring(idx.into_iter().map(|i| Elem::Src(Src::of(i))).collect())
}

/// Maps each output multi-index to an input multi-index (or padding).
fn remap(x: &[usize], out: &[usize], f: impl Fn(&[usize]) -> Option<Vec<usize>>, pad: i64) -> Kind {
    let xs = strides(x);
    Kind::Wiring(
        (0..numel(out))
            .map(|o| match f(&unravel(o, out)) {
                Some(i) => Elem::Src(Src::of(ravel(&i, &xs))),
                None => Elem::Const(pad),
            })
            .collect(),
    )
}

impl OpSpec for Reshape {
    fn name(&self) -> &'static str {
        "reshape"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        if numel(x) != numel(&self.shape) {
            return Err(format!("cannot reshape {x:?} to {:?}", self.shape));
        }
        Ok(self.shape.clone())
    }

    fn kind(&self, _: &[&[usize]], out: &[usize]) -> Kind {
        copies(0..numel(out))
    }
}

impl OpSpec for Transpose {
    fn name(&self) -> &'static str {
        "transpose"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        let mut seen = self.perm.clone();
        seen.sort_unstable();
        if seen != (0..x.len()).collect::<Vec<_>>() {
            return Err(format!(
                "{:?} is not a permutation of {} axes",
                self.perm,
                x.len()
            ));
        }
        Ok(self.perm.iter().map(|p| x[*p]).collect())
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let x = unary(inputs);
        remap(
            x,
            out,
            |o| {
                let mut i = vec![0; x.len()];
                for (d, p) in self.perm.iter().enumerate() {
                    i[*p] = o[d];
                }
                Some(i)
            },
            0,
        )
    }
}

impl OpSpec for Slice {
    fn name(&self) -> &'static str {
        "slice"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        if self.axis >= x.len()
            || self.step == 0
            || self.end > x[self.axis]
            || self.start > self.end
        {
            return Err(format!(
                "slice {}..{} step {} of axis {} does not fit {x:?}",
                self.start, self.end, self.step, self.axis
            ));
        }
        let mut out = x.to_vec();
        out[self.axis] = (self.end - self.start).div_ceil(self.step);
        Ok(out)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        remap(
            unary(inputs),
            out,
            |o| {
                let mut i = o.to_vec();
                i[self.axis] = self.start + o[self.axis] * self.step;
                Some(i)
            },
            0,
        )
    }
}

impl OpSpec for Concat {
    fn name(&self) -> &'static str {
        "concat"
    }

    fn arity(&self) -> usize {
        self.inputs
    }

    fn check(&self) -> Result<(), String> {
        let computed = self.parts.iter().filter(|p| p.is_none()).count();
        if !self.parts.is_empty() && computed != self.inputs {
            return Err(format!(
                "{computed} computed parts for {} inputs",
                self.inputs
            ));
        }
        match self
            .parts
            .iter()
            .flatten()
            .flat_map(|t| &t.data)
            .find(|v| v.abs() > MAX_CLAMP_ABS)
        {
            Some(v) => Err(format!("constant {v} exceeds ±2^40")),
            None => Ok(()),
        }
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let inputs = &self.part_shapes(inputs)[..];
        let first = inputs.first().ok_or("concat needs an input")?;
        if self.axis >= first.len() {
            return Err(format!("axis {} does not fit {first:?}", self.axis));
        }
        let mut out = first.to_vec();
        out[self.axis] = 0;
        for x in inputs {
            let same =
                x.len() == first.len() && (0..x.len()).all(|d| d == self.axis || x[d] == first[d]);
            if !same {
                return Err(format!("{x:?} and {first:?} differ off axis {}", self.axis));
            }
            out[self.axis] += x[self.axis];
        }
        Ok(out)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let shapes = self.part_shapes(inputs);
        // each part's input number, or its constant block
        let mut next = 0;
        let sources: Vec<Result<usize, &Tensor<i64>>> = (0..shapes.len())
            .map(|p| match self.parts.get(p) {
                Some(Some(t)) => Err(t),
                _ => {
                    next += 1;
                    Ok(next - 1)
                }
            })
            .collect();
        Kind::Wiring(
            (0..numel(out))
                .map(|o| {
                    let mut idx = unravel(o, out);
                    let mut part = 0;
                    while idx[self.axis] >= shapes[part][self.axis] {
                        idx[self.axis] -= shapes[part][self.axis];
                        part += 1;
                    }
                    let index = ravel(&idx, &strides(shapes[part]));
                    match sources[part] {
                        Ok(input) => Elem::Src(Src { input, index }),
                        Err(t) => Elem::Const(t.data[index]),
                    }
                })
                .collect(),
        )
    }
}

impl OpSpec for Pad {
    fn name(&self) -> &'static str {
        "pad"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        if self.pads.len() != 2 * x.len() {
            return Err(format!(
                "pads {:?} must cover {} axes twice",
                self.pads,
                x.len()
            ));
        }
        // a reflection reads no further than the far edge, an edge copy needs an edge
        let reach = |n: usize| match self.mode {
            PadMode::Constant => usize::MAX,
            PadMode::Reflect => n.saturating_sub(1),
            PadMode::Edge if n == 0 => 0,
            PadMode::Edge => usize::MAX,
        };
        if let Some(d) =
            (0..x.len()).find(|d| self.pads[*d].max(self.pads[x.len() + d]) > reach(x[*d]))
        {
            return Err(format!(
                "{:?} padding of {:?} reaches beyond axis {d} of {x:?}",
                self.mode,
                (self.pads[d], self.pads[x.len() + d])
            ));
        }
        Ok((0..x.len())
            .map(|d| x[d] + self.pads[d] + self.pads[x.len() + d])
            .collect())
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let x = unary(inputs);
        remap(
            x,
            out,
            |o| {
                (0..x.len())
                    .map(|d| self.mode.source(o[d], self.pads[d], x[d]))
                    .collect()
            },
            self.value,
        )
    }
}

impl OpSpec for Gather {
    fn name(&self) -> &'static str {
        "gather"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        if self.axis >= x.len() {
            return Err(format!("axis {} does not fit {x:?}", self.axis));
        }
        if let Some(i) = self
            .indices
            .data
            .iter()
            .find(|i| **i < 0 || **i as usize >= x[self.axis])
        {
            return Err(format!("index {i} is outside axis {} of {x:?}", self.axis));
        }
        let mut out = x[..self.axis].to_vec();
        out.extend_from_slice(&self.indices.shape);
        out.extend_from_slice(&x[self.axis + 1..]);
        Ok(out)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let r = self.indices.shape.len();
        let ist = strides(&self.indices.shape);
        remap(
            unary(inputs),
            out,
            |o| {
                let mut i = o[..self.axis].to_vec();
                let at = ravel(&o[self.axis..self.axis + r], &ist);
                i.push(self.indices.data[at] as usize);
                i.extend_from_slice(&o[self.axis + r..]);
                Some(i)
            },
            0,
        )
    }
}

impl OpSpec for Expand {
    fn name(&self) -> &'static str {
        "expand"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        match broadcast_shape(x, &self.shape) {
            Some(s) if s == self.shape => Ok(s),
            _ => Err(format!("{x:?} does not broadcast to {:?}", self.shape)),
        }
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        copies(broadcast_map(unary(inputs), out))
    }
}

impl OpSpec for Tile {
    fn name(&self) -> &'static str {
        "tile"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        if self.reps.len() != x.len() || self.reps.contains(&0) {
            return Err(format!(
                "repetitions {:?} must be positive, one per axis of {x:?}",
                self.reps
            ));
        }
        Ok(x.iter().zip(&self.reps).map(|(d, r)| d * r).collect())
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let x = unary(inputs);
        remap(
            x,
            out,
            |o| Some(o.iter().zip(x).map(|(i, d)| i % d).collect()),
            0,
        )
    }
}

impl OpSpec for GatherElements {
    fn name(&self) -> &'static str {
        "gather_elements"
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let x = unary(inputs);
        let s = &self.indices.shape;
        if self.axis >= x.len() || s.len() != x.len() {
            return Err(format!(
                "indices {s:?} and axis {} do not fit {x:?}",
                self.axis
            ));
        }
        if let Some(d) = (0..x.len()).find(|d| *d != self.axis && s[*d] > x[*d]) {
            return Err(format!("indices {s:?} exceed {x:?} on axis {d}"));
        }
        if let Some(i) = self
            .indices
            .data
            .iter()
            .find(|i| **i < 0 || **i as usize >= x[self.axis])
        {
            return Err(format!("index {i} is outside axis {} of {x:?}", self.axis));
        }
        Ok(s.clone())
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let ist = strides(out);
        remap(
            unary(inputs),
            out,
            |o| {
                let mut i = o.to_vec();
                i[self.axis] = self.indices.data[ravel(o, &ist)] as usize;
                Some(i)
            },
            0,
        )
    }
}
