//! `where(cond, a, b)` with a constant condition (ONNX Where whose condition tract folded to a
//! constant: a causal mask outside a softmax, a fixed pattern of positions): every output element
//! is a copy of `a`'s or of `b`'s element, broadcast (numpy), or of the constant `fill` in place
//! of `b`. It is wiring: no constraint, and nothing the prover could choose.

use serde::{Deserialize, Serialize};

use super::clip::MAX_CLAMP_ABS;
use super::kind::{Elem, Kind, Src};
use super::OpSpec;
use crate::graph::tensor::{broadcast_map, broadcast_shape, numel, Tensor};

/// The select: `cond` is 0 or 1 where it picks `b` (or `fill`) or `a`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Select {
    /// 1: the element of `a`; 0: the element of `b`, or `fill`.
    pub cond: Tensor<i64>,
    /// The constant taken where `cond` is 0; the op then has one input, `a`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fill: Option<i64>,
}

impl OpSpec for Select {
    fn name(&self) -> &'static str {
        "select"
    }

    fn arity(&self) -> usize {
        if self.fill.is_some() {
            1
        } else {
            2
        }
    }

    fn check(&self) -> Result<(), String> {
        if self.cond.data.iter().any(|c| !(0..=1).contains(c)) {
            return Err("condition entries must be 0 or 1".into());
        }
        match self.fill {
            Some(f) if f.abs() > MAX_CLAMP_ABS => Err(format!("fill {f} exceeds ±2^40")),
            _ => Ok(()),
        }
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        let mut out = self.cond.shape.clone();
        for s in inputs {
            out = broadcast_shape(&out, s).ok_or_else(|| {
                format!("shapes {:?} and {s:?} do not broadcast", self.cond.shape)
            })?;
        }
        Ok(out)
    }

    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        let c = broadcast_map(&self.cond.shape, out);
        let maps: Vec<Vec<usize>> = inputs.iter().map(|s| broadcast_map(s, out)).collect();
        Kind::Wiring(
            (0..numel(out))
                .map(|i| match (self.cond.data[c[i]], self.fill) {
                    (1, _) => Elem::Src(Src {
                        input: 0,
                        index: maps[0][i],
                    }),
                    (_, Some(f)) => Elem::Const(f),
                    _ => Elem::Src(Src {
                        input: 1,
                        index: maps[1][i],
                    }),
                })
                .collect(),
        )
    }
}
