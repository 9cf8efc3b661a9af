//! The ops of the graph IR, one file each. An op says what its output shape is and which structure
//! it has ([`Kind`]): wiring (every output element is an input element or a constant), a constant
//! linear map (every output is `c + Σ k·x`), element-wise products, sums of products, maxima, minima or arg-extremes
//! over sets, an element-wise rescale, clamp, ReLU, piecewise-linear map or table, or a softmax
//! over sets, rows of an embedding, 0/1 comparisons, picks by a 0/1 condition, integer quotients, ranks, or the one-hot rows of indices. The reference executor, the bounds and the lowering are written once per kind
//! ([`kind`]; softmax's in its own file), against the [`Instructions`] both backends implement:
//! so an op file holds only its index arithmetic, and what the circuit constrains is, by
//! construction, what the reference computes.

pub mod add;
pub mod affine;
pub mod choose;
pub mod clip;
pub mod compare;
pub mod conv;
pub mod conv_transpose;
pub mod einsum;
pub mod embed;
pub mod index_hot;
pub mod instructions;
pub mod kind;
pub mod linear_map;
pub mod matmul;
pub mod max;
pub mod mul;
pub mod piecewise;
pub mod pool;
pub mod quotient;
pub mod reduce;
pub mod relu;
pub mod rescale;
pub mod select;
pub mod softmax;
pub mod table;
pub mod topk;
pub mod wiring;

use serde::{Deserialize, Serialize};

pub use instructions::Instructions;
pub use kind::{Bound, Combination, Elem, Kind, Src};

/// An op of the graph IR with its constants. The JSON form is `{"op": "<name>", ...fields}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// Contraction with a constant tensor (Gemm, MatMul with a constant operand).
    Einsum(einsum::Einsum),
    /// N-d convolution with constant kernels (Conv).
    Conv(conv::Conv),
    /// `x · mul + add` with constant, broadcast tensors (BatchNorm, Mul/Add/Sub by a constant).
    Affine(affine::Affine),
    /// `ka · a + kb · b` of two tensors, broadcast (Add, Sub).
    Add(add::Add),
    /// `a · b` of two tensors, broadcast (Mul).
    Mul(mul::Mul),
    /// Contraction of two computed tensors (MatMul of activations).
    MatMul(matmul::MatMul),
    /// N-d transposed convolution with constant kernels (ConvTranspose).
    ConvTranspose(conv_transpose::ConvTranspose),
    /// `max(a, b)` of two tensors, broadcast (Max).
    Max(max::Max),
    /// `min(a, b)` of two tensors, broadcast (Min).
    Min(max::Min),
    /// `clamp(x, min, max)` (Clip, Max / Min with a constant, Sign).
    Clip(clip::Clip),
    /// `pos · x` for `x ≥ 0`, `neg · x` below (LeakyRelu, PRelu, Abs).
    Piecewise(piecewise::Piecewise),
    /// Window sums (AveragePool, GlobalAveragePool, with a rescale after).
    SumPool(pool::SumPool),
    /// Window maxima (MaxPool, GlobalMaxPool).
    MaxPool(pool::MaxPool),
    /// Sums over axes (ReduceSum, ReduceMean with a rescale after).
    ReduceSum(reduce::ReduceSum),
    /// Maxima over axes (ReduceMax, GlobalMaxPool).
    ReduceMax(reduce::ReduceMax),
    /// Minima over axes (ReduceMin).
    ReduceMin(reduce::ReduceMin),
    /// Index of the extreme along an axis (ArgMax, ArgMin).
    ArgMax(reduce::ArgMax),
    /// `max(x, 0)`.
    Relu(relu::Relu),
    /// `clamp(⌊x · multiplier / 2^shift + 1/2⌋, min, max)`.
    Rescale(rescale::Rescale),
    /// A function table (Sigmoid, Tanh, Exp, Gelu... and chains of them).
    Table(table::Table),
    /// Softmax over axes: proven maximum, exp table, proven division.
    Softmax(softmax::Softmax),
    /// Rows of a constant table picked by integer indices (Gather of an embedding by tokens).
    Embed(embed::Embed),
    /// Wiring: same elements, new shape (Reshape, Flatten, Squeeze, Unsqueeze, Identity).
    Reshape(wiring::Reshape),
    /// Wiring: axes permuted.
    Transpose(wiring::Transpose),
    /// Wiring: a strided range along axes.
    Slice(wiring::Slice),
    /// Wiring: inputs joined along an axis.
    Concat(wiring::Concat),
    /// Wiring: constant padding.
    Pad(wiring::Pad),
    /// Wiring: elements picked by constant indices along an axis.
    Gather(wiring::Gather),
    /// Wiring: broadcast to a larger shape (Expand).
    Expand(wiring::Expand),
    /// Wiring: repeated along axes (Tile).
    Tile(wiring::Tile),
    /// Wiring: elements picked by a constant index tensor along an axis (GatherElements).
    GatherElements(wiring::GatherElements),
    /// Wiring: each element from one of two tensors, or a constant, by a constant condition
    /// (Where).
    Select(select::Select),
    /// `[a ⋈ b]` as 0 or 1, of two tensors or a tensor and a constant (Less, Greater, Equal...).
    Compare(compare::Compare),
    /// Each element from one of two branches by a computed 0/1 condition (Where).
    Choose(choose::Choose),
    /// `a / d` of integers by constants, rounded toward 0 (Div of integers, BitShift right).
    Quotient(quotient::Quotient),
    /// The `k` extremes along an axis, in order, or their indices (TopK).
    TopK(topk::TopK),
    /// A constant sparse linear map (Resize in linear mode, CumSum: found by probing).
    LinearMap(linear_map::LinearMap),
    /// The one-hot row of each index, which must lie within the axis (gathers and scatters at
    /// computed indices).
    IndexHot(index_hot::IndexHot),
}

/// What an op file provides: its output shape, and its structure over concrete input shapes.
pub trait OpSpec {
    /// The op's name in errors and in the JSON tag.
    fn name(&self) -> &'static str;
    /// How many inputs the op takes.
    fn arity(&self) -> usize {
        1
    }
    /// The output shape from the input shapes; an error says what does not fit.
    fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String>;
    /// The op's structure over inputs of these (already checked) shapes.
    fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind;
    /// Whether the op needs lookups (a backend without them refuses it).
    fn lookups(&self) -> bool {
        false
    }
    /// Checks the constants (ranges of weights, multipliers); shapes are checked by [`Self::shape`].
    fn check(&self) -> Result<(), String> {
        Ok(())
    }
}

impl Op {
    fn spec(&self) -> &dyn OpSpec {
        match self {
            Op::Einsum(o) => o,
            Op::Conv(o) => o,
            Op::Affine(o) => o,
            Op::Add(o) => o,
            Op::Mul(o) => o,
            Op::MatMul(o) => o,
            Op::ConvTranspose(o) => o,
            Op::Max(o) => o,
            Op::Min(o) => o,
            Op::Clip(o) => o,
            Op::Piecewise(o) => o,
            Op::SumPool(o) => o,
            Op::MaxPool(o) => o,
            Op::ReduceSum(o) => o,
            Op::ReduceMax(o) => o,
            Op::ReduceMin(o) => o,
            Op::ArgMax(o) => o,
            Op::Relu(o) => o,
            Op::Rescale(o) => o,
            Op::Table(o) => o,
            Op::Softmax(o) => o,
            Op::Embed(o) => o,
            Op::Reshape(o) => o,
            Op::Transpose(o) => o,
            Op::Slice(o) => o,
            Op::Concat(o) => o,
            Op::Pad(o) => o,
            Op::Gather(o) => o,
            Op::Expand(o) => o,
            Op::Tile(o) => o,
            Op::GatherElements(o) => o,
            Op::Select(o) => o,
            Op::Compare(o) => o,
            Op::Choose(o) => o,
            Op::Quotient(o) => o,
            Op::TopK(o) => o,
            Op::LinearMap(o) => o,
            Op::IndexHot(o) => o,
        }
    }

    /// Whether the op needs a lookup argument on every backend (a function table, a softmax's
    /// exp table); an embedding, which halo2 looks up, R1CS selects by comparisons.
    pub fn needs_lookups(&self) -> bool {
        self.lookups() && !matches!(self, Op::Embed(_))
    }

    /// The op's name, as in the JSON tag.
    pub fn name(&self) -> &'static str {
        self.spec().name()
    }

    /// Inputs the op takes.
    pub fn arity(&self) -> usize {
        self.spec().arity()
    }

    /// The output shape for these input shapes.
    pub fn shape(&self, inputs: &[&[usize]]) -> Result<Vec<usize>, String> {
        if inputs.len() != self.arity() {
            return Err(format!(
                "takes {} input(s), wired to {}",
                self.arity(),
                inputs.len()
            ));
        }
        self.spec().check()?;
        self.spec().shape(inputs)
    }

    /// Whether the op needs lookups (a table, a softmax's exp table, an embedding).
    pub fn lookups(&self) -> bool {
        self.spec().lookups()
    }

    /// The op's structure over inputs of these shapes.
    pub fn kind(&self, inputs: &[&[usize]], out: &[usize]) -> Kind {
        self.spec().kind(inputs, out)
    }
}

/// Shape of the one input of a unary op.
pub(crate) fn unary<'a>(inputs: &[&'a [usize]]) -> &'a [usize] {
    inputs[0]
}

/// The widest weight magnitude the IR accepts: int8 is the norm, wider weights are allowed where a
/// layer needs them, but products must stay far below the field size.
pub const MAX_WEIGHT_ABS: i64 = 1 << 24;
/// The widest bias magnitude the IR accepts (biases live at the accumulator's scale).
pub const MAX_BIAS_ABS: i64 = 1 << 40;

pub(crate) fn check_weights(w: &[i64]) -> Result<(), String> {
    match w.iter().find(|w| w.abs() > MAX_WEIGHT_ABS) {
        Some(w) => Err(format!("weight {w} exceeds ±2^24")),
        None => Ok(()),
    }
}

pub(crate) fn check_bias(b: &[i64]) -> Result<(), String> {
    match b.iter().find(|b| b.abs() > MAX_BIAS_ABS) {
        Some(b) => Err(format!("bias {b} exceeds ±2^40")),
        None => Ok(()),
    }
}
