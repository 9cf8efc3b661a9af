//! The quantized example decoder against its float original (tract), and the sizes of its
//! generation circuits.

use std::path::PathBuf;

use tract_onnx::prelude::*;
use zkinfer_circuits::gpt::import::import;
use zkinfer_circuits::gpt::reference::{argmax, generate, Runner, Slots};
use zkinfer_circuits::halo2::generation::GenPlan;

fn example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/tiny_gpt/tiny_gpt.onnx")
}

/// The float model's logits at every position of a full context window (tract).
fn float_logits(tokens: &[i64]) -> Vec<Vec<f32>> {
    let model = tract_onnx::onnx()
        .model_for_path(example())
        .unwrap()
        .into_optimized()
        .unwrap()
        .into_runnable()
        .unwrap();
    let input = tract_ndarray::Array2::from_shape_vec((1, tokens.len()), tokens.to_vec()).unwrap();
    let out = model.run(tvec!(input.into_tensor().into())).unwrap();
    let view = out[0].to_plain_array_view::<f32>().unwrap();
    let vocab = view.shape()[2];
    let flat: Vec<f32> = view.iter().copied().collect();
    flat.chunks(vocab).map(|c| c.to_vec()).collect()
}

#[test]
fn quantized_next_tokens_agree_with_the_float_model() {
    let m = import(&example()).unwrap();
    assert_eq!(
        (m.vocab, m.stop, m.d_model, m.n_head, m.blocks.len()),
        (257, 256, 64, 2, 2)
    );
    assert_eq!(m.params(), 135_297);
    // Two windows of documentation-like text, a full context each.
    let mut agree = 0;
    let mut total = 0;
    for text in [
        &b"The import statement is used to bring a module into the namespace. "[..32],
        &b"A class definition defines a class object; see the section on classes."[..32],
    ] {
        let tokens: Vec<i64> = text.iter().map(|b| *b as i64).collect();
        let float = float_logits(&tokens);
        let mut runner = Runner::new(&m);
        for (i, t) in text.iter().enumerate() {
            let q = runner.step(*t as usize);
            let f = float[i]
                .iter()
                .enumerate()
                .fold(0, |best, (j, v)| if *v > float[i][best] { j } else { best });
            agree += (argmax(&q) == f) as usize;
            total += 1;
        }
    }
    eprintln!("next-token agreement with the float model: {agree}/{total}");
    assert!(
        agree * 10 >= total * 8,
        "only {agree}/{total} next tokens agree"
    );

    let prompt: Vec<usize> = b"The class method".iter().map(|b| *b as usize).collect();
    let slots = Slots {
        prompt: 16,
        gen: 16,
    };
    let g = generate(&m, slots, &prompt, 16).unwrap();
    let text: String = g.completion.iter().map(|t| *t as u8 as char).collect();
    assert_eq!(text, " is also a strin");
}

#[test]
fn circuit_sizes_of_the_benchmarked_generations() {
    let m = import(&example()).unwrap();
    for (gen, k) in [(8, 18), (16, 19)] {
        let plan = GenPlan::new(m.clone(), Slots { prompt: 16, gen }).unwrap();
        assert_eq!(plan.k, k, "16 + {gen}");
        assert!(plan.main_rows.max(plan.range_rows) < 1 << k);
    }
    // Slots beyond the model's context are refused.
    let too_long = Slots {
        prompt: 20,
        gen: 16,
    };
    assert!(GenPlan::new(m, too_long).is_err());
}
