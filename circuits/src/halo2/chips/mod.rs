//! The chips, one relation each (Config / instructions on a [`super::ctx::Ctx`]). Each file's tests
//! hold its negative cases: a witness that breaks the relation must be rejected.

pub mod dot;
pub mod mask;
pub mod poseidon;
pub mod range;
pub mod rescale;

#[cfg(test)]
pub(crate) mod harness;
