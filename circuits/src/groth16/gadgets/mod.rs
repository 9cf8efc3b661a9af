//! R1CS gadgets, one relation each, mirroring the halo2 chips. Each file's tests hold its negative
//! cases: a witness that breaks the relation leaves the R1CS unsatisfied.

pub mod mask;
pub mod poseidon;
pub mod rescale;
