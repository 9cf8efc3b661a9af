//! Float → fixed point. Per tensor: `scale = 127 / max|value|` over the calibration set (weights
//! over their values, activations over the float run); weights `round(w · s_w)`, biases at the
//! accumulator scale `s_x · s_w`, and each layer's rescale `s_y / (s_x · s_w)` written as
//! `M0 / 2^n` with `M0` in `[2^14, 2^15)`. Only IEEE-exact f64 operations (mul, div, add, round)
//! are used, with a fixed summation order, so every machine derives the same model.

use super::onnx::FloatNet;
use super::ImportError;
use crate::model::{Model, Op, TensorSpec, IR_VERSION};

fn scale_for(max_abs: f64) -> f64 {
    if max_abs > 0.0 {
        127.0 / max_abs
    } else {
        1.0
    }
}

/// `m ≈ M0 / 2^n` with `M0 ∈ [2^14, 2^15)` where `n` allows.
fn multiplier(m: f64) -> (i64, u32) {
    let mut n = 0u32;
    let mut v = m;
    while v < 16384.0 && n < crate::model::ir::MAX_SHIFT {
        v *= 2.0;
        n += 1;
    }
    (v.round().max(1.0) as i64, n)
}

fn max_abs<'a>(v: impl IntoIterator<Item = &'a f64>) -> f64 {
    v.into_iter().fold(0.0, |m, x| m.max(x.abs()))
}

pub fn calibrate(net: &FloatNet, samples: &[Vec<f64>]) -> Result<Model, ImportError> {
    let len = net.input_len();
    if samples.is_empty() {
        return Err(ImportError::Calibration(
            "the calibration set is empty".into(),
        ));
    }
    if let Some((i, s)) = samples.iter().enumerate().find(|(_, s)| s.len() != len) {
        return Err(ImportError::Calibration(format!(
            "sample {i} has {} values, the model expects {len}",
            s.len()
        )));
    }
    let mut s_x = scale_for(max_abs(samples.iter().flatten()));
    let input = TensorSpec {
        len,
        scale: s_x,
        min: -128,
        max: 127,
    };
    let mut acts: Vec<Vec<f64>> = samples.to_vec();
    let mut ops = Vec::new();
    for layer in &net.layers {
        let s_w = scale_for(max_abs(&layer.weights));
        let s_acc = s_x * s_w;
        let weights = layer
            .weights
            .iter()
            .map(|w| (w * s_w).round() as i64)
            .collect();
        let bias = layer
            .bias
            .iter()
            .map(|b| (b * s_acc).round() as i64)
            .collect();
        acts = acts
            .iter()
            .map(|x| {
                (0..layer.out_dim)
                    .map(|o| {
                        let row = &layer.weights[o * layer.in_dim..(o + 1) * layer.in_dim];
                        let y = row.iter().zip(x).fold(layer.bias[o], |s, (w, v)| s + w * v);
                        if layer.relu {
                            y.max(0.0)
                        } else {
                            y
                        }
                    })
                    .collect()
            })
            .collect();
        let s_y = scale_for(max_abs(acts.iter().flatten()));
        let (m0, shift) = multiplier(s_y / s_acc);
        ops.push(Op::Linear {
            in_dim: layer.in_dim,
            out_dim: layer.out_dim,
            weights,
            bias,
        });
        ops.push(Op::Rescale {
            multiplier: m0,
            shift,
            min: -128,
            max: 127,
        });
        if layer.relu {
            ops.push(Op::Relu);
        }
        s_x = s_y;
    }
    let model = Model {
        version: IR_VERSION,
        name: net.name.clone(),
        input,
        ops,
        output_scale: s_x,
    };
    model.validate()?;
    Ok(model)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplier_is_normalised() {
        let (m0, n) = multiplier(0.001);
        assert!((16384..32768).contains(&m0));
        assert!((m0 as f64 / (1u64 << n) as f64 - 0.001).abs() < 1e-7);
        assert_eq!(multiplier(40000.0), (40000, 0));
    }
}
