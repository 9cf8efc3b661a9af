//! The witness-mutation net over whole circuits, and the regressions of `SECURITY.md`'s finding 1.
//!
//! A deterministic spread of advice cells over every region of the toy generation circuit and of
//! an MLP circuit is changed one at a time; MockProver must reject each against the honest
//! instances. The allow-lists are empty: no cell of either circuit may take another value.
//! The attacks then run through the real layout: a forged completion and steered attention, each
//! written into a padding pair of the witness dot product, as an attacker would.

use std::sync::Arc;

use halo2_proofs::dev::MockProver;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use zkinfer_circuits::gpt::reference::{generate, Slots};
use zkinfer_circuits::gpt::toy::toy;
use zkinfer_circuits::halo2::generation::layout::Faults;
use zkinfer_circuits::halo2::generation::{GenPlan, GenWitness, GenerationCircuit};
use zkinfer_circuits::halo2::mutation::assert_sample_bound;
use zkinfer_circuits::halo2::{ModelCircuit, Plan, Witness};
use zkinfer_circuits::Fr;

mod common;

/// Cells sampled per circuit.
const SAMPLE: usize = 2000;

/// Four prompt slots: the read-out `o_j` has five terms, so its dot products end in padding.
const SLOTS: Slots = Slots { prompt: 4, gen: 4 };

fn plan() -> Arc<GenPlan> {
    Arc::new(GenPlan::new(toy(7), SLOTS).unwrap())
}

fn witness(prompt: &[usize]) -> GenWitness {
    GenWitness {
        request_id: Fr::from(41),
        salt: Fr::from(1234),
        prompt: prompt.to_vec(),
        max_tokens: SLOTS.gen,
    }
}

fn accepts(plan: &GenPlan, circuit: &GenerationCircuit, inst: [Fr; 5]) -> bool {
    MockProver::run(plan.k, circuit, vec![inst.to_vec()])
        .unwrap()
        .verify()
        .is_ok()
}

#[test]
fn every_sampled_cell_of_the_generation_circuit_is_bound() {
    let plan = plan();
    let (circuit, run) = GenerationCircuit::prepare(plan.clone(), witness(&[1, 2, 3])).unwrap();
    let inst = vec![run.statement.instances().to_vec()];
    assert_sample_bound(plan.k, &circuit, &inst, SAMPLE, "generation circuit");
}

#[test]
fn every_sampled_cell_of_the_mlp_circuit_is_bound() {
    let mut rng = ChaCha8Rng::seed_from_u64(10);
    // 11 inputs and 6 outputs leave the dot chip's rows partly filled, and 2 of 3 batch rows real.
    let model = common::random_model(&mut rng, &[11, 6, 3]);
    let plan = Arc::new(Plan::new(model, 3).unwrap());
    let w = Witness {
        rows: vec![
            (0..11).map(|i| i * 11 - 60).collect(),
            (0..11).map(|i| 50 - i * 7).collect(),
        ],
        request_id: Fr::from(7),
        salt: Fr::from(99),
    };
    let (circuit, run) = ModelCircuit::prepare(plan.clone(), w).unwrap();
    let inst = vec![run.statement.instances().to_vec()];
    assert_sample_bound(plan.k, &circuit, &inst, SAMPLE, "MLP circuit");
}

/// Finding 1 at the read-out: `(1, δ)` in a padding pair of `o_0` moves the committed first token
/// by δ while `n_in` and `n_out` stay honest. The forged statement must be refused.
#[test]
fn a_forged_completion_is_rejected() {
    let plan = plan();
    let prompt = [1, 2, 3];
    let (mut circuit, run) = GenerationCircuit::prepare(plan.clone(), witness(&prompt)).unwrap();
    let honest = run.statement.instances();
    assert_eq!(circuit.claimed_instances().unwrap(), honest);
    assert!(accepts(&plan, &circuit, honest));
    circuit.faults = Faults {
        forge_readout: Some((0, 1)),
        ..Default::default()
    };
    let forged = circuit.claimed_instances().unwrap();
    // The forgery changes only the output commitment: the counts are those of the honest run.
    assert_ne!(forged[2], honest[2]);
    assert_eq!(
        (forged[0], forged[1], forged[3], forged[4]),
        (honest[0], honest[1], honest[3], honest[4])
    );
    assert!(
        !accepts(&plan, &circuit, forged),
        "forged completion accepted"
    );
    assert!(!accepts(&plan, &circuit, honest));
}

/// Finding 1 at attention: a padding pair of `p·v` steers the first generated token away from
/// the stop token, so a run that honestly stops after one token claims more. It must be refused.
#[test]
fn steered_attention_cannot_bill_more_tokens() {
    let plan = plan();
    let m = &plan.model;
    let d = m.d_model;
    // A three-token prompt whose honest generation stops at once: position 2 has three `p·v`
    // terms, so each of its dot products has a padding pair.
    let prompt = (0..m.vocab.pow(3))
        .map(|i| vec![i % m.vocab, i / m.vocab % m.vocab, i / m.vocab.pow(2)])
        .find(|p| !p.contains(&m.stop) && generate(m, SLOTS, p, SLOTS.gen).unwrap().n_out == 1)
        .expect("a prompt that stops after one token");
    let (mut circuit, run) = GenerationCircuit::prepare(plan.clone(), witness(&prompt)).unwrap();
    assert_eq!(run.statement.n_out, 1);
    let steered = (0..d)
        // `p·v` is at scale 2^PROB_BITS before its rescale: moves below 2^12 vanish there.
        .flat_map(|c| [14, 16, 18, 20, 21, 22].map(|e| (c, 1i64 << e)))
        .flat_map(|(c, d)| [(c, d), (c, -d)])
        .filter_map(|(c, delta)| {
            circuit.faults = Faults {
                forge_mix: Some((prompt.len() - 1, c, delta)),
                ..Default::default()
            };
            let claimed = circuit.claimed_instances().unwrap();
            let n_out = (2..=SLOTS.gen as u64).find(|n| claimed[4] == Fr::from(*n))?;
            Some((n_out, c, delta, claimed))
        })
        .max_by_key(|(n_out, ..)| *n_out);
    let (_, c, delta, claimed) = steered.expect("some padding pair steers the generation");
    circuit.faults.forge_mix = Some((prompt.len() - 1, c, delta));
    eprintln!(
        "p·v column {c} moved by {delta}: claims n_out = {:?}",
        claimed[4]
    );
    assert_eq!(claimed[3], Fr::from(prompt.len() as u64));
    assert!(!accepts(&plan, &circuit, claimed), "steered n_out accepted");
}
