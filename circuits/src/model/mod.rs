//! The quantized model: an integer graph IR ([`ir`]), the static value bounds of every tensor
//! ([`bounds`]) and the bit-exact reference executor ([`exec`]) that defines what every backend
//! must compute.

pub mod bounds;
pub mod exec;
pub mod ir;

pub use exec::{execute, quantize_input, rescale, Trace};
pub use ir::{Model, ModelError, Op, TensorSpec, IR_VERSION};
