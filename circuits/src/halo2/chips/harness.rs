//! A test circuit that runs one layout closure on the shared configuration, for chip tests.

use halo2_proofs::circuit::{Layouter, SimpleFloorPlanner};
use halo2_proofs::dev::MockProver;
use halo2_proofs::plonk::{Circuit, ConstraintSystem, Error};

use crate::halo2::ctx::Ctx;
use crate::halo2::CircuitConfig;
use crate::Fr;

/// Rows of the chip test circuits (the range table needs 2^12 rows).
pub const K: u32 = 13;

#[derive(Clone)]
struct Harness<F>(F);

impl<F> Circuit<Fr> for Harness<F>
where
    F: Fn(&CircuitConfig, &mut Ctx) -> Result<(), Error> + Clone,
{
    type Config = CircuitConfig;
    type FloorPlanner = SimpleFloorPlanner;
    type Params = ();

    fn without_witnesses(&self) -> Self {
        self.clone()
    }

    fn configure(meta: &mut ConstraintSystem<Fr>) -> CircuitConfig {
        CircuitConfig::configure(meta)
    }

    fn synthesize(&self, cfg: CircuitConfig, mut layouter: impl Layouter<Fr>) -> Result<(), Error> {
        cfg.range.load_table(&mut layouter)?;
        layouter.assign_region(
            || "test",
            |mut region| {
                let mut ctx = Ctx::new(&mut region);
                (self.0)(&cfg, &mut ctx)
            },
        )
    }
}

fn run<F>(f: F) -> Result<(), Vec<halo2_proofs::dev::VerifyFailure>>
where
    F: Fn(&CircuitConfig, &mut Ctx) -> Result<(), Error> + Clone,
{
    MockProver::run(K, &Harness(f), vec![vec![]])
        .expect("synthesis succeeds")
        .verify()
}

pub fn passes<F>(f: F)
where
    F: Fn(&CircuitConfig, &mut Ctx) -> Result<(), Error> + Clone,
{
    if let Err(e) = run(f) {
        panic!("honest witness rejected: {:?}", &e[..e.len().min(3)]);
    }
}

pub fn fails<F>(f: F)
where
    F: Fn(&CircuitConfig, &mut Ctx) -> Result<(), Error> + Clone,
{
    assert!(
        run(f).is_err(),
        "a witness that breaks the relation was accepted"
    );
}
