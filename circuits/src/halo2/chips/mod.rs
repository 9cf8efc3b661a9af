//! The chips, one relation each (Config / instructions on a [`super::ctx::Ctx`]). Each file's tests
//! hold its negative cases: a witness that breaks the relation must be rejected.

pub mod adot;
pub mod control;
pub mod dot;
pub mod freivalds;
pub mod mask;
pub mod matvec;
pub mod poseidon;
pub mod range;
pub mod rescale;
pub mod table;

#[cfg(test)]
pub(crate) mod harness;
