//! The aggregation circuit for one model and N requests, and its size.
//!
//! The circuit is snark-verifier-sdk's: halo2-base's virtual trace of the inner verifiers, laid
//! into columns afterwards. Its shape (columns per kind, and the break points where the trace
//! wraps from one column to the next) is derived by a dry run of that trace at a chosen `k`, never
//! counted by hand, and stored with the keys so that proving lays the trace out the same way.

use halo2_proofs::plonk::Circuit;
use serde::{Deserialize, Serialize};
use snark_verifier_sdk::halo2::aggregation::{
    AggregationCircuit, AggregationConfigParams, VerifierUniversality,
};
use snark_verifier_sdk::snark_verifier::halo2_base::gates::circuit::CircuitBuilderStage;
use snark_verifier_sdk::{CircuitExt, Snark, SHPLONK};
use zkinfer_circuits::Fr;
use zkinfer_prover::srs::Srs;

/// Limbs of the KZG accumulator at the front of the public instances: two points, two
/// coordinates each, three 88-bit limbs per coordinate.
pub const ACCUMULATOR_LIMBS: usize = 4 * snark_verifier_sdk::LIMBS;

/// Rows halo2 keeps for blinding at the bottom of every column (with room to spare).
const BLINDING_ROWS: usize = 20;

/// The layout the keys were made for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shape {
    /// log2 of the rows.
    pub k: u32,
    /// Advice columns of the main gate.
    pub advice: usize,
    /// Advice columns whose cells are looked up in the range table.
    pub lookup_advice: usize,
    /// Fixed columns for constants.
    pub fixed: usize,
    /// Bits of the range table.
    pub lookup_bits: usize,
    /// Where the trace wraps to the next column.
    pub break_points: Vec<Vec<usize>>,
}

impl Shape {
    pub(crate) fn params(&self) -> AggregationConfigParams {
        AggregationConfigParams {
            degree: self.k,
            num_advice: self.advice,
            num_lookup_advice: self.lookup_advice,
            num_fixed: self.fixed,
            lookup_bits: self.lookup_bits,
        }
    }
}

/// The circuit at `stage` for these snarks; its instances are the accumulator and then every
/// snark's instances in order. Snarks that are aggregations themselves (`nested`) carry an
/// accumulator in their first [`ACCUMULATOR_LIMBS`] instances: the circuit folds it into its own
/// and exposes only the rest, the requests' statements, so a tree's root has the instances a
/// single aggregation of all its requests would have.
fn build(
    stage: CircuitBuilderStage,
    params: AggregationConfigParams,
    srs: &Srs,
    snarks: Vec<Snark>,
    nested: bool,
) -> AggregationCircuit {
    let mut circuit =
        AggregationCircuit::new::<SHPLONK>(stage, params, srs, snarks, VerifierUniversality::None);
    circuit.expose_previous_instances(nested);
    circuit
}

/// The circuit for key generation at `k`, with its derived shape (break points are known only
/// once the keys were generated from it: see [`Keygen::shape`]).
pub struct Keygen {
    /// The circuit, configured.
    pub circuit: AggregationCircuit,
}

impl Keygen {
    /// Lays the snarks' verifiers out at `k` and derives the columns they need. `srs` only
    /// supplies the generator, so any SRS of the same setup serves; `nested` as in [`build`].
    pub fn new(srs: &Srs, snarks: Vec<Snark>, k: u32, nested: bool) -> Self {
        let params = AggregationConfigParams {
            degree: k,
            lookup_bits: k as usize - 1,
            ..Default::default()
        };
        let mut circuit = build(CircuitBuilderStage::Keygen, params, srs, snarks, nested);
        circuit.calculate_params(Some(BLINDING_ROWS));
        Self { circuit }
    }

    /// log2 of the rows.
    pub fn k(&self) -> u32 {
        self.circuit.params().degree
    }

    /// Advice columns the layout needs.
    pub fn advice(&self) -> usize {
        self.circuit.params().num_advice
    }

    /// The shape, after key generation fixed the break points.
    pub fn shape(&self) -> Shape {
        let p = self.circuit.params();
        Shape {
            k: p.degree,
            advice: p.num_advice,
            lookup_advice: p.num_lookup_advice,
            fixed: p.num_fixed,
            lookup_bits: p.lookup_bits,
            break_points: self.circuit.break_points(),
        }
    }
}

/// The circuit for proving, laid out as the keys were.
pub fn prover(shape: &Shape, srs: &Srs, snarks: Vec<Snark>, nested: bool) -> AggregationCircuit {
    build(
        CircuitBuilderStage::Prover,
        shape.params(),
        srs,
        snarks,
        nested,
    )
    .use_break_points(shape.break_points.clone())
}

/// The public instances of a circuit.
pub fn instances(circuit: &AggregationCircuit) -> Vec<Fr> {
    circuit.instances().into_iter().flatten().collect()
}
