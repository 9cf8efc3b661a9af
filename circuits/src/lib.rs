//! What zkinfer proves.
//!
//! Data flows one way through these modules: `import` turns an ONNX file into the quantized
//! [`model::Model`] IR, whose integer reference executor (`model::exec`) is the specification;
//! `usage` defines the public statement every proof exposes; `halo2` lays the model and the usage
//! statement out as a PLONKish circuit over BN254.

pub mod field;
pub mod gpt;
pub mod groth16;
pub mod halo2;
pub mod import;
pub mod lowering;
pub mod model;
pub mod poseidon;
pub mod usage;
pub mod witness;

pub use field::Fr;
