//! The instruction set every op is lowered onto, implemented once per backend: halo2 with its
//! chips (`halo2::instructions`), R1CS with its gadgets (`groth16::instructions`).
//!
//! Each instruction is a relation the backend constrains completely: the value it returns is the
//! only one that satisfies the constraints for the given inputs (given the stated bounds). Ops
//! compose only these, so an op is as sound as the instructions it uses.

use super::kind::{width, Bound};
use super::rescale::RescaleParams;

/// The instructions of one backend.
pub trait Instructions {
    /// A value in the circuit: a halo2 cell, an R1CS linear combination.
    type Value: Clone;
    /// The backend's synthesis error.
    type Error;

    /// A value fixed to `c` by the circuit itself (not a free witness).
    fn constant(&mut self, c: i128) -> Result<Self::Value, Self::Error>;

    /// `constant + Σ k · x` with constant coefficients.
    fn linear(
        &mut self,
        terms: &[(i64, &Self::Value)],
        constant: i128,
    ) -> Result<Self::Value, Self::Error>;

    /// `a · b` of two values.
    fn mul(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value, Self::Error>;

    /// The clamped, rounded `acc · multiplier / 2^shift` of [`RescaleParams`], for `acc` within
    /// `±2^acc_bits`.
    fn rescale(&mut self, acc: &Self::Value, p: &RescaleParams)
        -> Result<Self::Value, Self::Error>;

    /// `max(a, b)` where `a - b` lies within `diff`: `b + relu(a - b)`, the ReLU being an exact
    /// rescale clamped at 0. A backend may replace it with a fused comparison.
    fn max(
        &mut self,
        a: &Self::Value,
        b: &Self::Value,
        diff: Bound,
    ) -> Result<Self::Value, Self::Error> {
        let d = self.linear(&[(1, a), (-1, b)], 0)?;
        let r = self.rescale(&d, &RescaleParams::relu(diff, (0, diff.1.max(0))))?;
        self.linear(&[(1, b), (1, &r)], 0)
    }

    /// `min(a, b)` where `a - b` lies within `diff`: `a - relu(a - b)`.
    fn min(
        &mut self,
        a: &Self::Value,
        b: &Self::Value,
        diff: Bound,
    ) -> Result<Self::Value, Self::Error> {
        let d = self.linear(&[(1, a), (-1, b)], 0)?;
        let r = self.rescale(&d, &RescaleParams::relu(diff, (0, diff.1.max(0))))?;
        self.linear(&[(1, a), (-1, &r)], 0)
    }
}

impl RescaleParams {
    /// `max(x, 0)` for `x` within `input`, as an exact rescale clamped to `[0, out.1]`.
    pub fn relu(input: Bound, out: Bound) -> Self {
        Self {
            multiplier: 1,
            shift: 0,
            min: 0,
            max: out.1.max(0) as i64,
            acc_bits: width(input),
        }
    }
}
