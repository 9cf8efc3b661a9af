//! The halo2 backend (KZG on BN254): PLONKish chips and the model circuit.
//!
//! All chips share one set of columns ([`config`]): a "main lane" of advice columns that each chip
//! uses row by row, and one or two "range lanes" of two advice columns with a lookup into a table
//! of limbs (of a width the plan picks) that range-checks values of any width. The circuit is laid
//! out in a single region; [`ctx::Ctx`] keeps a row cursor per lane so chips can be called in any
//! order.

pub mod chips;
pub mod circuit;
pub mod commit;
pub mod config;
pub mod ctx;
pub mod decoder;
pub mod instructions;
pub mod mutation;
pub mod plan;

pub use circuit::{ModelCircuit, Witness};
pub use config::CircuitConfig;
pub use plan::Plan;
