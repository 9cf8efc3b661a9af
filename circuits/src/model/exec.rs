//! The bit-exact integer reference executor. Every backend's circuit is tested against it.

use super::ir::{Model, ModelError, Op, TensorSpec};

/// Every tensor of one run: `tensors[0]` is the quantized input, `tensors[i + 1]` the output of op `i`.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    pub tensors: Vec<Vec<i128>>,
}

impl Trace {
    pub fn output(&self) -> &[i128] {
        self.tensors.last().expect("non-empty")
    }
}

/// `clamp(round_half_away(x · scale), min, max)`; fails on a non-finite value.
pub fn quantize_input(x: &[f64], spec: &TensorSpec) -> Result<Vec<i64>, ModelError> {
    if x.len() != spec.len {
        return Err(ModelError::Shape(format!(
            "input has {} values, the model expects {}",
            x.len(),
            spec.len
        )));
    }
    x.iter()
        .enumerate()
        .map(|(i, v)| {
            if !v.is_finite() {
                return Err(ModelError::Shape(format!(
                    "input value {i} is not finite ({v})"
                )));
            }
            // f64 multiply and round are exactly specified by IEEE 754: no platform math here.
            let q = (v * spec.scale).round();
            Ok(q.clamp(spec.min as f64, spec.max as f64) as i64)
        })
        .collect()
}

/// `clamp(round_half_away(acc · multiplier / 2^shift), min, max)` in exact integers.
pub fn rescale(acc: i128, multiplier: i64, shift: u32, min: i64, max: i64) -> Option<i64> {
    let t = acc.checked_mul(multiplier as i128)?;
    let half = if shift == 0 { 0 } else { 1i128 << (shift - 1) };
    let q = (t.unsigned_abs() as i128).checked_add(half)? >> shift;
    let y = if t < 0 { -q } else { q };
    Some(y.clamp(min as i128, max as i128) as i64)
}

/// Runs the model on one quantized sample.
pub fn execute(model: &Model, input: &[i64]) -> Result<Trace, ModelError> {
    if input.len() != model.input.len {
        return Err(ModelError::Shape(format!(
            "input has {} values, the model expects {}",
            input.len(),
            model.input.len
        )));
    }
    if let Some(v) = input
        .iter()
        .find(|v| **v < model.input.min || **v > model.input.max)
    {
        return Err(ModelError::Shape(format!(
            "quantized input value {v} is outside [{}, {}]",
            model.input.min, model.input.max
        )));
    }
    let mut tensors = vec![input.iter().map(|v| *v as i128).collect::<Vec<_>>()];
    for (index, op) in model.ops.iter().enumerate() {
        let x = tensors.last().expect("non-empty");
        let overflow = || ModelError::Overflow {
            index,
            op: op.name(),
        };
        let y = match op {
            Op::Linear {
                in_dim,
                out_dim,
                weights,
                bias,
            } => {
                if x.len() != *in_dim {
                    return Err(ModelError::Invalid {
                        index,
                        op: op.name(),
                        msg: format!("expects {in_dim} inputs but receives {}", x.len()),
                    });
                }
                (0..*out_dim)
                    .map(|j| {
                        let row = &weights[j * in_dim..(j + 1) * in_dim];
                        row.iter().zip(x).try_fold(bias[j] as i128, |acc, (w, v)| {
                            acc.checked_add((*w as i128).checked_mul(*v)?)
                        })
                    })
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(overflow)?
            }
            Op::Rescale {
                multiplier,
                shift,
                min,
                max,
            } => x
                .iter()
                .map(|v| rescale(*v, *multiplier, *shift, *min, *max).map(|y| y as i128))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(overflow)?,
            Op::Relu => x.iter().map(|v| (*v).max(0)).collect(),
        };
        tensors.push(y);
    }
    Ok(Trace { tensors })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rescale_rounds_half_away_from_zero_and_clamps() {
        // 2^2 = 4: 6/4 = 1.5 → 2, -6/4 = -1.5 → -2, 5/4 → 1, -5/4 → -1, 7/4 → 2, -7/4 → -2
        let r = |acc| rescale(acc, 1, 2, -128, 127).unwrap();
        assert_eq!(
            [r(6), r(-6), r(5), r(-5), r(7), r(-7), r(2), r(-2), r(0)],
            [2, -2, 1, -1, 2, -2, 1, -1, 0]
        );
        assert_eq!(rescale(10_000, 1, 2, -128, 127), Some(127));
        assert_eq!(rescale(-10_000, 1, 2, -128, 127), Some(-128));
        // multiplier 3, shift 3: 5·3/8 = 1.875 → 2; -4·3/8 = -1.5 → -2
        assert_eq!(rescale(5, 3, 3, -128, 127), Some(2));
        assert_eq!(rescale(-4, 3, 3, -128, 127), Some(-2));
        assert_eq!(rescale(-40, 1, 0, 0, 127), Some(0));
    }

    #[test]
    fn quantize_rounds_and_clamps() {
        let spec = TensorSpec {
            len: 4,
            scale: 2.0,
            min: -128,
            max: 127,
        };
        assert_eq!(
            quantize_input(&[0.25, -0.25, 100.0, -0.74], &spec).unwrap(),
            vec![1, -1, 127, -1]
        );
        assert!(quantize_input(&[f64::NAN, 0.0, 0.0, 0.0], &spec).is_err());
        assert!(quantize_input(&[0.0], &spec).is_err());
    }
}
