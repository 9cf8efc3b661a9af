//! `clamp(x, min, max)` element-wise (Clip, Relu6, Max / Min with a constant, Sign as a clamp to
//! `[-1, 1]` of integers): an exact rescale (`M0 = 1`, `n = 0`) whose clamp is the op, shifted
//! first when the range does not contain 0, so the rescale relation's sign, clamp flag and slack
//! checks decide each side.

use serde::{Deserialize, Serialize};

use super::kind::Kind;
use super::{unary, OpSpec};

/// Widest clamp bound: the clamp is compared within [`super::kind::MAX_COMPARE_BITS`].
pub const MAX_CLAMP_ABS: i64 = 1 << 40;

/// The clamp op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clip {
    /// Floor.
    pub min: i64,
    /// Ceiling, at least `min`.
    pub max: i64,
}

impl OpSpec for Clip {
    fn name(&self) -> &'static str {
        "clip"
    }

    fn check(&self) -> Result<(), String> {
        if self.min > self.max || self.min.abs() > MAX_CLAMP_ABS || self.max.abs() > MAX_CLAMP_ABS {
            return Err(format!(
                "clamp range [{}, {}] must be ordered and within ±2^40",
                self.min, self.max
            ));
        }
        Ok(())
    }

    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        Ok(unary(inputs).to_vec())
    }

    fn kind(&self, _: &[&[usize]], _: &[usize]) -> Kind {
        Kind::Clamp {
            min: self.min,
            max: self.max,
        }
    }
}
