//! The Groth16 backend's circuit: the same lowered stages and the same usage statement as the halo2
//! backend, as R1CS over BN254 for ark-groth16. Weights are constants, so linear layers are free
//! linear combinations; range checks are bit decompositions; Poseidon is the circom permutation.

pub mod circuit;
pub mod cs;
pub mod gadgets;
pub mod instructions;
pub mod mutation;

pub use circuit::Groth16Circuit;

use ark_ff::{BigInteger, PrimeField as _};
use halo2curves::ff::PrimeField;

use crate::Fr;

/// The scalar field in arkworks' type (the same field as [`Fr`]).
pub type F = ark_bn254::Fr;

pub fn to_ark(x: &Fr) -> F {
    F::from_le_bytes_mod_order(x.to_repr().as_ref())
}

pub fn from_ark(x: &F) -> Fr {
    let mut repr = <Fr as PrimeField>::Repr::default();
    repr.as_mut()
        .copy_from_slice(&x.into_bigint().to_bytes_le());
    Fr::from_repr(repr).expect("same field")
}
