//! tract's ops that only move values into the IR's wiring ops: axis changes (Reshape, Squeeze,
//! Unsqueeze, a moved axis), Slice, Concat (with constant blocks among the parts), Pad (with a
//! constant, reflected or with the edge repeated), Tile and Expand. They constrain nothing:
//! every output element is an input element, copied, or a constant the circuit pins.

use tract_onnx::prelude::*;
use tract_onnx::tract_core::ops::array::{
    MultiBroadcastTo, Pad as TPad, PadMode, Slice as TSlice, Tile as TTile, TypedConcat,
};
use tract_onnx::tract_core::ops::change_axes::AxisOp;

use super::translate::{const_of, FloatOp};
use crate::graph::tensor::Tensor;
use crate::ops::{wiring, Op};

/// The wiring op `node` is, with the outlets it reads (a concatenation with constant blocks
/// still with its float constants); `None` where it is not one of these ops.
/// `shape` is its output's.
pub(crate) fn translate(
    model: &TypedModel,
    node: &TypedNode,
    from: &[OutletId],
    shape: &[usize],
) -> Option<Result<(FloatOp, Vec<OutletId>), String>> {
    let first = vec![from[0]];
    let op = if let Some(a) = node.op_as::<AxisOp>() {
        match a {
            AxisOp::Move(from, to) => {
                let mut perm: Vec<usize> = (0..shape.len()).collect();
                let v = perm.remove(*from);
                perm.insert(*to, v);
                Op::Transpose(wiring::Transpose { perm })
            }
            _ => Op::Reshape(wiring::Reshape {
                shape: shape.to_vec(),
            }),
        }
    } else if let Some(s) = node.op_as::<TSlice>() {
        let (Ok(start), Ok(end)) = (s.start.to_i64(), s.end.to_i64()) else {
            return Some(Err("a slice with symbolic bounds".into()));
        };
        Op::Slice(wiring::Slice {
            axis: s.axis,
            start: start.max(0) as usize,
            end: end.max(0) as usize,
            step: 1,
        })
    } else if let Some(c) = node.op_as::<TypedConcat>() {
        let parts: Vec<Option<Tensor<f64>>> =
            node.inputs.iter().map(|o| const_of(model, *o)).collect();
        let computed: Vec<OutletId> = (0..parts.len())
            .filter(|i| parts[*i].is_none())
            .map(|i| from[i])
            .collect();
        if computed.len() < parts.len() {
            // constant blocks, quantized at the computed parts' scale ([`super::quantize`])
            let axis = c.axis;
            return Some(Ok((FloatOp::ConcatConstants { axis, parts }, computed)));
        }
        let op = Op::Concat(wiring::Concat {
            axis: c.axis,
            inputs: from.len(),
            parts: Vec::new(),
        });
        return Some(Ok((FloatOp::Wire(op), computed)));
    } else if let Some(p) = node.op_as::<TPad>() {
        let (mode, value) = match &p.mode {
            PadMode::Constant(v) => match v.cast_to_scalar::<f64>() {
                Ok(v) if v.is_finite() => (wiring::PadMode::Constant, v),
                Ok(v) => return Some(Err(format!("padding with {v}"))),
                Err(e) => return Some(Err(e.to_string())),
            },
            PadMode::Reflect => (wiring::PadMode::Reflect, 0.0),
            PadMode::Edge => (wiring::PadMode::Edge, 0.0),
        };
        let mut pads: Vec<usize> = p.pads.iter().map(|p| p.0).collect();
        pads.extend(p.pads.iter().map(|p| p.1));
        let pad = wiring::Pad {
            pads,
            value: 0,
            mode,
        };
        if value != 0.0 {
            // the value is quantized at the input's scale ([`super::quantize`])
            return Some(Ok((FloatOp::PadWith { pad, value }, first)));
        }
        Op::Pad(pad)
    } else if let Some(t) = node.op_as::<TTile>() {
        let reps = t
            .multipliers
            .iter()
            .map(|d| d.to_i64().map(|v| v as usize))
            .collect::<Result<Vec<_>, _>>();
        match reps {
            Ok(reps) => Op::Tile(wiring::Tile { reps }),
            Err(_) => return Some(Err("symbolic repetitions".into())),
        }
    } else if node.op_is::<MultiBroadcastTo>() {
        Op::Expand(wiring::Expand {
            shape: shape.to_vec(),
        })
    } else {
        return None;
    };
    Some(Ok((FloatOp::Wire(op), first)))
}
