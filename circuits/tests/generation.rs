//! The generation circuit under MockProver: on a toy decoder every position, the meter and the
//! commitments agree with the reference generation; each decoder chip rejects a broken witness;
//! the statement's counts cannot be moved by one.

use std::sync::Arc;

use halo2_proofs::dev::MockProver;
use zkinfer_circuits::gpt::reference::{generate, Slots};
use zkinfer_circuits::gpt::toy::toy;
use zkinfer_circuits::gpt::Gpt;
use zkinfer_circuits::halo2::chips::control::MeterFault;
use zkinfer_circuits::halo2::chips::softmax::Fault;
use zkinfer_circuits::halo2::generation::layout::Faults;
use zkinfer_circuits::halo2::generation::{GenPlan, GenWitness, GenerationCircuit};
use zkinfer_circuits::Fr;

const SLOTS: Slots = Slots { prompt: 3, gen: 4 };

fn plan() -> Arc<GenPlan> {
    Arc::new(GenPlan::new(toy(7), SLOTS).unwrap())
}

fn witness(prompt: &[usize], max_tokens: usize) -> GenWitness {
    GenWitness {
        request_id: Fr::from(41),
        salt: Fr::from(1234),
        prompt: prompt.to_vec(),
        max_tokens,
    }
}

/// MockProver's verdict on the circuit with `faults` against the honest statement, or against
/// the statement `edit` makes of it.
fn check(plan: &Arc<GenPlan>, w: GenWitness, faults: Faults, edit: impl Fn(&mut [Fr; 5])) -> bool {
    let (mut circuit, run) = GenerationCircuit::prepare(plan.clone(), w).unwrap();
    circuit.faults = faults;
    let mut inst = run.statement.instances();
    edit(&mut inst);
    MockProver::run(plan.k, &circuit, vec![inst.to_vec()])
        .unwrap()
        .verify()
        .is_ok()
}

fn honest(plan: &Arc<GenPlan>, w: GenWitness) -> bool {
    check(plan, w, Faults::default(), |_| {})
}

/// A prompt whose generation stops at the stop token before the budget, and one that does not.
fn prompts(m: &Gpt) -> (Vec<usize>, Vec<usize>) {
    let all: Vec<Vec<usize>> = (0..m.vocab * m.vocab)
        .map(|i| vec![i % m.vocab, i / m.vocab % m.vocab])
        .filter(|p| !p.contains(&m.stop))
        .collect();
    let g = |p: &Vec<usize>| generate(m, SLOTS, p, SLOTS.gen).unwrap();
    let stops = all
        .iter()
        .find(|p| (2..SLOTS.gen).contains(&g(p).n_out))
        .cloned();
    let runs = all
        .iter()
        .find(|p| g(p).n_out == SLOTS.gen && !g(p).completion.contains(&m.stop));
    (
        stops.expect("some prompt stops early"),
        runs.expect("some prompt runs to the budget").clone(),
    )
}

#[test]
fn honest_generations_pass_and_match_the_reference() {
    let plan = plan();
    eprintln!(
        "toy plan: k={} main={} range={}",
        plan.k, plan.main_rows, plan.range_rows
    );
    let (stops, runs) = prompts(&plan.model);
    for (p, max) in [
        (stops.clone(), 4),
        (runs.clone(), 4),
        (runs.clone(), 2),
        (vec![3, 1, 2], 4),
        (vec![5], 0),
    ] {
        let (_, run) = GenerationCircuit::prepare(plan.clone(), witness(&p, max)).unwrap();
        let g = generate(&plan.model, SLOTS, &p, max).unwrap();
        assert_eq!(run.generation, g);
        assert_eq!(run.statement.n_out as usize, g.completion.len());
        assert!(honest(&plan, witness(&p, max)), "prompt {p:?} max {max}");
    }
    let g = generate(&plan.model, SLOTS, &stops, 4).unwrap();
    assert_eq!(g.completion.last(), Some(&plan.model.stop));
}

#[test]
fn counts_cannot_move_by_one() {
    let plan = plan();
    let (stops, _) = prompts(&plan.model);
    let w = || witness(&stops, 4);
    for (i, delta) in [(3, 1), (3, -1), (4, 1), (4, -1)] {
        let bumped = !check(&plan, w(), Faults::default(), |inst| {
            inst[i] += if delta > 0 {
                <Fr as halo2curves::ff::Field>::ONE
            } else {
                -<Fr as halo2curves::ff::Field>::ONE
            }
        });
        assert!(bumped, "instance {i} moved by {delta} was accepted");
    }
    // The commitments and the request id are bound too.
    for i in 0..3 {
        assert!(!check(&plan, w(), Faults::default(), |inst| inst[i] +=
            <Fr as halo2curves::ff::Field>::ONE));
    }
}

#[test]
fn each_decoder_chip_rejects_a_broken_witness() {
    let plan = plan();
    let (stops, _) = prompts(&plan.model);
    let w = || witness(&stops, 4);
    let cases: Vec<(&str, Faults)> = vec![
        (
            "wrong argmax",
            Faults {
                argmax: Some((
                    2,
                    (generate(&plan.model, SLOTS, &stops, 4).unwrap().stream[3] + 1) % 8,
                )),
                ..Default::default()
            },
        ),
        (
            "mask not a prefix",
            Faults {
                mask: Some(vec![1, 0, 1]),
                ..Default::default()
            },
        ),
        (
            "n_out not at the stop token",
            Faults {
                meter: MeterFault {
                    flip_alive: Some(stops.len() + 3),
                },
                ..Default::default()
            },
        ),
        (
            "token counted before the prompt ends",
            Faults {
                meter: MeterFault {
                    flip_alive: Some(0),
                },
                ..Default::default()
            },
        ),
        (
            "unnormalised softmax row",
            Faults {
                softmax: Fault { p0: 1, max: 0 },
                ..Default::default()
            },
        ),
        (
            "softmax maximum not attained",
            Faults {
                softmax: Fault { p0: 0, max: 1 },
                ..Default::default()
            },
        ),
        (
            "layernorm rsqrt off by one",
            Faults {
                norm_r: 1,
                ..Default::default()
            },
        ),
        (
            "layernorm rsqrt off by minus one",
            Faults {
                norm_r: -1,
                ..Default::default()
            },
        ),
        (
            "linear layer sum",
            Faults {
                linear: 1,
                ..Default::default()
            },
        ),
        (
            "activation dot product",
            Faults {
                adot: 1,
                ..Default::default()
            },
        ),
        (
            "embedding or GELU table value",
            Faults {
                table: 1,
                ..Default::default()
            },
        ),
    ];
    for (name, f) in cases {
        let (mut circuit, run) = GenerationCircuit::prepare(plan.clone(), w()).unwrap();
        circuit.faults = f;
        let inst = run.statement.instances().to_vec();
        let errs = MockProver::run(plan.k, &circuit, vec![inst])
            .unwrap()
            .verify()
            .unwrap_err();
        // The fault must break a chip's own constraint, not only disagree with the statement.
        assert!(
            errs.iter().any(|e| !format!("{e}").contains("Instance")),
            "{name}: only the instances disagree: {errs:?}"
        );
    }
}
