//! What zkinfer proves.
//!
//! Data flows one way through these modules: `import` turns an ONNX file (through tract) into the
//! quantized tensor-graph IR of [`graph`], whose ops ([`ops`]) each define their reference
//! semantics, bounds and lowering once; the integer reference executor (`graph::exec`) is the
//! specification. `usage` defines the public statement every proof exposes; `halo2` and `groth16`
//! implement the ops' instructions and lay the graph and the statement out as circuits over BN254.

pub mod decoder;
pub mod field;
pub mod graph;
pub mod groth16;
pub mod halo2;
pub mod import;
pub mod ops;
pub mod poseidon;
pub mod usage;
pub mod witness;

pub use field::Fr;

/// SHA-256 of this crate's sources and the workspace's `Cargo.lock` (`build.rs`): the circuit
/// code that keys were made by. Key manifests record it, and keys of other code are not reused.
pub const CIRCUIT_CODE: &str = env!("ZKINFER_CIRCUIT_CODE");
