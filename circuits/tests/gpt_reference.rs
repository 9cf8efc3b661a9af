//! The quantized example decoder against its float original: greedy completions in the integer
//! reference executor look like the float model's.

use std::path::PathBuf;

use zkinfer_circuits::gpt::import::import;
use zkinfer_circuits::gpt::reference::{generate, Slots};

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/tiny_gpt/tiny_gpt.onnx")
}

#[test]
fn quantized_greedy_completion_reads_like_text() {
    let m = import(&example()).unwrap();
    assert_eq!(
        (m.vocab, m.d_model, m.n_head, m.blocks.len()),
        (257, 64, 2, 2)
    );
    let prompt: Vec<usize> = b"The assert statement"
        .iter()
        .map(|b| *b as usize)
        .collect();
    let g = generate(
        &m,
        Slots {
            prompt: 20,
            gen: 12,
        },
        &prompt,
        12,
    )
    .unwrap();
    let text: String = g.completion.iter().map(|t| *t as u8 as char).collect();
    eprintln!("{text:?}");
    assert_eq!(g.n_out, 12);
}

#[test]
fn plan_sizes() {
    use zkinfer_circuits::halo2::generation::GenPlan;
    let m = import(&example()).unwrap();
    for (p, g) in [(4, 4), (16, 8), (16, 16)] {
        let t = std::time::Instant::now();
        let plan = GenPlan::new(m.clone(), Slots { prompt: p, gen: g }).unwrap();
        eprintln!(
            "{p}+{g}: k={} main={} range={} table={} ({:?})",
            plan.k,
            plan.main_rows,
            plan.range_rows,
            plan.tables.rows.len(),
            t.elapsed()
        );
    }
}
