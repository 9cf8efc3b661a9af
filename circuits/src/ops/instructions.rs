//! The instruction set every op is lowered onto, implemented once per backend: halo2 with its
//! chips (`halo2::instructions`), R1CS with its gadgets (`groth16::instructions`).
//!
//! Each instruction is a relation the backend constrains completely: the value it returns is the
//! only one that satisfies the constraints for the given inputs (given the stated bounds). Ops
//! compose only these, so an op is as sound as the instructions it uses.

use super::kind::{bits_of, width, Bound};
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

    /// `constants[k] + Σ_j weights[k][j] · xs[j]` for each output `k`: combinations that all
    /// read the same inputs in the same order (a dense layer's outputs, a convolution's output
    /// channels at one position). A backend may lay them out as one block; by default each is a
    /// [`Self::linear`] of its own, so the relation is the same either way.
    fn linear_block(
        &mut self,
        xs: &[&Self::Value],
        weights: &[Vec<i64>],
        constants: &[i128],
    ) -> Result<Vec<Self::Value>, Self::Error> {
        weights
            .iter()
            .zip(constants)
            .map(|(w, c)| {
                let terms: Vec<(i64, &Self::Value)> =
                    w.iter().copied().zip(xs.iter().copied()).collect();
                self.linear(&terms, *c)
            })
            .collect()
    }

    /// Every block of a node's combinations at once, so that a backend can prove the blocks
    /// that share their weights and constants (one projection at every position) together; by
    /// default each is a [`Self::linear_block`] of its own, in order.
    fn linear_blocks(
        &mut self,
        blocks: &[Block<'_, Self::Value>],
    ) -> Result<Vec<Vec<Self::Value>>, Self::Error> {
        blocks
            .iter()
            .map(|b| self.linear_block(&b.xs, &b.weights, &b.constants))
            .collect()
    }

    /// The rows laid out so far on each of the backend's lanes, for the per-node cost log
    /// (`RUST_LOG=zkinfer_circuits::graph=trace`); a backend without rows says nothing.
    fn rows(&self) -> Option<(usize, usize)> {
        None
    }

    /// Constrains `x` to equal the constant `c`. An op asserts with it what its inputs must
    /// satisfy for its reference to be defined (an index within its axis), so that an input the
    /// reference refuses satisfies no circuit either.
    fn assert_constant(&mut self, x: &Self::Value, c: i128) -> Result<(), Self::Error>;

    /// `a · b` of two values.
    fn mul(&mut self, a: &Self::Value, b: &Self::Value) -> Result<Self::Value, Self::Error>;

    /// `Σ a · b` over witness pairs: by default a product each and their sum, so the relation is
    /// the product's; a backend may lay the pairs out more densely.
    fn inner(
        &mut self,
        pairs: &[(&Self::Value, &Self::Value)],
    ) -> Result<Self::Value, Self::Error> {
        sum_of_products(self, pairs)
    }

    /// Every sum of a node's products at once (`sums[o]` the pairs of output `o`), with the
    /// outputs that form matrix products (`grids`), so that a backend can prove a whole matrix
    /// product together; by default each sum is an [`Self::inner`] of its own, in order.
    fn inners(
        &mut self,
        sums: &[Vec<(&Self::Value, &Self::Value)>],
        grids: &[Grid],
    ) -> Result<Vec<Self::Value>, Self::Error> {
        let _ = grids;
        sums.iter().map(|pairs| self.inner(pairs)).collect()
    }

    /// The clamped, rounded `acc · multiplier / 2^shift` of [`RescaleParams`], for `acc` within
    /// `±2^acc_bits`.
    fn rescale(&mut self, acc: &Self::Value, p: &RescaleParams)
        -> Result<Self::Value, Self::Error>;

    /// `values[x - first]`, for `x` within the table's domain: a lookup. A backend without
    /// lookups refuses the op before it synthesizes (see [`super::table`]).
    fn lookup(
        &mut self,
        x: &Self::Value,
        first: i64,
        values: &[i64],
    ) -> Result<Self::Value, Self::Error>;

    /// `values[index · width + column]` for `column < width` and `index` a row of the table:
    /// a lookup keyed by the row and the fixed column (an embedding).
    fn embed(
        &mut self,
        index: &Self::Value,
        width: usize,
        column: usize,
        values: &[i64],
    ) -> Result<Self::Value, Self::Error>;

    /// Row `index` of a `width`-wide table, for an index within `bound`, which lies within the
    /// table's rows: by default an [`Self::embed`] per column. A backend without lookups selects
    /// the row by the index's one-hot row instead.
    fn embed_row(
        &mut self,
        index: &Self::Value,
        bound: Bound,
        width: usize,
        values: &[i64],
    ) -> Result<Vec<Self::Value>, Self::Error> {
        let _ = bound;
        (0..width)
            .map(|c| self.embed(index, width, c, values))
            .collect()
    }

    /// `floor(num / den)` for `num` within `nb` and `den` within `db`, `db.0 ≥ 1`: a quotient
    /// `q` and remainder `r` with `num = q · den + r`, `0 ≤ r < den` and `q` within its bound
    /// ([`division`]), which has one integer solution.
    fn div(
        &mut self,
        num: &Self::Value,
        den: &Self::Value,
        nb: Bound,
        db: Bound,
    ) -> Result<Self::Value, Self::Error>;

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

/// One block of [`Instructions::linear_blocks`]: `constants[k] + Σ_j weights[k][j] · xs[j]`.
pub struct Block<'v, V> {
    /// The inputs every combination of the block reads, in order.
    pub xs: Vec<&'v V>,
    /// One row of coefficients per output.
    pub weights: Vec<Vec<i64>>,
    /// One constant per output.
    pub constants: Vec<i128>,
}

impl<V> Block<'_, V> {
    /// Whether `other` computes the same combinations (of its own inputs).
    pub fn same_map(&self, other: &Self) -> bool {
        self.xs.len() == other.xs.len()
            && self.weights == other.weights
            && self.constants == other.constants
    }
}

/// Outputs of a sum-of-products op that form a matrix product `Y = A·Bᵀ`: output `at[r][c]`
/// is `Σ_t A[r][t] · B[c][t]`, where `A[r]` is the first operand of every pair of the outputs
/// of row `r`, in order, and `B[c]` the second of those of column `c`; every sum has the same
/// number of pairs (at least one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grid {
    /// The output at each row and column.
    pub at: Vec<Vec<usize>>,
}

/// `Σ a · b` as a product per pair and one combination of them: [`Instructions::inner`]'s
/// default, for a backend to fall back on.
pub fn sum_of_products<I: Instructions + ?Sized>(
    ins: &mut I,
    pairs: &[(&I::Value, &I::Value)],
) -> Result<I::Value, I::Error> {
    let products = pairs
        .iter()
        .map(|(a, b)| ins.mul(a, b))
        .collect::<Result<Vec<_>, _>>()?;
    let terms: Vec<(i64, &I::Value)> = products.iter().map(|p| (1, p)).collect();
    ins.linear(&terms, 0)
}

/// The widths of a division's checks: the quotient's bound, its width above its floor, and the
/// remainder's width (`r` and `den - 1 - r` each within it).
pub fn division(nb: Bound, db: Bound) -> (Bound, u32, u32) {
    assert!(db.0 >= 1, "a divisor bound must be positive");
    let c = [
        nb.0.div_euclid(db.0),
        nb.0.div_euclid(db.1),
        nb.1.div_euclid(db.0),
        nb.1.div_euclid(db.1),
    ];
    let q = (*c.iter().min().unwrap(), *c.iter().max().unwrap());
    let q_bits = bits_of((q.1 - q.0) as u128).max(1);
    let r_bits = bits_of((db.1 - 1) as u128).max(1);
    (q, q_bits, r_bits)
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
