//! The generation circuit: greedy generation of a decoder over `P` prompt slots and `T` generated
//! slots, one forward pass per position with the keys and values of earlier positions reused
//! (the KV cache), metered and committed as the usage statement says.

pub mod circuit;
pub mod config;
pub mod layout;
pub mod plan;

pub use circuit::{GenRun, GenWitness, GenerationCircuit};
pub use config::GenConfig;
pub use plan::GenPlan;
